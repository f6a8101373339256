"""Comparative methods on the 11,638-tip fish tree: Fitch parsimony on 400 binary characters, Mk ER
marginal ancestral states, Pagel's lambda on a 10,000-tip subtree; peers measured in the same run:
a per-node loop (Fitch, one Mk likelihood) and the dense O(n^3) lambda on a 2,000-tip subtree.

Run: ``PYTHONPATH=. .venv/bin/python bench/comparative.py [--repeats 3]``. Figures are medians.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import optimize

from kg.comparative.characters import Characters
from kg.comparative.dense import dense_lambda_loglik
from kg.comparative.mk import fit_mk, make_q, prune_mk, rate_index
from kg.comparative.parsimony import fitch
from kg.comparative.signal import pagel_lambda
from kg.comparative.tree import PhyloTree
from kg.treeindex import TreeIndex
from loaders.newick_grammar import parse_newick

FISH = Path(os.environ.get("TRAITKG_SHARED", "/work/shared/data")) / "fishtree" / "actinopt_12k_treePL.tre"


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def simulate_binary(tree: PhyloTree, n_chars: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """States (n_nodes, n_chars) under symmetric 2-state Mk, root uniform; level by level."""
    s = np.zeros((tree.n_nodes, n_chars), dtype=np.int64)
    s[0] = rng.integers(0, 2, n_chars)
    for lv in reversed(tree.levels):
        c = lv.kids
        flip = rng.random((len(c), n_chars)) < (0.5 * (1 - np.exp(-2 * rate * tree.length[c])))[:, None]
        s[c] = s[tree.parent[c]] ^ flip
    return s


def simulate_bm(tree: PhyloTree, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(tree.n_nodes)
    for lv in reversed(tree.levels):
        c = lv.kids
        x[c] = x[tree.parent[c]] + rng.normal(size=len(c)) * np.sqrt(lengths[c])
    return x


def fitch_loop(tree: PhyloTree, masks: np.ndarray) -> np.ndarray:
    """Peer: Fitch node by node (binary trees), numpy over characters."""
    sets = masks.copy()
    score = np.zeros(masks.shape[1], dtype=np.int64)
    kids: dict[int, list[int]] = {}
    for v in range(1, tree.n_nodes):
        kids.setdefault(int(tree.parent[v]), []).append(v)
    for v in range(tree.n_nodes - 1, -1, -1):
        ch = kids.get(v)
        if not ch:
            continue
        a, b = sets[ch[0]], sets[ch[1]]
        inter = a & b
        empty = inter == 0
        sets[v] = np.where(empty, a | b, inter)
        score += empty
    return score


def mk_loop(tree: PhyloTree, L: np.ndarray, Q: np.ndarray) -> float:
    """Peer: one Mk likelihood by a per-node loop (expm per branch)."""
    from scipy.linalg import expm

    logs = 0.0
    part = np.where(tree.is_tip[:, None], L, 1.0)
    for v in range(tree.n_nodes - 1, 0, -1):
        p = int(tree.parent[v])
        part[p] = part[p] * (expm(Q * tree.length[v]) @ part[v])
        s = part[p].max()
        part[p] /= s
        logs += math.log(s)
    return logs + math.log(part[0].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    R = args.repeats
    rng = np.random.default_rng(16)
    t0 = time.perf_counter()
    parsed = parse_newick(FISH.read_text())
    ix = TreeIndex.from_parsed(parsed)
    tree = PhyloTree.from_index(ix)
    t_build = time.perf_counter() - t0
    print(f"fish tree: {tree.n_tips} tips, {tree.n_nodes} nodes, {len(tree.levels)} levels "
          f"(parse + index + levels {t_build:.2f} s); load average {os.getloadavg()[0]:.2f}")
    rows = []

    # Fitch, 400 binary characters
    states = simulate_binary(tree, 400, 0.01, rng)
    masks = np.zeros((tree.n_nodes, 400), dtype=np.uint64)
    masks[tree.tips] = (np.uint64(1) << states[tree.tips].astype(np.uint64))
    chars = Characters(["0", "1"], masks, [f"c{j}" for j in range(400)])
    tf, fr = median_time(lambda: fitch(tree, chars), R)
    tl, score_loop = median_time(lambda: fitch_loop(tree, masks), 1)
    rows.append(("Fitch, 11,638 tips x 400 binary chars", tf, "per-node loop", tl,
                 f"scores equal: {bool((fr.score == score_loop).all())}, total {fr.total}"))

    # Mk ER marginal ASR, one character
    one = Characters(["0", "1"], masks[:, :1].copy(), ["c0"])
    tm, fit = median_time(lambda: fit_mk(tree, one, "ER"), R)
    Q = make_q(fit.rates, rate_index(2, "ER"))
    L = one.tip_likelihoods(tree)
    tv, llv = median_time(lambda: prune_mk(tree, L, Q, np.array([0.5, 0.5])).loglik, R)
    tpl, llp = median_time(lambda: mk_loop(tree, L, Q), 1)
    rows.append(("Mk ER ML + marginal + joint ASR, 1 char", tm, "-", float("nan"),
                 f"rate {fit.rates[0]:.4g}, logL {fit.loglik:.6f}"))
    rows.append(("  one Mk likelihood (levels)", tv, "per-node loop", tpl, f"|dlogL| {abs(llv - llp):.2e}"))

    # Pagel's lambda, 10,000-tip subtree
    tips = np.sort(rng.choice(ix.tips, 10000, replace=False))
    t10 = PhyloTree.from_index(ix, tips)
    x = simulate_bm(t10, t10.transformed(lam=0.7), rng)
    vals = dict(zip(t10.tip_names, x[t10.tips]))
    tlam, lr = median_time(lambda: pagel_lambda(t10, vals), R)
    rows.append(("Pagel's lambda, 10,000 tips", tlam, "-", float("nan"),
                 f"lambda {lr.lam:.6f} logL {lr.loglik:.4f} (simulated 0.7)"))

    # the dense O(n^3) peer on a 2,000-tip subtree of it
    sub = np.sort(rng.choice(ix.tips, 2000, replace=False))
    t2 = PhyloTree.from_index(ix, sub)
    x2 = simulate_bm(t2, t2.transformed(lam=0.7), rng)
    v2 = dict(zip(t2.tip_names, x2[t2.tips]))
    tl2, lr2 = median_time(lambda: pagel_lambda(t2, v2), R)

    def dense_fit():
        from kg.comparative.dense import vcv

        C = vcv(t2)
        res = optimize.minimize_scalar(lambda lam: -dense_lambda_loglik(t2, v2, lam, C), bounds=(0.0, 1.0),
                                       method="bounded", options={"xatol": 1e-10})
        return float(res.x), -float(res.fun)

    td, (dl, dll) = median_time(dense_fit, 1)
    rows.append(("Pagel's lambda, 2,000 tips (linear)", tl2, "dense n^3", td,
                 f"dlambda {abs(lr2.lam - dl):.1e}, dlogL {abs(lr2.loglik - dll):.1e}"))

    print(f"\n{'task':44} {'ours s':>8}  {'peer':>14} {'peer s':>8} {'ratio':>7}  check")
    for name, a, peer, b, note in rows:
        ratio = f"{b / a:6.1f}x" if b == b else "      -"
        bs = f"{b:8.3f}" if b == b else "       -"
        print(f"{name:44} {a:8.3f}  {peer:>14} {bs} {ratio}  {note}")
    print(f"\nmedians of {R} runs (peers: 1 run); load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
