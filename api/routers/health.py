"""``GET /health``: is the server up and can it reach its store."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import KGDep, SettingsDep
from api.errors import problem_responses
from kg import __version__

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    store: str
    graphs: int
    read_only: bool
    writes_enabled: bool


@router.get("/health", response_model=Health, responses=problem_responses(503))
def health(kg: KGDep, settings: SettingsDep) -> Health:
    """Liveness and the store's reach: the number of named graphs is read from the store."""
    return Health(status="ok", version=__version__, store=kg.selector, graphs=len(kg.store.named_graphs()),
                  read_only=settings.read_only, writes_enabled=bool(settings.api_token) and not settings.read_only)


class Pong(BaseModel):
    ok: bool


@router.get("/ping", response_model=Pong)
def ping() -> Pong:
    """Liveness only (touches nothing): the HTTP floor of this app in benchmarks."""
    return Pong(ok=True)
