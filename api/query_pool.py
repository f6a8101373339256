"""Run SPARQL queries under a deadline, and really stop the ones that overrun.

pyoxigraph cannot cancel a query, so for an on-disk store each query runs in a worker process
that opened the same database read-only (:class:`ProcessQueryRunner`): the operating system
shares the file pages between processes, and a query past its deadline is stopped by killing
its worker, which is then replaced. Other requests keep being served meanwhile. For stores that
cannot be opened twice (in memory) or that live elsewhere (``sparql:``), :class:`ThreadQueryRunner`
answers on time but cannot stop the work; the HTTP client's own timeout bounds remote queries.

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
import queue
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

from api.sparql_results import Answer, serialize_answer
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
    """Run a job on a store and serialise the answer (at most ``job.limit`` rows or triples)."""
    kind, payload = store.iter_query(job.sparql, union_default_graph=True,
                                     default_graphs=job.default_graphs or None,
                                     named_graphs=job.named_graphs or None)
    fmt = job.graph_format if kind == "graph" else job.result_format
    return serialize_answer(kind, payload, fmt, limit=job.limit)


class QueryRunner(Protocol):
    def run(self, job: QueryJob, timeout: float) -> Answer: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


def _timeout_error(timeout: float) -> TraitKGError:
    from api.errors import QueryTimeout

    return QueryTimeout(f"the query ran longer than the {timeout:g} s limit and was stopped; "
                        "narrow it (more specific patterns, a LIMIT) or ask the operator to raise "
                        "TRAITKG_QUERY_TIMEOUT", headers={"Retry-After": "0"}, timeout_s=timeout)


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

    def refresh(self) -> None:
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


def _worker_main() -> None:  # pragma: no cover - runs in a child process
    """Entry point of a query worker: ``python -c ... PATH``; jobs on stdin, answers on stdout."""
    from kg.core.store import OxigraphStore

    path = sys.argv[1]
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by libraries goes to stderr, never into the answer stream
    conn = _Pipe(sys.stdin.buffer, out)
    store = OxigraphStore(path, read_only=True)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        for attempt in (1, 2):
            try:
                conn.send(("ok", execute(store, job)))
                break
            except QueryError as exc:
                # An I/O error can mean the writer compacted files away under us: reopen once.
                if attempt == 1 and str(exc).startswith("query failed"):
                    store = OxigraphStore(path, read_only=True)
                    continue
                conn.send(("error", "QueryError", str(exc)))
                break
            except TraitKGError as exc:
                conn.send(("error", "QueryError", str(exc)))
                break
            except Exception as exc:  # noqa: BLE001 - answer the client, keep the worker alive
                conn.send(("error", "QueryError", f"query failed: {type(exc).__name__}: {exc}"))
                break


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: _Pipe
    generation: int


class ProcessQueryRunner:
    """A small pool of worker processes over an on-disk store opened read-only.

    Workers start on demand (up to ``workers``); a query waits at most ``timeout`` for a free
    worker and at most ``timeout`` to run. :meth:`refresh` (after a write) retires every worker
    so the next query sees the new data.
    """

    def __init__(self, path: str, *, workers: int = 2) -> None:
        self.path = path
        self.workers = workers
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._live = 0
        self._generation = 0
        self._closed = False

    def _spawn(self) -> _Worker:
        # A plain subprocess (not multiprocessing): nothing is forked from a process holding a
        # database, and nothing depends on how the parent's __main__ can be re-imported.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        proc = subprocess.Popen([sys.executable, "-c", "from api.query_pool import _worker_main; _worker_main()",
                                 self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        return _Worker(proc, _Pipe(proc.stdout, proc.stdin), self._generation)

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
            with self._lock:
                self._live -= 1

    def _acquire(self, timeout: float) -> _Worker:
        deadline = time.monotonic() + timeout
        while True:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    if self._closed:
                        raise QueryError("the query service is shutting down") from None
                    if self._live < self.workers:
                        self._live += 1
                        spawn = True
                    else:
                        spawn = False
                if spawn:
                    try:
                        return self._spawn()
                    except BaseException:
                        with self._lock:
                            self._live -= 1
                        raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _timeout_error(timeout) from None
                try:
                    w = self._idle.get(timeout=left)
                except queue.Empty:
                    raise _timeout_error(timeout) from None
            if w.generation == self._generation and w.proc.poll() is None:
                return w
            self._kill(w)  # stale (store changed) or dead: replace it

    def run(self, job: QueryJob, timeout: float) -> Answer:
        w = self._acquire(timeout)
        try:
            w.conn.send(job)
            if not w.conn.poll(timeout):
                log.warning("query over %.1f s; stopping worker %s", timeout, w.proc.pid)
                self._kill(w)
                raise _timeout_error(timeout)
            msg = w.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._kill(w)
            raise QueryError("the query worker died while answering (out of memory?); "
                             "narrow the query or add a LIMIT") from None
        self._idle.put(w)
        if msg[0] == "ok":
            return msg[1]
        raise QueryError(msg[2])

    def refresh(self) -> None:
        """Retire every worker: the store changed and read-only opens see a snapshot."""
        with self._lock:
            self._generation += 1
        while True:
            try:
                self._kill(self._idle.get_nowait())
            except queue.Empty:
                return

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                return
            try:
                w.conn.send(None)
                w.proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill(w)


def runner_for(store: Store, *, workers: int) -> QueryRunner:
    """Processes for an on-disk embedded store, threads otherwise."""
    path = getattr(store, "path", None)
    if store.selector.startswith("oxigraph:") and path is not None:
        return ProcessQueryRunner(str(path), workers=workers)
    return ThreadQueryRunner(store, workers=max(workers, 4))
