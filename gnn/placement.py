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

Metrics are edge-level for every method (a taxon method's tied taxa stand for the edges above
them), so the methods and the random floor are compared in the same units: see
:func:`placement_table`.
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
    """Edge-level metrics of each method for the held-out taxa of ``split``, all in the same units:
    the places are the edges of the reference tree (the tree induced on the other labelled tips);
    the true place of a held-out taxon is the edge above the reference MRCA of its sister set;
    ``expected_accuracy`` is the chance of drawing the true edge from a method's tied best edges
    (``random``: every edge), ``edge_hit`` whether it is among them, ``tied_edges`` how many there
    are, ``edges_from_true`` the mean number of edges between a tied edge and the true one."""
    held = held_out_taxa(g, split, seed=seed)
    ref = np.setdiff1d(g.tips, held)
    prof = profiles(g)
    size = subtree_sizes(g.parent)
    nodes, par, blen = reference_tree(g, ref)  # reference node i is node nodes[i] of g
    rix = TreeIndex.from_parent(par.tolist(), np.nan_to_num(blen).tolist(), [float("nan")] * len(nodes),
                                [g.taxa[i] for i in nodes.tolist()])
    where = {int(v): i for i, v in enumerate(nodes.tolist())}
    every_edge = np.arange(1, len(nodes))  # the edge above each node but the root
    pars = best_places(g, ref, prof, prof[held], ref_tree=(nodes, par, blen))
    near = best_places(g, ref, prof, prof[held], "nearest-mismatch", min_shared=min_shared)
    res: dict[str, list[tuple[float, float, float, float]]] = {"parsimony-insertion": [], "nearest-mismatch": [],
                                                               "random": []}
    for i, q in enumerate(held.tolist()):
        a = int(g.parent[q])
        while not ((ref >= a) & (ref < a + size[a])).any():
            a = int(g.parent[a])
        sister = ref[(ref >= a) & (ref < a + size[a])]
        true = int(rix.mrca(np.asarray([where[int(x)] for x in sister.tolist()])))
        for name, tied in (("parsimony-insertion", np.asarray([where[int(x)] for x in pars[i].tolist()])),
                           ("nearest-mismatch", np.asarray([where[int(x)] for x in near[i].tolist()])),
                           ("random", every_edge)):
            hit = float(true in set(tied.tolist()))
            dist = rix.distance(np.full(len(tied), true), tied, topological=True)
            res[name].append((hit, hit / len(tied), float(len(tied)), float(np.mean(dist))))
    from gnn.audit import LEVEL, RESAMPLES, interval

    rng = np.random.default_rng(seed)  # paired bootstrap over the held-out taxa, as for imputation
    draws = [rng.integers(0, len(held), len(held)) for _ in range(RESAMPLES)]
    out = {}
    for name, vals in res.items():
        v = np.asarray(vals)
        ci = interval(np.asarray([v[k, 1].mean() for k in draws]), LEVEL)
        out[name] = {"edge_hit": float(v[:, 0].mean()), "expected_accuracy": float(v[:, 1].mean()),
                     "tied_edges": float(v[:, 2].mean()), "edges_from_true": float(v[:, 3].mean()),
                     "expected_accuracy_ci": ci, "n": int(len(v)), "reference_edges": int(len(every_edge))}
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
    val = {m: table[m]["expected_accuracy"] for m in ("parsimony-insertion", "nearest-mismatch", "random")}
    best = max(sorted(val), key=lambda m: val[m])
    other = max((m for m in val if m != best), key=lambda m: val[m])
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
