"""Hypotheses as knowledge: the tier on every hypothesis, conflicting calls reported and never
filled, ``--limit`` keeping whole tie sets and saying what it left out, valid JSON at full precision.
On the bundled sample with a second matrix that contradicts one of its cells."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent))
from _worlds import gappy_sample  # noqa: E402

from gnn.evaluate import jsonable  # noqa: E402
from gnn.predict import keep_whole_ties, limit_note  # noqa: E402


@pytest.fixture(scope="module")
def conflicted(tmp_path_factory):
    return gappy_sample(tmp_path_factory.mktemp("conflict"))


@pytest.fixture(scope="module")
def run(conflicted):
    from gnn.pipeline import hypothesize

    return hypothesize(conflicted, tree="sample", epochs=5, min_taxa=3, limit=None, seed=0, device="cpu")


def test_every_hypothesis_and_the_run_carry_the_hypothesised_tier(conflicted, run):
    rows = conflicted.query("""SELECT ?h ?tier WHERE { GRAPH ?g { ?h a tkg:Hypothesis .
                               OPTIONAL { ?h tkg:tier ?tier } } }""").rows
    assert len(rows) == run["hypotheses"] > 0
    assert {r[1].value if r[1] is not None else None for r in rows} == {"hypothesised"}
    tiers = conflicted.query("SELECT ?t WHERE { GRAPH ?g { ?r a tkg:HypothesisRun ; tkg:tier ?t } }").rows
    assert [t[0].value for t in tiers] == ["hypothesised"]
    for h in conflicted.hypotheses():
        assert h["run"] == run["run"] and h["method"] == run["gate"]["chosen"] and 0.5 <= h["score"] <= 1


def test_conflicting_calls_are_reported_not_hypothesised(conflicted, run):
    conflicts = conflicted.traits.conflicts_keys()
    assert conflicts  # the contradicting matrix made at least one
    assert run["conflicts"] == len(conflicts)
    got = conflicted.query("""SELECT ?s ?o ?tiers WHERE { GRAPH ?g { ?r a tkg:HypothesisRun ; tkg:conflictCount ?n ;
                                tkg:reportsConflict ?c . ?c a tkg:CallConflict ; rdf:subject ?s ; rdf:object ?o ;
                                tkg:callTiers ?tiers } }""").rows
    assert {(s.value, o.value) for s, o, _ in got} == conflicts
    assert all(t.value == "asserted/asserted" for _, _, t in got)
    filled = {(h["subject"], h["object"]) for h in conflicted.hypotheses()}
    from ontologies.prefixes import contract

    assert not filled & {(contract(t), contract(e)) for t, e in conflicts}
    from gnn.data import build_graph

    tg = build_graph(conflicted, tree="sample", min_taxa=3)
    poly = tg.ambiguous["kind"] == "polymorphic"
    assert poly.any()  # the sample's polymorphic cell is known (both values): never hypothesised either
    assert not filled & {(tg.taxa[t], tg.entities[e]) for t, e in zip(tg.ambiguous["taxon"][poly],
                                                                       tg.ambiguous["entity"][poly])}


def test_limit_keeps_whole_tie_sets_and_says_what_it_left_out(conflicted, run):
    from gnn.pipeline import hypothesize

    full = sorted((h["score"] for h in conflicted.hypotheses(run=run["run"])), reverse=True)
    assert run["limit"]["left_out"] == 0 and run["limit"]["kept"] == len(full)
    limit = 7
    small = hypothesize(conflicted, tree="sample", epochs=5, min_taxa=3, limit=limit, seed=0, device="cpu", write=False)
    rep = small["limit"]
    assert rep["candidates"] == len(full) and rep["kept"] + rep["left_out"] == len(full) and rep["kept"] <= limit
    kept = full[:rep["kept"]]
    if rep["kept"] < len(full):  # no tie set crosses the line between what was kept and what was not
        assert not kept or kept[-1] > full[rep["kept"]]
    if rep["tie_set_over_limit"]:
        over = rep["tie_set_over_limit"]
        assert full.count(over["score"]) == over["size"] and "left out whole" in small["limit_note"]
    assert small["hypotheses"] == rep["kept"]


def test_keep_whole_ties_by_hand():
    conf = np.array([0.99, 0.9, 0.9, 0.9, 0.8, 0.7])
    assert keep_whole_ties(conf, 10)[0] == 6
    k, rep = keep_whole_ties(conf, 3)  # the limit falls inside the 0.9 set: the set goes, whole
    assert k == 1 and rep["left_out"] == 5 and rep["tie_set_over_limit"] == {"score": 0.9, "size": 3}
    assert "left out whole" in limit_note(rep)
    k, rep = keep_whole_ties(conf, 4)  # the limit falls after the set: nothing is split
    assert k == 4 and rep["tie_set_over_limit"] is None and rep["left_out"] == 2
    k, rep = keep_whole_ties(np.ones(1000), 1000 - 1)  # all tied: nothing can be kept, and it says so
    assert k == 0 and rep["tie_set_over_limit"]["size"] == 1000


def test_json_is_valid_and_full_precision(conflicted, run):
    from gnn.pipeline import hypothesize

    text = json.dumps(jsonable(run), allow_nan=False)
    assert json.loads(text)["metrics"]["test_chosen"]["auc"] == run["metrics"]["test_chosen"]["auc"]
    place = hypothesize(conflicted, task="placement", tree="sample", split="random", min_taxa=3, write=False)
    out = json.loads(json.dumps(jsonable(place), allow_nan=False))  # the gate's model AUC is NaN: null
    assert out["gate"]["model_val"] is None
    scores = [h["score"] for h in conflicted.hypotheses(run=run["run"])]
    assert any(round(s, 4) != s for s in scores)  # not rounded to 4 decimals
    runs = conflicted.hypothesis_runs()
    stored = conflicted.query("SELECT ?m WHERE { GRAPH ?g { ?r a tkg:HypothesisRun ; tkg:metrics ?m } }").rows
    for (m,) in stored:
        json.loads(m.value, parse_constant=lambda c: pytest.fail(f"{c} in stored JSON"))
    assert runs[0]["metrics"]["test_chosen"]["auc"] == run["metrics"]["test_chosen"]["auc"]
