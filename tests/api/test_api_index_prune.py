"""`traitkg index --prune`: the index files of older store states go, the current ones (and every
tree version's) stay, and a server that still maps a removed file keeps answering from it (real
CLI processes, a real store, a real `traitkg serve --warm --workers 2` on loopback)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
from _api_support import free_port
from test_api_index_files import (  # noqa: F401
    BUILT,
    EXE,
    KINDS,
    LOAD_KINDS,
    NAME_KINDS,
    READY,
    ROOT,
    built,
    env,
    serve,
    stamps,
    stop,
    store,
    traitkg,
)

from kg import indexcache as ic


def test_prune_removes_the_files_of_older_states_and_keeps_the_current_ones(store, tmp_path):  # noqa: F811
    assert traitkg(store, "index").returncode == 0
    first = set(stamps(store))
    tree_v1 = [f for f in first if f.startswith("trees/")]
    # a new ontology (new term, label, closure, trait and summary keys) and a second version of the tree
    for args in (("load", "ontology", "kg/sample/fish-anatomy-slim.ttl", "--name", "other"),
                 ("load", "tree", "kg/sample/fish-tree.nwk", "--name", "sample", "--version", "2")):
        done = traitkg(store, *args)
        assert done.returncode == 0, done.stderr
    loaded = set(stamps(store))  # the tree's load wrote its new version's file
    names_before = _names(store)
    summaries = _kept(store, LOAD_KINDS)
    assert summaries  # the prediction loads kept their summaries
    done = traitkg(store, "index", "--prune", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    now = stamps(store)
    written = {f for part in report["parts"] for f in part["written"]}
    pruned_names = {p["file"] for p in report["pruned"] if p["file"].split("/")[0] in NAME_KINDS}
    pruned = {p["file"] for p in report["pruned"]} - pruned_names
    assert pruned and pruned == first - set(now) and not pruned & written
    assert set(now) == (loaded - pruned) | written
    assert {k.split("/")[0] for k in written} >= {"terms", "termlabels", "traitpages", "summarypages"}
    assert set(tree_v1) <= set(now) and len([f for f in now if f.startswith("trees/")]) == 2  # both versions kept
    assert {k.split("/")[0] for k in now} == KINDS and len(now) == len(KINDS) + 1
    assert sum(p["bytes"] for p in report["pruned"]) > 0
    locks = {p.name for p in Path(f"{store}.cache", ".locks").glob("*.lock")}
    assert not {f.replace("/", ".") + ".lock" for f in pruned} & locks  # their lock files went with them

    # the taxon names: the files of the graphs now stay (the next load resolves against them), those of
    # the graphs the ontology load re-recorded and the joined names of before go
    from kg.core.store import open_store
    from kg.taxon_names import files_in_use

    s = open_store(f"oxigraph:{store}")
    try:
        in_use = {f"{p.parent.name}/{p.name}" for p in files_in_use(s)}
    finally:
        s.close()
    names_now = _names(store)
    assert pruned_names and not pruned_names & in_use and names_now <= in_use
    assert names_now == (names_before & in_use) and pruned_names == names_before - in_use
    assert _kept(store, LOAD_KINDS) == summaries  # the summary graphs are those of before: their files stay

    answers, log = serve(store, tmp_path / "serve.log", 2)  # a start after it reads every file: none built
    assert stamps(store) == now and BUILT.findall(log) == [], log[-3000:]
    again = traitkg(store, "index", "--prune")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "pruned 0 files no current graph asks for (0.0 MB)"
    assert stamps(store) == now
    assert _kept(store, LOAD_KINDS) == summaries  # kept though this run read none (the pages' file was there)


def _names(path: Path) -> set[str]:
    return _kept(path, NAME_KINDS)


def _kept(path: Path, kinds: set[str]) -> set[str]:
    return {f"{p.parent.name}/{p.name}" for k in kinds for p in Path(f"{path}.cache", k).glob("*.npz")}


def _maps(pid: int) -> list[str]:
    return [line for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if ".cache/" in line]


def test_a_server_keeps_answering_from_files_removed_under_it(store, tmp_path):  # noqa: F811
    """Removing an index file a running server maps (Linux: the name goes, the pages stay until the
    last mapping goes) changes none of its answers, and nothing is rebuilt."""
    assert traitkg(store, "index").returncode == 0
    files, names = set(stamps(store)), _names(store) | _kept(store, LOAD_KINDS)
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([EXE, "--store", f"oxigraph:{store}", "serve", "--port", str(port), "--warm",
                                 "--workers", "2", "--log-level", "info"], cwd=ROOT, env=env(),
                                stdout=subprocess.DEVNULL, stderr=fh, start_new_session=True)
    urls = ["/api/v1/taxa/Corydoras aeneus/traits", "/api/v1/taxa/Corydoras aeneus/traits?evidence=false",
            "/api/v1/taxa/Ictalurus punctatus/predictions", "/api/v1/taxa/Ictalurus punctatus/predictions?evidence=0",
            "/api/v1/terms/UBERON:0002101/taxa"]
    try:
        deadline = time.time() + 300
        while len(READY.findall(log.read_text())) < 2:
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        before = [[c.get(u).content for u in urls] for _ in range(4)]  # both workers answer some
        assert all(b == before[0] for b in before) and all(b"{" in x for x in before[0])
        workers = [int(p) for p in subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True,
                                                  text=True).stdout.split() if int(p) != proc.pid]
        mapped = {w: _maps(w) for w in workers}
        assert any(any("traitpages/" in m for m in ms) for ms in mapped.values()), mapped
        removed = ic.prune(Path(f"{store}.cache"), keep=set())  # as a prune from a newer state would
        assert {f"{p.parent.name}/{p.name}" for p, _ in removed} == files | names and not stamps(store)
        deleted = [m for w in workers for m in _maps(w) if m.endswith("(deleted)")]
        assert any("traitpages/" in m for m in deleted) and any("summarypages/" in m for m in deleted), deleted
        after = [[c.get(u).content for u in urls] for _ in range(4)]
        assert after == before
        assert not stamps(store) and BUILT.findall(log.read_text()) == []  # read from the mapped pages, not rebuilt
    finally:
        stop(proc)


def test_prune_of_the_user_cache_sparql_stores_share_is_refused_in_one_line():
    done = subprocess.run([EXE, "--store", "sparql:http://127.0.0.1:9/sparql", "index", "--prune"], cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "TRAITKG_CACHE" in done.stderr
