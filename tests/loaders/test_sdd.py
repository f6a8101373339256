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
