"""A taxon's prediction summaries, encoded once per store state: what ``GET
/api/v1/taxa/{ref}/predictions`` serves for the default question (the latest batch of every model).

Every summary of those batches is read once (each summary graph whole, not one query per
request), and each is encoded as the answer writes it: :class:`~api.routers.predictions.PredictedTrait`
through its model, with the trait's label and the curated calls on its entity, once with their
evidence and once without. The encoded items sit in one blob with offsets, grouped by taxon, so
a page is a few slices and a join. Every summarised taxon is covered, not only those asked for.

The arrays are kept beside the store (:mod:`kg.indexcache`, kind ``summarypages``) under the key
of every graph of the manifest, so a later start maps the file (its pages shared by the server's
workers) instead of reading the summaries again. The server holds them with its views (dropped
after a write through the API): ``serve --warm`` opens them at start-up; otherwise the first
request starts a background build, and requests are answered from the store until it is done.
Pinned batches (``batch=``) are always read from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kg import indexcache as ic

log = logging.getLogger(__name__)
KEY = ("prediction-summary-pages",)
FORMAT = 1  # of the file kept beside the store (and of the items: the answer model's fields)
#: A summary row -> its item encoded with the curated calls' evidence, and without.
Encoder = Callable[[dict[str, Any]], tuple[bytes, bytes]]
_STARTED = threading.Lock()


class SummaryPages:
    """The encoded summaries of every taxon summarised in the latest batches (arrays: see
    :meth:`build`)."""

    def __init__(self, a: dict[str, Any], seconds: float = 0.0) -> None:
        self._a = a
        self._taxa = {t: i for i, t in enumerate(ic.unpack_strings(a, "taxa"))}
        self._tx_off = a["tx_off"]
        self._regions = ic.unpack_strings(a, "regions")
        self._region, self._pooled = a["region"], a["pooled"]
        self._blob = memoryview(a["blob"])
        self._ev, self._plain = a["off_ev"], a["off_plain"]
        self.seconds = seconds

    @property
    def taxa(self) -> int:
        return len(self._taxa)

    @property
    def rows(self) -> int:
        return len(self._region)

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self._a.values() if isinstance(v, np.ndarray))

    def select(self, taxon: str, *, pooled: bool = False, region: str | None = None) -> list[int]:
        """A taxon's rows (its IRI), scoped as :func:`kg.predictions.queries.scoped` does."""
        i = self._taxa.get(taxon)
        if i is None:
            return []
        lo, hi = int(self._tx_off[i]), int(self._tx_off[i + 1])
        names = self._regions
        regions = [names[r] for r in self._region[lo:hi].tolist()]
        if region is not None:
            return [lo + k for k, r in enumerate(regions) if r == region]
        if pooled:
            return [lo + k for k, r in enumerate(regions) if not r]
        return [lo + k for k, p in enumerate(self._pooled[lo:hi].tolist()) if not p]

    def items(self, rows: list[int], *, evidence: bool = True) -> bytes:
        """The rows' encoded items joined with commas."""
        off, blob = (self._ev if evidence else self._plain), self._blob
        return b",".join([blob[a:b] for a, b in off[rows].tolist()])

    @classmethod
    def build(cls, kg: Any, encode: Encoder, texts: dict[str, str] | None = None) -> SummaryPages:
        """Read every summary of the latest batches (each summary graph whole) and encode each
        (``encode(row)``: the item with and without the curated calls' evidence): per row its
        region and whether it pools regions, and where its two encodings sit in one blob; per
        taxon (IRI order) its rows. ``texts``: the summary graphs' TSV when read before
        (:func:`prefetch_summaries`)."""
        from kg.predictions.queries import all_summaries

        t0 = time.perf_counter()
        _, graphs = kg.predictions.chosen()
        rows = all_summaries(kg.store, graphs, texts)
        by_taxon: dict[str, list[dict[str, Any]]] = {}
        for r in rows:  # sorted by trait, model, taxon, region: each taxon's rows keep that order
            by_taxon.setdefault(r["taxon_iri"], []).append(r)
        taxa = sorted(by_taxon)
        regions = ic.StringTable()
        regions.id("")
        tx_off, region, pooled, parts = [0], [], [], []
        off = np.zeros((len(rows), 4), dtype=np.int64)
        pos = 0
        for tx in taxa:
            for r in by_taxon[tx]:
                ev, plain = encode(r)
                i = len(region)
                off[i, 0], off[i, 1] = pos, pos + len(ev)
                parts.append(ev)
                pos += len(ev)
                if plain == ev:
                    off[i, 2:] = off[i, :2]
                else:
                    off[i, 2], off[i, 3] = pos, pos + len(plain)
                    parts.append(plain)
                    pos += len(plain)
                region.append(regions.id(str(r.get("region") or "")))
                pooled.append(bool(r.get("regions")))
            tx_off.append(len(region))
        a = {**ic.pack_strings(taxa, "taxa"), **regions.arrays("regions"),
             "tx_off": np.asarray(tx_off, dtype=np.int64), "region": np.asarray(region, dtype=np.int32),
             "pooled": np.asarray(pooled, dtype=bool), "blob": np.frombuffer(b"".join(parts), dtype=np.uint8),
             "off_ev": np.ascontiguousarray(off[:, :2]), "off_plain": np.ascontiguousarray(off[:, 2:])}
        return cls(a, time.perf_counter() - t0)

    @classmethod
    def open(cls, kg: Any, encode: Encoder, fetched: Callable[[], dict[str, str]] | None = None) -> SummaryPages:
        """From the file kept for this store's graph versions (every graph of the manifest: the
        summaries, and the labels and calls beside them), else built and written (from the
        summary graphs' TSV ``fetched()`` gives, when :func:`prefetch_summaries` started reading it)."""
        from kg.core.graphs import list_graphs

        t0 = time.perf_counter()
        path = ic.path_for(kg.store, "summarypages", ic.graphs_key(list_graphs(kg.store), FORMAT))

        def read(a: dict[str, Any]) -> SummaryPages:
            if fetched is not None:  # written by another process meanwhile: the read in flight ends first
                try:
                    fetched()
                except Exception:  # its texts are not needed: the file is read
                    log.debug("the summary graphs' read ahead failed; the file is read", exc_info=True)
            a.pop("__meta__", None)
            return cls(a, time.perf_counter() - t0)

        def build() -> ic.Built[SummaryPages]:
            pages = cls.build(kg, encode, fetched() if fetched is not None else None)
            log.info("prediction summaries of %d taxa encoded (%d items, %.1f MB) in %.1f s", pages.taxa, pages.rows,
                     pages.nbytes / 1e6, pages.seconds)
            return ic.Built(pages, pages._a if pages.taxa else None)

        return ic.load_or_build(path, kind="summarypages", fmt=FORMAT, read=read, build=build)


def open_summary_pages(kg: Any, views: dict, encode: Callable[[Any], Encoder],
                       fetched: Callable[[], dict[str, str]] | None = None) -> SummaryPages | None:
    """The encoded summaries of ``kg`` now (from their file, else built and written, from what
    ``fetched`` gives where :func:`prefetch_summaries` read it), kept in ``views``; ``None`` for a
    store without prediction batches."""
    if not kg.graphs(kind="predictions"):
        return None
    got = views[KEY] = SummaryPages.open(kg, encode(kg), fetched)
    return got


def prefetch_summaries(kg: Any) -> Callable[[], dict[str, str]] | None:
    """Start reading the summary graphs of the latest batches (their TSV, written by the engine
    without the GIL) in a thread, when their pages file is missing: ``traitkg index`` has it read
    while it builds the term and trait files. Returns what waits for the texts (raising what the
    read raised), or ``None`` when there is nothing to read (no batches, the file written, every
    summary graph's summaries kept beside the store by its load: :mod:`kg.predictions.summary_file`)."""
    from kg.core.graphs import list_graphs
    from kg.predictions.queries import summary_tsv

    if not kg.graphs(kind="predictions"):
        return None
    path = ic.path_for(kg.store, "summarypages", ic.graphs_key(list_graphs(kg.store), FORMAT))
    if path is None or path.is_file():
        return None
    from kg.predictions import summary_file

    _, chosen = kg.predictions.chosen()  # here, not in the thread: the KG's caches stay one thread's
    kept = {r.iri for r in list_graphs(kg.store, kind=summary_file.SUMMARY_KIND) if summary_file.has(kg.store, r)}
    graphs = [g for g in chosen if g not in kept]  # the summaries the loads kept are read from their files
    if not graphs:
        return None
    store, out, failed = kg.store, {}, []

    def read() -> None:
        try:
            for g in graphs:
                out[g] = summary_tsv(store, g)
        except BaseException as exc:  # handed to the waiter
            failed.append(exc)

    th = threading.Thread(target=read, name="summary-prefetch", daemon=True)
    th.start()

    def wait() -> dict[str, str]:
        th.join()
        if failed:
            raise failed[0]
        return out

    return wait


def summary_pages(app: Any, encode: Callable[[Any], Encoder], *, wait: bool = False) -> SummaryPages | None:
    """The server's encoded summaries (``encode(kg)``: the encoder for a KG): built now with
    ``wait`` (``serve --warm``), else ``None`` until a background build (started by the first
    call) is done; ``None`` for a store without prediction batches."""
    views = app.state.views
    got = views.get(KEY)
    if got is not None:
        return got
    kg = app.state.kg
    if wait:
        if kg is None:
            return None
        return open_summary_pages(kg, views, encode)
    if KEY + ("started",) in views:
        return None
    with _STARTED:
        if KEY + ("started",) in views:
            return None
        views[KEY + ("started",)] = True
    if kg is None or not kg.graphs(kind="predictions"):
        return None

    def work() -> None:
        try:
            views[KEY] = SummaryPages.open(kg, encode(kg))  # into the views of the state it read
        except Exception:  # the store's own path keeps answering
            log.exception("prediction summaries could not be encoded")

    threading.Thread(target=work, name="summary-pages", daemon=True).start()
    return None
