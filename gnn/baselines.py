"""Baselines for presence/absence imputation, in a registry: each one maps the training cells and
the query cells of a split to a probability of presence.

* ``majority``: the entity's training frequency of presence (the global one for an unseen entity);
* ``phylo-nn``: the nearest training tips with a value for the entity (patristic distance; ties averaged);
* ``sister-clade``: walk up from the taxon to the first clade with at least 3 training tips
  valued for the entity; their majority (0.5 on a tie);
* ``label-propagation``: harmonic label propagation over the tree (training tips clamped);
* ``ontology-rules``: the taxon's own training cells through the ontology (a present part or
  subtype implies a present whole; an absent whole implies absent parts); ``majority`` elsewhere.

Adding one is one function with ``@register("name")`` taking a :class:`BaselineInput`.
``fitch`` (Fitch/Mk ancestral-state insertion from ``kg.comparative``, issue 16) is not
registered here yet: see :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from gnn.data import TraitGraph
from gnn.tasks import subtree_sizes

BASELINES: dict[str, Callable[[BaselineInput], np.ndarray]] = {}


def register(name: str) -> Callable[[Callable[[BaselineInput], np.ndarray]], Callable[[BaselineInput], np.ndarray]]:
    """Register a baseline ``fn(inp: BaselineInput) -> probabilities of presence for inp.query``.

    A Fitch baseline would be, with ``kg.comparative`` merged::

        @register("fitch")
        def fitch(inp):
            # per entity: encode inp.train_matrix's column on the tree, Fitch sets at the query tips
            ...
    """
    def deco(fn: Callable[[BaselineInput], np.ndarray]) -> Callable[[BaselineInput], np.ndarray]:
        BASELINES[name] = fn
        return fn
    return deco


@dataclass
class BaselineInput:
    """The graph, the training cells (indices into ``graph.cells``) and the query cells (taxon node, entity)."""

    graph: TraitGraph
    train: np.ndarray
    query_taxon: np.ndarray
    query_entity: np.ndarray
    cache: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def train_matrix(self) -> np.ndarray:
        """(taxon nodes, entities): 1 present, 0 absent, nan unknown; training cells only."""
        g = self.graph
        m = np.full((g.n_taxa, g.n_entities), np.nan)
        m[g.cells["taxon"][self.train], g.cells["entity"][self.train]] = g.cells["y"][self.train]
        return m

    @cached_property
    def entity_rate(self) -> np.ndarray:
        m = self.train_matrix
        n = np.sum(~np.isnan(m), axis=0)
        pos = np.nansum(m, axis=0)
        glob = float(np.nansum(m) / max(1, np.sum(~np.isnan(m))))
        return np.where(n > 0, pos / np.maximum(n, 1), glob)

    @cached_property
    def root_distance(self) -> np.ndarray:
        g = self.graph
        d = np.zeros(g.n_taxa)
        for i in range(1, g.n_taxa):
            d[i] = d[g.parent[i]] + g.length[i]
        return d


def tip_distances(g: TraitGraph, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Patristic distances between taxon nodes ``rows`` x ``cols`` (through the tree index)."""
    from kg.treeindex import TreeIndex

    ix = TreeIndex.from_parent(g.parent.tolist(), g.length.tolist(), [float("nan")] * g.n_taxa, g.taxa)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    return ix.distance(np.repeat(rows, len(cols)), np.tile(cols, len(rows))).reshape(len(rows), len(cols))


@register("majority")
def majority(inp: BaselineInput) -> np.ndarray:
    return inp.entity_rate[inp.query_entity]


@register("phylo-nn")
def phylo_nn(inp: BaselineInput) -> np.ndarray:
    m = inp.train_matrix
    tips = np.flatnonzero(~np.all(np.isnan(m), axis=1))
    qt = np.unique(inp.query_taxon)
    dist = tip_distances(inp.graph, qt, tips)
    row = {t: k for k, t in enumerate(qt.tolist())}
    out = inp.entity_rate[inp.query_entity].copy()
    for e in np.unique(inp.query_entity).tolist():
        sel = np.flatnonzero(inp.query_entity == e)
        have = ~np.isnan(m[tips, e])
        if not have.any():
            continue
        vals = m[tips[have], e]
        d = dist[[row[t] for t in inp.query_taxon[sel].tolist()]][:, have]
        near = d <= d.min(axis=1, keepdims=True) + 1e-9
        out[sel] = (near * vals).sum(axis=1) / near.sum(axis=1)
    return out


def _walk_up(inp: BaselineInput, min_tips: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: (training tips valued for the entity, and how many present) in the smallest
    clade above the query's taxon that has at least ``min_tips`` of them (the root if none does)."""
    g = inp.graph
    m = inp.train_matrix
    size = subtree_sizes(g.parent)
    lab = np.vstack([np.zeros((1, g.n_entities)), np.cumsum(~np.isnan(m), axis=0)])
    pos = np.vstack([np.zeros((1, g.n_entities)), np.cumsum(np.nan_to_num(m), axis=0)])
    n_out = np.zeros(len(inp.query_taxon))
    p_out = np.zeros(len(inp.query_taxon))
    for t in np.unique(inp.query_taxon).tolist():
        sel = np.flatnonzero(inp.query_taxon == t)
        ents = inp.query_entity[sel]
        done = np.zeros(len(sel), dtype=bool)
        a = int(g.parent[t])
        while a >= 0 and not done.all():
            n = lab[a + size[a], ents] - lab[a, ents]
            p = pos[a + size[a], ents] - pos[a, ents]
            hit = ~done & ((n >= min_tips) | (g.parent[a] < 0))
            n_out[sel[hit]] = n[hit]
            p_out[sel[hit]] = p[hit]
            done |= hit
            a = int(g.parent[a])
    return n_out, p_out


@register("sister-clade")
def sister_clade(inp: BaselineInput) -> np.ndarray:
    n, p = _walk_up(inp, 3)
    frac = np.where(n > 0, p / np.maximum(n, 1), inp.entity_rate[inp.query_entity])
    return np.where(frac > 0.5, 1.0, np.where(frac < 0.5, 0.0, 0.5))


@register("label-propagation")
def label_propagation(inp: BaselineInput, iterations: int = 200) -> np.ndarray:
    g = inp.graph
    m = inp.train_matrix
    known = ~np.isnan(m)
    f = np.where(known, m, inp.entity_rate[None, :])
    kids = np.arange(1, g.n_taxa)
    par = g.parent[1:]
    deg = np.bincount(par, minlength=g.n_taxa).astype(float)
    deg[kids] += 1
    for _ in range(iterations):
        s = np.zeros_like(f)
        np.add.at(s, par, f[kids])
        s[kids] += f[par]
        f = np.where(known, m, s / np.maximum(deg, 1)[:, None])
    return f[inp.query_taxon, inp.query_entity]


@register("fitch")
def fitch_insertion(inp: BaselineInput) -> np.ndarray:
    """Parsimony insertion: with Fitch's unit costs (Sankoff's two passes over the tree, from
    :mod:`kg.comparative`), the states of the most-parsimonious reconstructions at the query
    node given every training cell of the entity; 1 or 0 when they agree, 0.5 when both are."""
    if "fitch" not in inp.cache:
        from kg.comparative.characters import Characters
        from kg.comparative.parsimony import sankoff
        from kg.comparative.tree import PhyloTree

        g = inp.graph
        tree = PhyloTree(g.parent, g.length, list(g.taxa))
        m = inp.train_matrix
        masks = np.zeros(m.shape, dtype=np.uint64)
        masks[tree.tips] = np.uint64(3)  # unknown: either state
        known = ~np.isnan(m)
        masks[known] = np.left_shift(np.uint64(1), m[known].astype(np.uint64))
        mpr = sankoff(tree, Characters(["absent", "present"], masks, list(g.entities))).mpr()
        inp.cache["fitch"] = np.select([mpr == 2, mpr == 1], [1.0, 0.0], 0.5)
    return inp.cache["fitch"][inp.query_taxon, inp.query_entity]


@register("ontology-rules")
def ontology_rules(inp: BaselineInput) -> np.ndarray:
    g = inp.graph
    m = inp.train_matrix
    anc = np.zeros((g.n_entities, g.n_entities))
    if len(g.entity_anc):
        anc[g.entity_anc[:, 0], g.entity_anc[:, 1]] = 1.0  # anc[d, a]: a is a whole / supertype of d
    pres = (np.nan_to_num(m, nan=0.0) == 1) & ~np.isnan(m)
    absn = (np.nan_to_num(m, nan=1.0) == 0)
    q_t, q_e = inp.query_taxon, inp.query_entity
    implied_present = (pres[q_t].astype(float) * anc[:, q_e].T).sum(axis=1) > 0  # a present descendant
    implied_absent = (absn[q_t].astype(float) * anc[q_e, :]).sum(axis=1) > 0  # an absent ancestor
    out = inp.entity_rate[q_e].copy()
    out[implied_present & ~implied_absent] = 1.0
    out[implied_absent & ~implied_present] = 0.0
    out[implied_absent & implied_present] = 0.5
    return out


def run_baselines(g: TraitGraph, train: np.ndarray, query: np.ndarray,
                  names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every (or the named) baseline's probabilities of presence for the query cells (indices into ``g.cells``)."""
    return baselines_at(g, train, g.cells["taxon"][query], g.cells["entity"][query], names)


def baselines_at(g: TraitGraph, train: np.ndarray, taxa: np.ndarray, entities: np.ndarray,
                 names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The same for any (taxon node, entity) pairs, e.g. the matrix's unknown cells."""
    inp = BaselineInput(g, train, np.asarray(taxa, dtype=np.int64), np.asarray(entities, dtype=np.int64))
    return {n: np.clip(BASELINES[n](inp), 0.0, 1.0) for n in (names or list(BASELINES))}
