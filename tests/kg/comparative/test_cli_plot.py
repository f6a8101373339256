"""`traitkg asr|signal|impute|pgls|comparative list` through the real CLI, and the pictures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
from click.testing import CliRunner

from kg.cli import main
from kg.comparative.plot import save_plot, tree_svg
from kg.comparative.tree import PhyloTree

from .conftest import DATA


def run(store: str, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["--store", store, *args])
    return r.exit_code, r.stdout, r.stderr


def test_comparative_commands(tmp_path):
    store = f"oxigraph:{tmp_path / 's'}"
    assert run(store, "load", "ontology", "kg/sample/fish-anatomy-slim.ttl")[0] == 0
    assert run(store, "load", "phenotypes", "kg/sample/phenotypes.xml")[0] == 0
    assert run(store, "load", "tree", "kg/sample/fish-tree.nwk", "--name", "fish")[0] == 0
    svg = tmp_path / "a.svg"
    code, out, err = run(store, "asr", "fish", "--trait", "UBERON:2000251", "--method", "mk-er", "--plot", str(svg))
    assert code == 0, err
    assert "32 taxa on tips of fish, 0 unmatched" in err and "graph: " in err
    assert out.splitlines()[0].startswith("method=mk-er") and "Teleostei" in out
    root = ET.fromstring(svg.read_text())
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 60
    png = tmp_path / "a.png"
    code, out, err = run(store, "asr", "fish", "--trait", "UBERON:2000251", "--method", "fitch", "--no-write",
                         "--plot", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "mpr_states" in out
    # a continuous table with SEs and one unknown name
    rng = np.random.default_rng(2)
    from kg import KnowledgeGraph

    with KnowledgeGraph.open(store) as g:
        tips = g.tree("fish").tips()
    table = tmp_path / "size.tsv"
    table.write_text("taxon\tsize\tse\tfin\n" + "".join(
        f"{t.replace('_', ' ')}\t{v:.4f}\t0.05\t{v * 2 + w:.4f}\n"
        for t, v, w in zip(tips[2:], rng.normal(size=len(tips)), rng.normal(size=len(tips)))) + "Fictus nullus\t1\t0.1\t2\n")
    code, out, err = run(store, "signal", "fish", "--trait", str(table), "--column", "size", "--nsim", "50", "--format", "json")
    assert code == 0, err
    res = json.loads(out)
    assert [r["result"]["method"] for r in res] == ["pagel-lambda", "blomberg-k"] and "Fictus nullus" in err
    assert all(r["match"]["unmatched_taxa"] == ["Fictus nullus"] and r["graph"] for r in res)
    code, out, err = run(store, "impute", "fish", "--trait", str(table), "--column", "size")
    assert code == 0 and len(out.splitlines()) == 2 + 2
    code, out, err = run(store, "impute", "fish", "--trait", str(table), "--column", "size", "--column", "fin")
    assert code == 0, err
    assert len(out.splitlines()) == 2 + 4 and {ln.split()[1] for ln in out.splitlines()[2:]} == {"size", "fin"}
    code, out, err = run(store, "asr", "fish", "--trait", str(table), "--column", "size", "--method", "bm",
                         "--plot", str(tmp_path / "bm.png"))
    assert code == 0 and "ci95" in out
    code, out, err = run(store, "pgls", "fish", "--table", str(table), "--y", "fin", "--x", "size", "--format", "json")
    assert code == 0, err
    fit = json.loads(out)["result"]
    assert [c["term"] for c in fit["coefficients"]] == ["(Intercept)", "size"] and fit["n"] == len(tips) - 2
    code, out, _ = run(store, "comparative", "list", "--format", "json")
    assert {r["method"] for r in json.loads(out)} == {"mk-er", "lambda", "k", "impute", "impute-mv", "bm", "pgls"}
    code, _, err = run(store, "signal", "fish", "--trait", "nothing.tsv")
    assert code == 2 and "neither a table file nor an entity CURIE" in err


def test_svg_and_png_on_r_fixture_tree(tmp_path):
    t = PhyloTree.from_newick((DATA / "anole.nwk").read_text())
    probs = {v: {"a": 0.3, "b": 0.7} for v in np.flatnonzero(~t.is_tip).tolist()}
    svg = tree_svg(t, node_probs=probs, tip_states={v: "a" for v in t.tips.tolist()}, title="x < y & z")
    root = ET.fromstring(svg)  # well-formed, title escaped
    assert root.tag.endswith("svg") and "x &lt; y &amp; z" in svg
    p = save_plot(tmp_path / "t.png", t, node_values={v: float(v) for v in range(t.n_nodes) if not t.is_tip[v]})
    assert p.read_bytes()[:4] == b"\x89PNG"


def test_named_columns_pgls_write_and_show(tmp_path):
    """--value-column/--se-column/--taxon-column name any column; pgls --write stores a graph that
    `comparative show` reads back with the run's numbers, exactly."""
    store = f"oxigraph:{tmp_path / 's'}"
    assert run(store, "load", "tree", "kg/sample/fish-tree.nwk", "--name", "fish")[0] == 0
    from kg import KnowledgeGraph

    with KnowledgeGraph.open(store) as g:
        tips = g.tree("fish").tips()
    rng = np.random.default_rng(5)
    size, err_ = rng.normal(size=len(tips)), rng.uniform(0.01, 0.2, size=len(tips))
    table = tmp_path / "m.csv"
    table.write_text("species,Length (mm),Length SE,Fin\n" + "".join(
        f"{t.replace('_', ' ')},{v!r},{e!r},{2 * v + w!r}\n"
        for t, v, e, w in zip(tips, size.tolist(), err_.tolist(), rng.normal(size=len(tips)).tolist()))
        + "Fictus nullus,1,0.1,\n")
    code, out, err = run(store, "signal", "fish", "--trait", str(table), "--taxon-column", "species",
                         "--value-column", "Length (mm)", "--se-column", "Length SE", "--method", "lambda",
                         "--no-write", "--format", "json")
    assert code == 0, err
    (lam,) = json.loads(out)
    assert lam["result"]["sigma2"] > 0 and lam["match"]["matched"] == len(tips)
    with_se = lam["result"]
    code, out, err = run(store, "signal", "fish", "--trait", str(table), "--taxon-column", "species",
                         "--value-column", "Length (mm)", "--method", "lambda", "--no-write", "--format", "json")
    assert json.loads(out)[0]["result"] != with_se  # the SEs were used
    code, _, err = run(store, "signal", "fish", "--trait", str(table), "--se-column", "sd")
    assert code == 2 and "no standard-error column 'sd'" in err
    code, out, err = run(store, "pgls", "fish", "--table", str(table), "--taxon-column", "species",
                         "--y", "Fin", "--x", "Length (mm)", "--vcv", "correlation", "--reml", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["graph"] and d["match"]["unmatched_taxa"] == ["Fictus nullus"] and d["result"]["vcv"] == "correlation"
    assert d["result"]["estimation"] == "REML" and d["result"]["n"] == len(tips)
    code, out, err = run(store, "comparative", "show", d["graph"], "--format", "json")
    assert code == 0, err
    back = json.loads(out)
    assert back["result"] == d["result"] and back["match"] == d["match"] and back["method"] == "pgls"
    assert {e["term"]: (e["est"], e["se"]) for e in back["estimates"]} == {
        c["term"]: (c["estimate"], c["se"]) for c in d["result"]["coefficients"]}
    code, out, _ = run(store, "comparative", "show", d["graph"])
    assert code == 0 and repr(d["result"]["coefficients"][1]["estimate"]) in out
