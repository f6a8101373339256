"""Metrics for presence/absence predictions and filtered, both-sided ranking for link prediction.

>>> m = binary_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.6, 0.7]))
>>> m["auc"], m["accuracy"]
(0.75, 0.75)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney with average ranks: ties count half); ``nan`` with one class only.

    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9]))
    0.875
    """
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(p, dtype=float), return_inverse=True, return_counts=True)
    start = np.cumsum(counts) - counts  # 0-based position of each distinct value's first occurrence
    r = (start + (counts + 1) / 2)[inverse.reshape(-1)]
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, accuracy and balanced accuracy at 0.5, Brier score, log loss, n."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    hard = (p > 0.5).astype(float)
    pos, neg = y == 1, y == 0
    bal = 0.5 * ((hard[pos] == 1).mean() if pos.any() else np.nan) + 0.5 * ((hard[neg] == 0).mean() if neg.any() else np.nan)
    return {"auc": auc(y, p), "accuracy": float((hard == y).mean()), "balanced_accuracy": float(bal),
            "brier": float(((p - y) ** 2).mean()), "log_loss": float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()),
            "n": int(len(y))}


def ontology_violations(probs: np.ndarray, anc: np.ndarray, taxa: np.ndarray) -> float:
    """Share of (taxon, part, whole) triples over ``taxa`` where the part is predicted present
    (p > 0.5) and the whole absent (p < 0.5): what the ontology's logic forbids."""
    if len(anc) == 0 or len(taxa) == 0:
        return 0.0
    p = probs[np.asarray(taxa)]
    bad = (p[:, anc[:, 0]] > 0.5) & (p[:, anc[:, 1]] < 0.5)
    return float(bad.mean())


def filtered_ranks(scores: np.ndarray, true: np.ndarray, known: list[set[int]]) -> np.ndarray:
    """Filtered rank of each query's true candidate: ``scores`` (queries, candidates); the other
    candidates known to be true for that query (``known[i]``, e.g. from train/val/test) are left out
    of the ranking; ties are ranked in the middle (rank = 1 + better + ties / 2).

    >>> filtered_ranks(np.array([[0.9, 0.8, 0.1]]), np.array([1]), [{0, 1}]).tolist()
    [1.0]
    """
    out = np.empty(len(true))
    for i in range(len(true)):
        s = scores[i].astype(float).copy()
        t = int(true[i])
        others = [k for k in known[i] if k != t]
        if others:
            s[others] = -np.inf
        better = int((s > s[t]).sum())
        ties = int((s == s[t]).sum()) - 1
        out[i] = 1 + better + ties / 2
    return out


def ranking_metrics(ranks: np.ndarray) -> dict[str, float]:
    """MRR, Hits@1, Hits@10 and n from filtered ranks.

    >>> {k: round(v, 4) for k, v in ranking_metrics(np.array([1.0, 2.0, 20.0])).items()}
    {'mrr': 0.5167, 'hits@1': 0.3333, 'hits@3': 0.6667, 'hits@10': 0.6667, 'n': 3}
    """
    r = np.asarray(ranks, dtype=float)
    return {"mrr": float((1 / r).mean()), "hits@1": float((r <= 1).mean()), "hits@3": float((r <= 3).mean()),
            "hits@10": float((r <= 10).mean()), "n": int(len(r))}


def jsonable(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by ``None`` and numpy scalars by Python ones, so
    that ``json.dumps(..., allow_nan=False)`` accepts it (full precision kept).

    >>> jsonable({"a": float("nan"), "b": [np.float64(0.125), np.int64(3)]})
    {'a': None, 'b': [0.125, 3]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj
