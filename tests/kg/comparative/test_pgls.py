"""PGLS against nlme::gls with corBrownian / corPagel (mammal home range ~ body mass)."""

from __future__ import annotations

import pytest

from kg.comparative.pgls import pgls
from kg.core.errors import ValidationError

from .conftest import close, column, tree

CASES = [("bm", {}), ("bm_reml", {"method": "REML"}), ("lambda07", {"model": "lambda", "lam": 0.7})]


@pytest.mark.parametrize("key,kw", CASES)
def test_pgls_matches_gls(expected, key, kw):
    t, e = tree("mammal"), expected["mammal"]["pgls"][key]
    f = pgls(t, column("mammal", "y"), {"x": column("mammal", "x")}, **kw)
    assert f.names == ["(Intercept)", "x"]
    assert close(f.coef, e["coef"], 1e-9) and close(f.se, e["se"], 1e-9) and close(f.loglik, e["logLik"], 1e-10)
    height = float(t.heights[t.tips].max())  # nlme's sigma is on the correlation scale
    assert close(f.sigma * height ** 0.5, e["sigma"], 1e-9)


def test_pgls_lambda_ml(expected):
    t, P = tree("mammal"), expected["mammal"]["pgls"]
    y, x = column("mammal", "y"), {"x": column("mammal", "x")}
    fixed = pgls(t, y, x, model="lambda", lam=P["lambda_fixed"]["lambda"])
    assert close(fixed.coef, P["lambda_fixed"]["coef"], 1e-9) and close(fixed.se, P["lambda_fixed"]["se"], 1e-9)
    free = pgls(t, y, x, model="lambda")
    assert free.loglik >= P["lambda"]["logLik"] - 1e-10 and close(free.loglik, P["lambda"]["logLik"], 1e-9)
    assert close(free.lam, P["lambda"]["lambda"], 1e-6) and close(free.coef, P["lambda"]["coef"], 1e-6)


def test_pgls_anole(expected):
    t, e = tree("anole"), expected["anole"]["pgls_bm"]
    f = pgls(t, column("anole", "TL"), {"SVL": column("anole", "SVL")})
    assert close(f.coef, e["coef"], 1e-6) and close(f.se, e["se"], 1e-6) and close(f.loglik, e["logLik"], 1e-6)


def test_pgls_bad_input():
    t = tree("mammal")
    x = column("mammal", "x")
    with pytest.raises(ValidationError, match="singular"):
        pgls(t, column("mammal", "y"), {"c": {k: 1.0 for k in x}})
    with pytest.raises(ValidationError, match="unknown model"):
        pgls(t, column("mammal", "y"), {"x": x}, model="OU")


# ------------------------------------------------------------------ covariance vs correlation
# Besides R's numbers on a non-ultrametric tree (at the end of this file), an independent check on
# another stretched tree: the GLS closed form with dense numpy matrices, built from the tree apart
# from the pruning pass (C_ij = root-to-MRCA path length by walking ancestors):
#   covariance:  V = C                                         (phylolm / caper)
#   correlation: V = R = D^-1/2 C D^-1/2, D = diag(C)           (nlme's corBrownian: vcv(corr=TRUE))
#   lambda:      V = off-diagonals of C (or R) times lambda     (corPagel with corr=TRUE for R)
# beta = (X'V^-1X)^-1 X'V^-1y; ML logLik = -n/2 log(2 pi s2) - 1/2 log|V| - n/2 with s2 = RSS/n;
# REML (nlme's logLik) = -(n-p)/2 log(2 pi s2) - 1/2 log|V| - (n-p)/2 - 1/2 log|X'V^-1X|, s2 = RSS/(n-p);
# se = sqrt(diag((X'V^-1X)^-1) RSS/(n-p)). On the ultrametric mammal tree both modes must give R's
# gls numbers, the correlation mode's sigma without any rescaling.

def _non_ultrametric():
    import numpy as np

    from kg.comparative.tree import PhyloTree

    t = tree("mammal")
    length = t.length.copy()
    rng = np.random.default_rng(29)
    length[t.tips] *= rng.uniform(0.3, 1.7, len(t.tips))  # tips at heights 21..119 instead of 70
    return PhyloTree(t.parent, length, t.names)


def _dense_gls(t, y, x, *, vcv, lam=None, method="ML"):
    import numpy as np

    tips = t.tips.tolist()
    anc = []
    for i in tips:
        path, v = {}, i
        while v >= 0:
            path[v] = None
            v = int(t.parent[v])
        anc.append(path)
    height = {}
    for path in anc:  # root-to-node path lengths, walking down each tip's ancestor list
        acc = 0.0
        for v in reversed(list(path)):
            acc += float(t.length[v]) if v != 0 else 0.0
            height[v] = acc
    n = len(tips)
    C = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            common = [v for v in anc[a] if v in anc[b]]
            C[a, b] = height[common[0]]  # the deepest common ancestor comes first on the tip's path
    V = C / np.sqrt(np.outer(np.diag(C), np.diag(C))) if vcv == "correlation" else C.copy()
    if lam is not None:
        d = np.diag(V).copy()
        V *= lam
        V[np.diag_indices(n)] = d
    names = [t.names[i] for i in tips]
    X = np.column_stack([np.ones(n), [x[k] for k in names]])
    Y = np.asarray([y[k] for k in names])
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ Y)
    r = Y - X @ beta
    rss = float(r @ Vi @ r)
    p = X.shape[1]
    logdet = np.linalg.slogdet(V)[1]
    if method == "ML":
        s2 = rss / n
        ll = -0.5 * (n * np.log(2 * np.pi * s2) + logdet + n)
    else:
        s2 = rss / (n - p)
        ll = -0.5 * ((n - p) * np.log(2 * np.pi * s2) + logdet + (n - p) + np.linalg.slogdet(A)[1])
    se = np.sqrt(np.diag(np.linalg.inv(A)) * rss / (n - p))
    return beta, se, ll, np.sqrt(s2)


@pytest.mark.parametrize("vcv", ["covariance", "correlation"])
@pytest.mark.parametrize("kw", [{}, {"method": "REML"}, {"model": "lambda", "lam": 0.7},
                                {"model": "lambda", "lam": 0.4, "method": "REML"}])
def test_pgls_vcv_non_ultrametric(vcv, kw):
    t = _non_ultrametric()
    assert not t.is_ultrametric(1e-3)
    y, x = column("mammal", "y"), column("mammal", "x")
    f = pgls(t, y, {"x": x}, vcv=vcv, **kw)
    beta, se, ll, sigma = _dense_gls(t, y, x, vcv=vcv, lam=kw.get("lam"), method=kw.get("method", "ML"))
    assert close(f.coef, beta, 1e-9) and close(f.se, se, 1e-9) and close(f.loglik, ll, 1e-10)
    assert close(f.sigma, sigma, 1e-9)
    assert f.to_dict()["vcv"] == vcv


def test_pgls_vcv_modes_differ_off_ultrametric():
    t = _non_ultrametric()
    y, x = column("mammal", "y"), {"x": column("mammal", "x")}
    cov, cor = pgls(t, y, x), pgls(t, y, x, vcv="correlation")
    assert not close(cov.coef, cor.coef, 1e-3) and not close(cov.loglik, cor.loglik, 1e-3)


def test_pgls_vcv_lambda_ml_non_ultrametric():
    import numpy as np
    from scipy import optimize

    t = _non_ultrametric()
    y, x = column("mammal", "y"), column("mammal", "x")
    for vcv in ("covariance", "correlation"):
        free = pgls(t, y, {"x": x}, model="lambda", vcv=vcv)
        best = optimize.minimize_scalar(lambda v, m=vcv: -_dense_gls(t, y, x, vcv=m, lam=v)[2], bounds=(0, 1),
                                        method="bounded", options={"xatol": 1e-10})
        grid = max(_dense_gls(t, y, x, vcv=vcv, lam=v)[2] for v in np.linspace(0, 1, 101))
        assert free.loglik >= max(-best.fun, grid) - 1e-8
        assert close(free.lam, best.x, 1e-4, 1e-6)


@pytest.mark.parametrize("key,kw", CASES)
def test_pgls_correlation_matches_gls_sigma(expected, key, kw):
    """nlme's own scale: on the ultrametric tree the correlation mode gives R's sigma as is."""
    t, e = tree("mammal"), expected["mammal"]["pgls"][key]
    f = pgls(t, column("mammal", "y"), {"x": column("mammal", "x")}, vcv="correlation", **kw)
    assert close(f.coef, e["coef"], 1e-9) and close(f.se, e["se"], 1e-9) and close(f.loglik, e["logLik"], 1e-10)
    assert close(f.sigma, e["sigma"], 1e-9)


def test_pgls_bad_vcv():
    with pytest.raises(ValidationError, match="unknown vcv"):
        pgls(tree("mammal"), column("mammal", "y"), {"x": column("mammal", "x")}, vcv="corr")


# ------------------------------------------------------------------ R on a non-ultrametric tree
# nlme::gls on the mammal tree with its tip branches stretched (make_expected_nonultrametric.R):
# corBrownian / corPagel for the correlation mode, the same with weights = varFixed(~height) for the
# covariance mode (V = sigma^2 C).
NONULTRA_CASES = [("bm", {}), ("bm_reml", {"method": "REML"}), ("lambda07", {"model": "lambda", "lam": 0.7}),
                  ("lambda04_reml", {"model": "lambda", "lam": 0.4, "method": "REML"})]


@pytest.fixture(scope="module")
def r_nonultrametric() -> dict:
    import json

    from .conftest import DATA

    return json.loads((DATA / "expected_nonultrametric.json").read_text())


@pytest.mark.parametrize("vcv", ["covariance", "correlation"])
@pytest.mark.parametrize("key,kw", NONULTRA_CASES)
def test_pgls_non_ultrametric_matches_nlme(r_nonultrametric, vcv, key, kw):
    t, e = tree("mammal_nonultrametric"), r_nonultrametric[vcv][key]
    assert not t.is_ultrametric(1e-3)
    f = pgls(t, column("mammal", "y"), {"x": column("mammal", "x")}, vcv=vcv, **kw)
    assert close(f.coef, e["coef"], 1e-9) and close(f.se, e["se"], 1e-9) and close(f.loglik, e["logLik"], 1e-10)
    assert close(f.sigma, e["sigma"], 1e-9)


@pytest.mark.parametrize("vcv", ["covariance", "correlation"])
def test_pgls_non_ultrametric_lambda_ml_matches_nlme(r_nonultrametric, vcv):
    t, e = tree("mammal_nonultrametric"), r_nonultrametric[vcv]["lambda"]
    free = pgls(t, column("mammal", "y"), {"x": column("mammal", "x")}, model="lambda", vcv=vcv)
    assert free.loglik >= e["logLik"] - 1e-10 and close(free.loglik, e["logLik"], 1e-9)
    assert close(free.lam, e["lambda"], 1e-5) and close(free.coef, e["coef"], 1e-5)
