"""Link prediction over the KG's presence/absence triples ``(taxon, has_presence_of | has_absence_of,
entity)``: filtered, both-sided ranking (MRR, Hits@1, Hits@10), our own code.

Every labelled cell is one triple, so the imputation splits are the link-prediction splits (random
held-out triples; whole held-out clades). Ontology triples (subclass_of, part_of) are always
training structure and not ranked. For a test triple ``(t, r, e)``:

* tail query ``(t, r, ?)``: every task entity is a candidate;
* head query ``(?, r, e)``: every labelled tip is a candidate;

other candidates that make a known triple (training, validation or test) are filtered out;
ties count half. A scorer gives two (taxa x entities) score matrices per relation, one for each
side (a model uses the same one for both; the marginal baseline does not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from gnn.data import TraitGraph
from gnn.evaluate import filtered_ranks, ranking_metrics

RELATIONS = ("has_presence_of", "has_absence_of")
#: relation -> (tail scores, head scores), each (taxa x entities)
Scores = dict[int, tuple[np.ndarray, np.ndarray]]


def relation(g: TraitGraph) -> np.ndarray:
    """Relation index of each cell's triple: 0 has_presence_of, 1 has_absence_of."""
    return 1 - g.cells["y"]


def marginal_scores(g: TraitGraph, train: np.ndarray) -> Scores:
    """No training: how often an entity is the object (tail side), or a taxon the subject (head
    side), of the relation in the training triples."""
    r = relation(g)
    out: Scores = {}
    for k in range(len(RELATIONS)):
        sel = train[r[train] == k]
        ent = np.bincount(g.cells["entity"][sel], minlength=g.n_entities).astype(float)
        tax = np.bincount(g.cells["taxon"][sel], minlength=g.n_taxa).astype(float)
        out[k] = (np.broadcast_to(ent, (g.n_taxa, g.n_entities)), np.broadcast_to(tax[:, None], (g.n_taxa, g.n_entities)))
    return out


def presence_scores(probs: np.ndarray) -> Scores:
    """A presence probability matrix as a scorer: p for has_presence_of, 1 - p for has_absence_of."""
    return {0: (probs, probs), 1: (1 - probs, 1 - probs)}


def evaluate(g: TraitGraph, scores: Scores, query: np.ndarray) -> dict[str, dict[str, float]]:
    """Filtered ranks of the ``query`` triples (indices into ``g.cells``), both sides; metrics for
    ``both``, ``head`` and ``tail``."""
    head, tail = ranks(g, scores, query)
    return {"both": ranking_metrics(np.concatenate([head, tail])), "head": ranking_metrics(head),
            "tail": ranking_metrics(tail)}


def ranks(g: TraitGraph, scores: Scores, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(head ranks, tail ranks) of the ``query`` triples, filtered."""
    r = relation(g)
    t, e = g.cells["taxon"], g.cells["entity"]
    tips = g.tips
    tip_pos = {int(x): k for k, x in enumerate(tips.tolist())}
    by_tr: dict[tuple[int, int], set[int]] = defaultdict(set)
    by_re: dict[tuple[int, int], set[int]] = defaultdict(set)
    for ti, ri, ei in zip(t.tolist(), r.tolist(), e.tolist()):
        by_tr[(ti, ri)].add(ei)
        by_re[(ri, ei)].add(tip_pos[ti])
    q = np.asarray(query)
    tail_ranks = np.empty(len(q))
    head_ranks = np.empty(len(q))
    for k in range(len(RELATIONS)):
        sel = np.flatnonzero(r[q] == k)
        if not len(sel):
            continue
        qt, qe = t[q[sel]], e[q[sel]]
        tail_s, head_s = scores[k]
        tail_ranks[sel] = filtered_ranks(np.asarray(tail_s)[qt], qe, [by_tr[(a, k)] for a in qt.tolist()])
        hs = np.asarray(head_s)[tips][:, qe].T  # (queries, tips)
        head_ranks[sel] = filtered_ranks(hs, np.array([tip_pos[a] for a in qt.tolist()]),
                                         [by_re[(k, b)] for b in qe.tolist()])
    return head_ranks, tail_ranks


def scorer_rows(g: TraitGraph, train: np.ndarray, val: np.ndarray, test: np.ndarray,
                scorers: dict[str, Callable[[], Scores]]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``{method: {"val": metrics, "test": metrics}}`` for each scorer."""
    out = {}
    for name, make in scorers.items():
        s = make()
        out[name] = {"val": evaluate(g, s, val), "test": evaluate(g, s, test)}
    return out


def bootstrap_mrr(head: dict[str, np.ndarray], tail: dict[str, np.ndarray], *, seed: int,
                  n: int = 200) -> dict[str, np.ndarray]:
    """Per method, the both-sided MRR of each paired resample of the triples (a triple brings its
    head and its tail rank); resamples as in :mod:`gnn.audit`."""
    rng = np.random.default_rng(seed)
    m = len(next(iter(head.values())))
    out = {k: np.empty(n) for k in head}
    for i in range(n):
        k = rng.integers(0, m, m)
        for name in head:
            out[name][i] = float(np.concatenate([1 / head[name][k], 1 / tail[name][k]]).mean())
    return out


def link_metrics(g: TraitGraph, train: np.ndarray, sides: dict[str, np.ndarray], scorers: dict[str, Scores], *,
                 seed: int) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
                                     dict[str, np.ndarray]]:
    """Every scorer's filtered MRR and Hits@k on each side with bootstrap intervals of the MRR;
    the ranks; and the validation bootstrap MRRs (for the gate)."""
    from gnn.audit import LEVEL, RESAMPLES, interval

    rk = {name: {side: ranks(g, sc, q) for side, q in sides.items()} for name, sc in scorers.items()}
    out: dict[str, dict[str, Any]] = {name: {} for name in scorers}
    boot_val: dict[str, np.ndarray] = {}
    for side in sides:
        boot = bootstrap_mrr({n: rk[n][side][0] for n in scorers}, {n: rk[n][side][1] for n in scorers}, seed=seed,
                             n=RESAMPLES)
        if side == "val":
            boot_val = boot
        for name in scorers:
            head, tail = rk[name][side]
            out[name][side] = {**ranking_metrics(np.concatenate([head, tail])), "mrr_ci": interval(boot[name], LEVEL),
                               "head_mrr": float((1 / head).mean()), "tail_mrr": float((1 / tail).mean())}
    return out, rk, boot_val
