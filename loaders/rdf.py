"""Generic RDF loader: Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD, N3 (``.gz`` too).

Uses pyoxigraph's bulk path, streaming from disk; a syntax error anywhere drops the new graph
and reports file, line and column.

>>> from kg.core.store import open_store
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.ttl"
>>> _ = p.write_text('<http://example.org/a> <http://example.org/p> "x" .')
>>> load(open_store("oxigraph:"), p).triples
1
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kg.core.errors import EXCERPT, ParseError, UnknownFormat, excerpt, one_line
from kg.core.graphs import slug
from kg.core.sources import Source
from kg.core.store import RdfFormat, Store, rdf_format
from loaders._base import Progress, ingest

KIND = "rdf"
FORMATS = ("rdf", "turtle", "ntriples", "nquads", "trig", "rdfxml", "jsonld", "n3")
EXTENSIONS = ("ttl", "nt", "nq", "trig", "rdf", "owl", "jsonld", "n3")

_BY_NAME = {"turtle": "ttl", "ntriples": "nt", "nquads": "nq", "trig": "trig", "rdfxml": "rdf",
            "jsonld": "jsonld", "n3": "n3"}


def detect_format(source: Source, fmt: str | None = None) -> RdfFormat:
    """The RDF syntax of a source: the explicit ``fmt`` or its extension (``.gz`` ignored)."""
    key = _BY_NAME.get(fmt, fmt) if fmt and fmt != "rdf" else source.format_hint
    try:
        return rdf_format(key)
    except ValueError:
        raise UnknownFormat(f"{source.path}: cannot tell the RDF syntax from '.{key}'; "
                            f"use one of {', '.join(FORMATS[1:])}") from None


def parse(path: str | Path, fmt: str | None = None, *, base_iri: str | None = None) -> list:
    """Parse a file to a list of quads (small files; the load path streams instead)."""
    from kg.core.store import parse_rdf

    src = Source.resolve(path)
    syntax = detect_format(src, fmt)
    with src.open() as fh:
        try:
            return list(parse_rdf(fh, syntax, base_iri=base_iri))
        except (SyntaxError, MemoryError) as exc:
            raise parse_error(src, exc) from None


def parse_error(src: Source, exc: SyntaxError | MemoryError) -> ParseError:
    """The parser's error as a ParseError with the file, line and column; its message never quotes
    more than a short excerpt of the input (the parser's own messages may hold a whole token)."""
    if isinstance(exc, MemoryError):  # pyoxigraph's buffer limit: one token or line over 16 MiB
        return ParseError(f"a line or token too long to be RDF ({exc})", source=str(src.path))
    msg = str(exc.args[0]) if exc.args else str(exc)
    return ParseError(one_line(_shorten_quotes(msg), 4 * EXCERPT), source=str(src.path), line=exc.lineno,
                      column=exc.offset)


def _shorten_quotes(message: str) -> str:
    """Quoted input inside a parser message (closed or running to the end) cut to an excerpt."""
    return re.sub(r"'([^']{%d,})('|$)" % (EXCERPT + 1), lambda m: excerpt(m.group(1)), message, flags=re.S)


def no_triples(store: Store, graph: str, src: Source) -> None:
    if not store.count(graph):
        raise ParseError("no triples: the file is empty or holds only prefixes and comments "
                         "(an empty graph is not loaded)", source=str(src.path), line=1)


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         kind: str = KIND, fmt: str | None = None, base_iri: str | None = None,
         progress: Progress | None = None, **_: Any) -> Any:
    """Load an RDF file into its own graph ``<kind>/<name>/<version>``."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    syntax = detect_format(src, fmt)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], src.size)

    def writer(graph: str) -> None:
        # the parser reads a pipe natively while a thread reads (and gunzips) the file beside it
        with src.pipe(progress=tick if progress else None) as fh:
            try:
                store.load_file(fh, syntax, graph, base_iri=base_iri or src.path.resolve().as_uri())
            except (SyntaxError, MemoryError) as exc:
                raise parse_error(src, exc) from None
        no_triples(store, graph, src)

    return ingest(store, src, kind=kind, name=name or slug(src.stem), version=version, loader="rdf",
                  writer=writer, parameters={"format": syntax.file_extension, **({"base_iri": base_iri} if base_iri else {})})
