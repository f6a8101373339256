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
    return {"both": ranking_metrics(np.concatenate([head_ranks, tail_ranks])), "head": ranking_metrics(head_ranks),
            "tail": ranking_metrics(tail_ranks)}


def scorer_rows(g: TraitGraph, train: np.ndarray, val: np.ndarray, test: np.ndarray,
                scorers: dict[str, Callable[[], Scores]]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``{method: {"val": metrics, "test": metrics}}`` for each scorer."""
    out = {}
    for name, make in scorers.items():
        s = make()
        out[name] = {"val": evaluate(g, s, val), "test": evaluate(g, s, test)}
    return out
