"""The store seam: one interface, two backends, picked by a selector string.

``open_store("oxigraph:./traitkg-data")`` opens an embedded on-disk pyoxigraph store,
``open_store("oxigraph:")`` an in-memory one, and ``open_store("sparql:http://host/query")``
any SPARQL 1.1 Query/Update (+ Graph Store Protocol) endpoint. Everything above this module is
backend-agnostic. This is the only module that imports pyoxigraph; the RDF term classes are
re-exported from here.

>>> s = open_store("oxigraph:")
>>> g = NamedNode("https://example.org/g")
>>> s.add_quads([Quad(NamedNode("https://example.org/a"), RDFS_LABEL, Literal("a"), g)])
1
>>> s.select("SELECT ?l WHERE { GRAPH ?g { ?s ?p ?l } }").rows[0][0].value
'a'
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, Union, runtime_checkable

import pyoxigraph as ox
from pyoxigraph import (  # re-exported: the project's RDF term model
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryResultsFormat,
    RdfFormat,
    Triple,
    Variable,
)

from kg.errors import QueryError, StoreUnavailable, TraitKGError, UnknownStoreScheme

__all__ = [
    "BlankNode", "DefaultGraph", "Literal", "NamedNode", "Quad", "Triple", "Variable",
    "RdfFormat", "QueryResultsFormat", "Term", "SelectResult", "Store", "OxigraphStore",
    "SparqlEndpointStore", "open_store", "register_backend", "backends", "parse_rdf",
    "serialize_rdf", "rdf_format", "isomorphic", "canonical_nquads", "bind_values", "DEFAULT_SELECTOR", "RDFS_LABEL", "RDF_TYPE",
]

log = logging.getLogger(__name__)

Term = Union[NamedNode, BlankNode, Literal]
DEFAULT_SELECTOR = "oxigraph:./traitkg-data"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")

# File extension / media type -> pyoxigraph format. Used by loaders and the SPARQL protocol.
_RDF_FORMATS: dict[str, RdfFormat] = {
    "ttl": RdfFormat.TURTLE, "turtle": RdfFormat.TURTLE,
    "nt": RdfFormat.N_TRIPLES, "ntriples": RdfFormat.N_TRIPLES, "n-triples": RdfFormat.N_TRIPLES,
    "nq": RdfFormat.N_QUADS, "nquads": RdfFormat.N_QUADS, "n-quads": RdfFormat.N_QUADS,
    "trig": RdfFormat.TRIG,
    "rdf": RdfFormat.RDF_XML, "owl": RdfFormat.RDF_XML, "xml": RdfFormat.RDF_XML,
    "rdfxml": RdfFormat.RDF_XML, "rdf/xml": RdfFormat.RDF_XML,
    "jsonld": RdfFormat.JSON_LD, "json-ld": RdfFormat.JSON_LD,
    "n3": RdfFormat.N3,
}


def rdf_format(name: str) -> RdfFormat:
    """Return the RDF format for an extension, short name or media type.

    >>> rdf_format("ttl") == RdfFormat.TURTLE
    True
    """
    key = name.lower().lstrip(".")
    if key in _RDF_FORMATS:
        return _RDF_FORMATS[key]
    try:
        fmt = RdfFormat.from_media_type(key)
    except Exception:  # pragma: no cover - pyoxigraph raises on odd media types
        fmt = None
    if fmt is None:
        raise ValueError(f"unknown RDF format {name!r}; expected one of {sorted(set(_RDF_FORMATS))}")
    return fmt


def parse_rdf(source: bytes | str | IO[bytes], fmt: RdfFormat, *, base_iri: str | None = None,
              lenient: bool = False) -> Iterator[Quad]:
    """Parse RDF with pyoxigraph (streaming). Raises ``SyntaxError`` with a position on bad input."""
    return ox.parse(input=source, format=fmt, base_iri=base_iri, lenient=lenient)


def serialize_rdf(items: Iterable[Quad | Triple], fmt: RdfFormat, prefixes: Mapping[str, str] | None = None) -> bytes:
    """Serialise triples or quads to bytes in ``fmt``."""
    return ox.serialize(items, format=fmt, prefixes=dict(prefixes) if prefixes else None)


@dataclass
class SelectResult:
    """Rows of a SELECT query: ``variables`` and one tuple of terms (or ``None``) per row."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[Term | None, ...]]:
        return iter(self.rows)

    def dicts(self) -> list[dict[str, Term | None]]:
        """Rows as dicts keyed by variable name."""
        return [dict(zip(self.variables, r)) for r in self.rows]

    def values(self) -> list[tuple[str | None, ...]]:
        """Rows with each term reduced to its lexical value (IRIs as strings)."""
        return [tuple(None if t is None else t.value for t in r) for r in self.rows]


@runtime_checkable
class Store(Protocol):
    """What every backend offers. Graph names are IRIs (strings) at this boundary."""

    selector: str

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
               union_default_graph: bool = False) -> SelectResult: ...
    def ask(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
            union_default_graph: bool = False) -> bool: ...
    def construct(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                  union_default_graph: bool = False) -> list[Triple]: ...
    def query_serialized(self, sparql: str, *, results_format: QueryResultsFormat,
                         graph_format: RdfFormat, union_default_graph: bool = True,
                         default_graphs: list[str] | None = None,
                         named_graphs: list[str] | None = None) -> tuple[str, bytes]: ...
    def iter_query(self, sparql: str, *, union_default_graph: bool = True,
                   default_graphs: list[str] | None = None,
                   named_graphs: list[str] | None = None) -> tuple[str, Any]: ...
    def update(self, sparql: str) -> None: ...
    def named_graphs(self) -> list[str]: ...
    def has_graph(self, graph: str) -> bool: ...
    def count(self, graph: str) -> int: ...
    def load_file(self, source: str | Path | IO[bytes], fmt: RdfFormat, graph: str, *,
                  base_iri: str | None = None, keep_graphs: bool = False) -> None: ...
    def add_quads(self, quads: Iterable[Quad]) -> int: ...
    def quads(self, subject: Term | None = None, predicate: NamedNode | None = None,
              obj: Term | None = None, graph: str | None = None) -> Iterator[Quad]: ...
    def drop_graph(self, graph: str) -> None: ...
    def dump_graph(self, graph: str, out: IO[bytes]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def _where_brace(sparql: str) -> int:
    """Index of the ``{`` that opens the query's WHERE clause, skipping strings, IRIs, comments."""
    i, n, depth_seen_where = 0, len(sparql), False
    first_brace = -1
    upper = sparql.upper()
    while i < n:
        c = sparql[i]
        if c == "#":
            j = sparql.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == "<" and re.match(r"<[^\s<>\"{}|^`]*>", sparql[i:]):
            i = sparql.index(">", i) + 1
            continue
        if c in "\"'":
            quote = sparql[i:i + 3] if sparql[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and sparql[j:j + len(quote)] != quote:
                j += 2 if sparql[j] == "\\" else 1
            i = j + len(quote)
            continue
        if upper.startswith("WHERE", i) and (i == 0 or not (sparql[i - 1].isalnum() or sparql[i - 1] in "?$_:")):
            depth_seen_where = True
            i += 5
            continue
        if c == "{":
            if depth_seen_where:
                return i
            if first_brace < 0:
                first_brace = i
        i += 1
    if first_brace < 0:
        raise QueryError("malformed SPARQL: no group pattern { ... } found")
    return first_brace


def bind_values(sparql: str, bindings: Mapping[str, Term] | None) -> str:
    """Bind variables by putting an inline ``VALUES`` block at the start of the WHERE clause.

    Terms print in N-Triples syntax, so IRIs and literals arrive escaped; user values never
    become query syntax.

    >>> print(bind_values('SELECT ?s WHERE { ?s ?p ?o }', {"o": Literal('a"} ;')}))
    SELECT ?s WHERE { VALUES (?o) { ("a\\"} ;") } ?s ?p ?o }
    """
    if not bindings:
        return sparql
    names = list(bindings)
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise QueryError(f"invalid variable name {name!r}")
    at = _where_brace(sparql) + 1
    row = " ".join(str(bindings[n]) for n in names)
    block = f" VALUES ({' '.join('?' + n for n in names)}) {{ ({row}) }}"
    return sparql[:at] + block + sparql[at:]


def _query_kind(sparql: str) -> str:
    """Return SELECT/ASK/CONSTRUCT/DESCRIBE for a query (comments and prologue skipped)."""
    text = re.sub(r"<[^<>\s]*>", "<>", sparql)  # IRIs first: they may contain '#'
    text = re.sub(r"#[^\n]*", " ", text)
    m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", text, re.IGNORECASE)
    if not m:
        raise QueryError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
    return m.group(1).upper()


def _guarded(items: Iterator[Any]) -> Iterator[Any]:
    """Re-raise evaluation errors met while streaming results as :class:`QueryError`."""
    try:
        yield from items
    except OSError as exc:
        raise QueryError(f"query failed: {exc}") from exc


# --------------------------------------------------------------------------- embedded backend

class OxigraphStore:
    """Embedded pyoxigraph store, on disk (``oxigraph:PATH``) or in memory (``oxigraph:``)."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path else None
        self.read_only = read_only
        self.selector = f"oxigraph:{path or ''}"
        try:
            if self.path is None:
                self._store = ox.Store()
            elif read_only:
                self._store = ox.Store.read_only(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as exc:
            raise StoreUnavailable(f"cannot open store at {self.path}: {exc}") from exc

    @classmethod
    def from_selector(cls, rest: str) -> OxigraphStore:
        return cls(rest or None)

    # queries -----------------------------------------------------------------------------------
    def _run(self, sparql: str, bindings: Mapping[str, Term] | None, union: bool, **kw: Any) -> Any:
        try:
            return self._store.query(bind_values(sparql, bindings), use_default_graph_as_union=union, **kw)
        except SyntaxError as exc:
            raise QueryError(f"malformed SPARQL: {exc}") from exc
        except OSError as exc:
            raise QueryError(f"query failed: {exc}") from exc

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
               union_default_graph: bool = False) -> SelectResult:
        res = self._run(sparql, bindings, union_default_graph)
        if not isinstance(res, ox.QuerySolutions):
            raise QueryError("expected a SELECT query")
        names = [v.value for v in res.variables]
        n = len(names)
        try:
            rows = [tuple(sol[i] for i in range(n)) for sol in res]
        except OSError as exc:
            raise QueryError(f"query failed: {exc}") from exc
        return SelectResult(names, rows)

    def ask(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
            union_default_graph: bool = False) -> bool:
        res = self._run(sparql, bindings, union_default_graph)
        if not isinstance(res, ox.QueryBoolean):
            raise QueryError("expected an ASK query")
        return bool(res)

    def construct(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                  union_default_graph: bool = False) -> list[Triple]:
        res = self._run(sparql, bindings, union_default_graph)
        if not isinstance(res, ox.QueryTriples):
            raise QueryError("expected a CONSTRUCT or DESCRIBE query")
        return list(res)

    def query_serialized(self, sparql: str, *, results_format: QueryResultsFormat,
                         graph_format: RdfFormat, union_default_graph: bool = True,
                         default_graphs: list[str] | None = None,
                         named_graphs: list[str] | None = None) -> tuple[str, bytes]:
        kw: dict[str, Any] = {}
        if default_graphs:
            kw["default_graph"] = [NamedNode(g) for g in default_graphs]
            union_default_graph = False
        if named_graphs:
            kw["named_graphs"] = [NamedNode(g) for g in named_graphs]
        res = self._run(sparql, None, union_default_graph, **kw)
        try:
            if isinstance(res, ox.QueryTriples):
                return "graph", res.serialize(format=graph_format)
            if isinstance(res, ox.QueryBoolean):
                return "boolean", res.serialize(format=results_format)
            return "solutions", res.serialize(format=results_format)
        except OSError as exc:
            raise QueryError(f"query failed: {exc}") from exc

    def iter_query(self, sparql: str, *, union_default_graph: bool = True,
                   default_graphs: list[str] | None = None,
                   named_graphs: list[str] | None = None) -> tuple[str, Any]:
        """Run a query and stream the answer: ``("solutions", (variables, rows))``, ``("boolean", b)``
        or ``("graph", triples)``; rows/triples are lazy iterators the caller may stop early.

        >>> OxigraphStore().iter_query("ASK {}")
        ('boolean', True)
        """
        kw: dict[str, Any] = {}
        if default_graphs:
            kw["default_graph"] = [NamedNode(g) for g in default_graphs]
            union_default_graph = False
        if named_graphs:
            kw["named_graphs"] = [NamedNode(g) for g in named_graphs]
        res = self._run(sparql, None, union_default_graph, **kw)
        if isinstance(res, ox.QueryBoolean):
            return "boolean", bool(res)
        if isinstance(res, ox.QueryTriples):
            return "graph", _guarded(iter(res))
        names = [v.value for v in res.variables]
        n = len(names)
        return "solutions", (names, _guarded(tuple(sol[i] for i in range(n)) for sol in res))

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except SyntaxError as exc:
            raise QueryError(f"malformed SPARQL update: {exc}") from exc
        except OSError as exc:
            raise QueryError(f"update failed: {exc}") from exc

    # graphs ------------------------------------------------------------------------------------
    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, NamedNode))

    def has_graph(self, graph: str) -> bool:
        return self._store.contains_named_graph(NamedNode(graph))

    def count(self, graph: str) -> int:
        res = self._store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {NamedNode(graph)} {{ ?s ?p ?o }} }}")
        return int(next(iter(res))[0].value)

    def load_file(self, source: str | Path | IO[bytes], fmt: RdfFormat, graph: str, *,
                  base_iri: str | None = None, keep_graphs: bool = False) -> None:
        """Bulk-load a file (path or binary stream) into ``graph``. Quads of dataset formats
        (N-Quads, TriG) are moved into ``graph`` too unless ``keep_graphs``. Not transactional:
        callers load into a fresh graph and drop it on failure (see :mod:`kg.graphs`)."""
        target = NamedNode(graph)
        src: dict[str, Any] = {"path": str(source)} if isinstance(source, (str, Path)) else {"input": source}
        if fmt.supports_datasets and not keep_graphs:
            self._store.bulk_extend(Quad(q.subject, q.predicate, q.object, target)
                                    for q in ox.parse(format=fmt, base_iri=base_iri, **src))
        elif fmt.supports_datasets:
            self._store.bulk_load(format=fmt, base_iri=base_iri, **src)
        else:
            self._store.bulk_load(format=fmt, base_iri=base_iri, to_graph=target, **src)

    def add_quads(self, quads: Iterable[Quad]) -> int:
        """Add quads; small batches in one transaction, large ones through the bulk path."""
        if not isinstance(quads, list):
            quads = list(quads)
        if len(quads) <= 50_000:
            self._store.extend(quads)
        else:
            self._store.bulk_extend(quads)
        return len(quads)

    def quads(self, subject: Term | None = None, predicate: NamedNode | None = None,
              obj: Term | None = None, graph: str | None = None) -> Iterator[Quad]:
        return iter(self._store.quads_for_pattern(subject, predicate, obj,
                                                  NamedNode(graph) if graph else None))

    def drop_graph(self, graph: str) -> None:
        node = NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)

    def dump_graph(self, graph: str, out: IO[bytes]) -> None:
        ox.serialize(self._store.quads_for_pattern(None, None, None, NamedNode(graph)), out,
                     format=RdfFormat.N_QUADS)

    def flush(self) -> None:
        if self.path is not None and not self.read_only:
            self._store.flush()

    def close(self) -> None:
        self.flush()
        # pyoxigraph closes the database when the object is collected
        self._store = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OxigraphStore({self.selector!r})"


# --------------------------------------------------------------------------- remote backend

def _endpoints(url: str) -> tuple[str, str, str | None]:
    """Derive (query, update, graph-store) URLs from the query URL and optional overrides.

    ``sparql:http://h/query`` (Oxigraph server) -> /update and /store siblings;
    ``sparql:http://h/sparql`` (Virtuoso, Fuseki-like) -> same URL for update, /sparql-graph-crud;
    ``sparql:URL,update=URL2,store=URL3`` sets them explicitly (``store=`` empty: no GSP).
    """
    parts = url.split(",")
    query, opts = parts[0], dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    if query.endswith("/query"):
        base = query[: -len("query")]
        update, store = base + "update", base + "store"
    elif query.endswith("/sparql"):
        update, store = query, query + "-graph-crud"
    else:
        update, store = query, None
    update = opts.get("update", update)
    store = opts.get("store", store) or None
    return query, update, store


class SparqlEndpointStore:
    """Any SPARQL 1.1 Query + Update endpoint, with the Graph Store Protocol for bulk loads.

    Graph loads stream N-Triples to the Graph Store endpoint in chunks when one is known, and
    fall back to ``INSERT DATA`` batches otherwise.
    """

    CHUNK = 200_000

    def __init__(self, url: str, *, timeout: float | None = None) -> None:
        import httpx  # local: the embedded path never needs an HTTP client

        if not url.startswith(("http://", "https://")):
            raise UnknownStoreScheme(f"sparql: selector needs an http(s) URL, got {url!r}")
        self.selector = f"sparql:{url}"
        self.query_url, self.update_url, self.store_url = _endpoints(url)
        t = timeout if timeout is not None else float(os.environ.get("TRAITKG_HTTP_TIMEOUT", "30"))
        self._http = httpx.Client(timeout=httpx.Timeout(t, connect=min(t, 5.0)))
        self._httpx = httpx
        self._ping()

    @classmethod
    def from_selector(cls, rest: str) -> SparqlEndpointStore:
        return cls(rest)

    def _request(self, method: str, url: str, **kw: Any) -> Any:
        try:
            r = self._http.request(method, url, **kw)
        except self._httpx.TimeoutException as exc:
            raise StoreUnavailable(f"SPARQL endpoint {url} did not answer in time ({exc})") from exc
        except self._httpx.HTTPError as exc:
            raise StoreUnavailable(f"cannot reach SPARQL endpoint {url}: {exc}") from exc
        if r.status_code == 400:
            raise QueryError(f"endpoint rejected the request: {r.text.strip()[:500]}")
        if r.status_code >= 300:
            raise StoreUnavailable(f"SPARQL endpoint {url} answered {r.status_code}: {r.text.strip()[:300]}")
        return r

    def _ping(self) -> None:
        self._request("POST", self.query_url, data={"query": "ASK {}"},
                      headers={"Accept": "application/sparql-results+json"})

    def _post_query(self, sparql: str, accept: str, union: bool = False,
                    default_graphs: list[str] | None = None, named_graphs: list[str] | None = None) -> Any:
        data: list[tuple[str, str]] = [("query", sparql)]
        data += [("default-graph-uri", g) for g in default_graphs or []]
        data += [("named-graph-uri", g) for g in named_graphs or []]
        if union and not default_graphs:
            data.append(("union-default-graph", ""))  # Oxigraph's switch; others ignore it
        from urllib.parse import urlencode

        return self._request("POST", self.query_url, content=urlencode(data).encode(),
                             headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"})

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
               union_default_graph: bool = False) -> SelectResult:
        r = self._post_query(bind_values(sparql, bindings), "application/sparql-results+json",
                             union_default_graph)
        res = ox.parse_query_results(r.content, format=QueryResultsFormat.JSON)
        if not isinstance(res, ox.QuerySolutions):
            raise QueryError("expected a SELECT query")
        names = [v.value for v in res.variables]
        return SelectResult(names, [tuple(sol[i] for i in range(len(names))) for sol in res])

    def ask(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
            union_default_graph: bool = False) -> bool:
        r = self._post_query(bind_values(sparql, bindings), "application/sparql-results+json",
                             union_default_graph)
        res = ox.parse_query_results(r.content, format=QueryResultsFormat.JSON)
        return bool(res)

    def construct(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                  union_default_graph: bool = False) -> list[Triple]:
        r = self._post_query(bind_values(sparql, bindings), "application/n-triples",
                             union_default_graph)
        return [q.triple for q in ox.parse(input=r.content, format=RdfFormat.N_TRIPLES)]

    def query_serialized(self, sparql: str, *, results_format: QueryResultsFormat,
                         graph_format: RdfFormat, union_default_graph: bool = True,
                         default_graphs: list[str] | None = None,
                         named_graphs: list[str] | None = None) -> tuple[str, bytes]:
        kind = _query_kind(sparql)
        if kind in ("CONSTRUCT", "DESCRIBE"):
            r = self._post_query(sparql, graph_format.media_type, union_default_graph, default_graphs, named_graphs)
            return "graph", r.content
        r = self._post_query(sparql, results_format.media_type, union_default_graph, default_graphs, named_graphs)
        return ("boolean" if kind == "ASK" else "solutions"), r.content

    def iter_query(self, sparql: str, *, union_default_graph: bool = True,
                   default_graphs: list[str] | None = None,
                   named_graphs: list[str] | None = None) -> tuple[str, Any]:
        """Like :meth:`OxigraphStore.iter_query`, parsing the endpoint's answer as it is read."""
        kind = _query_kind(sparql)
        if kind in ("CONSTRUCT", "DESCRIBE"):
            r = self._post_query(sparql, "application/n-triples", union_default_graph, default_graphs, named_graphs)
            return "graph", (q.triple for q in ox.parse(input=r.content, format=RdfFormat.N_TRIPLES))
        r = self._post_query(sparql, "application/sparql-results+json", union_default_graph, default_graphs,
                             named_graphs)
        res = ox.parse_query_results(r.content, format=QueryResultsFormat.JSON)
        if isinstance(res, ox.QueryBoolean):
            return "boolean", bool(res)
        names = [v.value for v in res.variables]
        return "solutions", (names, (tuple(sol[i] for i in range(len(names))) for sol in res))

    def update(self, sparql: str) -> None:
        self._request("POST", self.update_url, content=sparql.encode(),
                      headers={"Content-Type": "application/sparql-update"})

    def named_graphs(self) -> list[str]:
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        return sorted(r[0].value for r in rows if isinstance(r[0], NamedNode))

    def has_graph(self, graph: str) -> bool:
        return self.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(graph)})

    def count(self, graph: str) -> int:
        rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(graph)})
        return int(rows.rows[0][0].value)

    def _stream_graph(self, graph: str, triples: Iterable[Triple]) -> int:
        """Send one graph's triples in ONE request, serialised in chunks as they are produced:
        blank nodes are scoped to a request, so splitting a graph would split its blank nodes."""
        count = [0]

        def body() -> Iterator[bytes]:
            batch: list[Triple] = []
            if not self.store_url:
                yield f"INSERT DATA {{ GRAPH <{NamedNode(graph).value}> {{\n".encode()
            for t in triples:
                batch.append(t)
                if len(batch) >= self.CHUNK:
                    yield ox.serialize(batch, format=RdfFormat.N_TRIPLES)
                    count[0] += len(batch)
                    batch.clear()
            if batch:
                yield ox.serialize(batch, format=RdfFormat.N_TRIPLES)
                count[0] += len(batch)
            if not self.store_url:
                yield b"} }\n"

        # a big graph takes the server a while to commit: bulk writes get their own, longer limit
        timeout = self._httpx.Timeout(float(os.environ.get("TRAITKG_LOAD_TIMEOUT", "3600")), connect=5.0)
        if self.store_url:
            self._request("POST", self.store_url, params={"graph": graph}, content=body(), timeout=timeout,
                          headers={"Content-Type": "application/n-triples"})
        else:
            self._request("POST", self.update_url, content=body(), timeout=timeout,
                          headers={"Content-Type": "application/sparql-update"})
        return count[0]

    def load_file(self, source: str | Path | IO[bytes], fmt: RdfFormat, graph: str, *,
                  base_iri: str | None = None, keep_graphs: bool = False) -> None:
        # Parse locally (validates the input with positions) and stream N-Triples out.
        src: dict[str, Any] = {"path": str(source)} if isinstance(source, (str, Path)) else {"input": source}
        quads = ox.parse(format=fmt, base_iri=base_iri, **src)
        if keep_graphs and fmt.supports_datasets:
            self.add_quads(quads)
        else:
            self._stream_graph(graph, (q.triple for q in quads))

    def add_quads(self, quads: Iterable[Quad]) -> int:
        by_graph: dict[str, list[Triple]] = {}
        for q in quads:
            if not isinstance(q.graph_name, NamedNode):
                raise TraitKGError("quads for a remote store must name their graph")
            by_graph.setdefault(q.graph_name.value, []).append(q.triple)
        return sum(self._stream_graph(g, ts) for g, ts in by_graph.items())

    def quads(self, subject: Term | None = None, predicate: NamedNode | None = None,
              obj: Term | None = None, graph: str | None = None) -> Iterator[Quad]:
        b: dict[str, Term] = {}
        for name, val in (("s", subject), ("p", predicate), ("o", obj)):
            if val is not None:
                b[name] = val
        if graph:
            b["g"] = NamedNode(graph)
        rows = self.select("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", b)
        for s, p, o, g in rows:
            yield Quad(s, p, o, g)

    def drop_graph(self, graph: str) -> None:
        self.update(f"DROP SILENT GRAPH <{NamedNode(graph).value}>")

    def dump_graph(self, graph: str, out: IO[bytes]) -> None:
        r = self._post_query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%s> { ?s ?p ?o } }" % NamedNode(graph).value,
                             "application/n-triples")
        g = NamedNode(graph)
        quads = (Quad(q.subject, q.predicate, q.object, g)
                 for q in ox.parse(input=r.content, format=RdfFormat.N_TRIPLES))
        out.write(ox.serialize(quads, format=RdfFormat.N_QUADS) or b"")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"SparqlEndpointStore({self.selector!r})"


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


def buffer_for(data: bytes) -> IO[bytes]:
    """A binary stream over ``data`` (helper for callers that hold bytes)."""
    return io.BytesIO(data)


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
