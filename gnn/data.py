"""The KG as a PyTorch Geometric ``HeteroData``, with the CURIE <-> index maps travelling with it.

Node types:

* ``taxon``: the nodes of the tree induced on the tips that have presence/absence calls
  (tips and internal nodes; unary nodes collapsed, branch lengths summed);
* ``entity``: the anatomical entities of the task (the ones with enough labelled taxa);
* ``phenotype`` and ``quality``: the EQ phenotypes whose entity is a task entity, and their qualities.

Edge types: ``(taxon, parent_of, taxon)`` and ``child_of`` (the tree), ``(entity, subclass_of,
entity)`` and ``part_of`` (the closure restricted to task entities, redundant), ``(taxon,
has_presence_of, entity)`` / ``has_absence_of`` (the calls: asserted and inferred, conflicts left
out), ``(taxon, exhibits, phenotype)``, ``(phenotype, inheres_in, entity)``, ``(phenotype,
has_quality, quality)``. Taxa meet tree tips by name resolution against the tree (exact and
synonym matches only; genus-level and fuzzy matches are left out and counted).

The imputation encoder uses only the tree, the ontology edges and the *training* call edges
(``exhibits`` would leak held-out cells); the other edge types are there for link prediction and
for explanations.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from kg.core.errors import ValidationError
from kg.core.graphs import BASE
from ontologies.prefixes import contract

log = logging.getLogger(__name__)

PRESENT, ABSENT = "present", "absent"
TREE_EDGES = [("taxon", "parent_of", "taxon"), ("taxon", "child_of", "taxon")]
ONTOLOGY_EDGES = [("entity", "subclass_of", "entity"), ("entity", "part_of", "entity"),
                  ("entity", "superclass_of", "entity"), ("entity", "has_part", "entity")]
CALL_EDGES = [("taxon", "has_presence_of", "entity"), ("taxon", "has_absence_of", "entity"),
              ("entity", "present_in", "taxon"), ("entity", "absent_in", "taxon")]


@dataclass
class TraitGraph:
    """A ``HeteroData`` plus everything needed to read its indices back as CURIEs.

    ``cells``: every labelled (taxon node, entity) pair as arrays ``taxon``, ``entity``, ``y``
    (1 present, 0 absent); ``tips``: taxon-node index of each labelled tip; ``parent``: parent
    position of each taxon node (-1 at the root); ``length``: its branch length;
    ``entity_anc``: (descendant, ancestor) entity index pairs of the closure (subClassOf ∪ part_of).
    """

    data: HeteroData
    taxa: list[str]
    entities: list[str]
    parent: np.ndarray
    length: np.ndarray
    cells: dict[str, np.ndarray]
    entity_anc: np.ndarray
    tree: str
    sources: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    tree_nodes: np.ndarray | None = None  # node id in the loaded tree of each taxon node
    unplaced: dict[str, dict[str, int]] = field(default_factory=dict)  # taxa with calls not on the tree
    #: cells of tips with both a present and an absent call: ``taxon``, ``entity`` (indices), ``kind``
    #: ("conflict": the calls contradict each other; "polymorphic": both flagged polymorphic), ``tiers``
    #: (the two calls' tiers, e.g. "asserted/inferred"). Never labels, never hypothesised.
    ambiguous: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_taxa(self) -> int:
        return len(self.taxa)

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    @property
    def tips(self) -> np.ndarray:
        return np.unique(self.cells["taxon"])

    def fingerprint(self) -> str:
        """A hash of the node maps and the tree shape: a checkpoint is only valid for the same one."""
        h = hashlib.sha256()
        h.update(json.dumps([self.taxa, self.entities, self.parent.tolist()]).encode())
        return h.hexdigest()[:16]

    def taxon_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.taxa)}

    def entity_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.entities)}

    def to(self, device: torch.device | str) -> TraitGraph:
        self.data = self.data.to(device)
        return self


def _edge(src: np.ndarray | list[int], dst: np.ndarray | list[int]) -> torch.Tensor:
    return torch.as_tensor(np.stack([np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)]))


def label_table(calls: dict[tuple[str, str, str], Any],
                both: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], int]:
    """(taxon IRI, entity IRI) -> 1 present / 0 absent; cells with both calls (conflicts and
    polymorphism) are left out (and added to ``both`` when given).

    >>> class C: pass
    >>> label_table({("t", "e", "present"): C(), ("t", "f", "absent"): C(), ("t", "f", "present"): C()})
    {('t', 'e'): 1}
    """
    out: dict[tuple[str, str], int] = {}
    both = set() if both is None else both
    for (t, e, v) in calls:
        key = (t, e)
        y = 1 if v == PRESENT else 0
        if key in out and out[key] != y:
            both.add(key)
        out[key] = y
    for k in both:
        del out[k]
    return out


def build_graph(kg: Any, *, tree: str | None = None, min_taxa: int = 5, max_entities: int | None = None,
                min_minority: int = 1) -> TraitGraph:
    """Build the :class:`TraitGraph` of a :class:`kg.KnowledgeGraph` with phenotypes and a tree.

    Entities are kept when at least ``min_taxa`` tips have a call and the rarer value has at least
    ``min_minority`` of them; ``max_entities`` keeps the most labelled ones (ties by CURIE)."""
    tr = kg.tree(tree)
    traits = kg.traits
    idx = traits.index
    calls = traits.calls()
    if not calls:
        raise ValidationError("no presence/absence calls: load phenotypes (and an ontology) first")
    both: set[tuple[str, str]] = set()
    labels = label_table(calls, both)
    taxa_iris = sorted({t for t, _ in labels})
    matches = kg.resolve([idx.taxa.get(t, t) for t in taxa_iris], tree=tr.name, fuzzy=False)
    tip_of: dict[str, int] = {}
    skipped = {"unmatched": 0, "approximate": 0, "ambiguous": 0}
    for t, m in zip(taxa_iris, matches):
        if m.status != "matched" or m.matched_name is None:
            skipped[m.status if m.status in skipped else "unmatched"] += 1
            continue
        i = tr.index.find(m.matched_name)
        if i is None:
            skipped["unmatched"] += 1
            continue
        tip_of[t] = int(i)
    # several phenotype taxa can land on one tip (synonyms): keep the first, count the rest
    by_tip: dict[int, str] = {}
    for t, i in tip_of.items():
        by_tip.setdefault(i, t)
    dup = len(tip_of) - len(by_tip)
    per_entity: dict[str, list[int]] = {}
    for (t, e), y in labels.items():
        if t in tip_of and by_tip[tip_of[t]] == t:
            per_entity.setdefault(e, [0, 0])[y] += 1
    ents = [e for e, (n0, n1) in per_entity.items() if n0 + n1 >= min_taxa and min(n0, n1) >= min_minority]
    ents.sort(key=lambda e: (-sum(per_entity[e]), contract(e)))
    if max_entities is not None:
        ents = ents[:max_entities]
    ents.sort(key=contract)
    if not ents or len(by_tip) < 3:
        raise ValidationError(
            f"too few labelled examples: {len(by_tip)} taxa on tree {tr.name!r} (of {len(taxa_iris)} with calls; "
            f"{skipped}), {len(ents)} entities with >= {min_taxa} labelled taxa and >= {min_minority} of the rarer value")
    e_ix = {e: j for j, e in enumerate(ents)}
    nodes, par, blen = tr.index.induced(np.fromiter(by_tip.keys(), dtype=np.int64))
    pos = {int(n): k for k, n in enumerate(nodes.tolist())}
    names = []
    for n in nodes.tolist():
        t = by_tip.get(n)
        names.append(contract(t) if t is not None else contract(f"{BASE}tree/{tr.name}/node/{n}"))
    ct, ce, cy = [], [], []
    for (t, e), y in labels.items():
        j = e_ix.get(e)
        if j is None or t not in tip_of or by_tip[tip_of[t]] != t:
            continue
        ct.append(pos[tip_of[t]])
        ce.append(j)
        cy.append(y)
    order = np.lexsort((np.asarray(ce), np.asarray(ct)))
    cells = {"taxon": np.asarray(ct, dtype=np.int64)[order], "entity": np.asarray(ce, dtype=np.int64)[order],
             "y": np.asarray(cy, dtype=np.int64)[order]}
    anc_pairs, sub_pairs, part_pairs = [], [], []
    for e, j in e_ix.items():
        isa = idx.ancestors(e, parts=False)
        for a in idx.ancestors(e):
            k = e_ix.get(a)
            if k is not None and k != j:
                anc_pairs.append((j, k))
                (sub_pairs if a in isa else part_pairs).append((j, k))
    data = HeteroData()
    data["taxon"].num_nodes = len(nodes)
    data["entity"].num_nodes = len(ents)
    kids = np.arange(1, len(nodes))
    data["taxon", "parent_of", "taxon"].edge_index = _edge(par[1:], kids)
    data["taxon", "child_of", "taxon"].edge_index = _edge(kids, par[1:])
    bl = np.nan_to_num(blen[1:], nan=1.0)
    data["taxon", "parent_of", "taxon"].edge_attr = torch.as_tensor(bl, dtype=torch.float32)[:, None]
    data["taxon", "child_of", "taxon"].edge_attr = torch.as_tensor(bl, dtype=torch.float32)[:, None]
    for rel, inv, pairs in (("subclass_of", "superclass_of", sub_pairs), ("part_of", "has_part", part_pairs)):
        a = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        data["entity", rel, "entity"].edge_index = _edge(a[:, 0], a[:, 1])
        data["entity", inv, "entity"].edge_index = _edge(a[:, 1], a[:, 0])
    for y, rel, inv in ((1, "has_presence_of", "present_in"), (0, "has_absence_of", "absent_in")):
        m = cells["y"] == y
        data["taxon", rel, "entity"].edge_index = _edge(cells["taxon"][m], cells["entity"][m])
        data["entity", inv, "taxon"].edge_index = _edge(cells["entity"][m], cells["taxon"][m])
    _add_phenotypes(data, idx, e_ix, {by_tip[n]: pos[n] for n in by_tip})
    counts = {"taxa_with_calls": len(taxa_iris), "tips_matched": len(by_tip), "duplicate_tips": dup,
              **{f"taxa_{k}": v for k, v in skipped.items()}, "entities": len(ents), "cells": len(cy),
              "present": int(cells["y"].sum()), "taxon_nodes": len(nodes)}
    sources = sorted({g.iri for g in idx.phenotype_graphs} | {g.iri for g in idx.closure_graphs}
                     | ({tr.record.iri} if tr.record is not None else set()))
    ambiguous = _ambiguous_cells(calls, both, traits.conflicts_keys(), e_ix,
                                 {t: pos[i] for t, i in tip_of.items() if by_tip[i] == t})
    counts["conflicts"] = int((ambiguous["kind"] == "conflict").sum())
    counts["polymorphic"] = int((ambiguous["kind"] == "polymorphic").sum())
    log.info("trait graph: %s", counts)
    unplaced: dict[str, dict[str, int]] = {}  # their calls on the task's entities: what placement places
    for (t, e), y in labels.items():
        if t not in tip_of and e in e_ix:
            unplaced.setdefault(contract(t), {})[contract(e)] = y
    return TraitGraph(data, names, [contract(e) for e in ents], par, np.nan_to_num(blen, nan=0.0), cells,
                      np.asarray(anc_pairs, dtype=np.int64).reshape(-1, 2), tr.name, sources, counts,
                      nodes.astype(np.int64), unplaced, ambiguous)


def _ambiguous_cells(calls: dict[tuple[str, str, str], Any], both: set[tuple[str, str]],
                     conflicts: set[tuple[str, str]], e_ix: dict[str, int], pos: dict[str, int]) -> dict[str, np.ndarray]:
    """The cells of placed tips and task entities with both calls, sorted, with their kind and tiers."""
    rows = []
    for t, e in both:
        if t in pos and e in e_ix:
            tiers = f"{calls[(t, e, PRESENT)].tier}/{calls[(t, e, ABSENT)].tier}"
            rows.append((pos[t], e_ix[e], "conflict" if (t, e) in conflicts else "polymorphic", tiers))
    rows.sort()
    return {"taxon": np.asarray([r[0] for r in rows], dtype=np.int64),
            "entity": np.asarray([r[1] for r in rows], dtype=np.int64),
            "kind": np.asarray([r[2] for r in rows], dtype=object), "tiers": np.asarray([r[3] for r in rows], dtype=object)}


def _add_phenotypes(data: HeteroData, idx: Any, e_ix: dict[str, int], taxon_pos: dict[str, int]) -> None:
    """Phenotype and quality nodes of the task entities, and who exhibits them."""
    ph_ix: dict[str, int] = {}
    q_ix: dict[str, int] = {}
    inh, hq = [], []
    for p, ph in sorted(idx.phenotypes.items()):
        j = e_ix.get(ph.entity)
        if j is None:
            continue
        k = ph_ix[p] = len(ph_ix)
        inh.append((k, j))
        if ph.quality:
            hq.append((k, q_ix.setdefault(ph.quality, len(q_ix))))
    ex = set()
    for cell in idx.cells:
        t = taxon_pos.get(cell.taxon)
        if t is None:
            continue
        for s in cell.states:
            for p in idx.state_phenotypes.get(s, ()):
                k = ph_ix.get(p)
                if k is not None:
                    ex.add((t, k))
    data["phenotype"].num_nodes = len(ph_ix)
    data["quality"].num_nodes = len(q_ix)
    for rel, src, dst, pairs in (("inheres_in", "phenotype", "entity", inh), ("has_quality", "phenotype", "quality", hq),
                                 ("exhibits", "taxon", "phenotype", sorted(ex))):
        a = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        data[src, rel, dst].edge_index = _edge(a[:, 0], a[:, 1])
    data.phenotype_ids = [contract(p) for p in ph_ix]
    data.quality_ids = [contract(q) for q in q_ix]
