"""Multivariate Brownian motion with missing values (Rphylopars-style): the ML trait covariance
``R`` and root, and imputation of every missing tip value with its prediction variance.

Messages in information form (``exp(c - x'Jx/2 + h'x)`` over a node's values) travel one level at
a time: a tip sends the density of its observed traits, a branch of length ``t`` convolves with
``N(0, tR)``, a node multiplies its children's messages. The log-likelihood (any missing pattern,
root mean at its ML value) comes out at the root; a preorder pass gives each tip the information
from the rest of the tree, and the missing traits are their conditional normal given the observed
ones (flat prior on the root, as the univariate :func:`kg.comparative.continuous.impute`).

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,(C:1,D:1):1);")
>>> nan = float("nan")
>>> r = impute_mv(t, {"A": [1.0, 2.0], "B": [1.5, nan], "C": [3.0, 4.1], "D": [2.5, 3.6]})
>>> r.taxa, r.traits_missing
(['B'], [[1]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError

_LOG2PI = math.log(2 * math.pi)


def _data(tree: PhyloTree, values: Mapping[str, Sequence[float]]) -> np.ndarray:
    names = list(values)
    Y = np.asarray([values[k] for k in names], dtype=np.float64)
    if Y.ndim != 2:
        raise ValidationError("multivariate values: one list of numbers per taxon, all the same length")
    out = np.full((tree.n_nodes, Y.shape[1]), np.nan)
    out[tree.tip_ids(names)] = Y
    return out


def _branch(J: np.ndarray, h: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolve batched information-form factors with N(0, S): new (J, h) and the log-constant."""
    Si = np.linalg.inv(S)
    A = J + Si
    Ai = np.linalg.inv(A)
    Jn = Si - Si @ Ai @ Si
    hn = np.einsum("bij,bj->bi", Si @ Ai, h)
    logc = -0.5 * np.linalg.slogdet(S)[1] - 0.5 * np.linalg.slogdet(A)[1] + 0.5 * np.einsum("bi,bij,bj->b", h, Ai, h)
    return Jn, hn, logc


@dataclass
class _Pass:
    loglik: float
    J: np.ndarray  # product of children's messages at each node (information on its own value)
    h: np.ndarray
    mJ: np.ndarray  # message each node sends its parent (over the parent's value)
    mh: np.ndarray
    root: np.ndarray


def _prune(tree: PhyloTree, Y: np.ndarray, R: np.ndarray) -> _Pass:
    n, p = Y.shape
    obs = np.isfinite(Y) & tree.is_tip[:, None]
    J = np.zeros((n, p, p))
    h = np.zeros((n, p))
    C = np.zeros(n)
    mJ = np.zeros((n, p, p))
    mh = np.zeros((n, p))
    L = np.maximum(tree.length, 1e-12 * max(float(tree.length.max()), 1.0))
    eye = np.eye(p)
    for lv in tree.levels:
        c = lv.kids
        tip = tree.is_tip[c]
        cJ = np.zeros((len(c), p, p))
        ch = np.zeros((len(c), p))
        cc = np.zeros(len(c))
        if tip.any():
            k = c[tip]
            o = obs[k]
            S = L[k, None, None] * R[None]
            mask = o[:, :, None] & o[:, None, :]
            Smod = np.where(mask, S, eye[None])
            Si = np.where(mask, np.linalg.inv(Smod), 0.0)
            y = np.where(o, Y[k], 0.0)
            cJ[tip] = Si
            ch[tip] = np.einsum("bij,bj->bi", Si, y)
            cc[tip] = -0.5 * np.einsum("bi,bij,bj->b", y, Si, y) - 0.5 * np.linalg.slogdet(Smod)[1] \
                - 0.5 * _LOG2PI * o.sum(axis=1)
        if (~tip).any():
            k = c[~tip]
            Jn, hn, lc = _branch(J[k], h[k], L[k, None, None] * R[None])
            cJ[~tip], ch[~tip], cc[~tip] = Jn, hn, C[k] + lc
        mJ[c], mh[c] = cJ, ch
        for a in range(p):
            h[lv.nodes, a] = np.bincount(lv.slot, ch[:, a], minlength=len(lv.nodes))
            for b in range(p):
                J[lv.nodes, a, b] = np.bincount(lv.slot, cJ[:, a, b], minlength=len(lv.nodes))
        C[lv.nodes] = np.bincount(lv.slot, cc, minlength=len(lv.nodes))
    Jr, hr = J[0], h[0]
    try:
        mu = np.linalg.solve(Jr, hr)
    except np.linalg.LinAlgError as exc:
        raise ValidationError("a trait has no observed value: its root mean is not identifiable") from exc
    ll = float(C[0] + 0.5 * hr @ mu)
    return _Pass(ll, J, h, mJ, mh, mu)


def mv_loglik(tree: PhyloTree, values: Mapping[str, Sequence[float]], R: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-likelihood of multivariate BM (trait covariance ``R`` per unit branch length, root mean
    at its ML value) of the observed entries, and that root mean."""
    r = _prune(tree, _data(tree, values), np.asarray(R, dtype=np.float64))
    return r.loglik, r.root


def _chol_to_r(z: np.ndarray, p: int) -> np.ndarray:
    Lc = np.zeros((p, p))
    Lc[np.tril_indices(p)] = z
    d = np.diag_indices(p)
    Lc[d] = np.exp(Lc[d])
    return Lc @ Lc.T


def fit_r(tree: PhyloTree, Y: np.ndarray) -> tuple[np.ndarray, float]:
    """ML trait covariance ``R`` (Cholesky parametrisation, started from complete-case contrasts)."""
    p = Y.shape[1]
    tips = tree.tips
    full = np.isfinite(Y[tips]).all(axis=1)
    start = None
    if full.sum() >= 3:
        from kg.comparative.pruning import prune

        Ys = np.where(np.isfinite(Y).all(axis=1)[:, None], Y, np.nan)
        pr = prune(tree, Ys, tree.length)
        start = pr.quad / pr.n
    if start is None or not np.all(np.linalg.eigvalsh(start) > 0):
        v = np.nanvar(Y[tips], axis=0) / max(float(tree.heights[tips].mean()), 1e-12)
        start = np.diag(np.where(v > 0, v, 1.0))
    Lc = np.linalg.cholesky(start)
    z0 = Lc[np.tril_indices(p)].copy()
    di = [i * (i + 1) // 2 + i for i in range(p)]
    z0[di] = np.log(z0[di])

    def nll(z: np.ndarray) -> float:
        try:
            return -_prune(tree, Y, _chol_to_r(z, p)).loglik
        except (ValidationError, np.linalg.LinAlgError):
            return math.inf

    res = optimize.minimize(nll, z0, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
    z = res.x if np.isfinite(res.fun) else z0
    return _chol_to_r(z, p), -float(nll(z))


@dataclass
class MVImputation:
    taxa: list[str]
    traits_missing: list[list[int]]
    mean: list[np.ndarray]
    var: list[np.ndarray]  # covariance of the missing traits of each taxon
    R: np.ndarray
    root: np.ndarray
    loglik: float


def impute_mv(tree: PhyloTree, values: Mapping[str, Sequence[float]], *, R: np.ndarray | None = None) -> MVImputation:
    """Impute every missing trait value of the tips (taxa absent from ``values`` miss all traits)
    under multivariate BM with ``R`` (default: its ML estimate)."""
    tree.check_lengths()
    Y = _data(tree, values)
    n_obs = np.isfinite(Y[tree.tips]).sum(axis=0)
    if (n_obs < 2).any():
        raise ValidationError(f"every trait needs at least 2 observed tips; observed counts {n_obs.tolist()}")
    if R is None:
        Rm, _ = fit_r(tree, Y)
    else:
        Rm = np.asarray(R, dtype=np.float64)
    r = _prune(tree, Y, Rm)
    n, p = Y.shape
    upJ = np.zeros((n, p, p))
    uph = np.zeros((n, p))
    L = np.maximum(tree.length, 1e-12 * max(float(tree.length.max()), 1.0))
    for lv in reversed(tree.levels):
        c = lv.kids
        par = lv.nodes[lv.slot]
        K = upJ[par] + r.J[par] - r.mJ[c]
        g = uph[par] + r.h[par] - r.mh[c]
        Jn, hn, _ = _branch(K, g, L[c, None, None] * Rm[None])
        upJ[c], uph[c] = Jn, hn
    taxa, miss, means, vars_ = [], [], [], []
    for v in tree.tips.tolist():
        m = ~np.isfinite(Y[v])
        if not m.any():
            continue
        o = ~m
        K, g = upJ[v], uph[v]
        Kmm = K[np.ix_(m, m)]
        rhs = g[m] - K[np.ix_(m, o)] @ Y[v, o]
        cov = np.linalg.inv(Kmm)
        taxa.append(tree.names[v])
        miss.append(np.flatnonzero(m).tolist())
        means.append(cov @ rhs)
        vars_.append(cov)
    return MVImputation(taxa, miss, means, vars_, Rm, r.root, r.loglik)
