"""Bulk writes shared by the loaders and the derived graphs (closure, inference, trees).

:func:`load_chunks` feeds N-Triples chunks to the store's bulk path, several loads at once on an
on-disk store, with the next chunk built meanwhile (the store parses ``bytes`` without holding
the GIL); :func:`gc_paused` keeps the cyclic garbage collector out of builds that make millions
of small acyclic objects.

>>> from kg.core.store import open_store
>>> s = open_store("oxigraph:")
>>> chunks = iter([(b'<http://x/a> <http://x/p> <http://x/b> .\\n', 1), (b'<http://x/a> <http://x/p> "c" .\\n', 1)])
>>> load_chunks(s, chunks, "http://x/g"), s.count("http://x/g")
(2, 2)
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kg.core.store import RdfFormat, Store


def stage(progress: Any, name: str, unit: str) -> Any:
    """The ``progress(done, total)`` callback for one stage of a long step with several (a load's
    read, write and index; a closure's saturation and writes): a callback with a ``stage(name, unit)``
    method (the CLI's bars: one bar per stage) opens one for it; a plain callback gets every stage's
    counts in turn; None stays None."""
    if progress is None:
        return None
    opener = getattr(progress, "stage", None)
    return opener(name, unit) if callable(opener) else progress


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small, acyclic containers are made
    (indices, calls, N-Triples): each of its passes walks every tracked object, and they cost more
    than the work itself. Reference counting still frees everything; the collector resumes after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_chunks(store: Store, chunks: Iterator[tuple[bytes, int]], graph: str,
                fmt: RdfFormat = RdfFormat.N_TRIPLES, *, workers: int | None = None) -> int:
    """Load ``(bytes, triples)`` chunks into ``graph`` through the store's bulk path: up to
    ``workers`` loads at once (default: the store's ``bulk_workers``), the next chunk built in this
    thread meanwhile (the store parses ``bytes`` without holding the GIL), so at most
    ``workers + 1`` chunks are held at a time. Chunks are traitkg's own output, built from terms
    already checked on their way in, so the store parses them leniently (no IRI re-validation).
    Returns the sum of the counts (the graph's size when the producer's lines are distinct). A
    failed load raises once every started load has ended, so the caller can drop the graph with
    nothing still writing into it."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, workers or store.bulk_workers)
    total = 0
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        try:
            for data, n in chunks:
                while len(pending) >= workers:
                    pending.popleft().result()
                pending.append(pool.submit(store.load_file, data, fmt, graph, lenient=True))
                total += n
                del data
            while pending:
                pending.popleft().result()
        finally:
            for f in pending:  # on an error: let the loads already started end before raising
                f.cancel() or f.exception()
    return total


class FeedStopped(RuntimeError):
    """The consumer of a :class:`Feed` stopped (its own error says why)."""


class Feed:
    """Items handed from one thread to another: the producer puts them (``put``, waiting while ``size``
    wait), the consumer iterates until ``close``. When the consumer stops early it calls ``stop``
    and a waiting or later ``put`` raises :class:`FeedStopped` instead of waiting for ever.

    >>> f = Feed(3); f.put(1); f.put(2); f.close(); list(f)
    [1, 2]
    """

    _END = object()

    def __init__(self, size: int = 2) -> None:
        self._q: queue.Queue[Any] = queue.Queue(size)
        self._stopped = threading.Event()

    def put(self, item: Any) -> None:
        while not self._stopped.is_set():
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise FeedStopped("the consumer of this feed stopped")

    def close(self) -> None:
        """No more items: the consumer's iteration ends after the ones waiting."""
        try:
            self.put(self._END)
        except FeedStopped:
            pass

    def stop(self) -> None:
        """The consumer will read no more (called by it, on its way out)."""
        self._stopped.set()

    def __iter__(self) -> Iterator[Any]:
        while (item := self._q.get()) is not self._END:
            yield item
