"""Serialise SPARQL answers, cutting them at a result limit while streaming.

SELECT/ASK answers go out as SPARQL JSON, XML, CSV or TSV; CONSTRUCT/DESCRIBE answers as
Turtle, N-Triples, RDF/XML or JSON-LD. Only the first ``limit`` rows or triples are read from the
store, so a huge answer never lands in memory.

>>> from kg.core.store import NamedNode, Literal
>>> rows = iter([(NamedNode("http://x/a"), Literal("b", language="en"))])
>>> out = serialize_answer("solutions", (["s", "l"], rows), "csv", limit=10)
>>> out.body.decode().splitlines(), out.count, out.truncated
(['s,l', 'http://x/a,b'], 1, False)
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


@dataclass
class Answer:
    """A serialised answer: bytes, the format name, rows/triples written, whether it was cut."""

    kind: str
    format: str
    body: bytes
    count: int
    truncated: bool

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


def _take(items: Iterator[Any], limit: int) -> tuple[list[Any], bool]:
    got = list(itertools.islice(items, limit + 1))
    return got[:limit], len(got) > limit


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
    """Serialise what :meth:`kg.core.store.OxigraphStore.iter_query` returned, reading at most ``limit`` items."""
    if kind == "boolean":
        return Answer(kind, fmt, _boolean(bool(payload), fmt), 1, False)
    if kind == "solutions":
        variables, rows = payload
        got, cut = _take(iter(rows), limit)
        return Answer(kind, fmt, _solutions(list(variables), got, fmt), len(got), cut)
    if kind == "graph":
        if fmt not in _GRAPH_FORMATS:
            raise ValueError(f"unknown RDF format {fmt!r}; expected one of {sorted(_GRAPH_FORMATS)}")
        triples, cut = _take(iter(payload), limit)
        body = serialize_rdf(triples, _GRAPH_FORMATS[fmt], prefixes=_prefixes_for(triples, fmt)) or b""
        return Answer(kind, fmt, body, len(triples), cut)
    raise ValueError(f"unknown answer kind {kind!r}")


def _prefixes_for(triples: Iterable[Triple], fmt: str) -> dict[str, str] | None:
    if fmt != "turtle":
        return None
    from ontologies.prefixes import PREFIXES

    used = {t.predicate.value for t in triples}
    return {p: ns for p, ns in PREFIXES.items() if any(u.startswith(ns) for u in used)} or None
