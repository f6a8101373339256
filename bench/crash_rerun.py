"""What a killed load costs: an ontology load with its closure (ZFA by default), killed with SIGKILL
mid-closure (at a bulk load of the closure) and at a timed moment, then run again; against the same
load run cleanly in the same run (the peer): seconds, the store's size on disk, and the quads.

    PYTHONPATH=. .venv/bin/python bench/crash_rerun.py [--ontology zfa/zfa.obo]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED, table

EXE = str(Path(sys.executable).parent / "traitkg")


def run(store: Path, *args: str, crash: str | None = None, kill_after: float | None = None) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k != "TRAITKG_CRASH_AT"}
    if crash:
        env["TRAITKG_CRASH_AT"] = crash
    t0 = time.perf_counter()
    p = subprocess.Popen([EXE, "--store", f"oxigraph:{store}", *args], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        rc = p.wait(kill_after)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        rc = p.wait()
    return time.perf_counter() - t0, rc


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def quads(store: Path) -> int:
    from kg import KnowledgeGraph

    with KnowledgeGraph.open(f"oxigraph:{store}") as kg:
        return sum(r.triples for r in kg.graphs())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ontology", default="zfa/zfa.obo", help="path under the shared data")
    args = ap.parse_args()
    cmd = ["load", "ontology", str(SHARED / args.ontology)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean"
        t_clean, rc = run(clean, *cmd)
        assert rc == 0
        q_clean, s_clean = quads(clean), size_mb(clean)
        rows.append(["clean load", round(t_clean, 2), 1.0, round(s_clean, 1), 1.0, q_clean, "-"])
        for label, kw in (("killed mid-closure (bulk#2)", {"crash": "bulk#2"}),
                          ("killed at 60% of the clean time", {"kill_after": 0.6 * t_clean})):
            store = Path(tmp) / label.split()[1]
            t_kill, rc = run(store, *cmd, **kw)
            t_rerun, rc2 = run(store, *cmd)
            assert rc2 == 0
            q, s = quads(store), size_mb(store)
            rows.append([f"{label}, then rerun", round(t_rerun, 2), round(t_rerun / t_clean, 2), round(s, 1),
                         round(s / s_clean, 2), q, f"killed after {t_kill:.1f} s (rc {rc})"])
    table(f"A killed `traitkg load ontology {args.ontology}` run again, against a clean load (same run)",
          ["scenario", "rerun s", "/ clean", "store MB", "/ clean", "quads", "kill"], rows)


if __name__ == "__main__":
    main()
