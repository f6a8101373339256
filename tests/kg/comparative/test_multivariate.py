"""Multivariate BM imputation: likelihood and predictions against dense Kronecker-covariance
formulas, the univariate case against the univariate code (itself checked against R), and the ML
rate matrix against its closed form on complete data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kg.comparative.continuous import bm_loglik, impute, tip_vector
from kg.comparative.dense import vcv
from kg.comparative.multivariate import fit_r, impute_mv, mv_loglik
from kg.core.errors import ValidationError

from .conftest import close, column, tree


def _data(seed=4, p=3, frac=0.25):
    t = tree("mammal")
    rng = np.random.default_rng(seed)
    C, names = vcv(t)
    A = rng.normal(size=(p, p))
    R = A @ A.T / p + 0.1 * np.eye(p)
    Y = np.linalg.cholesky(np.kron(R, C)) @ rng.normal(size=p * len(names))
    Y = Y.reshape(p, len(names)).T + np.arange(p)
    M = rng.random(Y.shape) < frac
    M[0] = False  # keep every trait observed somewhere
    Yn = np.where(M, np.nan, Y)
    return t, C, names, R, Yn


def _dense(C, R, Y):
    """Observed-entry log-likelihood with GLS root and the BLUP (flat root prior) of missing entries."""
    n, p = Y.shape
    V = np.kron(R, C)
    y = Y.T.ravel()
    X = np.kron(np.eye(p), np.ones((n, 1)))
    o = np.isfinite(y)
    m = ~o
    Voi = np.linalg.inv(V[np.ix_(o, o)])
    Xo = X[o]
    G = Xo.T @ Voi @ Xo
    mu = np.linalg.solve(G, Xo.T @ Voi @ y[o])
    r = y[o] - Xo @ mu
    ll = -0.5 * (o.sum() * math.log(2 * math.pi) + np.linalg.slogdet(V[np.ix_(o, o)])[1] + r @ Voi @ r)
    W = V[np.ix_(m, o)] @ Voi
    pred = X[m] @ mu + W @ r
    D = X[m] - W @ Xo
    cov = V[np.ix_(m, m)] - W @ V[np.ix_(o, m)] + D @ np.linalg.solve(G, D.T)
    return ll, mu, pred, cov, np.flatnonzero(m)


def test_loglik_and_imputation_match_dense():
    t, C, names, R, Y = _data()
    vals = {nm: Y[i].tolist() for i, nm in enumerate(names)}
    ll, mu = mv_loglik(t, vals, R)
    dll, dmu, pred, cov, midx = _dense(C, R, Y)
    assert close(ll, dll, 1e-9) and close(mu, dmu, 1e-8)
    r = impute_mv(t, vals, R=R)
    n = len(names)
    # the dense order is trait-major: entry j*n + i is trait j of tip i
    got_mean, got_var = {}, {}
    for tx, miss, mean, var in zip(r.taxa, r.traits_missing, r.mean, r.var):
        i = names.index(tx)
        for a, j in enumerate(miss):
            got_mean[j * n + i] = mean[a]
            got_var[j * n + i] = var[a, a]
    assert sorted(got_mean) == midx.tolist()
    assert close([got_mean[k] for k in midx], pred, 1e-8)
    assert close([got_var[k] for k in midx], np.diag(cov), 1e-8)


def test_univariate_case_equals_univariate_code(expected):
    t = tree("mammal")
    x = column("mammal", "x")
    for h in expected["mammal"]["impute"]["hidden"]:
        x[h] = float("nan")
    s2 = expected["mammal"]["impute"]["sigma2"]
    uni = impute(t, x, sigma2=s2)
    mv = impute_mv(t, {k: [v] for k, v in x.items()}, R=np.array([[s2]]))
    assert mv.taxa == uni.taxa
    assert close([m[0] for m in mv.mean], uni.mean, 1e-9) and close([v[0, 0] for v in mv.var], uni.var, 1e-9)
    y, _ = tip_vector(t, x)
    assert close(mv.loglik, bm_loglik(t, y, sigma2=s2)[0], 1e-10)


def test_ml_rate_matrix_complete_data_closed_form():
    t, C, names, R, Y = _data(frac=0.0)
    from kg.comparative.pruning import prune

    Yn = np.full((t.n_nodes, Y.shape[1]), np.nan)
    Yn[t.tip_ids(names)] = Y
    Rhat, ll = fit_r(t, Yn)
    # complete data: R_ML = sum of contrast outer products / n; the optimiser starts there and stays
    pr = prune(t, Yn, t.length)
    assert close(Rhat, pr.quad / pr.n, 1e-5)
    vals = {nm: Y[i].tolist() for i, nm in enumerate(names)}
    assert ll >= mv_loglik(t, vals, pr.quad / pr.n)[0] - 1e-9


def test_ml_fit_with_missing_beats_truth_and_start():
    t, C, names, R, Y = _data(seed=9, p=2, frac=0.3)
    vals = {nm: Y[i].tolist() for i, nm in enumerate(names)}
    r = impute_mv(t, vals)
    assert r.loglik >= mv_loglik(t, vals, R)[0] - 1e-9
    assert np.all(np.linalg.eigvalsh(r.R) > 0)


def test_multivariate_bad_input():
    t = tree("mammal")
    vals = {nm: [1.0, float("nan")] for nm in t.tip_names}
    with pytest.raises(ValidationError, match="at least 2 observed"):
        impute_mv(t, vals)
