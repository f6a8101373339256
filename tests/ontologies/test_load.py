"""Ontology loading: OBO and OWL, versions, bad input, URLs and owl:imports."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.core.errors import ParseError, ValidationError


def test_load_obo_with_closure(kg, toy):
    r = kg.load_ontology(toy / "ontologies" / "toy.obo")
    assert (r.kind, r.name, r.version, r.status) == ("ontology", "toy", "2024-01-01", "loaded")
    assert r.counts["classes"] == 10 and r.counts["obsolete"] == 1
    closures = {g.name: g for g in kg.graphs(kind="closure")}
    assert set(closures) == {"toy", "toy-nonredundant"}
    assert closures["toy"].derived_from == [r.graph] and closures["toy"].version == "2024-01-01"
    assert closures["toy"].iri.endswith("graph/closure/toy/2024-01-01")
    # every term rdfs:isDefinedBy its ontology
    assert kg.query("ASK { <http://purl.obolibrary.org/obo/TOY_0000002> "
                    "<http://www.w3.org/2000/01/rdf-schema#isDefinedBy> <http://purl.obolibrary.org/obo/toy.owl> }")
    # loading the same bytes again is a no-op; a new release is a new graph
    assert kg.load_ontology(toy / "ontologies" / "toy.obo").status == "unchanged"
    r2 = kg.load_ontology(toy / "ontologies" / "toy_v2.obo")
    assert r2.version == "2024-06-01" and len(kg.graphs(kind="ontology")) == 2


def test_load_owl_turtle_and_rdfxml(mem_kg, toy, tmp_path):
    from kg.core.store import RdfFormat, serialize_rdf
    from loaders._obo_owl import to_owl
    from loaders.obo import parse

    m = to_owl(parse(toy / "ontologies" / "toy.obo"))
    for fmt, ext in ((RdfFormat.RDF_XML, "owl"), (RdfFormat.TURTLE, "ttl")):
        from kg.core.store import Triple

        p = tmp_path / f"toy-{ext}.{ext}"
        p.write_bytes(serialize_rdf([Triple(*t) for t in m.triples], fmt))
        r = mem_kg.load_ontology(p, name=f"toy{ext}", version="1")
        assert r.counts["classes"] == 10
    a = mem_kg.store.count(mem_kg.graph("closure/toyowl/1").iri)
    assert a == mem_kg.store.count(mem_kg.graph("closure/toyttl/1").iri) > 20


def test_malformed_obo_leaves_store_unchanged(mem_kg, toy):
    with pytest.raises(ParseError, match=r"bad_stanza.obo:9"):
        mem_kg.load_ontology(toy / "ontologies" / "bad_stanza.obo")
    assert mem_kg.graphs() == []


def test_unknown_prefix(mem_kg, toy):
    with pytest.raises(ParseError) as e:
        mem_kg.load_ontology(toy / "ontologies" / "bad_prefix.obo")
    assert "'ZAF'" in str(e.value) and "line 7" in str(e.value) and e.value.line == 7
    assert mem_kg.graphs() == []
    r = mem_kg.load_ontology(toy / "ontologies" / "bad_prefix.obo", lenient=True, closure=False)
    assert any("ZAF" in str(p) for p in r.problems)


def test_dangling_references_strict_and_lenient(mem_kg, toy):
    with pytest.raises(ValidationError) as e:
        mem_kg.load_ontology(toy / "ontologies" / "dangling.obo")
    assert "2 dangling reference(s)" in str(e.value) and "TOY:99 (line 11)" in str(e.value)
    assert mem_kg.graphs() == []
    r = mem_kg.load_ontology(toy / "ontologies" / "dangling.obo", lenient=True)
    assert r.counts["dangling"] == 2 and sum("dangling" in str(p) for p in r.problems) == 2


_OWL_REFS = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix obo: <http://purl.obolibrary.org/obo/> .
<http://purl.obolibrary.org/obo/t.owl> a owl:Ontology .
obo:T_1 a owl:Class ; rdfs:subClassOf obo:T_90 .
obo:T_2 a owl:Class ; rdfs:subClassOf [ a owl:Restriction ; owl:onProperty obo:BFO_0000050 ;
                                        owl:someValuesFrom obo:T_91 ] .
obo:T_3 a owl:Class ; owl:equivalentClass obo:T_92 .
obo:T_4 a owl:Class ; owl:equivalentClass [ owl:intersectionOf ( obo:T_93 obo:T_1 ) ] .
obo:T_5 a owl:Class ; rdfs:subClassOf obo:T_6 .
obo:T_6 rdfs:label "a label and nothing else" .
obo:T_7 a owl:Class ; rdfs:subClassOf obo:ZFA_0000001 .
obo:T_8 a owl:Class ; rdfs:subClassOf owl:Thing .
obo:T_9 a owl:DatatypeProperty ; rdfs:range [ a rdfs:Datatype ; owl:intersectionOf ( xsd:integer "x" ) ] .
"""


def test_undeclared_references_in_owl(mem_kg, tmp_path):
    """A superclass, a filler, an equivalent and an intersection's first member with no triple of
    their own are dangling in the ontology's id space, external in another's; a class with only a
    label, owl:Thing and literals are none."""
    f = tmp_path / "t.ttl"
    f.write_text(_OWL_REFS)
    with pytest.raises(ValidationError) as e:
        mem_kg.load_ontology(f)
    assert "4 dangling reference(s)" in str(e.value) and mem_kg.graphs() == []
    for t in ("T:90", "T:91", "T:92", "T:93"):
        assert t in str(e.value)
    r = mem_kg.load_ontology(f, lenient=True)
    assert r.counts["dangling"] == 4 and r.counts["external_undeclared"] == 1
    assert any("ZFA:0000001" in str(p) for p in r.problems)


def test_is_a_cycle_reported_no_infinite_loop(mem_kg, toy):
    r = mem_kg.load_ontology(toy / "ontologies" / "cycle.obo")
    cyc = [p for p in r.problems if "cycle" in p.message]
    assert len(cyc) == 1 and "TOY:1, TOY:2, TOY:3" in cyc[0].value
    # the cycle makes TOY:1..3 equivalent, so each is a direct superclass of TOY:4
    assert mem_kg.terms.ancestors("TOY:4", ["is_a"]) == {"TOY:3": 1, "TOY:1": 1, "TOY:2": 1}
    assert mem_kg.terms.ancestors("TOY:1", ["is_a"]) == {"TOY:2": 1, "TOY:3": 1}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=90))
def test_is_a_cycles_are_the_strongly_connected_components(pairs):
    """Against networkx's strongly connected components (computed independently)."""
    import networkx as nx

    from loaders.ontology import is_a_cycles

    edges = [(f"T:{a}", f"T:{b}") for a, b in pairs if a != b]
    g = nx.DiGraph(edges)
    assert is_a_cycles(edges) == sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)


def test_is_a_cycle_deeper_than_the_recursion_limit():
    from loaders.ontology import is_a_cycles

    chain = [(f"T:{i}", f"T:{i + 1}") for i in range(50_000)]
    assert is_a_cycles(chain) == []
    assert is_a_cycles(chain + [("T:50000", "T:0")]) == [sorted(f"T:{i}" for i in range(50_001))]


def test_unresolved_import_offline(mem_kg, toy, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAITKG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TRAITKG_OFFLINE", "1")
    from ontologies.catalog import UnresolvedImport

    with pytest.raises(UnresolvedImport) as e:
        mem_kg.load_ontology(toy / "ontologies" / "imports.ttl")
    msg = str(e.value)
    assert "<http://purl.obolibrary.org/obo/bspo.owl>" in msg and "--import-map" in msg
    assert str(tmp_path / "cache" / "ontologies" / "bspo.owl") in msg
    assert mem_kg.graphs() == []


def test_import_map_and_cache_placement(mem_kg, toy, shared, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAITKG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TRAITKG_OFFLINE", "1")
    r = mem_kg.load_ontology(toy / "ontologies" / "imports.ttl", lenient=True,
                             import_map={"http://purl.obolibrary.org/obo/bspo.owl": str(shared / "bspo" / "bspo.obo")})
    assert r.name == "imp" and r.version == "2024-02-02"
    assert [g.split("/graph/")[1] for g in r.counts["imports"]] == ["ontology/bspo/2023-05-27"]
    cl = mem_kg.graph("closure/imp")
    assert set(cl.derived_from) == {r.graph, *r.counts["imports"]}
    # the imported BSPO hierarchy is in the closure: part_of BSPO:0000071 implies part_of its ancestors
    anc = mem_kg.terms.ancestors("IMP:1", ["part_of"])
    assert "BSPO:0000071" in anc and len(anc) > 1


def test_failed_main_load_leaves_no_imports_behind(mem_kg, toy, shared, tmp_path, monkeypatch):
    """All or nothing: an import loaded by a call whose main ontology then fails is dropped again;
    an import that was already there stays."""
    from kg.core.errors import ValidationError

    monkeypatch.setenv("TRAITKG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TRAITKG_OFFLINE", "1")
    bad = tmp_path / "imp.ttl"  # the toy importer plus a dangling reference to its own id space
    bad.write_text((toy / "ontologies" / "imports.ttl").read_text() + "\nobo:IMP_2 a owl:Class ; rdfs:subClassOf obo:IMP_99 .\n")
    imap = {"http://purl.obolibrary.org/obo/bspo.owl": str(shared / "bspo" / "bspo.obo")}
    with pytest.raises(ValidationError, match="dangling"):
        mem_kg.load_ontology(bad, import_map=imap, lenient=False)
    assert mem_kg.graphs() == []
    bspo = mem_kg.load_ontology(shared / "bspo" / "bspo.obo", closure=False)
    with pytest.raises(ValidationError):
        mem_kg.load_ontology(bad, import_map=imap)
    assert [g.iri for g in mem_kg.graphs()] == [bspo.graph]


def test_load_by_url_with_imports(http_shared, mem_kg, monkeypatch, tmp_path):
    monkeypatch.setenv("TRAITKG_OFFLINE", "0")
    r = mem_kg.load_ontology(f"{http_shared}/shared/zfa/zfa.obo", closure=False)
    assert r.name == "zfa" and r.source.startswith("http://127.0.0.1") and r.counts["classes"] == 3214
    assert list((tmp_path / "cache").rglob("*zfa.obo"))  # downloaded once into the cache
    again = mem_kg.load_ontology(f"{http_shared}/shared/zfa/zfa.obo", closure=False)
    assert again.status == "unchanged"
    # an import IRI that is a URL is downloaded into the ontology cache
    p = tmp_path / "imp.ttl"
    p.write_text((__import__("tests.conftest", fromlist=["TOY"]).TOY / "ontologies" / "imports.ttl").read_text()
                 .replace("http://purl.obolibrary.org/obo/bspo.owl", f"{http_shared}/shared/bspo/bspo.obo"))
    r = mem_kg.load_ontology(p, lenient=True)
    assert r.counts["imports"] and mem_kg.graph("ontology/bspo").triples > 5000


def test_catalogue_entries():
    from ontologies.catalog import entry

    for name in ("uberon", "pato", "bspo", "zfa", "ro", "aism", "lepao", "colao"):
        e = entry(name)
        assert e.purl == f"http://purl.obolibrary.org/obo/{name}.owl" and e.prefix == name.upper()
    with pytest.raises(LookupError, match="Did you mean uberon"):
        entry("ubron")


def test_functional_syntax_refused_clearly(mem_kg, tmp_path):
    from kg.core.errors import UnknownFormat

    p = tmp_path / "x.ofn"
    p.write_text("Prefix(:=<http://x.org/>)\nOntology(<http://x.org/o>)\n")
    with pytest.raises(UnknownFormat, match="functional syntax"):
        mem_kg.load_ontology(p)


def test_ontology_diff(mem_kg, toy):
    mem_kg.load_ontology(toy / "ontologies" / "toy.obo", closure=False)
    mem_kg.load_ontology(toy / "ontologies" / "toy_v2.obo", closure=False)
    d = mem_kg.ontology_diff("ontology/toy/2024-01-01", "ontology/toy/2024-06-01")
    assert d.added == ["TOY:0000011"] and d.removed == ["TOY:0000009"]
    assert d.relabelled == [("TOY:0000004", "fin ray", "lepidotrichium")]
    assert d.obsoleted == ["TOY:0000008"] and d.unobsoleted == []
