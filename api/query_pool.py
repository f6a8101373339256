"""Run SPARQL queries under a deadline, and really stop the ones that overrun.

pyoxigraph cannot cancel a query, so for an on-disk store each query runs in a worker process
(:class:`ProcessQueryRunner`) over a snapshot of the store (:mod:`kg.core.store.snapshots`: a
checkpoint nobody writes, opened read-only; never the live store, which only the server process
opens). A query past its deadline is stopped by killing its worker (its CPU work ends with it), and
the answer names the limit. ``query_workers`` workers stay warm; when they are all busy, more are
started, up to ``max_queries`` queries at once, so a cheap query is not queued behind expensive
ones; past that a query waits at most ``queue_wait`` seconds for a free slot, then gets a 503 that
says so. An answer over the result limit is not run to its end: the worker reads the engine's lazy
answer up to ``limit + 1`` rows or triples, closes it (which stops the evaluation) and answers
:class:`api.sparql_results.ResultLimitExceeded`; the worker stays warm. For stores that cannot be
snapshotted (in memory) or that live elsewhere (``sparql:``),
:class:`ThreadQueryRunner` answers on time but cannot stop the work; the HTTP client's own timeout
bounds remote queries.

>>> from kg.core.store import open_store
>>> runner = ThreadQueryRunner(open_store("oxigraph:"), workers=1)
>>> runner.run(QueryJob("ASK {}", "json", "turtle", limit=10), timeout=5).body
b'{"head": {}, "boolean": true}'
>>> runner.close()
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from api.sparql_results import Answer, ResultLimitExceeded, serialize_answer
from kg.core.errors import QueryError, TraitKGError
from kg.core.store import Store

log = logging.getLogger(__name__)
_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass
class QueryJob:
    """One query and how to answer it (picklable: it crosses into worker processes)."""

    sparql: str
    result_format: str
    graph_format: str
    default_graphs: list[str] = field(default_factory=list)
    named_graphs: list[str] = field(default_factory=list)
    limit: int = 10_000


def execute(store: Store, job: QueryJob) -> Answer:
    """Run a job on a store and serialise the answer; more than ``job.limit`` rows or triples:
    :class:`api.sparql_results.ResultLimitExceeded`, after reading ``job.limit + 1`` of them."""
    kind, payload = store.iter_query(job.sparql, union_default_graph=True,
                                     default_graphs=job.default_graphs or None,
                                     named_graphs=job.named_graphs or None)
    fmt = job.graph_format if kind == "graph" else job.result_format
    return serialize_answer(kind, payload, fmt, limit=job.limit)


class QueryRunner(Protocol):
    def run(self, job: QueryJob, timeout: float) -> Answer: ...
    def refresh(self, snapshot: Any = None) -> None: ...
    def close(self) -> None: ...


def _busy_error(slots: int, waited: float) -> TraitKGError:
    from api.errors import QueryTimeout

    return QueryTimeout(f"all {slots} query slots are busy (TRAITKG_MAX_QUERIES) and none came free within "
                        f"{waited:g} s; retry shortly", headers={"Retry-After": "1"}, timeout_s=waited,
                        setting="TRAITKG_MAX_QUERIES", limit=slots)


def _timeout_error(timeout: float) -> TraitKGError:
    from api.errors import QueryTimeout

    return QueryTimeout(f"the query ran longer than the {timeout:g} s limit and was stopped; "
                        "narrow it (more specific patterns, a LIMIT) or ask the operator to raise "
                        "TRAITKG_QUERY_TIMEOUT", headers={"Retry-After": "0"}, timeout_s=timeout,
                        setting="TRAITKG_QUERY_TIMEOUT", limit=timeout)


# --------------------------------------------------------------------------- threads

class ThreadQueryRunner:
    """Answer within the deadline using threads (the query itself keeps running to its end)."""

    def __init__(self, store: Store, *, workers: int = 4) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sparql")

    def run(self, job: QueryJob, timeout: float) -> Answer:
        fut = self._pool.submit(execute, self.store, job)
        try:
            return fut.result(timeout)
        except FutureTimeout:
            fut.cancel()
            raise _timeout_error(timeout) from None

    def refresh(self, snapshot: Any = None) -> None:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- processes

class _Pipe:
    """Length-prefixed pickles over a pair of byte streams."""

    def __init__(self, rd: IO[bytes], wr: IO[bytes]) -> None:
        self.rd, self.wr = rd, wr

    def send(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.wr.write(struct.pack("!Q", len(data)) + data)
        self.wr.flush()

    def recv(self) -> Any:
        head = self.rd.read(8)
        if len(head) < 8:
            raise EOFError("pipe closed")
        n = struct.unpack("!Q", head)[0]
        data = self.rd.read(n)
        if len(data) < n:
            raise EOFError("pipe closed mid-message")
        return pickle.loads(data)

    def poll(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.rd], [], [], timeout)
        return bool(ready)


def trim_heap() -> None:
    """Collect cycles, then give the C heap's free pages back to the system (glibc keeps freed
    arenas; a process that opens a new database after each write would grow by them)."""
    import ctypes
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # not glibc
            pass


#: glibc malloc arenas for the server and its workers. By default glibc gives each busy thread its own
#: arena, up to 8 per core; a server's request threads then leave freed memory scattered over many
#: heaps that malloc_trim cannot give back. Measured in a 4-minute soak (8 connections, an upload
#: every 30 s): with the default the server's malloc heaps grew 179 -> 317 MB (free inside them
#: 109 -> 258 MB) over four uploads; with 2 arenas they levelled at 158-177 MB.
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Use at most :data:`MALLOC_ARENAS` malloc arenas from now on (glibc; elsewhere a no-op).
    Call it before the threads that allocate start; workers get ``MALLOC_ARENA_MAX`` instead."""
    import ctypes

    if sys.platform.startswith("linux") and "MALLOC_ARENA_MAX" not in os.environ:
        try:
            ctypes.CDLL("libc.so.6").mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX
        except (OSError, AttributeError):  # not glibc
            pass


def _worker_main() -> None:  # pragma: no cover - runs in a child process
    """Entry point of a query worker: ``(snapshot directory, job)`` on stdin, answers on stdout.
    It opens the snapshot a job names read-only (switching when a write made a new one)."""
    from kg.core.store import OxigraphStore

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by libraries goes to stderr, never into the answer stream
    conn = _Pipe(sys.stdin.buffer, out)
    store, opened = None, None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        directory, job = msg
        try:
            if directory != opened:
                if store is not None:
                    store = None  # close the old snapshot first, and give its memory back
                    trim_heap()
                store, opened = OxigraphStore(directory, read_only=True), directory
            conn.send(("ok", execute(store, job)))
        except ResultLimitExceeded as exc:
            conn.send(("error", "ResultLimitExceeded", str(exc), exc.extra))
        except TraitKGError as exc:
            conn.send(("error", "QueryError", str(exc), {}))
        except Exception as exc:  # noqa: BLE001 - answer the client, keep the worker alive
            conn.send(("error", "QueryError", f"query failed: {type(exc).__name__}: {exc}", {}))


class FixedSnapshot:
    """A directory nobody writes (a snapshot a parent process took), as :class:`ProcessQueryRunner`
    reads it: held and released like a :class:`kg.core.store.Snapshot`, never removed."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def hold(self) -> FixedSnapshot:
        return self

    def release(self) -> None:
        return None


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: _Pipe
    idle_since: float = 0.0


class ProcessQueryRunner:
    """Worker processes over the current snapshot of an on-disk store (see the module docstring).

    ``workers`` stay warm; up to ``max_queries`` run at once, the extra workers retiring after
    ``linger`` idle seconds; :meth:`refresh` (after a write) points new queries at the new snapshot
    (workers reopen it; the old one stays while a query reads it).
    """

    def __init__(self, snapshot: Any, *, workers: int = 2, max_queries: int = 8, queue_wait: float = 5.0,
                 linger: float = 30.0) -> None:
        self.snapshot = snapshot
        self.workers = workers
        self.max_queries = max(max_queries, workers)
        self.queue_wait = queue_wait
        self.linger = linger
        self._idle: list[_Worker] = []  # most recently used last
        self._cond = threading.Condition()
        self._live = 0
        self._closed = False
        self.busy: set[int] = set()  # pids of the workers answering now

    @property
    def path(self) -> str:
        return str(self.snapshot.directory)

    def _spawn(self) -> _Worker:
        # A plain subprocess (not multiprocessing): nothing is forked from a process holding a
        # database, and nothing depends on how the parent's __main__ can be re-imported.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        env.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENAS))
        proc = subprocess.Popen([sys.executable, "-c", "from api.query_pool import _worker_main; _worker_main()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        return _Worker(proc, _Pipe(proc.stdout, proc.stdin))

    def _kill(self, w: _Worker) -> None:
        try:
            w.proc.kill()
            w.proc.wait(5)
        finally:
            for f in (w.proc.stdin, w.proc.stdout):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
            with self._cond:
                self._live -= 1
                self._cond.notify()

    def _acquire(self) -> _Worker:
        deadline = time.monotonic() + self.queue_wait
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        raise QueryError("the query service is shutting down")
                    if self._idle:
                        w, spawn = self._idle.pop(), False
                        break
                    if self._live < self.max_queries:
                        self._live += 1
                        spawn = True
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _busy_error(self.max_queries, self.queue_wait)
                    self._cond.wait(left)
            if spawn:
                try:
                    return self._spawn()
                except BaseException:
                    with self._cond:
                        self._live -= 1
                    raise
            if w.proc.poll() is None:
                return w
            self._kill(w)  # died while idle: replace it

    def _put_back(self, w: _Worker) -> None:
        now = time.monotonic()
        w.idle_since = now
        with self._cond:
            self._idle.append(w)
            extra = len(self._idle) - self.workers
            retire = [x for x in self._idle[:max(extra, 0)] if self._closed or now - x.idle_since > self.linger]
            for x in retire:
                self._idle.remove(x)
            self._cond.notify()
        for x in retire:  # burst workers idle for a while go; the warm ones stay
            self._kill(x)

    def run(self, job: QueryJob, timeout: float) -> Answer:
        w = self._acquire()
        snap = self.snapshot.hold()
        self.busy.add(w.proc.pid)
        try:
            w.conn.send((str(snap.directory), job))
            if not w.conn.poll(timeout):
                log.warning("query over %.1f s; stopping worker %s", timeout, w.proc.pid)
                self._kill(w)
                raise _timeout_error(timeout)
            msg = w.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._kill(w)
            raise QueryError("the query worker died while answering (out of memory?); "
                             "narrow the query or add a LIMIT") from None
        finally:
            self.busy.discard(w.proc.pid)
            snap.release()
        self._put_back(w)
        if msg[0] == "ok":
            return msg[1]
        if msg[1] == "ResultLimitExceeded":
            raise ResultLimitExceeded(msg[2], **msg[3])
        raise QueryError(msg[2])

    def refresh(self, snapshot: Any = None) -> None:
        """New queries read ``snapshot`` (the store changed)."""
        if snapshot is not None:
            self.snapshot = snapshot

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for w in idle:
            try:
                w.conn.send(None)
                w.proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill(w)


def runner_for(store: Store, *, workers: int, snapshot: Any = None, max_queries: int = 8,
               queue_wait: float = 5.0) -> QueryRunner:
    """Processes over ``snapshot`` (an on-disk embedded store's), threads otherwise."""
    if snapshot is not None:
        return ProcessQueryRunner(snapshot, workers=workers, max_queries=max_queries, queue_wait=queue_wait)
    return ThreadQueryRunner(store, workers=max(workers, max_queries))
