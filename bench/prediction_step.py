"""One prediction batch of bench/scale.py (`traitkg load predictions` of a seeded 0.1 table) on its own:
this checkout and a peer checkout (e.g. /work/main), each on a fresh copy of a built store (e.g. the 0.1
build kept by ``bench/scale.py --keep DIR``, with its ``taxonnames`` and ``taxonuniverse`` index files,
what a build leaves), alternating, ``--repeat`` times; beside them the floor as bench/scale.py measures
it (a raw pyoxigraph ``bulk_load`` of the quads the batch wrote into a fresh, empty store, plus a raw
Parquet write of its side table's rows) and the same ``bulk_load`` into a fresh copy of the built store
(what the batch loads into). The graphs the two checkouts wrote are compared (sorted triples hashed)
and the side tables byte for byte: the answers must not differ.

    .venv/bin/python bench/prediction_step.py --base /work/stores/m01/kg --peer /work/main --work /tmp/pred-bench

The batch is loaded under a model name of its own (``pred-bench``), so the base's batches stay as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _scale_steps import PY, graph_list, parquet_floor, run  # noqa: E402
from phenotypes_step import timed_cli  # noqa: E402

MODEL = "pred-bench"
CACHES = ("taxonnames", "taxonuniverse")  # the index files a prediction load reads

_DUMP = r"""
import sys, pyoxigraph as ox
s = ox.Store.read_only(sys.argv[1])
with open(sys.argv[2], "wb") as fh:
    ox.serialize((q for g in sys.argv[3:] for q in s.quads_for_pattern(None, None, None, ox.NamedNode(g))), fh,
                 ox.RdfFormat.N_QUADS)
"""

_BULK = r"""
import sys, time, json, pyoxigraph as ox
r = ox.Store(sys.argv[1])
before = len(r)
t0 = time.perf_counter()
r.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_QUADS)
r.flush()
print(json.dumps({"seconds": time.perf_counter() - t0, "quads": len(r) - before}))
"""


def digests_of(store: Path, graphs: list[str]) -> dict[str, tuple[str, int]]:
    """:func:`phenotypes_step.canonical_digest` of each graph, in a child process (the triples it holds
    would otherwise raise the peak RSS that the next timed run's ``wait4`` reports)."""
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from phenotypes_step import canonical_digest; "
            "print(json.dumps({g: canonical_digest(sys.argv[2], g) for g in sys.argv[3:]}))")
    out = subprocess.run([PY, "-c", code, str(HERE), str(store), *graphs], capture_output=True, text=True, check=True)
    return {g: tuple(v) for g, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def copy_store(base: Path, dst: Path) -> None:
    shutil.rmtree(dst.parent, ignore_errors=True)
    dst.parent.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(base), str(dst)], check=True)
    for kind in CACHES:
        src = Path(f"{base}.cache") / kind
        if src.is_dir():
            shutil.copytree(src, Path(f"{dst}.cache") / kind)


def bulk(store: Path, nq: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, quads added) of a raw bulk_load + flush of ``nq`` into ``store``."""
    _, rss, _, out = run([PY, "-c", _BULK, str(store), str(nq)])
    res = json.loads(out.strip().splitlines()[-1])
    return res["seconds"], rss, res["quads"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="a built store (copied for every run)")
    ap.add_argument("--peer", type=Path, required=True, help="the checkout to compare with (e.g. /work/main)")
    ap.add_argument("--work", type=Path, required=True, help="where the copies go (removed at the end)")
    ap.add_argument("--table", type=Path, help="the prediction table [BASE/../predictions-v1.0.parquet]")
    ap.add_argument("--version", default="1.0", help="the batch's model version [1.0]")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each checkout, alternating [3]")
    args = ap.parse_args()
    table = args.table or args.base.parent / f"predictions-v{args.version}.parquet"
    args.work.mkdir(parents=True, exist_ok=True)
    before = set(graph_list(f"oxigraph:{args.base}"))
    who_of = {"this": ROOT, "peer": args.peer}
    runs: dict[str, list[tuple[float, float, int, float]]] = {"this": [], "peer": []}
    digests: dict[str, dict[str, tuple[str, int]]] = {}
    sides: dict[str, str] = {}
    floors: dict[str, list[tuple[float, int, float]]] = {"empty": [], "copy": []}
    nq = args.work / "batch.nq"
    pq_s = float("nan")
    quads = 0
    dst = args.work / "copy" / "kg"
    for rep in range(args.repeat):
        for who in (("this", "peer") if rep % 2 == 0 else ("peer", "this")):
            copy_store(args.base, dst)
            r = timed_cli(who_of[who], dst, "-q", "load", "predictions", str(table), "--model", MODEL,
                          "--model-version", args.version)
            runs[who].append(r)
            print(f"  {who} run {rep + 1}: {r[0]:.1f} s, {r[1]:.1f} CPU s, peak RSS {r[2] / 2**20:,.0f} MB, "
                  f"load avg {r[3]:.1f}", flush=True)
            if who not in digests:  # the graphs and the side table, once per checkout
                graphs = sorted(g for g in graph_list(f"oxigraph:{dst}") if g not in before and "/graph/manifest" not in g)
                digests[who] = digests_of(dst, graphs)
                side = Path(f"{dst}.tables") / "predictions" / MODEL / f"{args.version}.parquet"
                sides[who] = hashlib.sha256(side.read_bytes()).hexdigest() if side.is_file() else "none"
                if who == "this":
                    subprocess.run([PY, "-c", _DUMP, str(dst), str(nq), *graphs], check=True)
                    if side.is_file():
                        keep = args.work / "side.parquet"
                        shutil.copyfile(side, keep)
                        pq_s = parquet_floor(keep, args.work)[0]
            shutil.rmtree(dst.parent, ignore_errors=True)
        if nq.is_file():  # the floor: into an empty store, and into a copy of the built store
            empty = Path(tempfile.mkdtemp(dir=args.work, prefix="empty-")) / "store"
            s, rss, quads = bulk(empty, nq)
            floors["empty"].append((s, rss, os.getloadavg()[0]))
            shutil.rmtree(empty.parent)
            copy_store(args.base, dst)
            s2, rss2, _ = bulk(dst, nq)
            floors["copy"].append((s2, rss2, os.getloadavg()[0]))
            shutil.rmtree(dst.parent, ignore_errors=True)
            print(f"  floor run {rep + 1}: bulk_load into an empty store {s:.1f} s, into a copy of the base {s2:.1f} s "
                  f"(+ Parquet write {pq_s:.2f} s), load avg {os.getloadavg()[0]:.1f}", flush=True)
    fl_empty = statistics.median(f[0] for f in floors["empty"]) + pq_s
    fl_copy = statistics.median(f[0] for f in floors["copy"]) + pq_s
    print(f"\nPrediction batch v{args.version} ({table.name}) on copies of {args.base}, {args.repeat} runs each, "
          f"alternating; floor = raw bulk_load of its {quads:,} quads (+ raw Parquet write of its rows, {pq_s:.2f} s)")
    print(f"{'run':<44} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'/ floor':>8} {'/ floor in copy':>16} "
          f"{'load avg':>9}")
    med = {}
    for who in ("this", "peer"):
        rs = runs[who]
        wall, cpu = statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)
        med[who] = wall
        label = "this checkout" if who == "this" else f"peer {args.peer}"
        print(f"{label + ' (median)':<44} {wall:8.1f} {cpu:8.1f} {max(r[2] for r in rs) / 2**20:12,.0f} "
              f"{wall / fl_empty:8.2f} {wall / fl_copy:16.2f} {statistics.median(r[3] for r in rs):9.1f}")
    for kind, label in (("empty", "floor: bulk_load into an empty store"), ("copy", "floor: bulk_load into a copy")):
        fs = floors[kind]
        f = statistics.median(x[0] for x in fs) + pq_s
        print(f"{label + ' (median)':<44} {f:8.1f} {'':>8} {max(x[1] for x in fs) / 2**20:12,.0f} "
              f"{f / fl_empty:8.2f} {f / fl_copy:16.2f} {statistics.median(x[2] for x in fs):9.1f}")
    print(f"this / peer (medians): {med['this'] / med['peer']:.2f}; every run (wall s): "
          + "; ".join(f"{w}: {', '.join(f'{r[0]:.1f}' for r in runs[w])}" for w in runs))
    this, peer = digests["this"], digests["peer"]
    differ = [g for g in this if this.get(g) != peer.get(g)]
    print(f"graphs: {len(this)} (this) / {len(peer)} (peer), same IRIs: {sorted(this) == sorted(peer)}, content "
          f"differs in {len(differ)}; side table identical: {sides['this'] == sides['peer']} ({sides['this'][:12]})")
    nq.unlink(missing_ok=True)
    shutil.rmtree(args.work, ignore_errors=True)
    if differ or sorted(this) != sorted(peer) or sides["this"] != sides["peer"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
