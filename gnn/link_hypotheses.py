"""``hypothesize --task linkpred``: the presence/absence triples ranked as links (filtered,
both-sided MRR and Hits@k of the model against the marginal baseline, label propagation and the
phylogenetic nearest neighbour), the gate on validation MRR (the model must win in 95% of paired
bootstrap resamples of the validation triples), and the chosen scorer's most confident triples
for the unknown cells written as hypotheses. Every validation and test triple's head and tail
rank under every scorer is stored with the run, so its MRR, Hits@k and intervals can be
recomputed from the KG."""

from __future__ import annotations

from typing import Any

import numpy as np

from gnn.audit import LEVEL, RESAMPLES, entity_pairs, held_out_clades, written_violations
from gnn.baselines import baselines_at
from gnn.data import TraitGraph
from gnn.linkpred import Scores, link_metrics, marginal_scores, presence_scores
from gnn.predict import ABSENCE, CONFIDENCE, PRESENCE, Gate, Hypothesis, Prediction, conflict_list, keep_whole_ties
from gnn.predict import unknown_cells as unknown
from gnn.tasks import Split

BASELINES = ("marginal", "label-propagation", "phylo-nn")


def presence_grid(g: TraitGraph, train: np.ndarray, name: str) -> np.ndarray:
    """(taxa x entities) probabilities of presence of an imputation baseline; the marginal
    baseline's is the entity's training rate of presence."""
    gt, ge = np.repeat(g.tips, g.n_entities), np.tile(np.arange(g.n_entities), len(g.tips))
    m = np.zeros((g.n_taxa, g.n_entities))
    m[gt, ge] = baselines_at(g, train, gt, ge, ["majority" if name == "marginal" else name])[
        "majority" if name == "marginal" else name]
    return m


def link_prediction(g: TraitGraph, s: Split, probs: np.ndarray, *, seed: int,
                    limit: int | None) -> tuple[Prediction, dict[str, Any], list[dict[str, Any]]]:
    """The gate, the hypotheses, the audit (metrics with intervals) and the cells with their ranks."""
    scorers: dict[str, Scores] = {"marginal": marginal_scores(g, s.train)}
    grids = {n: presence_grid(g, s.train, n) for n in BASELINES}
    for n in BASELINES[1:]:
        scorers[n] = presence_scores(grids[n])
    scorers["model"] = presence_scores(probs)
    grids["model"] = probs
    metrics, rk, boot = link_metrics(g, s.train, {"val": s.val, "test": s.test}, scorers, seed=seed)
    base = {n: metrics[n]["val"]["mrr"] for n in BASELINES}
    best = max(sorted(base), key=lambda n: base[n])
    win = float(np.mean(boot["model"] > boot[best]))
    chosen = "model" if metrics["model"]["val"]["mrr"] > base[best] and win >= CONFIDENCE else best
    gate = Gate(metrics["model"]["val"]["mrr"], base, best, chosen, win, "MRR")
    qt, qe = unknown(g)
    p = grids[chosen][qt, qe]
    conf = np.maximum(p, 1 - p)
    order = np.argsort(-conf, kind="mergesort")
    kept, report = keep_whole_ties(conf[order], limit)
    hyps = []
    for k in order[:kept].tolist():
        present = bool(p[k] >= 0.5)

        def stmt(x: float, present: bool = present) -> float:
            return float(x if present else 1 - x)
        hyps.append(Hypothesis(g.taxa[qt[k]], PRESENCE if present else ABSENCE, g.entities[qe[k]], stmt(p[k]), chosen,
                               stmt(probs[qt[k], qe[k]]), best, stmt(grids[best][qt[k], qe[k]]), gate.model_val,
                               base[best], chosen))
    cells = []
    pos = {side: {int(c): i for i, c in enumerate(getattr(s, side).tolist())} for side in ("val", "test")}
    for c in range(len(g.cells["y"])):
        side = next((x for x in ("val", "test") if c in pos[x]), "train")
        rec: dict[str, Any] = {"taxon": g.taxa[g.cells["taxon"][c]], "entity": g.entities[g.cells["entity"][c]],
                               "y": int(g.cells["y"][c]), "side": side}
        if side != "train":
            i = pos[side][c]
            rec["scores"] = {n: [float(rk[n][side][0][i]), float(rk[n][side][1][i])] for n in scorers}
        cells.append(rec)
    pairs = entity_pairs(g)
    audit = {"methodMetrics": metrics, "heldOutClades": held_out_clades(g, s), "entityPairs": pairs,
             "violations": {"written_by": chosen, "written": written_violations(cells, hyps, pairs)},
             "bootstrap": {"seed": seed, "resamples": RESAMPLES, "level": LEVEL, "unit": "triple (head and tail rank)"}}
    return Prediction(gate, hyps, report, conflict_list(g)), audit, cells
