"""kg.training on the real Fish Tree of Life chronogram (11,638 tips) and the PFC classification."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from kg import KnowledgeGraph
from kg.core.errors import ValidationError
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fish(shared):
    g = KnowledgeGraph.open("oxigraph:")
    g.load_tree(shared / "fishtree" / "actinopt_12k_treePL.tre", name="fishtree")
    g.load_taxonomy(shared / "fishtree" / "PFC_short_classification.csv", name="pfc")
    return g


def test_distance_matrix_of_2000_tips_agrees_with_pairwise_distances(fish):
    tree = fish.tree("fishtree")
    rng = np.random.default_rng(11)
    tips = rng.choice(tree.tips(), 2000, replace=False).tolist()
    d = fish.training.distance_matrix(tips)
    assert d.shape == (2000, 2000) and (d == d.T).all() and (np.diag(d) == 0).all()
    i, j = rng.integers(0, 2000, size=(2, 500))
    ids = tree.node_ids(tips)
    want = tree.index.distance(ids[i], ids[j])
    assert np.allclose(d[i, j], np.where(i == j, 0.0, want), rtol=1e-12, atol=1e-9)
    topo = fish.training.distance_matrix(tips[:300], topological=True)
    assert np.array_equal(topo, tree.index.distance_matrix(ids[:300], topological=True))


def test_every_format_for_the_whole_fish_tree(fish, shared, tmp_path):
    m = fish.training.export(tmp_path, ["phylonn", "phylodiffusion", "hcompnet", "bioclip", "fishvista", "csv"],
                             lineage={"kingdom": "Animalia", "phylum": "Chordata", "class": "Actinopterygii"})
    assert m["reports"]["taxa"]["matched"] == 11638
    ix = TreeIndex.from_parsed(parse_newick((tmp_path / "phylonn" / "phylogeny.tre").read_text().strip()))
    assert ix.n_tips == 11638 and ix.is_ultrametric(1e-9)
    levels = m["reports"]["levels"]["levels"]
    assert [lv["groups"] for lv in levels] == sorted(lv["groups"] for lv in levels)
    assert 2 <= levels[0]["groups"] and levels[-1]["groups"] <= 11638 // 2
    split = m["reports"]["split"]
    assert split["held_out_clades"] > 100 and 0.19 <= split["held_out_fraction"] <= 0.2
    with open(shared / "fishtree" / "PFC_short_classification.csv", newline="") as fh:
        pfc = {r["genus.species"]: r for r in csv.DictReader(fh)}
    cap = pd.read_csv(tmp_path / "bioclip" / "taxa.csv").set_index("taxon")
    for name in ["Danio rerio", "Esox lucius", "Amia calva"]:
        r = pfc[name]
        assert cap.loc[name, "taxonomic"] == (f"Animalia Chordata Actinopterygii {r['order']} {r['family']} "
                                              f"{name}")
    sl = json.loads((tmp_path / "phylodiffusion" / "species_levels.json").read_text())
    assert len(sl) == 11638 and all(len(v) == len(levels) for v in sl.values())
    w = pd.read_csv(tmp_path / "hcompnet" / "node_weights.csv")
    assert w["classes"].iloc[0] == 11638


def test_mostly_unknown_taxa_are_refused_with_the_fraction(fish):
    names = ["Danio rerio", "Esox lucius"] + [f"Imaginary species{k}" for k in range(8)]
    with pytest.raises(ValidationError, match=r"8 of 10 taxa \(80.0%\) are not tips of tree 'fishtree'"):
        fish.training.taxa(names)
    s = fish.training.taxa(names, min_fraction=0.1)
    assert s.report()["matched"] == 2 and s.report()["missing"] == 8


@pytest.mark.parametrize("rank", ["genus", "family", "order"])
def test_rank_holdout_on_the_fish_tree_keeps_every_group_in_one_set(fish, shared, rank):
    """Whole genera / families / orders of the 11,638 tips held out for test and for validation:
    read against the PFC file itself, no group at the rank has members in two sets."""
    with open(shared / "fishtree" / "PFC_short_classification.csv", newline="") as fh:
        pfc = {r["genus.species"]: r[rank] for r in csv.DictReader(fh)}
    s = fish.training.split(method="rank", rank=rank, test=0.2, val=0.1, seed=4)
    sets: dict[str, set[str]] = {}
    for taxon, part in s.assignment.items():
        sets.setdefault(pfc[taxon], set()).add(part)
    assert len(s.assignment) == 11638 and all(len(v) == 1 for v in sets.values())
    c = s.counts()
    assert 0.17 * 11638 <= c["test"] <= 0.2 * 11638 and 0.07 * 11638 <= c["val"] <= 0.1 * 11638
    assert {g["group"] for g in s.report["test_groups"]} == {pfc[t] for t in s.assignment[s.assignment == "test"].index}
    assert s.report["groups"] == len(sets) and s.report["warnings"] == [] and s.report["ungrouped"] == []


def test_age_holdout_on_the_fish_tree_keeps_every_clade_in_one_set(fish):
    s = fish.training.split(method="age", cut=50.0, test=0.2, val=0.1, seed=1)
    lv = fish.training.levels(list(s.assignment.index), [50.0], by="age")
    sets: dict[int, set[str]] = {}
    for taxon, node in lv.nodes["level0"].items():
        sets.setdefault(int(node), set()).add(s.assignment[taxon])
    assert all(len(v) == 1 for v in sets.values()) and s.report["groups"] == len(sets) > 100
    assert s.counts()["test"] > 0.15 * 11638 and s.counts()["val"] > 0.05 * 11638
