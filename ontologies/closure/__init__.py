"""Materialised ontology closure (Ubergraph's "redundant" and "nonredundant" graphs), in-process.

The axioms that matter are read once from the ontology graphs; :func:`compute` then derives, for
every named class ``A``, its named superclasses and every ``A SubClassOf P some B`` entailed by:
told ``subClassOf`` (named, existential restrictions, genus and differentiae of
``equivalentClass`` intersections, members of unions), sub-properties, transitivity and property
chains (``transitive_over`` included), ``subClassOf ∘ R`` and ``R ∘ subClassOf``, property domains,
and recognition of defined classes (``X`` is classified under ``A ≡ G and P some B`` when ``X`` is
under ``G`` and has ``P some B``), repeated to a fixpoint: an EL-style saturation restricted to the
constructs anatomy ontologies use. Nested class expressions are weakened soundly and counted.

The package, by responsibility: :mod:`~ontologies.closure.saturation` (the algorithm, pure),
:mod:`~ontologies.closure.reduction` (the :class:`Closure` it returns and its transitive
reduction), :mod:`~ontologies.closure.edges` (what a closure graph holds),
:mod:`~ontologies.closure.materialise` (reading axioms from and writing the graphs to the store),
:mod:`~ontologies.closure.update` (bringing a closure made from other inputs up to date in place)
and :mod:`~ontologies.closure.loaded` (one closure across the loaded ontologies).

Output (see docs/DEVELOPING.md, "Ontology closure contract"): a derived graph
``graph/closure/<name>/<version>`` of direct triples ``S P O`` (non-reflexive) and its transitive
reduction ``graph/closure/<name>-nonredundant/<version>``, both ``prov:wasDerivedFrom`` the
ontology graphs.

>>> ax = Axioms.from_triples([("A", SUBCLASS, "B"), ("B", SUBCLASS, "_:r"), ("_:r", ON_PROPERTY, "part_of"),
...                           ("_:r", SOME, "C"), ("C", SUBCLASS, "_:s"), ("_:s", ON_PROPERTY, "part_of"),
...                           ("_:s", SOME, "D"), ("part_of", RDF_TYPE, TRANSITIVE)])
>>> c = compute(ax)
>>> sorted(c.superclasses("A")), sorted(c.related("A", "part_of"))
(['B'], ['C', 'D'])
>>> sorted(c.nonredundant_related("A", "part_of"))
[]
>>> sorted(c.nonredundant_related("B", "part_of"))
['C']
"""

from __future__ import annotations

from ontologies.axioms import (
    DEPRECATED,
    ON_PROPERTY,
    OWL_CLASS,
    RDF,
    RDF_TYPE,
    SOME,
    SUBCLASS,
    THING,
    TRANSITIVE,
    Axioms,
)
from ontologies.closure.edges import ntriples_chunks
from ontologies.closure.materialise import ClosureResult, materialise, read_axioms
from ontologies.closure.reduction import Closure
from ontologies.closure.saturation import compute, reachable

__all__ = [
    "DEPRECATED", "ON_PROPERTY", "OWL_CLASS", "RDF", "RDF_TYPE", "SOME", "SUBCLASS", "THING", "TRANSITIVE",
    "Axioms", "Closure", "ClosureResult", "compute", "materialise", "ntriples_chunks", "reachable", "read_axioms",
]
