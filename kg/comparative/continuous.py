"""Brownian motion on a tree: log-likelihood, ML ancestral states with confidence intervals, and
imputation of missing tip values (univariate), all by one post- and one preorder pass.

Ancestral states are the ML (= GLS/BLUP) estimates, the same numbers as phytools' ``fastAnc``
and ape's ``ace(method="ML")``; their variances follow ``fastAnc``: the REML rate (mean squared
contrast) times each node's conditional variance.

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,C:2);")
>>> r = bm_ancestral(t, {"A": 1.0, "B": 3.0, "C": 5.0})
>>> [round(v, 4) for v in r.states.tolist()]
[3.2857, 2.4286]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from kg.comparative.pruning import posterior, prune
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError

Z95 = 1.959963984540054  # fastAnc uses 1.96; see BMAncestral.ci


#: x tolerance of the one-dimensional ML searches (relative to the search interval)
XTOL = 1e-10


def tip_vector(tree: PhyloTree, values: Mapping[str, float] | np.ndarray,
               se: Mapping[str, float] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-node arrays (``nan`` off the tips / where missing) from name -> value maps or arrays
    already in tip order."""
    y = np.full(tree.n_nodes, np.nan)
    if isinstance(values, Mapping):
        names = list(values)
        y[tree.tip_ids(names)] = np.asarray([values[k] for k in names], dtype=np.float64)
    else:
        y[tree.tips] = np.asarray(values, dtype=np.float64)
    v = None
    if se is not None:
        v = np.zeros(tree.n_nodes)
        if isinstance(se, Mapping):
            names = list(se)
            s = np.asarray([se[k] for k in names], dtype=np.float64)
            v[tree.tip_ids(names)] = np.nan_to_num(s) ** 2
        else:
            v[tree.tips] = np.nan_to_num(np.asarray(se, dtype=np.float64)) ** 2
        if (v < 0).any() or not np.isfinite(v).all():
            raise ValidationError("standard errors must be finite and >= 0")
    return y, v


def bm_loglik(tree: PhyloTree, y: np.ndarray, *, lengths: np.ndarray | None = None,
              tipvar: np.ndarray | None = None, sigma2: float | None = None) -> tuple[float, float, float]:
    """BM log-likelihood with the ML root (GLS mean): ``(logL, sigma2, root)``. Without
    ``tipvar``, ``sigma2`` is profiled out (ML, ``Q/n``) unless given; with ``tipvar`` it must
    be given (branch lengths are scaled by it and the tip variances added)."""
    L = tree.length if lengths is None else lengths
    if tipvar is not None:
        if sigma2 is None:
            raise ValidationError("with measurement error sigma2 must be given or estimated by the caller")
        r = prune(tree, y, L * sigma2, tipvar)
        q = float(r.quad[0, 0])
        return -0.5 * (r.n * math.log(2 * math.pi) + r.logdet + q), sigma2, float(r.m_root[0])
    r = prune(tree, y, L)
    q, n = float(r.quad[0, 0]), r.n
    s2 = q / n if sigma2 is None else sigma2
    if s2 <= 0:
        raise ValidationError("the trait is constant on these tips: the BM rate is 0 and the likelihood undefined")
    return -0.5 * (n * math.log(2 * math.pi * s2) + r.logdet + q / s2), s2, float(r.m_root[0])


def gaussian_loglik(tree: PhyloTree, y: np.ndarray, lengths: np.ndarray, tipvar: np.ndarray | None) -> float:
    """log-likelihood of a Gaussian with tree covariance (lengths as given, tip variances added)
    and the GLS mean."""
    r = prune(tree, y, lengths, tipvar)
    return -0.5 * (r.n * math.log(2 * math.pi) + r.logdet + float(r.quad[0, 0]))


def ml_sigma2_me(tree: PhyloTree, y: np.ndarray, tipvar: np.ndarray) -> float:
    """ML BM rate with tip measurement error (phylosig's search interval ``(0, Q/n)``)."""
    r = prune(tree, y, tree.length)
    hi = float(r.quad[0, 0]) / r.n
    res = optimize.minimize_scalar(lambda s: -gaussian_loglik(tree, y, tree.length * s, tipvar), bounds=(0.0, hi),
                                   method="bounded", options={"xatol": XTOL * max(hi, 1e-300)})
    return float(res.x)


@dataclass
class BMAncestral:
    """ML ancestral states under BM at the tree's internal nodes (``nodes``, preorder ids)."""

    tree: PhyloTree
    nodes: np.ndarray
    states: np.ndarray
    var: np.ndarray
    sigma2: float  # REML rate (fastAnc's)
    sigma2_ml: float
    loglik: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)

    def ci(self, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
        """Confidence interval ``state -/+ z * sqrt(var)`` (1.96 as in fastAnc)."""
        s = np.sqrt(self.var)
        return self.states - z * s, self.states + z * s

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.ci()
        return {"method": "bm-ml", "sigma2": self.sigma2, "sigma2_ml": self.sigma2_ml, "loglik": self.loglik,
                "n": self.n, "nodes": [{"node": int(v), "label": self.tree.label(int(v)), "state": float(s),
                                        "var": float(q), "ci95": [float(a), float(b)]}
                                       for v, s, q, a, b in zip(self.nodes, self.states, self.var, lo, hi)]}


def bm_ancestral(tree: PhyloTree, values: Mapping[str, float] | np.ndarray) -> BMAncestral:
    """ML ancestral states of a continuous trait under BM with variances and 95% CIs."""
    tree.check_lengths()
    y, _ = tip_vector(tree, values)
    r = prune(tree, y, tree.length)
    if r.n < 2:
        raise ValidationError(f"ancestral states need at least 2 tips with values, got {r.n}")
    q = float(r.quad[0, 0])
    if q <= 0:
        raise ValidationError("the trait is constant on these tips: the BM rate is 0")
    mean, prec = posterior(tree, r, tree.length)
    nodes = np.flatnonzero(~tree.is_tip)
    s2 = q / (r.n - 1)
    ll, s2ml, _ = bm_loglik(tree, y)
    return BMAncestral(tree, nodes, mean[nodes, 0], s2 / prec[nodes], s2, s2ml, ll, r.n)


@dataclass
class Imputation:
    """Predicted values of tips without data: mean and prediction variance (of the true value)."""

    taxa: list[str]
    mean: np.ndarray
    var: np.ndarray
    sigma2: float
    root: float

    def to_dict(self) -> dict[str, Any]:
        return {"sigma2": self.sigma2, "root": self.root,
                "predictions": [{"taxon": t, "mean": float(m), "var": float(v), "se": float(math.sqrt(v))}
                                for t, m, v in zip(self.taxa, self.mean, self.var)]}


def impute(tree: PhyloTree, values: Mapping[str, float] | np.ndarray,
           se: Mapping[str, float] | np.ndarray | None = None, *, sigma2: float | None = None,
           targets: list[str] | None = None) -> Imputation:
    """BM imputation of every tip without a value (or of ``targets``): the conditional mean given
    the observed tips with the GLS root, and its variance ``sigma2 * conditional variance``.

    Without ``se``, ``sigma2`` defaults to the REML rate of the observed tips; with ``se`` (tip
    variances ``se^2`` added) it defaults to the ML rate under measurement error."""
    tree.check_lengths()
    y, tv = tip_vector(tree, values, se)
    if tv is None:
        r = prune(tree, y, tree.length)
        if r.n < 2:
            raise ValidationError(f"imputation needs at least 2 tips with values, got {r.n}")
        s2 = float(r.quad[0, 0]) / (r.n - 1) if sigma2 is None else float(sigma2)
        mean, prec = posterior(tree, r, tree.length)
        var_unit = s2
    else:
        if sigma2 is None:

            sigma2 = ml_sigma2_me(tree, y, tv)
        s2 = float(sigma2)
        L = tree.length * s2
        r = prune(tree, y, L, tv)
        mean, prec = posterior(tree, r, L)
        var_unit = 1.0
    obs = np.isfinite(y)
    if targets is None:
        ids = tree.tips[~obs[tree.tips]]
    else:
        ids = tree.tip_ids(targets)
    return Imputation([tree.names[i] for i in ids.tolist()], mean[ids, 0], var_unit / prec[ids], s2,
                      float(r.m_root[0]))
