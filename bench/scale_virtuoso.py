"""The scale build and its queries on Virtuoso 7 through ``sparql:URL``, beside the embedded store, in one run.

The same seeded inputs as bench/scale.py (bench/_scale_data.py) and the same steps, each a `traitkg`
command in its own process as a user runs it, against three stores one after the other:

- **embedded**: ``oxigraph:DIR`` (the product default; the peer of every ratio);
- **virtuoso sparql**: ``sparql:http://127.0.0.1:PORT/sparql`` on a fresh Virtuoso 7 (Debian's
  ``virtuoso-t``, loopback, the test fixture's settings: 170,000 buffers, i.e. ~1.3 GB), graphs
  written through the Graph Store Protocol;
- **virtuoso bulk**: the same with Virtuoso's bulk loader (``isql=...,load-dir=...``: graphs of at
  least ``BULK_MIN`` triples as files through ``ld_dir`` + ``rdf_loader_run`` + checkpoint).

Then per store: the queries of bench/_scale_queries.py through the Python API (prediction summary,
taxa with a phenotype of an entity, MRCA of 1,000 tips, induced subtree of 10,000 tips; medians),
the store's size on disk (Virtuoso: its database and transaction log after a checkpoint, less the
empty database it started with) and the server's peak RSS. Each client step's own peak RSS comes
from ``wait4``; a Virtuoso store's work happens partly in the server, whose peak is reported apart.

Run: ``.venv/bin/python bench/scale_virtuoso.py --fraction 0.01 [--stores embedded,sparql,bulk]
[--no-ontologies] [--json FILE]``. The stores run in the order given (``--stores bulk,embedded``
finds a Virtuoso failure first); the embedded store is the peer of the ratios either way. ``--no-ontologies`` leaves out the ontology and Phenoscape steps
(fraction-independent, the slowest) and with them the taxa-with query.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _scale_data import make_inputs, sizes
from _scale_steps import PY, cli, du, graph_list
from _util import SHARED, table
from conftest import VirtuosoServer

from kg.core.store.virtuoso import BULK_MIN

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGIES = ["pato/pato.obo", "bspo/bspo.obo", "zfa/zfa.obo", "uberon/uberon-2015-05-25.owl.gz"]
STORES = {"embedded": "embedded (oxigraph:DIR)", "sparql": "virtuoso, SPARQL/GSP writes",
          "bulk": f"virtuoso, bulk loader (>= {BULK_MIN:,} triples)"}
MB = 1 << 20


def steps(inp, ontologies: list[str], scaling: bool = True, phenotypes: bool = True) -> list[tuple[str, list[str]]]:
    """The build's steps: the ontologies named (each with the closure), then (``scaling``) taxonomy, tree
    and prediction batches, then (``phenotypes``) Phenoscape where any ontology is loaded."""
    out: list[tuple[str, list[str]]] = []
    out += [(f"load ontology {Path(f).name} (+ closure)", ["load", "ontology", str(SHARED / f), "--lenient"])
            for f in ONTOLOGIES if Path(f).parent.name in ontologies]
    if scaling:
        out.append((f"load taxonomy ({inp.tips:,} species)",
                    ["load", "taxonomy", str(inp.taxonomy), "--name", "scale-taxonomy"]))
        out.append((f"load tree ({inp.tips:,} tips)",
                    ["load", "tree", str(inp.tree), "--format", "newick", "--name", "scale"]))
        for ver, path, n in inp.tables:
            out.append((f"load predictions v{ver} ({n:,} rows)",
                        ["load", "predictions", str(path), "--model", "bioclip-traits", "--model-version", ver]))
    if ontologies and phenotypes:
        out.append(("load phenotypes (Phenoscape, 47 matrices, + inference)",
                    ["load", "phenotypes", str(SHARED / "phenoscape-data" / "nexml"), "--lenient"]))
    return out


def _virtuoso_bytes(srv: VirtuosoServer, location: Path) -> int:
    subprocess.run(["isql-vt", f"127.0.0.1:{srv.sql}", "dba", "dba", "exec=checkpoint;"], check=True,
                   capture_output=True, timeout=600)  # the bench's own server: the fresh database's account
    return sum((location / f).stat().st_size for f in ("virtuoso.db", "virtuoso.trx") if (location / f).exists())


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_store(kind: str, work: Path, inp, plan: list[tuple[str, list[str]]]) -> dict:
    """Build on one store, then its size and queries; the figures as a dict."""
    env_before = dict(os.environ)
    os.environ["TRAITKG_CACHE"] = str(work / f"cache-{kind}")  # each store builds its own tree/term indices
    os.environ["TRAITKG_HTTP_TIMEOUT"] = "1800"  # a long SPARQL query is timed, not cut at the default 30 s
    srv = None
    res: dict = {"store": kind, "steps": {}, "quads": {}}
    try:
        if kind == "embedded":
            location = work / "kg-embedded"
            sel, base = f"oxigraph:{location}", 0
        else:
            location = work / f"virtuoso-{kind}"
            location.mkdir()
            srv = VirtuosoServer(location)
            os.environ.update(srv.credentials)
            sel = srv.selector if kind == "sparql" else srv.bulk_selector(BULK_MIN)
            base = _virtuoso_bytes(srv, location)
        print(f"[{kind}] {sel}", flush=True)
        before: dict[str, int] = {}
        for name, args in plan:
            try:
                dt, rss, _bar, _out = cli(sel, *args)
            except RuntimeError as exc:  # reported in the table; the other steps still run
                print(f"  [{kind}] {name}: FAILED {exc}", flush=True)
                res["steps"][name] = {"seconds": float("nan"), "rss": 0, "error": str(exc)[-300:]}
                continue
            after = graph_list(sel)
            quads = sum(n for g, n in after.items() if before.get(g) != n and "/graph/manifest" not in g)
            before = after
            res["steps"][name] = {"seconds": dt, "rss": rss}
            res["quads"][name] = quads
            print(f"  [{kind}] {name}: {dt:.1f} s, client peak RSS {rss / MB:,.0f} MB, {quads:,} quads", flush=True)
        res["total quads"] = sum(n for g, n in before.items() if "/graph/manifest" not in g)
        res["files bytes"] = du(location) if srv is None else _virtuoso_bytes(srv, location)
        res["bytes"] = res["files bytes"] - base
        res["empty db bytes"] = base
        res["server peak rss"] = _peak_rss(srv.proc.pid) if srv is not None else 0
        q = subprocess.run([PY, str(ROOT / "bench" / "_scale_queries.py"), sel, str(work / "species.txt"),
                            str(work / "predicted.txt")], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        if q.returncode:
            print(f"  [{kind}] queries failed: {q.stderr[-2000:]}", flush=True)
            res["queries"] = {}
        else:
            res["queries"] = json.loads(q.stdout.strip().splitlines()[-1])
        if srv is not None:
            res["server peak rss"] = _peak_rss(srv.proc.pid)
    finally:
        if srv is not None:
            srv.stop()
        os.environ.clear()
        os.environ.update(env_before)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--stores", default="embedded,sparql,bulk", help=f"any of {', '.join(STORES)}")
    ap.add_argument("--ontologies", default="pato,bspo,zfa,uberon",
                    help="the ontologies loaded first (each with the closure; empty: none, and no Phenoscape step)")
    ap.add_argument("--no-ontologies", action="store_true", help="leave out the ontology and Phenoscape steps")
    ap.add_argument("--no-phenotypes", action="store_true", help="leave out the Phenoscape step")
    ap.add_argument("--fixed-only", action="store_true",
                    help="only the fraction-independent steps (ontologies, Phenoscape): no taxonomy, tree, predictions")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    kinds = a.stores.split(",")
    if bad := [k for k in kinds if k not in STORES]:
        ap.error(f"unknown store {bad[0]!r}; expected any of {', '.join(STORES)}")
    work = Path(tempfile.mkdtemp(prefix="tkg-scale-virtuoso-", dir=a.workdir))
    tips, taxa, rows = sizes(a.fraction)
    print(f"scale bench on Virtuoso, fraction {a.fraction}: {tips:,} tips, {taxa:,} taxa, {rows:,} rows; "
          f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    results = []
    try:
        inp = make_inputs(work, a.fraction, SHARED, a.seed)
        (work / "species.txt").write_text("\n".join(inp.species))
        (work / "predicted.txt").write_text("\n".join(inp.predicted))
        plan = steps(inp, [] if a.no_ontologies else [o for o in a.ontologies.split(",") if o], not a.fixed_only,
                     not a.no_phenotypes)
        for kind in kinds:
            t0 = time.perf_counter()
            results.append(run_store(kind, work, inp, plan))
            results[-1]["wall"] = time.perf_counter() - t0
            if a.json:  # what is measured so far, in case a later store fails or is stopped
                a.json.write_text(json.dumps({"fraction": a.fraction, "results": results}, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results.sort(key=lambda r: r["store"] != "embedded")  # the embedded store is the peer, whichever ran first
    peer = results[0]
    header = ["step", "quads"]
    for r in results:
        header += [f"{r['store']} s"] + (["ratio"] if r is not peer else [])
    out = []
    totals = {r["store"]: 0.0 for r in results}
    for name, _ in plan:
        row: list[object] = [name, peer["quads"].get(name, 0)]
        for r in results:
            s = r["steps"].get(name, {}).get("seconds", float("nan"))
            totals[r["store"]] += s
            row += [s] + ([s / peer["steps"].get(name, {}).get("seconds", float("nan"))] if r is not peer else [])
        out.append(row)
    row = ["whole build (sum of steps)", sum(peer["quads"].values())]
    for r in results:
        row += [totals[r["store"]]] + ([totals[r["store"]] / totals[peer["store"]]] if r is not peer else [])
    out.append(row)
    table(f"Scale build, fraction {a.fraction} ({tips:,} tips, {taxa:,} taxa, {rows:,} prediction rows), "
          f"{os.cpu_count()} cores; ratio = store's time / {peer['store']}'s; stores: "
          + "; ".join(f"{r['store']} = {STORES[r['store']]}" for r in results), header, out)
    table("Load rate and size on disk (Virtuoso: database + transaction log after a checkpoint, less the empty "
          "database; peak RSS: the biggest client step, and the server)",
          ["store", "quads", "build s", "quads/s", "files MB", "MB less empty", "bytes/quad", "client peak MB",
           "server peak MB"],
          [[r["store"], r["total quads"], totals[r["store"]], r["total quads"] / max(totals[r["store"]], 1e-9),
            r["files bytes"] / MB, r["bytes"] / MB, r["bytes"] / max(r["total quads"], 1),
            round(max((s["rss"] for s in r["steps"].values()), default=0) / MB), round(r["server peak rss"] / MB)]
           for r in results])
    names = ["prediction summary", "taxa-with entity (subsumption)", "mrca 1000 tips (names)", "mrca 1000 tips (ids)",
             "induced 10000 tips (names)", "open", "tree index (first use)", "prediction summary (first call)",
             "taxa-with (first call)"]
    qrows = []
    for n in names:
        row = [n]
        for r in results:
            v = r.get("queries", {}).get(n)
            ms = v["median"] * 1e3 if isinstance(v, dict) else (v * 1e3 if isinstance(v, float) else float("nan"))
            p = peer.get("queries", {}).get(n)
            pm = p["median"] * 1e3 if isinstance(p, dict) else (p * 1e3 if isinstance(p, float) else float("nan"))
            row += [ms] + ([ms / pm] if r is not peer else [])
        qrows.append(row)
    qh = ["query (median ms; first calls: one)"]
    for r in results:
        qh += [f"{r['store']} ms"] + (["ratio"] if r is not peer else [])
    table("Queries (Python API, one process, bench/_scale_queries.py)", qh, qrows)
    if a.json:
        a.json.write_text(json.dumps({"fraction": a.fraction, "results": results}, indent=1, default=str))


if __name__ == "__main__":
    main()
