"""Phylogenetic generalised least squares under Brownian motion or Pagel's lambda, in linear
time: the Gram matrix ``[X y]' V^-1 [X y]`` and ``log det V`` come from one pruning pass with
all columns at once (Ho & Ané's three-point structure).

Two error structures, chosen with ``vcv`` (they are the same model on an ultrametric tree and
differ on any other):

- ``"covariance"`` (default): ``V = C``, the tree's covariance (shared root-to-MRCA path
  lengths; phylolm, caper and phytools' BM). Tips far from the root get more variance.
- ``"correlation"``: ``V = D^-1/2 C D^-1/2`` with ``D = diag(C)``, the tip-correlation matrix
  that nlme's ``gls`` uses through ape's ``corBrownian``/``corPagel`` (``vcv(phy, corr=TRUE)``;
  for lambda its off-diagonals times lambda): every tip has the same variance. It is fitted in the
  same linear pass by scaling each tip's row by ``sqrt(C_ii)`` (``V^-1 = D^1/2 C^-1 D^1/2``) and
  ``log det V = log det C - sum log C_ii``; ``sigma`` is then nlme's.

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A:1,B:1):1,(C:1,D:1):1);")
>>> fit = pgls(t, {"A": 1.0, "B": 2.0, "C": 3.5, "D": 4.0}, {"x": {"A": 0.0, "B": 1.0, "C": 2.0, "D": 3.0}})
>>> [round(c, 6) for c in fit.coef.tolist()]
[1.178571, 0.964286]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from kg.comparative.continuous import tip_vector
from kg.comparative.pruning import prune
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError


@dataclass
class PGLSResult:
    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    loglik: float
    sigma: float
    n: int
    method: str
    model: str
    lam: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "pgls", "model": self.model, "estimation": self.method, "lambda": self.lam,
                "vcv": self.extra.get("vcv", "covariance"), "n": self.n, "loglik": self.loglik, "sigma": self.sigma,
                "coefficients": [{"term": t, "estimate": float(c), "se": float(s), "t": float(c / s) if s > 0 else None}
                                 for t, c, s in zip(self.names, self.coef, self.se)]}


VCV = ("covariance", "correlation")


def _fit(tree: PhyloTree, Z: np.ndarray, p: int, lengths: np.ndarray, method: str,
         tip_scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
    if tip_scale is not None:  # correlation: rows times sqrt(C_ii), log det V = log det C - sum log C_ii
        Z = Z.copy()
        Z[tree.tips] *= np.sqrt(tip_scale)[:, None]
    r = prune(tree, Z, lengths)
    if tip_scale is not None:
        r.logdet -= float(np.log(tip_scale).sum())
    G = r.gram()
    n = r.n
    XtX, Xty, yty = G[:p, :p], G[:p, p], G[p, p]
    try:
        beta = np.linalg.solve(XtX, Xty)
        inv = np.linalg.inv(XtX)
    except np.linalg.LinAlgError as exc:
        raise ValidationError("the design matrix is singular on these tips (a predictor is constant or collinear)") from exc
    rss = float(yty - Xty @ beta)
    if rss <= 0:
        raise ValidationError("the response is fitted exactly: the residual variance is 0")
    if method == "ML":
        s2 = rss / n
        ll = -0.5 * (n * math.log(2 * math.pi * s2) + r.logdet + n)
    else:  # REML as nlme's logLik (without the constant 1/2 log det X'X)
        s2 = rss / (n - p)
        ll = -0.5 * ((n - p) * math.log(2 * math.pi * s2) + r.logdet + (n - p) + np.linalg.slogdet(XtX)[1])
    se = np.sqrt(np.diag(inv) * rss / (n - p))  # nlme: sigma^2 with n - p for the SEs in both methods
    return beta, se, ll, math.sqrt(s2)


def pgls(tree: PhyloTree, y: Mapping[str, float], predictors: Mapping[str, Mapping[str, float]], *,
         model: str = "BM", lam: float | None = None, method: str = "ML", intercept: bool = True,
         vcv: str = "covariance") -> PGLSResult:
    """Fit ``y ~ predictors`` under ``model`` ``"BM"`` or ``"lambda"`` (ML lambda in ``[0, 1]``
    unless ``lam`` fixes it). Coefficients with standard errors (``sigma^2 (X'V^-1X)^-1``, sigma
    with ``RSS/(n-p)`` as nlme's ``vcov``) and log-likelihood (ML or REML). ``sigma`` is on the
    scale of the tree's branch lengths (``sqrt(RSS/n)`` for ML, ``sqrt(RSS/(n-p))`` for REML); nlme
    reports it on the correlation scale, i.e. times ``sqrt(tree height)``. ``vcv="correlation"`` fits
    nlme's tip-correlation structure instead (see the module doc); its ``sigma`` is nlme's."""
    if method not in ("ML", "REML"):
        raise ValidationError(f"unknown method {method!r}; choose ML or REML")
    if model not in ("BM", "lambda"):
        raise ValidationError(f"unknown model {model!r}; choose BM or lambda")
    if vcv not in VCV:
        raise ValidationError(f"unknown vcv {vcv!r}; choose covariance (the tree's) or correlation (nlme's)")
    if lam is not None and not 0.0 <= lam <= 1.0:
        raise ValidationError(f"lambda {lam!r}: expected a number in [0, 1]")
    tree.check_lengths()
    yv, _ = tip_vector(tree, y)
    cols = []
    names = []
    if intercept:
        one = np.full(tree.n_nodes, np.nan)
        one[tree.tips] = 1.0
        cols.append(one)
        names.append("(Intercept)")
    for k, vals in predictors.items():
        cols.append(tip_vector(tree, vals)[0])
        names.append(k)
    Z = np.column_stack(cols + [yv])
    obs = np.isfinite(Z[tree.tips]).all(axis=1)
    if not obs.all():
        raise ValidationError(f"{int((~obs).sum())} tips lack the response or a predictor; prune the tree to complete cases")
    p = len(names)
    scale = None
    if vcv == "correlation":
        scale = tree.heights[tree.tips]
        if not (scale > 0).all():
            raise ValidationError("vcv='correlation' needs every tip at a positive distance from the root")
    if tree.n_tips <= p:
        raise ValidationError(f"PGLS needs more tips ({tree.n_tips}) than coefficients ({p})")
    if model == "BM":
        beta, se, ll, sigma = _fit(tree, Z, p, tree.length, method, scale)
        return PGLSResult(names, beta, se, ll, sigma, tree.n_tips, method, model, extra={"vcv": vcv})
    if lam is None:
        def f(v: float) -> float:
            try:
                return -_fit(tree, Z, p, tree.transformed(lam=v), method, scale)[2]
            except ValidationError:
                return math.inf
        res = optimize.minimize_scalar(f, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10})
        lam = min([(float(res.fun), float(res.x)), (f(0.0), 0.0), (f(1.0), 1.0)])[1]
    beta, se, ll, sigma = _fit(tree, Z, p, tree.transformed(lam=lam), method, scale)
    return PGLSResult(names, beta, se, ll, sigma, tree.n_tips, method, model, lam, {"vcv": vcv})
