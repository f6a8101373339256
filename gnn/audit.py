"""What a hypotheses run stores so that a reviewer with only the KG can recompute every figure it
reports: the split (every labelled cell with its side; the held-out clades), every method's
probability on every validation and test cell, the metrics of every method on both sides with
paired bootstrap percentile intervals (seed and resample count stored), the closure pairs checked
and the subtype and part/whole violations.

Bootstrap: ``numpy.random.default_rng(seed)``; resample ``i`` is ``rng.integers(0, n, n)`` (the
same resamples for every method on a side: paired); the interval is ``numpy.percentile`` (linear)
of the resampled AUCs (resamples with one class only are skipped) at ``(1 - level) / 2`` and
``(1 + level) / 2``.

Violations (of the ontology's logic: presence of a part or subtype implies presence of the whole
or supertype): a (taxon, descendant, ancestor) with the descendant present and the ancestor absent.

* ``test`` of a method: on the taxa with test cells, training cells at their observed value,
  validation and test cells at the method's call (probability > 0.5); counted where at least one
  of the two is a test call;
* ``written``: the labelled cells at their observed value and the written hypotheses at theirs;
  counted where at least one of the two is a hypothesis;
* ``observed``: the labelled cells alone (the data's own contradictions, for comparison).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gnn.data import TraitGraph
from gnn.evaluate import auc, binary_metrics
from gnn.tasks import Split

RESAMPLES = 200
LEVEL = 0.95
SIDES = ("train", "val", "test")


def bootstrap_aucs(y: np.ndarray, scores: dict[str, np.ndarray], *, seed: int, n: int = RESAMPLES) -> dict[str, np.ndarray]:
    """Per method, the AUC of each paired resample (NaN where a resample has one class only)."""
    rng = np.random.default_rng(seed)
    out = {m: np.empty(n) for m in scores}
    for i in range(n):
        k = rng.integers(0, len(y), len(y))
        for m, p in scores.items():
            out[m][i] = auc(y[k], p[k])
    return out


def interval(values: np.ndarray, level: float = LEVEL) -> list[float | None]:
    """The percentile interval of the finite values (``[None, None]`` when there are none)."""
    v = values[np.isfinite(values)]
    if not len(v):
        return [None, None]
    return [float(np.percentile(v, 100 * (1 - level) / 2)), float(np.percentile(v, 100 * (1 + level) / 2))]


def method_metrics(y: dict[str, np.ndarray], scores: dict[str, dict[str, np.ndarray]], *, seed: int,
                   n: int = RESAMPLES, level: float = LEVEL) -> dict[str, dict[str, dict[str, Any]]]:
    """``{method: {side: {**binary_metrics, "auc_ci": [lo, hi]}}}`` for ``side`` in ``y`` (val, test)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for side, ys in y.items():
        boot = bootstrap_aucs(ys, {m: s[side] for m, s in scores.items()}, seed=seed, n=n)
        for m, s in scores.items():
            out.setdefault(m, {})[side] = {**binary_metrics(ys, s[side]), "auc_ci": interval(boot[m], level)}
    return out


def entity_pairs(g: TraitGraph) -> dict[str, list[list[str]]]:
    """The closure pairs among the task's entities, subtype and part/whole apart, as CURIEs."""
    d = g.data
    out = {}
    for kind, rel in (("subclass", "subclass_of"), ("part", "part_of")):
        ei = d["entity", rel, "entity"].edge_index.numpy()
        out[kind] = sorted([g.entities[a], g.entities[b]] for a, b in zip(ei[0].tolist(), ei[1].tolist()))
    return out


def count_violations(value: dict[tuple[str, str], int], pairs: dict[str, list[list[str]]], taxa: set[str],
                     counted: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """Subtype and part/whole violations: ``value`` (taxon, entity) -> 1/0; only pairs with at least
    one cell in ``counted`` (all when ``None``) are counted.

    >>> count_violations({("t", "fin"): 1, ("t", "body"): 0}, {"subclass": [], "part": [["fin", "body"]]}, {"t"})
    {'subclass': 0, 'part': 1}
    """
    out = {}
    for kind, ps in pairs.items():
        n = 0
        for t in taxa:
            for d, a in ps:
                vd, va = value.get((t, d)), value.get((t, a))
                if vd == 1 and va == 0 and (counted is None or (t, d) in counted or (t, a) in counted):
                    n += 1
        out[kind] = n
    return out


def split_record(g: TraitGraph, s: Split, scores: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Every labelled cell: taxon, entity, observed value, side, and (held-out cells) every method's score."""
    side = np.empty(len(g.cells["y"]), dtype=object)
    pos: dict[str, dict[int, int]] = {}
    for name in SIDES:
        idx = getattr(s, name)
        side[idx] = name
        pos[name] = {int(c): k for k, c in enumerate(idx.tolist())}
    out = []
    for c in range(len(side)):
        rec: dict[str, Any] = {"taxon": g.taxa[g.cells["taxon"][c]], "entity": g.entities[g.cells["entity"][c]],
                               "y": int(g.cells["y"][c]), "side": side[c]}
        if side[c] != "train":
            k = pos[side[c]][c]
            rec["scores"] = {m: float(sc[side[c]][k]) for m, sc in scores.items()}
        out.append(rec)
    return out


def heldout_violations(cells: list[dict[str, Any]], pairs: dict[str, list[list[str]]],
                    methods: list[str]) -> dict[str, dict[str, int]]:
    """Per method, the violations of its calls on the test taxa (see the module docstring), and the
    observed values' own on the same taxa."""
    taxa = {c["taxon"] for c in cells if c["side"] == "test"}
    known = {(c["taxon"], c["entity"]): c["y"] for c in cells if c["side"] == "train" and c["taxon"] in taxa}
    test = {(c["taxon"], c["entity"]) for c in cells if c["side"] == "test"}
    out = {}
    for m in methods:
        value = dict(known)
        value.update({(c["taxon"], c["entity"]): int(c["scores"][m] > 0.5) for c in cells
                      if c["side"] != "train" and c["taxon"] in taxa})
        out[m] = count_violations(value, pairs, taxa, test)
    observed = {(c["taxon"], c["entity"]): c["y"] for c in cells if c["taxon"] in taxa}
    out["observed"] = count_violations(observed, pairs, taxa)
    return out


def written_violations(cells: list[dict[str, Any]], hypotheses: list[Any], pairs: dict[str, list[list[str]]]) -> dict[str, int]:
    """Violations of the written hypotheses together with the labelled cells."""
    value = {(c["taxon"], c["entity"]): c["y"] for c in cells}
    hyp = {}
    for h in hypotheses:
        if h.predicate in ("tkg:hasPresenceOf", "tkg:hasAbsenceOf"):
            hyp[(h.subject, h.object)] = int(h.predicate == "tkg:hasPresenceOf")
    value.update(hyp)
    return count_violations(value, pairs, {t for t, _ in hyp}, set(hyp))


def held_out_clades(g: TraitGraph, s: Split) -> dict[str, list[str]]:
    """The tree nodes whose clades a clade split held out, per side, as CURIEs of the loaded tree."""
    from kg.core.graphs import BASE
    from ontologies.prefixes import contract

    if not s.clades:
        return {}

    def node(i: int) -> str:
        n = int(g.tree_nodes[i]) if g.tree_nodes is not None else i
        return contract(f"{BASE}tree/{g.tree}/node/{n}")
    return {side: [node(c) for c in nodes] for side, nodes in s.clades.items()}
