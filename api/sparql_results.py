"""Serialise SPARQL answers under a result limit.

SELECT/ASK answers go out as SPARQL JSON, XML, CSV or TSV; CONSTRUCT/DESCRIBE answers as
Turtle, N-Triples, RDF/XML or JSON-LD. Rows and triples are read from the engine's lazy iterator;
reading stops at the first one over ``limit``, which raises
:class:`ResultLimitExceeded` (the iterator is closed, so the engine stops evaluating
and a huge answer never lands in memory). An answer is never cut short.

>>> from kg.core.store import NamedNode, Literal
>>> rows = [(NamedNode("http://x/a"), Literal("b", language="en"))]
>>> out = serialize_answer("solutions", (["s", "l"], iter(rows)), "csv", limit=10)
>>> out.body.decode().splitlines(), out.count
(['s,l', 'http://x/a,b'], 1)
>>> serialize_answer("solutions", (["s", "l"], iter(rows * 3)), "csv", limit=2)
Traceback (most recent call last):
...
api.sparql_results.ResultLimitExceeded: the answer has more than 2 rows (the result limit, TRAITKG_RESULT_LIMIT=2); ...
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from kg.core.errors import TraitKGError
from kg.core.store import BlankNode, Literal, NamedNode, RdfFormat, Triple, serialize_rdf

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

#: result format name -> media type (first listed is what we answer with)
RESULT_TYPES: dict[str, str] = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_TYPES: dict[str, str] = {
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "jsonld": "application/ld+json",
}
_GRAPH_FORMATS = {"turtle": RdfFormat.TURTLE, "ntriples": RdfFormat.N_TRIPLES,
                  "rdfxml": RdfFormat.RDF_XML, "jsonld": RdfFormat.JSON_LD}


class ResultLimitExceeded(TraitKGError, PermissionError):
    """A SPARQL answer has more rows or triples than ``TRAITKG_RESULT_LIMIT``; its evaluation was
    stopped at the first one over the limit. HTTP: 403 (why: :mod:`api.errors`). Defined here, not
    in :mod:`api.errors`, because query worker processes raise it and must not import FastAPI."""

    def __init__(self, detail: str, *, setting: str = "TRAITKG_RESULT_LIMIT", limit: int) -> None:
        super().__init__(detail)
        self.headers: dict[str, str] = {}
        self.extra = {"setting": setting, "limit": limit}

    @classmethod
    def of(cls, limit: int, items: str) -> ResultLimitExceeded:
        """The error for an answer of more than ``limit`` ``items`` ("rows" or "triples")."""
        return cls(f"the answer has more than {limit:,} {items} (the result limit, TRAITKG_RESULT_LIMIT="
                   f"{limit}); the query was stopped at {items[:-1]} {limit + 1:,} and nothing was sent. Ask "
                   f"for less: add a LIMIT (page with ORDER BY ... LIMIT {limit} OFFSET ...), narrow the "
                   "patterns or count with COUNT(*); or ask the operator to raise TRAITKG_RESULT_LIMIT",
                   limit=limit)


@dataclass
class Answer:
    """A serialised answer: bytes, the format name, rows/triples written (the whole answer)."""

    kind: str
    format: str
    body: bytes
    count: int

    @property
    def media_type(self) -> str:
        return {**RESULT_TYPES, **GRAPH_TYPES}[self.format]


def _json_term(t: Any) -> dict[str, Any]:
    if isinstance(t, NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, Literal):
        d: dict[str, Any] = {"type": "literal", "value": t.value}
        if t.language:
            d["xml:lang"] = t.language
        elif t.datatype.value != XSD_STRING:
            d["datatype"] = t.datatype.value
        return d
    if isinstance(t, Triple):
        return {"type": "triple", "value": {"subject": _json_term(t.subject), "predicate": _json_term(t.predicate),
                                            "object": _json_term(t.object)}}
    raise TypeError(f"not an RDF term: {t!r}")


def _xml_term(t: Any) -> str:
    if isinstance(t, NamedNode):
        return f"<uri>{escape(t.value)}</uri>"
    if isinstance(t, BlankNode):
        return f"<bnode>{escape(t.value)}</bnode>"
    if isinstance(t, Literal):
        if t.language:
            return f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
        if t.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(t.datatype.value)}>{escape(t.value)}</literal>"
        return f"<literal>{escape(t.value)}</literal>"
    if isinstance(t, Triple):
        return (f"<triple><subject>{_xml_term(t.subject)}</subject><predicate>{_xml_term(t.predicate)}</predicate>"
                f"<object>{_xml_term(t.object)}</object></triple>")
    raise TypeError(f"not an RDF term: {t!r}")


def _csv_value(t: Any) -> str:
    if t is None:
        return ""
    if isinstance(t, BlankNode):
        return "_:" + t.value
    if isinstance(t, Triple):
        return str(t)
    return t.value


def _tsv_value(t: Any) -> str:
    # N-Triples/Turtle encoding of the term (IRIs in <>, literals quoted and escaped).
    return "" if t is None else str(t)


def _take(items: Iterator[Any], limit: int, what: str) -> list[Any]:
    """All of ``items`` when there are at most ``limit``; otherwise stop reading at the first one
    over and raise. The iterator is closed either way: an engine's query stops with it."""
    try:
        got = list(itertools.islice(items, limit + 1))
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    if len(got) > limit:
        raise ResultLimitExceeded.of(limit, what)
    return got


def _solutions(variables: list[str], rows: list[tuple[Any, ...]], fmt: str) -> bytes:
    if fmt == "json":
        bindings = [{v: _json_term(t) for v, t in zip(variables, r) if t is not None} for r in rows]
        return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                          ensure_ascii=False).encode()
    if fmt == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        out.append("</head>\n<results>")
        for r in rows:
            out.append("<result>" + "".join(f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                                            for v, t in zip(variables, r) if t is not None) + "</result>")
        out.append("</results>\n</sparql>\n")
        return "\n".join(out).encode()
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(variables)
        w.writerows([_csv_value(t) for t in r] for r in rows)
        return buf.getvalue().encode()
    if fmt == "tsv":
        lines = ["\t".join("?" + v for v in variables)]
        lines += ["\t".join(_tsv_value(t) for t in r) for r in rows]
        return ("\n".join(lines) + "\n").encode()
    raise ValueError(f"unknown results format {fmt!r}; expected one of {sorted(RESULT_TYPES)}")


def _boolean(value: bool, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt == "xml":
        return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n").encode()
    if fmt in ("csv", "tsv"):
        return (("_askResult\r\n" if fmt == "csv" else "?_askResult\n") + ("true" if value else "false") + "\n").encode()
    raise ValueError(f"unknown results format {fmt!r}; expected one of {sorted(RESULT_TYPES)}")


def serialize_answer(kind: str, payload: Any, fmt: str, *, limit: int) -> Answer:
    """Serialise what :meth:`kg.core.store.OxigraphStore.iter_query` returned: all of it when it has
    at most ``limit`` rows or triples, else :class:`ResultLimitExceeded` (after reading
    ``limit + 1``)."""
    if kind == "boolean":
        return Answer(kind, fmt, _boolean(bool(payload), fmt), 1)
    if kind == "solutions":
        variables, rows = payload
        got = _take(iter(rows), limit, "rows")
        return Answer(kind, fmt, _solutions(list(variables), got, fmt), len(got))
    if kind == "graph":
        if fmt not in _GRAPH_FORMATS:
            raise ValueError(f"unknown RDF format {fmt!r}; expected one of {sorted(_GRAPH_FORMATS)}")
        triples = _take(iter(payload), limit, "triples")
        body = serialize_rdf(triples, _GRAPH_FORMATS[fmt], prefixes=_prefixes_for(triples, fmt)) or b""
        return Answer(kind, fmt, body, len(triples))
    raise ValueError(f"unknown answer kind {kind!r}")


def _prefixes_for(triples: Iterable[Triple], fmt: str) -> dict[str, str] | None:
    if fmt != "turtle":
        return None
    from ontologies.prefixes import PREFIXES

    used = {t.predicate.value for t in triples}
    return {p: ns for p, ns in PREFIXES.items() if any(u.startswith(ns) for u in used)} or None
