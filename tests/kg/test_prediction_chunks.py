"""A prediction table read, checked and written in chunks (``chunk_rows``): the same graphs,
Parquet files, problems and rejected rows as one chunk holding the whole table; a bad row after
the first chunk refuses the batch in one line with nothing loaded (Python API and CLI)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loaders._image_rows
import loaders._prediction_write
from kg import KnowledgeGraph
from kg.core.graphs import MANIFEST
from kg.core.tables import tables_dir
from loaders.predictions import BatchRejected

EXE = str(Path(sys.executable).parent / "traitkg")
WHOLE = 10**9  # a chunk larger than any table here: the table is read as one chunk


@pytest.fixture
def pdir(toy):
    return toy / "predictions"


@pytest.fixture
def small_buckets(monkeypatch):
    """Buckets and row groups of a few rows, so that the toy tables cross several of each."""
    monkeypatch.setattr(loaders._prediction_write, "BUCKET_ROWS", 9)
    monkeypatch.setattr(loaders._prediction_write, "ROW_GROUP", 7)
    monkeypatch.setattr(loaders._image_rows, "ROW_GROUP", 7)


def _table(path: Path, n_images: int, *, bad: dict[int, dict[str, str]] | None = None, new: bool = True) -> Path:
    """A long table: 4 rows per image (a length per side, a presence call, an area); with ``new``,
    every fifth image of a taxon no taxonomy holds."""
    rows = []
    for i in range(n_images):
        taxon = ["Danio rerio", "Danio kyathit"][i % 2] if i % 5 or not new else f"Newgenus{i // 3} sp{i % 3}"
        img = f"ark:/89609/chunk/{i}"
        rows += [{"image": img, "taxon": taxon, "trait": "PATO:0000122", "value": f"{1 + i % 7}.5", "unit": "mm",
                  "region": side, "confidence": f"0.{i % 9 + 1}"} for side in ("left", "right")]
        rows.append({"image": img, "taxon": taxon, "trait": "UBERON:2000251", "value": ["present", "absent"][i % 3 == 0],
                     "unit": "", "region": "", "confidence": ""})
        rows.append({"image": img, "taxon": taxon, "trait": "PATO:0001323", "value": str(2 + i % 4),
                     "unit": "cm2" if i % 4 else "mm2", "region": "", "confidence": "0.5"})
    df = pd.DataFrame(rows)
    for i, cells in (bad or {}).items():
        for k, v in cells.items():
            df.loc[i - 1, k] = v
    df.to_csv(path, index=False)
    return path


def _graphs(g: KnowledgeGraph) -> dict[str, list[str]]:
    """Every graph but the manifest (which records load times), as sorted N-Triples lines."""
    out: dict[str, list[str]] = {}
    for q in g.store.quads():
        if q.graph_name.value != MANIFEST:
            out.setdefault(q.graph_name.value, []).append(f"{q.subject} {q.predicate} {q.object}")
    return {k: sorted(v) for k, v in out.items()}


def _files(g: KnowledgeGraph) -> dict[str, str]:
    root = tables_dir(g.store)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))}


def _no_times(rows: list[dict]) -> list[dict]:
    """Answers without their load times (the two stores were loaded at different moments)."""
    return [{k: v for k, v in r.items() if k != "loaded"} for r in rows]


def _load_both(tmp_path, table, chunk, *, mapping=None, taxa=None, **opts):
    out = {}
    for label, rows in (("chunked", chunk), ("whole", WHOLE)):
        g = KnowledgeGraph.open(f"oxigraph:{tmp_path / label / opts.get('rows', 'auto')}")
        if taxa:
            g.load_taxonomy(taxa)
        rep = g.load_predictions(table, mapping=mapping, chunk_rows=rows, **opts)
        out[label] = (g, rep)
    return out


@pytest.mark.parametrize("mode", ["parquet", "rdf"])
def test_chunked_and_whole_loads_write_the_same_graphs_and_files(tmp_path, pdir, small_buckets, mode):
    # lenient, with bad rows in several chunks: an unknown unit, a duplicate and a conflict of rows
    # in other chunks, a value that is not a number for a continuous trait, a confidence > 1
    table = _table(tmp_path / "t.csv", 40, bad={3: {"unit": "furlong"}, 30: {"image": "ark:/89609/chunk/1",
                                                                               "region": "left", "value": "9.5"},
                                                   57: {"value": "big"}, 101: {"confidence": "1.5"}})
    extra = pd.read_csv(table, dtype=str, keep_default_na=False)
    pd.concat([extra, extra.iloc[[4]]]).to_csv(table, index=False)  # row 161 repeats row 5 exactly
    both = _load_both(tmp_path, table, 13, taxa=pdir / "taxa.csv", model="chunky", model_version="1", rows=mode,
                      new_taxa=True, lenient=True)
    (a, ra), (b, rb) = both["chunked"], both["whole"]
    assert ra.status == rb.status == "loaded"
    assert ra.counts == rb.counts and ra.counts["rejected_rows"] == 5
    assert [str(p) for p in ra.problems] == [str(p) for p in rb.problems]
    assert any("row 161" in p.message and "repeats row 5 exactly" in p.message for p in ra.problems)
    assert any("row 30" in p.message and "conflicts with row 5" in p.message for p in ra.problems)
    assert _graphs(a) == _graphs(b)
    assert _files(a) == _files(b) and (len(_files(a)) == 1) == (mode == "parquet")
    for taxon in ("Danio rerio", "Newgenus0 sp0"):
        assert _no_times(a.predictions.summary(taxon)) == _no_times(b.predictions.summary(taxon))


def test_a_wide_table_with_empty_cells_chunked_and_whole(tmp_path, pdir, small_buckets):
    both = _load_both(tmp_path, pdir / "fiji_wings.csv", 3, mapping=pdir / "fiji_wings.yaml", new_taxa=True,
                      rows="parquet")
    (a, ra), (b, rb) = both["chunked"], both["whole"]
    assert ra.counts == rb.counts
    assert _graphs(a) == _graphs(b) and _files(a) == _files(b)


@pytest.mark.parametrize(("cell", "first"), [
    ({"confidence": "7"}, "column 'confidence': '7' is outside [0, 1]"),
    ({"taxon": "Homo sapiens"}, "column 'taxon': 'Homo sapiens' is not a known taxon name"),
    ({"trait": "wing colour"}, "column 'trait': 'wing colour' is not a known trait"),
    ({"image": "ark:/89609/chunk/3", "trait": "UBERON:2000251", "region": "", "value": "present"},
     "column 'value': 'present' conflicts with row 15 ('absent' there)")])
def test_a_bad_row_after_the_first_chunk_refuses_the_batch(tmp_path, pdir, cell, first):
    table = _table(tmp_path / "t.csv", 60, bad={203: cell}, new=False)
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    g.load_taxonomy(pdir / "taxa.csv")
    before = _graphs(g)
    with pytest.raises(BatchRejected) as exc:
        g.load_predictions(table, model="m", chunk_rows=50)
    msg = str(exc.value)
    assert "\n" not in msg and "1 of 240 rows are bad" in msg
    assert f"first: row 203 (line 204), {first}" in msg
    assert _graphs(g) == before and not g.predictions.batches() and not list(tables_dir(g.store).rglob("*.parquet"))


def test_the_cli_refuses_a_bad_row_deep_in_a_multi_chunk_table_in_one_line(tmp_path, pdir):
    # past the loader's own chunk (250,000 records): a Parquet table of 300,000 rows, one bad value
    # in the second chunk; nothing may be loaded
    n = 300_000
    i = np.arange(n)
    df = pd.DataFrame({"image": [f"ark:/89609/deep/{x // 4}" for x in i], "taxon": "Danio rerio",
                       "trait": np.where(i % 4 == 3, "UBERON:2000251", np.where(i % 4 == 2, "PATO:0001323",
                                                                               "PATO:0000122")),
                       "region": np.where(i % 4 == 0, "left", np.where(i % 4 == 1, "right", "")),
                       "value": np.where(i % 4 == 3, "present", (i % 7 + 1).astype(str)),
                       "unit": np.where(i % 4 == 3, "", np.where(i % 4 == 2, "mm2", "mm"))})
    df.loc[287_654, "value"] = "n/a"
    path = tmp_path / "deep.parquet"
    df.to_parquet(path, index=False)
    store = f"oxigraph:{tmp_path / 'kg'}"
    subprocess.run([EXE, "--store", store, "load", "taxonomy", str(pdir / "taxa.csv")], check=True,
                   capture_output=True)
    r = subprocess.run([EXE, "--store", store, "load", "predictions", str(path), "--model", "m"],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("traitkg: error: ") and f"{path}: 1 of {n:,} rows are bad".replace(",", "") in err.replace(",", "")
    assert "first: row 287655, column 'value': 'n/a' is not a number (the trait is continuous)" in err
    out = subprocess.run([EXE, "--store", store, "graphs", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    assert "/graph/predictions/" not in out and "prediction-summary" not in out
    assert not list(Path(str(tmp_path / "kg") + ".tables").rglob("*.parquet"))


@pytest.mark.parametrize("wide", [False, True])
def test_the_chunks_kept_by_the_first_pass_are_the_chunks_read_again(tmp_path, pdir, wide):
    from loaders._prediction_scan import scan_table
    from loaders.predictions import Mapping

    if wide:
        table, mapping, chunk = pdir / "fiji_wings.csv", Mapping.read(pdir / "fiji_wings.yaml"), 3
    else:
        table, mapping, chunk = _table(tmp_path / "t.csv", 40, bad={57: {"value": "big"}}), None, 13
    sc = scan_table(table, mapping, chunk=chunk)
    assert sc.n_chunks > 2 and sc.kept is not None and len(sc.kept) == sc.n_chunks
    kept = [(t.frame, t.rows, t.pos0, t.empty_cells, t.problems) for t in sc.chunks()]
    spill = Path(sc.spill.name)
    sc.close()
    assert not spill.exists()
    again = [(t.frame, t.rows, t.pos0, t.empty_cells, t.problems) for t in sc.chunks()]  # read from the table
    assert len(kept) == len(again) == sc.n_chunks
    for a, b in zip(kept, again):
        pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
        assert a[1:] == b[1:] and a[4] == []
