"""Helpers for the API tests (imported by conftest.py and test modules)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"


def load_toy(path: Path, toy: Path) -> str:
    """An on-disk store with two versions of a small anatomy graph; returns its selector."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open(f"oxigraph:{path}")
    kg.load_rdf(toy / "api" / "anatomy-v1.ttl", name="anatomy", version="v1", kind="ontology")
    kg.load_rdf(toy / "api" / "anatomy-v2.ttl", name="anatomy", version="v2", kind="ontology")
    kg.close()
    return f"oxigraph:{path}"


def load_toy_tree(path: Path, toy: Path, *, anatomy: bool = True) -> str:
    """An on-disk store with the toy tree and taxonomy (and, with ``anatomy``, :func:`load_toy`'s
    graphs); returns its selector."""
    from kg import KnowledgeGraph

    if anatomy:
        load_toy(path, toy)
    kg = KnowledgeGraph.open(f"oxigraph:{path}")
    kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    kg.load_taxonomy(toy / "trees" / "toy_taxonomy.tsv", name="toytax")
    kg.close()
    return f"oxigraph:{path}"


def load_sample_store(path: Path) -> str:
    """An on-disk store holding the bundled sample (as `traitkg demo` loads it); returns its selector."""
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    kg = KnowledgeGraph.open(f"oxigraph:{path}")
    load_sample(kg)
    kg.close()
    return f"oxigraph:{path}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Uvicorn:
    """``uvicorn --factory api.app:create_app`` (or ``traitkg serve``) on a free loopback port."""

    def __init__(self, env: dict[str, str], *, argv: list[str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = argv or [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
                       "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


