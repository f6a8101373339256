"""Ontology benchmark: UBERON 2015 load + full closure (ours) vs owlready2 load (+ HermiT) as the
peer, in the same run; then ancestors and label search latency over 1,000 random terms.

Run: .venv/bin/python bench/ontology.py [--repeats 3] [--reasoner-timeout 600] [--closure-only] [--floor-only]

``--floor-only``: `load ontology` (with its closure across the loaded ontologies) of UBERON alone and of
PATO + BSPO + ZFA + UBERON together, each against its raw floor measured in the same run: one fresh
on-disk pyoxigraph store, ``bulk_load`` of the same ontology files (the OWL file itself; the OBO
files as the N-Triples traitkg made of them, since OBO is not RDF) and of every closure graph
traitkg wrote (dumped as N-Triples).

The load + closure rows use an on-disk store (what `traitkg load ontology` does), with the floor
measured in the same run: a plain bulk load of the same closure N-Triples into a fresh on-disk store.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED  # TRAITKG_SHARED_DATA, default ../shared/data (exits with how to set it)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
UBERON = SHARED / "uberon" / "uberon-2015-05-25.owl.gz"

_PEER = """
import gzip, sys, time, owlready2 as o
t = time.perf_counter()
w = o.World()
onto = w.get_ontology("file://" + sys.argv[1]).load()
print("load", time.perf_counter() - t, flush=True)
t = time.perf_counter()
try:
    with onto:
        o.sync_reasoner_hermit(w, infer_property_values=False, debug=0)
    print("reason", time.perf_counter() - t, flush=True)
except Exception as e:
    print("reason-error", str(e).splitlines()[1][:160] if len(str(e).splitlines()) > 1 else str(e)[:160], flush=True)
"""


CORE = ["part_of", "has_part", "develops_from"]  # with is_a: what anatomy queries walk


def ours(tmp: str, *, disk: bool = True, properties: list[str] | None = None) -> tuple[float, float, int, int, object]:
    """(load + closure s, closure-only s, redundant triples, nonredundant triples, kg)."""
    from kg import KnowledgeGraph

    g = KnowledgeGraph.open("oxigraph:" + (tempfile.mkdtemp(dir=tmp) if disk else ""))
    t = time.perf_counter()
    r = g.load_ontology(UBERON, closure=False)
    res = g.closure([r.graph], name=r.name, version=r.version, properties=properties)
    total = time.perf_counter() - t
    return total, res.seconds, res.triples, res.nonredundant_triples, g


def floor(g: object, tmp: str) -> float:
    """Seconds to bulk-load the redundant closure's N-Triples (prebuilt bytes) into a fresh on-disk store."""
    import io

    from kg.core.store import RdfFormat, open_store
    from ontologies.closure import compute, ntriples_chunks, read_axioms

    graphs = [r.iri for r in g.graphs(kind="ontology")]
    data = b"".join(b for b, _ in ntriples_chunks(compute(read_axioms(g.store, graphs))))
    st = open_store("oxigraph:" + tempfile.mkdtemp(dir=tmp))
    t = time.perf_counter()
    st.load_file(io.BytesIO(data), RdfFormat.N_TRIPLES, "https://example.org/floor")
    st.flush()
    return time.perf_counter() - t


SETS = {"UBERON alone": ["uberon/uberon-2015-05-25.owl.gz"],
        "PATO + BSPO + ZFA + UBERON": ["pato/pato.obo", "bspo/bspo.obo", "zfa/zfa.obo",
                                       "uberon/uberon-2015-05-25.owl.gz"]}


def load_set(tmp: str, files: list[str]) -> tuple[float, list[tuple[str, float]], object]:
    """`load ontology` of each file, with its closure, into one fresh on-disk store:
    (seconds, per-step seconds, kg)."""
    from kg import KnowledgeGraph

    g = KnowledgeGraph.open("oxigraph:" + tempfile.mkdtemp(dir=tmp))
    steps = []
    t = time.perf_counter()
    for f in files:
        t0 = time.perf_counter()
        r = g.load_ontology(SHARED / f, lenient=True)
        steps.append((f"{Path(f).name}: parse + store + checks", r.seconds))
        steps.append((f"{Path(f).name}: closures (saturate all, write each)", time.perf_counter() - t0 - r.seconds))
    return time.perf_counter() - t, steps, g


def raw_floor(g: object, tmp: str) -> tuple[float, int]:
    """The floor: raw pyoxigraph bulk loads, into one fresh on-disk store, of the ontology files
    (OWL as is; OBO as the N-Triples traitkg made) and of every closure graph traitkg wrote."""
    import gzip

    import pyoxigraph as ox  # the peer: raw pyoxigraph, measured directly

    inputs = []
    for rec in g.graphs():
        if rec.kind == "ontology" and rec.source.endswith(".owl.gz"):
            inputs.append(("owl.gz", rec.source))
        elif rec.kind in ("ontology", "closure"):
            path = Path(tempfile.mkdtemp(dir=tmp)) / "g.nq"
            with open(path, "wb") as fh:
                g.store.dump_graph(rec.iri, fh)
            inputs.append(("nq", str(path)))
    st = ox.Store(tempfile.mkdtemp(dir=tmp))
    t = time.perf_counter()
    for k, (kind, path) in enumerate(inputs):
        to = ox.NamedNode(f"https://example.org/floor/{k}")
        if kind == "owl.gz":
            with gzip.open(path) as fh:
                st.bulk_load(input=fh, format=ox.RdfFormat.RDF_XML, to_graph=to)
        else:  # N-Quads of one graph: the quads keep their graph, as traitkg's do
            st.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)
    st.flush()
    return time.perf_counter() - t, len(st)


def floor_table(a: argparse.Namespace, tmp: str) -> None:
    rows = []
    for label, files in SETS.items():
        ours_s, floor_s, steps = [], [], None
        for _ in range(a.repeats):
            s, st, g = load_set(tmp, files)
            ours_s.append(s)
            steps = steps or st
            fs, quads = raw_floor(g, tmp)
            floor_s.append(fs)
            triples = sum(r.triples for r in g.graphs())
            g.close()
            for d in Path(tmp).iterdir():
                shutil.rmtree(d, ignore_errors=True)
        o, f = statistics.median(ours_s), statistics.median(floor_s)
        rows.append((label, o, f, triples, quads, steps))
    print(f"\n== load + closure vs the raw floor, on disk, medians of {a.repeats} "
          f"(load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores)")
    print(f"{'ontologies':30} {'traitkg s':>10} {'floor s':>8} {'ratio':>6} {'triples':>11} {'floor quads':>12}")
    for label, o, f, triples, quads, _ in rows:
        print(f"{label:30} {o:10.2f} {f:8.2f} {o / f:6.2f} {triples:11,} {quads:12,}")
    print("ratio = traitkg load ontology (each file, its closure across the loaded ontologies) / raw bulk_load "
          "of the same files and closure triples (target <= 1.3)")
    for label, *_, steps in rows:
        print(f"\n  steps, first run, {label}:")
        for what, sec in steps:
            print(f"    {what:60} {sec:7.2f}")


def peer(timeout: int) -> tuple[float | None, str]:
    import gzip

    with tempfile.TemporaryDirectory() as tmp:
        owl = Path(tmp) / "uberon.owl"
        owl.write_bytes(gzip.decompress(UBERON.read_bytes()))
        try:
            out = subprocess.run([sys.executable, "-c", _PEER, str(owl)], capture_output=True, text=True,
                                 timeout=timeout).stdout
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            out += f"\nreason-error did not finish in {timeout} s"
    load = next((float(ln.split()[1]) for ln in out.splitlines() if ln.startswith("load ")), None)
    reason = next((ln for ln in out.splitlines() if ln.startswith("reason")), "reason-error no output")
    return load, reason


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reasoner-timeout", type=int, default=600)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--closure-only", action="store_true", help="only the load + closure rows and the floor")
    ap.add_argument("--floor-only", action="store_true", help="only the load + closure vs raw floor table "
                    "(UBERON alone; PATO + BSPO + ZFA + UBERON)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="traitkg-bench-ontology-", ignore_cleanup_errors=True) as tmp:
        if a.floor_only:
            floor_table(a, tmp)
            return
        run(a, tmp)  # on-disk stores of a few GB each: removed however the run ends


def run(a: argparse.Namespace, tmp: str) -> None:
    loads, closures, floors, g, triples, nonred = [], [], [], None, 0, 0
    core, mem = [], []
    for i in range(a.repeats):  # each run's stores (a few GB) go before the next; the last main one stays
        s, cs, triples, nonred, g = ours(tmp)
        loads.append(s)
        closures.append(cs)
        floors.append(floor(g, tmp))
        core_run = ours(tmp, properties=CORE)
        core_run[4].close()
        core.append(core_run[:4])
        mem.append(ours(tmp, disk=False)[0])
        last = i == a.repeats - 1  # the last run's main store answers the term queries below
        if not last:
            g.close()
        for d in Path(tmp).iterdir():
            if not (last and d == g.store.path):
                shutil.rmtree(d, ignore_errors=True)
    print(f"\n== UBERON 2015-05-25 load + closure (load average {os.getloadavg()[0]:.2f})")
    print(f"{'what':64} {'median s':>9} {'runs':>5}")
    print(f"{'traitkg load + full closure, on disk (the default store)':64} {statistics.median(loads):9.2f} "
          f"{len(loads):5d}")
    print(f"{'  of which closure (read, compute, write both graphs)':64} {statistics.median(closures):9.2f} "
          f"{len(closures):5d}")
    print(f"{'floor: bulk load of the redundant N-Triples alone, on disk':64} {statistics.median(floors):9.2f} "
          f"{len(floors):5d}")
    print(f"{'traitkg load + full closure, in-memory store':64} {statistics.median(mem):9.2f} {len(mem):5d}")
    label = "traitkg load + closure of is_a," + ",".join(CORE) + ", on disk"
    print(f"{label:64} {statistics.median(r[0] for r in core):9.2f} {len(core):5d}")
    print(f"ratio closure / floor: {statistics.median(closures) / statistics.median(floors):.2f}x; "
          f"closure triples: redundant {triples:,}  nonredundant {nonred:,}; with is_a,{','.join(CORE)} only: "
          f"{core[0][2]:,} + {core[0][3]:,}")
    if a.closure_only:
        return
    peer_loads = []
    reason = ""
    for i in range(a.repeats):
        pl, reason_i = peer(a.reasoner_timeout if i == 0 else 120)
        reason = reason if i else reason_i
        if pl is not None:
            peer_loads.append(pl)
    ours_med = statistics.median(loads)
    peer_med = statistics.median(peer_loads) if peer_loads else float("nan")
    print("\n== UBERON 2015-05-25 (14,237 classes): load + full closure")
    print(f"{'what':46} {'median s':>9} {'runs':>5}")
    print(f"{'traitkg load + closure (EL saturation)':46} {ours_med:9.2f} {len(loads):5d}")
    print(f"{'owlready2 load only (peer)':46} {peer_med:9.2f} {len(peer_loads):5d}")
    print(f"{'owlready2 + HermiT classify (peer)':46} {reason}")
    print(f"ratio peer-load / ours(load+closure): {peer_med / ours_med:.2f}x")
    print(f"closure triples: redundant {triples:,}  nonredundant {nonred:,}")

    idx = g.terms  # built once, cached in the facade
    rng = random.Random(42)
    terms = [t.curie for t in idx.terms.values() if t.label and t.curie.startswith("UBERON:") and not t.obsolete]
    sample = rng.sample(terms, min(a.queries, len(terms)))
    anc, srch = [], []
    for c in sample:
        t0 = time.perf_counter()
        idx.ancestors(c, ["is_a", "part_of"])
        anc.append(time.perf_counter() - t0)
    for c in sample:
        label = idx.term(c).label
        t0 = time.perf_counter()
        hits = idx.search(label, limit=10)
        srch.append(time.perf_counter() - t0)
        assert hits and hits[0].match == "exact"
    # peer for ancestors: networkx over the same nonredundant edges (is_a + part_of)
    import networkx as nx

    G = nx.DiGraph()
    for s, preds in idx.up.items():
        for p, objs in preds.items():
            if p.endswith("subClassOf") or p.endswith("BFO_0000050"):
                G.add_edges_from((s, o) for o in objs)
    nxt = []
    for c in sample:
        iri = idx.iri(c)
        t0 = time.perf_counter()
        nx.descendants(G, iri) if iri in G else None
        nxt.append(time.perf_counter() - t0)
    from rapidfuzz import fuzz, process

    keys = idx._keys
    rf = []
    for c in sample[:200]:
        label = idx.term(c).label.lower()
        t0 = time.perf_counter()
        process.extract(label, keys, scorer=fuzz.WRatio, limit=10)
        rf.append(time.perf_counter() - t0)

    def pct(xs, q):
        return sorted(xs)[int(q * (len(xs) - 1))] * 1000

    print(f"\n== term API over {len(sample)} random UBERON terms (ms)")
    print(f"{'query':46} {'p50':>8} {'p95':>8}")
    print(f"{'ancestors is_a+part_of (traitkg)':46} {pct(anc, .5):8.3f} {pct(anc, .95):8.3f}")
    print(f"{'nx.descendants same edges (peer)':46} {pct(nxt, .5):8.3f} {pct(nxt, .95):8.3f}")
    print(f"{'label search ranked (traitkg)':46} {pct(srch, .5):8.3f} {pct(srch, .95):8.3f}")
    print(f"{'rapidfuzz WRatio over all names (peer, 200)':46} {pct(rf, .5):8.3f} {pct(rf, .95):8.3f}")
    print(f"ratio ancestors peer/ours: {pct(nxt, .5) / pct(anc, .5):.2f}x; search peer/ours: "
          f"{pct(rf, .5) / pct(srch, .5):.2f}x")


if __name__ == "__main__":
    main()
