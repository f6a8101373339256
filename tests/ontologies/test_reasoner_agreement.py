"""Our closure against an independent OWL reasoner: ELK 0.6 (through the OWL API, in Java).

On UBERON 2015 the named-class subClassOf closures agree exactly once the axioms ELK ignores
(those with a cardinality restriction, outside OWL 2 EL) are taken out of ours too; with them, ours
has extra pairs, all sound: ``A ≡ G and (min 2 P C)`` still entails ``A SubClassOf G``, which ELK
drops with the whole axiom.
"""

from __future__ import annotations

import pytest

from kg.core.store import RdfFormat, serialize_rdf
from ontologies.axioms import Axioms
from ontologies.closure import THING, compute, read_axioms
from ontologies.elk import classify_file, without_cardinality


def _pairs(c) -> set[tuple[str, str]]:
    thing = c.index.get(THING)
    return {(c.names[i], c.names[j]) for i in range(len(c.names)) for j in c.sup[i] if j not in (i, thing)}


def _rows(store, graph: str) -> list[tuple[str, str, str]]:
    def term(t) -> str:
        return "_:" + t.value if type(t).__name__ == "BlankNode" else t.value

    return [(term(q.subject), q.predicate.value, term(q.object)) for q in store.quads(None, None, None, graph)]


def test_elk_finds_the_unsatisfiable_class(toy):
    res = classify_file(toy / "ontologies" / "unsat.ttl")
    assert res.unsatisfiable == ["http://purl.obolibrary.org/obo/UNSAT_3"]
    assert "http://purl.obolibrary.org/obo/UNSAT_1" in res.superclasses["http://purl.obolibrary.org/obo/UNSAT_4"]


def test_toy_closure_equals_elk(mem_kg, toy, tmp_path):
    """The toy ontology (OBO mapped to OWL by our loader) classified by ELK and by us."""
    r = mem_kg.load_ontology(toy / "ontologies" / "toy.obo", closure=False)
    owl = tmp_path / "toy.nt"
    owl.write_bytes(serialize_rdf((q.triple for q in mem_kg.store.quads(None, None, None, r.graph)),
                                  RdfFormat.N_TRIPLES))
    elk = classify_file(owl)
    ours = _pairs(compute(read_axioms(mem_kg.store, [r.graph])))
    assert len(ours) > 5 and ours == elk.pairs()


@pytest.mark.slow
def test_uberon_2015_subclass_closure_agrees_with_elk(shared, mem_kg):
    path = shared / "uberon" / "uberon-2015-05-25.owl.gz"
    elk = classify_file(path)
    r = mem_kg.load_ontology(path, closure=False)
    ours = _pairs(compute(read_axioms(mem_kg.store, [r.graph])))
    theirs = elk.pairs()
    assert len(theirs) > 100_000 and not elk.unsatisfiable and elk.ignored_axioms > 0
    assert theirs <= ours  # nothing ELK entails is missing from ours
    # like for like: without the axioms ELK ignores, the two closures are the same set
    kept, dropped = without_cardinality(_rows(mem_kg.store, r.graph))
    like_elk = _pairs(compute(Axioms.from_triples(kept)))
    assert dropped > 0 and like_elk == theirs
    # so every extra pair of ours comes from those axioms; each is an OWL entailment (the genus of an
    # equivalence, or what follows from it), e.g. 'communicating artery' ≡ artery and (min 2 ...)
    extra = ours - theirs
    assert extra and ("http://purl.obolibrary.org/obo/UBERON_0006347",
                      "http://purl.obolibrary.org/obo/UBERON_0001637") in extra
