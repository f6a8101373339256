"""Several graphs written one after another and listed in the manifest together (a batch of loads).

:func:`kg.core.graphs.load_graph` writes one graph and its manifest entry (two flushes and one
update per graph). A batch (``with GraphBatch(store) as batch: batch.write(...)``) writes each
graph's data as it comes, under its final IRI, and lists them all at the end: one flush, one
update holding every entry, one flush. Until then nobody sees the batch's graphs in the manifest.
A batch is atomic: if anything in the ``with`` block raises, every graph it wrote is dropped and
none is listed; if the process is killed, recovery drops the unlisted graphs at the next open
(:func:`kg.core.recovery.recover`). A batch's graphs are listed in the order they were written.

>>> from kg.core.graphs import list_graphs
>>> from kg.core.store import RdfFormat, open_store
>>> s = open_store("oxigraph:")
>>> def writer(iri):
...     s.load_file(b'<http://x/a> <http://x/p> <http://x/b> .', RdfFormat.N_TRIPLES, iri)
...     return 1
>>> with GraphBatch(s) as b:
...     rec = b.write(kind="demo", name="a", writer=writer, source="a.nt", sha256="0" * 64, byte_size=40,
...                   loader="demo", loader_version="1", counted=True)
>>> [(g.name, g.triples) for g in list_graphs(s, kind="demo")]
[('a', 1)]
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from kg.core.errors import ValidationError
from kg.core.faults import crash_point
from kg.core.graphs import GraphRecord, Writer, graph_iri, list_graphs, utc_now, write_records
from kg.core.store import Store

log = logging.getLogger(__name__)

class GraphBatch:
    """Graphs written one by one, listed in the manifest in one transaction when the batch ends
    without an error, all dropped when it ends with one (see the module's text)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: list[GraphRecord] = []  # written, not listed yet
        self._written: list[str] = []  # graph IRIs whose data this batch wrote (to drop on failure)

    def write(self, *, kind: str, name: str, writer: Writer, source: str, sha256: str, byte_size: int,
              loader: str, loader_version: str, version: str | None = None,
              parameters: dict[str, Any] | None = None, derived_from: Sequence[str] = (),
              counted: bool = False) -> GraphRecord:
        """Write one graph as :func:`kg.core.graphs.load_graph` does (same arguments, same answers:
        ``status == "unchanged"`` for input loaded before, in the store or earlier in this batch),
        but leave its manifest entry to the end of the batch."""
        params = dict(parameters or {})
        known = list_graphs(self.store, kind=kind, name=name) + [
            r for r in self.records if r.kind == kind and r.name == name]
        for prev in known:
            if prev.sha256 == sha256 and prev.parameters == params and (version is None or prev.version == version):
                return dataclasses.replace(prev, status="unchanged")
        version = version or sha256[:12]
        iri = graph_iri(kind, name, version)
        if any(g.iri == iri for g in known):
            raise ValidationError(
                f"{kind}/{name}/{version} is already loaded from different content; "
                "give the new release another version (--version) or drop the old one")
        started = utc_now()
        self.store.drop_graph(iri)  # an orphan left by a crashed process; never a manifest graph
        self._written.append(iri)
        crash_point(f"load:{kind}:start")
        written = writer(iri)
        rec = GraphRecord(iri=iri, kind=kind, name=name, version=version, source=source, sha256=sha256,
                          byte_size=byte_size, loader=loader, loader_version=loader_version, parameters=params,
                          started=started, ended=utc_now(),
                          triples=int(written) if counted else self.store.count(iri),
                          derived_from=list(derived_from))
        self.records.append(rec)
        return rec

    def commit(self) -> None:
        """List every graph written (nothing to do for a batch that wrote none)."""
        if not self.records:
            return
        kinds = list(dict.fromkeys(r.kind for r in self.records))
        self.store.flush()  # the data is on disk before the manifest says it is there
        for k in kinds:
            crash_point(f"load:{k}:written")
        write_records(self.store, self.records)  # one transaction: every entry, and their wantedGraph marks gone
        self.store.flush()
        self._written.clear()
        for k in kinds:
            crash_point(f"load:{k}:recorded")

    def abort(self) -> None:
        """Drop every graph this batch wrote (none of them is listed)."""
        for iri in reversed(self._written):
            try:
                self.store.drop_graph(iri)
            except Exception:  # pragma: no cover - keep the original error
                log.exception("could not clean up graph %s after a failed batch", iri)
        self._written.clear()
        self.records.clear()

    def __enter__(self) -> GraphBatch:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if typ is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
