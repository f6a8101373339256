"""Shared fixtures: stores on both backends (a real Oxigraph server on loopback, no mocks),
the toy world in tests/data and the real data in ../shared/data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOY = ROOT / "tests" / "data"
SHARED = Path(os.environ.get("TRAITKG_SHARED", ROOT.parent / "shared" / "data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _oxigraph_binary() -> str:
    exe = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(exe).exists():
        raise RuntimeError("the `oxigraph` server binary is missing: pip install oxigraph (make setup does)")
    return exe


class OxigraphServer:
    """``oxigraph serve`` on a free loopback port, started and stopped by a fixture."""

    def __init__(self, location: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [_oxigraph_binary(), "serve", "--location", str(location), "--bind", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited: {self.proc.stderr.read().decode()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("oxigraph serve did not start within 30 s")

    @property
    def selector(self) -> str:
        return f"sparql:{self.url}/query"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    srv = OxigraphServer(tmp_path_factory.mktemp("oxigraph-server"))
    yield srv
    srv.stop()


def _clear_remote(selector: str) -> None:
    from kg.store import open_store

    s = open_store(selector)
    s.update("DROP SILENT ALL")
    s.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def store(request, tmp_path):
    """A fresh, empty store on each backend: embedded on-disk pyoxigraph and a real Oxigraph server."""
    from kg.store import open_store

    if request.param == "embedded":
        s = open_store(f"oxigraph:{tmp_path / 'store'}")
    else:
        srv = request.getfixturevalue("oxigraph_server")
        _clear_remote(srv.selector)
        s = open_store(srv.selector)
    yield s
    s.close()


@pytest.fixture
def kg(store):
    """A KnowledgeGraph over each backend."""
    from kg import KnowledgeGraph

    return KnowledgeGraph(store)


@pytest.fixture
def mem_kg():
    """A KnowledgeGraph over a fresh in-memory store (fast unit tests)."""
    from kg import KnowledgeGraph

    return KnowledgeGraph.open("oxigraph:")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real third-party data beside the repo. Integration tests need it; CI has it."""
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set TRAITKG_SHARED or put shared/ beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def toy() -> Path:
    return TOY
