"""The service under load on a scale build (bench/scale.py --keep): `traitkg serve --warm`, wrk on
loopback with requests spread over many taxa and random tip sets (a Lua script cycles through
thousands of URLs, so no single cached answer), against the `/ping` floor in the same run; with
``--peer ROOT`` the same run also serves the same store from another checkout (the old main) and
drives it the same way. Then each request taken apart, in-process on the same store: the facade,
the API handler (profiled), the whole app through ASGI without a socket, and HTTP.

The URL lists hold taxa that have the data asked for (taxa with phenotypes; taxa summarised in
the latest prediction batches): a taxon without any is a correct 404, not a server error. Every
answer that is not a 2xx is still counted and classified (status code and the first bodies,
from wrk's ``response`` hook), as are wrk's socket errors and timeouts.

Run: ``.venv/bin/python bench/scale_http.py --store DIR/kg --species DIR/species.txt [--peer /work/main]``
(DIR: the work directory bench/scale.py printed and kept). Targets (issue 28): each endpoint >= 50%
of the floor's req/s at 8 connections with p99 <= 20 ms; p99 within 1.5x of the floor's at 50.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import os
import pstats
import random
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, unquote

from _util import table

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
bench_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_api)  # wrk(), serve() and the request stand-in of bench/api.py
TKG = "https://w3id.org/traitkg/schema#"

_LUA_TAIL = """
counter = math.random(#paths)
codes = {}
bad = ""
request = function()
  counter = counter % #paths + 1
  return wrk.format('GET', paths[counter])
end
response = function(status, headers, body)
  if status >= 300 then
    codes[status] = (codes[status] or 0) + 1
    if #bad < 600 then bad = bad .. status .. " " .. string.sub(body, 1, 140) .. "\\n" end
  end
end
threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do io.write("STATUS ", code, " ", n, "\\n") end
    local b = t:get("bad")
    if b ~= "" then io.write("BODIES\\n", b, "END\\n") end
  end
end
"""


def lua(paths: list[str], d: Path) -> Path:
    body = ",\n".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    f = d / f"paths{len(list(d.iterdir()))}.lua"
    f.write_text("paths = {\n" + body + "\n}\n" + _LUA_TAIL)
    return f


def wrk(base: str, script: Path | None, path: str, conns: int, duration: int) -> dict[str, object]:
    """One wrk run: req/s, p50/p99 ms, errors (non-2xx + socket errors), and what they were."""
    args = [bench_api.WRK, f"-t{min(2, conns)}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "--latency"]
    args += ["-s", str(script), base] if script is not None else [base + path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    out = p.stdout
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out}{p.stderr}")
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket = dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()))) if sock else {}
    codes: dict[int, int] = {}
    for code, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M):
        codes[int(code)] = codes.get(int(code), 0) + int(n)
    bodies = [b for blk in re.findall(r"^BODIES\n(.*?)^END$", out, re.M | re.S) for b in blk.splitlines()][:3]
    done = int(re.search(r"(\d+) requests in", out).group(1))
    return {"requests": done, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": bench_api._ms(lat["50"]) if done else float("nan"),
            "p99": bench_api._ms(lat["99"]) if done else float("nan"), "errors": non2xx + sum(socket.values()),
            "codes": codes,
            "socket": {k: v for k, v in socket.items() if v}, "bodies": bodies}


def url_lists(kg, species: list[str], rnd: random.Random, n: int = 2000) -> dict[str, list[str]]:
    """Spread URLs per endpoint, over taxa that have the data each one answers."""
    from kg.core.names import normalise_name, taxon_iri
    from kg.core.store import NamedNode
    from ontologies.prefixes import contract

    def ref(iri: str, name: str) -> str:  # the scientific name where it leads back to the taxon, else the CURIE
        return name if taxon_iri(normalise_name(name)) == iri else contract(iri)

    names = {taxon_iri(normalise_name(s)): s for s in species}
    with_traits = sorted(kg.traits.calls_by_taxon())
    labels = kg.traits.index.taxa
    traits = [ref(t, names.get(t) or labels.get(t, t)) for t in rnd.sample(with_traits, min(n, len(with_traits)))]
    _, graphs = kg.predictions.chosen()
    summarised: set[str] = set()
    for g in graphs:
        summarised |= {r[0].value for r in kg.query(f"SELECT DISTINCT ?t WHERE {{ GRAPH ?g {{ ?s <{TKG}taxon> ?t }} }}",
                                                    {"g": NamedNode(g)}).rows}
    summarised_list = sorted(summarised)
    preds = [ref(t, names.get(t, t)) for t in rnd.sample(summarised_list, min(n, len(summarised_list)))]
    tips = [s.replace(" ", "_") for s in species]
    sets4 = [rnd.sample(tips, 4) for _ in range(n)]
    return {"traits": [f"/api/v1/taxa/{quote(s)}/traits" for s in traits],
            "predictions": [f"/api/v1/taxa/{quote(s)}/predictions?evidence=false" for s in preds],
            "mrca": ["/api/v1/trees/scale/mrca?" + "&".join(f"ids={quote(x)}" for x in s) for s in sets4],
            "_traits": traits, "_preds": preds, "_sets": sets4, "_tips": tips}


async def _asgi_get(app, url: str) -> int:
    path, _, qs = url.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": unquote(path), "raw_path": path.encode(),
             "query_string": qs.encode(), "headers": [(b"host", b"bench")], "server": ("bench", 80),
             "client": ("127.0.0.1", 1), "root_path": ""}
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg: dict) -> None:
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]

    await app(scope, receive, send)
    return status


def in_process(store: Path, species: list[str], rnd: random.Random, n: int
               ) -> tuple[dict[str, list[str]], list[list[object]], dict[str, str]]:
    """The URL lists, then per-call µs of each layer, each call a different taxon or tip set
    (first visits), in one process holding the store as a server worker does (``serve --warm``'s
    start-up); and each handler's profile."""
    from api.app import create_app
    from api.deps import Page
    from api.routers._trees_support import IdsIn
    from api.routers.predictions import taxon_predictions_answer as taxon_predictions
    from api.routers.traits import taxon_traits
    from api.routers.trees import _mrca
    from api.settings import Settings

    app = create_app(Settings(store=f"oxigraph:{store}", read_only=True, warm=True))
    rows: list[list[object]] = []
    profiles: dict[str, str] = {}
    urls: dict[str, list[str]] = {}

    async def run() -> None:
        async with app.router.lifespan_context(app):
            kg = app.state.kg
            urls.update(url_lists(kg, species, rnd))
            req = bench_api._Req()
            req.app.state.views = app.state.views  # the server's view cache (the warmed tree)
            t = kg.tree("scale")
            tr, pr, sets = urls["_traits"][:n], urls["_preds"][:n], urls["_sets"][:n]
            layers = {
                "MRCA of 4 tips": [
                    ("index mrca(ids)", lambda i: t.index.mrca(t.node_ids(sets[i]))),
                    ("facade Tree.mrca(names)", lambda i: t.mrca(sets[i])),
                    ("API handler (in-process, no HTTP)", lambda i: _mrca(req, kg, "scale", IdsIn(ids=sets[i]))),
                    ("whole app through ASGI (routing, checks, JSON)", "mrca")],
                "taxon traits": [
                    ("facade traits_of(taxon) (every trait, evidence)", lambda i: kg.traits.traits_of(tr[i])),
                    ("API handler (first page of 100, encoded)", lambda i: taxon_traits(
                        req, kg, tr[i], Page(100, 0), True, None, None)),
                    ("whole app through ASGI (routing, checks, JSON)", "traits")],
                "prediction summary": [
                    ("facade predictions.summary(taxon)", lambda i: kg.predictions.summary(pr[i])),
                    ("API handler (in-process, no HTTP)", lambda i: taxon_predictions(
                        req, kg, pr[i], Page(100, 0), None, False, False, None)),
                    ("whole app through ASGI (routing, checks, JSON)", "predictions")]}
            for endpoint, fns in layers.items():
                for name, fn in fns:
                    per = []
                    for _ in range(3):
                        t0 = time.perf_counter()
                        if isinstance(fn, str):
                            for u in urls[fn][:n]:
                                if await _asgi_get(app, u) != 200:
                                    raise RuntimeError(f"{u}: not 200 in-process")
                        else:
                            for i in range(n):
                                fn(i)
                        per.append((time.perf_counter() - t0) / n)
                    rows.append([endpoint, name, statistics.median(per) * 1e6])
                handler = fns[-2][1]
                prof = cProfile.Profile()
                prof.enable()
                for i in range(n):
                    handler(i)
                prof.disable()
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(12)
                profiles[endpoint] = s.getvalue()

    asyncio.run(run())
    return urls, rows, profiles


def drive(label: str, root: Path, store: Path, workers: int, endpoints: dict, duration: int
          ) -> tuple[float, dict[tuple[str, int], dict[str, object]]]:
    os.environ["TRAITKG_WARM"] = "1"
    port = bench_api.free_port() if hasattr(bench_api, "free_port") else __import__("_api_port").free_port()
    t0 = time.perf_counter()
    proc = bench_api.serve(store, port, workers, root=root)
    ready = time.perf_counter() - t0
    print(f"{label}: serving from {root}, ready in {ready:.1f} s", flush=True)
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for script, path in endpoints.values():  # warm every worker once, as a first visitor would
            wrk(base, script, path, 4, 2)
        for conns in (8, 50):
            for name, (script, path) in endpoints.items():
                results[(name, conns)] = wrk(base, script, path, conns, duration)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # a loaded machine: workers slow to stop are not a result
            proc.kill()
            proc.wait(30)
    for (name, conns), r in results.items():  # as measured, before the next server starts
        print(f"  {label} {name} {conns}: {r['rps']:,.0f} req/s p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms "
              f"errors {r['errors']}", flush=True)
    return ready, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--species", type=Path, required=True)
    ap.add_argument("--predicted", type=Path, help="(unused: the taxa come from the store's summaries)")
    ap.add_argument("--peer", type=Path, help="another checkout (the old main) served on the same store in this run")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calls", type=int, default=300, help="distinct taxa / tip sets per in-process layer")
    a = ap.parse_args()
    rnd = random.Random(28)
    species = a.species.read_text().splitlines()
    urls, rows_apart, profiles = in_process(a.store, species, rnd, a.calls)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        endpoints = {
            "ping (HTTP floor)": (None, "/ping"),
            f"taxon traits ({len(urls['traits']):,} taxa with traits)": (lua(urls["traits"], d), ""),
            f"prediction summary ({len(urls['predictions']):,} summarised taxa)": (lua(urls["predictions"], d), ""),
            f"MRCA of 4 tips ({len(urls['mrca']):,} random sets of {len(urls['_tips']):,})": (lua(urls["mrca"], d), ""),
        }
        runs = [("this branch", ROOT)] + ([("peer", a.peer.resolve())] if a.peer else [])
        out = {label: drive(label, root, a.store, a.workers, endpoints, a.duration) for label, root in runs}
    rows, errs = [], []
    for label, (_, results) in out.items():
        for (name, conns), r in results.items():
            fl = results[("ping (HTTP floor)", conns)]
            if not r["requests"]:  # nothing came back within the run: not a result, and no errors to count
                rows.append([label, name, conns, 0, "-", "-", "no answer", "-", "-"])
                errs.append([label, name, conns, "-", "-", "no response within the run (wrk's 10 s timeout "
                             "outlasts it, so the requests still waiting are not counted)"])
                continue
            rows.append([label, name, conns, round(r["rps"]), r["p50"], r["p99"], int(r["errors"]),
                         f"{r['rps'] / fl['rps']:.0%}", f"{r['p99'] / fl['p99']:.2f}x"])
            if r["errors"]:
                errs.append([label, name, conns, " ".join(f"{c}: {k}" for c, k in sorted(r["codes"].items())) or "-",
                             " ".join(f"{k} {v}" for k, v in r["socket"].items()) or "-",
                             " | ".join(r["bodies"])[:200] or "-"])
    ready = ", ".join(f"{label} ready in {v[0]:.1f} s" for label, v in out.items())
    table(f"traitkg serve --warm --workers {a.workers} on {a.store} ({ready}), wrk {a.duration}s per row, loopback, "
          f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}",
          ["server", "endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors", "of floor req/s", "p99 / floor p99"],
          rows)
    if errs:
        table("What the errors were (status codes from wrk's response hook; socket errors; first bodies)",
              ["server", "endpoint", "conns", "status: count", "socket", "bodies"], errs)
    else:
        print("\nno errors: every response a 2xx, no socket errors or timeouts")
    ours = out["this branch"][1]
    for endpoint, key in (("MRCA of 4 tips", "MRCA"), ("taxon traits", "taxon traits"),
                          ("prediction summary", "prediction summary")):
        name = next(k for k in endpoints if k.startswith(key))
        rows_apart.append([endpoint, "HTTP at 8 connections, per request (1 / req/s x conns)",
                           8 / ours[(name, 8)]["rps"] * 1e6])
    rows_apart.sort(key=lambda r: ["MRCA of 4 tips", "taxon traits", "prediction summary"].index(r[0]))
    table(f"Where a request's time goes (this branch; each call a different taxon or tip set, {a.calls} per pass; "
          "medians of 3 passes)", ["endpoint", "layer", "µs/call"], rows_apart)
    for endpoint, text in profiles.items():
        print(f"\nprofile of the {endpoint} handler ({a.calls} calls, cumulative):")
        print("\n".join(text.splitlines()[:26]))


if __name__ == "__main__":
    main()
