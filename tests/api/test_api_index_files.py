"""`traitkg index` at the end of a build writes every index file a server start reads, so that
`traitkg serve --warm` (one worker or several) then only reads them: real CLI processes, a real
store, real servers on loopback; a start after it writes no file and builds no index."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _api_support import free_port

from kg import KnowledgeGraph

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "traitkg")
KINDS = {"trees", "phenoindex", "traitcalls", "terms", "stateinfo", "termlabels", "traitpages", "summarypages"}
READY = re.compile(r"ready [\d.]+ s after the process started")
BUILT = re.compile(r"(\w+) index \S+: built and written")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The sample store as its loads leave it (the loads write some index files, not all)."""
    from kg.demo import load_sample

    store = tmp_path_factory.mktemp("built") / "kg"
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        load_sample(g)
    return store


@pytest.fixture
def store(built, tmp_path) -> Path:
    path = tmp_path / "kg"
    shutil.copytree(built, path)
    if Path(f"{built}.cache").is_dir():
        shutil.copytree(Path(f"{built}.cache"), Path(f"{path}.cache"))
    return path


def env() -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    out.pop("TRAITKG_CACHE", None)
    return out


def traitkg(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "--store", f"oxigraph:{store}", *args], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=600)


#: the taxon names the loads resolve against (kg.taxon_names): kept beside the store, never read by a start
NAME_KINDS = {"taxonnames", "taxonuniverse"}
#: the summaries the prediction loads keep (kg.predictions.summary_file): read by `traitkg index`, not by a start
LOAD_KINDS = {"summaryframes"}


def stamps(store: Path) -> dict[str, tuple[int, int, int]]:
    """The index files a start reads: (size, mtime, inode) by ``kind/file``."""
    return {f"{p.parent.name}/{p.name}": (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino)
            for p in Path(f"{store}.cache").glob("*/*.npz") if p.parent.name not in NAME_KINDS | LOAD_KINDS}


def serve(store: Path, log: Path, workers: int) -> tuple[list, str]:
    """Start `traitkg serve --warm`, wait until every worker is ready, ask a few questions, stop it;
    the answers and the server's log."""
    port = free_port()
    argv = [EXE, "--store", f"oxigraph:{store}", "serve", "--port", str(port), "--warm", "--log-level", "info"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=fh,
                                start_new_session=True)
    try:
        deadline = time.time() + 300  # a bound, so that a broken start fails the test instead of hanging it
        while len(READY.findall(log.read_text())) < workers:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        out = []
        for path, params in (("/api/v1/taxa/Corydoras aeneus/traits", {}),
                             ("/api/v1/trees/sample/mrca", {"ids": ["Danio_rerio", "Corydoras aeneus"]}),
                             ("/api/v1/terms/UBERON:0002101/taxa", {}),
                             ("/api/v1/taxa/Ictalurus punctatus/predictions", {})):
            r = c.get(path, params=params)
            assert r.status_code == 200, (path, r.text)
            out.append(r.json())
    finally:
        stop(proc)
    return out, log.read_text()


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started in its own session, and its workers."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_start_after_traitkg_index_only_reads_the_files(store, tmp_path, workers):
    before = set(stamps(store))
    assert before and {k.split("/")[0] for k in before} < KINDS  # the loads wrote some, not all
    done = traitkg(store, "index", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    written = {f for part in report["parts"] for f in part["written"]}
    files = stamps(store)
    assert {k.split("/")[0] for k in files} == KINDS and len(files) == len(KINDS)
    assert written == set(files) - before  # what it says it wrote is what it wrote
    assert [p["part"] for p in report["parts"]] == ["tree sample", "terms", "traits", "predictions"]

    answers, log = serve(store, tmp_path / "serve.log", workers)
    assert stamps(store) == files, log[-3000:]  # no file written, none replaced
    assert BUILT.findall(log) == [], log[-3000:]  # and no index built in memory either
    assert "waiting for the process building it" not in log

    again = traitkg(store, "index", "--json")  # a second run reads what is there
    assert again.returncode == 0, again.stderr
    assert all(p["written"] == [] for p in json.loads(again.stdout)["parts"])
    assert stamps(store) == files

    shutil.rmtree(Path(f"{store}.cache"))  # a start on a store without files answers the same
    fresh, log = serve(store, tmp_path / "serve-fresh.log", workers)
    assert fresh == answers
    assert sorted(BUILT.findall(log)) == sorted(KINDS), log[-3000:]  # each built once, by one process
    assert set(stamps(store)) == set(files)


def test_traitkg_index_prints_what_it_wrote(store):
    done = traitkg(store, "index")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["part", "seconds", "written"]
    assert any(line.startswith("traits ") and "traitpages/" in line for line in lines)
    names = len([p for k in NAME_KINDS | LOAD_KINDS for p in Path(f"{store}.cache", k).glob("*.npz")])  # the loads' files
    assert names and re.search(rf"^5 index files written in [\d.]+ s; {8 + names} in .*kg\.cache \([\d.]+ MB\)$",
                               lines[-1]), lines[-1]
    again = traitkg(store, "index")
    assert re.search(r"^0 index files written in", again.stdout.splitlines()[-1])
    assert all(line.rstrip().endswith("(kept)") for line in again.stdout.splitlines()[2:-1])


def test_traitkg_index_on_an_in_memory_store_is_refused_in_one_line():
    done = subprocess.run([EXE, "--store", "oxigraph:", "index"], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "keeps no index files" in done.stderr
    assert "Traceback" not in done.stderr


PROPS_OBO = """format-version: 1.2
ontology: tp

[Term]
id: TP:1
name: fin

[Term]
id: TP:2
name: pectoral fin
synonym: "pectoral appendage" EXACT []
is_a: TP:1
relationship: tp_rel TP:1

""" + "".join(f"[Typedef]\nid: tp_rel{i}\nname: relation {i}\nis_a: tp_top\n\n" for i in range(8)) + """[Typedef]
id: tp_rel
name: rel
is_a: tp_top

[Typedef]
id: tp_top
name: top
is_transitive: true
"""


def test_every_index_file_is_the_same_bytes_whatever_the_hash_seed(store, tmp_path):
    """Two `traitkg index` processes with different hash seeds write byte-identical files: no
    string table follows a set's order (the term index's classes and sub-properties did)."""
    obo = tmp_path / "props.obo"
    obo.write_text(PROPS_OBO)  # sub-properties (a set per super-property) and a second ontology
    loaded = traitkg(store, "load", "ontology", str(obo))
    assert loaded.returncode == 0, loaded.stderr
    runs = []
    for seed in ("1", "2", "3"):
        copy = tmp_path / f"seed{seed}" / "kg"
        shutil.copytree(store, copy)
        shutil.copytree(Path(f"{store}.cache"), Path(f"{copy}.cache"))
        done = subprocess.run([EXE, "--store", f"oxigraph:{copy}", "index", "--json"], cwd=ROOT,
                              env={**env(), "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        written = sorted(f for part in json.loads(done.stdout)["parts"] for f in part["written"])
        assert {f.split("/")[0] for f in written} >= {"terms", "termlabels", "stateinfo", "traitpages", "summarypages"}
        runs.append({f: Path(f"{copy}.cache", f).read_bytes() for f in written})
    assert list(runs[1]) == list(runs[0]) == list(runs[2])
    for f in runs[0]:
        assert runs[0][f] == runs[1][f] == runs[2][f], f
