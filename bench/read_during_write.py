"""Reads while the server writes: SPARQL and REST read latency (p50/p99) and errors before, during
and after uploads (a 12k-tip tree; BSPO with its closure, which refreshes PATO's), on a store with
a subset of the shared data. The peer is the same reads before the write, in the same run.

    PYTHONPATH=. .venv/bin/python bench/read_during_write.py [--readers 4]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _api_port import free_port
from _serving import Server, build_store, median, pct, read_once, upload, upload_files
from _util import table


def phase(url: str, readers: int, until: threading.Event | float) -> tuple[list[float], int, int]:
    lat: list[float] = []
    errors = [0]
    stop = until if isinstance(until, threading.Event) else None
    end = None if stop else time.monotonic() + float(until)  # type: ignore[arg-type]

    def run(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=60) as c:
            while (stop is not None and not stop.is_set()) or (end is not None and time.monotonic() < end):
                try:
                    dt, ok, _ = read_once(c, rng)
                    lat.append(dt)
                    errors[0] += not ok
                except httpx.HTTPError:
                    errors[0] += 1

    ts = [threading.Thread(target=run, args=(k,)) for k in range(readers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, errors[0], len(lat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of the before and after phases")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        selector = build_store(Path(tmp) / "store")
        print(f"store built in {time.perf_counter() - t0:.1f} s")
        srv = Server(selector, free_port())
        try:
            with httpx.Client(base_url=srv.url, timeout=60) as c:  # warm the views
                read_once(c, random.Random(0))
                c.get("/api/v1/trees/fish")
            before = phase(srv.url, args.readers, args.seconds)
            done = threading.Event()
            took: list[float] = []

            def writes() -> None:
                with httpx.Client(base_url=srv.url, timeout=600) as c:
                    for k, (path, fields) in enumerate(upload_files()):
                        took.append(upload(c, path, fields, f"w{k}"))
                done.set()

            w = threading.Thread(target=writes)
            w.start()
            during = phase(srv.url, args.readers, done)
            w.join()
            after = phase(srv.url, args.readers, args.seconds)
        finally:
            srv.stop()
    rows = []
    for name, (lat, err, n) in (("before the writes", before), ("during the writes", during), ("after", after)):
        rows.append([name, n, err, median(lat), pct(lat, 0.99), median(lat) / median(before[0]),
                     pct(lat, 0.99) / pct(before[0], 0.99)])
    table(f"Reads at {args.readers} connections while uploads run (uploads took "
          f"{', '.join(f'{t:.1f}' for t in took)} s)",
          ["phase", "reads", "errors", "p50 s", "p99 s", "p50 / before", "p99 / before"], rows)


if __name__ == "__main__":
    main()
