"""The embedded backend: pyoxigraph on disk (``oxigraph:PATH``) or in memory (``oxigraph:``)."""

from __future__ import annotations

import gc
import io
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox
from pyoxigraph import (
    NamedNode,
    Quad,
    QueryResultsFormat,
    RdfFormat,
    Triple,
)

from kg.core.errors import QueryError, StoreBusy, StoreUnavailable
from kg.core.faults import crash_point
from kg.core.store.base import SelectResult, Term, bind_values, guarded

log = logging.getLogger(__name__)
#: RocksDB information logs (LOG.old.*) a :meth:`OxigraphStore.reopen` leaves in the store directory
KEEP_INFO_LOGS = 5

class OxigraphStore:
    """Embedded pyoxigraph store, on disk (``oxigraph:PATH``) or in memory (``oxigraph:``)."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 snapshot_of: str | Path | None = None) -> None:
        """``snapshot_of``: ``path`` is a snapshot of that store (:mod:`kg.core.store.snapshots`),
        opened read-only; ``self.path`` and the selector name the store it copies, ``data_dir`` the
        directory actually open."""
        self.data_dir = Path(path) if path else None
        self.path = Path(snapshot_of) if snapshot_of else self.data_dir
        self.read_only = read_only or snapshot_of is not None
        read_only = self.read_only
        self.selector = f"oxigraph:{self.path or ''}"
        # On disk, each bulk load sorts and writes its own RocksDB files mostly on one core, and
        # concurrent loads ingest side by side (two halves load in about half the time on two
        # cores); the in-memory store serialises writers, so one at a time there.
        self.bulk_workers = min(4, os.cpu_count() or 1) if self.path else 1
        #: how many times the database was opened by this object (:meth:`reopen` adds one)
        self.opens = 1
        try:
            if self.path is None:
                self._store = ox.Store()
            elif read_only:
                self._store = ox.Store.read_only(str(self.data_dir))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as exc:
            if "lock" in str(exc).lower():
                raise StoreBusy(
                    f"the store at {self.path} is open in another process (a running `traitkg serve`, or "
                    "another load): one process owns an embedded store; load through the server instead "
                    "(POST /api/v1/graphs with the token; see `traitkg load --help`) or stop it first") from None
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

    def _solutions(self, sparql: str, bindings: Mapping[str, Term] | None, union: bool) -> ox.QuerySolutions:
        res = self._run(sparql, bindings, union)
        if not isinstance(res, ox.QuerySolutions):
            raise QueryError("expected a SELECT query")
        return res

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
               union_default_graph: bool = False) -> SelectResult:
        res = self._solutions(sparql, bindings, union_default_graph)
        names = [v.value for v in res.variables]
        n = len(names)
        try:
            rows = [tuple(sol[i] for i in range(n)) for sol in res]
        except OSError as exc:
            raise QueryError(f"query failed: {exc}") from exc
        return SelectResult(names, rows)

    def select_tsv(self, sparql: str, bindings: Mapping[str, Term] | None = None, *,
                   union_default_graph: bool = False) -> str:
        """A SELECT's answer as SPARQL TSV (a header of ``?variables``, then one line per row, terms in
        N-Triples syntax: :func:`kg.core.store.base.tsv_value`), written by the engine: many rows
        without a Python object per term."""
        res = self._solutions(sparql, bindings, union_default_graph)
        try:
            return res.serialize(format=QueryResultsFormat.TSV).decode()
        except OSError as exc:
            raise QueryError(f"query failed: {exc}") from exc

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
            return "graph", guarded(iter(res))
        names = [v.value for v in res.variables]
        n = len(names)
        return "solutions", (names, guarded(tuple(sol[i] for i in range(n)) for sol in res))

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

    def load_file(self, source: str | Path | bytes | IO[bytes], fmt: RdfFormat, graph: str, *,
                  base_iri: str | None = None, keep_graphs: bool = False, lenient: bool = False) -> None:
        """Bulk-load a file (path, bytes or binary stream) into ``graph`` (bytes are parsed
        without holding the GIL, so Python threads keep running). Quads of dataset formats
        (N-Quads, TriG) are moved into ``graph`` too unless ``keep_graphs``. ``lenient`` skips
        IRI and language-tag validation: only for input traitkg built itself from checked terms.
        Not transactional: callers load into a fresh graph and drop it on failure (see
        :mod:`kg.core.graphs`)."""
        target = NamedNode(graph)
        src: dict[str, Any] = {"path": str(source)} if isinstance(source, (str, Path)) else {"input": source}
        if fmt.supports_datasets and not keep_graphs:
            self._store.bulk_extend(Quad(q.subject, q.predicate, q.object, target)
                                    for q in ox.parse(format=fmt, base_iri=base_iri, lenient=lenient, **src))
        elif fmt.supports_datasets:
            self._store.bulk_load(format=fmt, base_iri=base_iri, lenient=lenient, **src)
        else:
            self._store.bulk_load(format=fmt, base_iri=base_iri, to_graph=target, lenient=lenient, **src)
        crash_point("bulk")

    def load_graphs(self, parts: Iterable[tuple[str, bytes]]) -> None:
        """Several graphs' N-Triples, ``(graph IRI, bytes)`` each, as one bulk load (of N-Quads): each
        bulk load's sorted files are ingested beside what the store holds, then compacted, so one load
        of many small graphs costs the engine less than a load each. ``parts`` is read as the engine
        asks for more, so another thread may still be making it (an iterator over a queue). Only for
        N-Triples traitkg wrote itself (parsed leniently: no IRI re-validation). Blank node labels
        are scoped to the whole load, as in one N-Quads document: two parts share a label only for
        one node (traitkg's writers draw a random token per document). Not transactional, as
        :meth:`load_file`."""
        self._store.bulk_load(input=io.BufferedReader(_NQuadsStream(parts), 1 << 20), format=RdfFormat.N_QUADS,
                              lenient=True)
        crash_point("bulk")

    def add_quads(self, quads: Iterable[Quad]) -> int:
        """Add quads; small batches in one transaction, large ones through the bulk path."""
        if not isinstance(quads, list):
            quads = list(quads)
        if len(quads) <= 50_000:
            self._store.extend(quads)
        else:
            self._store.bulk_extend(quads)
            crash_point("bulk")
        return len(quads)

    def quads(self, subject: Term | None = None, predicate: NamedNode | None = None,
              obj: Term | None = None, graph: str | None = None) -> Iterator[Quad]:
        return iter(self._store.quads_for_pattern(subject, predicate, obj,
                                                  NamedNode(graph) if graph else None))

    def drop_graph(self, graph: str) -> None:
        node = NamedNode(graph)
        if self._store.contains_named_graph(node):
            self._store.remove_graph(node)

    #: the engine writes typed literals in their canonical form (see :func:`canonical_literals`)
    canonical_literals = True

    def dump_graph(self, graph: str, out: IO[bytes]) -> None:
        ox.serialize(self._store.quads_for_pattern(None, None, None, NamedNode(graph)), out,
                     format=RdfFormat.N_QUADS)

    def dump_triples(self, graph: str, out: IO[bytes]) -> None:
        """One graph's triples as N-Triples, written by the engine (no Python object per quad)."""
        self._store.dump(out, RdfFormat.N_TRIPLES, from_graph=NamedNode(graph))

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the store in ``target`` (a new directory; hard links on the same
        file system): see :mod:`kg.core.store.snapshots`."""
        self.flush()
        self._store.backup(str(target))

    def compact(self) -> None:
        """Reclaim the space of deleted quads now (after dropping big graphs: deletions leave
        tombstones until the engine compacts)."""
        if self.data_dir is not None and not self.read_only:
            self._store.optimize()

    def flush(self) -> None:
        if self.path is not None and not self.read_only:
            self._store.flush()

    def reopen(self) -> bool:
        """Close the on-disk database and open it again, in place (the same object, so everything
        holding this store keeps working). A database opened for writing keeps memory that grows with
        every write through it (measured: about 5 MB per upload of a 12,000-tip tree or of BSPO, back
        to the floor after a reopen), so a long-running owner (the server) calls this after each write.
        Returns False, changing nothing, when it cannot: in memory, read-only, or something else still
        holds the database (then its lock would stop the new open).
        """
        if self.path is None or self.read_only or sys.getrefcount(self._store) > 2:
            return False
        self.flush()
        self._store = None  # type: ignore[assignment]  # the last reference: RocksDB closes here
        gc.collect()  # iterators in a reference cycle would keep it open
        for wait in (0.0, 0.05, 0.2, 0.5, 1.0):
            time.sleep(wait)
            try:
                self._store = ox.Store(str(self.path))
            except OSError as exc:
                last = exc
                continue
            self.opens += 1
            # RocksDB moves its information log aside at each open (LOG.old.<time>, ~150 kB each):
            # keep the newest few, not one per write
            for old in sorted(self.path.glob("LOG.old.*"))[:-KEEP_INFO_LOGS]:
                old.unlink(missing_ok=True)
            return True
        raise StoreUnavailable(f"cannot reopen the store at {self.path}: {last}")

    def close(self) -> None:
        self.flush()
        # pyoxigraph closes the database when the object is collected
        self._store = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OxigraphStore({self.selector!r})"


class _NQuadsStream(io.RawIOBase):
    """A binary stream of N-Quads made from ``(graph IRI, N-Triples bytes)`` parts as it is read: each
    line's closing ``" ."`` gets the graph's IRI before it (in N-Triples a line ends with ``" .\\n"``
    and nowhere else: a literal's line breaks are escaped)."""

    def __init__(self, parts: Iterable[tuple[str, bytes]]) -> None:
        super().__init__()
        self._parts = iter(parts)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not len(self._buf):
            nxt = next(self._parts, None)
            if nxt is None:
                return 0
            graph, data = nxt
            if data and not data.endswith(b"\n"):
                data += b"\n"
            if data.count(b" .\n") != data.count(b"\n"):  # not one triple a line, as traitkg writes them
                raise ValueError(f"N-Triples for {graph} with a line that does not end with ' .'")
            self._buf = memoryview(data.replace(b" .\n", b" " + str(NamedNode(graph)).encode() + b" .\n"))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n
