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
