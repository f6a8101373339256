"""What each write through the server leaves behind stays bounded: after many uploads and drops the
server and its query workers hold one snapshot (no older one kept open, on disk or in memory), and
the database the server writes was reopened after every write (it grows by megabytes per write
while it stays open). bench/soak.py measures the memory itself."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from _api_support import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _snapshots_open(pid: int) -> tuple[set[str], list[str]]:
    """The snapshot directories a process has files open in, and the open files already deleted."""
    dirs, deleted = set(), []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if ".snapshots/" in target:
            dirs.add(target.split(".snapshots/", 1)[1].split("/", 1)[0])
            if target.endswith("(deleted)"):
                deleted.append(target)
    return dirs, deleted


def test_after_many_writes_one_snapshot_is_held_and_the_writer_was_reopened(make_client, fresh_selector):
    from kg.core.store.embedded import KEEP_INFO_LOGS

    rounds = 6
    with make_client(fresh_selector, query_workers=2, max_queries=2) as c:
        store = c.app.state.writer.store
        opens = store.opens
        previous = None
        for k in range(rounds):
            nt = "".join(f"<http://x.org/s{i}> <http://x.org/p> \"{k}-{i}\" .\n" for i in range(200)).encode()
            r = c.post("/api/v1/graphs", files={"file": ("m.nt", nt)},
                       data={"format": "ntriples", "name": "mem", "version": f"m{k}"}, headers=AUTH)
            assert r.status_code == 201, r.text
            # readers move on: SPARQL in the workers, REST in the server's threads
            for _ in range(3):
                q = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"})
                assert q.status_code == 200, q.text
            assert c.get("/api/v1/graphs", params={"limit": 100}).status_code == 200
            if previous:
                assert c.delete(f"/api/v1/graphs/rdf/mem/{previous}", headers=AUTH).status_code == 200
            previous = f"m{k}"
        writes = 2 * rounds - 1
        assert store.opens == opens + writes
        assert len(list(store.path.glob("LOG.old.*"))) <= KEEP_INFO_LOGS
        assert len(list(Path(str(store.path) + ".snapshots").iterdir())) == 1
        workers = [p for p in psutil.Process().children(recursive=True) if "_worker_main" in " ".join(p.cmdline())]
        assert workers
        current, before = f"{writes + 1:06d}", f"{writes:06d}"  # the snapshots after the last two writes
        dirs, deleted = _snapshots_open(os.getpid())
        assert dirs == {current} and deleted == []
        for w in workers:  # a worker moves to the current snapshot at its next query; none holds two
            dirs, deleted = _snapshots_open(w.pid)
            assert dirs <= {current} or (dirs == {before} and all(before in d for d in deleted)), (dirs, deleted)
