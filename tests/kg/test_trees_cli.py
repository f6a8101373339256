"""`traitkg load tree|taxonomy`, `traitkg tree ...`, `traitkg resolve` through the real CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kg.cli import main


def run(store: str, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["--store", store, *args])
    return r.exit_code, r.stdout, r.stderr


def test_tree_commands(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 's'}"
    code, out, _ = run(store, "load", "tree", str(toy / "trees" / "toy.nex"), "--name", "toy")
    assert code == 0 and "tips=4" in out
    code, out, _ = run(store, "load", "taxonomy", str(toy / "trees" / "toy_taxonomy.tsv"), "--name", "toy")
    assert code == 0 and "species=5" in out
    code, out, _ = run(store, "tree", "mrca", "Danio_rerio", "Danio_kyathit", "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "Danio"
    code, out, _ = run(store, "tree", "induced", "Danio_rerio", "Astyanax_mexicanus")
    assert out.strip() == "(Danio_rerio:4,Astyanax_mexicanus:4);"
    code, out, _ = run(store, "tree", "distance", "Danio_rerio", "Corydoras aeneus")
    assert float(out) == 6.5
    code, out, _ = run(store, "tree", "subtree", "Otophysi", "--height", "1")
    assert out.strip() == "(Danio:2.5,'Corydoras aeneus':3)Otophysi;"
    code, out, _ = run(store, "tree", "clade", "Otophysi", "Danio_rerio", "Astyanax_mexicanus", "--format", "csv")
    assert out.splitlines()[1:] == ["Danio_rerio,True", "Astyanax_mexicanus,False"]
    code, out, _ = run(store, "resolve", "Brachydanio rerio", "Danio sp.", "Nothing here", "--format", "json")
    got = json.loads(out)
    assert [m["status"] for m in got] == ["matched", "approximate", "unmatched"]
    code, _, err = run(store, "tree", "mrca", "Danio_rerio", "Nope_nope")
    assert code == 2 and "not in the tree" in err
    bad = tmp_path / "bad.nwk"
    bad.write_text("((A,B),C;")
    code, _, err = run(store, "load", "tree", str(bad), "--name", "bad")
    assert code == 2 and "bad.nwk:1:1: unbalanced parentheses" in err
