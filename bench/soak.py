"""Soak: mixed reads at 8 connections and a periodic write (an upload of a new version, then a drop of
the one before) for 10 minutes against a store with a
subset of the shared data (the fish tree, PATO with its closure, three Phenoscape matrices); the
server's memory (its process and query workers) sampled every 10 s. Prints, per interval, the
memory, reads, errors and read p50/p99; the first interval (warm-up) is the peer the others are
compared with. Not part of `make test`.

    PYTHONPATH=. .venv/bin/python bench/soak.py [--minutes 10] [--connections 8] [--write-every 60]
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
from _serving import TOKEN, Server, build_store, median, pct, read_once, upload, upload_files
from _util import table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--write-every", type=float, default=60.0, help="seconds between uploads")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between memory samples")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        selector = build_store(Path(tmp) / "store")
        srv = Server(selector, free_port())
        lock = threading.Lock()
        lat: list[float] = []
        errors = [0]
        stop = threading.Event()

        def reader(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=srv.url, timeout=120) as c:
                while not stop.is_set():
                    try:
                        dt, ok, _ = read_once(c, rng)
                    except httpx.HTTPError:
                        dt, ok = float("nan"), False
                    with lock:
                        if ok:
                            lat.append(dt)
                        else:
                            errors[0] += 1

        writes: list[float] = []

        def writer() -> None:
            """Upload a new version, then drop the one before it: the store keeps its size, so memory
            that grows is the server's, not the data's."""
            files = upload_files()
            k = 0
            last: dict[str, str] = {}
            with httpx.Client(base_url=srv.url, timeout=600) as c:
                while not stop.wait(args.write_every):
                    path, fields = files[k % len(files)]
                    try:
                        writes.append(upload(c, path, fields, f"soak{k}"))
                        graphs = c.get("/api/v1/graphs", params={"limit": 1000}).json()["items"]
                        mine = [g for g in graphs if g["version"] == f"soak{k}" and g["kind"] == fields["kind"]]
                        ref = f"{mine[0]['kind']}/{mine[0]['name']}"
                        if ref in last:
                            r = c.delete(f"/api/v1/graphs/{last[ref]}", headers={"Authorization": f"Bearer {TOKEN}"})
                            if r.status_code != 200:
                                raise RuntimeError(r.text)
                        last[ref] = f"{ref}/soak{k}"
                    except Exception:  # noqa: BLE001 - counted as an error
                        with lock:
                            errors[0] += 1
                    k += 1

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(args.connections)]
        threads.append(threading.Thread(target=writer))
        for t in threads:
            t.start()
        rows = []
        minute_lat: dict[int, list[float]] = {}
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.minutes * 60:
                time.sleep(args.interval)
                with lock:
                    chunk, err = lat[:], errors[0]
                    lat.clear()
                    errors[0] = 0
                total, own, workers = srv.memory()
                rows.append([f"{time.monotonic() - t0:6.0f}", round(total, 1), round(own, 1), workers, len(chunk),
                             err, median(chunk), pct(chunk, 0.99), len(writes)])
                minute_lat.setdefault(int((time.monotonic() - t0 - 1e-9) // 60), []).extend(chunk)
                print("  ".join(str(x) for x in rows[-1]), flush=True)
        finally:
            stop.set()
            for t in threads:
                t.join()
            srv.stop()
    base_mem, base_p99 = rows[0][1], rows[0][7]
    for r in rows:
        r += [r[1] / base_mem, r[7] / base_p99]
    table(f"Soak: {args.minutes:g} min, {args.connections} connections, an upload every {args.write_every:g} s "
          f"({len(writes)} uploads, median {median(writes):.1f} s); RSS: the server and its query workers",
          ["t s", "RSS MB", "server MB", "workers", "reads", "errors", "p50 s", "p99 s", "uploads", "RSS / first",
           "p99 / first"], rows)
    per_minute = []
    for m in sorted(minute_lat):
        mem = [r[1] for r in rows if m * 60 < float(r[0]) <= (m + 1) * 60]
        per_minute.append([m + 1, len(minute_lat[m]), median(minute_lat[m]), pct(minute_lat[m], 0.99),
                           max(mem) if mem else float("nan")])
    table("Per minute", ["minute", "reads", "p50 s", "p99 s", "max RSS MB"], per_minute)
    # flatness beyond warm-up: the samples after the first write and the next minute
    later = [(float(r[0]), r[1]) for r in rows if float(r[0]) > args.write_every + 60]
    if len(later) > 2:
        n = len(later)
        mt, mm = sum(t for t, _ in later) / n, sum(m for _, m in later) / n
        slope = sum((t - mt) * (m - mm) for t, m in later) / sum((t - mt) ** 2 for t, _ in later) * 60
        print(f"\nafter warm-up (t > {args.write_every + 60:g} s, {n} samples): RSS {min(m for _, m in later):.0f}-"
              f"{max(m for _, m in later):.0f} MB, first {later[0][1]:.0f}, last {later[-1][1]:.0f}; "
              f"least-squares slope {slope:+.1f} MB/min")
    print(f"errors in total: {sum(r[5] for r in rows)}; reads: {sum(r[4] for r in rows)}; uploads: {len(writes)}")

if __name__ == "__main__":
    main()
