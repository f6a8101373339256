"""What route handlers get injected: settings, the knowledge graph, the query runner, auth,
pagination and CURIE parsing. Handlers stay thin; this module holds the shared plumbing.

>>> paginate(list(range(5)), Page(limit=2, offset=2))["items"]
[2, 3]
>>> to_iri("UBERON:0002101")
'http://purl.obolibrary.org/obo/UBERON_0002101'
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from api.errors import Forbidden, Unauthorized
from api.query_pool import QueryRunner, trim_heap
from api.settings import Settings
from kg import KnowledgeGraph
from kg.core.errors import ValidationError

T = TypeVar("T")
log = logging.getLogger(__name__)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_kg(request: Request) -> KnowledgeGraph:
    return request.app.state.kg


def get_runner(request: Request) -> QueryRunner:
    return request.app.state.runner


# The same, as ``async def`` dependencies: they only read app state, and a sync dependency would
# cost a hop through the thread pool on every request.

async def settings_dep(request: Request) -> Settings:
    return get_settings(request)


async def kg_dep(request: Request) -> KnowledgeGraph:
    return get_kg(request)


async def runner_dep(request: Request) -> QueryRunner:
    return get_runner(request)


SettingsDep = Annotated[Settings, Depends(settings_dep)]
KGDep = Annotated[KnowledgeGraph, Depends(kg_dep)]
RunnerDep = Annotated[QueryRunner, Depends(runner_dep)]


def check_token(settings: Settings, authorization: str | None) -> None:
    """401 without a bearer token, 403 with a wrong one or when writes are switched off."""
    if settings.read_only:
        raise Forbidden("this server opened the store read-only (several workers share it); "
                        "writes need `traitkg serve --workers 1`")
    if not settings.api_token:
        raise Forbidden("writes are disabled: the server has no TRAITKG_API_TOKEN configured")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this operation needs 'Authorization: Bearer <token>'",
                           headers={"WWW-Authenticate": 'Bearer realm="traitkg"'})
    if not hmac.compare_digest(token.strip().encode(), settings.api_token.encode()):
        raise Forbidden("the bearer token is not valid for this server",
                        headers={"WWW-Authenticate": 'Bearer realm="traitkg", error="invalid_token"'})


async def require_token(request: Request, settings: SettingsDep) -> None:
    """Dependency for write routes."""
    check_token(settings, request.headers.get("authorization"))


WriteAccess = Depends(require_token)


@contextmanager
def writing(request: Request) -> Iterator[KnowledgeGraph]:
    """Serialise writes through the process that owns the store; afterwards readers move to a new
    snapshot (never half of a write: :func:`after_write`) and cached views are dropped."""
    with write_access(request.app) as kg:
        yield kg


@contextmanager
def write_access(app: Any) -> Iterator[KnowledgeGraph]:
    """:func:`writing` for work that runs outside a request (a job of :mod:`api.jobs`)."""
    lock: threading.Lock = app.state.write_lock
    with lock:
        try:
            yield app.state.writer
        finally:
            after_write(app)


def after_write(app: Any) -> None:
    """A write through this process ended: readers move to a new snapshot, cached views go."""
    writer: KnowledgeGraph = app.state.writer
    writer.store.flush()
    writer.invalidate()
    snaps = app.state.snapshots
    if snaps is not None:
        # The database the writer keeps open grows by megabytes with each write until it is
        # reopened (kg.core.store.embedded.OxigraphStore.reopen); only writes use it, under the lock.
        if not snaps.store.reopen():
            log.warning("the store could not be reopened after a write; its memory keeps growing")
        snap = snaps.take()
        app.state.kg = KnowledgeGraph(snaps.reader(snap))
        app.state.runner.refresh(snap)
    else:
        app.state.kg.invalidate()
    app.state.views = {}  # a new dict: a request still building from the old snapshot fills the old one
    _trim_heap()


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system after a write (a load's parse and closure
    leave megabytes of freed arenas that glibc keeps; a long-running server would grow by them)."""
    trim_heap()


def cached_view(request: Request, key: Any, build: Callable[[], Any]) -> Any:
    """A derived view (a tree object, a per-taxon answer) kept until the next write through the API.

    The facade's own lookups may touch the store (``kg.tree(name)`` reads the manifest); REST
    handlers look views up here so a request costs one or two in-memory lookups.
    """
    views: dict[Any, Any] = request.app.state.views
    try:
        return views[key]
    except KeyError:
        value = views[key] = build()
        return value


# --------------------------------------------------------------------------- pagination

@dataclass
class Page:
    """``limit``/``offset`` of a list request."""

    limit: int = 100
    offset: int = 0


async def page_params(limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
                offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0) -> Page:
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(page_params)]


class Paged(BaseModel, Generic[T]):
    """One page of a list: the items, the total and where the next page is."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int
    next: str | None = Field(None, description="URL of the next page, or null on the last one.")


def paginate(items: Sequence[Any], page: Page, request: Request | None = None,
             convert: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Cut one page out of a full list and say where the next page starts."""
    chunk = list(items[page.offset: page.offset + page.limit])
    if convert:
        chunk = [convert(x) for x in chunk]
    nxt = None
    if request is not None and page.offset + page.limit < len(items):
        nxt = str(request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit))
    return {"items": chunk, "total": len(items), "limit": page.limit, "offset": page.offset, "next": nxt}


# --------------------------------------------------------------------------- identifiers

def to_iri(text: str) -> str:
    """A CURIE or IRI from a request -> IRI (unknown prefixes: 400 with a suggestion)."""
    from ontologies.prefixes import expand

    if not text or not text.strip():
        raise ValidationError("an identifier (CURIE such as UBERON:0002101, or an IRI) is required")
    return expand(text)


def to_curie(iri: str) -> str:
    from ontologies.prefixes import contract

    return contract(iri)
