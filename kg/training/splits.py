"""Seeded train / val / test splits: random, leave-species-out, and clade hold-out (by clade
size here; by taxonomic rank or by a cut through the tree in :mod:`kg.training.groupsplit`).

A clade hold-out puts whole clades (internal nodes whose clade holds between ``min_size`` and
``max_size`` of the taxa) into the test set, chosen at random without overlap until ``test`` of the
taxa are held out, then draws validation clades by the same rule from the rest, so no clade of
val or test has a training member; the report counts the held-out clades and names them.

A split that leaves a set empty although a share was asked for it (3 taxa: train 3, val 0,
test 0) is degenerate: it is logged as a warning and listed in ``report["warnings"]``, or refused
with ``strict=True``.

>>> s = random_split(["a", "b", "c", "d"], fractions=(0.5, 0.25, 0.25), seed=1)
>>> sorted(s.assignment.value_counts().items())
[('test', 1), ('train', 2), ('val', 1)]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ValidationError

SPLITS = ("train", "val", "test")
log = logging.getLogger(__name__)


@dataclass
class Split:
    """``assignment``: key (taxon or image) -> train / val / test; how it was made; a report."""

    assignment: pd.Series
    method: str
    seed: int
    report: dict[str, Any] = field(default_factory=dict)

    def for_items(self, taxa: Sequence[str]) -> pd.Series:
        """The split of each item (image) from the split of its taxon."""
        return pd.Series([self.assignment.get(t, "") for t in taxa], dtype=object)

    def counts(self) -> dict[str, int]:
        vc = self.assignment.value_counts()
        return {k: int(vc.get(k, 0)) for k in SPLITS}


def _check(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValidationError(f"split fractions {tuple(fractions)}: expected three non-negative numbers "
                              "(train, val, test) summing to 1")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def check_degenerate(split: Split, asked: Sequence[float], *, strict: bool = False, what: str = "") -> Split:
    """Warn (or, ``strict``, refuse) when a set that was given a share (``asked``: train, val, test)
    came out empty; the warnings go into ``split.report["warnings"]``."""
    counts = split.counts()
    n = sum(counts.values())
    empty = [k for k, f in zip(SPLITS, asked) if f > 0 and counts[k] == 0]
    warnings = list(split.report.get("warnings", []))
    if empty:
        msg = (f"degenerate {split.method} split of {n} taxa{what}: train {counts['train']}, val {counts['val']}, "
               f"test {counts['test']} ({', '.join(empty)} empty although "
               f"{', '.join(f'{k}={f!r}' for k, f in zip(SPLITS, asked) if k in empty)} was asked)")
        if strict:
            raise ValidationError(msg)
        log.warning("%s", msg)
        warnings.append(msg)
    split.report["warnings"] = warnings
    return split


def _deal(keys: list[str], fractions: Sequence[float], rng: np.random.Generator) -> pd.Series:
    tr, va, _ = _check(fractions)
    perm = rng.permutation(len(keys))
    n = len(keys)
    n_tr, n_va = int(round(tr * n)), int(round(va * n))
    lab = np.empty(n, dtype=object)
    lab[perm[:n_tr]] = "train"
    lab[perm[n_tr:n_tr + n_va]] = "val"
    lab[perm[n_tr + n_va:]] = "test"
    return pd.Series(lab, index=pd.Index(keys), dtype=object)


def random_split(keys: Sequence[str], *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                 strict: bool = False) -> Split:
    """Each key (an image or a taxon) dealt at random."""
    keys = list(keys)
    s = _deal(keys, fractions, np.random.default_rng(seed))
    out = Split(s, "random", seed, {"method": "random", "fractions": list(fractions), "seed": seed,
                                    **{k: int((s == k).sum()) for k in SPLITS}})
    return check_degenerate(out, fractions, strict=strict)


def species_split(taxa: Sequence[str], *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                  strict: bool = False) -> Split:
    """Leave-species-out: whole species dealt at random, so no species of val/test is seen in training."""
    uniq = list(dict.fromkeys(taxa))
    s = _deal(uniq, fractions, np.random.default_rng(seed))
    out = Split(s, "species", seed, {"method": "species", "fractions": list(fractions), "seed": seed,
                                     **{k: int((s == k).sum()) for k in SPLITS}})
    return check_degenerate(out, fractions, strict=strict)


def _take_clades(cand: np.ndarray, clo: np.ndarray, chi: np.ndarray, taken: np.ndarray, target: float,
                 rng: np.random.Generator, index: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Whole candidate clades (tip ranges ``clo:chi`` of the sorted taxa) not overlapping ``taken``,
    in random order, while their taxa stay within ``target``."""
    mine = np.zeros(len(taken), dtype=bool)
    held: list[dict[str, Any]] = []
    for j in rng.permutation(len(cand)).tolist():
        if mine.sum() >= target:
            break
        a, b = int(clo[j]), int(chi[j])
        if taken[a:b].any() or mine[a:b].any() or mine.sum() + (b - a) > target:
            continue
        mine[a:b] = True
        node = int(cand[j])
        held.append({"node": node, "name": index.names[node] or f"node:{node}", "taxa": b - a})
    return mine, held


def clade_split(index: Any, taxa: Any, *, min_size: int = 2, max_size: int = 20, test: float = 0.2,
                val: float = 0.1, seed: int = 0, strict: bool = False) -> Split:
    """Hold out whole clades (see the module doc) for test, then for validation by the same rule."""
    if not 1 <= min_size <= max_size:
        raise ValidationError(f"clade sizes {min_size}..{max_size}: expected 1 <= min_size <= max_size")
    if not 0 < test < 1 or not 0 <= val < 1 - test:
        raise ValidationError(f"test={test}, val={val}: expected 0 < test < 1 and 0 <= val < 1 - test")
    rng = np.random.default_rng(seed)
    tips = np.asarray(taxa.ids, dtype=np.int64)
    order = np.argsort(tips)
    st = tips[order]
    k = len(st)
    v = np.flatnonzero(index.size > 1)
    lo = np.searchsorted(st, v)
    hi = np.searchsorted(st, v + index.size[v])
    cnt = hi - lo
    ok = (cnt >= min_size) & (cnt <= max_size) & (cnt < k)
    cand, clo, chi = v[ok], lo[ok], hi[ok]
    if not len(cand):
        msg = f"no clade holds between {min_size} and {max_size} of the {k} taxa; widen the size range"
        raise ValidationError(msg)
    test_mask, held = _take_clades(cand, clo, chi, np.zeros(k, dtype=bool), test * k, rng, index)
    val_mask, held_val = _take_clades(cand, clo, chi, test_mask, val * k, rng, index)
    lab = np.full(k, "train", dtype=object)
    lab[test_mask] = "test"
    lab[val_mask] = "val"
    names = np.asarray(taxa.names, dtype=object)[order]
    s = pd.Series(lab, index=pd.Index(names.tolist()), dtype=object).reindex(list(taxa.names))
    rep = {"method": "clade", "seed": seed, "min_size": min_size, "max_size": max_size, "test_target": test,
           "val_fraction": val, "held_out_clades": len(held), "held_out_taxa": int(test_mask.sum()),
           "held_out_fraction": float(test_mask.sum()) / k, "clades": held, "val_clades": held_val,
           "candidate_clades": int(len(cand)), **{x: int((s == x).sum()) for x in SPLITS}}
    return check_degenerate(Split(s, "clade", seed, rep), (1 - test - val, val, test), strict=strict,
                            what=f" (clades of {min_size}..{max_size} taxa)")
