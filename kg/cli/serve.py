"""``traitkg serve``: the web API, SPARQL endpoint and web page with uvicorn (factory mode)."""

from __future__ import annotations

import os
from typing import Any

import click

from kg.cli._app import main


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="uvicorn worker processes. More than one serves a snapshot of the store read-only (no "
              "uploads); this process keeps the store, so no load runs beside them.")
@click.option("--query-timeout", type=float, help="Seconds a SPARQL query may run (TRAITKG_QUERY_TIMEOUT).")
@click.option("--warm", is_flag=True, help="Build tree, term and trait indices before serving (TRAITKG_WARM).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, query_timeout: float | None, warm: bool,
          log_level: str) -> None:
    """Serve /sparql, /api/v1 and the web page at http://HOST:PORT/ (settings: TRAITKG_* variables)."""
    import uvicorn

    from api.settings import Settings
    from kg.indexlock import wait_limit

    wait_limit()  # a bad TRAITKG_INDEX_WAIT fails here, in one line, not in a worker's first wait
    selector = ctx.find_root().obj["selector"]
    os.environ["TRAITKG_STORE"] = selector
    owner = None
    if workers > 1:
        os.environ["TRAITKG_READ_ONLY"] = "1"
        if selector.startswith("oxigraph:") and selector[len("oxigraph:"):]:
            # this process owns the store for as long as it serves (no load can run beside the
            # workers: the engine's lock), and the workers read one snapshot of it
            from kg import KnowledgeGraph
            from kg.core.store import Snapshots

            owner = KnowledgeGraph.open(selector)
            snaps = Snapshots(owner.store)
            os.environ["TRAITKG_STORE"] = f"oxigraph:{snaps.take().directory}"
            os.environ["TRAITKG_SNAPSHOT_OF"] = str(owner.store.path)  # index files: the store's
    if warm:
        os.environ["TRAITKG_WARM"] = "1"
    if query_timeout is not None:
        os.environ["TRAITKG_QUERY_TIMEOUT"] = str(query_timeout)
    Settings.from_env()  # fail here, with one line, on a bad setting
    click.echo(f"traitkg: serving {os.environ['TRAITKG_STORE']} on http://{host}:{port}/ "
               f"({workers} worker{'s' if workers > 1 else ''})", err=True)
    try:
        uvicorn.run("kg.cli.serve:app_factory", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, log_config=log_config(log_level), access_log=False)
    finally:
        if owner is not None:
            owner.close()


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with traitkg's own loggers (``kg``, ``api``: the start-up's timings at
    ``info``, warnings) at the same level and through the same handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    cfg = copy.deepcopy(LOGGING_CONFIG)
    for name in ("kg", "api"):
        cfg["loggers"][name] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return cfg


def app_factory() -> Any:
    """The app ``traitkg serve`` runs (``uvicorn --factory kg.cli.serve:app_factory``): settings from
    ``TRAITKG_*`` variables, and hypotheses runs over REST (the entry layer hands the web service
    the function that runs the models; the web service never imports them)."""
    from api.app import create_app
    from kg.cli.hypothesize import run_for_server

    return create_app(hypothesize=run_for_server)
