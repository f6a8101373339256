"""Hold-out splits by group: whole genera, families or orders (a taxonomic rank), or whole clades
below a cut through the tree (a depth in edges, an age, or a relative height), as image-model
papers split. Test groups are drawn at random until ``test`` of the taxa are held out, then
validation groups by the same rule from the rest; no group spans two sets, which the report
checks (``groups_spanning_sets``, always 0) and lists per set.

>>> s = group_split({"a": "G1", "b": "G1", "c": "G2", "d": "G3", "e": "G3", "f": "G4"},
...                 test=0.3, val=0.3, seed=0, method="rank", rule={"rank": "genus"})
>>> s.report["groups_spanning_sets"], sorted(s.counts().items())
(0, [('test', 1), ('train', 4), ('val', 1)])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ValidationError
from kg.training.splits import SPLITS, Split, check_degenerate

RANK_SPLITS = ("rank",)
CUT_SPLITS = ("age", "depth", "relative")


def _deal_groups(sizes: pd.Series, target: float, rng: np.random.Generator, skip: set[str]) -> list[str]:
    """Groups (in a seeded random order) whose taxa fit within ``target``."""
    out: list[str] = []
    n = 0
    for g in rng.permutation(np.asarray(sizes.index, dtype=object)).tolist():
        if n >= target:
            break
        if g in skip or n + int(sizes[g]) > target:
            continue
        out.append(g)
        n += int(sizes[g])
    return out


def group_split(groups: Mapping[str, str], *, test: float = 0.2, val: float = 0.1, seed: int = 0,
                method: str = "rank", rule: Mapping[str, Any] | None = None, strict: bool = False,
                ungrouped: list[str] | None = None) -> Split:
    """Deal whole groups (``groups``: taxon -> group label) to test, then validation, the rest to
    training; ``rule`` (the rank or cut) and ``ungrouped`` (taxa that had no group and stand alone)
    go into the report."""
    if not 0 < test < 1 or not 0 <= val < 1 - test:
        raise ValidationError(f"test={test}, val={val}: expected 0 < test < 1 and 0 <= val < 1 - test")
    if not groups:
        raise ValidationError("no taxa to split")
    rng = np.random.default_rng(seed)
    lab = pd.Series(groups, dtype=object)
    sizes = lab.value_counts(sort=False)
    k = len(lab)
    test_groups = _deal_groups(sizes, test * k, rng, set())
    val_groups = _deal_groups(sizes, val * k, rng, set(test_groups))
    where = {g: "test" for g in test_groups} | {g: "val" for g in val_groups}
    s = lab.map(lambda g: where.get(g, "train")).astype(object)
    per_set = {x: sorted(where_g for where_g, sx in where.items() if sx == x) for x in ("test", "val")}
    spanning = int((pd.DataFrame({"g": lab, "s": s}).groupby("g")["s"].nunique() > 1).sum())
    rep = {"method": method, **dict(rule or {}), "seed": seed, "test_target": test, "val_fraction": val,
           "groups": int(len(sizes)), "groups_spanning_sets": spanning,
           "test_groups": [{"group": g, "taxa": int(sizes[g])} for g in per_set["test"]],
           "val_groups": [{"group": g, "taxa": int(sizes[g])} for g in per_set["val"]],
           "held_out_taxa": int((s == "test").sum()), "held_out_fraction": float((s == "test").sum()) / k,
           "ungrouped": list(ungrouped or []), **{x: int((s == x).sum()) for x in SPLITS}}
    what = ", ".join(f"{k_}={v!r}" for k_, v in (rule or {}).items())
    return check_degenerate(Split(s, method, seed, rep), (1 - test - val, val, test), strict=strict,
                            what=f" ({len(sizes)} groups by {what or method})")


def rank_groups(ranks: pd.DataFrame, rank: str) -> tuple[dict[str, str], list[str]]:
    """Taxon -> its name at ``rank`` (from :func:`kg.training.ranks.rank_labels`); a taxon the
    taxonomy gives no such rank stands alone (its own group) and is listed."""
    if rank not in ranks.columns:
        raise ValidationError(f"rank {rank!r} is not in the loaded taxonomy; ranks present: "
                              f"{', '.join(map(str, ranks.columns)) or 'none'}")
    col = ranks[rank].fillna("").astype(str)
    missing = [t for t, v in col.items() if not v]
    return {t: (v or f"(no {rank}) {t}") for t, v in col.items()}, missing


def cut_groups(index: Any, taxa: Any, cut: float, by: str) -> dict[str, str]:
    """Taxon -> the clade it belongs to below a cut through the tree (``by`` age, relative height
    or depth: the lineage crossing the cut, see :mod:`kg.training.levels`)."""
    from kg.training.levels import assign, check_cut

    if by not in CUT_SPLITS:
        raise ValidationError(f"cut by {by!r}: expected one of {', '.join(CUT_SPLITS)}")
    node = assign(index, taxa.ids, check_cut(index, float(cut), by), by)
    return {t: (index.names[v] or f"node:{v}") + f" [{v}]" for t, v in zip(taxa.names, node.tolist())}
