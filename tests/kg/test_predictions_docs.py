"""The user documentation of prediction tables (docs/formats/predictions.md): its worked example
runs as written on the real BeetleVerse table and prints what the page shows, and the page names
every field and mapping key the loader knows."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from click.testing import CliRunner

from kg.cli import main
from loaders._prediction_table import AUTO_COLUMNS, BATCH_FIELDS, ROW_FIELDS, Mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats" / "predictions.md"
SHOWN_DIR = "/home/you/beetles"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _normalise(out: str) -> str:
    return re.sub(r" in \d+\.\d+s,", " in N.NNs,", out).rstrip()


def test_every_field_and_mapping_key_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for f in (*ROW_FIELDS, *BATCH_FIELDS):
        assert f"`{f}`" in text, f
    for names in AUTO_COLUMNS.values():
        for n in names:
            assert n in text, n
    keys = set(Mapping().to_dict()) | {"columns", "constants", "traits", "trait_labels", "kinds", "image_id",
                                       "delimiter", "encoding", "batch"}
    for k in keys:
        assert f"`{k}:`" in text or f"`{k}`" in text, k
    for y in _blocks(text, "yaml"):  # every mapping shown is one the loader accepts
        import yaml

        Mapping.from_dict(yaml.safe_load(y))


def test_the_worked_example_runs_as_written(shared, tmp_path, monkeypatch):
    text = DOC.read_text(encoding="utf-8")
    example = text[text.index("## Worked example"):]
    mapping = next(b for b in _blocks(example, "yaml") if "ScientificName" in b)
    (tmp_path / "elytra.yaml").write_text(mapping, encoding="utf-8")
    shutil.copyfile(shared / "beetleverse" / "BeetlePalooza_ConvNeXt-traits-weather.csv",
                    tmp_path / "ConvNeXt-traits-weather.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAITKG_STORE", raising=False)
    runner = CliRunner()
    ran = 0
    for block in _blocks(example, "console"):
        steps = re.split(r"^\$ ", block, flags=re.M)[1:]
        for step in steps:
            command, _, shown = step.partition("\n")
            args = shlex.split(command)
            assert args[0] == "traitkg"
            result = runner.invoke(main, args[1:])
            assert result.exception is None or isinstance(result.exception, SystemExit), result.output
            got = _normalise(result.output.replace(str(tmp_path.resolve()), SHOWN_DIR))
            assert got == _normalise(shown), command
            ran += 1
    assert ran == 5
    assert (tmp_path / "traitkg-data").is_dir()  # the default store, where the page says


def test_the_image_table_page_names_every_recognised_column():
    from loaders.images import ID_COLUMNS, KNOWN

    text = (DOC.parent / "images.md").read_text(encoding="utf-8").lower()
    for c in (*KNOWN, *ID_COLUMNS):
        assert f"`{c}`" in text, c
    readme = (DOC.parents[2] / "README.md").read_text(encoding="utf-8")
    assert "docs/formats/predictions.md" in readme and "docs/formats/images.md" in readme
