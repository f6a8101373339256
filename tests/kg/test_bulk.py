"""kg.core.bulk.load_chunks: several bulk loads at once into one graph, on every backend."""

from __future__ import annotations

import threading

import pytest

from kg.core.bulk import load_chunks
from kg.core.store import open_store

EX = "https://example.org/"
G = EX + "g"


def _chunks(n_chunks: int, per_chunk: int):
    for c in range(n_chunks):
        lines = [f"<{EX}s{c}-{i}> <{EX}p> <{EX}o{i % 7}> .\n<{EX}s{c}-{i}> <{EX}label> \"chunk {c} item {i}\" ."
                 for i in range(per_chunk)]
        yield ("\n".join(lines) + "\n").encode(), 2 * per_chunk


@pytest.mark.parametrize("workers", [1, 3])
def test_every_chunk_lands_once(store, workers):
    assert load_chunks(store, _chunks(9, 50), G, workers=workers) == 900
    assert store.count(G) == 900
    rows = store.select(f'SELECT ?s WHERE {{ GRAPH <{G}> {{ ?s <{EX}label> "chunk 8 item 49" }} }}').values()
    assert rows == [(f"{EX}s8-49",)]


def test_on_disk_stores_load_side_by_side_and_memory_one_at_a_time(tmp_path):
    disk, mem = open_store(f"oxigraph:{tmp_path / 's'}"), open_store("oxigraph:")
    assert disk.bulk_workers >= 1 and mem.bulk_workers == 1


def test_the_stores_worker_count_is_how_many_loads_run_at_once(tmp_path):
    store = open_store(f"oxigraph:{tmp_path / 's'}")
    store.bulk_workers = 2
    both_started = threading.Barrier(2, timeout=30)  # the first two loads only go on together
    lock = threading.Lock()
    active, most, calls = [0], [0], [0]
    real = store.load_file

    def watched(*a, **kw):  # a real load behind it: only counts how many run at the same time
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            calls[0] += 1
            first_two = calls[0] <= 2
        try:
            if first_two:
                both_started.wait()
            return real(*a, **kw)
        finally:
            with lock:
                active[0] -= 1

    store.load_file = watched
    assert load_chunks(store, _chunks(6, 2000), G) == 24_000 and store.count(G) == 24_000
    assert most[0] == 2 and calls[0] == 6


def test_a_bad_chunk_raises_once_every_started_load_has_ended(tmp_path):
    store = open_store(f"oxigraph:{tmp_path / 's'}")

    def chunks():
        yield from _chunks(3, 500)
        yield b"<https://example.org/a> <https://example.org/b> .\n", 1  # no object: a syntax error
        yield from _chunks(3, 500)

    with pytest.raises(SyntaxError):
        load_chunks(store, chunks(), G, workers=3)
    settled = store.count(G)
    assert settled == store.count(G) and settled <= 6 * 1000  # nothing is still writing


def test_a_failing_producer_stops_the_load_and_raises_its_error(tmp_path):
    store = open_store(f"oxigraph:{tmp_path / 's'}")

    def chunks():
        yield from _chunks(2, 10)
        raise ValueError("producer broke at chunk 3")

    with pytest.raises(ValueError, match="chunk 3"):
        load_chunks(store, chunks(), G, workers=2)
