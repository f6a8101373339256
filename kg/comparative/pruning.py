"""Linear-time Gaussian pruning on a tree (Felsenstein's contrasts, Ho & Ané's three-point
structure), shared by ancestral states, phylogenetic signal, imputation and PGLS.

For a Brownian model with covariance ``V`` (branch lengths ``t``, extra tip variance ``e``), one
postorder pass yields, for any columns ``a, b`` of tip data, ``a' V^-1 b`` (the contrast sums plus
the root term), ``log det V`` and ``1' V^-1 1`` -- all a GLS or a likelihood needs, without a matrix.
At a node with children ``c`` (each an estimate ``m_c`` of the node's value with variance
``u_c = 1/p_c + t_c``): ``p = sum 1/u_c``, ``m = sum (m_c/u_c) / p``; the contrasts add
``sum (m_c - m)^2 / u_c`` and ``log det V`` gains ``sum log u_c + log p``; finally
``log det V -= log p_root``. Tips without data carry no information (weight 0), so the same pass
handles missing values; a preorder pass then gives every node's estimate given all the data
(flat prior on the root), which is what ancestral states and imputation need.

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,C:2);")
>>> y = np.full((t.n_nodes, 1), np.nan); y[t.tip_ids(["A", "B", "C"]), 0] = [1.0, 3.0, 5.0]
>>> r = prune(t, y, t.length)
>>> round(float(r.m[0, 0]), 6), round(float(r.quad[0, 0]), 6)
(3.285714, 4.571429)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError


@dataclass
class Pruned:
    """The result of one postorder pass.

    ``m``/``p``: each node's estimate from its subtree and that estimate's precision (0 where the
    subtree holds no data); ``quad``: ``a' V^-1 b`` over the data columns *minus* the root term
    (``p_root * m_root m_root'``), i.e. the sum of squared contrasts; ``logdet``: ``log det V``;
    ``n``: observed tips.
    """

    m: np.ndarray
    p: np.ndarray
    u: np.ndarray
    quad: np.ndarray
    logdet: float
    n: int
    root: int

    @property
    def p_root(self) -> float:
        return float(self.p[self.root])

    @property
    def m_root(self) -> np.ndarray:
        return self.m[self.root]

    def gram(self) -> np.ndarray:
        """``Z' V^-1 Z`` for the data columns ``Z`` (full matrix)."""
        mr = self.m_root
        return self.quad + self.p_root * np.outer(mr, mr)


def prune(tree: PhyloTree, values: np.ndarray, lengths: np.ndarray, tipvar: np.ndarray | None = None,
          *, full: bool = True) -> Pruned:
    """One postorder pass. ``values``: (n_nodes, k) with data on tips (a row with any ``nan`` is
    missing); ``lengths``: branch lengths per node; ``tipvar``: extra variance per node (tips'
    squared standard errors). ``full=False`` keeps only the diagonal of ``quad`` (many columns)."""
    n = tree.n_nodes
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    k = y.shape[1]
    obs = tree.is_tip & np.isfinite(y).all(axis=1)
    m = np.where(obs[:, None], y, 0.0)
    var = np.zeros(n) if tipvar is None else np.where(obs, np.nan_to_num(np.asarray(tipvar, dtype=np.float64)), 0.0)
    with np.errstate(divide="ignore"):
        p = np.where(obs, 1.0 / var, 0.0)
    u = var + lengths
    zero = obs & (u <= 0)
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise ValidationError(f"tip {tree.label(i)!r} has a zero-length branch and no measurement error: "
                              "its variance would be 0 (give it a standard error or a positive branch length)")
    quad = np.zeros((k, k)) if full else np.zeros(k)
    logdet = 0.0
    for lv in tree.levels:
        c = lv.kids
        info = p[c] > 0
        w = np.where(info, 1.0 / np.where(info, u[c], 1.0), 0.0)
        pv = np.bincount(lv.slot, w, minlength=len(lv.nodes))
        has = pv > 0
        mw = m[c] * w[:, None]
        mv = np.zeros((len(lv.nodes), k))
        for j in range(k):
            mv[:, j] = np.bincount(lv.slot, mw[:, j], minlength=len(lv.nodes))
        mv[has] /= pv[has, None]
        d = m[c] - mv[lv.slot]
        if full:
            quad += (d * w[:, None]).T @ d
        else:
            quad += (d * d * w[:, None]).sum(axis=0)
        logdet += float(np.log(u[c][info]).sum()) + float(np.log(pv[has]).sum())
        nodes = lv.nodes
        m[nodes] = mv
        p[nodes] = pv
        u[nodes] = np.where(has, 1.0 / np.where(has, pv, 1.0), 0.0) + lengths[nodes]
    root = 0
    if p[root] <= 0:
        raise ValidationError("no tip of the tree has a value")
    logdet -= float(np.log(p[root]))
    return Pruned(m, p, u, quad, logdet, int(obs.sum()), root)


def posterior(tree: PhyloTree, pr: Pruned, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every node's estimate given all data and its precision (flat prior on the root), by one
    preorder pass after :func:`prune`. Observed tips come back as observed (infinite precision
    without a standard error)."""
    m, p, u = pr.m, pr.p, pr.u
    k = m.shape[1]
    up_p = np.zeros(tree.n_nodes)  # precision of the message from outside a node's subtree
    up_m = np.zeros((tree.n_nodes, k))
    for lv in reversed(tree.levels):
        nodes, c = lv.nodes, lv.kids
        par = nodes[lv.slot]
        info = p[c] > 0
        w = np.where(info, 1.0 / np.where(info, u[c], 1.0), 0.0)
        # information about the parent from everything but this child's subtree
        q = np.maximum(up_p[par] + p[par] - w, 0.0)
        fin = np.isfinite(p[par]) & (q > 0)
        qm = np.zeros((len(c), k))
        num = up_p[par][:, None] * up_m[par] + p[par][:, None] * m[par] - w[:, None] * m[c]
        qm[fin] = num[fin] / q[fin, None]
        # tiny negative q from cancellation means no information
        var = np.where(q > 0, 1.0 / np.where(q > 0, q, 1.0), np.inf) + lengths[c]
        up_p[c] = np.where(np.isfinite(var), 1.0 / var, 0.0)
        up_m[c] = qm
    tot = p + up_p
    mean = m.copy()
    inner = np.isfinite(p) & (tot > 0)
    mean[inner] = (p[inner, None] * m[inner] + up_p[inner, None] * up_m[inner]) / tot[inner, None]
    return mean, tot
