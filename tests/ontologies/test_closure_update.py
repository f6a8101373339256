"""Closures kept across the loaded ontologies are kept (an ontology that cannot change them) or
updated in place (one that does) as ontologies arrive, and always equal the closure written from
scratch over the same ontologies (toy files tests/data/ontologies/keep_*.ttl)."""

from __future__ import annotations

import pytest

from kg import KnowledgeGraph

SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
OBO = "http://purl.obolibrary.org/obo/"


def _contents(kg: KnowledgeGraph) -> dict[str, set[tuple[str, str, str]]]:
    """Each closure graph's triples, and its manifest count checked against them."""
    out = {}
    for g in kg.graphs(kind="closure"):
        triples = {(q.subject.value, q.predicate.value, q.object.value) for q in kg.store.quads(None, None, None, g.iri)}
        assert g.triples == len(triples) == kg.store.count(g.iri), g.iri
        out[g.iri] = triples
    return out


def _manifest(kg: KnowledgeGraph) -> set[tuple]:
    return {(g.iri, g.sha256, frozenset(g.derived_from), g.triples, g.source) for g in kg.graphs(kind="closure")}


def _scratch(toy, names: list[str]) -> KnowledgeGraph:
    """The same ontologies loaded without closures, then each one's closure written at once."""
    from ontologies.closure.loaded import refresh, wanted_for

    kg = KnowledgeGraph.open("oxigraph:")
    for n in names:
        kg.load_ontology(toy / "ontologies" / n, closure=False, lenient=True)
    results = refresh(kg.store, [wanted_for([g.iri], name=g.name, version=g.version)
                                 for g in kg.graphs(kind="ontology")])
    assert {r.status for r in results} == {"loaded"}
    return kg


@pytest.fixture
def files(toy):
    return {k: toy / "ontologies" / f"keep_{k}.ttl" for k in "abc"}


def test_an_ontology_that_cannot_change_a_closure_leaves_it_unwritten(mem_kg, files, toy):
    mem_kg.load_ontology(files["a"], lenient=True)
    before = _contents(mem_kg)
    mem_kg.load_ontology(files["c"], closure=False, lenient=True)  # points at A's classes only
    results = {r.graph.split("/graph/")[1]: r for r in mem_kg.refresh_closures()}
    kept = results["closure/kpa/2024-05-01"]
    assert kept.status == "unchanged" and list(results) == ["closure/kpa/2024-05-01"]
    rec = mem_kg.graph("closure/kpa")
    assert len(rec.derived_from) == 2 and rec.derived_from[0].endswith("ontology/kpa/2024-05-01")
    after = _contents(mem_kg)
    assert {g: after[g] for g in before} == before and mem_kg.stale() == []
    mem_kg.load_ontology(files["c"], lenient=True)  # now with its own closure: A's is kept again
    scratch = _scratch(toy, ["keep_a.ttl", "keep_c.ttl"])
    assert _contents(mem_kg) == _contents(scratch) and _manifest(mem_kg) == _manifest(scratch)


def test_an_ontology_that_changes_a_closure_updates_it_in_place(mem_kg, files, toy):
    mem_kg.load_ontology(files["a"], lenient=True)
    mem_kg.load_ontology(files["c"], lenient=True)
    nonred = mem_kg.graph("closure/kpa-nonredundant").iri
    fin_ray, skeletal, bone = OBO + "KPA_1", OBO + "KPA_3", OBO + "KPB_1"
    assert (fin_ray, SUB, skeletal) in _contents(mem_kg)[nonred]
    mem_kg.load_ontology(files["b"], closure=False, lenient=True)  # fin ray is_a bone element (under skeletal)
    results = {r.graph.split("/graph/")[1]: r.status for r in mem_kg.refresh_closures()}
    # C's pectoral fin ray, a fin ray, is under bone element now too
    assert results == {"closure/kpa/2024-05-01": "updated", "closure/kpc/2024-05-03": "updated"}
    mem_kg.load_ontology(files["b"], lenient=True)
    after = _contents(mem_kg)
    red = mem_kg.graph("closure/kpa").iri
    assert (fin_ray, SUB, bone) in after[red] and (fin_ray, SUB, skeletal) in after[red]
    assert (fin_ray, SUB, bone) in after[nonred] and (fin_ray, SUB, skeletal) not in after[nonred]  # now implied
    # fin (A) is part of C's median fin fold now: the fold's own edges join A's nonredundant graph
    assert (OBO + "KPC_3", SUB, OBO + "KPC_4") in after[nonred]
    scratch = _scratch(toy, ["keep_a.ttl", "keep_c.ttl", "keep_b.ttl"])
    assert after == _contents(scratch) and _manifest(mem_kg) == _manifest(scratch)
    assert mem_kg.stale() == []
    # and in every load order, with a closure at each load
    for order in (["b", "a", "c"], ["c", "b", "a"], ["b", "c", "a"]):
        kg = KnowledgeGraph.open("oxigraph:")
        for k in order:
            kg.load_ontology(files[k], lenient=True)
        assert _contents(kg) == after and _manifest(kg) == _manifest(scratch), order


def test_dropping_an_ontology_updates_the_closures_that_used_it(mem_kg, files, toy):
    for k in "abc":
        mem_kg.load_ontology(files[k], lenient=True)
    mem_kg.drop(mem_kg.graph("ontology/kpb").iri)
    mem_kg.refresh_closures()
    scratch = _scratch(toy, ["keep_a.ttl", "keep_c.ttl"])
    assert _contents(mem_kg) == _contents(scratch) and _manifest(mem_kg) == _manifest(scratch)


def test_a_property_axiom_that_fires_on_a_closure_updates_it(mem_kg, files, toy):
    for k in "ac":
        mem_kg.load_ontology(files[k], lenient=True)
    mem_kg.load_ontology(toy / "ontologies" / "keep_d.ttl", lenient=True)  # part of is a sub-property of overlaps
    red = _contents(mem_kg)[mem_kg.graph("closure/kpa").iri]
    assert (OBO + "KPA_1", OBO + "RO_0002131", OBO + "KPA_2") in red
    scratch = _scratch(toy, ["keep_a.ttl", "keep_c.ttl", "keep_d.ttl"])
    assert _contents(mem_kg) == _contents(scratch) and _manifest(mem_kg) == _manifest(scratch)
