"""The tree index file of the full-scale tree (2.4M tips, bench/_scale_data.py's generator) read at
start: load the file, have the label table ready, then answer an MRCA of 1,000 tips by name; in a
fresh process each time, for this checkout and a peer checkout (e.g. the main branch), starts
alternating, medians over the runs. Each checkout writes its own file once (its own format) from
the same Newick.

Run: ``.venv/bin/python bench/tree_index_start.py --workdir /tmp/DIR --peer /work/main [--tips N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

BUILD = """
import gzip, json, resource, sys, time
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick
t0 = time.perf_counter()
with gzip.open(sys.argv[1], "rt") as fh:
    text = fh.read()
ix = TreeIndex.from_parsed(parse_newick(text))
t1 = time.perf_counter()
ix.save(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"parse_index": t1 - t0, "save": t2 - t1, "nodes": len(ix), "tips": ix.n_tips,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

START = """
import json, random, resource, sys, time
t0 = time.perf_counter()
from kg.treeindex import TreeIndex
t1 = time.perf_counter()
ix = TreeIndex.load(sys.argv[1])
t2 = time.perf_counter()
ix.prepare()
t3 = time.perf_counter()
tips = ix.tips
rng = random.Random(int(sys.argv[2]))
names = [ix.names[int(tips[j])] for j in rng.sample(range(len(tips)), 1000)]
t4 = time.perf_counter()
m = ix.mrca(ix.ids(names))
t5 = time.perf_counter()
m2 = ix.mrca(ix.ids([n.replace("_", " ") for n in names[:4]]))
t6 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "labels": t3 - t2, "mrca_1000": t5 - t4,
                  "mrca_4_normalised": t6 - t5, "total": (t3 - t0) + (t5 - t4),
                  "mrca": int(m), "mrca2": int(m2),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: Path, script: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=code, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{code}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


ROWS = [("load", "read the index file, s"), ("labels", "label table ready (prepare), s"),
        ("mrca_1000", "first MRCA of 1,000 tips by name, s"), ("mrca_4_normalised", "then 4 tips, normalised names, s"),
        ("total", "import + read + labels + first MRCA, s"), ("peak_mb", "peak RSS, MB")]


def main() -> None:
    from _scale_data import _classification, sizes, write_tree
    from _util import SHARED

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--peer", type=Path, required=True)
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    tree = args.workdir / f"tree-{args.fraction}.nwk.gz"
    if not tree.exists():
        t0 = time.perf_counter()
        rng = np.random.default_rng(28)
        tips = sizes(args.fraction)[0]
        write_tree(tree, [c[3] for c in _classification(SHARED, tips, rng)], rng)
        print(f"wrote {tree} ({tips:,} tips) in {time.perf_counter() - t0:.1f} s", flush=True)
    codes = {"this": ROOT, "peer": args.peer.resolve()}
    files = {}
    for name, code in codes.items():
        files[name] = args.workdir / f"index-{args.fraction}-{name}.npz"
        if not files[name].exists():
            b = child(code, BUILD, str(tree), str(files[name]))
            print(f"{name}: parse + index {b['parse_index']:.1f} s, save {b['save']:.1f} s "
                  f"({files[name].stat().st_size / 1e6:.0f} MB), {b['nodes']:,} nodes, {b['tips']:,} tips, "
                  f"peak {b['peak_mb']:.0f} MB", flush=True)
    runs: dict[str, list[dict]] = {n: [] for n in codes}
    for i in range(args.runs):
        for name, code in (codes.items() if i % 2 == 0 else reversed(codes.items())):
            r = child(code, START, str(files[name]), str(i))
            runs[name].append(r)
            print(f"run {i + 1}, {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    for a, b in zip(runs["this"], runs["peer"]):
        assert (a["mrca"], a["mrca2"]) == (b["mrca"], b["mrca2"]), "the two checkouts answer differently"
    print(f"\nTree index at start, {tree.name} (fresh process per start; medians of {args.runs}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'':44}  {'this':>9}  {'peer':>9}  {'peer/this':>9}")
    for key, label in ROWS:
        a = statistics.median(r[key] for r in runs["this"])
        b = statistics.median(r[key] for r in runs["peer"])
        print(f"{label:44}  {a:9.3f}  {b:9.3f}  {b / a:8.1f}x")
    for name in codes:
        print(f"{name} index file: {files[name].stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
