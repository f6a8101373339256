"""The 11,638-tip fish tree (shared data): parsimony, Mk and lambda at scale agree with their
slow/dense counterparts."""

from __future__ import annotations

import numpy as np
import pytest

from kg.comparative.characters import from_matrix
from kg.comparative.dense import dense_lambda_loglik
from kg.comparative.mk import fit_mk, make_q, prune_mk, rate_index
from kg.comparative.parsimony import fitch, sankoff
from kg.comparative.signal import lambda_loglik, pagel_lambda
from kg.comparative.tree import PhyloTree
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick

from .conftest import close

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fish(shared):
    ix = TreeIndex.from_parsed(parse_newick((shared / "fishtree" / "actinopt_12k_treePL.tre").read_text()))
    return ix, PhyloTree.from_index(ix)


def test_fitch_packed_equals_sankoff_and_hartigan_path(fish):
    ix, t = fish
    rng = np.random.default_rng(1)
    M = rng.integers(-1, 2, size=(t.n_tips, 70))
    ch = from_matrix(t, M, t.tip_names, k=2)
    f = fitch(t, ch)
    assert (f.score == sankoff(t, ch).score).all()
    # the same characters with a unary root above (not bifurcating: the general path)
    t2 = PhyloTree(np.r_[-1, t.parent + 1], np.r_[0.0, 1.0, t.length[1:]], [""] + t.names)
    ch2 = from_matrix(t2, M, t2.tip_names, k=2)
    assert (fitch(t2, ch2).score == f.score).all()


def test_mk_er_on_fish_tree(fish):
    ix, t = fish
    rng = np.random.default_rng(2)
    s = np.zeros(t.n_nodes, dtype=np.int64)  # simulated: symmetric 2-state Mk, rate 0.01 per Myr
    for lv in reversed(t.levels):
        c = lv.kids
        s[c] = s[t.parent[c]] ^ (rng.random(len(c)) < 0.5 * (1 - np.exp(-0.02 * t.length[c])))
    ch = from_matrix(t, s[t.tips][:, None], t.tip_names, k=2)
    fit = fit_mk(t, ch, "ER")
    assert fit.marginal.shape == (t.n_nodes - t.n_tips, 2) and np.allclose(fit.marginal.sum(axis=1), 1)
    assert 0.005 < fit.rates[0] < 0.02
    for f in (0.9, 1.1):
        Q = make_q(fit.rates * f, rate_index(2, "ER"))
        assert prune_mk(t, ch.tip_likelihoods(t), Q, np.array([0.5, 0.5])).loglik < fit.loglik


def test_lambda_linear_equals_dense_on_real_subtree(fish):
    ix, _ = fish
    rng = np.random.default_rng(3)
    t = PhyloTree.from_index(ix, np.sort(rng.choice(ix.tips, 300, replace=False)))
    x = dict(zip(t.tip_names, rng.normal(size=t.n_tips)))
    for lam in (0.0, 0.5, 1.0):
        assert close(lambda_loglik(t, x, lam), dense_lambda_loglik(t, x, lam), 1e-9)
    r = pagel_lambda(t, x)
    assert 0 <= r.lam <= r.max_lambda
