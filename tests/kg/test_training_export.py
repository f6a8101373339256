"""Trainer exports: every format's files, the manifest, reproducing a run from it, the CLI, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from kg import KnowledgeGraph
from kg.cli import main
from kg.core.errors import IntegrityError, ValidationError
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick

FORMATS = ["phylonn", "phylodiffusion", "hcompnet", "bioclip", "fishvista", "csv"]


@pytest.fixture(scope="module")
def toy_kg(toy):
    g = KnowledgeGraph.open("oxigraph:")
    g.load_tree(toy / "training" / "toy.nwk", name="toy")
    g.load_taxonomy(toy / "training" / "taxonomy.csv", name="toy-taxonomy")
    return g


@pytest.fixture
def images(tmp_path):
    rows = []
    for k, taxon in enumerate(["Aa one", "Aa one", "Aa two", "Bb one", "Ca two", "Cb one", "Zz zz"]):
        p = tmp_path / "img" / f"{k}.png"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"png")
        rows.append({"image_id": f"ark:/89609/t{k}", "path": f"img/{k}.png", "taxon": taxon, "sharpness": k + 1})
    f = tmp_path / "images.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    return f


def test_every_format_writes_its_files_and_a_manifest(toy_kg, tmp_path, images):
    out = tmp_path / "out"
    m = toy_kg.training.export(out, FORMATS, cuts=[9, 5.5], images=str(images), weight="sharpness",
                               lineage={"kingdom": "Animalia", "phylum": "Chordata", "class": "Actinopterygii"},
                               split="species", fractions=[0.6, 0.2, 0.2], seed=3)
    written = {f["path"] for f in m["files"]}
    assert {"phylonn/phylogeny.tre", "phylonn/name_to_ott.json", "phylonn/levels.csv",
            "phylodiffusion/species_levels.json", "hcompnet/phylogeny.tre", "hcompnet/node_weights.csv",
            "bioclip/taxa.csv", "bioclip/images.csv", "fishvista/species_traits.csv", "csv/taxa.csv",
            "csv/images.csv", "csv/ancestors.csv"} <= written
    assert json.loads((out / "manifest.json").read_text()) == json.loads(json.dumps(m, default=str))
    kinds = [(g["kind"], g["name"]) for g in m["graphs"]]
    assert kinds == [("tree", "toy"), ("taxonomy", "toy-taxonomy")]
    assert all(len(g["sha256"]) == 64 and g["version"] for g in m["graphs"])
    assert m["inputs"][0]["role"] == "images" and len(m["inputs"][0]["sha256"]) == 64
    # the unknown taxon's row is reported with its line
    assert [(p["line"], p["value"]) for p in m["reports"]["images"]["problems"]] == [(8, "Zz zz")]

    # Phylo-NN: ultrametric Newick with ott<ID> tips (a name when no OTT id), map, level groups
    ix = TreeIndex.from_parsed(parse_newick((out / "phylonn" / "phylogeny.tre").read_text().strip()))
    assert ix.is_ultrametric(1e-12)
    assert sorted(ix.names[i] for i in ix.tips) == sorted([f"ott{1000 + k}" for k in range(1, 9)] + ["Cb_one"])
    assert json.loads((out / "phylonn" / "name_to_ott.json").read_text())["Aa one"] == "ott1001"
    lv = pd.read_csv(out / "phylonn" / "levels.csv")
    assert list(lv.columns[:4]) == ["taxon", "tip", "level0", "level1"]
    assert lv.set_index("taxon").loc["Ca one", "level1_node"] == "Ca"

    # Phylo-Diffusion: species -> per-level class index strings
    sl = json.loads((out / "phylodiffusion" / "species_levels.json").read_text())
    assert sl["Aa one"] == ["0", "0"] and sl["Cb one"] == ["1", "3"]

    # HComP-Net: leaves are class names; weights count images below each node
    h = TreeIndex.from_parsed(parse_newick((out / "hcompnet" / "phylogeny.tre").read_text().strip()))
    assert "Aa_one" in {h.names[i] for i in h.tips}
    w = pd.read_csv(out / "hcompnet" / "node_weights.csv").set_index("node")
    assert w.loc["root", "images"] == 6 and w.loc["Aa", "images"] == 3 and w.loc["Aa_one", "images"] == 2
    assert w.loc["Aa", "weight"] == pytest.approx(0.5)

    # BioCLIP: taxonomic strings per rank
    b = pd.read_csv(out / "bioclip" / "taxa.csv").set_index("taxon")
    assert b.loc["Aa one", "taxonomic"] == "Animalia Chordata Actinopterygii Alphaformes Alphidae Aa one"
    bi = pd.read_csv(out / "bioclip" / "images.csv")
    assert bi["caption"].iloc[0] == "a photo of Animalia Chordata Actinopterygii Alphaformes Alphidae Aa one."
    assert bi["weight"].mean() == pytest.approx(1.0)

    # Fish-Vista: species x traits with leave-out-species splits (no phenotypes here: no trait columns)
    fv = pd.read_csv(out / "fishvista" / "species_traits.csv")
    assert list(fv.columns) == ["taxon", "split"] and set(fv["split"]) <= {"train", "val", "test"}
    ci = pd.read_csv(out / "csv" / "images.csv")
    sp = fv.set_index("taxon")["split"]
    assert (ci["split"] == ci["taxon"].map(sp)).all()
    anc = pd.read_csv(out / "csv" / "ancestors.csv").set_index("taxon")
    assert anc.loc["Bb two", "ancestors"] == "root;AB;B;Bb;Bb_two"


def test_a_run_is_reproduced_from_its_manifest(toy_kg, tmp_path, images):
    a = tmp_path / "a"
    m = toy_kg.training.export(a, ["phylonn", "csv", "bioclip"], images=str(images), seed=5, min_clade=2,
                               max_clade=3, test=0.3)
    assert m["reports"]["split"]["held_out_clades"] >= 1
    (a / "csv" / "old.csv").write_text("from an earlier run\n")
    again = toy_kg.training.reproduce(a / "manifest.json", tmp_path / "b")
    assert again["reproduced"] and all(again["reproduced"].values())
    assert again["graphs"] == m["graphs"]
    rerun = toy_kg.training.export(a, ["csv"], images=str(images))
    assert rerun["reports"]["stale_files"] == ["csv/old.csv"] and "csv/old.csv" not in {
        f["path"] for f in rerun["files"]}
    # the store no longer holds the tree version of the manifest: refused, naming it
    other = KnowledgeGraph.open("oxigraph:")
    other.load_tree(_write(tmp_path / "x.nwk", "((Aa_one:1,Aa_two:1):1);"), name="toy")
    with pytest.raises(IntegrityError, match=r"tree/toy/\w+ is not loaded"):
        other.training.reproduce(a / "manifest.json", tmp_path / "c")
    images.write_text(images.read_text() + "ark:/89609/new,img/0.png,Aa one,9\n")
    with pytest.raises(IntegrityError, match="changed"):
        toy_kg.training.reproduce(a / "manifest.json", tmp_path / "d")


def _write(p, text):
    p.write_text(text)
    return p


def test_fishvista_traits_from_the_sample_with_tiers(tmp_path):
    from kg.demo import load_sample

    g = KnowledgeGraph.open("oxigraph:")
    load_sample(g)
    m = g.training.export(tmp_path, ["fishvista", "csv"], split="species", seed=1)
    fv = pd.read_csv(tmp_path / "fishvista" / "species_traits.csv").set_index("taxon")
    tiers = pd.read_csv(tmp_path / "fishvista" / "trait_tiers.csv", keep_default_na=False).set_index("taxon")
    assert "UBERON:2000251" in fv.columns and len(fv) == 32
    assert set(np.unique(tiers.to_numpy())) <= {"asserted", "inferred", "conflict", "predicted", ""}
    assert m["reports"]["traits"]["asserted"] > 0
    assert ("phenotypes", "phenotypes") in [(x["kind"], x["name"]) for x in m["graphs"]]
    held = set(fv.index[fv["split"] == "test"])
    assert held and held.isdisjoint(set(fv.index[fv["split"] == "train"]))


def test_bad_export_requests(toy_kg, tmp_path):
    t = toy_kg.training
    with pytest.raises(ValidationError, match="export format.*'caffe'"):
        t.export(tmp_path, ["caffe"])
    with pytest.raises(ValidationError, match="outside the tree's height"):
        t.export(tmp_path, ["phylonn"], cuts=[11])
    with pytest.raises(ValidationError, match="not tips"):
        t.export(tmp_path, ["csv"], taxa=["Aa one", "Xx", "Yy", "Zz"])
    with pytest.raises(ValidationError, match="not a training export manifest"):
        (tmp_path / "m.json").write_text("{}")
        t.reproduce(tmp_path / "m.json", tmp_path / "o")


def test_phylonn_refuses_a_tree_that_is_not_ultrametric(tmp_path):
    g = KnowledgeGraph.open("oxigraph:")
    g.load_tree(_write(tmp_path / "t.nwk", "((A_a:1,B_b:3):1,C_c:1);"), name="t")
    with pytest.raises(ValidationError, match="Phylo-NN needs an ultrametric tree"):
        g.training.export(tmp_path / "o", ["phylonn"], cuts=[1], by="depth")
    m = g.training.export(tmp_path / "o", ["csv"], n_levels=1, min_clade=1, max_clade=2)
    assert m["reports"]["levels"]["by"] == "depth"


def test_cli_export_training(toy, tmp_path, images):
    store = f"oxigraph:{tmp_path / 's'}"
    run = CliRunner().invoke
    assert run(main, ["--store", store, "load", "tree", str(toy / "training" / "toy.nwk"), "--name", "toy"]).exit_code == 0
    assert run(main, ["--store", store, "load", "taxonomy", str(toy / "training" / "taxonomy.csv")]).exit_code == 0
    r = run(main, ["--store", store, "export-training", str(tmp_path / "o"), "--format", "phylonn", "--format",
                   "bioclip", "--cuts", "9,5.5", "--images", str(images), "--lineage", "kingdom=Animalia",
                   "--max-quality", "sharpness=5", "--split", "clade", "--max-clade", "3", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert "taxa: 9 of 9 matched" in r.stdout and "level1: cut 5.5 (age), 4 groups" in r.stdout
    assert "held-out clades" in r.stdout and "line 8 (ark:/89609/t6): taxon 'Zz zz'" in r.stderr
    assert "images: 5 of 7 kept; 2 left out (off-tree taxon 1, quality filter 1)" in r.stdout
    assert "line 7 (ark:/89609/t5): sharpness '6' is above the maximum 5.0" in r.stderr
    # 9 taxa, clades of 2..3 and a test share of 1.8 taxa: nothing can be held out, and it says so
    assert "degenerate clade split of 9 taxa (clades of 2..3 taxa): train 9, val 0, test 0" in r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["bioclip", "manifest.json", "phylonn"]
    im = pd.read_csv(tmp_path / "o" / "bioclip" / "images.csv")
    assert len(im) == 5  # 7 rows: one unknown taxon, one over the quality bound
    r = run(main, ["--store", store, "export-training", str(tmp_path / "o2"), "--from-manifest",
                   str(tmp_path / "o" / "manifest.json")])
    assert r.exit_code == 0 and "reproduced: 6 of 6 files identical" in r.stdout, r.output
    r = run(main, ["--store", store, "export-training", str(tmp_path / "o3"), "--cuts", "20"])
    assert r.exit_code == 2 and "age cut 20 is outside the tree's height" in r.stderr
    r = run(main, ["--store", store, "export-training", str(tmp_path / "o3"), "--lineage", "kingdom"])
    assert r.exit_code == 2 and "expected NAME=VALUE" in r.output


def test_cli_export_with_a_named_id_column_rank_split_and_every_drop_reported(toy, tmp_path, images):
    """An image table whose ids are in 'X' (as R writes row names): refused without --id-column with
    the option named, exported with it; images of taxa outside --taxa are reported with their reason
    (not a silent problem_count 0); the missing taxon is named; a rank split of whole genera."""
    store = f"oxigraph:{tmp_path / 's'}"
    run = CliRunner().invoke
    assert run(main, ["--store", store, "load", "tree", str(toy / "training" / "toy.nwk"), "--name", "toy"]).exit_code == 0
    assert run(main, ["--store", store, "load", "taxonomy", str(toy / "training" / "taxonomy.csv")]).exit_code == 0
    df = pd.read_csv(images).rename(columns={"image_id": "X", "path": "filepath"})
    table = tmp_path / "imageomics.csv"
    df.to_csv(table, index=False)
    base = ["--store", store, "export-training", str(tmp_path / "o"), "--format", "bioclip", "--images", str(table),
            "--taxa", "Aa one,Aa two,Ab one,Ba one,Bb two,Ca one,Ca two,Cb one,Zz unknown", "--cuts", "5.5",
            "--split", "rank", "--rank", "genus", "--test", "0.3"]
    r = run(main, base)
    assert r.exit_code == 2 and "no image id column" in r.stderr and "--id-column" in r.stderr
    r = run(main, base + ["--id-column", "X"])
    assert r.exit_code == 0, r.output
    assert "taxa: 8 of 9 matched (88.9%); not tips of the tree: Zz unknown" in r.stdout
    assert "images: 5 of 7 kept; 2 left out (off-tree taxon 1, taxon not exported 1)" in r.stdout
    assert "line 5 (ark:/89609/t3): taxon 'Bb one' is a tip but not among the exported taxa" in r.stderr
    assert "split (rank, seed 0): train" in r.stdout and "genus groups" in r.stdout
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    rep = m["reports"]["images"]
    assert rep["problem_count"] == rep["dropped"] == 2 and len(rep["problems"]) == 2
    assert m["reports"]["taxa"]["missing_names"] == ["Zz unknown"]
    assert m["reports"]["split"]["groups_spanning_sets"] == 0 and m["reports"]["split"]["rank"] == "genus"
    assert m["spec"]["id_column"] == "X"
