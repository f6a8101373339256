"""RDF terms, formats, query results, the Store protocol and safe value binding."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, Union, runtime_checkable

import pyoxigraph as ox
from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    RdfFormat,
    Triple,
)

from kg.core.errors import QueryError

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
    #: how many bulk loads into this store run well at once (see :func:`kg.core.bulk.load_chunks`)
    bulk_workers: int
    #: the engine writes typed literals in Oxigraph's canonical form (releases stream them as written)
    canonical_literals: bool

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
               union_default_graph: bool = False) -> SelectResult: ...
    def select_tsv(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                   union_default_graph: bool = False) -> str: ...
    def ask(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
            union_default_graph: bool = False) -> bool: ...
    def construct(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                  union_default_graph: bool = False) -> list[Triple]: ...
    def iter_query(self, sparql: str, *, union_default_graph: bool = True,
                   default_graphs: list[str] | None = None,
                   named_graphs: list[str] | None = None) -> tuple[str, Any]: ...
    def update(self, sparql: str) -> None: ...
    def named_graphs(self) -> list[str]: ...
    def has_graph(self, graph: str) -> bool: ...
    def count(self, graph: str) -> int: ...
    def load_file(self, source: str | Path | bytes | IO[bytes], fmt: RdfFormat, graph: str, *,
                  base_iri: str | None = None, keep_graphs: bool = False, lenient: bool = False) -> None: ...
    def load_graphs(self, parts: Iterable[tuple[str, bytes]]) -> None: ...
    def add_quads(self, quads: Iterable[Quad]) -> int: ...
    def quads(self, subject: Term | None = None, predicate: NamedNode | None = None,
              obj: Term | None = None, graph: str | None = None) -> Iterator[Quad]: ...
    def drop_graph(self, graph: str) -> None: ...
    def dump_graph(self, graph: str, out: IO[bytes]) -> None: ...
    def dump_triples(self, graph: str, out: IO[bytes]) -> None: ...
    def flush(self) -> None: ...
    def compact(self) -> None: ...
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


def query_kind(sparql: str) -> str:
    """Return SELECT/ASK/CONSTRUCT/DESCRIBE for a query (comments and prologue skipped)."""
    text = re.sub(r"<[^<>\s]*>", "<>", sparql)  # IRIs first: they may contain '#'
    text = re.sub(r"#[^\n]*", " ", text)
    m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", text, re.IGNORECASE)
    if not m:
        raise QueryError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
    return m.group(1).upper()


_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")


def tsv_value(term: str) -> str:
    r"""The value of a term as SPARQL TSV results write it (N-Triples syntax): an IRI without its
    brackets, a blank node as ``_:id``, a literal's lexical form with its escapes undone.

    >>> [tsv_value(t) for t in ['<http://x/a>', '_:b1', '"a\tb"@en', '"1"^^<http://x/int>', '12']]
    ['http://x/a', '_:b1', 'a\tb', '1', '12']
    """
    if term.startswith("<"):
        return term[1:-1]
    if not term.startswith('"'):
        return term  # a blank node, or a number or boolean written bare
    body = term[1:term.rindex('"')]
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)) if m.group(3) is None
                       else _ECHAR.get(m.group(3), m.group(0)), body)


def guarded(items: Iterator[Any]) -> Iterator[Any]:
    """Re-raise evaluation errors met while streaming results as :class:`QueryError`."""
    try:
        yield from items
    except OSError as exc:
        raise QueryError(f"query failed: {exc}") from exc
