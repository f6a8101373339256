"""Identity that means something: two CPU runs with the same seed write the same graph (as a set of
triples; only the write time differs) under the same IRI and checksum; a run whose content differs
in one score gets another identity; the provenance names the library versions and the device."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))
from _worlds import gappy_sample  # noqa: E402

TIME = "http://www.w3.org/ns/prov#generatedAtTime"


def run_graph(directory: Path) -> tuple[dict, set]:
    from gnn.pipeline import hypothesize

    kg = gappy_sample(directory, conflict=False)
    out = hypothesize(kg, tree="sample", epochs=15, min_taxa=3, limit=None, seed=1, device="cpu", threads=2)
    rows = kg.query("SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": node(out["graph"])}).rows
    triples = {(str(s), str(p), str(o)) for s, p, o in rows if p.value != TIME}
    man = kg.query("SELECT ?sha WHERE { GRAPH ?m { ?g tkg:sha256 ?sha } }", {"g": node(out["graph"])}).rows
    out["sha256"] = [r[0].value for r in man]
    return out, triples


def node(iri: str):
    from kg.core.store import NamedNode

    return NamedNode(iri)


def test_two_cpu_runs_are_bit_identical(tmp_path):
    a, ta = run_graph(tmp_path / "a")
    b, tb = run_graph(tmp_path / "b")
    assert a["run"] == b["run"] and a["graph"] == b["graph"] and a["sha256"] == b["sha256"] and a["sha256"]
    assert ta == tb and len(ta) > 100
    assert a["methods"] == b["methods"]


def test_content_makes_the_identity(tmp_path):
    from gnn.hypotheses import RunInfo, write_hypotheses
    from gnn.predict import Gate, Hypothesis, Prediction

    kg = gappy_sample(tmp_path, conflict=False)
    gate = Gate(0.9, {"majority": 0.6}, "majority", "model", 1.0)

    def hyp(score: float) -> Hypothesis:
        return Hypothesis("taxon:Danio_rerio", "tkg:hasPresenceOf", "UBERON:0000151", score, "model", score,
                          "majority", 0.5, 0.9, 0.6, "model")
    info = RunInfo("imputation", "random", "TraitGNN", 0, "cpu", [], {"test": {"auc": 0.9}})
    r1 = write_hypotheses(kg.store, Prediction(gate, [hyp(0.91)]), info)
    r2 = write_hypotheses(kg.store, Prediction(gate, [hyp(0.91 + 1e-12)]), info)  # same inputs and parameters
    assert r1.version != r2.version and r1.iri != r2.iri and r1.sha256 != r2.sha256
    assert write_hypotheses(kg.store, Prediction(gate, [hyp(0.91)]), info).status == "unchanged"
    runs = {r["run"]: r for r in kg.hypothesis_runs()}
    assert set(runs) == {r1.version, r2.version}


def test_provenance_names_libraries_and_device(tmp_path):
    import numpy
    import torch
    import torch_geometric

    from gnn.pipeline import hypothesize

    kg = gappy_sample(tmp_path, conflict=False)
    out = hypothesize(kg, tree="sample", epochs=3, min_taxa=3, seed=0, device="cpu")
    (sw, dev, params), = kg.query("""SELECT ?sw ?d ?p WHERE { GRAPH ?g { ?r a tkg:HypothesisRun ;
        tkg:softwareVersions ?sw ; tkg:device ?d ; tkg:parameters ?p } }""").rows
    sw = json.loads(sw.value)
    assert sw["torch"] == torch.__version__ and sw["torch_geometric"] == torch_geometric.__version__
    from gnn.hypotheses import code_version

    assert sw["numpy"] == numpy.__version__ and sw["traitkg"] == code_version() and out["device"] == "cpu"
    assert dev.value == "cpu" and json.loads(params.value)["train"]["threads"] == 1
