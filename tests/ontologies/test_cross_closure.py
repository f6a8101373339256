"""One closure across the loaded ontologies: entailments that cross files, load order, staleness,
and the phenotype inference that uses them (toy pair in tests/data/ontologies/cross_*.obo)."""

from __future__ import annotations

import pytest

from kg import KnowledgeGraph

SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
PART_OF = "http://purl.obolibrary.org/obo/BFO_0000050"


def _graph(kg: KnowledgeGraph, iri: str) -> set[tuple[str, str, str]]:
    return {(q.subject.value, q.predicate.value, q.object.value) for q in kg.store.quads(None, None, None, iri)}


def _closure_triples(kg: KnowledgeGraph, *, nonredundant: bool = False) -> set[tuple[str, str, str]]:
    out = set()
    for g in kg.graphs(kind="closure"):
        if g.name.endswith("-nonredundant") == nonredundant:
            out |= _graph(kg, g.iri)
    return out


@pytest.fixture
def pair(toy):
    return toy / "ontologies" / "cross_aism.obo", toy / "ontologies" / "cross_lepao.obo"


def test_cross_ontology_part_of_chain_and_is_a(mem_kg, pair):
    a, b = pair
    mem_kg.load_ontology(a)
    rb = mem_kg.load_ontology(b)
    t = mem_kg.terms
    # tarsus part_of prothoracic leg (LEPAO), which is_a leg (into AISM), part_of thorax, part_of body (AISM)
    assert t.ancestors("LEPAO:0000003", ["is_a", "part_of"]).keys() == {
        "LEPAO:0000001", "AISM:0000002", "AISM:0000001", "AISM:0000003", "AISM:0000004"}
    assert set(t.ancestors("LEPAO:0000001", ["is_a"])) == {"AISM:0000002", "AISM:0000001"}
    # and the other way: an AISM term part of a LEPAO term, which is part of an AISM term
    assert set(t.ancestors("AISM:0000005", ["part_of"])) == {"LEPAO:0000002", "AISM:0000003", "AISM:0000004",
                                                          "AISM:0000001"}  # the walk includes is_a
    # the redundant graphs hold the crossing edges, each under the ontology that speaks of its subject
    lepao = mem_kg.graph("closure/lepao")
    aism = mem_kg.graph("closure/aism")
    got = {(q.subject.value.rsplit("/", 1)[1], q.object.value.rsplit("/", 1)[1])
           for q in mem_kg.store.quads(None, None, None, lepao.iri) if q.predicate.value == PART_OF}
    assert ("LEPAO_0000003", "AISM_0000004") in got and ("LEPAO_0000002", "AISM_0000004") in got
    assert all(s.startswith("LEPAO_") for s, _ in got)
    # each manifest entry names every ontology graph it was derived from, its own first
    onto = {g.name: g.iri for g in mem_kg.graphs(kind="ontology")}
    assert lepao.derived_from == [rb.graph, onto["aism"]] and aism.derived_from == [onto["aism"], rb.graph]
    assert lepao.parameters["scope"] == "loaded-ontologies" and mem_kg.stale() == []


def test_load_order_does_not_change_answers(tmp_path, pair):
    a, b = pair
    ab = KnowledgeGraph.open("oxigraph:")
    ab.load_ontology(a)
    ab.load_ontology(b)
    ba = KnowledgeGraph.open("oxigraph:")
    ba.load_ontology(b)
    ba.load_ontology(a)
    for nonred in (False, True):
        assert _closure_triples(ab, nonredundant=nonred) == _closure_triples(ba, nonredundant=nonred)
    assert {(g.iri, g.sha256, tuple(g.derived_from), g.triples) for g in ab.graphs(kind="closure")} == \
        {(g.iri, g.sha256, tuple(g.derived_from), g.triples) for g in ba.graphs(kind="closure")}
    assert ab.terms.ancestors("LEPAO:0000003", ["part_of"]) == ba.terms.ancestors("LEPAO:0000003", ["part_of"])


def test_no_closure_load_reload_and_drop_keep_it_true(mem_kg, pair, tmp_path):
    a, b = pair
    mem_kg.load_ontology(a)
    alone = _closure_triples(mem_kg)
    rb = mem_kg.load_ontology(b, closure=False)
    stale = mem_kg.stale()
    assert [s["graph"].split("/graph/")[1] for s in stale] == ["closure/aism/2024-03-01"]
    assert "ontology/lepao/2024-03-02" in stale[0]["reason"] and stale[0]["command"] == "traitkg closure --refresh"
    mem_kg.refresh_closures()
    assert mem_kg.stale() == [] and "AISM:0000004" in mem_kg.terms.ancestors("AISM:0000005", ["part_of"])
    # LEPAO was loaded without a closure of its own: its terms get one when it is loaded with one
    mem_kg.load_ontology(b)
    assert "AISM:0000004" in mem_kg.terms.ancestors("LEPAO:0000003", ["part_of"])
    # a new release of LEPAO: the closures follow it (the old release's closure moves to the new one)
    v2 = tmp_path / "lepao.obo"
    v2.write_text(b.read_text().replace("2024-03-02", "2024-04-01").replace(
        "relationship: part_of AISM:0000003 ! thorax (in the other file)", "is_a: AISM:0000001"))
    mem_kg.load_ontology(v2)
    assert sorted(g.version for g in mem_kg.graphs(kind="closure") if g.name == "lepao") == ["2024-04-01"]
    assert "AISM:0000004" not in mem_kg.terms.ancestors("AISM:0000005", ["part_of"])  # forewing no longer part of thorax
    assert mem_kg.stale() == []
    # dropping LEPAO leaves AISM's closure stale until refreshed, which also drops LEPAO's closure
    for g in mem_kg.graphs(kind="ontology"):
        if g.name == "lepao":
            mem_kg.drop(g.iri)
    assert {s["graph"].split("/graph/")[1] for s in mem_kg.stale()} >= {"closure/aism/2024-03-01",
                                                                      "closure/lepao/2024-04-01"}
    mem_kg.refresh_closures()
    assert mem_kg.stale() == [] and {g.name for g in mem_kg.graphs(kind="closure")} == {"aism", "aism-nonredundant"}
    assert _closure_triples(mem_kg) == alone and rb.graph not in mem_kg.graph("closure/aism").derived_from


def test_stale_cli(tmp_path, pair):
    from click.testing import CliRunner

    from kg.cli import main

    a, b = pair
    st = ["--store", f"oxigraph:{tmp_path / 'kg'}"]
    r = CliRunner()
    assert r.invoke(main, st + ["load", "ontology", str(a)]).exit_code == 0
    assert r.invoke(main, st + ["load", "ontology", str(b), "--no-closure"]).exit_code == 0
    out = r.invoke(main, st + ["graphs", "--stale"])
    assert out.exit_code == 0 and "closure/aism/2024-03-01" in out.output and "traitkg closure --refresh" in out.output
    out = r.invoke(main, st + ["closure", "--refresh"])
    assert out.exit_code == 0 and "closure/aism/2024-03-01" in out.output
    out = r.invoke(main, st + ["graphs", "--stale", "--format", "json"])
    assert out.exit_code == 0 and out.output.strip() == "[]"


def test_phenotype_inference_uses_cross_ontology_entailments(mem_kg, pair, toy):
    """Tarsus (LEPAO) present implies body (AISM) present; body absent implies tarsus absent:
    both only through AISM's axioms applied to LEPAO's terms."""
    for f in pair:
        mem_kg.load_ontology(f)
    mem_kg.load_phenotypes(toy / "phenotypes" / "cross.xml")
    tr = mem_kg.traits
    body_present = {r["taxon"] for r in tr.taxa_with("AISM:0000004", value="present")}
    tarsus_absent = {r["taxon"] for r in tr.taxa_with("LEPAO:0000003", value="absent")}
    assert body_present == {"Papilio machaon"} and tarsus_absent == {"Bombyx mori"}
    assert tr.conflicts() == []
    # taxa with a phenotype of the thorax or its parts: the tarsus (part of a leg, part of the thorax)
    assert {r["taxon"] for r in tr.taxa_with("AISM:0000003")} == {"Papilio machaon"}


@pytest.mark.slow
@pytest.mark.parametrize("files", [("uberon/uberon-2015-05-25.owl.gz", "zfa/zfa.obo"),
                                   ("pato/pato.obo", "bspo/bspo.obo", "uberon/uberon-2015-05-25.owl.gz")],
                         ids=["uberon+zfa", "pato+bspo+uberon"])
def test_shared_ontologies_closure_is_the_merged_closure(shared, mem_kg, files):
    """Loaded one by one, the ontologies' closures together equal the closure of all of them merged."""
    from ontologies.closure import compute, read_axioms

    for f in files:
        mem_kg.load_ontology(shared / f, lenient=True)
    assert mem_kg.stale() == []
    onto = [g.iri for g in mem_kg.graphs(kind="ontology")]
    c = compute(read_axioms(mem_kg.store, onto))
    merged = {(c.names[i], p, c.names[j]) for i, p, j in c.triples()}
    got = _closure_triples(mem_kg)
    assert got == merged
    for g in mem_kg.graphs(kind="closure"):
        assert set(g.derived_from) == set(onto)
    # kept, updated in place or written as each file arrived: graph by graph (nonredundant ones too)
    # and count by count, what writing every closure at once over all of them gives
    from ontologies.closure.loaded import refresh, wanted_for

    scratch = KnowledgeGraph.open("oxigraph:")
    for f in files:
        scratch.load_ontology(shared / f, lenient=True, closure=False)
    refresh(scratch.store, [wanted_for([g.iri], name=g.name, version=g.version)
                            for g in scratch.graphs(kind="ontology")])
    for g in mem_kg.graphs(kind="closure"):
        s = scratch.graph(g.iri)
        assert (g.sha256, g.triples) == (s.sha256, s.triples) == (g.sha256, mem_kg.store.count(g.iri))
        if g.name.endswith("-nonredundant") or g.triples < 500_000:
            assert _graph(mem_kg, g.iri) == _graph(scratch, g.iri), g.iri
    if "bspo/bspo.obo" in files:
        # BSPO's property axioms apply to UBERON's classes: edges no closure of UBERON alone has
        alone = KnowledgeGraph.open("oxigraph:")
        alone.load_ontology(shared / "uberon" / "uberon-2015-05-25.owl.gz")
        uberon = {t for t in got if "/UBERON_" in t[0]}
        assert len(uberon - _closure_triples(alone)) > 0
