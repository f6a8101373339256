"""kg.training on a toy tree and the bundled sample: distances, labels, cuts, traits, splits, images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg import KnowledgeGraph
from kg.core.errors import SourceNotFound, TraitKGError, ValidationError
from kg.demo import load_sample

ALL9 = ["Aa one", "Aa two", "Ab one", "Ba one", "Bb one", "Bb two", "Ca one", "Ca two", "Cb one"]


@pytest.fixture(scope="module")
def toy_kg(toy):
    g = KnowledgeGraph.open("oxigraph:")
    g.load_tree(toy / "training" / "toy.nwk", name="toy")
    g.load_taxonomy(toy / "training" / "taxonomy.csv", name="toy-taxonomy")
    return g


@pytest.fixture(scope="module")
def sample_kg():
    g = KnowledgeGraph.open("oxigraph:")
    load_sample(g)
    return g


def test_distance_matrix_matches_pairwise_queries_in_any_order(toy_kg):
    t = toy_kg.training
    names = ["Cb one", "Aa one", "Bb two", "Aa two", "Ca one"]
    d = t.distance_matrix(names)
    tree = toy_kg.tree("toy")
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert d[i, j] == pytest.approx(tree.distance(a, b) if a != b else 0.0)
    topo = t.distance_matrix(names, topological=True)
    assert topo[1, 3] == 2 and topo[0, 1] == 6
    assert (d == d.T).all() and d.dtype == np.float64


def test_distance_matrix_agrees_with_ete3_on_the_sample(sample_kg):
    tree = sample_kg.tree("sample")
    tips = tree.tips()
    d = sample_kg.training.distance_matrix(tips)
    ete = tree.to_ete()
    leaves = {n.name: n for n in ete.get_leaves()}
    rng = np.random.default_rng(3)
    for i, j in rng.integers(0, len(tips), size=(40, 2)).tolist():
        assert d[i, j] == pytest.approx(ete.get_distance(leaves[tips[i]], leaves[tips[j]]), abs=1e-9)


def test_taxa_not_in_the_tree_are_reported_and_refused_below_the_minimum(toy_kg):
    t = toy_kg.training
    s = t.taxa(["Aa one", "Aa_two", "Zz unknown"], min_fraction=0.5)
    assert s.names == ["Aa one", "Aa two"] and s.missing == ["Zz unknown"]
    assert s.report()["matched_fraction"] == pytest.approx(2 / 3, abs=1e-6)
    with pytest.raises(ValidationError, match=r"2 of 3 taxa \(66.7%\) are not tips of tree 'toy'.*'Yy'.*50%"):
        t.taxa(["Aa one", "Zz unknown", "Yy"], min_fraction=0.5)
    with pytest.raises(ValidationError, match="not tips"):
        t.distance_matrix(["Aa one", "Zz unknown"])  # a distance matrix wants every name by default


def test_rank_labels_from_the_taxonomy(toy_kg):
    r = toy_kg.training.rank_labels(["Aa one", "Cb one", "Ba nova"], prefix={"kingdom": "Animalia"})
    assert r.loc["Aa one"].to_dict() == {"order": "Alphaformes", "family": "Alphidae", "genus": "Aa",
                                         "species": "Aa one"}
    assert r.loc["Ba nova", "family"] == "Betidae"  # an unknown species gets its genus' lineage
    r2 = toy_kg.training.rank_labels(["Aa one"], ["kingdom", "order"], prefix={"kingdom": "Animalia"})
    assert r2.iloc[0].tolist() == ["Animalia", "Alphaformes"]


def test_levels_at_fixed_age_cuts_and_depth_cuts(toy_kg):
    t = toy_kg.training
    lv = t.levels(ALL9, [9, 5.5], by="age")  # root age 10; clades AB (age 8), C (8) then A, B, Ca, Cb
    assert lv.cuts == [9.0, 5.5]
    assert lv.groups["level0"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert lv.names.loc["Aa one"].tolist() == ["AB", "A"]
    assert lv.groups["level1"].nunique() == 4
    assert [r["groups"] for r in lv.report] == [2, 4]
    rel = t.levels(ALL9, [0.1], by="relative")  # age 9
    assert rel.groups["level0"].tolist() == lv.groups["level0"].tolist()
    dep = t.levels(ALL9, [2], by="depth")
    assert dep.names.loc["Cb one", "level0"] == "Cb_one" and dep.names.loc["Aa one", "level0"] == "A"
    assert lv.strings().loc["Ca one"] == "1_2"


@pytest.mark.parametrize(("cut", "by", "msg"), [(10.5, "age", "outside the tree's height"),
                                                (0, "age", "outside"), (1.2, "relative", "0 < cut < 1"),
                                                (9, "depth", "from 1 to 4"), (1, "height", "expected one of")])
def test_a_cut_outside_the_tree_is_refused(toy_kg, cut, by, msg):
    with pytest.raises(ValidationError, match=msg):
        toy_kg.training.levels(ALL9, [cut], by=by)


def test_cuts_chosen_for_balance_and_for_signal(toy_kg):
    t = toy_kg.training
    bal = t.levels(ALL9, n_levels=2, choose="balanced")
    assert len(bal.cuts) == 2 and bal.cuts[0] > bal.cuts[1]
    assert all(r["chosen_by"] == "balanced" and 0 <= r["evenness"] <= 1 for r in bal.report)
    # a trait that follows clade C exactly: the 2-group cut (AB | C) explains all of it
    vals = pd.DataFrame({"x": [0, 0, 0, 0, 0, 0, 1, 1, 1.0]}, index=ALL9)
    sig = t.levels(ALL9, n_levels=1, choose="signal", values=vals)
    assert sig.report[0]["groups"] == 2 and sig.report[0]["signal"] == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="need trait values"):
        t.levels(ALL9, n_levels=2, choose="signal")


def test_ancestor_paths(toy_kg):
    p = toy_kg.training.ancestor_paths(["Bb two", "Cb one"])
    assert p["Bb two"] == ["root", "AB", "B", "Bb", "Bb_two"]
    assert p["Cb one"] == ["root", "C", "Cb_one"]
    ids = toy_kg.training.ancestor_paths(["Cb one"], names=False)["Cb one"]
    assert ids[0] == 0 and len(ids) == 3


def test_trait_matrix_has_tiers_and_predicted_means(sample_kg):
    t = sample_kg.training
    taxa = ["Danio rerio", "Ictalurus punctatus", "Amia calva"]
    tm = t.trait_matrix(taxa)
    calls = sample_kg.traits.calls()
    from kg.core.names import taxon_iri
    from ontologies.prefixes import expand

    for taxon in taxa:
        for e in tm.values.columns:
            p = calls.get((taxon_iri(taxon), expand(e), "present"))
            a = calls.get((taxon_iri(taxon), expand(e), "absent"))
            v, tier = tm.values.loc[taxon, e], tm.tier.loc[taxon, e]
            if p and not a:
                assert v == 1.0 and tier == p.tier
            elif a and not p:
                assert v == 0.0 and tier == a.tier
            elif not p and not a:
                assert np.isnan(v) and tier == "" and tm.mask.loc[taxon, e] == 0
    assert {"asserted", "inferred"} <= set(tm.tier.to_numpy().ravel())
    pred = pd.DataFrame({"fin_length_mm": [12.0, 14.0, 30.0]}, index=["Danio_rerio", "Danio rerio", "Amia calva"])
    tm2 = t.trait_matrix(taxa, ["UBERON:2000251"], predicted=pred)
    assert list(tm2.values.columns) == ["UBERON:2000251", "fin_length_mm"]
    assert tm2.values.loc["Danio rerio", "fin_length_mm"] == 13.0
    assert tm2.tier.loc["Danio rerio", "fin_length_mm"] == "predicted"
    assert np.isnan(tm2.values.loc["Ictalurus punctatus", "fin_length_mm"])
    assert tm2.report()["predicted"] == 2
    long = tm2.long()
    assert set(long.columns) == {"taxon", "trait", "label", "value", "tier"}


def test_clade_holdout_split_is_seeded_and_holds_whole_clades(sample_kg):
    t = sample_kg.training
    s = t.split(method="clade", min_size=2, max_size=4, test=0.25, seed=7)
    assert s.report["held_out_clades"] == len(s.report["clades"]) >= 1
    tree = sample_kg.tree("sample")
    test = set(s.assignment[s.assignment == "test"].index)
    for c in s.report["clades"]:
        tips = {x.replace("_", " ") for x in tree.node(c["node"]).tips()}
        assert tips <= test and 2 <= c["taxa"] <= 4
    assert sum(c["taxa"] for c in s.report["clades"]) == len(test) <= 0.25 * 32
    again = t.split(method="clade", min_size=2, max_size=4, test=0.25, seed=7)
    assert again.assignment.equals(s.assignment)
    assert not t.split(method="clade", min_size=2, max_size=4, test=0.25, seed=8).assignment.equals(s.assignment)
    with pytest.raises(ValidationError, match="no clade holds between 40 and 50"):
        t.split(method="clade", min_size=40, max_size=50)


def test_species_and_random_splits(sample_kg):
    t = sample_kg.training
    s = t.split(method="species", fractions=(0.5, 0.25, 0.25), seed=1)
    assert s.counts() == {"train": 16, "val": 8, "test": 8}
    items = ["Danio rerio", "Danio rerio", "Amia calva"]
    per = s.for_items(items)
    assert per.iloc[0] == per.iloc[1]  # one species, one side
    r = t.split(["a", "b", "c", "d"], method="random", fractions=(0.5, 0.5, 0.0), seed=2)
    assert r.counts()["test"] == 0
    with pytest.raises(ValidationError, match="summing to 1"):
        t.split(method="species", fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValidationError, match="expected clade, rank, age, depth, relative, species or random"):
        t.split(method="stratified")


def test_image_manifest_reports_unknown_taxa_and_missing_files_per_row(toy_kg, tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "images.csv").write_text(
        "image_id,file_path,scientific_name,blur\n"
        "ark:/1/a,a.png,Aa one,0.1\n"
        "ark:/1/b,b.png,Nope nope,0.2\n"
        "ark:/1/c,missing.png,Aa two,0.3\n"
        "ark:/1/a,b.png,Aa two,0.4\n"
        "ark:/1/d,b.png,Bb_one,0.9\n")
    m = toy_kg.training.images(tmp_path / "images.csv")
    assert m.frame["image_id"].tolist() == ["ark:/1/a", "ark:/1/d"]
    assert m.frame["taxon"].tolist() == ["Aa one", "Bb one"]
    probs = {(p["line"], p["message"].split(" ")[0]) for p in m.problems}
    assert probs == {(3, "taxon"), (4, "file"), (5, "duplicate")}
    assert m.report()["dropped"] == 3
    with pytest.raises(ValidationError, match=r"3 bad row\(s\): line 3: taxon 'Nope nope'"):
        toy_kg.training.images(tmp_path / "images.csv", strict=True)
    with pytest.raises(SourceNotFound):
        toy_kg.training.images(tmp_path / "none.csv")
    with pytest.raises(ValidationError, match="no taxon column"):
        toy_kg.training.images(pd.DataFrame({"image_id": ["x"], "path": ["a.png"]}), root=tmp_path)


def test_quality_columns_become_weights_or_filters(toy_kg, tmp_path):
    df = pd.DataFrame({"image_id": list("abcd"), "path": ["x.png"] * 4, "taxon": ["Aa one"] * 4,
                       "sharpness": [1.0, 2.0, 3.0, 4.0], "blur": [0.9, 0.1, 0.2, 0.3]})
    m = toy_kg.training.images(df, check_files=False, weight="sharpness", max_quality={"blur": 0.5})
    assert m.frame["image_id"].tolist() == ["b", "c", "d"]
    assert m.frame["weight"].tolist() == pytest.approx([2 / 3, 1.0, 4 / 3])
    assert m.quality["filters"] == [{"column": "blur", "max": 0.5, "dropped": 1}]
    low = toy_kg.training.images(df, check_files=False, weight="blur", higher_is_better=False)
    assert low.frame["weight"].iloc[1] > low.frame["weight"].iloc[0]
    with pytest.raises(ValidationError, match="no quality column 'iso'"):
        toy_kg.training.images(df, check_files=False, weight="iso")


def test_errors_are_traitkg_errors(toy_kg):
    with pytest.raises(TraitKGError):
        toy_kg.training.tree("nope")


def test_synonyms_resolve_to_tips_for_taxa_and_images(sample_kg, tmp_path):
    t = sample_kg.training
    s = t.taxa(["Brachydanio rerio", "Danio rerio", "Amia calva"])
    assert s.names == ["Danio rerio", "Amia calva"] and s.resolved == {"Brachydanio rerio": "Danio rerio"}
    assert t.distance_matrix(["Brachydanio rerio", "Amia calva"]).shape == (2, 2)
    df = pd.DataFrame({"image_id": ["a", "b"], "path": ["a.png", "b.png"],
                       "taxon": ["Brachydanio rerio", "Danio albolineatus"]})
    m = t.images(df, check_files=False)
    assert m.frame["taxon"].tolist() == ["Danio rerio", "Danio albolineatus"]
    assert m.report()["renamed_taxa"] == {"Brachydanio rerio": "Danio rerio"} and m.problems == []


# ------------------------------------------------------------------ hold-out by rank, by cut; degenerate sets

def _groups_by_set(split, labels):
    sets: dict[str, set[str]] = {}
    for taxon, s in split.assignment.items():
        sets.setdefault(labels[taxon], set()).add(s)
    return sets


@pytest.mark.parametrize("rank", ["genus", "family", "order"])
def test_rank_split_holds_out_whole_groups_for_test_and_val(toy_kg, rank):
    t = toy_kg.training
    r = t.rank_labels(ALL9, [rank])[rank]
    for seed in range(8):
        s = t.split(ALL9, method="rank", rank=rank, test=0.3, val=0.2, seed=seed)
        assert all(len(v) == 1 for v in _groups_by_set(s, r).values())  # no genus/family/order spans two sets
        assert s.report["groups_spanning_sets"] == 0 and s.report["rank"] == rank
        test_groups = {g["group"] for g in s.report["test_groups"]}
        assert test_groups == {r[x] for x in s.assignment[s.assignment == "test"].index}
        assert sum(s.counts().values()) == 9 and s.counts()["test"] <= 0.3 * 9
    s = t.split(ALL9, method="rank", rank="genus", test=0.3, val=0.2, seed=3)
    again = t.split(ALL9, method="rank", rank="genus", test=0.3, val=0.2, seed=3)
    assert again.assignment.equals(s.assignment)
    with pytest.raises(ValidationError, match="rank 'tribe' is not in the loaded taxonomy"):
        t.split(ALL9, method="rank", rank="tribe")


@pytest.mark.parametrize(("by", "cut"), [("age", 5.5), ("depth", 2), ("relative", 0.45)])
def test_cut_split_holds_out_whole_clades_below_the_cut(toy_kg, by, cut):
    t = toy_kg.training
    lv = t.levels(ALL9, [cut], by=by)
    clade = lv.nodes["level0"]
    s = t.split(ALL9, method=by, cut=cut, test=0.3, val=0.2, seed=1)
    assert all(len(v) == 1 for v in _groups_by_set(s, clade).values())
    assert s.report["by"] == by and s.report["cut"] == cut and s.report["groups"] == clade.nunique()
    assert s.counts()["test"] >= 1
    with pytest.raises(ValidationError, match=f"a split by {by} needs a cut"):
        t.split(ALL9, method=by)


def test_clade_split_draws_validation_clades_by_the_same_rule(sample_kg):
    t = sample_kg.training
    tree = sample_kg.tree("sample")
    s = t.split(method="clade", min_size=2, max_size=4, test=0.25, val=0.25, seed=7)
    val = set(s.assignment[s.assignment == "val"].index)
    assert s.report["val_clades"] and sum(c["taxa"] for c in s.report["val_clades"]) == len(val)
    for c in s.report["val_clades"]:
        assert {x.replace("_", " ") for x in tree.node(c["node"]).tips()} <= val and 2 <= c["taxa"] <= 4


def test_degenerate_splits_and_level_sets_warn_or_refuse(toy_kg, caplog):
    t = toy_kg.training
    three = ["Aa one", "Aa two", "Ab one"]
    with caplog.at_level("WARNING"):
        s = t.split(three, method="species", fractions=(0.8, 0.1, 0.1), seed=0)
    assert s.counts() == {"train": 2, "val": 0, "test": 1}
    assert any("degenerate species split of 3 taxa" in w for w in s.report["warnings"])
    assert "degenerate species split of 3 taxa" in caplog.text
    with pytest.raises(ValidationError, match=r"degenerate rank split of 3 taxa .*: train 3, val 0, test 0"):
        t.split(three, method="rank", rank="family", strict=True)
    with caplog.at_level("WARNING"):
        lv = t.levels(three, n_levels=3)
    assert len(lv.cuts) == 1 and "1 level(s) of the 3 asked for from 3 taxa" in lv.report[0]["warnings"][0]
    assert "1 level(s) of the 3 asked for" in caplog.text
    with pytest.raises(ValidationError, match="1 level\\(s\\) of the 3 asked for"):
        t.levels(three, n_levels=3, strict=True)
    ok = t.split(ALL9, method="rank", rank="genus", test=0.3, val=0.2, seed=0, strict=True)
    assert ok.report["warnings"] == []


def test_image_id_column_named_and_every_dropped_image_reported(toy_kg, tmp_path, caplog):
    """An Imageomics-style table (ids in 'X' or 'CAMID'): found by name (CAMID) or named (X); every
    row left out has its line and reason, and the run logs one line with counts and the first ids."""
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "images.csv").write_text(
        "X,CAMID,filepath,species,blur\n"
        "1,CAM-1,a.png,Aa one,0.1\n"
        "2,CAM-2,a.png,Zz unknown,0.2\n"
        "3,CAM-3,a.png,Aa two,0.9\n"
        "4,CAM-4,gone.png,Bb one,0.1\n")
    m = toy_kg.training.images(tmp_path / "images.csv")
    assert m.frame["image_id"].tolist() == ["CAM-1", "CAM-3"]
    with caplog.at_level("WARNING"):
        m = toy_kg.training.images(tmp_path / "images.csv", id_column="X", max_quality={"blur": 0.5})
    assert m.frame["image_id"].tolist() == ["1"] and "CAMID" in m.frame.columns
    rep = m.report()
    assert rep["dropped"] == 3 and rep["problem_count"] == 3
    assert rep["reasons"] == {"off-tree taxon": 1, "missing file": 1, "quality filter": 1}
    assert {p["image_id"]: p["line"] for p in rep["problems"]} == {"2": 3, "4": 5, "3": 4}
    assert "images: 3 of 4 rows left out (off-tree taxon 1, missing file 1, quality filter 1), e.g. 2, 3, 4" \
        in caplog.text
    (tmp_path / "x.csv").write_text("X,filepath,species\n1,a.png,Aa one\n")
    with pytest.raises(ValidationError, match=r"no image id column; expected one of .*camid, or name it with "
                                              r"id_column=COLUMN \(CLI --id-column\)"):
        toy_kg.training.images(tmp_path / "x.csv")
    with pytest.raises(ValidationError, match="no column 'Y' for the image id"):
        toy_kg.training.images(tmp_path / "x.csv", id_column="Y")


def test_unmatched_taxa_are_named(toy_kg, caplog):
    with caplog.at_level("WARNING"):
        ts = toy_kg.training.taxa(["Aa one", "Aa two", "Ab one", "Zz unknown"])
    assert ts.report()["missing_names"] == ["Zz unknown"]
    assert "taxa: 3 of 4 matched (75.0%); not tips of the tree: Zz unknown" in caplog.text
