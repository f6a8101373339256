"""The prediction commands end to end (CliRunner over an on-disk store)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kg.cli import main


@pytest.fixture
def run(tmp_path, toy):
    sel = f"oxigraph:{tmp_path / 'store'}"
    r = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        out = r.invoke(main, ["--store", sel, *args])
        assert out.exit_code == code, out.output
        return out.output

    invoke("load", "taxonomy", str(toy / "predictions" / "taxa.csv"))
    return invoke


def test_load_with_mapping_model_and_version(run, toy):
    d = toy / "predictions"
    out = run("load", "predictions", str(d / "wide.tsv"), "--mapping", str(d / "species.yaml"),
              "--model", "species-net", "--model-version", "2.1", "--hf-repo", "org/species-net", "--param", "k=5")
    assert "loaded: predictions/species-net/2.1" in out and "predictions=3" in out
    out = run("predictions", "accuracy", "species-net", "--format", "json")
    assert json.loads(out)["correct"] == 2
    out = run("predictions", "accuracy", "species-net", "--by", "genus")
    assert "Danio" in out and "0.6667" in out
    out = run("predictions", "batches")
    assert "predictions/species-net/2.1" in out


def test_columns_and_constants_on_the_command_line(run, toy):
    out = run("load", "predictions", str(toy / "predictions" / "wide.tsv"), "--column", "image=file",
              "--column", "taxon=species", "--column", "value=Length", "--constant", "trait=PATO:0000122",
              "--constant", "unit=cm", "--image-id", "basename", "--model", "len")
    assert "predictions=3" in out
    out = run("predictions", "summary", "Danio rerio")
    assert "PATO:0000122" in out and "0.33" in out and "UO:0000015" in out
    out = run("predictions", "--image", "a1.png", "--format", "json")
    assert json.loads(out)["predictions"][0]["value"] == 0.31


def test_strict_rejection_is_one_line_with_rows_and_lenient_loads(run, toy):
    bad = str(toy / "predictions" / "bad.csv")
    out = run("load", "predictions", bad, "--model", "m", code=2)
    assert out.startswith("traitkg: error:") and "6 of 7 rows are bad" in out and "--lenient" in out
    assert len(out.splitlines()) == 1  # the rows follow with -v
    out = run("-v", "load", "predictions", bad, "--model", "m", code=2)
    assert "traitkg: error:" in out and "6 of 7 rows are bad" in out and "row 5" in out
    out = run("load", "predictions", bad, "--model", "m", "--lenient")
    assert "rejected_rows=6" in out and "row 5: unknown taxon name" in out


def test_images_and_taxon_listing(run, toy):
    d = toy / "predictions"
    run("load", "predictions", str(d / "v1.csv"))
    out = run("load", "images", str(d / "images.csv"))
    assert "images=3" in out
    out = run("predictions", "--image", "ark:/89609/toy/i2")
    assert "# imageBatch: toy-batch-1" in out and "UBERON:2000251" in out and "absent" in out
    out = run("predictions", "--taxon", "Danio kyathit", "--format", "json")
    assert [r["value"] for r in json.loads(out)] == [2.0]
    out = run("predictions", "summaries", "PATO:0000122", "--format", "csv")
    assert out.splitlines()[0] == "taxon,n,mean,sd,se,unit,model"
