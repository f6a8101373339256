"""Term API, CLI commands and the owlready2 check."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kg.cli import main


@pytest.fixture
def toy_kg(mem_kg, toy):
    mem_kg.load_ontology(toy / "ontologies" / "toy.obo")
    return mem_kg


def test_term_record_and_obsolete(toy_kg):
    t = toy_kg.terms
    fin = t.term("TOY:0000002")
    assert fin.label == "fin" and fin.definition.startswith("A paired")
    assert {"text": "fins", "scope": "EXACT"} in fin.synonyms and fin.xrefs == ["ZFA:0000108"]
    old = t.term("TOY:0000010")
    assert old.obsolete and old.replaced_by == ["TOY:0000002"] and old.consider == ["TOY:0000003"]
    assert t.replacement("TOY:0000010") == "TOY:0000002" and t.replacement("TOY:0000002") is None
    with pytest.raises(LookupError, match="no term 'TOY:4242'"):
        t.term("TOY:4242")


def test_search_ranking(toy_kg):
    t = toy_kg.terms
    hits = t.search("Pectoral fin")
    assert [h.curie for h in hits[:3]] == ["TOY:0000003", "TOY:0000005", "TOY:0000007"]
    assert hits[0].match == "exact" and hits[1].match == "prefix"
    assert t.search("pectoral fins")[0].field == "EXACT"
    assert t.search("pectorl fin")[0].curie == "TOY:0000003" and t.search("pectorl fin")[0].match == "fuzzy"
    assert t.search("old fin")[0].curie != "TOY:0000010"
    assert t.search("old fin", obsolete=True)[0].curie == "TOY:0000010"


def test_ic_and_mica(toy_kg):
    t = toy_kg.terms
    ic = t.intrinsic_ic()
    assert ic["TOY:0000001"] < ic["TOY:0000002"] < ic["TOY:0000003"]
    assert t.mica("TOY:0000005", "TOY:0000004")[0] == "TOY:0000004"
    assert t.mica("TOY:0000003", "TOY:0000004")[0] == "TOY:0000002"
    corpus = t.corpus_ic({"TOY:0000003": 3, "TOY:0000004": 1})
    assert corpus["TOY:0000002"] == pytest.approx(0.0) and corpus["TOY:0000003"] > 0
    assert t.mica("TOY:0000003", "TOY:0000004", ic=corpus)[0] == "TOY:0000002"


def test_cli_load_term_search_diff(tmp_path, toy):
    r = CliRunner()
    st = ["--store", f"oxigraph:{tmp_path / 's'}"]
    out = r.invoke(main, st + ["load", "ontology", str(toy / "ontologies" / "toy.obo")])
    assert out.exit_code == 0, out.output
    assert "closure_triples=" in out.output
    out = r.invoke(main, st + ["term", "TOY:0000005", "--json"])
    d = json.loads(out.output)
    assert d["label"] == "pectoral fin ray" and {"curie": "TOY:0000003", "label": "pectoral fin", "distance": 2} in d["ancestors"]  # via the inferred TOY:0000007
    out = r.invoke(main, st + ["search", "pectoral", "--format", "csv"])
    assert out.output.splitlines()[1].startswith("TOY:0000003,pectoral fin,prefix")
    assert r.invoke(main, st + ["load", "ontology", str(toy / "ontologies" / "toy_v2.obo")]).exit_code == 0
    out = r.invoke(main, st + ["graphs", "diff", "ontology/toy/2024-01-01", "ontology/toy/2024-06-01"])
    assert "terms added: 1  removed: 1  relabelled: 1  obsoleted: 1" in out.output
    assert "~ label TOY:0000004: 'fin ray' -> 'lepidotrichium'" in out.output
    out = r.invoke(main, st + ["term", "NOPE:1"])
    assert out.exit_code == 2 and "no term" in out.output
    out = r.invoke(main, st + ["load", "ontology", str(toy / "ontologies" / "dangling.obo")])
    assert out.exit_code == 2 and "dangling" in out.output and "--lenient" in out.output


@pytest.mark.parametrize("reasoner", ["hermit", "elk"])
def test_check_unsatisfiable(tmp_path, toy, reasoner):
    r = CliRunner()
    st = ["--store", f"oxigraph:{tmp_path / 's'}"]
    assert r.invoke(main, st + ["load", "ontology", str(toy / "ontologies" / "unsat.ttl"), "--no-closure"]).exit_code == 0
    out = r.invoke(main, st + ["ontology", "check", "unsat", "--reasoner", reasoner])
    assert out.exit_code == 0, out.output
    assert "consistent" in out.output and "unsatisfiable classes: 1" in out.output and "UNSAT:3" in out.output


@pytest.mark.parametrize("reasoner", ["hermit", "elk"])
def test_check_inconsistent(mem_kg, tmp_path, reasoner):
    p = tmp_path / "inc.ttl"
    p.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<http://x.org/o> a owl:Ontology .\n"
                 "<http://x.org/A> a owl:Class ; owl:disjointWith <http://x.org/B> .\n<http://x.org/B> a owl:Class .\n"
                 "<http://x.org/i> a <http://x.org/A>, <http://x.org/B> .\n")
    mem_kg.load_ontology(p, name="inc", version="1", closure=False)
    res = mem_kg.check_ontology("inc", reasoner=reasoner)
    assert res.consistent is False
