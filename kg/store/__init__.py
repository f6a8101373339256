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

from kg.errors import UnknownStoreScheme
from kg.store.base import (
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
)
from kg.store.base import (
    _query_kind as _query_kind,  # used by the facade and the SPARQL protocol
)
from kg.store.embedded import OxigraphStore
from kg.store.remote import SparqlEndpointStore

__all__ = [
    "BlankNode", "DefaultGraph", "Literal", "NamedNode", "Quad", "Triple", "Variable",
    "RdfFormat", "QueryResultsFormat", "Term", "SelectResult", "Store", "OxigraphStore",
    "SparqlEndpointStore", "open_store", "register_backend", "backends", "parse_rdf",
    "serialize_rdf", "rdf_format", "isomorphic", "canonical_nquads", "bind_values", "DEFAULT_SELECTOR", "RDFS_LABEL", "RDF_TYPE",
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
    kg.errors.UnknownStoreScheme: unknown store scheme 'mysql' in 'mysql:db'; expected one of: oxigraph:, sparql:
    """
    selector = selector or os.environ.get("TRAITKG_STORE") or DEFAULT_SELECTOR
    scheme, sep, rest = selector.partition(":")
    if not sep or scheme not in _BACKENDS:
        valid = ", ".join(f"{s}:" for s in backends())
        raise UnknownStoreScheme(f"unknown store scheme {scheme!r} in {selector!r}; expected one of: {valid}")
    return _BACKENDS[scheme](rest)


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


def canonical_nquads(quads: Iterable[Quad]) -> bytes:
    """N-Quads with canonical blank node labels and sorted lines: the same dataset always gives
    the same bytes (used for KG releases and their checksums)."""
    ds = ox.Dataset(quads)
    ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    lines = (ox.serialize(ds, format=RdfFormat.N_QUADS) or b"").splitlines(keepends=True)
    lines.sort()
    return b"".join(lines)
