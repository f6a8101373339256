"""The Phenoscape step of bench/scale.py (`traitkg load phenotypes` of the 47 shared matrices, with the
presence/absence inference) on its own: this checkout and a peer checkout, each on its own copy of a
store that already holds the ontologies, taxonomy and tree (e.g. one kept by ``bench/scale.py --keep
DIR --steps ontologies,taxonomy,tree``), then the floor (a raw pyoxigraph ``bulk_load`` of the quads
the step wrote, into a fresh store, as bench/scale.py measures it) and a canonical comparison of every
graph the two wrote (blank nodes named by their content, lines sorted): the answers must not differ.

    .venv/bin/python bench/phenotypes_step.py --base /tmp/kept/kg --peer /work/main --work /tmp/pheno-bench

This checkout's copy gets the base's ``taxonnames`` index files (a build on it leaves them: the
taxonomy and tree loads write them), the peer's copy none.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _scale_steps import floor, graph_list  # noqa: E402

NEXML = ROOT.parent / "shared" / "data" / "phenoscape-data" / "nexml"


def timed_cli(checkout: Path, store: Path, *args: str) -> tuple[float, float, int, float]:
    """(wall s, CPU s, peak RSS bytes, load average at the start) of ``traitkg --store oxigraph:STORE ARGS``
    run by ``checkout``; its stderr is kept beside the store and shown when it fails."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    exe = str(Path(sys.executable).parent / "traitkg")
    load = os.getloadavg()[0]
    err = store.parent / "stderr.txt"
    t0 = time.perf_counter()
    with open(err, "wb") as fh:
        proc = subprocess.Popen([sys.executable, exe, "--store", f"oxigraph:{store}", *args], env=env, cwd=checkout,
                                stdout=subprocess.DEVNULL, stderr=fh)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{checkout}: {' '.join(args[:2])} failed ({code}): {err.read_text()[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, load


def step(checkout: Path, store: Path) -> tuple[float, float, int, float]:
    """The step run by ``checkout`` (:func:`timed_cli`)."""
    return timed_cli(checkout, store, "load", "phenotypes", str(NEXML), "--lenient")


def canonical_digest(store: Path, graph: str) -> tuple[str, int]:
    """sha256 of a graph's N-Triples with each blank node named by its content (refined over its
    neighbours, as the graphs' blank nodes form trees: class expressions, lists, specimens) and the
    lines sorted; and the number of triples."""
    import pyoxigraph as ox

    s = ox.Store.read_only(str(store))
    lines = [x for x in s.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph)).split(b"\n") if x]
    del s
    if not any(b"_:" in x for x in lines):
        return hashlib.sha256(b"\n".join(sorted(lines))).hexdigest(), len(lines)
    triples = [x[:-2].split(b" ", 2) for x in lines]
    names = {b: b"" for t in triples for b in (t[0], t[2]) if b.startswith(b"_:")}
    for _ in range(6):  # refine: a blank node's name from its own triples with the others' names
        sig: dict[bytes, list[bytes]] = defaultdict(list)
        for s_, p, o in triples:
            if s_ in names:
                sig[s_].append(b"o " + p + b" " + names.get(o, o))
            if o in names:
                sig[o].append(b"i " + names.get(s_, s_) + b" " + p)
        names = {b: hashlib.sha1(b"\n".join(sorted(sig[b]))).hexdigest().encode() for b in names}
    out = sorted(b" ".join(names.get(x, x) for x in t) for t in triples)
    return hashlib.sha256(b"\n".join(out)).hexdigest(), len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="a store with the ontologies, taxonomy and tree (copied)")
    ap.add_argument("--peer", type=Path, required=True, help="the checkout to compare with (e.g. /work/main)")
    ap.add_argument("--work", type=Path, required=True, help="where the two copies go (removed at the end)")
    args = ap.parse_args()
    rows = []
    stores = {}
    for who, checkout in (("this checkout", ROOT), (f"peer {args.peer}", args.peer)):
        dst = args.work / ("this" if checkout == ROOT else "peer") / "kg"
        shutil.rmtree(dst.parent, ignore_errors=True)
        dst.parent.mkdir(parents=True)
        before = set(graph_list(f"oxigraph:{args.base}"))
        shutil.copytree(args.base, dst)
        names = Path(f"{args.base}.cache") / "taxonnames"
        if checkout == ROOT and names.is_dir():  # what a build on this checkout leaves: its loads write them
            shutil.copytree(names, Path(f"{dst}.cache") / "taxonnames")
        wall, cpu, rss, load = step(checkout, dst)
        stores[who] = (dst, [g for g in graph_list(f"oxigraph:{dst}") if g not in before and "/graph/manifest" not in g])
        print(f"  {who}: {wall:.1f} s, {cpu:.1f} CPU s, peak RSS {rss / 2**20:,.0f} MB, load avg {load:.1f}", flush=True)
        rows.append((who, wall, cpu, rss, load))
    this_store, graphs = stores["this checkout"]
    fl_s, fl_rss, quads, _ = floor(this_store, graphs, args.work)
    print(f"  floor: {fl_s:.1f} s, {quads:,} quads, load avg {os.getloadavg()[0]:.1f}", flush=True)
    peer_store, peer_graphs = stores[f"peer {args.peer}"]
    same = sorted(graphs) == sorted(peer_graphs)
    differ = [g for g in graphs if same and canonical_digest(this_store, g) != canonical_digest(peer_store, g)]
    print(f"\nPhenoscape step (47 matrices + inference) on copies of {args.base}; floor = raw bulk_load of the "
          f"{len(graphs)} graphs it wrote ({quads:,} quads) into a fresh store")
    print(f"{'run':<40} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'/ floor':>8} {'load avg':>9}")
    for who, wall, cpu, rss, load in rows:
        print(f"{who:<40} {wall:8.1f} {cpu:8.1f} {rss / 2**20:12,.0f} {wall / fl_s:8.2f} {load:9.1f}")
    print(f"{'floor (raw bulk_load)':<40} {fl_s:8.1f} {'':>8} {fl_rss / 2**20:12,.0f} {1:8.2f}")
    print(f"graphs: {len(graphs)} (this) / {len(peer_graphs)} (peer), same IRIs: {same}; "
          f"canonical content differs in {len(differ) if same else 'n/a'}: {differ[:5]}")
    shutil.rmtree(args.work / "this", ignore_errors=True)
    shutil.rmtree(args.work / "peer", ignore_errors=True)
    if not same or differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
