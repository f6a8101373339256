"""Comparative methods on KG data: presence/absence calls and user tables on a loaded tree,
results written to a derived graph with provenance and read back with SPARQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kg.comparative.data import Trait
from kg.core.errors import ValidationError
from kg.core.graphs import TKG

ANAT = "kg/sample/fish-anatomy-slim.ttl"
ADIPOSE = "UBERON:2000251"


@pytest.fixture
def sample_kg(mem_kg):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes("kg/sample/phenotypes.xml")
    mem_kg.load_tree("kg/sample/fish-tree.nwk", name="fish")
    return mem_kg


def body_size(kg, *, missing=(), extra=True):
    tips = kg.tree("fish").tips()
    rng = np.random.default_rng(11)
    rows = [(t.replace("_", " "), float(v), 0.05) for t, v in zip(tips, rng.normal(3, 1, len(tips)))
            if t not in missing]
    if extra:
        rows.append(("Nonexistus fictus", 1.0, 0.1))
    return Trait.from_rows(rows, name="log body size")


def test_presence_absence_ancestral_states_written_with_provenance(sample_kg):
    a = sample_kg.comparative.run("fish", ADIPOSE, "mk-er")
    assert a.trait.kind == "discrete" and a.match["matched"] >= 5
    assert a.record is not None and a.record.kind == "comparative"
    tree_rec = sample_kg.tree("fish").record
    assert tree_rec.iri in a.record.derived_from
    assert any("/phenotypes/" in g for g in a.record.derived_from)
    assert a.record.parameters["method"] == "mk-er"
    # one estimate per internal node of the induced tree, at the loaded tree's node IRIs
    n_inner = int((~a.phylo.is_tip).sum())
    rows = sample_kg.query(f"""SELECT ?node ?s ?p WHERE {{ ?e a <{TKG}AncestralStateEstimate> ; <{TKG}atNode> ?node ;
        <{TKG}stateProbability> [ <{TKG}stateLabel> ?s ; <{TKG}probability> ?p ] }}""").values()
    assert len({r[0] for r in rows}) == n_inner
    per_node: dict = {}
    for node, _s, p in rows:
        per_node[node] = per_node.get(node, 0.0) + float(p)
    assert all(abs(v - 1) < 1e-9 for v in per_node.values())
    assert all(n.startswith(tree_rec.iri.split("/graph/")[0]) or "/tree/fish/node/" in n for n in per_node)
    # running it again on unchanged inputs writes nothing new
    again = sample_kg.comparative.run("fish", ADIPOSE, "mk-er")
    assert again.record.status == "unchanged" and again.record.iri == a.record.iri
    listed = sample_kg.comparative.analyses()
    assert [x["method"] for x in listed] == ["mk-er"] and "ll" in listed[0]


def test_fitch_on_presence_absence(sample_kg):
    a = sample_kg.comparative.run("fish", ADIPOSE, "fitch")
    assert a.result["score"] >= 1 and set(a.result["states"]) <= {"absent", "present"}
    states = {s for d in a.nodes.values() for s in d["parsimony_states"]}
    assert states <= {"absent", "present"}


def test_continuous_table_with_se_lambda_k_bm_and_unmatched_report(sample_kg):
    trait = body_size(sample_kg)
    lam = sample_kg.comparative.run("fish", trait, "lambda")
    assert lam.match["unmatched_taxa"] == ["Nonexistus fictus"]
    assert 0.0 <= lam.result["lambda"] <= lam.result["max_lambda"] and math.isfinite(lam.result["loglik"])
    k = sample_kg.comparative.run("fish", trait, "k", nsim=100, seed=3)
    assert k.result["K"] > 0 and 0 < k.result["p_value"] <= 1 and k.result["sigma2"] > 0
    bm = sample_kg.comparative.run("fish", trait, "bm")
    assert len(bm.nodes) == 31
    got = sample_kg.query(f"""SELECT ?m ?lam WHERE {{ ?a <{TKG}method> ?m ; <{TKG}pagelLambda> ?lam }}""").values()
    assert got == [("lambda", got[0][1])] and abs(float(got[0][1]) - lam.result["lambda"]) < 1e-12
    assert len(sample_kg.comparative.graphs()) == 3


def test_imputation_of_tips_without_values(sample_kg):
    tips = sample_kg.tree("fish").tips()
    trait = body_size(sample_kg, missing=tips[:2], extra=False)
    a = sample_kg.comparative.run("fish", trait, "impute")
    assert sorted(a.taxa) == sorted(tips[:2])
    rows = sample_kg.query(f"SELECT ?t ?v WHERE {{ ?i a <{TKG}ImputedValue> ; <{TKG}taxon> ?t ; <{TKG}variance> ?v }}").values()
    assert len(rows) == 2 and all(float(v) > 0 for _, v in rows)


def test_bad_inputs(sample_kg, tmp_path):
    few = Trait.from_rows([("Danio rerio", 1.0), ("Nope one", 2.0), ("Nope two", 3.0)], name="few")
    with pytest.raises(ValidationError, match="only 1 of 3 taxa"):
        sample_kg.comparative.run("fish", few, "lambda")
    with pytest.raises(ValidationError, match="unknown method"):
        sample_kg.comparative.run("fish", few, "ou")
    with pytest.raises(ValidationError, match="needs a continuous trait"):
        sample_kg.comparative.run("fish", ADIPOSE, "lambda")
    tips = sample_kg.tree("fish").tips()
    const = Trait.from_rows([(t, 2.5) for t in tips], name="constant")
    with pytest.raises(ValidationError, match="constant.*undefined"):
        sample_kg.comparative.run("fish", const, "lambda")
    assert sample_kg.comparative.graphs() == []  # nothing half-written
    bad = tmp_path / "t.tsv"
    bad.write_text("taxon\tvalue\tse\nDanio rerio\t1.0\t-1\n")
    with pytest.raises(ValidationError, match="row 1: standard error"):
        Trait.read(bad)


def test_trait_table_reading(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("taxon,mass,se\nA a,1.5,0.1\nB b,NA,\nC c,2,0.2\n")
    t = Trait.read(p)
    assert t.kind == "continuous" and t.name == "mass" and math.isnan(t.values["B b"]) and t.se == {"A a": 0.1, "C c": 0.2}
    p.write_text("taxon\tstate\nA a\tred\nB b\t?\n")
    t = Trait.read(p)
    assert t.kind == "discrete" and t.values == {"A a": "red", "B b": "?"}


def test_multivariate_imputation_written_per_taxon_and_trait(sample_kg, tmp_path):
    tips = sample_kg.tree("fish").tips()
    rng = np.random.default_rng(5)
    lines = ["taxon\tsize\tfin"]
    for i, t in enumerate(tips[1:]):
        size = rng.normal()
        fin = "NA" if i % 7 == 0 else f"{size * 0.8 + 0.3 * rng.normal():.5f}"
        lines.append(f"{t.replace('_', ' ')}\t{size:.5f}\t{fin}")
    p = tmp_path / "two.tsv"
    p.write_text("\n".join(lines) + "\n")
    trait = Trait.read_columns(p, ["size", "fin"])
    assert trait.kind == "multivariate" and trait.columns == ["size", "fin"]
    a = sample_kg.comparative.run("fish", trait, "impute-mv")
    assert tips[0] in a.taxa and set(a.taxa[tips[0]]["estimates"]) == {"size", "fin"}
    n_fin = sum(1 for d in a.taxa.values() if list(d["estimates"]) == ["fin"])
    assert n_fin == len(range(0, len(tips) - 1, 7))
    R = np.array(a.result["R"])
    assert R.shape == (2, 2) and R[0, 1] > 0  # the traits were simulated correlated
    rows = sample_kg.query(f"SELECT ?t ?c WHERE {{ ?i a <{TKG}ImputedValue> ; <{TKG}taxon> ?t ; <{TKG}traitName> ?c }}").values()
    assert len(rows) == 2 + n_fin
    with pytest.raises(ValidationError, match="needs several continuous traits"):
        sample_kg.comparative.run("fish", body_size(sample_kg), "impute-mv")


def test_pgls_runs_writes_and_reads_back_like_the_others(sample_kg):
    """PGLS through g.comparative.run: listed by methods(), complete cases (the others named in
    left_out), coefficients written as RegressionCoefficient nodes, read back exactly; the fit
    equals kg.comparative.pgls on the same induced tree."""
    from kg.comparative.pgls import pgls

    assert "pgls" in sample_kg.comparative.methods()
    y = body_size(sample_kg)
    tips = sample_kg.tree("fish").tips()
    rng = np.random.default_rng(3)
    x = {t.replace("_", " "): float(v) for t, v in zip(tips[1:], rng.normal(size=len(tips) - 1))}
    a = sample_kg.comparative.run("fish", y, "pgls", predictors={"x": x}, model="lambda", lam=0.5,
                                  estimation="REML", vcv="correlation")
    first = tips[0].replace("_", " ")
    assert a.result["left_out"] == [tips[0]] and first not in x
    assert a.match["unmatched_taxa"] == ["Nonexistus fictus"]
    ref = pgls(a.phylo, a.tip_values, a.predictors, model="lambda", lam=0.5, method="REML", vcv="correlation")
    assert [c["estimate"] for c in a.result["coefficients"]] == ref.coef.tolist()
    back = sample_kg.comparative.read(a.record.iri)
    assert back["result"] == a.result and back["method"] == "pgls" and back["parameters"]["vcv"] == "correlation"
    coefs = {e["term"]: e for e in sample_kg.comparative.estimates(a.record.iri)}
    assert coefs["x"]["est"] == a.result["coefficients"][1]["estimate"] and coefs["x"]["se"] > 0
    row = [r for r in sample_kg.comparative.analyses() if r["method"] == "pgls"][0]
    assert row["ll"] == a.result["loglik"] and row["lam"] == 0.5
    with pytest.raises(ValidationError, match="at least one predictor"):
        sample_kg.comparative.run("fish", y, "pgls", write=False)
    with pytest.raises(ValidationError, match="needs a continuous trait"):
        sample_kg.comparative.run("fish", ADIPOSE, "pgls", predictors={"x": x}, write=False)


def test_tips_without_a_value_are_named(sample_kg):
    tips = sample_kg.tree("fish").tips()
    rows = [(t.replace("_", " "), float(i) if i > 1 else "NA") for i, t in enumerate(tips)]
    a = sample_kg.comparative.run("fish", Trait.from_rows(rows, name="len"), "bm", write=False)
    assert a.match["no_value_taxa"] == tips[:2] and a.match["matched"] == len(tips)


def test_repeated_rows_and_two_taxa_on_one_tip_are_reported(sample_kg, caplog):
    tips = sample_kg.tree("fish").tips()
    rows = [(t.replace("_", " "), float(i)) for i, t in enumerate(tips)] + [(tips[0].replace("_", " "), 99.0)]
    with caplog.at_level("WARNING"):
        trait = Trait.from_rows(rows + [(tips[1], 5.0)], name="len")  # 'Genus_species' and 'Genus species'
    assert f"1 taxa have more than one row, the last one kept: {tips[0].replace('_', ' ')}" in caplog.text
    a = sample_kg.comparative.run("fish", trait, "bm", write=False)
    assert a.match["same_tip"] == [{"taxon": tips[1], "tip": tips[1], "kept": "the first taxon's value"}]
