"""Bulk RDF load: `traitkg load rdf` of UBERON 2015 (596,285 triples) vs rdflib and raw pyoxigraph.

Prints triples/s (medians), the ratio to each peer, the Oxigraph-server backend, and CLI start-up.
Usage: .venv/bin/python bench/load_rdf.py [--repeat 3] [--skip-rdflib]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-rdflib", action="store_true")
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
