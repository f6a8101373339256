"""Fixtures for ontology tests: a loopback HTTP server over the shared data (`shared`), the download cache in tmp."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest


@pytest.fixture
def http_shared(shared, tmp_path, monkeypatch):
    """Serve the shared data under /shared/ (and tests/data/ontologies under /toy/) on 127.0.0.1; cache in tmp."""
    from tests.conftest import TOY

    monkeypatch.setenv("TRAITKG_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "www"
    root.mkdir()
    (root / "shared").symlink_to(shared)
    (root / "toy").symlink_to(TOY / "ontologies")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
