"""An auditable run: a reviewer with only the KG (SPARQL through the Python API) recomputes every
figure a hypotheses run reports: split sizes and held-out clades, every method's validation and
test AUC (from the stored cells and scores, with an AUC written here from its definition), the
bootstrap intervals (from the stored seed and resample count), the gate's inputs, and the
violation counts (from the stored closure pairs, checked against the closure graphs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))
from _worlds import gappy_sample  # noqa: E402

SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
PART_OF = "http://purl.obolibrary.org/obo/BFO_0000050"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    from gnn.pipeline import hypothesize

    kg = gappy_sample(tmp_path_factory.mktemp("audit"))
    out = hypothesize(kg, tree="sample", split="clade", epochs=10, min_taxa=3, limit=None, seed=3, device="cpu",
                      ablation=True)
    return kg, out


def mw_auc(y: np.ndarray, p: np.ndarray) -> float:
    """AUC from its definition: the chance a present cell outscores an absent one, ties half."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    d = pos[:, None] - neg[None, :]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def read_run(kg) -> tuple[dict, list[dict]]:
    """Everything from the KG: the run's JSON fields and its evaluation cells."""
    rows = kg.query("""SELECT ?p ?v WHERE { GRAPH ?g { ?r a tkg:HypothesisRun ; ?p ?v } }""").rows
    run = {p.value.rsplit("#", 1)[-1]: v.value for p, v in rows}
    cells = []
    for s, o, y, side, sc in kg.query("""SELECT ?s ?o ?y ?side ?sc WHERE { GRAPH ?g { ?c a tkg:EvaluationCell ;
            rdf:subject ?s ; rdf:object ?o ; tkg:observedPresent ?y ; tkg:splitSide ?side ; tkg:cellIndex ?k .
            OPTIONAL { ?c tkg:methodScores ?sc } } } ORDER BY ?k""").rows:
        cells.append({"taxon": s.value, "entity": o.value, "y": int(y.value == "true"), "side": side.value,
                      "scores": json.loads(sc.value) if sc is not None else None})
    return run, cells


def test_every_reported_figure_is_recomputed_from_the_kg(audited):
    kg, out = audited
    run, cells = read_run(kg)
    metrics, methods = json.loads(run["metrics"]), json.loads(run["methodMetrics"])
    gate, boot = json.loads(run["gate"]), json.loads(run["bootstrap"])
    assert methods == json.loads(json.dumps(out["methods"]))  # what the run reported is what it stored
    # the split: sizes, one side per taxon (whole clades), held-out clades = the held-out taxa
    sides = {side: [c for c in cells if c["side"] == side] for side in ("train", "val", "test")}
    assert {k: len(v) for k, v in sides.items()} == metrics["split"]
    side_of: dict[str, set[str]] = {}
    for c in cells:
        side_of.setdefault(c["taxon"], set()).add(c["side"])
    assert all(len(v) == 1 for v in side_of.values())
    tree = kg.tree("sample").index
    clades = json.loads(run["heldOutClades"])
    from ontologies.prefixes import expand

    for side in ("val", "test"):
        below = set()
        for node in clades[side]:
            n = int(expand(node).rsplit("/", 1)[-1])
            below |= {tree.names[i].replace(" ", "_") for i in range(n, n + int(tree.size[n])) if tree.size[i] == 1}
        held = {t.rsplit("/", 1)[-1] for t in side_of if side_of[t] == {side}}
        assert held and held <= below
    # every method's AUC on both sides, and the paired bootstrap intervals
    names = list(methods)
    assert {"model", "gnn-no-ontology", "gnn-no-smoothness", "gnn-plain", "label-propagation"} <= set(names)
    for side in ("val", "test"):
        y = np.array([c["y"] for c in sides[side]])
        p = {m: np.array([c["scores"][m] for c in sides[side]]) for m in names}
        rng = np.random.default_rng(boot["seed"])
        resampled: dict[str, list[float]] = {m: [] for m in names}
        for _ in range(boot["resamples"]):
            k = rng.integers(0, len(y), len(y))
            for m in names:
                resampled[m].append(mw_auc(y[k], p[m][k]))
        lo_q, hi_q = 100 * (1 - boot["level"]) / 2, 100 * (1 + boot["level"]) / 2
        for m in names:
            assert methods[m][side]["auc"] == pytest.approx(mw_auc(y, p[m]), abs=1e-12)
            assert methods[m][side]["n"] == len(y)
            assert methods[m][side]["accuracy"] == pytest.approx(float(((p[m] > 0.5) == y).mean()), abs=1e-12)
            r = np.array(resampled[m])
            r = r[np.isfinite(r)]
            assert methods[m][side]["auc_ci"] == pytest.approx([np.percentile(r, lo_q), np.percentile(r, hi_q)], abs=1e-12)
    # the gate's validation AUCs and the chosen method's test figures are the stored cells' too
    for m, v in gate["baseline_val"].items():
        assert v == pytest.approx(methods[m]["val"]["auc"], abs=1e-12)
    assert gate["model_val"] == pytest.approx(methods["model"]["val"]["auc"], abs=1e-12)
    assert metrics["test_chosen"] == methods[gate["chosen"]]["test"]
    ablation = json.loads(run["ablation"])
    assert [a["variant"] for a in ablation] == ["gnn", "gnn-no-ontology", "gnn-no-smoothness", "gnn-no-priors",
                                                "gnn-plain"]
    assert all(a["test"] == methods[a["method"]]["test"] for a in ablation)


def test_violations_are_recomputed_from_the_kg(audited):
    kg, out = audited
    run, cells = read_run(kg)
    pairs, viol = json.loads(run["entityPairs"]), json.loads(run["violations"])
    from ontologies.prefixes import contract, expand

    # the pairs are the closure's, read from the closure graphs
    for kind, pred in (("subclass", SUBCLASS), ("part", PART_OF)):
        for d, a in pairs[kind]:
            assert kg.query(f"ASK {{ GRAPH ?g {{ ?d <{pred}> ?a }} }}",
                            {"d": kg_node(expand(d)), "a": kg_node(expand(a))}) is True, (kind, d, a)
    assert pairs["subclass"] or pairs["part"]

    def count(value: dict, taxa: set, counted: set | None) -> dict:
        n = {}
        for kind, ps in pairs.items():
            n[kind] = sum(1 for t in taxa for d, a in ps if value.get((t, d)) == 1 and value.get((t, a)) == 0
                          and (counted is None or (t, d) in counted or (t, a) in counted))
        return n
    cur = [{**c, "taxon": contract(c["taxon"]), "entity": contract(c["entity"])} for c in cells]
    taxa = {c["taxon"] for c in cur if c["side"] == "test"}
    train = {(c["taxon"], c["entity"]): c["y"] for c in cur if c["side"] == "train" and c["taxon"] in taxa}
    test = {(c["taxon"], c["entity"]) for c in cur if c["side"] == "test"}
    for m in json.loads(run["methodMetrics"]):
        value = {**train, **{(c["taxon"], c["entity"]): int(c["scores"][m] > 0.5) for c in cur
                             if c["side"] != "train" and c["taxon"] in taxa}}
        assert viol["test"][m] == count(value, taxa, test), m
    assert viol["test"]["observed"] == count({(c["taxon"], c["entity"]): c["y"] for c in cur if c["taxon"] in taxa},
                                             taxa, None)
    hyps = {(h["subject"], h["object"]): int(h["predicate"] == "tkg:hasPresenceOf") for h in kg.hypotheses()}
    assert hyps
    value = {**{(c["taxon"], c["entity"]): c["y"] for c in cur}, **hyps}
    assert viol["written"] == count(value, {t for t, _ in hyps}, set(hyps))
    assert viol == json.loads(json.dumps(out["violations"]))


def kg_node(iri: str):
    from kg.core.store import NamedNode

    return NamedNode(iri)


def test_link_prediction_figures_from_the_kg(tmp_path):
    """--task linkpred stores every held-out triple's head and tail rank under every scorer: its
    MRR, Hits@k and bootstrap intervals are recomputed from the KG."""
    from gnn.pipeline import hypothesize

    kg = gappy_sample(tmp_path, conflict=False)
    out = hypothesize(kg, task="linkpred", tree="sample", epochs=5, min_taxa=3, seed=2, device="cpu", limit=10)
    run, cells = read_run(kg)
    methods, boot = json.loads(run["methodMetrics"]), json.loads(run["bootstrap"])
    assert run["task"] == "linkpred" and methods == json.loads(json.dumps(out["methods"]))
    for side in ("val", "test"):
        mine = [c for c in cells if c["side"] == side]
        rng = np.random.default_rng(boot["seed"])
        draws = [rng.integers(0, len(mine), len(mine)) for _ in range(boot["resamples"])]
        for m in ("marginal", "label-propagation", "phylo-nn", "model"):
            head = np.array([c["scores"][m][0] for c in mine])
            tail = np.array([c["scores"][m][1] for c in mine])
            both = np.concatenate([head, tail])
            got = methods[m][side]
            assert got["mrr"] == pytest.approx(float((1 / both).mean()), abs=1e-12)
            assert got["hits@10"] == pytest.approx(float((both <= 10).mean()), abs=1e-12) and got["n"] == len(both)
            res = [float(np.concatenate([1 / head[k], 1 / tail[k]]).mean()) for k in draws]
            lo_q, hi_q = 100 * (1 - boot["level"]) / 2, 100 * (1 + boot["level"]) / 2
            assert got["mrr_ci"] == pytest.approx([np.percentile(res, lo_q), np.percentile(res, hi_q)], abs=1e-12)
    gate = json.loads(run["gate"])
    assert gate["model_val"] == methods["model"]["val"]["mrr"]
    assert all(gate["baseline_val"][m] == methods[m]["val"]["mrr"] for m in gate["baseline_val"])
