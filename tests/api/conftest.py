"""API fixtures: a toy store on disk, TestClients over it, and a real uvicorn server on loopback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/api is not a package (it would shadow `api`)
from _api_support import TOKEN, Uvicorn, load_toy  # noqa: E402


@pytest.fixture(scope="module")
def toy_selector(tmp_path_factory, toy) -> str:
    """A read-mostly toy store shared by a test module (tests that write use ``fresh_selector``)."""
    return load_toy(tmp_path_factory.mktemp("api") / "store", toy)


@pytest.fixture
def fresh_selector(tmp_path, toy) -> str:
    return load_toy(tmp_path / "store", toy)


@pytest.fixture
def make_client() -> Iterator[Callable[..., object]]:
    """``with make_client(selector, **settings) as client:`` — a TestClient with the lifespan run."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    @contextmanager
    def make(selector: str, **kw: object) -> Iterator[TestClient]:
        kw.setdefault("api_token", TOKEN)
        kw.setdefault("query_workers", 1)
        with TestClient(create_app(Settings(store=selector, **kw)), raise_server_exceptions=False) as c:
            yield c

    yield make


@pytest.fixture(scope="module")
def client(toy_selector, request):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(store=toy_selector, api_token=TOKEN, query_workers=2)),
                    raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, toy):
    selector = load_toy(tmp_path_factory.mktemp("live") / "store", toy)
    srv = Uvicorn({"TRAITKG_STORE": selector, "TRAITKG_API_TOKEN": TOKEN, "TRAITKG_QUERY_TIMEOUT": "20"})
    yield srv
    srv.stop()
