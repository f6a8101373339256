"""Differences between two releases of an ontology: terms added and removed, labels changed,
terms newly made obsolete (and un-obsoleted).

>>> d = OntologyDiff("a", "b", added=["X:1"])
>>> d.to_dict()["added"]
['X:1']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OWL = "http://www.w3.org/2002/07/owl#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@dataclass
class OntologyDiff:
    """Term-level changes from release ``a`` to release ``b`` (CURIEs)."""

    a: str
    b: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    relabelled: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    obsoleted: list[str] = field(default_factory=list)
    unobsoleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"terms added: {len(self.added)}  removed: {len(self.removed)}  relabelled: {len(self.relabelled)}  "
                f"obsoleted: {len(self.obsoleted)}  un-obsoleted: {len(self.unobsoleted)}")


def _snapshot(store: Any, graph: str) -> tuple[set[str], dict[str, str], set[str]]:
    from kg.core.store import NamedNode

    classes = {q.subject.value for q in store.quads(None, NamedNode(RDF_TYPE), NamedNode(OWL + "Class"), graph)
               if type(q.subject).__name__ == "NamedNode"}
    labels: dict[str, str] = {}
    for q in store.quads(None, NamedNode(LABEL), None, graph):
        if q.subject.value in classes:
            labels.setdefault(q.subject.value, q.object.value)
    obsolete = {q.subject.value for q in store.quads(None, NamedNode(OWL + "deprecated"), None, graph)
                if q.object.value in ("true", "1")}
    return classes, labels, obsolete


def diff_ontologies(store: Any, a: str, b: str) -> OntologyDiff:
    """Compare two ontology graphs (IRIs, ``kind/name/version`` or names as :func:`kg.core.graphs.get_graph` takes)."""
    from kg.core.graphs import get_graph
    from ontologies.prefixes import contract

    ra, rb = get_graph(store, a), get_graph(store, b)
    ca, la, oa = _snapshot(store, ra.iri)
    cb, lb, ob = _snapshot(store, rb.iri)
    both = ca & cb
    return OntologyDiff(
        ra.iri, rb.iri,
        added=sorted(contract(c) for c in cb - ca),
        removed=sorted(contract(c) for c in ca - cb),
        relabelled=sorted((contract(c), la.get(c), lb.get(c)) for c in both if la.get(c) != lb.get(c)),
        obsoleted=sorted(contract(c) for c in (ob - oa) & cb),
        unobsoleted=sorted(contract(c) for c in (oa - ob) & both),
    )
