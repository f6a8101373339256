"""`traitkg load key` and `traitkg key ...`, run as real subprocesses."""

from __future__ import annotations

import json

from tests.kg.test_cli import assert_user_error, run


def test_load_list_show_identify_validate(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    out = run("load", "key", str(toy / "keys" / "fins.csv"), store=store).stdout
    assert "loaded: key/fins/" in out and "leads=6" in out
    assert "fins/fins" in run("key", "list", store=store).stdout
    assert "1b  Adipose fin absent  -> couplet 3" in run("key", "show", "fins", store=store).stdout
    out = run("key", "identify", "fins", "1b", store=store).stdout
    assert "couplet 3 (2 taxa still possible)" in out and "3a  Pelvic fins absent  -> Anguilla anguilla" in out
    st = json.loads(run("key", "identify", "fins", "1b", "3b", "--json", store=store).stdout)
    assert st["result"] == "Esox lucius" and st["done"]
    assert_user_error(run("key", "identify", "fins", "1b", "9x", store=store, ok=False),
                      "'9x') is not a lead of couplet 3", "3a (Pelvic fins absent)")
    out = run("key", "identify", "fins", "-o", "adipose fin present", "-o", "no barbels", store=store).stdout
    assert "candidates (1): Salmo trutta" in out
    assert "no problems" in run("key", "validate", "fins", store=store).stdout
    p = run("key", "identify", "fins", "-i", store=store, ok=False)
    # interactive without a terminal: prompts read stdin (empty here) and stop with an error, not a traceback
    assert "Traceback" not in p.stderr


def test_validate_a_file_without_loading(tmp_path):
    p = tmp_path / "loop.csv"
    p.write_text("1,a,2\n1,b,Item 1\n2,c,1\n2,d,Item 2\n")
    r = run("key", "validate", str(p), "--format", "json", store=f"oxigraph:{tmp_path / 'kg'}", ok=False)
    assert r.returncode == 1
    assert [(x["kind"], x["leads"], x["severity"]) for x in json.loads(r.stdout)] == [("loop", ["2a"], "error")]


def test_malformed_row_is_one_line_error(tmp_path, toy):
    p = run("load", "key", str(toy / "keys" / "broken-row.csv"), store=f"oxigraph:{tmp_path / 'kg'}", ok=False)
    assert_user_error(p, "broken-row.csv:3", "expected 3")


def test_generate_writes_keybase_csv_and_loads_it(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    out = tmp_path / "gen.csv"
    r = run("key", "generate", str(toy / "keys" / "toy.sdd.xml"), "-o", str(out), "--load", store=store).stdout
    assert "depth=2" in r and "indistinguishable_groups=0" in r and "loaded: key/gen/" in r
    assert out.read_text().startswith("from,statement,to\n1,")
    assert run("key", "identify", "gen", "--json", store=store).stdout


def test_link_prints_contradictions(tmp_path):
    store = f"oxigraph:{tmp_path / 'kg'}"
    run("demo", "--no-serve", store=store)
    out = run("key", "link", "sample-key/key-fish-orders", store=store).stdout
    assert "term_matches=17" in out
    assert "lead 1a says adipose fin present on the way to Siluriformes, but Silurus glanis has it absent" in out


def test_sdd_reticulations_and_sub_keys(tmp_path, toy):
    store = f"oxigraph:{tmp_path / 'kg'}"
    r = run("key", "validate", str(toy / "keys" / "frogs.sdd.xml"), store=store)
    assert r.returncode == 0 and "no problems" in r.stdout  # a valid reticulated key with a sub-key
    r = run("key", "validate", str(toy / "keys" / "frogs-broken.sdd.xml"), "--format", "json", store=store, ok=False)
    assert r.returncode == 1
    assert [(x["kind"], x["leads"], x["lines"], x["message"]) for x in json.loads(r.stdout)] == [
        ("loop", ["3b"], [20], "lead 3b goes back to couplet 1, which is already on its path"),
        ("dead_end", ["2b"], [18], "lead 2b goes nowhere: it names no couplet, item or sub-key")]
    run("load", "key", str(toy / "keys" / "frogs.sdd.xml"), store=store)
    assert "no problems" in run("key", "validate", "frogs/k-main", store=store).stdout
    out = run("key", "show", "frogs/k-main", "--couplet", "2", store=store).stdout
    assert "2b  Back brown  -> couplet 3 (reticulation)" in out
    out = run("key", "identify", "frogs/k-main", "1b", store=store).stdout
    assert "1: 1b  Skin dry and warty   -> key frogs/k-toads" in out
    assert "couplet 1 of key frogs/k-toads (4 taxa still possible)" in out
    assert "1b  Parotoid glands absent: not a toad  -> key frogs/k-main, couplet 2 (reticulation)" in out
    out = run("key", "identify", "frogs/k-main", "1b", "1a", "2b", store=store).stdout
    assert "2: 2b  Yellow stripe along the back [frogs/k-toads]" in out and "result: Epidalea calamita" in out
    out = run("key", "identify", "frogs/k-main", "1a", "2b", "3b", store=store).stdout
    assert "result: Pelophylax ridibundus" in out
