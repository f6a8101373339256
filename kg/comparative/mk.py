"""Mk models of discrete-character evolution (ER, SYM, ARD) by maximum likelihood, with marginal
(empirical Bayes, flat-root posterior as ape's ``ace``) and joint (Pupko et al.) ancestral states.

Felsenstein pruning one tree level at a time: transition matrices of all branches of a level come
from one eigendecomposition of ``Q``; partial likelihoods stay normalised with log scale factors.
The log-likelihood uses root prior ``pi`` (default equal, phytools' ``fitMk``); ape's ``ace``
reports ``log sum_x L(x)``, i.e. ours plus ``log k``.

>>> from kg.comparative.tree import PhyloTree
>>> from kg.comparative.characters import encode
>>> t = PhyloTree.from_newick("((A:1,B:1):1,(C:1,D:1):1);")
>>> fit = fit_mk(t, encode(t, {"A": "0", "B": "0", "C": "1", "D": "1"}), "ER")
>>> round(fit.loglik, 6), fit.marginal.shape
(-2.484907, (3, 2))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg, optimize

from kg.comparative.characters import Characters
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError

MODELS = ("ER", "SYM", "ARD")
_TINY = 1e-300


def rate_index(k: int, model: str) -> np.ndarray:
    """``k x k`` integer matrix: which free rate each off-diagonal entry uses (-1 on the diagonal)."""
    idx = np.full((k, k), -1, dtype=np.int64)
    if model == "ER":
        idx[~np.eye(k, dtype=bool)] = 0
    elif model == "SYM":
        r = 0
        for i in range(k):
            for j in range(i + 1, k):
                idx[i, j] = idx[j, i] = r
                r += 1
    elif model == "ARD":
        r = 0
        for i in range(k):
            for j in range(k):
                if i != j:
                    idx[i, j] = r
                    r += 1
    else:
        raise ValidationError(f"unknown Mk model {model!r}; choose one of {', '.join(MODELS)}")
    return idx


def make_q(rates: np.ndarray, index: np.ndarray) -> np.ndarray:
    Q = np.where(index >= 0, np.asarray(rates, dtype=np.float64)[np.maximum(index, 0)], 0.0)
    np.fill_diagonal(Q, 0.0)
    np.fill_diagonal(Q, -Q.sum(axis=1))
    return Q


class _Expm:
    """``exp(Q t)`` for many ``t`` at once from one eigendecomposition (``expm`` per branch if
    ``Q`` is defective or badly conditioned)."""

    def __init__(self, Q: np.ndarray) -> None:
        self.Q = Q
        w, V = np.linalg.eig(Q)
        self.ok = bool(np.isfinite(V).all())
        if self.ok:
            try:
                Vi = np.linalg.inv(V)
            except np.linalg.LinAlgError:
                Vi = None
            self.ok = Vi is not None and float(np.abs(V @ Vi - np.eye(len(Q))).max()) < 1e-10
        if self.ok:
            self.w, self.V, self.Vi = w, V, Vi
            self.real = bool(np.abs(w.imag).max() == 0 and np.abs(V.imag).max() == 0)
            if self.real:
                self.w, self.V, self.Vi = w.real, V.real, self.Vi.real

    def __call__(self, t: np.ndarray) -> np.ndarray:
        if not self.ok:
            return np.stack([linalg.expm(self.Q * x) for x in t.tolist()])
        E = np.exp(self.w[None, :] * t[:, None])
        P = np.einsum("ij,bj,jk->bik", self.V, E, self.Vi)
        P = P.real if not self.real else P
        return np.clip(P, 0.0, 1.0)


@dataclass
class Pruning:
    loglik: float
    logacc: np.ndarray  # (n_nodes, k) log of prod over children of P_c L_c (tips: log indicator)
    logc: np.ndarray  # (n_nodes, k) log of P_c L_c: node's contribution to its parent
    P: np.ndarray  # (n_nodes, k, k) transition matrices of the branches above each node


def prune_mk(tree: PhyloTree, tipL: np.ndarray, Q: np.ndarray, pi: np.ndarray) -> Pruning:
    n, k = tipL.shape
    with np.errstate(divide="ignore"):
        logacc = np.where(tree.is_tip[:, None], np.log(tipL), 0.0)
    logc = np.zeros((n, k))
    P = _Expm(Q)(tree.length)
    for lv in tree.levels:
        c = lv.kids
        Pc = P[c]
        la = logacc[c]
        mx = la.max(axis=1, keepdims=True)
        if not np.isfinite(mx).all():
            raise ValidationError("a subtree has probability 0 under this model (no state fits its tips)")
        lc = np.log(np.maximum(np.einsum("bij,bj->bi", Pc, np.exp(la - mx)), _TINY)) + mx
        logc[c] = lc
        acc = np.zeros((len(lv.nodes), k))
        for s in range(k):
            acc[:, s] = np.bincount(lv.slot, lc[:, s], minlength=len(lv.nodes))
        logacc[lv.nodes] = acc
    r = logacc[0]
    mx = float(r.max())
    ll = mx + math.log(float(np.dot(pi, np.exp(r - mx))))
    return Pruning(ll, logacc, logc, P)


def marginal_states(tree: PhyloTree, pr: Pruning, pi: np.ndarray) -> np.ndarray:
    """(n_nodes, k) posterior probability of each state at every node."""
    n, k = pr.logacc.shape
    with np.errstate(divide="ignore"):
        logD = np.zeros((n, k))
        logD[0] = np.log(pi)
    for lv in reversed(tree.levels):
        c = lv.kids
        par = lv.nodes[lv.slot]
        out = logD[par] + pr.logacc[par] - pr.logc[c]
        mx = out.max(axis=1, keepdims=True)
        outside = np.einsum("bi,bij->bj", np.exp(out - mx), pr.P[c])
        logD[c] = np.log(np.maximum(outside, _TINY)) + mx
    post = logD + pr.logacc
    post -= post.max(axis=1, keepdims=True)
    post = np.exp(post)
    return post / post.sum(axis=1, keepdims=True)


def joint_states(tree: PhyloTree, tipL: np.ndarray, Q: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, float]:
    """The single most likely assignment of states to the internal nodes (Pupko et al. 2000) and
    its log-probability jointly with the tip data (uncertain tips summed over their states)."""
    n, k = tipL.shape
    with np.errstate(divide="ignore"):
        S = np.where(tree.is_tip[:, None], np.log(tipL), 0.0)
        logP = np.log(np.clip(_Expm(Q)(tree.length), 0.0, None))
    arg = np.zeros((n, k), dtype=np.int64)
    for lv in tree.levels:
        c = lv.kids
        cand = logP[c] + S[c][:, None, :]  # parent state i, child state j
        arg[c] = cand.argmax(axis=2)
        best = cand.max(axis=2)
        tip = tree.is_tip[c]
        if tip.any():  # a tip is data, not a node to reconstruct: sum over the states it allows
            with np.errstate(divide="ignore"):
                best[tip] = np.log(np.einsum("bij,bj->bi", np.exp(logP[c[tip]]), tipL[c[tip]]))
        acc = np.zeros((len(lv.nodes), k))
        for s in range(k):
            acc[:, s] = np.bincount(lv.slot, best[:, s], minlength=len(lv.nodes))
        S[lv.nodes] = acc
    with np.errstate(divide="ignore"):
        root = np.log(pi) + S[0]
    state = np.zeros(n, dtype=np.int64)
    state[0] = int(root.argmax())
    for lv in reversed(tree.levels):
        c = lv.kids
        state[c] = arg[c, state[lv.nodes[lv.slot]]]
    return state, float(root.max())


@dataclass
class MkFit:
    model: str
    states: list[str]
    Q: np.ndarray
    rates: np.ndarray
    loglik: float
    marginal: np.ndarray  # (n_internal, k) posterior at internal nodes
    nodes: np.ndarray
    joint: np.ndarray  # (n_internal,) state index of the joint reconstruction
    pi: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def aic(self) -> float:
        return 2 * len(self.rates) - 2 * self.loglik

    def to_dict(self, tree: PhyloTree) -> dict[str, Any]:
        return {"method": f"mk-{self.model.lower()}", "states": self.states, "loglik": self.loglik, "aic": self.aic,
                "Q": self.Q.tolist(), "rates": self.rates.tolist(),
                "nodes": [{"node": int(v), "label": tree.label(int(v)),
                           "marginal": dict(zip(self.states, map(float, m))), "joint": self.states[int(j)]}
                          for v, m, j in zip(self.nodes, self.marginal, self.joint)]}


def mk_loglik(tree: PhyloTree, chars: Characters, Q: np.ndarray, pi: np.ndarray | None = None, j: int = 0) -> float:
    """Log-likelihood of character ``j`` at a given rate matrix."""
    k = chars.k
    p = np.full(k, 1.0 / k) if pi is None else np.asarray(pi, dtype=np.float64)
    return prune_mk(tree, chars.tip_likelihoods(tree, j), np.asarray(Q, dtype=np.float64), p).loglik


def fit_mk(tree: PhyloTree, chars: Characters, model: str = "ER", *, j: int = 0, Q: np.ndarray | None = None,
           pi: np.ndarray | None = None) -> MkFit:
    """Fit an Mk model to character ``j`` by ML (or take ``Q`` as given) and reconstruct states."""
    tree.check_lengths()
    k = chars.k
    if k < 2:
        raise ValidationError(f"an Mk model needs at least 2 states, the character has {chars.states}")
    index = rate_index(k, model)
    nr = int(index.max()) + 1
    p = np.full(k, 1.0 / k) if pi is None else np.asarray(pi, dtype=np.float64) / float(np.sum(pi))
    L = chars.tip_likelihoods(tree, j)
    if Q is None:
        rates = _optimise(tree, L, index, nr, p)
        Qm = make_q(rates, index)
    else:
        Qm = np.asarray(Q, dtype=np.float64)
        rates = np.array([Qm[index == r][0] for r in range(nr)])
    pr = prune_mk(tree, L, Qm, p)
    post = marginal_states(tree, pr, p)
    joint, _ = joint_states(tree, L, Qm, p)
    nodes = np.flatnonzero(~tree.is_tip)
    return MkFit(model, chars.states, Qm, rates, pr.loglik, post[nodes], nodes, joint[nodes], p)


def _bounds(tree: PhyloTree) -> tuple[float, float, float]:
    total = float(tree.length[1:].sum())
    if total <= 0:
        raise ValidationError("the tree has no branch length to fit rates on")
    # a parsimony-like start: changes per unit of tree length; the search spans e^-25..e^12 of it
    base = math.log(max(1.0, 0.5 * len(tree.tips) ** 0.5) / total)
    return base, base - 25.0, base + 12.0


def _nll(tree: PhyloTree, L: np.ndarray, index: np.ndarray, pi: np.ndarray, rates: np.ndarray) -> float:
    try:
        return -prune_mk(tree, L, make_q(rates, index), pi).loglik
    except ValidationError:
        return math.inf


def _one_rate(tree: PhyloTree, L: np.ndarray, index: np.ndarray, pi: np.ndarray) -> float:
    """ML of a single shared rate: a grid over log rates, then a bracketed scalar search."""
    _, lo, hi = _bounds(tree)
    one = np.where(index >= 0, 0, -1)
    grid = np.linspace(lo, hi, 38)
    vals = [_nll(tree, L, one, pi, np.exp([g])) for g in grid]
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(lambda z: _nll(tree, L, one, pi, np.exp([z])), bounds=(a, b), method="bounded",
                                   options={"xatol": 1e-10})
    return float(math.exp(res.x))


def _optimise(tree: PhyloTree, L: np.ndarray, index: np.ndarray, nr: int, pi: np.ndarray) -> np.ndarray:
    if nr == 1:
        return np.array([_one_rate(tree, L, index, pi)])
    base, lo, hi = _bounds(tree)

    def nll(z: np.ndarray) -> float:
        return _nll(tree, L, index, pi, np.exp(z))

    # start from the ER estimate (one rate everywhere), then search in log and in raw rate space
    er = _one_rate(tree, L, index, pi)
    zmax = math.exp(hi)

    def nll_raw(q: np.ndarray) -> float:
        return _nll(tree, L, index, pi, np.maximum(q, 0.0))

    cands = []
    for start in (er, 0.5 * er, 2.0 * er):
        if start == er:
            r = optimize.minimize(nll_raw, np.full(nr, start), method="L-BFGS-B", bounds=[(0.0, zmax)] * nr,
                                  options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
            cands.append((float(r.fun), np.maximum(r.x, 0.0)))
        z0 = np.full(nr, math.log(start))
        r = optimize.minimize(nll, z0, method="L-BFGS-B", bounds=[(lo, hi)] * nr,
                              options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
        cands.append((float(r.fun), np.exp(r.x)))
    fun, q = min(cands, key=lambda c: c[0])
    # polish: rates that ran to the lower edge are zero; the rest refined in log space
    zero = q < math.exp(lo + 1.0)
    q = np.where(zero, 0.0, q)
    free = np.flatnonzero(~zero)
    if free.size:
        def sub(z: np.ndarray) -> float:
            qq = q.copy()
            qq[free] = np.exp(z)
            return nll_raw(qq)
        r = optimize.minimize(sub, np.log(q[free]), method="Nelder-Mead",
                              options={"xatol": 1e-9, "fatol": 1e-12, "maxfev": 300 * free.size})
        if r.fun <= min(fun, nll_raw(q)):
            q[free] = np.exp(r.x)
    return q
