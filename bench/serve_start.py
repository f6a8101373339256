"""Service start on a built store: `traitkg serve --warm --workers N` to its first /ping, then the
first MRCA request (4 tips by name) and the first taxa-with request (an UBERON entity with
subsumption), for this checkout and for a peer checkout (e.g. the main branch) on the same store,
starts alternating, medians over the runs. Both run with ``--log-level info``; for this checkout
the table also shows where a start goes, from what its workers log (each worker's seconds from
its process start to the app built, the store opened, each part of the warm-up).

Run: ``.venv/bin/python bench/serve_start.py --store DIR/kg --peer /work/main [--runs 3]`` on a
store built by ``bench/scale.py --keep`` (its directory holds ``species.txt``). Before the timed
runs this checkout starts once ("first start") so that what it keeps on disk is written: the timed
starts are what every later start costs. The two checkouts' files do not collide (the file
formats differ).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ENTITY = "UBERON:0000151"  # pectoral fin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


READY = re.compile(r"ready (?P<ready>[\d.]+) s after the process started \((?P<app>[\d.]+) s to import and build "
                   r"the app\): store (?P<store>[\d.]+) s, warm-up (?P<warm>[\d.]+) s")
WARMED = re.compile(r"warmed up in [\d.]+ s \((?P<parts>[^)]*)\)")


def phases(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Where this start went, from the server's log: the parent's seconds to its workers' spawn,
    then the first ready worker's seconds from its process start (imports and app, store, each
    warm-up part)."""
    out: dict[str, float] = {}
    for t, line in lines:
        if "Started parent process" in line:  # uvicorn with --workers N, before it spawns them
            out.setdefault("parent", t)
    ready = [(float(m["ready"]), m, i) for i, (_, line) in enumerate(lines) if (m := READY.search(line))]
    if not ready:
        return out
    _, m, i = min(ready, key=lambda r: r[0])
    out.update({k: float(m[k]) for k in ("ready", "app", "store", "warm")})
    warmed = [WARMED.search(line) for _, line in lines[:i + 1]]
    last = [w for w in warmed if w]
    if last:
        for part in last[-1]["parts"].split(", "):
            name, secs, _ = part.rsplit(" ", 2)
            out[f"warm: {name}"] = float(secs)
    return out


CPU = """
import json, sys, time
out, c = {}, time.process_time()
def done(part):
    global c
    now = time.process_time()
    out[part] = now - c
    c = now
import uvicorn, uvicorn.config, uvicorn.server, uvicorn.lifespan.on
done("imports: uvicorn")
from kg.cli.serve import app_factory
done("imports: kg.cli (every command)")
app = app_factory()
done("imports: api.app and its routers; the app built")
from kg import KnowledgeGraph
from kg.core.store import OxigraphStore, Snapshots
owner = KnowledgeGraph.open("oxigraph:" + sys.argv[1])
snap = Snapshots(owner.store).take()
done("parent: store opened to write (recovery), snapshot")
kg = KnowledgeGraph(OxigraphStore(snap.directory, read_only=True, snapshot_of=owner.store.path))
kinds = {g.kind for g in kg.graphs()}
done("worker: snapshot opened, manifest read")
from api.routers.trees import ages_of
for name in sorted({g.name for g in kg.graphs(kind="tree")}):
    t = kg.tree(name)
    t.prepare()
    ages_of(t)
done("warm-up: trees")
if "ontology" in kinds:
    kg.terms
done("warm-up: terms")
if "phenotypes" in kinds:
    kg.traits.prepare()
done("warm-up: traits")
if "predictions" in kinds:
    kg.predictions.chosen()
done("warm-up: predictions")
print(json.dumps(out))
"""


def cpu_seconds(code: Path, store: Path) -> dict[str, float]:
    """CPU seconds of each part of a start, in one process, parts one after the other (what a
    worker of ``serve --warm --workers N`` does, and the parent's store work): a measure the
    machine's load does not stretch, as the wall times are."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRAITKG_CACHE", None)
    p = subprocess.run([sys.executable, "-c", CPU, str(store)], cwd=code, env=env, capture_output=True, text=True,
                       timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{code}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def start(code: Path, store: Path, workers: int, tips: list[str], timeout: float) -> dict[str, float]:
    """One start: seconds to the first /ping, the first MRCA and the first taxa-with answer (and
    :func:`phases`, where the server logs them)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code), "TRAITKG_QUERY_TIMEOUT": "60"}
    env.pop("TRAITKG_CACHE", None)
    cmd = [sys.executable, "-c", "from kg.cli import main; main()", "--store", f"oxigraph:{store}", "serve",
           "--port", str(port), "--workers", str(workers), "--warm", "--log-level", "info"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own process group: the workers stop with it
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append((time.perf_counter() - t0, line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                reader.join(5)
                raise RuntimeError(f"{code}: server exited: {' '.join(x for _, x in lines)[-2000:]}")
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
        reader.join(5)
    out.update(phases(lines))
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
    ap.add_argument("--cpu-runs", type=int, default=3, help="runs of the CPU seconds by part (0: none)")
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
    keys = [k for k in runs["this"][0] if k not in dict(ROWS) and all(k in r for r in runs["this"])]
    if keys:
        print("\nWhere this checkout's start goes (medians; a worker's seconds count from its own process start)")
        labels = {"parent": "the parent: its workers spawned after, s",
                  "app": "first ready worker: imports and app built, s", "store": "  its store opened, s",
                  "warm": "  its warm-up, s", "ready": "  ready after its process started, s"}
        for k in ["parent", "app", "store", "warm", *[k for k in keys if k.startswith("warm: ")], "ready"]:
            if k in keys:
                print(f"{labels.get(k, '    ' + k + ', s'):44}  {statistics.median(r[k] for r in runs['this']):8.2f}")
    if args.cpu_runs:
        cpu: dict[str, list[dict[str, float]]] = {n: [] for n in codes}
        for i in range(args.cpu_runs):
            for name, code in (codes.items() if i % 2 == 0 else reversed(codes.items())):
                cpu[name].append(cpu_seconds(code, args.store))
        print(f"\nCPU seconds by part, one process, parts in turn (medians of {args.cpu_runs}; load average "
              f"{os.getloadavg()[0]:.1f})")
        print(f"{'':52}  {'this':>8}  {'peer':>8}  {'peer/this':>9}")
        for k in cpu["this"][0]:
            a = statistics.median(r[k] for r in cpu["this"])
            b = statistics.median(r.get(k, float("nan")) for r in cpu["peer"])
            print(f"{k:52}  {a:8.3f}  {b:8.3f}  {b / a if a else float('nan'):8.1f}x")
        a = statistics.median(sum(r.values()) for r in cpu["this"])
        b = statistics.median(sum(r.values()) for r in cpu["peer"])
        print(f"{'all':52}  {a:8.3f}  {b:8.3f}  {b / a:8.1f}x")


if __name__ == "__main__":
    main()
