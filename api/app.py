"""The app factory: ``create_app(settings)``; the store is opened in the lifespan.

``uvicorn --factory api.app:create_app`` reads settings from ``TRAITKG_*`` variables; it serves
everything but hypotheses runs, which need the models: ``traitkg serve`` (``uvicorn --factory
kg.cli.serve:app_factory``) hands ``create_app`` the function that runs them.

>>> from fastapi.testclient import TestClient
>>> with TestClient(create_app(Settings(store="oxigraph:"))) as client:
...     client.get("/health").json()["status"]
'ok'
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api import errors, routers, sparql
from api.jobs import JobQueue, Progress
from api.query_pool import limit_malloc_arenas, runner_for
from api.routers.trees import ages_of
from api.settings import Settings
from kg import KnowledgeGraph, __version__

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"


def open_kg(settings: Settings) -> KnowledgeGraph:
    """Open the store a settings object names (read-only when asked and the backend allows it)."""
    if settings.read_only and settings.store.startswith("oxigraph:") and settings.store[len("oxigraph:"):]:
        from kg.core.store import OxigraphStore

        return KnowledgeGraph(OxigraphStore(settings.store[len("oxigraph:"):], read_only=True,
                                            snapshot_of=settings.snapshot_of))
    return KnowledgeGraph.open(settings.store)


def open_state(app: FastAPI, settings: Settings) -> None:
    """The store and its readers: for an on-disk store this process writes (uploads), the writer
    opens it, and requests and query workers read snapshots of it (:mod:`kg.core.store.snapshots`),
    renewed after each write; otherwise one KnowledgeGraph does both."""
    from kg.core.store import OxigraphStore, Snapshots

    kg = open_kg(settings)
    app.state.writer = kg
    app.state.snapshots = None
    snapshot = None
    store = kg.store
    if isinstance(store, OxigraphStore) and store.path is not None:
        if store.read_only:  # a snapshot taken by `traitkg serve --workers N`, or a store nobody writes
            from api.query_pool import FixedSnapshot

            snapshot = FixedSnapshot(store.data_dir or store.path)
        else:
            app.state.snapshots = Snapshots(store)
            snapshot = app.state.snapshots.take()
            kg = KnowledgeGraph(app.state.snapshots.reader(snapshot))
    app.state.kg = kg
    app.state.runner = runner_for(kg.store, workers=settings.query_workers, snapshot=snapshot,
                                  max_queries=settings.max_queries, queue_wait=settings.queue_wait)


def _problem_422(app: FastAPI) -> None:
    """Document validation errors as what they are: problem details (not FastAPI's default shape)."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = base()
        for path in doc.get("paths", {}).values():
            for op in path.values():
                if isinstance(op, dict) and "422" in op.get("responses", {}):
                    op["responses"]["422"] = errors.problem_responses(422)[422]
        for name in ("HTTPValidationError", "ValidationError"):
            doc.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def warm_parts(kg: KnowledgeGraph, views: dict, *,
               prefetch: bool = False) -> list[tuple[str, Callable[[], object]]]:
    """What a warm start reads before it serves, part by part (name, the function that opens it,
    keeping what a request reads in ``views``): tree indices, the term index, the trait tables, the
    prediction summaries; a part whose data is not loaded is left out. Each reads its index files
    beside the store (:mod:`kg.indexcache`), or builds and writes the ones missing: ``traitkg index``
    runs these same parts at the end of a build, so that a server start only reads. With
    ``prefetch`` (``traitkg index``: one process, the parts run right after), the summary graphs
    are read now, in a thread, while the other parts run, where their pages are to be built."""
    kinds = {g.kind for g in kg.graphs()}
    parts: list[tuple[str, Callable[[], object]]] = []

    def tree(name: str) -> None:
        views[("tree", name)] = t = kg.tree(name)
        t.prepare()  # the label table and tip counts too: the first request by tip names must not build them
        views[("ages", t.name)] = ages_of(t)

    for name in sorted({g.name for g in kg.graphs(kind="tree")}) if "tree" in kinds else ():
        parts.append((f"tree {name}", lambda name=name: tree(name)))
    if "ontology" in kinds:
        parts.append(("terms", lambda: kg.terms))
    if "phenotypes" in kinds:
        parts.append(("traits", kg.traits.prepare))  # calls, their tables, labels, evidence, trait pages

    fetched = None
    if prefetch and "predictions" in kinds:
        from api.routers._prediction_pages import prefetch_summaries

        fetched = prefetch_summaries(kg)

    def predictions() -> None:
        kg.predictions.chosen()  # the latest batches and their summary graphs, read from the manifest once
        from api.routers._prediction_pages import open_summary_pages
        from api.routers.predictions import summary_encoder

        open_summary_pages(kg, views, summary_encoder, fetched)  # every taxon's summaries encoded: no request reads the store

    if "predictions" in kinds:
        parts.append(("predictions", predictions))
    return parts


def warm_up(app: FastAPI) -> dict[str, float]:
    """Have ready what the first requests would otherwise wait for (:func:`warm_parts`). Returns
    the seconds of each part (logged at ``info``)."""
    kg: KnowledgeGraph = app.state.kg
    t = time.perf_counter()
    parts = warm_parts(kg, app.state.views)
    took: dict[str, float] = {"manifest": time.perf_counter() - t}
    for name, run in parts:
        t = time.perf_counter()
        run()
        took[name] = time.perf_counter() - t
    log.info("warmed up in %.2f s (%s)", sum(took.values()), ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    return took


def process_age() -> float | None:
    """Seconds since this process started (Linux: from ``/proc``; ``None`` elsewhere)."""
    try:
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


#: Runs one hypotheses job: (the KG readers see now, a context manager giving the writer under
#: the write lock, the request's parameters, progress) -> the run's JSON report.
HypothesisRunner = Callable[[KnowledgeGraph, Callable[[], AbstractContextManager[KnowledgeGraph]],
                             dict, Progress], dict]


def start_jobs(app: FastAPI, settings: Settings, hypothesize: HypothesisRunner | None) -> None:
    """The worker thread of hypotheses runs (none when the server was given no runner)."""
    from api.deps import write_access

    app.state.jobs = None
    if hypothesize is not None:
        def work(params: dict, progress: Progress) -> dict:
            return hypothesize(app.state.kg, lambda: write_access(app), params, progress)

        app.state.jobs = JobQueue(work, max_queued=settings.max_queued_jobs)


def create_app(settings: Settings | None = None, *, hypothesize: HypothesisRunner | None = None) -> FastAPI:
    """Build the traitkg web app: SPARQL protocol, REST routers (discovered) and the web page.
    ``hypothesize`` runs ``POST /api/v1/hypotheses/runs`` jobs (the web service never imports the
    models: the entry layer passes it, see :func:`kg.cli.serve.app_factory`); without it that
    route answers 503."""
    settings = settings or Settings.from_env()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_malloc_arenas()  # before the request threads and the store's threads allocate
        t0, age = time.perf_counter(), process_age()
        open_state(app, settings)
        start_jobs(app, settings, hypothesize)
        opened = time.perf_counter() - t0
        if settings.warm:
            warm_up(app)
        log.info("serving %s (%s); ready %s: store %.2f s, warm-up %.2f s", app.state.writer.selector,
                 "read-only" if settings.read_only else "read-write",
                 f"{age + time.perf_counter() - t0:.2f} s after the process started ({age:.2f} s to import and "
                 "build the app)" if age is not None else "", opened, time.perf_counter() - t0 - opened)
        try:
            yield
        finally:
            if app.state.jobs is not None:
                app.state.jobs.close()
            app.state.runner.close()
            app.state.kg = None
            if app.state.snapshots is not None:
                app.state.snapshots.close()
            app.state.writer.close()

    app = FastAPI(
        title="traitkg", version=__version__, lifespan=lifespan,
        summary="Organismal traits linked to phylogeny: SPARQL 1.1 endpoint and REST API",
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.write_lock = threading.Lock()
    app.state.views = {}
    errors.install(app)
    from api.fastroute import FastPaths

    # GETs with a fast path are answered before routing (inside CORS: its headers still apply)
    app.add_middleware(FastPaths, routes=lambda: [r for _, rt in routers.discover() for r in rt.routes])
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Accept"],
                           expose_headers=["X-TraitKG-Result-Count"])
    app.include_router(sparql.router)
    for _name, router in routers.discover():
        app.include_router(router)

    _problem_422(app)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
