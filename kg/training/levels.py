"""Level groups from cuts through a tree, ancestor paths, and cuts chosen from the data.

A cut by ``age`` (time before the present, ultrametric trees) or ``relative`` height (0 at the
root, 1 at the tips) puts each tip in the group of the lineage that crosses the cut; a cut by
``depth`` (edges from the root) in the group of its ancestor at that depth (or itself when it is
shallower). Groups are numbered per level in preorder of their crossing node, so the numbers are
stable for one tree version.

>>> from loaders.newick_grammar import parse_newick
>>> from kg.treeindex import TreeIndex
>>> from kg.training.taxa import match_taxa
>>> ix = TreeIndex.from_parsed(parse_newick("((A:1,B:1)x:2,(C:2,D:2)y:1)r;"))
>>> lv = level_groups(ix, match_taxa(ix, None), [2.5, 1.5], by="age")
>>> lv.groups.values.tolist()
[[0, 0], [0, 0], [1, 1], [1, 2]]
>>> lv.names.iloc[0].tolist()
['x', 'x']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg.core.errors import ValidationError

BY = ("age", "relative", "depth")
#: how far root-to-tip distances may differ (relative to the height) for a tree to count as ultrametric
#: here: rounded branch lengths in published chronograms differ by more than the index's 1e-6
ULTRAMETRIC_TOL = 1e-3


def node_ages(index: Any) -> np.ndarray:
    """Node ages (time before the present) of a tree that is ultrametric within :data:`ULTRAMETRIC_TOL`."""
    return index.ages(ULTRAMETRIC_TOL)


@dataclass
class Levels:
    """Group numbers (``groups``) and crossing-node labels (``names``) per taxon and level, the node
    ids (``nodes``), the cuts, how they were measured and a report per level."""

    groups: pd.DataFrame
    names: pd.DataFrame
    nodes: pd.DataFrame
    cuts: list[float]
    by: str
    report: list[dict[str, Any]] = field(default_factory=list)

    def strings(self, sep: str = "_") -> pd.Series:
        """Per taxon, its group numbers from the coarsest level to the finest joined by ``sep``."""
        return self.groups.astype(str).agg(sep.join, axis=1)


def _node_name(index: Any, v: int) -> str:
    return index.names[v] or f"node:{v}"


def _crossing(index: Any, cut: float, by: str) -> np.ndarray:
    """Nodes whose lineage crosses the cut (disjoint subtrees covering every tip)."""
    if by == "depth":
        d = index.depth
        return np.flatnonzero((d == int(cut)) | ((index.size == 1) & (d < int(cut))))
    ages = node_ages(index)
    par_age = np.full(len(ages), np.inf)
    par_age[1:] = ages[index.parent[1:]]
    return np.flatnonzero((ages < cut) & (par_age >= cut))


def tree_height(index: Any, by: str) -> float:
    if by == "depth":
        return float(index.depth[index.tips].max())
    return float(node_ages(index)[0])


def check_cut(index: Any, cut: float, by: str) -> float:
    """The cut as an age (or depth); a cut outside the tree's height is an error."""
    if by not in BY:
        raise ValidationError(f"cuts by {by!r}: expected one of {', '.join(BY)}")
    h = tree_height(index, by)
    if by == "relative":
        if not 0 < cut < 1:
            raise ValidationError(f"relative cut {cut} is outside the tree's height: expected 0 < cut < 1 "
                                  "(0 is the root, 1 the tips)")
        return h * (1 - cut)
    if by == "depth":
        if cut != int(cut) or not 1 <= cut <= h:
            raise ValidationError(f"depth cut {cut} is outside the tree: expected a whole number of edges "
                                  f"from 1 to {int(h)}")
        return float(cut)
    low = float(node_ages(index)[index.tips].max())  # 0, or the rounding of a published chronogram
    if not low < cut < h:
        raise ValidationError(f"age cut {cut:g} is outside the tree's height: expected {low:g} < age < {h:g} "
                              "(the youngest tip's and the root's age)")
    return float(cut)


def assign(index: Any, tips: np.ndarray, cut: float, by: str) -> np.ndarray:
    """The crossing node above each tip for one (checked) cut."""
    cross = _crossing(index, cut, "depth" if by == "depth" else "age")
    j = np.searchsorted(cross, tips, side="right") - 1
    return cross[j]


def level_groups(index: Any, taxa: Any, cuts: Sequence[float], *, by: str = "age") -> Levels:
    """Group labels of ``taxa`` (a :class:`kg.training.taxa.TaxonSet`) at each cut, coarsest first."""
    if not cuts:
        raise ValidationError("no cuts given")
    real = [check_cut(index, float(c), by) for c in cuts]
    order = sorted(range(len(real)), key=lambda k: (real[k] if by == "depth" else -real[k]))
    cols = [f"level{n}" for n in range(len(real))]
    g, nm, nd = {}, {}, {}
    report = []
    for col, k in zip(cols, order):
        node = assign(index, taxa.ids, real[k], by)
        uniq, num = np.unique(node, return_inverse=True)
        g[col], nd[col] = num, node
        nm[col] = [_node_name(index, int(v)) for v in node.tolist()]
        report.append({"level": col, "cut": float(cuts[k]), "by": by, **group_stats(num)})
    ix = pd.Index(taxa.names, name="taxon")
    return Levels(pd.DataFrame(g, index=ix), pd.DataFrame(nm, index=ix), pd.DataFrame(nd, index=ix),
                  [float(cuts[k]) for k in order], by, report)


def check_levels(lv: Levels, asked: int, n_taxa: int, *, strict: bool = False) -> Levels:
    """Warn (``strict``: refuse) when fewer levels came out than were asked for, or a level puts
    every taxon in one group; the message goes into each level's report under ``warnings``."""
    import logging

    msgs = []
    if len(lv.cuts) < asked:
        msgs.append(f"{len(lv.cuts)} level(s) of the {asked} asked for from {n_taxa} taxa "
                    f"(the taxa's subtree has too few distinct cuts)")
    single = [r["level"] for r in lv.report if r["groups"] < 2]
    if single:
        msgs.append(f"level(s) {', '.join(single)} put all {n_taxa} taxa in one group")
    if msgs and strict:
        raise ValidationError("; ".join(msgs))
    for m in msgs:
        logging.getLogger(__name__).warning("levels: %s", m)
    for r in lv.report:
        r["warnings"] = msgs
    return lv


def group_stats(num: np.ndarray) -> dict[str, Any]:
    sizes = np.bincount(num)
    g = len(sizes)
    p = sizes / sizes.sum()
    even = float(-(p * np.log(p)).sum() / np.log(g)) if g > 1 else 1.0
    return {"groups": int(g), "min_size": int(sizes.min()), "median_size": float(np.median(sizes)),
            "max_size": int(sizes.max()), "evenness": even}


def ancestor_paths(index: Any, taxa: Any, *, names: bool = True) -> dict[str, list[Any]]:
    """Per taxon, its ancestors from the root down to the tip (labels, ``node:N`` where unnamed, or
    node ids with ``names=False``)."""
    out: dict[str, list[Any]] = {}
    parent = index.parent.tolist()
    for t, v in zip(taxa.names, taxa.ids.tolist()):
        path = []
        while v >= 0:
            path.append(v)
            v = parent[v]
        path.reverse()
        out[t] = [_node_name(index, p) for p in path] if names else path
    return out


# --------------------------------------------------------------------------- cuts chosen from the data

def _signal(num: np.ndarray, values: np.ndarray) -> float:
    """Mean adjusted share of trait variance between groups (eta squared), over traits; NaN cells left out."""
    scores = []
    for j in range(values.shape[1]):
        y = values[:, j]
        ok = ~np.isnan(y)
        if ok.sum() < 3:
            continue
        yy, gg = y[ok], np.unique(num[ok], return_inverse=True)[1]
        n, g = len(yy), int(gg.max()) + 1
        tot = float(((yy - yy.mean()) ** 2).sum())
        if tot == 0 or g < 2 or g >= n:
            continue
        means = np.bincount(gg, yy) / np.bincount(gg)
        within = float(((yy - means[gg]) ** 2).sum())
        r2 = 1 - within / tot
        scores.append(1 - (1 - r2) * (n - 1) / (n - g))
    return float(np.mean(scores)) if scores else float("nan")


def choose_cuts(index: Any, taxa: Any, n_levels: int, *, method: str = "balanced", by: str = "age",
                values: pd.DataFrame | None = None, max_candidates: int = 200) -> Levels:
    """Choose ``n_levels`` cuts from the data: candidate cuts between the node ages (or depths) of the
    taxa's subtree, binned by log(number of groups); per bin the most even group sizes
    (``balanced``) or the largest adjusted between-group share of trait variance (``signal``,
    needs ``values``: taxa x traits, numbers, NaN for missing). Levels make at most half as many
    groups as there are taxa."""
    if method not in ("balanced", "signal"):
        raise ValidationError(f"cut method {method!r}: expected 'balanced' or 'signal'")
    if by == "relative":
        by = "age"
    if n_levels < 1:
        raise ValidationError(f"n_levels={n_levels}: expected at least 1")
    vals = None
    if method == "signal":
        if values is None or values.empty:
            raise ValidationError("cuts by phylogenetic signal need trait values (taxa x traits); none given")
        vals = values.reindex(taxa.names).to_numpy(dtype=np.float64)
    tips = taxa.ids
    if by == "depth":
        cand = np.arange(1, int(index.depth[tips].max()) + 1, dtype=np.float64)
    else:
        nodes, _, _ = index.induced(tips)
        ages = np.unique(node_ages(index)[nodes])
        cand = (ages[:-1] + ages[1:]) / 2
        cand = cand[cand > node_ages(index)[index.tips].max()]
    if len(cand) > max_candidates:  # log-spaced from the root down: group counts cover every scale
        step = np.unique(np.geomspace(1, len(cand), max_candidates).round().astype(int)) - 1
        cand = (cand[::-1] if by != "depth" else cand)[step]
    rows = []
    for c in cand.tolist():
        num = np.unique(assign(index, tips, c, by), return_inverse=True)[1]
        st = group_stats(num)
        if st["groups"] < 2 or st["groups"] > max(2, len(tips) // 2):  # levels above the species
            continue
        st["cut"] = c
        st["signal"] = _signal(num, vals) if vals is not None else None
        rows.append(st)
    if not rows:
        raise ValidationError("the taxa's subtree has no cut that makes between 2 groups and half as many "
                              "groups as taxa; give fixed cuts")
    logg = np.log([r["groups"] for r in rows])
    edges = np.linspace(logg.min(), logg.max() + 1e-9, n_levels + 1)
    chosen = []
    for b in range(n_levels):
        inbin = [r for r, x in zip(rows, logg) if edges[b] <= x < edges[b + 1]]
        if not inbin:
            continue
        key = "evenness" if method == "balanced" else "signal"
        # ties (e.g. a trait explained fully at several cuts) go to the fewer groups
        best = max(inbin, key=lambda r: (-1 if r[key] is None or r[key] != r[key] else round(r[key], 9),
                                         -r["groups"]))
        chosen.append(best)
    lv = level_groups(index, taxa, [r["cut"] for r in chosen], by=by)
    for rep in lv.report:
        src = next(r for r in chosen if r["cut"] == rep["cut"])
        rep["chosen_by"] = method
        if src.get("signal") is not None:
            rep["signal"] = src["signal"]
    return lv
