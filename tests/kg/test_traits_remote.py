"""The Phenoscape step (``load phenotypes`` + the presence/absence inference graph) and the taxa-with
query (with subsumption) give the same answers on every store: embedded, a real Oxigraph server and a
real Virtuoso 7 on loopback (through SPARQL writes and through Virtuoso's bulk loader)."""

from __future__ import annotations

import json

import pytest

from kg import KnowledgeGraph
from kg.core.store import canonical_nquads, open_store

ANAT = "kg/sample/fish-anatomy-slim.ttl"
#: entities and qualities asked about: wholes whose parts are annotated (subsumption and part_of), a part,
#: a quality with subtypes, one nobody annotated
TERMS = ["UBERON:0000151", "UBERON:0000152", "UBERON:2001787", "UBERON:4000175", "UBERON:0002101", "PATO:0001976"]


def _build(g: KnowledgeGraph, toy) -> None:
    g.load_ontology(ANAT)
    g.load_phenotypes(["kg/sample/phenotypes.xml", toy / "phenotypes" / "toy.xml"])
    g.infer_traits()


def _answers(g: KnowledgeGraph) -> dict:
    """Every phenotype and inference graph as canonical N-Quads, taxa-with for each term (and by value),
    and every taxon's traits (evidence included), as plain data."""
    data = {r.iri: canonical_nquads(g.store.quads(graph=r.iri))
            for r in g.graphs() if r.kind in ("phenotypes", "inference")}
    t = g.traits
    taxa_with = {(term, value): sorted(json.dumps(r, sort_keys=True, default=str) for r in t.taxa_with(term, value=value))
                 for term in TERMS for value in (None, "present", "absent")}
    traits = {taxon: sorted(json.dumps(c, sort_keys=True, default=str) for c in t.traits_of(taxon))
              for taxon in sorted(t.index.taxa.values())}
    return {"graphs": data, "taxa_with": taxa_with, "traits": traits}


@pytest.fixture(scope="module")
def embedded_answers(tmp_path_factory, toy):
    g = KnowledgeGraph.open(f"oxigraph:{tmp_path_factory.mktemp('embedded') / 'store'}")
    _build(g, toy)
    out = _answers(g)
    g.close()
    assert {k[0] for k, v in out["taxa_with"].items() if v} >= set(TERMS) - {"UBERON:0002101"}
    assert any("inference" in iri for iri in out["graphs"])
    return out


def test_phenotypes_inference_and_taxa_with_equal_the_embedded_stores(kg, toy, embedded_answers):
    _build(kg, toy)
    got = _answers(kg)
    assert got["graphs"] == embedded_answers["graphs"]
    assert got["taxa_with"] == embedded_answers["taxa_with"]
    assert got["traits"] == embedded_answers["traits"]


@pytest.mark.server
def test_the_same_through_virtuosos_bulk_loader(virtuoso_server, monkeypatch, toy, embedded_answers):
    for key, value in virtuoso_server.credentials.items():
        monkeypatch.setenv(key, value)
    virtuoso_server.clear()
    store = open_store(virtuoso_server.bulk_selector(bulk_min=0))  # every graph write through the loader
    g = KnowledgeGraph(store)
    try:
        _build(g, toy)
        assert store.bulk.files > 0
        assert _answers(g) == embedded_answers
    finally:
        g.close()
