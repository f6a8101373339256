"""The load entry points: one file (:func:`load`) or a batch (:func:`load_many`), each file parsed,
checked, resolved and built as N-Triples before one atomic write of its graph."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.core.bulk import Feed, FeedStopped, gc_paused
from kg.core.errors import SourceNotFound, ValidationError
from kg.core.graph_batch import GraphBatch
from kg.core.graphs import slug
from kg.core.names import Resolver, normalise_name
from kg.core.sources import Source
from kg.core.store import RdfFormat, Store
from loaders._base import Progress, ingest
from loaders.phenex.names import NAME_STATUSES, complete_fuzzy, resolve_otus
from loaders.phenex.nexml import parse
from loaders.phenex.rdf import matrix_ntriples
from loaders.phenex.records import LEFT_OUT, QUALITY_ONLY
from loaders.phenex.terms import drop_phenotypes_with, ontology_classes, unknown_terms
from loaders.report import LoadReport

KIND = "phenotypes"


@dataclass
class _Prepared:
    """One file parsed, checked, resolved and written as N-Triples: ready to go into the store."""

    src: Source
    name: str
    report: LoadReport
    data: bytes
    triples: int
    parameters: dict[str, Any]
    otus: list[Any]


def _prepare(src: Source, *, name: str | None, lenient: bool, known_terms: Collection[str] | None,
             resolver: Any, memo: dict | None = None, fuzzy: bool = True) -> _Prepared:
    """Everything before the write (no store access): parse, term checks, name resolution, N-Triples
    (``fuzzy=False``: the OTUs not matched get their fuzzy answers later, :func:`complete_fuzzy`;
    the graph is the same, it links matched OTUs only)."""
    m = parse(src, lenient=lenient)
    report = LoadReport(source=src.origin, kind=KIND)
    if m.problems:  # lenient parsing: incomplete phenotypes kept quality-only or left out
        for pr in m.problems:
            report.warn(pr.message, line=pr.line, value=pr.value)
        report.counts["phenotypes_quality_only"] = sum(1 for pr in m.problems if pr.kind == QUALITY_ONLY)
        report.counts["phenotypes_incomplete_left_out"] = sum(1 for pr in m.problems if pr.kind == LEFT_OUT)
    bad = unknown_terms(m, known_terms)
    if bad:
        if not lenient:
            t, line, why = bad[0]
            more = f" (and {len(bad) - 1} more: {', '.join(b[0] for b in bad[1:6])})" if len(bad) > 1 else ""
            raise ValidationError(f"{src.path}:{line}: unknown ontology term {t!r} in a phenotype: {why}{more}; "
                                  "load with lenient=True (--lenient) to leave such phenotypes out")
        for t, line, why in bad:
            report.warn(f"unknown ontology term left out: {why}", line=line, value=t)
        report.counts["phenotypes_dropped"] = drop_phenotypes_with(m, {b[0] for b in bad})
    if known_terms is None:
        report.warn("no ontology graphs in the store: term ids were not checked against an ontology")
    report.counts.update(m.counts())
    names = resolve_otus(m, resolver, memo, fuzzy=fuzzy)
    report.names = names  # type: ignore[attr-defined]  # per-OTU resolution (see names_report)
    _count_names(report)
    report.counts["names_universe"] = len(resolver)  # taxa resolved against (0: no taxonomy or tree loaded)
    links = {o.id: (x.taxon, x.matched_name or normalise_name(o.label))
             for o, x in zip(m.otus, names) if x.status == "matched" and x.taxon}
    nm = name or slug(src.stem)
    data, n_triples = matrix_ntriples(m, nm, report, links)
    return _Prepared(src, nm, report, data, n_triples, {"lenient": True} if lenient else {}, m.otus)


def _count_names(report: LoadReport) -> None:
    for st in NAME_STATUSES:
        report.counts[f"names_{st}"] = sum(1 for x in report.names if x.status == st)  # type: ignore[attr-defined]


def _write(store: Store, job: _Prepared, version: str | None,
           on_written: Callable[[str, bytes], Any] | None = None, batch: GraphBatch | None = None,
           feed: Feed | None = None) -> LoadReport:
    def writer(graph: str) -> int:
        if feed is not None:  # the batch's one load (load_many) takes it from there
            feed.put((graph, job.data))
        else:
            # bytes: parsed without the GIL; leniently, as every IRI in them was written by pyoxigraph
            # (loaders.phenex.rdf: each term once through NamedNode/Literal, cells as checked OTU IRIs + /cell/<n>)
            store.load_file(job.data, RdfFormat.N_TRIPLES, graph, lenient=True)
        return job.triples  # distinct lines: the graph's size

    rep = ingest(store, job.src, kind=KIND, name=job.name, version=version, loader="phenex", writer=writer,
                 report=job.report, parameters=job.parameters, counted=True, batch=batch)
    if on_written is not None and rep.status == "loaded":  # the graph holds exactly these triples
        on_written(rep.graph, job.data)
    return rep


_UNSET: Any = object()


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         lenient: bool = False, known_terms: Collection[str] | None = _UNSET, resolver: Any = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load one Phenex NeXML file into graph ``phenotypes/<name>/<version>``.

    Term ids are checked against ``known_terms`` (IRIs) when given, else against the classes of
    the ontology graphs in the store (if any). Unknown terms raise ``ValidationError`` naming
    term, file and line; with ``lenient=True`` the phenotypes using them are left out and reported.
    An incomplete phenotype (no bearer entity, a term without an id...) raises ``ParseError`` with
    file and line; with ``lenient=True`` one with a quality is kept quality-only, the others are
    left out (counts ``phenotypes_quality_only``, ``phenotypes_incomplete_left_out``; a problem each).
    OTUs are resolved to taxa (``resolver``, default: the store's taxonomy and tree tips, see
    :func:`kg.core.names.resolver`): the report's ``names`` holds one match per OTU, its counts
    ``names_matched`` ... ``names_unmatched``; matched OTUs link to the taxon matched.
    """
    from kg.core.names import resolver as make_resolver

    src = source if isinstance(source, Source) else Source.resolve(source)
    if known_terms is _UNSET:
        known_terms = ontology_classes(store)
    job = _prepare(src, name=name, lenient=lenient, known_terms=known_terms,
                   resolver=resolver if resolver is not None else make_resolver(store))
    if progress:
        progress(src.size, src.size)
    return _write(store, job, version)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus every ``*.xml`` (and ``*.xml.gz``) below directories named, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.is_file() and x.name.endswith((".xml", ".xml.gz")))
            if not found:
                raise SourceNotFound(f"{p}: no NeXML file (*.xml, *.xml.gz) in this directory")
            out += found
        else:
            out.append(p)
    return out


def load_many(store: Store, paths: Iterable[str | Path], *, lenient: bool = False,
              progress: Progress | None = None, on_written: Callable[[str, bytes], Any] | None = None,
              then: Callable[[GraphBatch, Feed], Any] | None = None, resolver: Resolver | None = None,
              **options: Any) -> list[LoadReport]:
    """Load many files (directories are searched for ``*.xml``), one graph per matrix.

    Ontology terms are looked up once for the whole batch. The batch is atomic: each graph is
    written as its file is ready and all are listed in the manifest together at the end (one
    transaction, :class:`kg.core.graph_batch.GraphBatch`); the first bad file raises and no graph of
    the batch stays. ``on_written(graph, data)`` is called for each graph written, with the
    N-Triples it holds. ``then(batch, feed)`` runs after the last file, in the batch: what it
    writes (``batch.write`` with a writer that puts ``(graph, N-Triples)`` on ``feed``) goes in the
    same load and is listed with the matrices (the facade's inference graph). ``resolver``: the
    OTUs' names are resolved by it (default: :func:`kg.core.names.resolver` of the store, read
    through SPARQL; the facade passes the one kept beside the store)."""
    from concurrent.futures import ThreadPoolExecutor

    from kg.core.names import resolver as make_resolver

    files = expand_paths(paths)
    if options.get("name") and len(files) != 1:
        raise ValidationError(f"a graph name ({options['name']!r}) applies to one file; {len(files)} files given")
    known = ontology_classes(store)
    resolver = resolver if resolver is not None else make_resolver(store)
    memo: dict = {}
    version = options.get("version")
    reports: list[LoadReport] = []
    # parsing makes many small acyclic objects (the collector's passes cost more than the work). The
    # batch's graphs go to the store as one load (Store.load_graphs, in a thread: the engine parses
    # without the GIL) fed file by file while the next file is parsed; fewer, larger bulk loads cost
    # the engine less (each load's files are ingested and compacted beside the store's). The load
    # ends before the batch lists the graphs, or drops them on an error.
    # The OTUs' fuzzy searches (names report only: a graph links matched OTUs) run for the whole batch
    # at once after the last graph is handed over, while the engine ends the load.
    resolved: list[tuple[list[Any], list[Any]]] = []
    with GraphBatch(store) as batch, gc_paused(), ThreadPoolExecutor(1) as pool:
        feed = Feed(2)
        loading = pool.submit(_consume, store, feed)
        try:
            for f in files:
                job = _prepare(Source.resolve(f), name=options.get("name"), lenient=lenient, known_terms=known,
                               resolver=resolver, memo=memo, fuzzy=False)
                reports.append(_write(store, job, version, on_written, batch, feed))
                resolved.append((job.otus, job.report.names))  # type: ignore[attr-defined]
                if progress:
                    progress(len(reports), len(files))
            if then is not None:
                then(batch, feed)
        except FeedStopped:
            resolved = []  # the store's load failed: its error is raised below
        finally:
            feed.close()
        complete_fuzzy(resolved, resolver)
        loading.result()
    for rep in reports:
        _count_names(rep)
    return reports


def _consume(store: Store, feed: Feed) -> None:
    try:
        store.load_graphs(feed)
    finally:
        feed.stop()
