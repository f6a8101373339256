"""One builder per index file (kg.indexcache.load_or_build): processes asking at once for the same
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

from kg import KnowledgeGraph
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
    assert ic.lock_path(path).is_file()


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

    with ic.build_lock(path, "demo") as held:
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


def pytest_fail():
    raise AssertionError("read a file that should not exist")
