"""Shared load plumbing: resolve the source, write one graph atomically, fill the report."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from kg.core.bulk import stage
from kg.core.graph_batch import GraphBatch
from kg.core.graphs import load_graph
from kg.core.sources import Source
from kg.core.store import NamedNode, Quad, Store, Triple
from kg.core.version import __version__
from loaders.report import LoadReport

#: ``progress(done, total)``: units done so far and the total (bytes, records...), or None.
Progress = Callable[[int, "int | None"], None]

__all__ = ["Progress", "ingest", "stage", "write_triples"]


def ingest(store: Store, source: Source, *, kind: str, name: str, version: str | None,
           loader: str, writer: Callable[[str], Any], parameters: dict[str, Any] | None = None,
           report: LoadReport | None = None, derived_from: Iterable[str] = (),
           counted: bool = False, batch: GraphBatch | None = None) -> LoadReport:
    """Load ``source`` through ``writer(graph_iri)`` into a new graph and return the report.
    With ``counted=True`` the writer returns how many distinct triples it wrote. With ``batch`` the
    graph is written now and listed in the manifest when the batch ends (:mod:`kg.core.graph_batch`)."""
    t0 = time.perf_counter()
    write = batch.write if batch is not None else functools.partial(load_graph, store)
    rec = write(kind=kind, name=name, writer=writer, source=source.origin, sha256=source.sha256,
                byte_size=source.size, loader=loader, loader_version=__version__, version=version,
                parameters=parameters, derived_from=list(derived_from), counted=counted)
    rep = report or LoadReport(source=source.origin, kind=kind)
    rep.graph, rep.name, rep.version, rep.status, rep.triples = rec.iri, rec.name, rec.version, rec.status, rec.triples
    rep.seconds = time.perf_counter() - t0
    return rep


def write_triples(store: Store, graph: str, triples: Iterable[Triple | tuple]) -> int:
    """Put triples (pyoxigraph Triples or (s, p, o) tuples) into ``graph``."""
    g = NamedNode(graph)
    return store.add_quads(Quad(t[0], t[1], t[2], g) if isinstance(t, tuple) else Quad(t.subject, t.predicate, t.object, g)
                           for t in triples)
