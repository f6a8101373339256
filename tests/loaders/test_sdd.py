"""TDWG SDD 1.1: taxa, characters, coded descriptions and single-access keys."""

from __future__ import annotations

import pytest

from kg.core.errors import ParseError
from loaders import sdd
from loaders.keymodel import validate


def test_toy_sdd(toy):
    ds = sdd.parse(toy / "keys" / "toy.sdd.xml")
    assert ds.title == "Toy fishes" and sorted(ds.taxa.values()) == ["Esox lucius", "Salmo trutta", "Silurus glanis"]
    assert ds.characters["c1"].label == "Adipose fin"  # English before Dutch
    k = ds.keys[0]
    assert [(x.id, x.statement, x.to_couplet, x.item) for x in k.leads] == [
        ("1a", "Adipose fin present", "2", None), ("1b", "Adipose fin absent", None, "Esox lucius"),
        ("2a", "Barbels present", None, "Silurus glanis"), ("2b", "Barbels absent", None, "Salmo trutta")]
    assert validate(k) == []
    taxa, chars, cells = ds.matrix()
    assert cells["Silurus glanis"]["Barbels"] == {"present"}


def test_invalid_xml_names_the_line(toy):
    with pytest.raises(ParseError) as e:
        sdd.parse(toy / "keys" / "broken.sdd.xml")
    assert e.value.line is not None and e.value.line >= 33 and "malformed XML" in str(e.value)


def test_not_sdd(tmp_path):
    p = tmp_path / "x.xml"
    p.write_text("<root/>")
    with pytest.raises(ParseError, match="not an SDD document"):
        sdd.parse(p)


def test_load_toy_sdd(toy, mem_kg):
    rep = mem_kg.load_key(toy / "keys" / "toy.sdd.xml")
    assert rep.kind == "key" and rep.counts["characters"] == 2 and rep.counts["descriptions"] == 3
    assert mem_kg.keys.identify("toy/k1", ["1a", "2b"]).result == "Salmo trutta"
    n = mem_kg.query("SELECT (COUNT(*) AS ?n) WHERE { ?i tkg:codedState ?s }").values()[0][0]
    assert int(n) == 6


@pytest.mark.slow
def test_eti_reptiles_and_amphibians(shared, mem_kg):
    ds = sdd.parse(shared / "keys" / "sdd" / "ETI_rept_amph_key.sdd11.xml.gz")
    assert len(ds.taxa) == 24 and len(ds.characters) == 20 and len(ds.descriptions) == 24
    k = ds.keys[0]
    assert len(k.leads) == 38 and len({x.item for x in k.leads if x.item}) == 24
    assert {p.kind for p in validate(k)} == {"polytomy"}  # SDD keys may be polytomous
    rep = mem_kg.load_key(shared / "keys" / "sdd" / "ETI_rept_amph_key.sdd11.xml.gz")
    st = mem_kg.keys.identify("eti_rept_amph_key/key1", ["1a", "2a", "4a"])
    assert st.result == "Trachemys scripta elegans" and rep.counts["problems_polytomy"] == 5


# --------------------------------------------------------------------------- SDD 1.1 beyond taxa on leads

def _leads(k):
    return [(x.id, x.to_couplet, x.item, x.subkey, x.subkey_couplet, x.reticulation) for x in k.leads]


def test_reticulation_subkey_media_and_descriptions(toy):
    ds = sdd.parse(toy / "keys" / "frogs.sdd.xml")
    main, toads = ds.keys
    # 2b's <Reticulation ref="l5"/> goes to the couplet holding l5 (couplet 3); 1b hands over to k-toads
    assert _leads(main) == [("1a", "2", None, None, None, None), ("1b", None, None, "k-toads", None, None),
                            ("2a", "3", None, None, None, None), ("2b", "3", None, None, None, "l5"),
                            ("3a", None, "Hyla arborea", None, None, None),
                            ("3b", None, "Pelophylax ridibundus", None, None, None)]
    # leadspecific="true" on a lead of the other key: where l1 goes (couplet 2 of k-main), as a hand-over
    assert _leads(toads)[1] == ("1b", None, None, "k-main", "2", "l1")
    assert main.title == "Key to frogs and toads" and main.scope == "Anura" and toads.scope == "Bufonidae"
    assert main.metadata["description"] == "Adults only; toads are keyed out in their own key."
    assert main.questions == {"1": "What is the skin like?", "2": "What colour is the back?"}
    assert [m["href"] for m in main.media] == ["https://example.org/media/pond.jpg"]
    assert main.leads[4].media == [{"id": "m-hyla", "href": "https://example.org/media/hyla-arborea.jpg",
                                    "label": "Hyla arborea on a leaf", "type": "Image", "role": "Primary"}]
    assert validate(main) == [] and validate(toads) == []  # a declared reticulation or a hand-over is no problem


def test_a_broken_key_reports_exactly_what_is_wrong(toy):
    [k] = sdd.parse(toy / "keys" / "frogs-broken.sdd.xml").keys
    got = [(p.kind, p.couplet, p.leads, p.lines, p.message) for p in validate(k)]
    assert got == [("loop", "3", ["3b"], [20], "lead 3b goes back to couplet 1, which is already on its path"),
                   ("dead_end", "2", ["2b"], [18], "lead 2b goes nowhere: it names no couplet, item or sub-key")]


@pytest.mark.parametrize(("old", "new", "what"), [
    ('<Reticulation ref="l5"/>', '<Reticulation ref="l99"/>', "Reticulation ref 'l99' names no lead"),
    ('<Subkey ref="k-toads"/>', '<Subkey ref="k-newts"/>', "Subkey ref 'k-newts' names no IdentificationKey"),
    ('<MediaObject ref="m-hyla" role="Primary"/>', '<MediaObject ref="m-x"/>', "MediaObject ref 'm-x'")])
def test_a_ref_to_nothing_is_a_parse_error_naming_line_and_value(toy, tmp_path, old, new, what):
    text = (toy / "keys" / "frogs.sdd.xml").read_text()
    assert old in text
    p = tmp_path / "frogs.sdd.xml"
    p.write_text(text.replace(old, new))
    with pytest.raises(ParseError, match=what) as e:
        sdd.parse(p)
    line = next(i for i, t in enumerate(p.read_text().splitlines(), start=1) if new in t)
    assert e.value.line == line and "frogs.sdd.xml" in str(e.value)


def test_identify_down_a_reticulation_and_into_a_sub_key(toy, mem_kg):
    rep = mem_kg.load_key(toy / "keys" / "frogs.sdd.xml")
    assert rep.counts["keys"] == 2 and not rep.problems
    st = mem_kg.keys.identify("frogs/k-main", ["1a", "2b"])  # brown back: the reticulation to couplet 3
    assert st.couplet == "3" and st.in_key == "frogs/k-main" and not st.dead_end
    st = mem_kg.keys.identify("frogs/k-main", ["1a", "2b", "3b"])
    assert st.result == "Pelophylax ridibundus" and [p["lead"] for p in st.path] == ["1a", "2b", "3b"]
    st = mem_kg.keys.identify("frogs/k-main", ["1b"])  # the sub-key takes over
    assert (st.in_key, st.couplet, [x["id"] for x in st.leads]) == ("frogs/k-toads", "1", ["1a", "1b"])
    assert st.path == [{"key": "frogs/k-main", "couplet": "1", "lead": "1b", "statement": "Skin dry and warty",
                        "subkey": "frogs/k-toads"}]
    # every taxon still possible, those behind the hand-over back into k-main included
    assert sorted(st.remaining) == ["Bufo bufo", "Epidalea calamita", "Hyla arborea", "Pelophylax ridibundus"]
    st = mem_kg.keys.identify("frogs/k-main", ["1b", "1a", "2b"])
    assert st.result == "Epidalea calamita" and [p["key"] for p in st.path] == ["frogs/k-main"] + ["frogs/k-toads"] * 2
    st = mem_kg.keys.identify("frogs/k-main", ["1b", "1b"])  # back into k-main at couplet 2 (leadspecific)
    assert (st.in_key, st.couplet) == ("frogs/k-main", "2")
    assert mem_kg.keys.identify("frogs/k-main").question == "What is the skin like?"
    first = mem_kg.keys.identify("frogs/k-main").leads
    assert first[1]["subkey"] == "frogs/k-toads" and first[1]["subkeys"] == ["frogs/k-toads"]
    assert mem_kg.keys.show("frogs/k-main", "2")["leads_of_couplet"][1]["reticulation"] is True


def test_the_stored_key_reads_back_as_parsed(toy, mem_kg):
    mem_kg.load_key(toy / "keys" / "frogs.sdd.xml")
    parsed = {k.id: k for k in sdd.parse(toy / "keys" / "frogs.sdd.xml").keys}
    for kid, sub in (("k-main", "frogs/k-toads"), ("k-toads", "frogs/k-main")):
        k = mem_kg.keys.get(f"frogs/{kid}").key
        want = [(x.id, x.to_couplet, x.item, x.subkey and sub, x.subkey_couplet, x.reticulation)
                for x in parsed[kid].leads]
        assert _leads(k) == want
        assert [x.media for x in k.leads] == [[{k2: v for k2, v in m.items() if k2 != "role"} for m in x.media]
                                              for x in parsed[kid].leads]
        assert k.questions == parsed[kid].questions and validate(k) == []
    d = mem_kg.keys.show("frogs/k-main")
    assert d["description"].startswith("Adults only") and d["media"][0]["label"] == "A pond"
    assert d["question"] == "What is the skin like?" and d["scope"] == "Anura"


@pytest.mark.slow
def test_eti_key_loads_as_before_with_its_questions_and_media(shared, mem_kg):
    import hashlib

    k = sdd.parse(shared / "keys" / "sdd" / "ETI_rept_amph_key.sdd11.xml.gz").keys[0]
    rows = [(x.id, x.couplet, x.statement, x.to, x.to_couplet, x.item) for x in k.leads]
    # the digest of the same rows as parsed before reticulations, sub-keys and media were read
    assert hashlib.sha256(repr(rows).encode()).hexdigest() == \
        "94aab0d1cc4f5df6b36326a4adfaed690767c435bc95c311d872f08b84654188"
    assert k.questions["1"] == "Does the animal have scales?" and len(k.questions) == 4
    with_media = [x for x in k.leads if x.media]
    assert with_media and all(m["href"].startswith("http://www.soortenbank.nl/") for x in with_media for m in x.media)
    mem_kg.load_key(shared / "keys" / "sdd" / "ETI_rept_amph_key.sdd11.xml.gz")
    stored = mem_kg.keys.get("eti_rept_amph_key/key1").key
    assert sorted((x.id, x.couplet, x.statement, x.to_couplet, x.item, len(x.media)) for x in stored.leads) == \
        sorted((x.id, x.couplet, x.statement, x.to_couplet, x.item, len(x.media)) for x in k.leads)


def test_a_loop_through_two_keys_is_found(toy, tmp_path):
    from loaders.keymodel import validate_all

    assert validate_all(sdd.parse(toy / "keys" / "frogs.sdd.xml").keys) == []
    p = tmp_path / "frogs.sdd.xml"  # k-toads' 1b now points back to the couplet k-main starts with
    p.write_text((toy / "keys" / "frogs.sdd.xml").read_text().replace(
        '<Reticulation ref="l1" leadspecific="true"/>', '<Reticulation ref="l2"/>'))
    got = [(k, x.kind, x.leads, x.lines, x.message) for k, x in validate_all(sdd.parse(p).keys)]
    assert got == [("k-toads", "loop", ["1b"], [42], "lead 1b hands over to key k-main at couplet 1, which is "
                    "already on its path through the keys")]
