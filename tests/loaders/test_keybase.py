"""KeyBase keys: parsing, KeyBase's validation classes (the eight import examples), loading."""

from __future__ import annotations

import zipfile

import pytest

from kg.core.errors import ParseError, ValidationError
from loaders import keybase
from loaders.keymodel import PROBLEM_CLASSES, Key, validate, validate_all

# file -> (the one problem class it has, couplet, offending leads)
EXAMPLES = {
    "key-import-example.csv": None,
    "key-import-loop-example.csv": ("loop", "6", ["6a"]),
    "key-import-dead-end-example.csv": ("dead_end", "6", ["6b"]),
    "key-import-orphan-example.csv": ("orphan", "6", ["6a", "6b"]),
    "key-import-reticulation-example.csv": ("reticulation", "2", ["1a", "6a"]),
    "key-import-polytomy-example.csv": ("polytomy", "5", ["5a", "5b", "5c"]),
    "key-import-singleton-example.csv": ("singleton", "4", ["4a"]),
    "key-import-double-shortcut-example.csv": ("double_shortcut", "1", ["1a"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_import_example_reports_exactly_its_class(shared, name):
    proj = keybase.parse(shared / "keys" / "keybase" / "key-import-examples" / name)
    probs = validate(proj.keys[0])
    want = EXAMPLES[name]
    if want is None:
        assert probs == []
    else:
        assert [(p.kind, p.couplet, p.leads) for p in probs] == [want]
        assert probs[0].lines  # the offending rows are named


def test_the_examples_cover_every_problem_class():
    # unreachable sub-keys are a check across the keys of a file: test_an_unreachable_sub_key_is_an_error
    assert {v[0] for v in EXAMPLES.values() if v} | {"unreachable_subkey"} == set(PROBLEM_CLASSES)


def test_loop_lead_is_not_also_a_reticulation():
    k = Key.from_rows("k", [("1", "a", "2"), ("1", "b", "X"), ("2", "c", "1"), ("2", "d", "Y")])
    assert [(p.kind, p.leads) for p in validate(k)] == [("loop", ["2a"])]


def test_loop_among_unreachable_couplets_is_found():
    k = Key.from_rows("k", [("1", "a", "X"), ("1", "b", "Y"), ("2", "c", "3"), ("2", "d", "Z"),
                            ("3", "e", "2"), ("3", "f", "W")])
    kinds = {p.kind for p in validate(k)}
    assert "loop" in kinds


def test_headerless_csv_and_quoted_commas(toy):
    k = keybase.parse(toy / "keys" / "fins.csv").keys[0]
    assert [x.id for x in k.leads] == ["1a", "1b", "2a", "2b", "3a", "3b"]
    assert k.leads[0].statement == "Adipose fin present, behind the dorsal fin"
    assert k.leads[0].line == 1 and validate(k) == []


def test_malformed_row_names_file_and_row(toy):
    with pytest.raises(ParseError) as e:
        keybase.parse(toy / "keys" / "broken-row.csv")
    assert e.value.line == 3 and "broken-row.csv" in str(e.value) and "expected 3" in str(e.value)


def test_lenient_skips_the_row_and_reports_the_dead_end(toy, mem_kg):
    rep = mem_kg.load_key(toy / "keys" / "broken-row.csv", lenient=True)
    assert rep.status == "loaded" and rep.counts["leads"] == 3
    assert any(p.line == 3 and "row skipped" in p.message for p in rep.problems)
    assert rep.counts["problems_singleton"] == 1  # couplet 1 lost its second lead


def test_dead_end_is_reported_not_a_crash(tmp_path, mem_kg):
    p = tmp_path / "dead.csv"
    p.write_text("1,a,2\n1,b,Item 1\n2,c,7\n2,d,Item 2\n")
    rep = mem_kg.load_key(p)
    assert rep.counts["problems_dead_end"] == 1
    assert [pr for pr in rep.problems if "dead_end" in pr.message][0].value == "2a"
    st = mem_kg.keys.identify("dead", ["1a", "2a"])
    assert st.done and st.result is None and "7" in st.dead_end


def _zip_project(toy, tmp_path):
    z = tmp_path / "toy-fishes.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((toy / "keys" / "project").iterdir()):
            zf.write(f, f.name)
    return z


def test_project_zip_keys_items_subkeys(toy, tmp_path, mem_kg):
    z = _zip_project(toy, tmp_path)
    proj = keybase.parse(z)
    assert proj.name == "toy-fishes" and [k.id for k in proj.keys] == ["1", "2", "3"]
    orders = proj.keys[0]
    assert orders.scope == "Actinopterygii" and orders.leads[1].item == "Esociformes"
    assert orders.leads[1].shortcut == ["Esox"]  # KeyBase's fourth column
    rep = mem_kg.load_key(z)
    assert rep.counts["keys"] == 3 and rep.counts["leads"] == 8 and not rep.problems
    sk = mem_kg.keys.get("toy-fishes/1")
    assert sk.subkeys == {"1b": ["toy-fishes/3"], "2b": ["toy-fishes/2"]}
    assert mem_kg.load_key(z).status == "unchanged"


def test_double_shortcut_in_to_column():
    k = Key.from_rows("k", [("1", "a", "A:B:C"), ("1", "b", "D:E")])
    assert [(p.kind, p.leads) for p in validate(k)] == [("double_shortcut", ["1a"])]
    assert k.leads[1].item == "D" and k.leads[1].shortcut == ["E"]


@pytest.mark.slow
def test_flora_of_victoria_export(shared, mem_kg):
    z = shared / "keys" / "keybase" / "flora-of-victoria.zip"
    proj = keybase.parse(z)
    assert len(proj.keys) == 1140
    # 13,304 data lines; one statement (key 2146, couplet 53) spans two lines inside quotes
    assert sum(len(k.leads) for k in proj.keys) == 13303
    rep = mem_kg.load_key(z)
    assert rep.counts["keys"] == 1140 and rep.counts["problems_polytomy"] == 3
    assert sum(v for k, v in rep.counts.items() if k.startswith("problems_")) == 3
    st = mem_kg.keys.identify("flora-of-victoria/1903", ["1b", "5a", "6a"])
    assert st.result == "Dicotyledons" and st.subkeys


@pytest.mark.slow
def test_a_reticulated_keybase_path_keys_out_its_item(shared, mem_kg):
    # KeyBase's reticulation (two leads going to couplet 2) is a warning, not an error; both paths work
    p = shared / "keys" / "keybase" / "key-import-examples" / "key-import-reticulation-example.csv"
    rep = mem_kg.load_key(p, name="retic")
    assert rep.counts["problems_reticulation"] == 1 and not [x for x in rep.problems if x.severity == "error"]
    assert mem_kg.keys.identify("retic", ["1a", "2b"]).result == "Item 2"
    st = mem_kg.keys.identify("retic", ["1b", "3b", "4b", "6a", "2b"])
    assert st.result == "Item 2" and [s["couplet"] for s in st.path] == ["1", "3", "4", "6", "2"]


def test_answers_after_an_item_with_its_own_key_go_on_in_that_key(toy, tmp_path, mem_kg):
    mem_kg.load_key(_zip_project(toy, tmp_path))
    st = mem_kg.keys.identify("toy-fishes/1", ["1a", "2b"])
    assert st.done and st.result == "Salmoniformes" and st.subkeys == ["toy-fishes/2"]
    st = mem_kg.keys.identify("toy-fishes/1", ["1a", "2b", "1b"])  # the same model as an SDD sub-key
    assert st.result == "Salmo salar" and [s["key"] for s in st.path] == ["toy-fishes/1"] * 2 + ["toy-fishes/2"]
    assert [s.get("item") for s in st.path] == [None, "Salmoniformes", "Salmo salar"]  # the order on the way
    st = mem_kg.keys.identify("toy-fishes/1", ["1a", "2b", "toy-fishes/2"])  # or name the sub-key to enter
    assert (st.in_key, st.couplet) == ("toy-fishes/2", "1")
    with pytest.raises(ValidationError, match="already ended at Siluriformes"):
        mem_kg.keys.identify("toy-fishes/1", ["1a", "2a", "1a"])  # no key of its own


def test_keybase_sub_keys_in_a_subkey_column(toy, mem_kg):
    """KeyBase's import format for a key with sub-keys: a header with a fourth ``subkey`` column; rows
    with an empty one form the main key; a ``to`` naming a sub-key hands over to it (SDD's Subkey)."""
    main, g1, g2 = keybase.parse(toy / "keys" / "legumes-subkeys.csv").keys
    assert (main.id, g1.id, g2.id) == ("legumes-subkeys", "legumes-subkeys-Group-1", "legumes-subkeys-Group-2")
    assert (g1.title, g1.parent, main.parent) == ("Group 1", "legumes-subkeys", None)
    assert [(x.id, x.to_couplet, x.item, x.shortcut, x.subkey) for x in main.leads] == [
        ("1a", None, None, [], "legumes-subkeys-Group-1"), ("1b", "2", None, [], None),
        ("2a", None, "Cercis", ["Cercis siliquastrum"], None), ("2b", None, None, [], "legumes-subkeys-Group-2")]
    assert g2.leads[3].subkey == "legumes-subkeys-Group-1"  # a sub-key handing over to another
    assert validate_all([main, g1, g2]) == []
    rep = mem_kg.load_key(toy / "keys" / "legumes-subkeys.csv")
    assert rep.counts["keys"] == 3 and not rep.problems
    st = mem_kg.keys.identify("legumes-subkeys/legumes-subkeys", ["1b", "2b", "1b", "2b", "1b", "2a"])
    assert st.result == "Acacia" and [s["key"].split("/")[1] for s in st.path] == [
        "legumes-subkeys"] * 2 + ["legumes-subkeys-Group-2"] * 2 + ["legumes-subkeys-Group-1"] * 2
    assert mem_kg.keys.identify("legumes-subkeys", ["1b", "2a"]).shortcut == ["Cercis siliquastrum"]


def test_an_unreachable_sub_key_is_an_error(toy, tmp_path):
    p = tmp_path / "unreachable.csv"
    p.write_text((toy / "keys" / "legumes-subkeys.csv").read_text().replace("Banner outside the wings in bud,Group 2",
                                                                             "Banner outside the wings in bud,Bauhinia"))
    probs = validate_all(keybase.parse(p).keys)
    assert [(k, x.kind, x.severity, x.lines, x.message) for k, x in probs] == [
        ("unreachable-Group-2", "unreachable_subkey", "error", [10],
         "sub-key 'Group 2' of key unreachable is not handed over to by any lead")]


def test_a_header_that_is_not_keybase_is_refused(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("from,text,to,colour\n1,a,X,red\n1,b,Y,blue\n")
    with pytest.raises(ParseError, match="not KeyBase's"):
        keybase.parse(p)
