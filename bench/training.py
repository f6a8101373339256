"""Training-input benchmark: distance matrices and trainer exports on the Fish Tree of Life.

Run: ``.venv/bin/python bench/training.py [--repeat N]``. Figures are medians over the repeats.

1. Distance matrix for 5,000 random tips of the 11,638-tip treePL chronogram:
   ``kg.training`` (consecutive-LCA running minima) against the repository's own
   ``TreeIndex.distance_matrix`` (one range-minimum LCA query per pair, one run) and ete3's
   ``get_distance`` on 2,000 random pairs, extrapolated to the 12,497,500 pairs of the matrix
   (ete3 has no matrix call; dendropy is not installed here, so it is not measured).
2. Export of every format (Phylo-NN, Phylo-Diffusion, HComP-Net, BioCLIP, Fish-Vista, CSV) for all
   11,638 tips, against ete3 parsing the same Newick and writing it back (the first step of a
   hand-made Phylo-NN input).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _util import SHARED, table, timed  # TRAITKG_SHARED_DATA, default ../shared/data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TREE = SHARED / "fishtree" / "actinopt_12k_treePL.tre"
TAXONOMY = SHARED / "fishtree" / "PFC_short_classification.csv"
FORMATS = ["phylonn", "phylodiffusion", "hcompnet", "bioclip", "fishvista", "csv"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--taxa", type=int, default=5000)
    args = ap.parse_args()
    import numpy as np

    from kg import KnowledgeGraph

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    g = KnowledgeGraph.open("oxigraph:")
    t0 = time.perf_counter()
    g.load_tree(TREE, name="fishtree")
    g.load_taxonomy(TAXONOMY, name="pfc")
    print(f"load tree + PFC taxonomy: {time.perf_counter() - t0:.2f} s (not part of the figures)")
    tree = g.tree("fishtree")
    rng = np.random.default_rng(0)
    names = rng.choice(tree.tips(), args.taxa, replace=False).tolist()
    k = len(names)
    pairs = k * (k - 1) // 2

    tr = g.training
    ts = tr.taxa(names)
    ours, _ = timed(lambda: tr.distance_matrix(ts), args.repeat)
    ids = ts.ids
    t0 = time.perf_counter()
    old = tree.index.distance_matrix(ids)
    per_pair = time.perf_counter() - t0
    assert np.allclose(old, tr.distance_matrix(ts))
    del old
    ete = tree.to_ete()
    leaves = {n.name: n for n in ete.get_leaves()}
    sample = rng.integers(0, k, size=(2000, 2))
    t0 = time.perf_counter()
    for i, j in sample.tolist():
        ete.get_distance(leaves[names[i]], leaves[names[j]])
    ete_s = (time.perf_counter() - t0) / len(sample) * pairs
    table(f"distance matrix, {k:,} fish-tree taxa ({pairs:,} pairs), median of {args.repeat}",
          ["method", "seconds", "x traitkg"],
          [["kg.training.distance_matrix", ours, 1.0],
           ["TreeIndex.distance_matrix (RMQ per pair, 1 run)", per_pair, per_pair / ours],
           ["ete3 get_distance (2,000 pairs, extrapolated)", ete_s, ete_s / ours]])

    def export() -> None:
        with tempfile.TemporaryDirectory() as d:
            tr.export(d, FORMATS, lineage={"kingdom": "Animalia", "phylum": "Chordata", "class": "Actinopterygii"})

    ex, _ = timed(export, args.repeat)
    per_format = []
    for f in FORMATS:
        with tempfile.TemporaryDirectory() as d:
            m = tr.export(d, [f], lineage={"kingdom": "Animalia"})
            per_format.append([f"  only {f}", m["seconds"], len(m["files"])])

    def ete_roundtrip() -> None:
        from ete3 import Tree

        with tempfile.TemporaryDirectory() as d:
            Tree(TREE.read_text(), format=1).write(format=5, outfile=str(Path(d) / "t.nwk"))

    peer, _ = timed(ete_roundtrip, args.repeat)
    table(f"export of every format, {tree.n_tips:,} tips, median of {args.repeat}",
          ["what", "seconds", "files / x"],
          [["traitkg export-training (6 formats)", ex, f"{ex / peer:.2f}x ete3"], *per_format,
           ["ete3: parse + write the Newick only", peer, "1.00x"]])
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
