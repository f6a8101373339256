"""Dense-matrix (O(n^3)) versions of the Gaussian likelihoods, as a reference and benchmark peer:
the tree covariance ``C`` built from root-to-MRCA distances, then Cholesky.

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,C:2);")
>>> vcv(t)[0].tolist()
[[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 2.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from kg.comparative.tree import PhyloTree


def vcv(tree: PhyloTree) -> tuple[np.ndarray, list[str]]:
    """The BM covariance of the tips (shared root-to-MRCA path lengths), in tip order."""
    tips = tree.tips
    n = len(tips)
    h = tree.heights
    # ancestors of every tip as a boolean matrix over nodes, by one preorder sweep
    pos = np.full(tree.n_nodes, -1)
    pos[tips] = np.arange(n)
    anc = np.zeros((tree.n_nodes, n), dtype=bool)
    anc[tips, np.arange(n)] = True
    for lv in tree.levels:  # postorder: a node's tip set is the union of its children's
        for j in range(len(lv.nodes)):
            anc[lv.nodes[j]] = anc[lv.kids[lv.start[j]:lv.start[j + 1]]].any(axis=0)
    w = tree.length.copy()
    w[0] = 0.0
    A = anc.astype(np.float64)
    C = (A * w[:, None]).T @ A
    del h
    return C, tree.tip_names


def dense_lambda_loglik(tree: PhyloTree, values: Mapping[str, float], lam: float,
                        C: tuple[np.ndarray, list[str]] | None = None) -> float:
    """Profile log-likelihood of Pagel's lambda (ML rate, GLS mean) from the dense matrix
    (``C``: a precomputed :func:`vcv`)."""
    C, names = vcv(tree) if C is None else C
    d = np.diag(C).copy()
    C = lam * C
    C[np.diag_indices_from(C)] = d
    y = np.array([values[k] for k in names])
    n = len(y)
    L = np.linalg.cholesky(C)
    one = np.linalg.solve(L, np.ones(n))
    z = np.linalg.solve(L, y)
    a = float(one @ z / (one @ one))
    r = z - a * one
    s2 = float(r @ r) / n
    logdet = 2.0 * float(np.log(np.diag(L)).sum())
    return -0.5 * (n * math.log(2 * math.pi * s2) + logdet + n)
