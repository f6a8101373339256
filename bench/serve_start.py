"""Service start on a built store: `traitkg serve --warm --workers N` to its first /ping, then the
first MRCA request (4 tips by name) and the first taxa-with request (an UBERON entity with
subsumption), for this checkout and for a peer checkout (e.g. the main branch) on the same store,
starts alternating, medians over the runs.

Run: ``.venv/bin/python bench/serve_start.py --store DIR/kg --peer /work/main [--runs 3]`` on a
store built by ``bench/scale.py --keep`` (its directory holds ``species.txt``). Before the timed
runs this checkout starts once ("first start") so that what it keeps on disk is written: the timed
starts are what every later start costs. The two checkouts' files do not collide (the file
formats differ).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ENTITY = "UBERON:0000151"  # pectoral fin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(code: Path, store: Path, workers: int, tips: list[str], timeout: float) -> dict[str, float]:
    """One start: seconds to the first /ping, the first MRCA and the first taxa-with answer."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code), "TRAITKG_QUERY_TIMEOUT": "60"}
    env.pop("TRAITKG_CACHE", None)
    cmd = [sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{store}", "serve",
           "--port", str(port), "--workers", str(workers), "--warm", "--log-level", "warning"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own process group: the workers stop with it
    base = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{code}: server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{code}: no /ping within {timeout} s")
        out["ping"] = time.perf_counter() - t0
        c = httpx.Client(base_url=base, timeout=timeout)
        t = time.perf_counter()
        r = c.get("/api/v1/trees/scale/mrca", params={"ids": random.sample(tips, 4)})
        assert r.status_code == 200, r.text
        out["mrca"] = time.perf_counter() - t
        out["to_mrca"] = time.perf_counter() - t0
        t = time.perf_counter()
        r = c.get(f"/api/v1/terms/{ENTITY}/taxa")
        assert r.status_code == 200, r.text
        out["taxa_with"] = time.perf_counter() - t
        out["to_taxa_with"] = time.perf_counter() - t0
        t = time.perf_counter()
        assert c.get(f"/api/v1/terms/{ENTITY}/taxa").status_code == 200
        out["taxa_with_2"] = time.perf_counter() - t
    finally:
        stop(proc)
    return out


def stop(proc: subprocess.Popen) -> None:
    """The server and its workers (a worker still warming up ignores SIGTERM until it is done)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


ROWS = [("ping", "serve --warm to the first /ping, s"), ("to_mrca", "start to the first MRCA answer, s"),
        ("to_taxa_with", "start to the first taxa-with answer, s"), ("mrca", "first MRCA request (4 tips), s"),
        ("taxa_with", "first taxa-with request, s"), ("taxa_with_2", "second taxa-with request, s")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a store built by bench/scale.py --keep")
    ap.add_argument("--peer", type=Path, required=True, help="the other checkout (e.g. /work/main)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    species = (args.store.parent / "species.txt").read_text().split("\n")
    tips = [s.replace(" ", "_") for s in species if s]  # as the tree writes them
    random.seed(28)
    codes = {"this": ROOT, "peer": args.peer.resolve()}
    # this checkout's first start writes its index files; the peer keeps nothing between starts
    # (its workers' tree files go beside their snapshot), so its first start is like any other
    first = start(ROOT, args.store, args.workers, tips, args.timeout)
    print("first start, this: " + ", ".join(f"{k} {v:.2f} s" for k, v in first.items()), flush=True)
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in codes}
    for i in range(args.runs):
        for name, code in (codes.items() if i % 2 == 0 else reversed(codes.items())):
            runs[name].append(start(code, args.store, args.workers, tips, args.timeout))
            print(f"run {i + 1}, {name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[name][-1].items()),
                  flush=True)
    load = os.getloadavg()[0]
    print(f"\nService start on {args.store} (traitkg serve --warm --workers {args.workers}; medians of {args.runs} "
          f"starts after a first one; load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'':44}  {'this':>8}  {'peer':>8}  {'peer/this':>9}")
    for key, label in ROWS:
        a = statistics.median(r[key] for r in runs["this"])
        b = statistics.median(r[key] for r in runs["peer"])
        print(f"{label:44}  {a:8.2f}  {b:8.2f}  {b / a:8.1f}x")
    print(f"{'first start to /ping (writes the files), s':44}  {first['ping']:8.2f}")


if __name__ == "__main__":
    main()
