"""`traitkg load taxonomy` and `traitkg load tree` at Imageomics scale, beside the engine's floor.

The inputs are the scale bench's (bench/_scale_data.py, seeded): a classification table of one
species per tip (order, family, genus, species) and a random tree over those species (gzip
Newick), at ``--fraction`` of the full 2.4M tips. Each load is the `traitkg` command in its own
process with stderr on a pseudo-terminal (as for a user: it tells whether a progress bar was
drawn), its wall time and its own peak RSS (``wait4``). The **floor** is a raw pyoxigraph
``bulk_load`` of the same graph's quads, as stored, from an N-Triples file into a fresh on-disk
store, in its own process (the dump to that file is not timed and not in its RSS), run after each
load on the same machine. Medians over ``--repeat`` runs; the ratio is traitkg / floor.

Run: ``.venv/bin/python bench/taxonomy_tree_scale.py --fraction 0.1 [--fraction 1.0] [--repeat 3]
[--steps taxonomy,tree] [--workdir DIR]``. Targets (issue 28): <= 1.3x the floor, peak RSS <= 8 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _scale_data import _classification, sizes, write_taxonomy, write_tree
from _scale_steps import EXE, PY, graph_list, run
from _util import SHARED, table

MB = 1 << 20

_DUMP = r"""
import sys, pyoxigraph as ox
s = ox.Store.read_only(sys.argv[1]) if hasattr(ox.Store, "read_only") else ox.Store(sys.argv[1])
with open(sys.argv[3], "wb") as fh:
    s.dump(fh, ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(sys.argv[2]))
"""

_FLOOR = r"""
import sys, time, json, pyoxigraph as ox
t0 = time.perf_counter()
s = ox.Store(sys.argv[1])
s.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(sys.argv[3]))
s.flush()
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "quads": len(s)}))
"""


def inputs(work: Path, fraction: float, seed: int = 28) -> tuple[Path, Path, int]:
    """The scale bench's taxonomy table and tree at ``fraction`` (same seed, same files)."""
    tips, _, _ = sizes(fraction)
    rng = np.random.default_rng(seed)
    cls = _classification(SHARED, tips, rng)
    tax, tree = work / "taxonomy.csv", work / "tree.nwk.gz"
    write_taxonomy(tax, cls)
    write_tree(tree, [c[3] for c in cls], rng)
    return tax, tree, len(cls)


def floor(store: Path, graph: str, work: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, quads) of a raw bulk_load of ``graph``'s quads into a fresh store.
    The dump of the graph before it is not timed in the floor but printed: at 2.4M tips it took
    twice the bulk load (1,162 s against 588 s), which is why the tree's floor had never finished."""
    nt = work / "floor.nt"
    t0 = time.perf_counter()
    subprocess.run([PY, "-c", _DUMP, str(store), graph, str(nt)], check=True)
    print(f"  dump of {graph} for its floor (untimed): {time.perf_counter() - t0:.1f} s, "
          f"{nt.stat().st_size / MB:,.0f} MB of N-Triples", flush=True)
    dst = work / "floor-store"
    shutil.rmtree(dst, ignore_errors=True)
    _, rss, _, out = run([PY, "-c", _FLOOR, str(dst), str(nt), graph])
    res = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(dst, ignore_errors=True)
    nt.unlink()
    return res["seconds"], rss, res["quads"]


def one(step: str, source: Path, work: Path) -> dict:
    """One `traitkg load STEP SOURCE` into a fresh store, then its floor."""
    store = work / "kg"
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(work / "kg.cache", ignore_errors=True)
    dt, rss, bar, _ = run([EXE, "--store", f"oxigraph:{store}", "load", step, str(source)])
    print(f"  load {step}: {dt:.1f} s, peak {rss / MB:,.0f} MB, bar {'yes' if bar else 'no'} (the floor follows)",
          flush=True)
    graphs = [g for g in graph_list(f"oxigraph:{store}") if f"/graph/{step}/" in g]
    fs, frss, quads = floor(store, graphs[0], work)
    shutil.rmtree(store, ignore_errors=True)
    return {"seconds": dt, "rss": rss, "bar": bar, "floor": fs, "floor_rss": frss, "quads": quads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", type=float, action="append", help="of the full 2.4M tips (repeatable; default 0.1)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--steps", default="taxonomy,tree")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="taxtree-", dir=args.workdir))
    rows, out = [], []
    try:
        for fraction in args.fraction or [0.1]:
            tax, tree, n = inputs(work, fraction)
            print(f"fraction {fraction}: {n:,} species/tips; taxonomy {tax.stat().st_size / MB:,.1f} MB, "
                  f"tree {tree.stat().st_size / MB:,.1f} MB gzip", flush=True)
            for step in args.steps.split(","):
                runs = []
                for k in range(args.repeat):
                    t0 = time.perf_counter()
                    r = one(step, tax if step == "taxonomy" else tree, work)
                    runs.append(r)
                    print(f"  load {step} run {k + 1}: {r['seconds']:.1f} s, peak {r['rss'] / MB:,.0f} MB; floor "
                          f"{r['floor']:.1f} s, {r['floor_rss'] / MB:,.0f} MB; {r['quads']:,} quads "
                          f"({time.perf_counter() - t0:.0f} s with the floor)", flush=True)
                med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "rss", "floor", "floor_rss")}
                ratios = [r["seconds"] / r["floor"] for r in runs]
                row = {"step": f"load {step}", "fraction": fraction, "size": n, **med,
                       "ratio": statistics.median(ratios), "quads": runs[0]["quads"],
                       "bar": all(r["bar"] for r in runs), "runs": len(runs)}
                out.append(row)
                rows.append([row["step"], fraction, f"{n:,}", med["seconds"], med["floor"], row["ratio"],
                             int(med["rss"] / MB), int(med["floor_rss"] / MB), row["quads"],
                             "yes" if row["bar"] else "no", len(runs)])
            tax.unlink()
            tree.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table("traitkg load taxonomy / tree against the floor (raw pyoxigraph bulk_load of the same quads into a fresh "
          "on-disk store, same run); medians", ["step", "fraction", "species/tips", "traitkg s", "floor s", "ratio",
                                                "peak RSS MB", "floor RSS MB", "quads", "bar", "runs"], rows)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
