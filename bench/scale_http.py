"""The service under load on a scale build (bench/scale.py --keep): `traitkg serve --warm`, wrk on
loopback with requests spread over many taxa and random tip sets (a Lua script cycles through
thousands of URLs, so no single cached answer), against the `/ping` floor in the same run; then
where one MRCA request's time goes: the facade, the API handler (in-process, profiled) and HTTP.

Run: ``.venv/bin/python bench/scale_http.py --store DIR/kg --species DIR/species.txt --predicted DIR/predicted.txt``
(DIR: the work directory bench/scale.py printed and kept). Targets (issue 28): each endpoint >= 50%
of the floor's req/s at 8 connections with p99 <= 20 ms; p99 within 1.5x of the floor's at 50.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from _util import table

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
bench_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_api)  # wrk(), serve() and the request stand-in of bench/api.py


def lua(paths: list[str], d: Path) -> Path:
    body = ",\n".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    f = d / f"paths{len(list(d.iterdir()))}.lua"
    f.write_text("paths = {\n" + body + "\n}\ncounter = math.random(#paths)\nrequest = function()\n"
                 "  counter = counter % #paths + 1\n  return wrk.format('GET', paths[counter])\nend\n")
    return f


def wrk(base: str, script: Path | None, path: str, conns: int, duration: int) -> dict[str, float]:
    if script is None:
        return bench_api.wrk(base + path, conns, duration)
    args = [bench_api.WRK, f"-t{min(2, conns)}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "--latency",
            "-s", str(script), base]
    p = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    import re
    out = p.stdout
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out}{p.stderr}")
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(x) for x in sock.groups()) if sock else 0
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": bench_api._ms(lat["50"]),
            "p99": bench_api._ms(lat["99"]), "errors": errors}


def mrca_profile(store: Path, sets: list[list[str]]) -> tuple[list[list[object]], str]:
    """Per-call µs of the facade and of the API handler in-process, and the handler's profile."""
    from api.routers._trees_support import IdsIn
    from api.routers.trees import _mrca
    from kg import KnowledgeGraph
    from kg.core.store import OxigraphStore

    kg = KnowledgeGraph(OxigraphStore(store, read_only=True))
    req = bench_api._Req()
    try:
        t = kg.tree("scale")
        bodies = [IdsIn(ids=s) for s in sets]
        rows = []
        for name, fn in (("facade Tree.mrca(names)", lambda i: t.mrca(sets[i])),
                         ("index mrca(ids)", lambda i: t.index.mrca(t.node_ids(sets[i]))),
                         ("API handler _mrca (in-process, no HTTP)", lambda i: _mrca(req, kg, "scale", bodies[i]))):
            fn(0)
            per = []
            for _ in range(3):
                t0 = time.perf_counter()
                for i in range(len(sets)):
                    fn(i)
                per.append((time.perf_counter() - t0) / len(sets))
            rows.append([name, statistics.median(per) * 1e6])
        prof = cProfile.Profile()
        prof.enable()
        for i in range(len(sets)):
            _mrca(req, kg, "scale", bodies[i])
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(14)
        return rows, s.getvalue()
    finally:
        kg.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--species", type=Path, required=True)
    ap.add_argument("--predicted", type=Path, required=True)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    rnd = random.Random(28)
    tips = [s.replace(" ", "_") for s in a.species.read_text().splitlines()]
    predicted = a.predicted.read_text().splitlines()
    fish = [s for s in a.species.read_text().splitlines() if not s.startswith("Scalegenus")]
    sets4 = [rnd.sample(tips, 4) for _ in range(2000)]
    rows_prof, profile = mrca_profile(a.store, sets4[:500])
    os.environ["TRAITKG_WARM"] = "1"
    port = bench_api.free_port() if hasattr(bench_api, "free_port") else __import__("_api_port").free_port()
    t0 = time.perf_counter()
    proc = bench_api.serve(a.store, port, a.workers)
    ready = time.perf_counter() - t0
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        endpoints = {
            "ping (HTTP floor)": (None, "/ping"),
            f"taxon traits ({min(2000, len(fish)):,} fish taxa)": (lua(
                [f"/api/v1/taxa/{quote(s)}/traits" for s in rnd.sample(fish, min(2000, len(fish)))], d), ""),
            f"prediction summary ({min(2000, len(predicted)):,} taxa)": (lua(
                [f"/api/v1/taxa/{quote(s)}/predictions?evidence=false" for s in
                 rnd.sample(predicted, min(2000, len(predicted)))], d), ""),
            f"MRCA of 4 tips (2,000 random sets of {len(tips):,})": (lua(
                ["/api/v1/trees/scale/mrca?" + "&".join(f"ids={quote(x)}" for x in s) for s in sets4], d), ""),
        }
        results: dict[tuple[str, int], dict[str, float]] = {}
        try:
            for script, path in endpoints.values():  # warm every worker once, as a first visitor would
                wrk(base, script, path, 4, 2)
            for conns in (8, 50):
                for name, (script, path) in endpoints.items():
                    results[(name, conns)] = wrk(base, script, path, conns, a.duration)
        finally:
            proc.terminate()
            proc.wait(30)
    rows = []
    for (name, conns), r in results.items():
        fl = results[("ping (HTTP floor)", conns)]
        rows.append([name, conns, round(r["rps"]), r["p50"], r["p99"], int(r["errors"]), f"{r['rps'] / fl['rps']:.0%}",
                     f"{r['p99'] / fl['p99']:.2f}x"])
    table(f"traitkg serve --warm --workers {a.workers} on {a.store} (ready in {ready:.1f} s), wrk {a.duration}s per "
          f"row, loopback, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}",
          ["endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors", "of floor req/s", "p99 / floor p99"], rows)
    mr = results[(list(endpoints)[3], 8)]
    rows_prof.append(["HTTP at 8 connections, per request (1 / req/s x conns)", 8 / mr["rps"] * 1e6])
    table("Where an MRCA request's time goes (4 random tips; medians of 3 x 500 calls)", ["layer", "µs/call"],
          rows_prof)
    print("\nprofile of the API handler (500 calls, cumulative):")
    print("\n".join(profile.splitlines()[:40]))


if __name__ == "__main__":
    main()
