"""Prediction loads on a big store, where the taxon names set the pace: this checkout and a peer
checkout (e.g. the main branch), each on its own copy of a store that already holds the taxonomy and
tree (e.g. the 2.4M-tip build of ``bench/scale.py --fraction 1.0 --keep DIR``), each loading two
batches of a seeded prediction table through ``traitkg load predictions``, one copy at a time (a copy
of the 2.4M store is ~10 GB). The first batch after a graph with names was added joins the names
kept per graph (this checkout); the second reads them joined. Then the floor of the first batch (a
raw pyoxigraph ``bulk_load`` of the quads it wrote) and a canonical comparison of the graphs the two
checkouts wrote.

    .venv/bin/python bench/names_step.py --base /tmp/big/full/kg --peer /work/main --work /tmp/names-bench

``--base`` is copied with its ``taxonnames`` index files (what a build on this checkout leaves: the
taxonomy and tree loads write them), not its joined ``taxonuniverse`` files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _scale_data import write_predictions  # noqa: E402
from _scale_steps import floor, graph_list  # noqa: E402
from phenotypes_step import canonical_digest, timed_cli  # noqa: E402


def load(checkout: Path, store: Path, table: Path, version: str) -> tuple[float, float, int, float]:
    """(wall s, CPU s, peak RSS bytes, load average at the start) of one ``traitkg load predictions``."""
    return timed_cli(checkout, store, "load", "predictions", str(table), "--model", "names-bench",
                     "--model-version", version)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="a store with the taxonomy and tree (copied)")
    ap.add_argument("--peer", type=Path, required=True, help="the checkout to compare with (e.g. /work/main)")
    ap.add_argument("--work", type=Path, required=True, help="where the copies and tables go (removed at the end)")
    ap.add_argument("--predicted", type=Path, help="taxon names to predict, one a line [BASE/../predicted.txt]")
    ap.add_argument("--rows", type=int, default=50_000, help="rows over the model versions [50,000; ~40%% in the first]")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    predicted = (args.predicted or args.base.parent / "predicted.txt").read_text().split("\n")
    tables = write_predictions(args.work, [x for x in predicted if x], args.rows, np.random.default_rng(28))[:2]
    before = set(graph_list(f"oxigraph:{args.base}"))
    rows, digests, firsts = [], {}, {}
    for who, checkout in (("this checkout", ROOT), (f"peer {args.peer}", args.peer)):
        dst = args.work / "copy" / "kg"
        shutil.rmtree(dst.parent, ignore_errors=True)
        dst.parent.mkdir(parents=True)
        shutil.copytree(args.base, dst)
        names = Path(f"{args.base}.cache") / "taxonnames"
        if checkout == ROOT and names.is_dir():
            shutil.copytree(names, Path(f"{dst}.cache") / "taxonnames")
        for k, (ver, path, n) in enumerate(tables):
            wall, cpu, rss, avg = load(checkout, dst, path, ver)
            label = f"{who}: batch {k + 1} ({n:,} rows)"
            print(f"  {label}: {wall:.1f} s, {cpu:.1f} CPU s, peak RSS {rss / 2**20:,.0f} MB, load avg {avg:.1f}", flush=True)
            rows.append((label, wall, cpu, rss, avg))
        graphs = sorted(g for g in graph_list(f"oxigraph:{dst}") if g not in before and "/graph/manifest" not in g)
        digests[who] = {g: canonical_digest(dst, g) for g in graphs}
        if checkout == ROOT:
            first = [g for g in graphs if "/names-bench/" in g and tables[0][0] in g]
            firsts = {"s": floor(dst, first or graphs, args.work), "graphs": len(first or graphs)}
        shutil.rmtree(dst.parent, ignore_errors=True)
    fl_s, fl_rss, quads, _ = firsts["s"]
    this, peer = digests["this checkout"], digests[f"peer {args.peer}"]
    print(f"\nPrediction loads on copies of {args.base} (2 batches each); floor = raw bulk_load of the first batch's "
          f"{firsts['graphs']} graph(s) ({quads:,} quads) into a fresh store")
    print(f"{'run':<52} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'/ floor':>8} {'load avg':>9}")
    for label, wall, cpu, rss, avg in rows:
        print(f"{label:<52} {wall:8.1f} {cpu:8.1f} {rss / 2**20:12,.0f} {wall / fl_s:8.2f} {avg:9.1f}")
    print(f"{'floor (raw bulk_load of batch 1)':<52} {fl_s:8.1f} {'':>8} {fl_rss / 2**20:12,.0f} {1:8.2f}")
    differ = [g for g in this if this.get(g) != peer.get(g)]
    print(f"graphs written: {len(this)} (this) / {len(peer)} (peer), same IRIs: {sorted(this) == sorted(peer)}; "
          f"canonical content differs in {len(differ)}: {differ[:5]}")
    shutil.rmtree(args.work, ignore_errors=True)
    if sorted(this) != sorted(peer) or differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
