"""gnn.datasets.TraitImageDataset: images read lazily with the KG's labels; the README tutorial runs."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from gnn.datasets import TraitImageDataset, read_png  # noqa: E402
from kg import KnowledgeGraph  # noqa: E402
from kg.core.errors import ParseError, ValidationError  # noqa: E402
from kg.demo import load_sample  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def write_png(path: Path, pixels: np.ndarray, filters: tuple[int, ...] = (0,)) -> Path:
    """A PNG written byte by byte (8-bit RGB), cycling through the given row filters."""
    h, w, c = pixels.shape
    raw = bytearray()
    prev = np.zeros(w * c, dtype=np.int32)
    for y in range(h):
        row = pixels[y].reshape(-1).astype(np.int32)
        f = filters[y % len(filters)]
        left = np.concatenate([np.zeros(c, dtype=np.int32), row[:-c]])
        if f == 0:
            enc = row
        elif f == 1:
            enc = row - left
        elif f == 2:
            enc = row - prev
        elif f == 3:
            enc = row - ((left + prev) >> 1)
        else:
            upleft = np.concatenate([np.zeros(c, dtype=np.int32), prev[:-c]])
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            enc = row - pred
        raw += bytes([f]) + bytes((enc & 0xFF).astype(np.uint8))
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw)))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def sample_kg():
    g = KnowledgeGraph.open("oxigraph:")
    load_sample(g)
    return g


def test_read_png_decodes_every_filter(tmp_path):
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    got = read_png(write_png(tmp_path / "a.png", px, filters=(0, 1, 2, 3, 4)))
    assert got.shape == (5, 4, 3) and (got == px).all()
    (tmp_path / "b.png").write_bytes(b"GIF89a")
    with pytest.raises(ParseError, match="not a PNG"):
        read_png(tmp_path / "b.png")


def test_dataset_joins_images_with_labels_and_loads_lazily(sample_kg, tmp_path):
    taxa = ["Danio rerio", "Danio rerio", "Ictalurus punctatus", "Amia calva", "Esox lucius", "Nopeus nope"]
    rows = []
    for k, t in enumerate(taxa):
        write_png(tmp_path / f"{k}.png", np.full((2, 3, 3), k * 10, dtype=np.uint8))
        rows.append({"image_id": f"ark:/89609/x{k}", "path": f"{k}.png", "taxon": t, "blur": 0.1 * k})
    rows.append({"image_id": "ark:/89609/gone", "path": "gone.png", "taxon": "Danio rerio", "blur": 0.0})
    manifest = tmp_path / "images.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    seen = []

    def loader(path: str) -> np.ndarray:
        seen.append(Path(path).name)
        return read_png(path)

    ds = TraitImageDataset.from_kg(sample_kg, manifest, loader=loader, transform=lambda a: torch.tensor(a).float(),
                                   cuts=[250, 100], weight="blur", higher_is_better=False, split="species", seed=0)
    assert seen == []  # nothing read before an item is asked for
    lab = ds.labels
    assert len(ds) == 5 and lab.frame["image_id"].tolist() == [f"ark:/89609/x{k}" for k in range(5)]
    msgs = sorted(p["message"].split(" ")[0] for p in lab.report["images"]["problems"])
    assert msgs == ["file", "taxon"]
    item = ds[2]
    assert seen == ["2.png"] and item["image"].shape == (2, 3, 3) and float(item["image"][0, 0, 0]) == 20.0
    assert lab.species_names[item["species"]] == "Ictalurus punctatus"
    assert lab.rank_names == ["order", "family", "genus", "species"]
    assert lab.rank_classes["order"][int(item["ranks"][0])] == "Siluriformes"
    assert item["levels"].dtype == torch.long and item["levels"].shape == (2,)
    assert ds[0]["levels"].tolist() == ds[1]["levels"].tolist()  # same species, same groups
    assert ds[0]["levels"][1] != ds[3]["levels"][1]
    assert item["traits"].shape == item["trait_mask"].shape == (len(lab.trait_names),)
    tm = sample_kg.training.trait_matrix(["Ictalurus punctatus"], lab.trait_names)
    exp = tm.values.iloc[0].to_numpy()
    assert np.allclose(item["traits"].numpy(), np.nan_to_num(exp)) and np.array_equal(
        item["trait_mask"].numpy(), (~np.isnan(exp)).astype(np.float32))
    assert float(ds[0]["weight"]) > float(ds[4]["weight"])  # less blur, more weight
    assert ds.sample_weights.shape == (5,)
    assert {ds[i]["split"] for i in range(5)} <= {"train", "val", "test"}
    train = TraitImageDataset(lab, loader=loader, subset="train")
    assert len(train) == int((lab.frame["split"] == "train").sum())
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5, collate_fn=lambda b: b)))
    assert len(batch) == 5


def test_default_loader_reads_pngs(sample_kg, tmp_path):
    write_png(tmp_path / "a.png", np.full((2, 2, 3), 7, dtype=np.uint8))
    df = pd.DataFrame({"image_id": ["a"], "path": [str(tmp_path / "a.png")], "taxon": ["Danio rerio"]})
    ds = TraitImageDataset.from_kg(sample_kg, df, split=None, traits=False)
    img = ds[0]["image"]
    assert np.asarray(img).reshape(-1)[0] == 7
    assert ds[0]["traits"].shape == (0,) and ds[0]["split"] == ""


def test_no_usable_image_is_an_error(sample_kg):
    df = pd.DataFrame({"image_id": ["a"], "path": ["nowhere.png"], "taxon": ["Danio rerio"]})
    with pytest.raises(ValidationError, match="no usable image.*does not exist"):
        TraitImageDataset.from_kg(sample_kg, df)


def test_import_kg_and_kg_training_do_not_import_torch():
    code = ("import sys, kg, kg.training, kg.training.exporters, kg.cli.training; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_readme_tutorial_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Training inputs for image models", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) < 20
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    m = (tmp_path / "train-out" / "manifest.json").read_text()
    assert '"kind": "tree"' in m and (tmp_path / "train-out" / "phylonn" / "phylogeny.tre").is_file()
