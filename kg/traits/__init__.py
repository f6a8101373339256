"""Traits of taxa: presence/absence inference with evidence, trait queries, conflicts.

Phenoscape's semantics: a phenotype of an entity implies the entity is present (``absent``
implies it is absent); presence of a part or subtype implies presence of the whole or
supertype (closure ancestors); absence of a whole or supertype implies absence of its parts
and subtypes (over the entities the corpus uses). Polymorphic cells contribute all their
states; uncertain cells only what every member state implies. Every call keeps its
evidence: asserted calls point at states (-> character -> matrix -> publication); inferred
calls at the asserted calls they follow from. :meth:`Traits.infer` writes the calls into a
derived graph of kind ``inference`` with ``prov:wasDerivedFrom`` the phenotype and closure graphs;
calls of one entity and value with identical evidence share one node there, linked to each of
their taxa (see :func:`call_quads`).

>>> from kg import KnowledgeGraph
>>> t = KnowledgeGraph.open("oxigraph:").traits
>>> t.calls() == {}
True
"""


from __future__ import annotations

from kg.traits.calls import ABSENT, PRESENT, Call, compute_calls
from kg.traits.inference_graph import RULES, CallGroup, call_ntriples, call_ntriples_chunks, call_quads
from kg.traits.matrix import Matrix, build_matrix
from kg.traits.queries import Traits

__all__ = ["ABSENT", "PRESENT", "RULES", "Call", "CallGroup", "Matrix", "Traits", "build_matrix", "call_ntriples",
           "call_ntriples_chunks", "call_quads", "compute_calls"]
