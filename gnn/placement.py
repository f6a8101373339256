"""Taxon placement: where on the reference tree does a held-out taxon belong, given its presence/absence
profile? (The fish tree is not built from these characters, so this is not circular.)

Held-out taxa: ``random`` (single tips at random) or ``clade`` (the tips of the imputation clade
split's validation and test clades: the whole clade is missing from the reference). The reference
tree is the induced tree of the other labelled tips. The true place of a held-out taxon ``q`` is its
*sister set*: the reference tips below the first ancestor of ``q`` that has any.

Methods (each gives a set of tied best reference taxa):

* ``nearest-mismatch``: the reference taxa with the smallest share of mismatching values over the
  entities both have (at least ``min_shared``);
* ``random``: every reference taxon (the floor: expected accuracy |sister set| / |reference|).

Metrics: ``sister_hit`` (some tied taxon is in the sister set), ``sister_expected`` (share of the tied
set in it), ``tied`` (mean set size) and ``excess_edges`` (mean topological distance from ``q`` to
the tied taxa minus the distance to its nearest reference tip; 0 is the best possible).
Parsimony insertion with the set of tied best edges needs Fitch state sets (``kg.comparative``,
issue 16) and is not here yet.
"""

from __future__ import annotations

import numpy as np

from gnn.data import TraitGraph
from gnn.tasks import clade_split, subtree_sizes


def held_out_taxa(g: TraitGraph, split: str, *, seed: int = 0, share: float = 0.15) -> np.ndarray:
    if split == "clade":
        s = clade_split(g, seed=seed)
        return np.unique(g.cells["taxon"][np.concatenate([s.val, s.test])])
    rng = np.random.default_rng(seed)
    tips = g.tips
    return np.sort(rng.choice(tips, size=max(1, int(round(len(tips) * share))), replace=False))


def profiles(g: TraitGraph) -> np.ndarray:
    """(taxa, entities): 1 present, 0 absent, nan unknown."""
    m = np.full((g.n_taxa, g.n_entities), np.nan)
    m[g.cells["taxon"], g.cells["entity"]] = g.cells["y"]
    return m


def _topo(g: TraitGraph) -> tuple[np.ndarray, np.ndarray]:
    depth = np.zeros(g.n_taxa, dtype=np.int64)
    for i in range(1, g.n_taxa):
        depth[i] = depth[g.parent[i]] + 1
    return depth, subtree_sizes(g.parent)


def _edges_between(g: TraitGraph, depth: np.ndarray, size: np.ndarray, a: int, bs: np.ndarray) -> np.ndarray:
    """Topological distance from ``a`` to each of ``bs`` (walk up from ``a``; a preorder range test)."""
    out = np.empty(len(bs), dtype=np.int64)
    left = np.ones(len(bs), dtype=bool)
    v = a
    while left.any():
        inside = left & (bs >= v) & (bs < v + size[v])
        out[inside] = depth[a] + depth[bs[inside]] - 2 * depth[v]
        left &= ~inside
        v = int(g.parent[v])
    return out


def placement_table(g: TraitGraph, split: str, *, seed: int = 0, min_shared: int = 5) -> dict[str, dict[str, float]]:
    """Metrics of each method for the held-out taxa of ``split``."""
    held = held_out_taxa(g, split, seed=seed)
    ref = np.setdiff1d(g.tips, held)
    prof = profiles(g)
    depth, size = _topo(g)
    is_ref = np.zeros(g.n_taxa, dtype=bool)
    is_ref[ref] = True
    cum = np.concatenate([[0], np.cumsum(is_ref)])
    res: dict[str, list[tuple[float, float, float, float]]] = {"nearest-mismatch": [], "random": []}
    for q in held.tolist():
        a = int(g.parent[q])
        while cum[a + size[a]] - cum[a] == 0:
            a = int(g.parent[a])
        sister = ref[(ref >= a) & (ref < a + size[a])]
        dist = _edges_between(g, depth, size, q, ref)
        best_possible = dist.min()
        x = prof[q]
        both = ~np.isnan(x)[None, :] & ~np.isnan(prof[ref])
        shared = both.sum(axis=1)
        mism = (both & (prof[ref] != x[None, :])).sum(axis=1) / np.maximum(shared, 1)
        mism = np.where(shared >= min_shared, mism, np.inf)
        in_sister = np.isin(ref, sister)
        for name, tied in (("nearest-mismatch", np.flatnonzero(mism <= mism.min() + 1e-12) if np.isfinite(mism.min())
                            else np.arange(len(ref))), ("random", np.arange(len(ref)))):
            res[name].append((float(in_sister[tied].any()), float(in_sister[tied].mean()), float(len(tied)),
                              float(dist[tied].mean() - best_possible)))
    out = {}
    for name, vals in res.items():
        v = np.asarray(vals)
        out[name] = {"sister_hit": round(float(v[:, 0].mean()), 4), "sister_expected": round(float(v[:, 1].mean()), 4),
                     "tied": round(float(v[:, 2].mean()), 2), "excess_edges": round(float(v[:, 3].mean()), 3),
                     "n": int(len(v)), "reference": int(len(ref))}
    return out
