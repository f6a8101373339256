"""HTTP API under load: `traitkg serve --workers 2` with the shared data, driven by wrk on loopback.

For each endpoint (taxon traits, MRCA on the 11,638-tip Fish Tree of Life) at 8 and 50 concurrent
connections: requests/s, p50 and p99 latency (medians over repeats) and errors; in the same run
the HTTP floor (a trivial route of the same app) and the data floor (the same lookup as an
in-process facade call). Ratios: our throughput / the floor's.

Usage: .venv/bin/python bench/api.py [--repeat 3] [--duration 5] [--store DIR]
The store is built once into bench/results/api-store (fish tree, ontologies and Phenoscape
matrices when their loaders are present) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from _util import ROOT, SHARED, table

sys.path.insert(0, str(ROOT))  # the repository's packages, not tests/ namespaces of the same name

EXE = str(Path(sys.executable).parent / "traitkg")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
FISH = SHARED / "fishtree" / "actinopt_12k_treePL.tre"
MRCA_IDS = ["Danio rerio", "Corydoras aeneus", "Astyanax mexicanus", "Salmo salar"]
ONTOLOGIES = {"uberon": SHARED / "uberon" / "uberon-2015-05-25.owl.gz", "pato": SHARED / "pato" / "pato.obo",
              "bspo": SHARED / "bspo" / "bspo.obo"}
MATRICES = ["Cypriniformes/Fang_2003.xml", "Characiformes/Buckup_1998.xml", "Siluriformes/Britto_2003.xml",
            "Cypriniformes/Mabee_et_al_2011.xml", "Characiformes/Zanata_Vari_2005.xml"]


def prepare(store: Path) -> dict[str, object]:
    """Load the shared data into ``store`` (once); returns what was loaded."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open(f"oxigraph:{store}")
    loaded: dict[str, object] = {"tree": "fish"}
    try:
        if not kg.graphs(kind="tree", name="fish"):
            kg.load_tree(FISH, name="fish")
        if hasattr(kg, "load_ontology"):
            for name, path in ONTOLOGIES.items():
                if not kg.graphs(kind="ontology", name=name):
                    kg.load_ontology(path, name=name)
            loaded["ontologies"] = sorted(ONTOLOGIES)
        try:
            from loaders import loader_for

            phenex = loader_for("phenex")
        except Exception:  # the phenotype loader has not landed
            phenex = None
        if phenex is not None:
            for m in MATRICES:
                kg.load(SHARED / "phenoscape-data" / "nexml" / m, format="phenex", lenient=True)
            loaded["matrices"] = len(MATRICES)
    finally:
        kg.close()
    return loaded


def pick_taxon(store: Path) -> str | None:
    """A taxon with many traits (the realistic heavy case), if traits are available."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open(f"oxigraph:{store}")
    try:
        traits = getattr(kg, "traits", None)
        if traits is None:
            return None
        counts: dict[str, int] = {}
        for c in traits.calls().values():
            counts[c.taxon] = counts.get(c.taxon, 0) + 1
        if not counts:
            return None
        from ontologies.prefixes import contract

        return contract(max(counts, key=counts.get))
    finally:
        kg.close()


class _Req:
    """The bits of a Starlette request the handlers' view cache and paging use."""

    class _App:
        class state:  # noqa: N801 - mirrors app.state
            views: dict = {}

    app = _App()

    class url:  # noqa: N801
        @staticmethod
        def include_query_params(**kw: object) -> str:
            return "next"


def in_process(store: Path, taxon: str | None, repeat: int) -> dict[str, tuple[float, float]]:
    """Median seconds per call, in-process: the raw facade call and the API handler without HTTP
    (the same cached lookups the server does). Returns {name: (seconds, calls/s)}."""
    from api.deps import Page
    from api.routers._trees_support import IdsIn
    from api.routers.traits import taxon_traits
    from api.routers.trees import _mrca
    from kg import KnowledgeGraph
    from kg.core.store import OxigraphStore

    kg = KnowledgeGraph(OxigraphStore(store, read_only=True))
    req = _Req()
    out = {}
    try:
        t = kg.tree("fish")
        ids = IdsIn(ids=MRCA_IDS)
        calls = {"mrca: facade": lambda: t.mrca(MRCA_IDS),
                 "mrca: API handler": lambda: _mrca(req, kg, "fish", ids)}
        if taxon:
            calls["taxon traits: facade"] = lambda: kg.traits.traits_of(taxon)
            calls["taxon traits: API handler"] = lambda: taxon_traits(req, kg, taxon, Page(100, 0), True, None, None)
        for name, fn in calls.items():
            fn()  # warm caches, as the server's first request does
            per = []
            for _ in range(repeat):
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < 0.5:
                    fn()
                    n += 1
                per.append((time.perf_counter() - t0) / n)
            med = statistics.median(per)
            out[name] = (med, 1.0 / med)
    finally:
        kg.close()
    return out


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read a latency from {text!r}")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def wrk(url: str, conns: int, duration: int) -> dict[str, float]:
    """One bounded wrk run: requests/s, p50/p99 in ms, errors (non-2xx + socket errors)."""
    threads = min(2, conns)
    p = subprocess.run([WRK, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "--latency", url],
                       capture_output=True, text=True, timeout=duration + 60)
    out = p.stdout
    if p.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed on {url}: {out}{p.stderr}")
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": _ms(lat["50"]),
            "p99": _ms(lat["99"]), "errors": errors, "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def serve(store: Path, port: int, workers: int = 2, root: Path = ROOT) -> subprocess.Popen:
    """`traitkg serve --warm` on ``store`` with the code of the checkout at ``root``."""
    env = {**os.environ, "TRAITKG_QUERY_TIMEOUT": "30", "PYTHONPATH": str(root)}
    proc = subprocess.Popen([EXE, "--store", f"oxigraph:{store}", "serve", "--port", str(port), "--workers",
                             str(workers), "--warm",
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600  # --warm builds the trait calls in each worker first
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--store", type=Path, default=ROOT / "bench" / "results" / "api-store")
    args = ap.parse_args()
    args.store.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    loaded = prepare(args.store)
    taxon = pick_taxon(args.store)
    print(f"store {args.store}: {json.dumps(loaded)}; prepared in {time.perf_counter() - t0:.1f} s; "
          f"taxon for traits: {taxon}")
    floor_in = in_process(args.store, taxon, args.repeat)

    from _api_port import free_port  # noqa: PLC0415 - tiny helper beside this file

    port = free_port()
    proc = serve(args.store, port)
    base = f"http://127.0.0.1:{port}"
    sizes: dict[str, int] = {}
    urls = {"ping (HTTP floor)": f"{base}/ping",
            "mrca (4 ids, 11,638 tips)": f"{base}/api/v1/trees/fish/mrca?" + "&".join(
                f"ids={quote(i)}" for i in MRCA_IDS)}
    if taxon:
        urls["taxon traits"] = f"{base}/api/v1/taxa/{quote(taxon, safe=':')}/traits?evidence=true"
    try:
        for name, url in urls.items():  # correctness before speed, then warm every worker's caches
            r = httpx.get(url, timeout=60)
            assert r.status_code == 200, (name, r.status_code, r.text[:300])
            sizes[name] = len(r.content)
            wrk(url, 8, 3)
        results: dict[tuple[str, int], dict[str, float]] = {}
        for conns in (8, 50):
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for _ in range(args.repeat):  # interleaved, so every endpoint meets the same machine load
                for name, url in urls.items():
                    runs[name].append(wrk(url, conns, args.duration))
            for name, rs in runs.items():
                results[(name, conns)] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                results[(name, conns)]["errors"] = sum(r["errors"] for r in rs)
    finally:
        proc.terminate()
        proc.wait(20)
    rows = []
    for (name, conns), r in results.items():
        floor = results[("ping (HTTP floor)", conns)]["rps"]
        rows.append([name, conns, round(r["rps"]), r["p50"], r["p99"], int(r["errors"]),
                     f"{r['rps'] / floor:.0%}"])
    table(f"traitkg serve --workers 2, wrk {args.duration}s x {args.repeat} (medians), loopback, "
          f"{os.cpu_count()} cores", ["endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors", "of HTTP floor"],
          rows)
    key = {"mrca": "mrca (4 ids, 11,638 tips)", "taxon traits": "taxon traits"}
    table("data floor: the same lookup in-process (one thread, no HTTP); response bytes per request: "
          + ", ".join(f"{k} {v:,}" for k, v in sizes.items()),
          ["lookup", "µs/call", "calls/s", "HTTP req/s at 8 conns", "HTTP / in-process"],
          [[k, v[0] * 1e6, round(v[1]), round(results[(key[k.split(':')[0]], 8)]["rps"]),
            f"{results[(key[k.split(':')[0]], 8)]['rps'] / v[1]:.0%}"] for k, v in floor_in.items()])

if __name__ == "__main__":
    main()
