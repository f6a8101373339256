"""Phylogenetic signal of a continuous trait: Blomberg's K (with a permutation p-value) and
Pagel's lambda (ML, log-likelihood, likelihood-ratio test against lambda = 0), both accepting
per-tip standard errors as phytools' ``phylosig(se=)`` does (``se^2`` added to tip variances).

Every quantity comes from the linear-time pruning in :mod:`kg.comparative.pruning`:
``(x-a)' C^-1 (x-a)`` is the contrast sum, ``1' C^-1 1`` the root precision, ``tr C`` the sum of
root-to-tip distances.

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,(C:1,D:1):1);")
>>> round(blomberg_k(t, {"A": 1.0, "B": 1.2, "C": 3.0, "D": 3.1}).K, 6)
1.776789
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from kg.comparative.continuous import XTOL, gaussian_loglik, ml_sigma2_me, tip_vector
from kg.comparative.pruning import prune
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError


def _check(tree: PhyloTree, y: np.ndarray, what: str, minimum: int = 3) -> int:
    tree.check_lengths()
    obs = np.isfinite(y[tree.tips])
    n = int(obs.sum())
    if n < minimum:
        raise ValidationError(f"{what} needs at least {minimum} tips with values, got {n}")
    if n != tree.n_tips:
        raise ValidationError(f"{what}: {tree.n_tips - n} tips have no value; prune the tree to the tips with "
                              "data first (PhyloTree.from_index(index, tips))")
    v = y[tree.tips]
    if float(np.ptp(v)) == 0.0:
        raise ValidationError(f"the trait is constant ({float(v[0]):.6g} on all {n} tips): {what} is undefined")
    return n


@dataclass
class KResult:
    K: float
    p_value: float | None
    nsim: int
    sigma2: float | None = None
    loglik: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": "blomberg-k", **asdict(self)}


def _k_from(tree: PhyloTree, Y: np.ndarray, lengths: np.ndarray, tipvar: np.ndarray | None) -> np.ndarray:
    """K for each column of ``Y`` (per-node rows) on a covariance given by branch lengths."""
    r = prune(tree, Y, lengths, tipvar, full=False)
    n = r.n
    a = r.m_root
    tips = tree.tips
    resid = Y[tips] - a
    ss = (resid * resid).sum(axis=0)
    h = _tip_heights(tree, lengths)
    tr = float(h.sum()) + (0.0 if tipvar is None else float(np.asarray(tipvar)[tips].sum()))
    expected = (tr - n / r.p_root) / (n - 1)
    return (ss / r.quad) / expected


def _tip_heights(tree: PhyloTree, lengths: np.ndarray) -> np.ndarray:
    h = np.zeros(tree.n_nodes)
    for lv in reversed(tree.levels):
        h[lv.kids] = h[tree.parent[lv.kids]] + lengths[lv.kids]
    return h[tree.tips]


def blomberg_k(tree: PhyloTree, values: Mapping[str, float] | np.ndarray,
               se: Mapping[str, float] | np.ndarray | None = None, *, nsim: int = 0, seed: int | None = 0,
               sigma2: float | None = None) -> KResult:
    """Blomberg's K; ``nsim > 0`` adds the permutation p-value (as phylosig: the observed value
    counts as one of ``nsim``, ``p = #(K_sim >= K) / nsim``). With ``se``, ``sigma2`` is the ML rate
    under measurement error times ``n/(n-1)`` (phylosig's convention) unless given."""
    y, tv = tip_vector(tree, values, se)
    n = _check(tree, y, "Blomberg's K")
    ll = None
    if tv is None:
        lengths, s2 = tree.length, None
    else:
        if sigma2 is None:
            theta = ml_sigma2_me(tree, y, tv)
            ll = gaussian_loglik(tree, y, tree.length * theta, tv)
            sigma2 = theta * n / (n - 1)
        lengths, s2 = tree.length * sigma2, float(sigma2)
    K = float(_k_from(tree, y[:, None], lengths, tv)[0])
    p = None
    if nsim > 0:
        rng = np.random.default_rng(seed)
        vals = y[tree.tips]
        sev = None if tv is None else tv[tree.tips]
        ge, done = 0, 1
        while done < nsim:
            b = min(256, nsim - done)
            perm = np.argsort(rng.random((b, n)), axis=1)
            Y = np.full((tree.n_nodes, b), np.nan)
            Y[tree.tips] = vals[perm].T
            if sev is None:
                ks = _k_from(tree, Y, lengths, None)
            else:  # values and their standard errors move together; the rate is refitted
                ks = np.array([_perm_k_me(tree, Y[:, j], sev[perm[j]]) for j in range(b)])
            ge += int((ks >= K).sum())
            done += b
        p = (1 + ge) / nsim
    return KResult(K, p, nsim, s2, ll)


def _perm_k_me(tree: PhyloTree, y: np.ndarray, tipse2: np.ndarray) -> float:
    tv = np.zeros(tree.n_nodes)
    tv[tree.tips] = tipse2
    n = tree.n_tips
    s2 = ml_sigma2_me(tree, y, tv) * n / (n - 1)
    return float(_k_from(tree, y[:, None], tree.length * s2, tv)[0])


@dataclass
class LambdaResult:
    lam: float
    loglik: float
    loglik0: float
    lr: float
    p_value: float
    sigma2: float
    max_lambda: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lambda"] = d.pop("lam")
        return {"method": "pagel-lambda", **d}


def lambda_loglik(tree: PhyloTree, values: Mapping[str, float] | np.ndarray, lam: float,
                  se: Mapping[str, float] | np.ndarray | None = None, *, sigma2: float | None = None) -> float:
    """log-likelihood at a given lambda: sigma2 profiled out (ML) without ``se``; with ``se``
    at the given ``sigma2`` (phylosig's ``lik`` functions)."""
    y, tv = tip_vector(tree, values, se)
    return _lam_ll(tree, y, tv, lam, sigma2)[0]


def _lam_ll(tree: PhyloTree, y: np.ndarray, tv: np.ndarray | None, lam: float,
            sigma2: float | None) -> tuple[float, float]:
    L = tree.transformed(lam=lam)
    if tv is None:
        r = prune(tree, y, L)
        s2 = float(r.quad[0, 0]) / r.n
        return -0.5 * (r.n * math.log(2 * math.pi * s2) + r.logdet + r.n), s2
    if sigma2 is None:
        raise ValidationError("with standard errors, sigma2 must be given")
    return gaussian_loglik(tree, y, L * sigma2, tv), sigma2


def pagel_lambda(tree: PhyloTree, values: Mapping[str, float] | np.ndarray,
                 se: Mapping[str, float] | np.ndarray | None = None, *, upper: float | None = None) -> LambdaResult:
    """ML Pagel's lambda in ``[0, upper]`` (default phytools' ``maxLambda``), its log-likelihood,
    the log-likelihood at lambda = 0 and the likelihood-ratio test (chi-square, 1 df)."""
    y, tv = tip_vector(tree, values, se)
    n = _check(tree, y, "Pagel's lambda")
    ml = tree.max_lambda()
    hi = ml if upper is None else float(upper)
    if hi > 1.0 + 1e-12 and not tree.is_ultrametric():
        tree.require_ultrametric(f"Pagel's lambda above 1 (upper={hi})")
    if tv is None:
        def f(lam: float) -> float:
            try:
                return -_lam_ll(tree, y, None, lam, None)[0]
            except ValidationError:  # a singular covariance at the upper bound (a tip branch of 0)
                return math.inf
        res = optimize.minimize_scalar(f, bounds=(0.0, hi), method="bounded", options={"xatol": XTOL})
        cands = [(float(res.fun), float(res.x)), (f(0.0), 0.0), (f(hi), hi)]
        best, lam = min(cands)
        ll, s2 = _lam_ll(tree, y, None, lam, None)
        ll0 = -f(0.0)
    else:
        r = prune(tree, y, tree.length)
        s_hi = float(r.quad[0, 0]) / r.n

        def g(z: np.ndarray, lam_fixed: float | None = None) -> float:
            s2 = math.exp(z[0])
            lam = z[1] if lam_fixed is None else lam_fixed
            try:
                return -gaussian_loglik(tree, y, tree.transformed(lam=lam) * s2, tv)
            except ValidationError:
                return math.inf

        best = None
        for start in (0.5 * hi, 0.99 * hi, 0.05 * hi):
            rr = optimize.minimize(g, np.array([math.log(s_hi), start]), method="L-BFGS-B",
                                   bounds=[(math.log(s_hi) - 30, math.log(s_hi) + 5), (0.0, hi)],
                                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
            if best is None or rr.fun < best.fun:
                best = rr
        s2, lam, ll = math.exp(best.x[0]), float(best.x[1]), -float(best.fun)
        r0 = optimize.minimize_scalar(lambda z: g(np.array([z, 0.0])), bounds=(math.log(s_hi) - 30, math.log(s_hi) + 5),
                                      method="bounded", options={"xatol": 1e-10})
        ll0 = -float(r0.fun)
    lr = max(0.0, 2.0 * (ll - ll0))
    return LambdaResult(lam, ll, ll0, lr, float(stats.chi2.sf(lr, 1)), s2, ml, n)
