"""Taxon placement: where on the reference tree does a held-out taxon belong, given its presence/absence
profile? (The fish tree is not built from these characters, so this is not circular.)

Held-out taxa: ``random`` (single tips at random) or ``clade`` (the tips of the imputation clade
split's validation and test clades: the whole clade is missing from the reference). The reference
tree is the induced tree of the other labelled tips. The true place of a held-out taxon ``q`` is its
*sister set*: the reference tips below the first ancestor of ``q`` that has any.

Methods (each gives a set of tied best reference taxa):

* ``nearest-mismatch``: the reference taxa with the smallest share of mismatching values over the
  entities both have (at least ``min_shared``);
* ``random``: every reference taxon (the floor: expected accuracy |sister set| / |reference|);
* ``parsimony-insertion``: the *edges* of the reference tree where attaching ``q`` costs the fewest
  changes (Fitch's unit costs over every entity, :func:`kg.comparative.parsimony.insertion_costs`),
  all tied best edges kept.

Metrics: ``sister_hit`` (some tied taxon is in the sister set), ``sister_expected`` (share of the tied
set in it), ``tied`` (mean set size) and ``excess_edges`` (mean topological distance from ``q`` to
the tied taxa minus the distance to its nearest reference tip; 0 is the best possible). For the
edge method the same columns mean: the true edge (above the reference MRCA of the sister set) is
among the tied edges; the chance of drawing it from them; how many are tied; the mean number of
edges between a tied edge and the true one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gnn.data import TraitGraph
from gnn.tasks import clade_split, subtree_sizes
from kg.core.graphs import BASE
from kg.treeindex import TreeIndex


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
    res["parsimony-insertion"] = parsimony_insertion(g, held, ref, prof, size)
    out = {}
    for name, vals in res.items():
        v = np.asarray(vals)
        out[name] = {"sister_hit": round(float(v[:, 0].mean()), 4), "sister_expected": round(float(v[:, 1].mean()), 4),
                     "tied": round(float(v[:, 2].mean()), 2), "excess_edges": round(float(v[:, 3].mean()), 3),
                     "n": int(len(v)), "reference": int(len(ref))}
    return out


def reference_tree(g: TraitGraph, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree induced on the reference tips ``ref``: (node of ``g`` of each reference node,
    parent positions, branch lengths)."""
    full = TreeIndex.from_parent(g.parent.tolist(), g.length.tolist(), [float("nan")] * g.n_taxa, g.taxa)
    return full.induced(ref)


def best_places(g: TraitGraph, ref: np.ndarray, prof: np.ndarray, queries: np.ndarray,
                method: str = "parsimony-insertion", min_shared: int = 5,
                ref_tree: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
    """For each query profile (rows of ``queries``: 1, 0 or nan per entity), the taxon nodes of
    ``g`` whose parent edge is a tied best place: parsimony insertion on the tree induced on
    ``ref``, or the reference tips nearest by mismatch (the edge above a tip: sister to it)."""
    if method == "nearest-mismatch":
        out = []
        for x in queries:
            both = ~np.isnan(x)[None, :] & ~np.isnan(prof[ref])
            shared = both.sum(axis=1)
            mism = np.where(shared >= min_shared, (both & (prof[ref] != x[None, :])).sum(axis=1) / np.maximum(shared, 1),
                            np.inf)
            out.append(ref[mism <= mism.min() + 1e-12] if np.isfinite(mism.min()) else ref)
        return out
    from kg.comparative.characters import Characters
    from kg.comparative.parsimony import insertion_costs
    from kg.comparative.tree import PhyloTree

    nodes, par, blen = ref_tree if ref_tree is not None else reference_tree(g, ref)
    rt = PhyloTree(par, np.nan_to_num(blen), [g.taxa[i] for i in nodes.tolist()])
    tip_masks = np.full((len(nodes), g.n_entities), 3, dtype=np.uint64)
    tip_masks[rt.tips] = _masks(prof[nodes[rt.tips]])
    costs = insertion_costs(rt, Characters(["absent", "present"], tip_masks, list(g.entities)), _masks(queries))
    return [nodes[np.flatnonzero(np.isclose(row, np.nanmin(row), rtol=0, atol=1e-9))] for row in costs]


def place_unplaced(g: TraitGraph, *, split: str = "clade", seed: int = 0, min_known: int = 5,
                   limit: int | None = None) -> tuple[Any, list[Any], dict[str, Any]]:
    """Placement hypotheses for the taxa with calls that are not on the tree (``g.unplaced``):
    the method that places held-out tips of ``split`` best (expected accuracy) places them, every
    tied best edge one hypothesis (``tkg:placedOn`` the node below the edge, score 1 / ties)."""
    from gnn.predict import Gate, Hypothesis, keep_whole_ties

    table = placement_table(g, split, seed=seed)
    val = {m: table[m]["sister_expected"] for m in ("parsimony-insertion", "nearest-mismatch")}
    best = max(sorted(val), key=lambda m: val[m])
    other = next(m for m in val if m != best)
    gate = Gate(float("nan"), val, best, best, 0.0)
    taxa = sorted(t for t, calls in g.unplaced.items() if len(calls) >= min_known)
    ix = {e: j for j, e in enumerate(g.entities)}
    queries = np.full((len(taxa), g.n_entities), np.nan)
    for i, t in enumerate(taxa):
        for e, y in g.unplaced[t].items():
            queries[i, ix[e]] = y
    prof = profiles(g)
    hyps = []
    for t, tied in zip(taxa, best_places(g, g.tips, prof, queries, best) if taxa else []):
        for n in tied.tolist():
            node = g.tree_nodes[n] if g.tree_nodes is not None else n
            hyps.append(Hypothesis(t, "tkg:placedOn", f"{BASE}tree/{g.tree}/node/{int(node)}",
                                   1.0 / len(tied), best, float("nan"), other, float("nan"),
                                   float("nan"), val[best], best))
    hyps.sort(key=lambda h: (-h.score, h.subject, h.object))
    kept, report = keep_whole_ties(np.asarray([h.score for h in hyps]), limit)
    hyps = hyps[:kept]
    summary = {"placed_taxa": len(taxa), "too_few_calls": len(g.unplaced) - len(taxa), "validation": table,
               "limit": report, "taxa_with_hypotheses": len({h.subject for h in hyps})}
    return gate, hyps, summary


def _masks(prof: np.ndarray) -> np.ndarray:
    """Presence/absence rows as two-state bitmasks (absent 1, present 2, unknown 3)."""
    m = np.full(prof.shape, 3, dtype=np.uint64)
    m[prof == 0] = 1
    m[prof == 1] = 2
    return m


def parsimony_insertion(g: TraitGraph, held: np.ndarray, ref: np.ndarray, prof: np.ndarray,
                        size: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Per held-out taxon: (true edge among the tied best, chance of drawing it, tied edges, mean
    edges from a tied edge to the true one), on the reference tree induced on ``ref``."""
    nodes, par, blen = reference_tree(g, ref)  # reference node i is node nodes[i] of g
    rix = TreeIndex.from_parent(par.tolist(), np.nan_to_num(blen).tolist(), [float("nan")] * len(nodes),
                                [g.taxa[i] for i in nodes.tolist()])
    where = {int(v): i for i, v in enumerate(nodes.tolist())}
    out = []
    for q, tied in zip(held.tolist(), best_places(g, ref, prof, prof[held], ref_tree=(nodes, par, blen))):
        a = int(g.parent[q])
        while not ((ref >= a) & (ref < a + size[a])).any():
            a = int(g.parent[a])
        sister = ref[(ref >= a) & (ref < a + size[a])]
        true = rix.mrca(np.asarray([where[int(x)] for x in sister.tolist()]))
        t = np.asarray([where[int(x)] for x in tied.tolist()])
        hit = float(true in set(t.tolist()))
        dist = rix.distance(np.full(len(t), true), t, topological=True)
        out.append((hit, hit / len(t), float(len(t)), float(np.mean(dist))))
    return out
