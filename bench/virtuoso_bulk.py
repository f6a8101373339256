"""Where Virtuoso's bulk loader beats the Graph Store Protocol: one graph of N triples written into a
real Virtuoso 7 on loopback through a ``sparql:`` store, both ways, in the same run.

The write is what a traitkg load does for one graph: the triples serialised as N-Triples, sent (GSP:
one POST to /sparql-graph-crud; bulk: a file in the load directory, ``ld_dir`` + ``rdf_loader_run``),
then ``flush`` (bulk: a checkpoint, since the loader writes without the transaction log). The
triples have the shape of the prediction graphs (IRIs, typed and plain literals). Medians of
``--repeat`` runs; the graph is dropped between runs (not timed). The crossing point sets
``kg.core.store.virtuoso.BULK_MIN``.

``--batches 48x1000,48x10000`` adds batches of graphs (a Phenoscape step writes 47 matrices and an
inference graph, each of a few thousand triples, through ``Store.load_graphs``) written three ways
in the same run: one graph at a time through GSP (what a batch of small graphs did before), one
graph at a time through the bulk loader, and the whole batch in one loader run (what ``load_graphs``
does now where the batch reaches ``bulk-min``).

Run: ``.venv/bin/python bench/virtuoso_bulk.py [--sizes 1000,10000,...] [--batches 48x1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from _util import table  # also puts tests/ on sys.path (the Virtuoso server fixture class)
from conftest import VirtuosoServer

from kg.core.store import Literal, NamedNode, Quad, RdfFormat, open_store, serialize_rdf, typed_literal

EX = "https://w3id.org/traitkg/"


def quads(n: int, graph: str) -> list[Quad]:
    g = NamedNode(graph)
    out = []
    p = [NamedNode(EX + f"schema#p{i}") for i in range(5)]
    for i in range(n):
        s = NamedNode(f"{EX}prediction/{i // 5}-{i % 5}")
        k = i % 5
        o = (typed_literal(i * 0.001) if k == 0 else Literal(f"value {i}") if k == 1
             else NamedNode(f"{EX}taxon/T{i % 997}") if k == 2 else typed_literal(i) if k == 3
             else NamedNode(f"https://n2t.net/ark:/89609/img{i // 5}"))
        out.append(Quad(s, p[k], o, g))
    return out


def write(store, qs: list[Quad], graph: str) -> float:
    t0 = time.perf_counter()
    store.add_quads(qs)
    store.flush()
    dt = time.perf_counter() - t0
    assert store.count(graph) == len(qs)
    store.drop_graph(graph)
    store.flush()
    return dt


def batch_parts(graphs: int, n: int) -> list[tuple[str, bytes]]:
    return [(g, serialize_rdf([q.triple for q in quads(n, g)], RdfFormat.N_TRIPLES))
            for g in (f"{EX}graph/bench/batch/{k}" for k in range(graphs))]


def write_batch(store, parts: list[tuple[str, bytes]], how: str) -> float:
    t0 = time.perf_counter()
    if how == "batch":
        store.load_graphs(iter(parts))
    else:  # one graph at a time, as load_graphs did before
        for graph, data in parts:
            store.load_file(data, RdfFormat.N_TRIPLES, graph, lenient=True)
    store.flush()
    dt = time.perf_counter() - t0
    for graph, _ in parts:
        store.drop_graph(graph)
    store.flush()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000,100000,400000")
    ap.add_argument("--batches", default="", help="GRAPHSxTRIPLES,... batches through load_graphs [none]")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",") if x]
    batches = [tuple(int(v) for v in x.split("x")) for x in a.batches.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="tkg-vbulk-") as work:
        srv = VirtuosoServer(Path(work))
        os.environ.update(srv.credentials)
        gsp, bulk = open_store(srv.selector), open_store(srv.bulk_selector(0))
        rows, batch_rows = [], []
        try:
            for graphs, n in batches:
                parts = batch_parts(graphs, n)
                got: dict[str, list[float]] = {"gsp": [], "each": [], "batch": []}
                for _ in range(a.repeat):
                    got["gsp"].append(write_batch(gsp, parts, "each"))
                    got["each"].append(write_batch(bulk, parts, "each"))
                    got["batch"].append(write_batch(bulk, parts, "batch"))
                m = {k: statistics.median(v) for k, v in got.items()}
                batch_rows.append([f"{graphs}x{n:,}", m["gsp"], m["each"], m["batch"], m["gsp"] / m["batch"],
                                   m["each"] / m["batch"]])
                print(f"  {graphs} graphs of {n:,} triples: GSP each {m['gsp']:.3f} s, bulk each {m['each']:.3f} s, "
                      f"one loader run {m['batch']:.3f} s", flush=True)
            for n in sizes:
                graph = f"{EX}graph/bench/{n}"
                qs = quads(n, graph)
                t_gsp, t_bulk = [], []
                for _ in range(a.repeat):  # alternate, so both see the same machine
                    t_gsp.append(write(gsp, qs, graph))
                    t_bulk.append(write(bulk, qs, graph))
                mg, mb = statistics.median(t_gsp), statistics.median(t_bulk)
                rows.append([n, mg, mb, mb / mg, n / mg, n / mb])
                print(f"  {n:,} triples: GSP {mg:.3f} s, bulk loader {mb:.3f} s", flush=True)
        finally:
            gsp.close()
            bulk.close()
            srv.stop()
    if batch_rows:
        table(f"A batch of graphs into Virtuoso 7 (load avg {os.getloadavg()[0]:.1f}): one graph at a time through GSP, "
              f"one at a time through the bulk loader, all in one loader run (load_graphs); medians of {a.repeat}",
              ["graphs x triples", "GSP each s", "bulk each s", "one run s", "GSP each/one run", "bulk each/one run"],
              batch_rows)
    if not rows:
        return
    table(f"One graph into Virtuoso 7 (loopback, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}): "
          f"Graph Store Protocol POST vs bulk loader (ld_dir + rdf_loader_run + checkpoint); medians of {a.repeat}",
          ["triples", "GSP s", "bulk s", "bulk/GSP", "GSP triples/s", "bulk triples/s"], rows)


if __name__ == "__main__":
    main()
