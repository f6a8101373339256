"""The axioms of an ontology graph in the store: read in one query, as text the engine writes
(no Python object per term), and kept per store for the graph's manifest record, so that the ontology
loader's checks and every later closure over that graph share one read.

An entry is kept for a graph's manifest record (its IRI, checksum and load time: a reload, even of
the same file, is another record), so it is never stale; the newest :data:`KEEP` graphs of each
store are kept.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from typing import Any

from kg.core.store import NamedNode, tsv_value
from ontologies.axioms import DEPRECATED, OWL_CLASS, PREDICATES, RDF_TYPE, TRANSITIVE, Axioms

#: how many graphs' axioms each store keeps
KEEP = 32
_DEPRECATED = f"<{DEPRECATED}>"

_READ = " ".join(f"<{p}>" for p in (*PREDICATES, DEPRECATED))
_QUERY = f"""SELECT ?s ?p ?o WHERE {{ GRAPH ?g {{
  {{ VALUES ?p {{ {_READ} }} ?s ?p ?o }}
  UNION {{ VALUES ?o {{ <{OWL_CLASS}> <{TRANSITIVE}> }} ?s <{RDF_TYPE}> ?o BIND(<{RDF_TYPE}> AS ?p) }}
}} }}"""


@dataclass(frozen=True)
class GraphAxioms:
    """What the closure needs of one graph: its ``axioms``, and the named classes it speaks about
    (``declared``: subjects of its axioms and of ``a owl:Class``)."""

    axioms: Axioms
    declared: frozenset[str]


_kept: weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str], GraphAxioms]] = weakref.WeakKeyDictionary()


def _key(rec: Any) -> tuple[str, str, str]:
    return rec.iri, rec.sha256, rec.started


def axiom_triples(store: Any, graph: str) -> list[tuple[str, str, str]]:
    """The graph's triples the axioms are made of, as (s, p, o) strings: IRIs bare, blank nodes
    ``_:`` plus a tag of the graph (blank nodes of two graphs never meet), the values of
    ``owl:deprecated``; no other literal (a data range's members are no class expressions)."""
    tag = hashlib.blake2b(graph.encode(), digest_size=6).hexdigest() + "."
    lines = store.select_tsv(_QUERY, {"g": NamedNode(graph)}).split("\n")
    out = []
    for line in lines[1:]:
        if not line:
            continue
        s, p, o = line.split("\t")
        if o[0] == "<":
            o = o[1:-1]
        elif o[0] == "_":
            o = "_:" + tag + o[2:]
        elif p == _DEPRECATED:
            o = tsv_value(o)
        else:
            continue
        out.append((s[1:-1] if s[0] == "<" else "_:" + tag + s[2:], p[1:-1], o))
    return out


def _made(triples: list[tuple[str, str, str]]) -> GraphAxioms:
    return GraphAxioms(Axioms.from_triples(triples), frozenset(s for s, _, _ in triples if not s.startswith("_:")))


def remember(store: Any, rec: Any, triples: list[tuple[str, str, str]]) -> GraphAxioms:
    """The axioms of ``triples`` (:func:`axiom_triples` of the graph of the manifest record ``rec``),
    kept for that record."""
    found = _made(triples)
    kept = _kept.setdefault(store, {})
    kept[_key(rec)] = found
    while len(kept) > KEEP:
        del kept[next(iter(kept))]
    return found


def graph_axioms(store: Any, graph: str, rec: Any = None) -> GraphAxioms:
    """The axioms of ``graph``: with its manifest record ``rec``, those kept from an earlier read
    of the same record, else read now (and kept)."""
    if rec is not None:
        hit = _kept.get(store, {}).get(_key(rec))
        if hit is not None:
            return hit
    triples = axiom_triples(store, graph)
    return _made(triples) if rec is None else remember(store, rec, triples)
