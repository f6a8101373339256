"""Blomberg's K and Pagel's lambda against phytools::phylosig and nlme::gls (mammal, anole)."""

from __future__ import annotations

import numpy as np
import pytest

from kg.comparative.signal import blomberg_k, lambda_loglik, pagel_lambda
from kg.comparative.tree import NotUltrametric, PhyloTree
from kg.core.errors import ValidationError

from .conftest import close, column, tree


@pytest.mark.parametrize("name,col", [("mammal", "x"), ("anole", "SVL")])
def test_blomberg_k(expected, name, col):
    assert close(blomberg_k(tree(name), column(name, col)).K, expected[name]["K"], 1e-10)


def test_k_permutation_p_value_is_reproducible_and_small_for_strong_signal():
    t, x = tree("mammal"), column("mammal", "x")
    a, b = blomberg_k(t, x, nsim=500, seed=1), blomberg_k(t, x, nsim=500, seed=1)
    assert a.p_value == b.p_value and 1 / 500 <= a.p_value <= 0.01  # phylosig: P = 0.001 with nsim=1000
    # a trait that ignores the tree: p is not small
    rng = np.random.default_rng(3)
    noise = dict(zip(x, rng.normal(size=len(x))))
    assert blomberg_k(t, noise, nsim=200, seed=2).p_value > 0.01


def test_k_with_standard_errors(expected):
    t, x, se, e = tree("mammal"), column("mammal", "x"), column("mammal", "se"), expected["mammal"]["K_se"]
    # K at phylosig's fitted rate is the same number; our own rate fit is tighter than optimize()'s
    assert close(blomberg_k(t, x, se, sigma2=e["sig2"]).K, e["K"], 1e-10)
    r = blomberg_k(t, x, se)
    assert r.loglik >= e["logL"] - 1e-9 and close(r.loglik, e["logL"], 1e-6)
    assert close(r.sigma2, e["sig2"], 1e-4) and close(r.K, e["K"], 1e-4)


@pytest.mark.parametrize("name,col", [("mammal", "x"), ("anole", "SVL")])
def test_pagel_lambda(expected, name, col):
    t, x, e = tree(name), column(name, col), expected[name]["lambda"]
    r = pagel_lambda(t, x)
    assert close(r.lam, e["lambda"], 1e-6)
    # at least R's optimum, and the same to 1e-10 (anole: lambda = 1 exactly, the bound, which
    # optimize() approaches to 6e-7 without evaluating it)
    assert r.loglik >= e["logL"] - 1e-10 and close(r.loglik, e["logL"], 1e-6 if r.lam == 1.0 else 1e-10)
    if name == "mammal":
        assert close(r.loglik0, e["phylosig"]["logL0"], 1e-10)
        assert close(r.p_value, e["phylosig"]["P"], 1e-4)  # phylosig's LRT at its (optimize-precision) lambda
        for lam, ll in zip(e["lik_at"]["lambda"], e["lik_at"]["logL"]):
            assert close(lambda_loglik(t, x, lam), ll, 1e-10)
    else:
        assert close(r.loglik0, e["logL0"], 1e-10)


def test_pagel_lambda_with_standard_errors(expected):
    t, x, se, e = tree("mammal"), column("mammal", "x"), column("mammal", "se"), expected["mammal"]["lambda_se"]
    for lam, s2, ll in zip(e["lik_at"]["lambda"], e["lik_at"]["sig2"], e["lik_at"]["logL"]):
        assert close(lambda_loglik(t, x, lam, se, sigma2=s2), ll, 1e-10)
    r = pagel_lambda(t, x, se)
    assert r.loglik >= e["logL"] - 1e-9 and close(r.loglik, e["logL"], 1e-6)
    assert close(r.lam, e["lambda"], 1e-3)  # phylosig's L-BFGS-B stops early; the likelihood is flat here


def test_dense_peer_agrees_on_a_random_tree():
    from kg.comparative.dense import dense_lambda_loglik

    rng = np.random.default_rng(7)
    t = tree("anole")
    x = dict(zip(t.tip_names, rng.normal(size=t.n_tips)))
    for lam in (0.0, 0.3, 1.0):
        assert close(lambda_loglik(t, x, lam), dense_lambda_loglik(t, x, lam), 1e-9)


def test_signal_bad_input():
    t = PhyloTree.from_newick("((A:1,B:1):1,(C:1,D:1):1);")
    with pytest.raises(ValidationError, match="constant.*undefined"):
        pagel_lambda(t, {"A": 2.0, "B": 2.0, "C": 2.0, "D": 2.0})
    with pytest.raises(ValidationError, match="at least 3"):
        blomberg_k(PhyloTree.from_newick("(A:1,B:1);"), {"A": 1.0, "B": 2.0})
    nu = PhyloTree.from_newick("((A:1,B:2):1,(C:1,D:1):1);")
    with pytest.raises(NotUltrametric, match="ultrametric"):
        pagel_lambda(nu, {"A": 1.0, "B": 2.0, "C": 3.0, "D": 5.0}, upper=1.2)
    with pytest.raises(ValidationError, match="no value"):
        pagel_lambda(t, {"A": 1.0, "B": 2.0, "C": 3.0})
