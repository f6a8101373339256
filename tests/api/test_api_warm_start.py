"""`traitkg serve --workers N --warm`: the workers read and write the index files kept beside the
store (not beside their snapshot), so a later start reads them instead of building them again."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx
from _api_support import Uvicorn, free_port

from kg import KnowledgeGraph

KINDS = {"trees", "phenoindex", "traitcalls", "terms", "stateinfo", "termlabels", "traitpages", "summarypages"}


def _answers(url: str) -> list:
    c = httpx.Client(base_url=url, timeout=60)
    out = []
    for path, params in (("/api/v1/taxa/Corydoras aeneus/traits", {}),
                         ("/api/v1/trees/sample/mrca", {"ids": ["Danio_rerio", "Corydoras aeneus"]}),
                         ("/api/v1/terms/UBERON:0002101/taxa", {})):
        r = c.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        out.append(r.json())
    return out


def test_workers_share_the_stores_index_files_and_a_second_start_reads_them(tmp_path):
    from kg.demo import load_sample

    store = tmp_path / "kg"
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        load_sample(g)
    cache = Path(f"{store}.cache")
    shutil.rmtree(cache, ignore_errors=True)  # the first server builds every index
    exe = str(Path(sys.executable).parent / "traitkg")

    def start() -> Uvicorn:
        port = free_port()
        return Uvicorn({}, port=port, argv=[exe, "--store", f"oxigraph:{store}", "serve", "--port", str(port),
                                            "--workers", "2", "--warm", "--log-level", "warning"])

    srv = start()
    try:
        first = _answers(srv.url)
        snaps = Path(f"{store}.snapshots")
        assert list(snaps.iterdir()) and not list(snaps.glob("*.cache"))  # nothing beside the snapshot
    finally:
        srv.stop()
    written = sorted(cache.glob("*/*.npz"))
    assert {p.parent.name for p in written} == KINDS and len(written) == len(KINDS)
    stamps = [p.stat().st_mtime_ns for p in written]
    srv = start()
    try:
        assert _answers(srv.url) == first
    finally:
        srv.stop()
    assert sorted(cache.glob("*/*.npz")) == written
    assert [p.stat().st_mtime_ns for p in written] == stamps  # read, never rebuilt
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
