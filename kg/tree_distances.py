"""Phylogenetic distance matrices for many nodes at once (``TreeIndex.distance_matrix``).

Tips sorted in preorder have a simple property: the LCA of tips ``i < j`` is the shallowest of
the LCAs of the consecutive pairs ``(i, i+1) ... (j-1, j)``. So one vectorised LCA call over
``K - 1`` consecutive pairs, then one running minimum per row, give all ``K (K - 1) / 2`` LCAs:
no per-pair range-minimum query. Row ``i`` costs one ``np.minimum.accumulate`` of length ``K - i``.

>>> from loaders.newick_grammar import parse_newick
>>> from kg.treeindex import TreeIndex
>>> ix = TreeIndex.from_parsed(parse_newick("((A:1,B:2)x:1,(C:1,D:1)y:2)r;"))
>>> distance_matrix(ix, ix.ids(["C", "A", "B"])).tolist()
[[0.0, 5.0, 6.0], [5.0, 0.0, 3.0], [6.0, 3.0, 0.0]]
>>> distance_matrix(ix, ix.ids(["C", "A", "B"]), topological=True).tolist()
[[0.0, 4.0, 4.0], [4.0, 0.0, 2.0], [4.0, 2.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def distance_matrix(index: Any, ids: Sequence[int] | np.ndarray, *, topological: bool = False) -> np.ndarray:
    """K x K patristic (branch-length sums) or topological (edge counts) distances between nodes,
    rows and columns in the order given (float64)."""
    ids = np.asarray(ids, dtype=np.int64)
    k = len(ids)
    out = np.zeros((k, k), dtype=np.float64)
    if k < 2:
        return out
    x = index.depth.astype(np.float64) if topological else index.dist
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    inv = np.empty(k, dtype=np.int64)
    inv[order] = np.arange(k)
    c = index.lca(s[:-1], s[1:])
    if topological or not (np.nan_to_num(index.length[1:]) >= 0).all():
        # the shallowest consecutive LCA by (depth, id) keys; its root distance after
        keys = (index.depth[c].astype(np.int64) << 32) | c
        mask = np.int64(0xFFFFFFFF)

        def lca_x(lo: int, hi: int, reverse: bool) -> np.ndarray:
            part = keys[lo:hi][::-1] if reverse else keys[lo:hi]
            m = x[np.minimum.accumulate(part) & mask]
            return m[::-1] if reverse else m
    else:  # branch lengths >= 0: root distances only grow downwards, so the minimum is the LCA's
        xc = x[c]

        def lca_x(lo: int, hi: int, reverse: bool) -> np.ndarray:
            part = xc[lo:hi][::-1] if reverse else xc[lo:hi]
            m = np.minimum.accumulate(part)
            return m[::-1] if reverse else m
    xs = x[s]
    m = np.empty(k, dtype=np.float64)
    for i in range(k):
        if i:
            m[:i] = lca_x(0, i, True)
        m[i] = xs[i]
        if i + 1 < k:
            m[i + 1:] = lca_x(i, k - 1, False)
        row = xs[i] + xs - 2.0 * m
        row[i] = 0.0
        out[order[i]] = row[inv]
    return out
