"""One builder per index file (kg.indexcache.load_or_build, kg.indexlock): processes asking at once for the same
missing file build it once and all answer alike; a builder killed while holding the lock does not
block the next process (the kernel lets go of a dead process's flock); a cache directory that
cannot be written still answers (built in memory). Real processes, real files, real locks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from kg import KnowledgeGraph, indexlock
from kg import indexcache as ic

ROOT = Path(__file__).resolve().parents[2]

# argv: index file, builds log, go file (wait for it before asking), seconds the build takes
CHILD = """
import json, logging, os, sys, time
from pathlib import Path
from kg import indexcache as ic
logging.basicConfig(level=logging.INFO, format="%(message)s")
path, builds, go, slow = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
while not go.exists():
    time.sleep(0.01)

def build():
    with open(builds, "a") as fh:
        fh.write(f"start {os.getpid()}\\n")
    time.sleep(slow)  # long enough for the others to be waiting
    words = ["alpha", "beta", "gamma", "é"]
    s = ic.StringTable()
    ids = s.ids(words)
    with open(builds, "a") as fh:
        fh.write(f"done {os.getpid()}\\n")
    return ic.Built(words, {"ids": ids, **s.arrays()})

got = ic.load_or_build(path, kind="demo", fmt=1, read=lambda a: ic.strings(a)[a["ids"]].tolist(), build=build)
print(json.dumps(got))
"""


def child(path: Path, builds: Path, go: Path, slow: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(builds), str(go), str(slow)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def lines(builds: Path) -> list[str]:
    return builds.read_text().split() if builds.exists() else []


def wait_for(pred, what: str) -> None:
    for _ in range(6000):  # a bound on the wait so that a broken lock fails the test instead of hanging it
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_processes_asking_at_once_build_the_file_once_and_answer_alike(tmp_path):
    path, builds, go = tmp_path / "cache" / "demo" / "k.npz", tmp_path / "builds.txt", tmp_path / "go"
    procs = [child(path, builds, go, 1.0) for _ in range(3)]
    go.touch()
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == [["alpha", "beta", "gamma", "é"]] * 3
    log = lines(builds)
    assert log.count("start") == 1 and log.count("done") == 1, log  # one build, the others read its file
    assert ic.load(path, kind="demo", fmt=1) is not None
    assert sorted(p.name for p in path.parent.iterdir()) == ["k.npz"]  # no lock or temporary among the files
    assert indexlock.lock_path(path).is_file()


def test_a_builder_killed_holding_the_lock_does_not_block_the_next(tmp_path):
    path, builds, go = tmp_path / "cache" / "demo" / "k.npz", tmp_path / "builds.txt", tmp_path / "go"
    go.touch()
    first = child(path, builds, go, 600.0)  # builds for ten minutes: killed in the middle
    wait_for(lambda: "start" in lines(builds), "the first build to start")
    waiting = child(path, builds, go, 0.0)  # asks while the first holds the lock
    for line in waiting.stderr:
        if "waiting for the process building it" in line:
            break
    else:
        raise AssertionError("the second process did not wait for the first one's lock")
    assert f"(pid {first.pid})" in line
    assert waiting.poll() is None and lines(builds).count("start") == 1  # it waits for the holder
    os.kill(first.pid, signal.SIGKILL)  # the kernel lets go of a dead process's flock
    first.wait(30)
    assert json.loads(waiting.communicate(timeout=120)[0]) == ["alpha", "beta", "gamma", "é"]
    assert waiting.returncode == 0
    log = lines(builds)
    assert log == ["start", str(first.pid), "start", str(waiting.pid), "done", str(waiting.pid)], log
    later = child(path, builds, go, 0.0)  # and the file it wrote is read, not built again
    assert json.loads(later.communicate(timeout=120)[0]) == ["alpha", "beta", "gamma", "é"]
    assert lines(builds) == log


def test_a_cache_directory_that_cannot_be_written_still_answers(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would be")
    path = blocker / "demo" / "k.npz"
    built = []

    def build() -> ic.Built[list[str]]:
        built.append(1)
        return ic.Built(["x"], {"v": ic.StringTable().ids(["x"])})

    with indexlock.build_lock(path, "demo") as held:
        assert held is False
    assert ic.load_or_build(path, kind="demo", fmt=1, read=lambda a: pytest_fail(), build=build) == ["x"]
    assert ic.load_or_build(None, kind="demo", fmt=1, read=lambda a: pytest_fail(), build=build) == ["x"]
    assert len(built) == 2 and blocker.is_file()


def test_two_store_processes_at_once_build_each_index_once(tmp_path):
    """The call sites: two processes opening the terms, the phenotype index, the calls, the states'
    evidence, the term labels and the trait pages of one store at once write each file once."""
    from kg.demo import load_sample

    store = tmp_path / "kg"
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        load_sample(g)
    shutil.rmtree(Path(str(store) + ".cache"), ignore_errors=True)  # the load wrote some: every file missing
    go = tmp_path / "go"
    script = """
import json, logging, sys, time
from pathlib import Path
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from kg import KnowledgeGraph
from kg import indexcache as ic
from kg.core.store import OxigraphStore
from kg.traits.pages import TraitPages
real_save = ic.save

def save(path, arrays, *, kind, fmt, meta=None):  # the real write, and a line saying which process wrote it
    with open(sys.argv[3], "a") as fh:
        fh.write(f"{kind}\\n")
    return real_save(path, arrays, kind=kind, fmt=fmt, meta=meta)

ic.save = save
g = KnowledgeGraph(OxigraphStore(sys.argv[1], read_only=True))
pages = TraitPages.open(g.traits)
print(json.dumps([len(g.terms.terms), len(g.traits.calls()), pages.taxa]))
"""
    saves = tmp_path / "saves.txt"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(store), str(go), str(saves)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}) for _ in range(2)]
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    answers = [json.loads(o) for o, _ in outs]
    assert answers[0] == answers[1] and all(answers[0])
    cache = Path(str(store) + ".cache")
    kinds = ("terms", "phenoindex", "traitcalls", "stateinfo", "termlabels", "traitpages")
    for kind in kinds:
        assert len(list((cache / kind).glob("*.npz"))) == 1, kind
    assert sorted(saves.read_text().split()) == sorted(kinds)  # each file built and written by one process


def test_processes_opening_a_tree_whose_index_file_is_missing_build_it_once(tmp_path):
    """The tree index (written by its load) goes through a build lock as well: processes that find
    it missing at once (a store whose file was removed) build and write it once, and answer alike."""
    store = sample_store(tmp_path)
    shutil.rmtree(Path(f"{store}.cache"))
    go = tmp_path / "go"
    script = """
import json, logging, sys, time
from pathlib import Path
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
from kg import KnowledgeGraph
from kg.core.store import OxigraphStore
t = KnowledgeGraph(OxigraphStore(sys.argv[1], read_only=True)).tree("sample")
print(json.dumps([repr(t.mrca(["Danio_rerio", "Corydoras aeneus"])), len(t.tips())]))
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(store), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
             for _ in range(3)]
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    assert len({o for o, _ in outs}) == 1
    built = [line for _, e in outs for line in e.splitlines() if "trees index" in line and "built and written" in line]
    assert len(built) == 1, [e[-2000:] for _, e in outs]
    assert len(list((Path(f"{store}.cache") / "trees").glob("*.npz"))) == 1


def pytest_fail():
    raise AssertionError("read a file that should not exist")


# argv: store, go file. Opens the store read-only (as a server's worker does) and reads what a warm
# start reads; logs at info (the index lines say which process built, completed or waited).
READER = """
import json, logging, sys, time
from pathlib import Path
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s %(message)s")
from kg import KnowledgeGraph
from kg.core.store import OxigraphStore
g = KnowledgeGraph(OxigraphStore(sys.argv[1], read_only=True))
t = g.traits.prepare()
print(json.dumps([len(g.terms.terms), len(t.calls()), sorted(t.index.taxa)[:20], sorted(t._state_taxa().items())[:20],
                  dict(list(t.evidence_json().items())[:20])]))
"""

OPTIONAL = {"phenoindex": ("st_state", "st_off", "st_taxon"), "traitcalls": ("by_code", "by_taxon"),
            "terms": ("nm_key", "nm_iri", "nm_field", "nm_sorted", "xr_k", "xr_v"),
            "stateinfo": ("json_utf8", "json_end")}


def sample_store(tmp_path: Path) -> Path:
    from kg.demo import load_sample

    store = tmp_path / "kg"
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        load_sample(g)
    return store


def readers(store: Path, go: Path, n: int, env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", READER, str(store), str(go)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **(env or {})})
            for _ in range(n)]


def test_older_files_are_completed_by_one_process_under_the_build_lock(tmp_path):
    """Files written before they kept what a start reads (each state's taxa, the calls' sort orders,
    the term name index, the states' JSON): processes opening them at once add those members once,
    under the file's build lock, and all answer as they do from the completed files."""
    from kg.traits import evidence

    store = sample_store(tmp_path)
    with KnowledgeGraph.open(f"oxigraph:{store}") as g:
        _ = g.traits.prepare(), g.terms
    go = tmp_path / "go"
    go.touch()
    (want,) = [json.loads(p.communicate(timeout=300)[0]) for p in readers(store, go, 1)]
    go.unlink()
    cache = Path(f"{store}.cache")
    fmt = {"stateinfo": evidence.FORMAT}
    for kind, members in OPTIONAL.items():
        (path,) = (cache / kind).glob("*.npz")
        got = ic.load(path, kind=kind, fmt=fmt.get(kind, 1))
        meta = got.pop("__meta__")
        assert all(m in got for m in members), kind
        ic.save(path, {k: v for k, v in got.items() if k not in members}, kind=kind, fmt=fmt.get(kind, 1),
                meta={k: v for k, v in meta.items() if k not in ("kind", "format")})
    procs = readers(store, go, 3)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    assert [json.loads(o) for o, _ in outs] == [want] * 3
    completed = [line for _, e in outs for line in e.splitlines() if ": completed with " in line]
    assert sorted(line.split()[2] for line in completed) == sorted(OPTIONAL), completed  # one process each
    for kind, members in OPTIONAL.items():
        (path,) = (cache / kind).glob("*.npz")
        assert all(m in ic.load(path, kind=kind, fmt=fmt.get(kind, 1)) for m in members)
    assert not [line for _, e in outs for line in e.splitlines() if "built and written" in line]


def stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def test_a_builder_that_hangs_holding_the_lock_is_waited_for_a_bounded_time(tmp_path):
    """A builder stopped while it holds a file's build lock (alive, not dying: SIGSTOP at
    ``index:phenoindex:building``) keeps the lock; the next process waits ``TRAITKG_INDEX_WAIT``
    seconds, says so naming the holder, builds the file itself and answers as a process that finds
    the file does."""
    store = sample_store(tmp_path)
    shutil.rmtree(Path(f"{store}.cache"))
    go = tmp_path / "go"
    go.touch()
    (hung,) = readers(store, go, 1, {"TRAITKG_STOP_AT": "index:phenoindex:building"})
    try:
        wait_for(lambda: stopped(hung.pid), "the builder to stop holding the lock")
        (waiter,) = readers(store, go, 1, {"TRAITKG_INDEX_WAIT": "1.5"})
        out, err = waiter.communicate(timeout=300)
        assert waiter.returncode == 0, err[-3000:]
        assert stopped(hung.pid)  # still there, still holding the lock
        warn = [line for line in err.splitlines() if "held it for more than 1.5 s (TRAITKG_INDEX_WAIT)" in line]
        # the hung process holds the calls' lock and, inside it, the phenotype index's: each waited for once
        assert sorted(line.split()[2] for line in warn) == ["phenoindex", "traitcalls"], err[-3000:]
        assert all(f"its builder (pid {hung.pid})" in line for line in warn)
        assert any(line.startswith(f"{waiter.pid} ") and "phenoindex index" in line and "built and written" in line
                   for line in err.splitlines()), err[-3000:]
        (later,) = readers(store, go, 1)  # the file it wrote is read
        out2, err2 = later.communicate(timeout=300)
        assert later.returncode == 0 and json.loads(out2) == json.loads(out)
        assert "phenoindex index" not in err2 or "built and written" not in err2
    finally:
        os.kill(hung.pid, signal.SIGKILL)
        hung.wait(30)


def test_a_bad_index_wait_setting_is_one_line_and_exit_2(tmp_path):
    store = sample_store(tmp_path)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TRAITKG_INDEX_WAIT": "soon"}
    before = sorted(Path(f"{store}.cache").rglob("*"))
    for cmd in (["index"], ["serve", "--warm", "--port", "9"]):  # refused before anything is read or served
        done = subprocess.run([str(Path(sys.executable).parent / "traitkg"), "--store", f"oxigraph:{store}", *cmd],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (cmd, done.stderr[-2000:])
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
        assert "TRAITKG_INDEX_WAIT='soon'" in done.stderr and "seconds, 0 or more" in done.stderr
    assert sorted(Path(f"{store}.cache").rglob("*")) == before
