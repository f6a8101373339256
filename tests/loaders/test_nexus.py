"""NEXUS and NeXML trees: TRANSLATE, several trees, Mesquite files, bad references."""

from __future__ import annotations

import pytest

from kg.core.errors import ParseError
from loaders import nexml_tree, nexus


def test_toy_nexus_translate_default_tree_and_clade_labels(toy):
    trees = nexus.parse(toy / "trees" / "toy.nex")
    assert [t.name for t in trees] == ["Default ladder+++++", "best"]
    assert nexus.default_tree(trees) == 2
    best = trees[1]
    assert best.tip_names() == ["Danio_rerio", "Danio_kyathit", "Corydoras aeneus", "Astyanax_mexicanus"]
    assert best.names[0] == "" and "Otophysi" in best.names and "Danio" in best.names
    assert best.rooted is True
    assert best.length[best.names.index("Danio_kyathit")] == 1.5


def test_translate_pointing_nowhere(toy):
    with pytest.raises(ParseError) as err:
        nexus.parse(toy / "trees" / "bad_translate.nex")
    assert "TRANSLATE entry 3 -> 'Zed' points to no taxon" in str(err.value)
    assert err.value.line == 6 and err.value.value == "Zed"


def test_tree_token_not_translated(toy):
    with pytest.raises(ParseError, match="tip '7' is neither a TRANSLATE key nor a taxon label"):
        nexus.parse(toy / "trees" / "bad_token.nex")


def test_not_nexus(tmp_path):
    p = tmp_path / "x.nex"
    p.write_text("(A,B);")
    with pytest.raises(ParseError, match="must start with #NEXUS"):
        nexus.parse(p)


@pytest.mark.slow
def test_wiley_johnson_megatree(shared, mem_kg):
    path = shared / "phenoscape-data" / "trees" / "Wiley_Johnson_Megatree_2010.nex"
    trees = nexus.parse(path)
    assert len(trees) == 4
    rep = mem_kg.load_tree(path, name="megatree")
    assert rep.counts["tips"] == 488
    assert any("holds 4 trees" in p.message for p in rep.problems)
    t = mem_kg.tree("megatree")
    assert t.n_tips == 488
    rays = t.node("Rays")
    assert "Rajidae_" in rays.tips() and "Cyprinidae_" not in rays.tips()
    assert t.mrca(["Chanidae_", "Cyprinidae_"]).name == "Ostariophsi"
    assert t.mrca(["Chanidae_", "Gonorynchidae_"]).name == "Gono"
    bush = mem_kg.load_tree(path, name="bush", tree=2)
    assert bush.counts["tips"] == 494


def test_nexml_tree(toy, mem_kg):
    trees = nexml_tree.parse(toy / "trees" / "toy.xml")
    assert [t.name for t in trees] == ["toy tree", "second"]
    t = trees[0]
    assert t.names[0] == "Otophysi" and t.n_tips == 4
    assert t.length[t.names.index("Danio kyathit")] == 1.5
    rep = mem_kg.load_tree(toy / "trees" / "toy.xml", name="nexml-toy")
    assert rep.counts == {"nodes": 7, "tips": 4}
    tree = mem_kg.tree("nexml-toy")
    assert tree.mrca(["Danio rerio", "Danio kyathit"]).name == "Danio"
    assert tree.distance("Danio rerio", "Astyanax mexicanus") == pytest.approx(1 + 2.5 + 0.5 + 3.5)


def test_nexml_bad_edges(tmp_path):
    p = tmp_path / "bad.xml"
    p.write_text('<nexml xmlns="http://www.nexml.org/2009"><otus id="o"><otu id="a" label="A"/></otus>'
                 '<trees id="t" otus="o"><tree id="x"><node id="n1" root="true"/><node id="n2" otu="a"/>'
                 '<edge id="e1" source="n1" target="n2" length="-1"/></tree></trees></nexml>')
    with pytest.raises(ParseError, match="length '-1' must be a finite number"):
        nexml_tree.parse(p)
    p.write_text(p.read_text().replace('length="-1"', 'length="1"').replace('target="n2"', 'target="n9"'))
    with pytest.raises(ParseError, match="names a node that is not in the tree"):
        nexml_tree.parse(p)
