"""The store seam: one interface, two backends, picked by a selector string.

``open_store("oxigraph:./traitkg-data")`` opens an embedded on-disk pyoxigraph store,
``open_store("oxigraph:")`` an in-memory one, and ``open_store("sparql:http://host/query")``
any SPARQL 1.1 Query/Update (+ Graph Store Protocol) endpoint. Everything above this module is
backend-agnostic. This package is the only place that imports pyoxigraph; the RDF term classes are
re-exported from here.

>>> s = open_store("oxigraph:")
>>> g = NamedNode("https://example.org/g")
>>> s.add_quads([Quad(NamedNode("https://example.org/a"), RDFS_LABEL, Literal("a"), g)])
1
>>> s.select("SELECT ?l WHERE { GRAPH ?g { ?s ?p ?l } }").rows[0][0].value
'a'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import pyoxigraph as ox
from pyoxigraph import DefaultGraph, QueryResultsFormat, Variable  # re-exported with the other term classes

from kg.core.errors import UnknownStoreScheme
from kg.core.store.base import (
    DEFAULT_SELECTOR,
    RDF_TYPE,
    RDFS_LABEL,
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    RdfFormat,
    SelectResult,
    Store,
    Term,
    Triple,
    bind_values,
    parse_rdf,
    rdf_format,
    serialize_rdf,
    tsv_value,
)
from kg.core.store.base import (
    query_kind as query_kind,  # used by the facade and the SPARQL protocol
)
from kg.core.store.embedded import OxigraphStore
from kg.core.store.remote import SparqlEndpointStore
from kg.core.store.snapshots import Snapshot, Snapshots

__all__ = [
    "BlankNode", "DefaultGraph", "Literal", "NamedNode", "Quad", "Triple", "Variable",
    "RdfFormat", "QueryResultsFormat", "Term", "SelectResult", "Store", "OxigraphStore",
    "SparqlEndpointStore", "open_store", "register_backend", "backends", "parse_rdf",
    "serialize_rdf", "rdf_format", "isomorphic", "canonical_nquads", "bind_values", "DEFAULT_SELECTOR", "RDFS_LABEL", "RDF_TYPE",
    "typed_literal", "tsv_value", "Snapshot", "Snapshots",
]

# --------------------------------------------------------------------------- registry

_BACKENDS: dict[str, Callable[[str], Store]] = {
    "oxigraph": OxigraphStore.from_selector,
    "sparql": SparqlEndpointStore.from_selector,
}


def register_backend(scheme: str, factory: Callable[[str], Store]) -> None:
    """Make ``scheme:REST`` selectors open stores built by ``factory(REST)``."""
    _BACKENDS[scheme] = factory


def backends() -> list[str]:
    """The schemes :func:`open_store` understands."""
    return sorted(_BACKENDS)


def open_store(selector: str | None = None) -> Store:
    """Open the store a selector names (default: ``$TRAITKG_STORE`` or ``oxigraph:./traitkg-data``).

    >>> open_store("oxigraph:").selector
    'oxigraph:'
    >>> open_store("mysql:db")
    Traceback (most recent call last):
    ...
    kg.core.errors.UnknownStoreScheme: unknown store scheme 'mysql' in 'mysql:db'; expected one of: oxigraph:, sparql:
    """
    selector = selector or os.environ.get("TRAITKG_STORE") or DEFAULT_SELECTOR
    scheme, sep, rest = selector.partition(":")
    if not sep or scheme not in _BACKENDS:
        valid = ", ".join(f"{s}:" for s in backends())
        raise UnknownStoreScheme(f"unknown store scheme {scheme!r} in {selector!r}; expected one of: {valid}")
    return _BACKENDS[scheme](rest)


_XSD = "http://www.w3.org/2001/XMLSchema#"


def typed_literal(value: object) -> ox.Literal:
    """A Python value as a typed literal: bool -> xsd:boolean, int -> xsd:integer, float ->
    xsd:double (``NaN``, ``INF``, ``-INF`` as XSD writes them), anything else a plain string.

    >>> [typed_literal(v).value for v in (True, 3, 0.5, float("-inf"), "x")]
    ['true', '3', '0.5', '-INF', 'x']
    """
    if isinstance(value, bool):
        return ox.Literal(str(value).lower(), datatype=ox.NamedNode(_XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(_XSD + "integer"))
    if isinstance(value, float):
        text = repr(value) if value == value and abs(value) != float("inf") else (
            "NaN" if value != value else ("INF" if value > 0 else "-INF"))
        return ox.Literal(text, datatype=ox.NamedNode(_XSD + "double"))
    return ox.Literal(str(value))


def isomorphic(a: Iterable[Quad], b: Iterable[Quad]) -> bool:
    """True when two sets of quads are the same dataset up to blank node renaming.

    >>> g = NamedNode("https://example.org/g")
    >>> p = NamedNode("https://example.org/p")
    >>> isomorphic([Quad(BlankNode(), p, Literal("x"), g)], [Quad(BlankNode(), p, Literal("x"), g)])
    True
    """
    da, db = ox.Dataset(a), ox.Dataset(b)
    da.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    db.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return da == db


_PLAIN = {"http://www.w3.org/2001/XMLSchema#string", "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"}


def canonical_literals(literals: Iterable[ox.Literal]) -> dict[ox.Literal, ox.Literal]:
    """Typed literals -> their canonical lexical form, as Oxigraph stores the value
    (``"007"^^xsd:integer`` -> ``"7"``). Engines keep values, not text, and render them each their
    own way (Virtuoso: ``...29.793820Z``; Oxigraph: ``...29.79382Z``).

    >>> X = "http://www.w3.org/2001/XMLSchema#"
    >>> lit = ox.Literal("2026-11-30T01:19:29.793820+00:00", datatype=ox.NamedNode(X + "dateTime"))
    >>> canonical_literals([lit])[lit].value
    '2026-11-30T01:19:29.79382Z'
    """
    lits = list(dict.fromkeys(literals))
    st = ox.Store()
    p = ox.NamedNode("urn:traitkg:value")
    st.extend(ox.Quad(ox.NamedNode(f"urn:traitkg:{i}"), p, lit) for i, lit in enumerate(lits))
    return {lits[int(q.subject.value.rsplit(":", 1)[1])]: q.object for q in st}


def canonical_nquads(quads: Iterable[Quad]) -> bytes:
    """N-Quads with canonical blank node labels, typed literals in canonical form and sorted lines:
    the same dataset always gives the same bytes, whichever engine it was read from (used for KG
    releases and their checksums)."""
    quads = list(quads)
    typed = {q.object for q in quads if isinstance(q.object, ox.Literal) and q.object.datatype.value not in _PLAIN}
    if typed:
        canon = canonical_literals(typed)
        quads = [ox.Quad(q.subject, q.predicate, canon.get(q.object, q.object), q.graph_name)
                 if isinstance(q.object, ox.Literal) else q for q in quads]
    blank = ox.BlankNode
    if any(type(q.subject) is blank or type(q.object) is blank or type(q.graph_name) is blank for q in quads):
        ds = ox.Dataset(quads)  # blank node labels need the canonicalisation algorithm
        ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        text = ox.serialize(ds, format=RdfFormat.N_QUADS)
    else:  # nothing to relabel: sorted lines are canonical (13 of 24 s for 500k quads went to Dataset)
        text = ox.serialize(quads, format=RdfFormat.N_QUADS)
    lines = (text or b"").splitlines(keepends=True)
    lines.sort()
    return b"".join(lines)
