"""Bulk writes shared by the loaders and the derived graphs (closure, inference, trees).

:func:`load_chunks` feeds N-Triples chunks to the store's bulk path with the next chunk built in
a thread meanwhile (the store parses ``bytes`` without holding the GIL); :func:`gc_paused` keeps
the cyclic garbage collector out of builds that make millions of small acyclic objects.

>>> from kg.store import open_store
>>> s = open_store("oxigraph:")
>>> chunks = iter([(b'<http://x/a> <http://x/p> <http://x/b> .\\n', 1), (b'<http://x/a> <http://x/p> "c" .\\n', 1)])
>>> load_chunks(s, chunks, "http://x/g"), s.count("http://x/g")
(2, 2)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from kg.store import RdfFormat, Store


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
                fmt: RdfFormat = RdfFormat.N_TRIPLES) -> int:
    """Load ``(bytes, triples)`` chunks into ``graph``, one store bulk load per chunk, the next
    chunk built in a thread while the store parses this one. Returns the sum of the counts (the
    graph's size when the producer's lines are distinct)."""
    from concurrent.futures import ThreadPoolExecutor

    total = 0
    with ThreadPoolExecutor(1) as pool:
        nxt = pool.submit(next, chunks, None)
        while (item := nxt.result()) is not None:
            nxt = pool.submit(next, chunks, None)
            data, n = item
            store.load_file(data, fmt, graph)  # bytes: parsed without the GIL
            total += n
            del data, item
    return total
