"""ML predictions from images as a knowledge tier of their own (the facade's ``kg.predictions``).

Loading (:meth:`Predictions.load`): the loader (:mod:`loaders.predictions`) reads and checks the
table; :mod:`kg.predictions.linking` resolves its taxon names and trait labels against the store;
the loader writes the batch graph; :mod:`kg.predictions.summary` precomputes the taxon-level
summaries into a derived graph. Queries take the latest version of every model unless a batch is
pinned (``batch="predictions/NAME/VERSION"`` or ``"NAME"``).

>>> from kg import KnowledgeGraph
>>> from kg.demo import sample_dir
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = g.load_taxonomy(sample_dir() / "taxonomy.csv")
>>> rep = g.predictions.load(sample_dir() / "predictions.csv")
>>> rep.graph.endswith("graph/predictions/fin-presence-convnext/2026.11.1"), rep.counts["predictions"]
(True, 12)
>>> [(s["trait"], s["states"]) for s in g.predictions.summary("Danio rerio")]
[('UBERON:2000251', {'absent': 1})]
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.core.errors import NotFound
from kg.core.graphs import GraphRecord, get_graph
from kg.core.names import normalise_name, taxon_iri
from kg.core.store import Store

if TYPE_CHECKING:  # pandas is imported where a table is made: a server's start does not pay for it
    import pandas as pd


class _Resolving:
    """:func:`kg.taxon_names.store_resolver` of a store, read by a thread of its own from now on;
    :meth:`result` waits for it (and raises what it raised)."""

    def __init__(self, store: Store) -> None:
        import threading

        self._out: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(store,), daemon=True, name="taxon-names")
        self._thread.start()

    def _run(self, store: Store) -> None:
        from kg.taxon_names import store_resolver

        try:
            self._out.append(store_resolver(store))
        except BaseException as exc:  # noqa: BLE001 (raised by result())
            self._out.append(exc)

    def wait(self) -> None:
        """Until the thread has let go of the store (whatever it read or raised)."""
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if isinstance(self._out[0], BaseException):
            raise self._out[0]
        return self._out[0]


class Predictions:
    """Prediction batches in one store: load, query, summarise, check."""

    def __init__(self, store: Store, cache: dict[str, Any] | None = None, *, kg: Any = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}
        self._kg = kg

    # ------------------------------------------------------------------ loading
    def load(self, path: str | Path, *, mapping: Any = None, model: str | None = None,
             model_version: str | None = None, batch: MappingABC[str, Any] | None = None, lenient: bool = False,
             new_taxa: bool = False, name: str | None = None, fmt: str | None = None, encoding: str | None = None,
             rows: str = "auto", chunk_rows: int | None = None, **options: Any) -> Any:
        """Load one batch (see :mod:`loaders.predictions` and docs/formats/predictions.md); ``mapping``
        is a dict, a :class:`loaders.predictions.Mapping` or a YAML file; ``encoding`` the text
        encoding of a CSV/TSV (default: the mapping's, else UTF-8; only mapped columns must
        decode). Taxon names must resolve exactly against the loaded taxonomies and trees unless
        ``new_taxa``. ``rows``: where the per-image rows go: ``"rdf"`` (the batch graph),
        ``"parquet"`` (a side table the image, taxon, diff and accuracy questions read; see
        docs/scale.md) or ``"auto"`` (Parquet from 200,000 predictions up). The table is read, checked and
        written ``chunk_rows`` records at a time (default :data:`loaders._prediction_scan.CHUNK_ROWS`;
        the same graphs and files whatever the chunk), every check before any write. Returns the
        load report, with ``summary_triples`` in its counts when summaries were written."""
        from kg.core.sources import Source
        from kg.predictions import summary
        from kg.predictions.linking import link
        from kg.predictions.summary import write_summaries
        from loaders import predictions as loader

        src = Source.resolve(path)
        m = loader.Mapping.read(mapping) if isinstance(mapping, (str, Path)) else mapping
        names = _Resolving(self.store)  # the store's taxa are read while the table is (the engine lets go of the GIL)
        try:
            scan = loader.scan_table(src, m, fmt=fmt, encoding=encoding,  # first pass: checks, names, kinds
                                     **({"chunk": chunk_rows} if chunk_rows else {}))
            terms = self._terms() if any(t and ":" not in t for t in scan.traits) else None
        except BaseException:  # a bad table: no thread may still hold the store when the error leaves here
            names.wait()  # (the caller closes the store next; a reader left behind keeps it open in this process)
            raise
        try:
            lk = link(self.store, None, taxa_names=[x for x in scan.taxa if x], trait_names=list(scan.traits),
                      terms=terms, trait_labels=scan.mapping.trait_labels, new_taxa=new_taxa, resolve=names.result())
            report = loader.load(self.store, src, scan=scan, taxa=lk.taxa, traits=lk.traits, model=model,
                                 model_version=model_version, batch=batch, lenient=lenient, name=name,
                                 encoding=encoding, rows=rows, summary=summary, **options)
            for note in lk.notes:
                report.warn(note)
            self._forget()
            try:
                if report.status in ("loaded", "unchanged"):  # unchanged: a no-op, unless a killed load left no summary
                    rec = get_graph(self.store, report.graph)
                    srec = write_summaries(self.store, rec, None, None, frames=report.summary_frames)
                    report.counts["summary_triples"] = srec.triples
            finally:
                self._forget()  # the summary graph is in the manifest now
        finally:
            scan.close()  # the first pass's kept chunks
        return report

    def _forget(self) -> None:
        """Drop what was read from the manifest (after a write): the facade's whole cache, or,
        without a facade, this object's batch choices."""
        if self._kg is not None:
            self._kg.invalidate()
        for key in [k for k in self._cache if isinstance(k, tuple) and k[:1] == ("prediction-batches",)]:
            del self._cache[key]

    def _terms(self) -> Any:
        if self._kg is not None:
            return self._kg.terms
        from kg.terms import TermIndex

        return TermIndex.build(self.store)

    # ------------------------------------------------------------------ batches
    def batches(self, batch: str | None = None, *, latest: bool = False) -> list[GraphRecord]:
        """Prediction batches (every version unless ``latest``), or the one named by ``batch``."""
        from kg.predictions.queries import batches

        return batches(self.store, batch, latest=latest)

    def batch(self, ref: str) -> GraphRecord:
        return self.batches(ref)[0]

    # ------------------------------------------------------------------ queries
    def taxon(self, name_or_iri: str) -> str:
        """A taxon IRI from a name, ``taxon:`` CURIE or IRI."""
        from ontologies.prefixes import expand

        text = name_or_iri.strip()
        if text.startswith("http"):
            return text
        if ":" in text and " " not in text:
            return expand(text)
        return taxon_iri(normalise_name(text))

    def image(self, image: str, *, batch: str | None = None, latest: bool = True) -> dict[str, Any]:
        """An image's predictions (ARK id, other id or IRI) and its metadata."""
        from kg.predictions.queries import image_predictions

        return image_predictions(self.store, image, batch=batch, latest=latest)

    def of_taxon(self, taxon: str, *, batch: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Image-level predictions about a taxon (at most ``limit``)."""
        from kg.predictions.queries import taxon_predictions

        return taxon_predictions(self.store, self.taxon(taxon), batch=batch, limit=limit)

    def summary(self, taxon: str, *, batch: str | None = None, pooled: bool = False,
                region: str | None = None) -> list[dict[str, Any]]:
        """A taxon's precomputed summaries: continuous traits (n, mean, sd, se, quartiles, unit) and
        categorical ones (state counts), one per trait and model (latest versions, or ``batch``).
        Traits measured per region (left/right wing...) have one summary per region (``region``),
        or, with ``pooled``, one over every region (``regions`` lists them); ``region`` picks one."""
        from kg.predictions.queries import taxon_summaries

        chosen, graphs = self.chosen(batch)
        out = taxon_summaries(self.store, self.taxon(taxon), pooled=pooled, region=region, graphs=graphs)
        if not out and not chosen:
            raise NotFound("no prediction batches loaded: run `traitkg load predictions PATH` first")
        return out

    def chosen(self, batch: str | None = None) -> tuple[list[GraphRecord], dict[str, GraphRecord]]:
        """The batches a query reads (``batch``, else the latest version of every model) and their
        summary graphs (summary graph IRI -> batch), read from the manifest once and kept in the
        facade's cache, which every write through the facade (and the server, after a write)
        clears: a taxon's summary then costs its bound query alone."""
        from kg.predictions.queries import batches, summary_graphs

        key = ("prediction-batches", batch)
        hit = self._cache.get(key)
        if hit is None:
            chosen = batches(self.store, batch)
            hit = self._cache[key] = (chosen, summary_graphs(self.store, chosen))
        return hit

    def summaries(self, trait: str, *, batch: str | None = None, pooled: bool = False,
                  region: str | None = None) -> pd.DataFrame:
        """Per-taxon summaries of one trait: a DataFrame ``taxon, n, mean, sd, se, unit, region, ...``
        (the table comparative methods take; per region where the trait was measured per region,
        unless ``pooled``, or only ``region``)."""
        from kg.predictions.queries import trait_summaries
        from ontologies.prefixes import expand

        return trait_summaries(self.store, trait if trait.startswith("http") else expand(trait), batch=batch,
                               pooled=pooled, region=region)

    # ------------------------------------------------------------------ checks
    def accuracy(self, batch: str) -> dict[str, Any]:
        """Accuracy of a batch's species predictions (stored rows, and the table as published)."""
        from kg.predictions.accuracy import accuracy

        return accuracy(self.store, self.batch(batch))

    def confusion(self, batch: str) -> dict[str, dict[str, int]]:
        from kg.predictions.accuracy import confusion

        return confusion(self.store, self.batch(batch))

    def accuracy_by(self, batch: str, *, rank: str | None = None) -> list[dict[str, Any]]:
        """Accuracy per true taxon, or per clade at a rank of the loaded taxonomy."""
        from kg.predictions.accuracy import by_taxon

        return by_taxon(self.store, self.batch(batch), rank=rank)

    def diff(self, a: str, b: str, *, sample: int = 10) -> dict[str, Any]:
        """Predictions changed, added and removed between two batches (matched on image, trait and region)."""
        from kg.predictions.diff import diff_batches

        return diff_batches(self.store, self.batch(a), self.batch(b), sample=sample)

    def agreement(self, *, taxon: str | None = None, batch: str | None = None,
                  only_disagreements: bool = False) -> list[dict[str, Any]]:
        """Predicted presence/absence against curated and inferred calls, per taxon and entity:
        ``agree``, ``disagree`` (an expectation-vs-observation item) or ``no-expectation``."""
        from kg.predictions.agreement import agreement

        if self._kg is None:
            raise NotFound("agreement needs the facade's trait calls: use KnowledgeGraph.predictions")
        rows = agreement(self.store, self._kg.traits, taxon=self.taxon(taxon) if taxon else None, batch=batch)
        return [r for r in rows if r["status"] == "disagree"] if only_disagreements else rows


__all__ = ["Predictions"]
