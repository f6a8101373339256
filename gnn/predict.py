"""The gate and the hypotheses: the learned model is used only where it beats the best baseline
on validation; every hypothesis says which was chosen and with what scores.

The gate compares validation AUC on the split the model was trained on: the model is chosen only
if its AUC is higher than the best baseline's AND higher in at least ``CONFIDENCE`` (95%) of paired
bootstrap resamples of the validation cells (a win by a hair is not a win). The model's epoch was
picked on the same validation cells, which favours it slightly; the bootstrap is there for that too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gnn.baselines import baselines_at, run_baselines
from gnn.data import TraitGraph
from gnn.evaluate import auc
from gnn.tasks import Split

PRESENCE, ABSENCE = "tkg:hasPresenceOf", "tkg:hasAbsenceOf"
CONFIDENCE = 0.95
RESAMPLES = 200


def bootstrap_win(y: np.ndarray, p_model: np.ndarray, p_base: np.ndarray, *, n: int = RESAMPLES,
                  seed: int = 0) -> float:
    """Share of paired bootstrap resamples of the cells where the model's AUC beats the baseline's.

    >>> y = np.array([0, 1] * 50)
    >>> bootstrap_win(y, y * 0.9 + 0.05, np.full(100, 0.5))
    1.0
    """
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(n):
        k = rng.integers(0, len(y), len(y))
        wins += auc(y[k], p_model[k]) > auc(y[k], p_base[k])
    return wins / n


@dataclass
class Gate:
    """Validation AUC of the model and of every baseline; the one chosen."""

    model_val: float
    baseline_val: dict[str, float]
    best_baseline: str
    chosen: str  # "model" or the baseline's name
    confidence: float = float("nan")  # share of bootstrap resamples where the model wins
    metric: str = "AUC"  # what is compared: validation AUC (imputation) or MRR (link prediction)

    @property
    def best_baseline_val(self) -> float:
        return self.baseline_val[self.best_baseline]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_baseline_val": self.best_baseline_val,
                "reason": (f"model validation {self.metric} {self.model_val:.4f} vs best baseline {self.best_baseline} "
                           f"{self.best_baseline_val:.4f}; the model wins {self.confidence:.0%} of bootstrap "
                           f"resamples ({'>=' if self.chosen == 'model' else '<'} {CONFIDENCE:.0%} needed)")}


@dataclass
class Hypothesis:
    subject: str       # taxon CURIE
    predicate: str     # tkg:hasPresenceOf | tkg:hasAbsenceOf
    object: str        # entity CURIE
    score: float       # probability of the statement under the chosen method
    method: str        # "model" or a baseline name
    model_score: float  # the model's probability of the statement
    baseline: str
    baseline_score: float
    model_val: float
    baseline_val: float
    chosen: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Prediction:
    """The gate, the hypotheses kept, what ``limit`` left out (:func:`keep_whole_ties`) and the
    cells with contradicting calls (reported, never hypothesised)."""

    gate: Gate
    hypotheses: list[Hypothesis] = field(default_factory=list)
    limit: dict[str, Any] = field(default_factory=dict)
    conflicts: list[dict[str, str]] = field(default_factory=list)


def keep_whole_ties(conf: np.ndarray, limit: int | None) -> tuple[int, dict[str, Any]]:
    """How many of the confidences ``conf`` (sorted, most confident first) to keep: at most ``limit``,
    and never part of a set of equal confidences. Returns (kept, a report of what was left out).

    >>> keep_whole_ties(np.array([0.9, 0.8, 0.8, 0.8, 0.7]), 3)[0]
    1
    >>> keep_whole_ties(np.array([1.0, 1.0]), 1)[1]["tie_set_over_limit"]
    {'score': 1.0, 'size': 2}
    """
    n = len(conf)
    report: dict[str, Any] = {"limit": limit, "candidates": int(n), "kept": int(n), "left_out": 0,
                              "tie_set_over_limit": None}
    if limit is None or n <= limit:
        return n, report
    k = int(limit)
    if k > 0 and conf[k] == conf[k - 1]:  # the limit falls inside a tie set: leave the whole set out
        v = conf[k - 1]
        k = int(np.searchsorted(-conf, -v, side="left"))
        report["tie_set_over_limit"] = {"score": float(v), "size": int(np.sum(conf == v))}
    report.update(kept=k, left_out=int(n - k))
    return k, report


def limit_note(report: dict[str, Any]) -> str:
    """One line on what ``limit`` left out."""
    if not report or not report.get("left_out"):
        return f"all {report.get('candidates', 0)} candidate hypotheses kept"
    msg = f"--limit {report['limit']}: kept {report['kept']} of {report['candidates']}, left out {report['left_out']}"
    over = report.get("tie_set_over_limit")
    if over:
        msg += (f"; a set of {over['size']} hypotheses tied at score {over['score']!r} would cross the limit, "
                "so it was left out whole (raise --limit to keep it)")
    return msg


def gate(g: TraitGraph, split: Split, model_val_probs: np.ndarray | None) -> Gate:
    """Validation AUC of every baseline and of the model (``None``: no model) and the choice."""
    yv = g.cells["y"][split.val]
    probs = run_baselines(g, split.train, split.val)
    base = {n: auc(yv, p) for n, p in probs.items()}
    best = max(sorted(base), key=lambda n: (np.nan_to_num(base[n], nan=-1.0)))
    if model_val_probs is None:
        return Gate(float("nan"), base, best, best, 0.0)
    mv = auc(yv, model_val_probs)
    conf = bootstrap_win(yv, np.asarray(model_val_probs), probs[best], seed=split.seed)
    chosen = "model" if np.nan_to_num(mv, nan=-1.0) > np.nan_to_num(base[best], nan=-1.0) and conf >= CONFIDENCE else best
    return Gate(mv, base, best, chosen, conf)


def unknown_cells(g: TraitGraph) -> tuple[np.ndarray, np.ndarray]:
    """(taxon node, entity) pairs of labelled tips with no call for the entity: what to hypothesise.
    Cells with both a present and an absent call (``g.ambiguous``) are known, not unknown."""
    tips = g.tips
    known = np.zeros((g.n_taxa, g.n_entities), dtype=bool)
    known[g.cells["taxon"], g.cells["entity"]] = True
    if g.ambiguous and len(g.ambiguous["taxon"]):
        known[g.ambiguous["taxon"], g.ambiguous["entity"]] = True
    sub = ~known[tips]
    r, c = np.nonzero(sub)
    return tips[r], c


def predict(g: TraitGraph, split: Split, model_probs: np.ndarray | None, *, limit: int | None = None,
            min_score: float = 0.5) -> Prediction:
    """Hypotheses for the unknown cells, most confident first. ``model_probs``: the model's
    (taxa x entities) probabilities of presence (``None``: baselines only)."""
    mv = None if model_probs is None else model_probs[g.cells["taxon"][split.val], g.cells["entity"][split.val]]
    gt = gate(g, split, mv)
    qt, qe = unknown_cells(g)
    bp = baselines_at(g, split.train, qt, qe, [gt.best_baseline])[gt.best_baseline]
    mp = model_probs[qt, qe] if model_probs is not None else np.full(len(qt), np.nan)
    chosen_p = mp if gt.chosen == "model" else bp
    conf = np.maximum(chosen_p, 1 - chosen_p)
    order = np.argsort(-conf, kind="mergesort")
    order = order[conf[order] >= min_score]
    kept, report = keep_whole_ties(conf[order], limit)
    order = order[:kept]
    out = []
    for k in order.tolist():
        present = chosen_p[k] >= 0.5

        def stmt(p: float, present: bool = present) -> float:
            return float(p if present else 1 - p)
        out.append(Hypothesis(g.taxa[qt[k]], PRESENCE if present else ABSENCE, g.entities[qe[k]], stmt(chosen_p[k]),
                              gt.chosen, stmt(mp[k]) if model_probs is not None else float("nan"),
                              gt.best_baseline, stmt(bp[k]), gt.model_val, gt.best_baseline_val, gt.chosen))
    return Prediction(gt, out, report, conflict_list(g))


def conflict_list(g: TraitGraph) -> list[dict[str, str]]:
    """The cells whose calls contradict each other (``g.ambiguous`` of kind conflict), as CURIEs."""
    a = g.ambiguous
    if not a or not len(a["taxon"]):
        return []
    return [{"taxon": g.taxa[t], "entity": g.entities[e], "tiers": str(tiers)}
            for t, e, k, tiers in zip(a["taxon"].tolist(), a["entity"].tolist(), a["kind"], a["tiers"]) if k == "conflict"]
