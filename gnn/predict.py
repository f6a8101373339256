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

    @property
    def best_baseline_val(self) -> float:
        return self.baseline_val[self.best_baseline]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_baseline_val": self.best_baseline_val,
                "reason": (f"model validation AUC {self.model_val:.4f} vs best baseline {self.best_baseline} "
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
    gate: Gate
    hypotheses: list[Hypothesis] = field(default_factory=list)


def gate(g: TraitGraph, split: Split, model_val_probs: np.ndarray | None) -> Gate:
    """Validation AUC of every baseline and of the model (``None``: no model) and the choice."""
    yv = g.cells["y"][split.val]
    probs = run_baselines(g, split.train, split.val)
    base = {n: round(auc(yv, p), 4) for n, p in probs.items()}
    best = max(sorted(base), key=lambda n: (np.nan_to_num(base[n], nan=-1.0)))
    if model_val_probs is None:
        return Gate(float("nan"), base, best, best, 0.0)
    mv = round(auc(yv, model_val_probs), 4)
    conf = bootstrap_win(yv, np.asarray(model_val_probs), probs[best], seed=split.seed)
    chosen = "model" if np.nan_to_num(mv, nan=-1.0) > np.nan_to_num(base[best], nan=-1.0) and conf >= CONFIDENCE else best
    return Gate(mv, base, best, chosen, conf)


def unknown_cells(g: TraitGraph) -> tuple[np.ndarray, np.ndarray]:
    """(taxon node, entity) pairs of labelled tips with no call for the entity: what to hypothesise."""
    tips = g.tips
    known = np.zeros((g.n_taxa, g.n_entities), dtype=bool)
    known[g.cells["taxon"], g.cells["entity"]] = True
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
    if limit is not None:
        order = order[:limit]
    out = []
    for k in order.tolist():
        present = chosen_p[k] >= 0.5

        def stmt(p: float, present: bool = present) -> float:
            return round(float(p if present else 1 - p), 4)
        out.append(Hypothesis(g.taxa[qt[k]], PRESENCE if present else ABSENCE, g.entities[qe[k]], stmt(chosen_p[k]),
                              gt.chosen, stmt(mp[k]) if model_probs is not None else float("nan"),
                              gt.best_baseline, stmt(bp[k]), gt.model_val, gt.best_baseline_val, gt.chosen))
    return Prediction(gt, out)
