"""Bulk RDF load: `traitkg load rdf` of UBERON 2015 (596,285 triples) vs rdflib and raw pyoxigraph.

Prints triples/s (medians), the ratio to each peer, the Oxigraph-server backend, and CLI start-up;
then the ratio to raw pyoxigraph for three sizes in one run (``--sizes``): small (10k triples of
N-Triples), medium (UBERON, RDF/XML gz) and large (the 1M-tip random tree's CDAO N-Triples, ~6M
triples, generated here as bench/trees.py does), with where the time goes (steps of one load).
Usage: .venv/bin/python bench/load_rdf.py [--repeat 3] [--skip-rdflib] [--sizes-only] [--no-large]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED, table, timed

UBERON = SHARED / "uberon" / "uberon-2015-05-25.owl.gz"
EXE = str(Path(sys.executable).parent / "traitkg")
TRIPLES = 596_285


def cli(*args: str, store: str) -> str:
    p = subprocess.run([EXE, "--store", store, *args], capture_output=True, text=True, check=True)
    return p.stdout


def bench_traitkg(repeat: int) -> float:
    def once() -> None:
        with tempfile.TemporaryDirectory() as d:
            out = cli("load", "rdf", str(UBERON), "--name", "uberon", store=f"oxigraph:{d}/kg")
            assert f"{TRIPLES} triples" in out, out
    return timed(once, repeat)[0]


def bench_raw_pyoxigraph(repeat: int) -> float:
    import pyoxigraph as ox

    def once() -> None:
        with tempfile.TemporaryDirectory() as d:
            s = ox.Store(f"{d}/raw")
            with gzip.open(UBERON) as fh:
                s.bulk_load(input=fh, format=ox.RdfFormat.RDF_XML, to_graph=ox.NamedNode("http://x/g"))
            s.flush()
    return timed(once, repeat)[0]


def bench_rdflib() -> float:
    import rdflib

    def once() -> None:
        g = rdflib.Graph()
        with gzip.open(UBERON) as fh:
            g.parse(fh, format="xml")
        assert len(g) == TRIPLES, len(g)
    return timed(once, 1)[0]


def bench_server(repeat: int) -> float:
    from conftest import OxigraphServer

    def once() -> None:
        with tempfile.TemporaryDirectory() as d:
            srv = OxigraphServer(Path(d))
            try:
                out = cli("load", "rdf", str(UBERON), "--name", "uberon", store=srv.selector)
                assert f"{TRIPLES} triples" in out, out
            finally:
                srv.stop()
    return timed(once, repeat)[0]


def bench_startup(repeat: int = 7) -> list[list[object]]:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as d:
        store = f"oxigraph:{d}/small"
        ttl = Path(d) / "one.ttl"
        ttl.write_text('<http://e.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n')
        cli("load", "rdf", str(ttl), store=store)
        for label, args in (("traitkg --help", ["--help"]),
                            ("traitkg query (1 row)", ["query", "SELECT ?l WHERE { ?s rdfs:label ?l }"])):
            med, _ = timed(lambda a=args: cli(*a, store=store), repeat)
            rows.append([label, med, "≤ 1 s"])
    for mod in ("torch", "torch_geometric", "fastapi", "rdflib"):
        med, _ = timed(lambda m=mod: subprocess.run([sys.executable, "-c", f"import {m}"], check=True), 3)
        rows.append([f"python -c 'import {mod}' (for scale)", med, "not imported by the CLI core"])
    return rows


def raw_load(path: Path, fmt_name: str) -> float:
    """Raw pyoxigraph: one bulk_load of the file into a fresh on-disk store (gzip through gzip.open)."""
    import pyoxigraph as ox

    fmt = {"rdfxml": ox.RdfFormat.RDF_XML, "nt": ox.RdfFormat.N_TRIPLES}[fmt_name]
    with tempfile.TemporaryDirectory() as d:
        s = ox.Store(f"{d}/raw")
        t0 = time.perf_counter()
        if path.name.endswith(".gz"):
            with gzip.open(path) as fh:
                s.bulk_load(input=fh, format=fmt, to_graph=ox.NamedNode("http://x/g"))
        else:
            s.bulk_load(path=str(path), format=fmt, to_graph=ox.NamedNode("http://x/g"))
        s.flush()
        return time.perf_counter() - t0


def ours_steps(path: Path) -> tuple[float, list[tuple[str, float]], int]:
    """One in-process `KnowledgeGraph.load_rdf` into a fresh on-disk store, with its steps timed."""
    from kg import KnowledgeGraph
    from kg.core import graphs as kg_graphs
    from kg.core.sources import Source

    steps: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        g = KnowledgeGraph.open(f"oxigraph:{d}/kg")
        steps.append(("open the store", time.perf_counter() - t0))
        t = time.perf_counter()
        Source.resolve(path)
        steps.append(("resolve the source (sha256 of the file)", time.perf_counter() - t))
        t = time.perf_counter()
        rep = g.load_rdf(path, progress=lambda done, total: None)
        total_load = time.perf_counter() - t
        t = time.perf_counter()
        n = g.store.count(rep.graph)
        count = time.perf_counter() - t
        t = time.perf_counter()
        kg_graphs.list_graphs(g.store)
        steps.append(("manifest query (list_graphs)", time.perf_counter() - t))
        steps.append(("triple count (a COUNT query, as the load does)", count))
        steps.append(("load_rdf total (resolve + parse/store + count + manifest + flush)", total_load))
        g.close()
    return time.perf_counter() - t0, steps, n


def sizes(repeat: int, large: bool, tmp: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from trees import job_write_nt, random_tree_file

    inputs = []
    if large:
        nwk, nt = tmp / "big.nwk", tmp / "big.nt"
        random_tree_file(1_000_000, nwk)
        job_write_nt(str(nwk), str(nt))
        nwk.unlink()
        small = tmp / "small.nt"
        with open(nt, "rb") as src, open(small, "wb") as out:
            out.writelines(line for _, line in zip(range(10_000), src))
    else:
        small = tmp / "small.nt"
        nwk = tmp / "small.nwk"
        random_tree_file(2_000, nwk)
        job_write_nt(str(nwk), str(small))
        lines = small.read_bytes().splitlines(keepends=True)[:10_000]
        small.write_bytes(b"".join(lines))
    inputs.append(("small (10k triples, N-Triples)", small, "nt"))
    inputs.append(("medium (UBERON, RDF/XML gz)", UBERON, "rdfxml"))
    if large:
        inputs.append(("large (1M-tip tree, CDAO N-Triples)", tmp / "big.nt", "nt"))
    rows, profiles = [], []
    for label, path, fmt in inputs:
        cli_times, raw_times, inproc = [], [], []
        triples = 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                cli("load", "rdf", str(path), "--name", "x", store=f"oxigraph:{d}/kg")
                cli_times.append(time.perf_counter() - t0)
            raw_times.append(raw_load(path, fmt))
            sec, steps, triples = ours_steps(path)
            inproc.append(next(s for w, s in steps if w.startswith("load_rdf total")))
        c, r, i = (sorted(x)[len(x) // 2] for x in (cli_times, raw_times, inproc))
        rows.append([label, triples, r, i, c, i / r, c / r])
        profiles.append((label, steps))
    table(f"Load ratio by size (medians of {repeat}; load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} cores)",
          ["input", "triples", "raw s", "load_rdf s", "CLI s", "load_rdf/raw", "CLI/raw"], rows)
    print("raw = pyoxigraph Store(path).bulk_load into a fresh on-disk store; load_rdf = KnowledgeGraph.load_rdf "
          "in process; CLI = `traitkg load rdf` subprocess (start-up included). Target <= 1.5 (aim 1.2).")
    for label, steps in profiles:
        table(f"Steps of one load_rdf: {label}", ["step", "seconds"], [[w, s] for w, s in steps])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-rdflib", action="store_true")
    ap.add_argument("--sizes-only", action="store_true", help="only the small/medium/large ratio table")
    ap.add_argument("--no-large", action="store_true", help="leave out the 1M-tip tree (6M triples)")
    args = ap.parse_args()
    if args.sizes_only:
        with tempfile.TemporaryDirectory(prefix="traitkg-bench-load-") as d:
            sizes(args.repeat, not args.no_large, Path(d))
        return
    print(f"UBERON 2015-05-25 ({UBERON.stat().st_size / 1e6:.1f} MB gz, {TRIPLES:,} triples), "
          f"medians of {args.repeat}; machine: {os.cpu_count()} cores")
    ours = bench_traitkg(args.repeat)
    raw = bench_raw_pyoxigraph(args.repeat)
    server = bench_server(max(1, args.repeat - 1))
    rows = [["traitkg load rdf (embedded, on disk, + sha256 + manifest)", ours, TRIPLES / ours, 1.0],
            ["raw pyoxigraph Store.bulk_load (on disk)", raw, TRIPLES / raw, ours / raw],
            ["traitkg load rdf → Oxigraph server (sparql:)", server, TRIPLES / server, server / ours]]
    if not args.skip_rdflib:
        t0 = time.perf_counter()
        rl = bench_rdflib()
        rows.append(["rdflib Graph.parse (in memory, 1 run)", rl, TRIPLES / rl, rl / ours])
        del t0
    table("Bulk load", ["what", "seconds", "triples/s", "ratio"], rows)
    print("ratio column: raw row = traitkg/raw (target ≤ 1.5); server row = server/embedded; "
          "rdflib row = rdflib/traitkg (target ≥ 15)")
    table("CLI start-up (median of 7 runs, subprocess wall time)", ["command", "seconds", "target"], bench_startup())
    with tempfile.TemporaryDirectory(prefix="traitkg-bench-load-") as d:
        sizes(args.repeat, not args.no_large, Path(d))


if __name__ == "__main__":
    main()
