"""Per-image rows in a Parquet side table (``rows="parquet"``) against the batch graph
(``rows="rdf"``): the same answers to every image-level question, with the same batch and version;
the side table registered in the manifest, dropped with its batch, carried by export/import, and
cleared by recovery when a killed load left it behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kg import KnowledgeGraph
from kg.core.errors import ValidationError
from kg.core.graphs import TKG
from kg.core.tables import TABLE_KIND, table_path, tables_dir, tables_of
from loaders.predictions import Mapping

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "traitkg")

# (table, mapping file or None, load options)
TOY = [("v1.csv", None, {}), ("v2.csv", None, {}), ("fiji_wings.csv", "fiji_wings.yaml", {"new_taxa": True}),
       ("wide.tsv", "wide.yaml", {}), ("wide.tsv", "species.yaml", {"model": "species-net"})]


@pytest.fixture
def pdir(toy):
    return toy / "predictions"


def _open(path: Path) -> KnowledgeGraph:
    return KnowledgeGraph.open(f"oxigraph:{path}")


def _pair(tmp_path, pdir, loads):
    """Two on-disk stores with the same loads, one per rows mode."""
    out = {}
    for mode in ("rdf", "parquet"):
        g = _open(tmp_path / mode)
        g.load_taxonomy(pdir / "taxa.csv")
        for f, m, opts in loads:
            rep = g.load_predictions(pdir / f, mapping=pdir / m if m else None, rows=mode, **opts)
            assert rep.status == "loaded"
        out[mode] = g
    return out


def _strip(x):
    """An answer without the load times (the two stores were loaded at different moments)."""
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k != "loaded"}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def _images(pdir, loads):
    ids = set()
    for f, m, _ in loads:
        mapping = Mapping.read(pdir / m) if m else None
        from loaders.predictions import parse

        ids |= set(parse(pdir / f, mapping).frame["image"])
    return sorted(ids)


def _same_answers(kgs, images, taxa, batches):
    r, p = kgs["rdf"], kgs["parquet"]
    for img in images:
        for latest in (True, False):
            assert _strip(p.predictions.image(img, latest=latest)) == _strip(r.predictions.image(img, latest=latest)), img
    for t in taxa:
        key = lambda d: (d["batch"], d["image"], d["trait"], str(d["value"]))  # noqa: E731
        for b in [None, *batches]:
            a = sorted(_strip(r.predictions.of_taxon(t, batch=b, limit=10_000)), key=key)
            assert sorted(_strip(p.predictions.of_taxon(t, batch=b, limit=10_000)), key=key) == a, (t, b)
        assert _strip(p.predictions.summary(t)) == _strip(r.predictions.summary(t))
    return r, p


def test_toy_tables_answer_the_same_from_parquet_and_rdf(tmp_path, pdir):
    kgs = _pair(tmp_path, pdir, TOY)
    r, p = kgs["rdf"], kgs["parquet"]
    batches = [f"predictions/{b.name}/{b.version}" for b in r.predictions.batches(latest=False)]
    taxa = sorted({d["taxon"] for b in batches for d in r.query(
        f"SELECT DISTINCT ?t WHERE {{ GRAPH ?g {{ ?s <{TKG}taxon> ?t }} }}").values() for d in [{"taxon": d[0]}]})
    _same_answers(kgs, _images(pdir, TOY), taxa, batches)
    assert p.predictions.diff("fin-net/1.0", "fin-net/2.0") == r.predictions.diff("fin-net/1.0", "fin-net/2.0")
    for f in ("accuracy", "confusion"):
        assert getattr(p.predictions, f)("species-net") == getattr(r.predictions, f)("species-net")
    assert p.predictions.accuracy_by("species-net", rank="family") == r.predictions.accuracy_by("species-net",
                                                                                                rank="family")
    # the parquet batches hold no per-image quads, and say where the rows are
    for b in p.predictions.batches(latest=False):
        assert p.query(f"ASK {{ GRAPH <{b.iri}> {{ ?s <{TKG}predictedValue> ?v }} }}") is False
        (t,) = tables_of(p.store, b.iri)
        assert p.query(f"ASK {{ GRAPH <{b.iri}> {{ <{b.iri}#batch> <{TKG}rowTable> <{t.iri}> }} }}") is True
        n = r.query(f"SELECT ?n WHERE {{ GRAPH <{b.iri}> {{ ?x <{TKG}predictionCount> ?n }} }}").values()
        assert n and t.parameters["rows"] == int(n[0][0]), b.iri  # the registered count is the batch's
    # a wide row's IRIs: the same node keys (row, k, region) as the RDF nodes
    fiji = next(b for b in p.predictions.batches() if b.name == "fiji-wing-measure")
    table = pq.read_table(table_path(p.store, tables_of(p.store, fiji.iri)[0])).to_pandas()
    nodes = {s for (s,) in r.query(f"SELECT ?s WHERE {{ GRAPH ?g {{ ?s <{TKG}region> ?r ; <{TKG}image> ?i }} }}").values()}
    base = r.predictions.batches()[0].iri.split("/graph/")[0] + "/prediction/fiji-wing-measure/1.54f/"
    assert {f"{base}{row}/{k}/{reg}" for row, k, reg in zip(table["row"], table["k"], table["region"])} == \
        {n for n in nodes if "/fiji-wing-measure/" in n}
    assert list(table["taxon"].astype(str)) == sorted(table["taxon"].astype(str))


def test_the_side_table_is_registered_sorted_and_zstd(tmp_path, pdir):
    g = _open(tmp_path / "s")
    g.load_taxonomy(pdir / "taxa.csv")
    rep = g.load_predictions(pdir / "v1.csv", rows="parquet")
    assert rep.counts["side_table_rows"] == rep.counts["predictions"] == 8
    (t,) = g.graphs(kind=TABLE_KIND)
    assert t.parameters["batch"] == rep.graph and t.parameters["rows"] == 8
    assert t.parameters["sorted_by"] == ["taxon", "image"] and t.parameters["compression"] == "zstd"
    path = table_path(g.store, t)
    assert path == Path(str(tmp_path / "s") + ".tables") / "predictions" / "fin-net" / "1.0.parquet"
    from kg.core.graphs import sha256_file

    assert sha256_file(path) == (t.sha256, t.byte_size)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 8 and meta.row_group(0).column(0).compression == "ZSTD"
    assert g.graph(rep.graph).parameters["rows"] == "parquet"
    # same bytes, same options: a no-op, the file untouched
    assert g.load_predictions(pdir / "v1.csv", rows="parquet").status == "unchanged"
    assert sha256_file(path) == (t.sha256, t.byte_size)
    with pytest.raises(ValidationError, match="rows 'csv'"):
        g.load_predictions(pdir / "v2.csv", rows="csv")


def test_auto_keeps_small_batches_in_rdf(tmp_path, pdir):
    g = _open(tmp_path / "s")
    g.load_taxonomy(pdir / "taxa.csv")
    rep = g.load_predictions(pdir / "v1.csv")
    assert "rows" not in g.graph(rep.graph).parameters and g.graphs(kind=TABLE_KIND) == []


def test_dropped_with_its_batch_and_carried_by_export_and_import(tmp_path, pdir):
    g = _open(tmp_path / "s")
    g.load_taxonomy(pdir / "taxa.csv")
    a = g.load_predictions(pdir / "v1.csv", rows="parquet")
    g.load_predictions(pdir / "v2.csv", rows="parquet")
    before = _strip(g.predictions.image("ark:/89609/toy/i3", latest=False))
    g.export(tmp_path / "rel")
    files = sorted(p.relative_to(tmp_path / "rel").as_posix() for p in (tmp_path / "rel" / "tables").rglob("*"))
    assert files == ["tables/predictions", "tables/predictions/fin-net", "tables/predictions/fin-net/1.0.parquet",
                     "tables/predictions/fin-net/2.0.parquet"]
    h = _open(tmp_path / "t")
    h.import_release(tmp_path / "rel")
    assert _strip(h.predictions.image("ark:/89609/toy/i3", latest=False)) == before
    # a corrupt table in a release is refused before anything is written
    bad = tmp_path / "rel" / "tables" / "predictions" / "fin-net" / "1.0.parquet"
    bad.write_bytes(bad.read_bytes()[:-3])
    k = _open(tmp_path / "u")
    with pytest.raises(Exception, match="does not match release.json"):
        k.import_release(tmp_path / "rel")
    assert k.graphs() == [] and not any(tables_dir(k.store).rglob("*.parquet"))
    # dropping the batch drops its table and the file
    path = table_path(g.store, tables_of(g.store, a.graph)[0])
    g.drop(a.graph)
    assert tables_of(g.store, a.graph) == [] and not path.exists()
    assert len(g.graphs(kind=TABLE_KIND)) == 1


def test_recovery_drops_a_table_left_by_a_killed_load(tmp_path, pdir):
    store = tmp_path / "s"
    g = _open(store)
    g.load_taxonomy(pdir / "taxa.csv")
    g.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for point in ("table:written", "table:recorded", "load:predictions:written"):
        run = subprocess.run([EXE, "--store", f"oxigraph:{store}", "load", "predictions", str(pdir / "v1.csv"), "--rows",
                              "parquet"], env={**env, "TRAITKG_CRASH_AT": point}, capture_output=True, text=True)
        assert run.returncode == -9, (point, run.stderr)
        g = _open(store)  # recovery: no batch, no table entry, no file
        assert g.predictions.batches(latest=False) == [] and g.graphs(kind=TABLE_KIND) == [], point
        assert not [p for p in tables_dir(g.store).rglob("*") if p.is_file()], point
        g.close()
    run = subprocess.run([EXE, "--store", f"oxigraph:{store}", "load", "predictions", str(pdir / "v1.csv"), "--rows",
                          "parquet"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    g = _open(store)
    assert len(g.predictions.image("ark:/89609/toy/i1")["predictions"]) == 2


def test_a_missing_side_table_is_one_clear_error(tmp_path, pdir):
    g = _open(tmp_path / "s")
    g.load_taxonomy(pdir / "taxa.csv")
    rep = g.load_predictions(pdir / "v1.csv", rows="parquet")
    table_path(g.store, tables_of(g.store, rep.graph)[0]).unlink()
    with pytest.raises(Exception, match="per-image rows of .* are missing"):
        g.predictions.image("ark:/89609/toy/i1")


@pytest.mark.slow
def test_beetleverse_answers_the_same_from_parquet_and_rdf(tmp_path, shared):
    """The shared BeetleVerse tables: elytra measurements (wide, two traits) and a species batch."""
    d = shared / "beetleverse"
    f = d / "BeetlePalooza_ConvNeXt-traits-weather.csv"
    table = pd.read_csv(f, dtype=str, keep_default_na=False)
    meas = {"image": "ImageFilePath", "image_id": "basename", "taxon": "ScientificName",
            "traits": [{"column": "Length", "trait": "PATO:0000122", "unit": "cm"},
                       {"column": "Width", "trait": "PATO:0000921", "unit": "cm"}]}
    species = {"image": "ImageFilePath", "image_id": "basename", "taxon": "ScientificName",
               "truth": "ScientificName", "value": "Pred_MLP_Baseline", "constants": {"trait": "dwc:scientificName"}}
    kgs = {}
    for mode in ("rdf", "parquet"):
        g = _open(tmp_path / mode)
        g.load_predictions(f, mapping=meas, model="elytra-measure", model_version="neon-2018", lenient=True,
                           new_taxa=True, rows=mode)
        g.load_predictions(f, mapping=species, model="species-mlp", model_version="47cddf434350", lenient=True,
                           new_taxa=True, rows=mode)
        kgs[mode] = g
    images = sorted({p.rsplit("/", 1)[-1] for p in table["ImageFilePath"]})
    taxa = sorted(set(table["ScientificName"]) - {""})
    _same_answers(kgs, images[:: max(1, len(images) // 60)], taxa[:40], ["elytra-measure", "species-mlp"])
    r, p = kgs["rdf"], kgs["parquet"]
    assert p.predictions.accuracy("species-mlp") == r.predictions.accuracy("species-mlp")
    assert round(p.predictions.accuracy("species-mlp")["table_accuracy"], 6) == 0.964912
    assert p.predictions.accuracy_by("species-mlp", rank="genus") == r.predictions.accuracy_by("species-mlp",
                                                                                               rank="genus")


def test_parquet_rows_on_every_backend(kg, pdir, tmp_path, monkeypatch):
    """On a sparql: store the file lives in $TRAITKG_TABLES (shared by whoever answers), the manifest
    in the engine; the answers are those of the embedded store's test above."""
    monkeypatch.setenv("TRAITKG_TABLES", str(tmp_path / "tables"))
    kg.load_taxonomy(pdir / "taxa.csv")
    rep = kg.load_predictions(pdir / "v1.csv", rows="parquet")
    (t,) = tables_of(kg.store, rep.graph)
    assert table_path(kg.store, t).parent == tmp_path / "tables" / "predictions" / "fin-net"
    img = kg.predictions.image("ark:/89609/toy/i1")
    assert {(p["trait"], p["value"], p["unit"], p["batch"]) for p in img["predictions"]} == {
        ("PATO:0000122", 3.1, "UO:0000015", "predictions/fin-net/1.0"),
        ("UBERON:2000251", "absent", None, "predictions/fin-net/1.0")}
    assert {d["image"] for d in kg.predictions.of_taxon("Danio rerio")} >= {"ark:/89609/toy/i1", "ark:/89609/toy/i2"}
    kg.drop(rep.graph)
    assert tables_of(kg.store, rep.graph) == [] and not list((tmp_path / "tables").rglob("*.parquet"))
