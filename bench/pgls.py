"""PGLS on the non-ultrametric Fish Tree of Life phylogram (RAxML, 11,638 tips) in both error
structures -- the tree's covariance and nlme's tip correlations -- in one linear pass each; the
peer, measured in the same run: the dense GLS closed form (numpy: the tip covariance built by
blocks, Cholesky solves, O(n^3)) on a 2,000-tip subtree,
where both are also run and their coefficients compared.

Run: ``PYTHONPATH=. .venv/bin/python bench/pgls.py [--repeats 3]``. Figures are medians.
"""

from __future__ import annotations

import argparse

import numpy as np
from _util import SHARED, table, timed

from kg.comparative.pgls import pgls
from kg.comparative.tree import PhyloTree
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick


def tree_vcv(t: PhyloTree) -> np.ndarray:
    """C_ij = root-to-MRCA path length: in preorder every clade's tips are one block, deeper blocks last."""
    n_nodes = t.n_nodes
    size = np.zeros(n_nodes, dtype=np.int64)  # nodes below, itself included (preorder: parent < child)
    size[:] = 1
    for v in range(n_nodes - 1, 0, -1):
        size[t.parent[v]] += size[v]
    tips = t.tips
    h = t.heights
    C = np.empty((len(tips), len(tips)))
    for v in range(n_nodes):
        lo, hi = np.searchsorted(tips, [v, v + size[v]])
        C[lo:hi, lo:hi] = h[v]
    return C


def dense_gls(C: np.ndarray, y: np.ndarray, x: np.ndarray, vcv: str) -> np.ndarray:
    """Coefficients from V = C (or its correlation matrix): Cholesky solves, O(n^3)."""
    if vcv == "correlation":
        d = np.sqrt(np.diag(C))
        C = C / np.outer(d, d)
    n = len(y)
    X = np.column_stack([np.ones(n), x])
    L = np.linalg.cholesky(C)
    Z = np.linalg.solve(L, np.column_stack([X, y]))
    return np.linalg.lstsq(Z[:, :2], Z[:, 2], rcond=None)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dense-tips", type=int, default=2000)
    args = ap.parse_args()
    ix = TreeIndex.from_parsed(parse_newick((SHARED / "fishtree" / "actinopt_12k_raxml.tre").read_text()))
    full = PhyloTree.from_index(ix)
    rng = np.random.default_rng(29)
    names = full.tip_names
    xs = dict(zip(names, rng.normal(size=len(names)).tolist()))
    ys = {k: 0.5 + 1.3 * v + rng.normal(scale=0.5) for k, v in xs.items()}
    sub_ids = np.sort(rng.choice(ix.tips, args.dense_tips, replace=False))
    sub = PhyloTree.from_index(ix, sub_ids)
    sub_names = sub.tip_names
    rows = []
    for vcv in ("covariance", "correlation"):
        t_full, _ = timed(lambda v=vcv: pgls(full, ys, {"x": xs}, vcv=v), args.repeats)
        t_sub, _ = timed(lambda v=vcv: pgls(sub, {k: ys[k] for k in sub_names}, {"x": {k: xs[k] for k in sub_names}},
                                              vcv=v), args.repeats)
        y = np.array([ys[k] for k in sub_names])
        x = np.array([xs[k] for k in sub_names])
        beta = dense_gls(tree_vcv(sub), y, x, vcv)
        t_dense, _ = timed(lambda v=vcv, yy=y, xx=x: dense_gls(tree_vcv(sub), yy, xx, v), args.repeats)
        ours = pgls(sub, {k: ys[k] for k in sub_names}, {"x": {k: xs[k] for k in sub_names}}, vcv=vcv).coef
        diff = float(np.max(np.abs(ours - beta) / np.abs(beta)))
        rows.append([vcv, len(names), t_full, args.dense_tips, t_sub, t_dense, t_dense / t_sub, f"{diff:.1e}"])
    table(f"PGLS y ~ x on the RAxML fish phylogram (not ultrametric), medians of {args.repeats}",
          ["vcv", "tips", "ours s", "subtree tips", "ours s (sub)", "dense s (sub)", "dense/ours", "max rel diff"],
          rows)


if __name__ == "__main__":
    main()
