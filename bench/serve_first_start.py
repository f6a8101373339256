"""The first service start on a just-built store (its index files missing), this checkout against a
peer checkout: `traitkg serve --warm --workers N` to the first /ping and to every worker ready,
and the CPU seconds of the parent and its workers by then (read from /proc when the last worker is
ready); then a second start on the same store (the files kept). Each checkout starts from its own
copy of the store as the build left it (``DIR/kg`` and ``DIR/kg.cache``), so each pays its own
first start. Where every worker builds every missing file, the first start's CPU is N times one
build; with one builder per file (kg.indexcache.load_or_build) the other workers wait and read it.

A checkout that has ``traitkg index`` (kg/cli/index.py) runs it on its copy first, as the build's
last step (timed as its own row): its first start then reads every file; a checkout without it
(the main branch before it) starts on the copy as the loads left it.

Run: ``.venv/bin/python bench/serve_first_start.py --store DIR/kg --peer CHECKOUT [--workers 2]
[--kinds trees,phenoindex,traitcalls]`` on a store built by ``bench/scale.py --keep DIR`` (copies of
it go to a temporary directory beside it, or under ``--workdir``); ``--kinds`` copies only those kinds of index files (the
ones the loads wrote, for a store that has been served since its build).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from serve_start import READY, free_port, stop

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group, their waited-for
    children included."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[2]) == pgid:  # fields after the name: state ppid pgrp ... utime(11) stime(12) cutime cstime
            total += sum(int(x) for x in f[11:15])
    return total / TICK


def start(code: Path, store: Path, workers: int, timeout: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRAITKG_CACHE", None)
    cmd = [sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{store}", "serve",
           "--port", str(port := free_port()), "--workers", str(workers), "--warm", "--log-level", "info"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines: list[str] = []
    ready: list[float] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line.rstrip())
            if READY.search(line):
                ready.append(time.perf_counter() - t0)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out: dict[str, float] = {}
    try:
        while "ping" not in out:
            if time.perf_counter() - t0 > timeout or proc.poll() is not None:
                raise RuntimeError(f"{code}: no /ping: {' '.join(lines)[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    out["ping"] = time.perf_counter() - t0
            except httpx.HTTPError:
                time.sleep(0.05)
        while len(ready) < workers:
            if time.perf_counter() - t0 > timeout or proc.poll() is not None:
                raise RuntimeError(f"{code}: {len(ready)} of {workers} workers ready: {' '.join(lines)[-2000:]}")
            time.sleep(0.05)
        out["all ready"] = ready[-1]
        out["cpu"] = group_cpu(proc.pid)
    finally:
        stop(proc)
        reader.join(5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a store built by bench/scale.py --keep")
    ap.add_argument("--peer", type=Path, required=True, help="the other checkout")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the copies go (default: beside the store; give one for a store not to write beside)")
    ap.add_argument("--kinds", type=lambda t: set(t.split(",")), default=None,
                    help="copy only these kinds of index files (default: every file beside the store)")
    args = ap.parse_args()
    codes = {"this": ROOT, "peer": args.peer.resolve()}
    cache = Path(f"{args.store}.cache")
    work = Path(tempfile.mkdtemp(prefix="first-start-", dir=args.workdir or args.store.parent))
    res: dict[str, dict[str, dict[str, float]]] = {n: {} for n in codes}
    try:
        for name, code in codes.items():
            store = work / name / "kg"
            shutil.copytree(args.store, store)
            if cache.is_dir():
                shutil.copytree(cache, Path(f"{store}.cache"), ignore=lambda d, names: [
                    n for n in names if args.kinds is not None and Path(d) == cache and n not in args.kinds])
            kept = sorted(p.parent.name for p in Path(f"{store}.cache").glob("*/*.npz"))
            print(f"{name}: index files as built: {', '.join(kept) or 'none'}", flush=True)
            res[name]["index"] = index_step(code, store)
            if res[name]["index"]:
                print(f"index step, {name}: {res[name]['index']['index']:.1f} s, "
                      f"{res[name]['index']['cpu']:.1f} CPU s", flush=True)
            for which in ("first", "second"):
                res[name][which] = start(code, store, args.workers, args.timeout)
                print(f"{which} start, {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in res[name][which].items()),
                      flush=True)
            shutil.rmtree(work / name, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nService start on copies of {args.store} as built (traitkg serve --warm --workers {args.workers}; "
          f"one start each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'':72}  {'this':>8}  {'peer':>8}  {'peer/this':>9}")
    nan = float("nan")
    ix = {n: res[n]["index"].get("index", nan) for n in codes}
    label = "the build's last step, traitkg index, s"
    print(f"{label:72}  {ix['this']:8.1f}  {ix['peer']:8.1f}")
    cx = {n: res[n]["index"].get("cpu", nan) for n in codes}
    label = "the build's last step, traitkg index: CPU s"
    print(f"{label:72}  {cx['this']:8.1f}  {cx['peer']:8.1f}")
    for which, label in (("first", "first start right after the build"), ("second", "second start (files kept)")):
        for k, unit in (("ping", "to the first /ping, s"), ("all ready", f"to all {args.workers} workers ready, s"),
                        ("cpu", "CPU s of parent and workers by then")):
            a, b = res["this"][which][k], res["peer"][which][k]
            print(f"{label + ': ' + unit:72}  {a:8.1f}  {b:8.1f}  {b / a:8.2f}x")
    both = {n: (0 if ix[n] != ix[n] else ix[n]) + res[n]["first"]["ping"] for n in codes}
    print(f"{'index step (where there is one) + first start to /ping, s':72}  {both['this']:8.1f}  {both['peer']:8.1f}  "
          f"{both['peer'] / both['this']:8.2f}x")
    cpu = {n: (0 if cx[n] != cx[n] else cx[n]) + res[n]["first"]["cpu"] for n in codes}
    print(f"{'index step + first start: CPU s':72}  {cpu['this']:8.1f}  {cpu['peer']:8.1f}  "
          f"{cpu['peer'] / cpu['this']:8.2f}x")
    for n in codes:
        print(f"{n}: index step {'ran' if res[n]['index'] else 'not in that checkout'}")


def index_step(code: Path, store: Path) -> dict[str, float]:
    """``traitkg index`` on ``store`` with the checkout ``code`` (its seconds), or ``{}`` where that
    checkout has no such command."""
    if not (code / "kg" / "cli" / "index.py").is_file():
        return {}
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRAITKG_CACHE", None)
    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{store}",
                           "index"], cwd=code, env=env, check=True, stdout=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(done.stdout, flush=True)  # its parts, their seconds and the files each wrote
    return {"index": took, "cpu": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime}


if __name__ == "__main__":
    main()
