"""gnn on the bundled sample world (32 fish species, 9 entities with calls): graph building and
maps, split properties, filtered ranking, baselines, training determinism, the gate, write-back,
checkpoints, bad input. Deterministic on CPU."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from gnn.baselines import BASELINES, run_baselines  # noqa: E402
from gnn.data import build_graph  # noqa: E402
from gnn.evaluate import auc, filtered_ranks, ranking_metrics  # noqa: E402
from gnn.predict import Hypothesis, Prediction, gate, predict  # noqa: E402
from gnn.tasks import clade_split, make_split, random_split, subtree_sizes  # noqa: E402
from gnn.train import TrainConfig, fit, resolve_device  # noqa: E402
from kg.core.errors import ValidationError  # noqa: E402


@pytest.fixture(scope="module")
def sample():
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    kg = KnowledgeGraph.open("oxigraph:")
    load_sample(kg)
    return kg


@pytest.fixture(scope="module")
def tg(sample):
    return build_graph(sample, tree="sample", min_taxa=3)


@pytest.fixture(scope="module")
def fitted(tg):
    return fit(tg, make_split(tg, "random", seed=0), TrainConfig(epochs=20, eval_every=5, seed=0, device="cpu"))


def test_graph_shapes_and_maps(sample, tg):
    d = tg.data
    assert d["taxon"].num_nodes == tg.n_taxa == 63 and len(tg.tips) == 32  # the sample tree: 32 tips, 31 inner
    assert d["entity"].num_nodes == tg.n_entities == len(tg.entities)
    assert d["taxon", "parent_of", "taxon"].edge_index.shape == (2, tg.n_taxa - 1)
    n_pres = int(tg.cells["y"].sum())
    assert d["taxon", "has_presence_of", "entity"].edge_index.shape == (2, n_pres)
    assert d["taxon", "has_absence_of", "entity"].edge_index.shape == (2, len(tg.cells["y"]) - n_pres)
    assert d["phenotype"].num_nodes > 0 and d["taxon", "exhibits", "phenotype"].edge_index.shape[1] > 0
    # the maps read indices back as CURIEs that agree with the KG's calls
    calls = sample.traits.calls()
    from ontologies.prefixes import expand

    for t, e, y in zip(tg.cells["taxon"][:50], tg.cells["entity"][:50], tg.cells["y"][:50]):
        taxon, entity = expand(tg.taxa[t]), expand(tg.entities[e])
        assert (taxon, entity, "present" if y else "absent") in calls
        assert (taxon, entity, "absent" if y else "present") not in calls
    assert all(tg.taxa[i].startswith("taxon:") for i in tg.tips)
    assert tg.parent[0] == -1 and (tg.parent[1:] < np.arange(1, tg.n_taxa)).all()
    assert tg.fingerprint() == build_graph(sample, tree="sample", min_taxa=3).fingerprint()


def test_random_split_partitions_cells(tg):
    s = random_split(tg, seed=1)
    allc = np.concatenate([s.train, s.val, s.test])
    assert len(allc) == len(np.unique(allc)) == len(tg.cells["y"])
    assert (random_split(tg, seed=1).test == s.test).all() and not np.array_equal(random_split(tg, seed=2).test, s.test)


def test_clade_split_holds_out_whole_clades(tg):
    s = clade_split(tg, seed=0)
    size = subtree_sizes(tg.parent)
    side = {}
    for name, idx in (("train", s.train), ("val", s.val), ("test", s.test)):
        for t in np.unique(tg.cells["taxon"][idx]).tolist():
            assert side.setdefault(t, name) == name  # a taxon is on one side only
    for name in ("val", "test"):
        assert s.clades[name]
        for c in s.clades[name]:
            tips = [t for t in tg.tips.tolist() if c <= t < c + size[c]]
            assert 3 <= len(tips) <= 10
            assert {side[t] for t in tips} == {name}  # every labelled tip of the clade is held out together


def test_filtered_ranking_by_hand():
    # one query, 5 candidates; the true one is 2; candidates 0 and 4 are other known answers (filtered)
    scores = np.array([[0.9, 0.5, 0.7, 0.7, 0.8]])
    assert filtered_ranks(scores, np.array([2]), [{0, 2, 4}]).tolist() == [1.5]  # tie with 3: half a place
    assert filtered_ranks(scores, np.array([2]), [set()]).tolist() == [3.5]  # unfiltered: 0 and 4 above, 3 tied
    m = ranking_metrics(np.array([1.0, 4.0, 12.0]))
    assert m == {"mrr": (1 + 0.25 + 1 / 12) / 3, "hits@1": 1 / 3, "hits@3": 1 / 3, "hits@10": 2 / 3, "n": 3}  # full precision
    assert auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5


def test_baselines_return_probabilities(tg):
    s = make_split(tg, "clade", seed=0)
    out = run_baselines(tg, s.train, s.test)
    assert set(out) == set(BASELINES) >= {"majority", "phylo-nn", "sister-clade", "label-propagation", "ontology-rules",
                                          "fitch"}
    for p in out.values():
        assert p.shape == s.test.shape and (p >= 0).all() and (p <= 1).all()


@pytest.mark.slow
def test_training_is_deterministic_on_cpu(tg, fitted):
    again = fit(tg, fitted.split, TrainConfig(epochs=20, eval_every=5, seed=0, device="cpu"))
    assert np.allclose(fitted.probabilities(), again.probabilities(), atol=1e-6)
    assert fitted.probabilities().shape == (tg.n_taxa, tg.n_entities)


def test_gate_picks_baseline_when_model_is_worse(tg):
    s = make_split(tg, "random", seed=0)
    yv = tg.cells["y"][s.val]
    worse = gate(tg, s, 1.0 - yv.astype(float))  # a model that is always wrong
    assert worse.model_val == 0.0 and worse.chosen == worse.best_baseline != "model"
    tie = gate(tg, s, yv.astype(float))  # perfect: chosen only if strictly better than the best baseline
    assert tie.chosen == ("model" if tie.model_val > tie.best_baseline_val else tie.best_baseline)
    probs = np.zeros((tg.n_taxa, tg.n_entities))
    pred = predict(tg, s, probs)  # an all-absent model: worse than the baselines, so they answer
    assert pred.gate.chosen != "model" and all(h.method == pred.gate.chosen for h in pred.hypotheses)
    for h in pred.hypotheses:
        assert h.baseline_val == pred.gate.best_baseline_val and h.model_val == pred.gate.model_val


def test_write_back_is_queryable(sample, tg):
    from gnn.hypotheses import RunInfo, write_hypotheses

    s = make_split(tg, "random", seed=0)
    g = gate(tg, s, None)
    hyps = [Hypothesis("taxon:Danio_rerio", "tkg:hasPresenceOf", "UBERON:0000151", 0.91, g.chosen, float("nan"),
                       g.best_baseline, 0.91, g.model_val, g.best_baseline_val, g.chosen),
            Hypothesis("taxon:Esox_lucius", "tkg:hasAbsenceOf", "UBERON:0000151", 0.6, g.chosen, float("nan"),
                       g.best_baseline, 0.6, g.model_val, g.best_baseline_val, g.chosen)]
    info = RunInfo("imputation", "random", "TraitGNN", 0, "cpu", tg.sources, {"test": {"auc": 0.9}})
    rec = write_hypotheses(sample.store, Prediction(g, hyps), info)
    assert rec.kind == "hypotheses" and rec.status == "loaded"
    assert write_hypotheses(sample.store, Prediction(g, hyps), info).status == "unchanged"
    got = sample.hypotheses()
    assert [(h["subject"], h["predicate"], h["score"]) for h in got] == [
        ("taxon:Danio_rerio", "tkg:hasPresenceOf", 0.91), ("taxon:Esox_lucius", "tkg:hasAbsenceOf", 0.6)]
    assert [h["subject"] for h in sample.hypotheses(min_score=0.8)] == ["taxon:Danio_rerio"]
    assert sample.hypotheses(subject="taxon:Esox_lucius")[0]["object"] == "UBERON:0000151"
    runs = sample.hypothesis_runs()
    assert runs[0]["seed"] == 0 and runs[0]["device"] == "cpu" and set(runs[0]["used"]) == set(tg.sources)
    assert runs[0]["gate"]["chosen"] == g.chosen and runs[0]["metrics"] == {"test": {"auc": 0.9}}
    n = sample.query("SELECT (COUNT(?h) AS ?n) WHERE { ?h a tkg:Hypothesis ; rdf:predicate tkg:hasPresenceOf }")
    assert int(n.rows[0][0].value) == 1


@pytest.mark.slow
def test_checkpoint_round_trip_and_refusal(sample, tg, fitted, tmp_path):
    from gnn.checkpoint import load, save

    save(fitted, tmp_path / "ck")
    model, cfg = load(tmp_path / "ck", tg)
    fitted.model.eval()
    model.eval()
    assert all(torch.equal(a, b) for a, b in zip(fitted.model.state_dict().values(), model.state_dict().values()))
    assert cfg["graph"]["fingerprint"] == tg.fingerprint() and cfg["best_epoch"] == fitted.best_epoch
    other = build_graph(sample, tree="sample", min_taxa=3, max_entities=3)
    with pytest.raises(ValidationError, match="incompatible graph: .*entities"):
        load(tmp_path / "ck", other)
    with pytest.raises(ValidationError, match="not a checkpoint"):
        load(tmp_path / "nothing", tg)


def test_too_few_labelled_examples_says_counts(sample, tg):
    with pytest.raises(ValidationError, match=r"too few labelled examples: 32 taxa .* 0 entities with >= 1000"):
        build_graph(sample, tree="sample", min_taxa=1000)
    small = build_graph(sample, tree="sample", min_taxa=3, max_entities=1)
    with pytest.raises(ValidationError, match=r"too few labelled examples for the random split: train \d+ cells"):
        random_split(small, seed=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_requested_but_absent():
    with pytest.raises(ValidationError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_link_prediction_filtered_both_sides(tg):
    from gnn.linkpred import evaluate, marginal_scores, presence_scores

    s = make_split(tg, "random", seed=0)
    m = evaluate(tg, marginal_scores(tg, s.train), s.test)
    assert m["both"]["n"] == 2 * len(s.test) and m["head"]["n"] == m["tail"]["n"] == len(s.test)
    assert 0 < m["both"]["mrr"] <= 1
    oracle = np.full((tg.n_taxa, tg.n_entities), 0.5)  # the truth: 1 present, 0 absent, 0.5 unknown
    oracle[tg.cells["taxon"], tg.cells["entity"]] = tg.cells["y"]
    perfect = evaluate(tg, presence_scores(oracle), s.test)
    assert perfect["both"]["mrr"] == perfect["both"]["hits@1"] == 1.0  # other true answers are filtered out
    flipped = evaluate(tg, presence_scores(1 - oracle), s.test)
    assert flipped["both"]["mrr"] < m["both"]["mrr"]


def test_placement_holds_out_and_scores(tg):
    from gnn.placement import held_out_taxa, placement_table

    held = held_out_taxa(tg, "clade", seed=0)
    s = clade_split(tg, seed=0)
    assert set(held.tolist()) == set(np.unique(tg.cells["taxon"][np.concatenate([s.val, s.test])]).tolist())
    out = placement_table(tg, "clade", seed=0, min_shared=3)
    assert set(out) == {"nearest-mismatch", "random", "parsimony-insertion"}
    n_ref = len(tg.tips) - len(held)
    r = out["random"]  # every edge of the reference tree (binary: 2 n - 2), in the same units as the others
    assert r["tied_edges"] == r["reference_edges"] == 2 * n_ref - 2
    assert r["expected_accuracy"] <= 1 / r["reference_edges"] + 1e-12
    assert out["nearest-mismatch"]["n"] == len(held) and 1 <= out["nearest-mismatch"]["tied_edges"] <= n_ref
    for p in out.values():
        assert p["n"] == len(held) and p["tied_edges"] >= 1 and 0 <= p["expected_accuracy"] <= p["edge_hit"] <= 1
        lo, hi = p["expected_accuracy_ci"]
        assert lo <= p["expected_accuracy"] <= hi


def test_parsimony_insertion_finds_the_true_edge_and_keeps_ties():
    """((a,b),(c,(d,e))): e shares d's distinctive states, so its one best edge is the one above d;
    a taxon with no known states ties on every edge."""
    from gnn.placement import parsimony_insertion
    from gnn.tasks import subtree_sizes

    parent = np.array([-1, 0, 1, 1, 0, 4, 4, 6, 6])
    names = ["r", "x", "a", "b", "y", "c", "z", "d", "e"]
    prof = np.full((9, 4), np.nan)
    prof[[2, 3, 5]] = [0, 0, 1, 0]
    prof[[7, 8]] = [1, 1, 1, 1]
    g = SimpleNamespace(parent=parent, length=np.ones(9), taxa=names, entities=list("ABCD"), n_taxa=9, n_entities=4)
    size = subtree_sizes(parent)
    ref = np.array([2, 3, 5, 7])
    (hit, expected, tied, excess), = parsimony_insertion(g, np.array([8]), ref, prof, size)
    assert (hit, expected, tied, excess) == (1.0, 1.0, 1.0, 0.0)
    prof[8] = np.nan
    (hit, expected, tied, excess), = parsimony_insertion(g, np.array([8]), ref, prof, size)
    assert hit == 1.0 and tied == 6 and expected == pytest.approx(1 / 6)  # every edge of the 4-tip reference


def test_fitch_insertion_baseline_follows_the_most_parsimonious_states():
    """A held-out tip inside a clade of present tips is present; between a present and an absent
    sister it is undecided (0.5); the answer is read at the query node, not at the root."""
    from gnn.baselines import BaselineInput, fitch_insertion

    # ((a,b),(c,(d,e))): a, b present; c absent; d present; e held out
    parent = np.array([-1, 0, 1, 1, 0, 4, 4, 6, 6])
    names = ["r", "x", "a", "b", "y", "c", "z", "d", "e"]
    g = SimpleNamespace(parent=parent, length=np.ones(9), taxa=names, entities=["E"], n_taxa=9, n_entities=1,
                        cells={"taxon": np.array([2, 3, 5, 7]), "entity": np.zeros(4, dtype=np.int64),
                               "y": np.array([1.0, 1.0, 0.0, 1.0])})
    inp = BaselineInput(g, np.arange(4), np.array([8, 2, 5]), np.zeros(3, dtype=np.int64))
    got = fitch_insertion(inp)
    # e: sister d present, cousin c absent, (a,b) present -> MPR at e is present only
    assert got.tolist() == [1.0, 1.0, 0.0]
    # d absent too: e follows its absent sister and cousin
    g.cells["y"] = np.array([1.0, 1.0, 0.0, 0.0])
    assert fitch_insertion(BaselineInput(g, np.arange(4), np.array([8]), np.zeros(1, dtype=np.int64))).tolist() == [0.0]
    # a, b absent, c absent, d present: one change on the branch to z or to d, so e could be either
    g.cells["y"] = np.array([0.0, 0.0, 0.0, 1.0])
    assert fitch_insertion(BaselineInput(g, np.arange(4), np.array([8]), np.zeros(1, dtype=np.int64))).tolist() == [0.5]


def test_placement_hypotheses_for_taxa_with_calls_but_no_tip(tmp_path):
    """Two sample species cut from the tree keep their calls: each is placed on its tied best edges
    (scores sum to 1), Danio albolineatus next to Danio rerio, written as a hypotheses run."""
    from gnn.pipeline import hypothesize
    from kg import KnowledgeGraph
    from kg.demo import sample_dir

    d = sample_dir()
    text = (d / "fish-tree.nwk").read_text()
    pruned = (text.replace("(Danio_rerio:22.0,Danio_albolineatus:22.0)Danio:60.0", "Danio_rerio:82.0")
              .replace(",Cobitis_taenia:100.0)Cypriniformes", ")Cypriniformes"))
    assert pruned != text and "albolineatus" not in pruned
    (tmp_path / "pruned.nwk").write_text(pruned)
    g = KnowledgeGraph.open("oxigraph:")
    g.load_ontology(d / "fish-anatomy-slim.ttl")
    g.load_taxonomy(d / "taxonomy.csv")
    g.load_tree(tmp_path / "pruned.nwk", name="pruned")
    g.load_phenotypes([d / "phenotypes.xml"])
    out = hypothesize(g, task="placement", split="random", min_taxa=3)
    assert out["metrics"]["placed_taxa"] == 2 and out["status"] == "loaded"
    hs = g.hypotheses()
    assert {h["subject"] for h in hs} == {"taxon:Danio_albolineatus", "taxon:Cobitis_taenia"}
    assert {h["predicate"] for h in hs} == {"tkg:placedOn"}
    for taxon in ("taxon:Danio_albolineatus", "taxon:Cobitis_taenia"):
        assert sum(h["score"] for h in hs if h["subject"] == taxon) == pytest.approx(1.0, abs=1e-3)
    rerio = g.tree("pruned").index.lookup("Danio_rerio")
    assert any(h["object"].endswith(f"pruned/node/{rerio}") for h in hs if h["subject"] == "taxon:Danio_albolineatus")
    assert {h["method"] for h in hs} <= {"parsimony-insertion", "nearest-mismatch"}
