"""Matching a trainer's list of taxa to the tips of a loaded tree, with a report.

A name matches a tip written ``Genus_species`` or ``Genus species`` alike; a name that is not a
tip can still be resolved to one (a synonym or an external id, through ``resolve``) and is then
listed under ``resolved``. Names that are not tips are reported with their fraction; below
``min_fraction`` matched the request is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kg.core.errors import ValidationError
from kg.core.names import normalise_name

#: Below this fraction of matched taxa a training input is refused (most names are then wrong).
MIN_FRACTION = 0.5


@dataclass
class TaxonSet:
    """Taxa matched to a tree: ``names`` (normalised, in the order asked, matched only), their tip
    ``ids`` in the tree index, and the names that are not tips (``missing``)."""

    names: list[str]
    ids: np.ndarray
    missing: list[str] = field(default_factory=list)
    asked: int = 0
    resolved: dict[str, str] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return len(self.names) / self.asked if self.asked else 0.0

    def report(self) -> dict[str, Any]:
        """Counts, every name that is not a tip and every name resolved through a synonym."""
        return {"asked": self.asked, "matched": len(self.names), "missing": len(self.missing),
                "matched_fraction": self.fraction, "missing_names": list(self.missing),
                "resolved": dict(self.resolved)}

    def summary_line(self, names: int = 5) -> str:
        """``taxa: 3 of 4 matched (75.0%); not tips: Nope nope``."""
        line = f"taxa: {len(self.names)} of {self.asked} matched ({100 * self.fraction:.1f}%)"
        if self.missing:
            more = f" and {len(self.missing) - names} more" if len(self.missing) > names else ""
            line += f"; not tips of the tree: {', '.join(self.missing[:names])}{more}"
        return line


def match_taxa(index: Any, taxa: Sequence[str] | None, *, min_fraction: float = MIN_FRACTION,
               tree_name: str = "", resolve: Callable[[list[str]], dict[str, str]] | None = None) -> TaxonSet:
    """Tip ids of ``taxa`` (every tip when ``None``); duplicates are kept once. ``resolve`` maps names
    that are not tips to tip names (synonyms), returning only those it resolved.

    >>> from loaders.newick_grammar import parse_newick
    >>> from kg.treeindex import TreeIndex
    >>> ix = TreeIndex.from_parsed(parse_newick("((A_a:1,B_b:1):1,C_c:2);"))
    >>> s = match_taxa(ix, ["A a", "C_c", "Zz zz"], min_fraction=0.5)
    >>> s.names, s.missing, round(s.fraction, 2)
    (['A a', 'C c'], ['Zz zz'], 0.67)
    """
    if taxa is None:
        tips = index.tips
        return TaxonSet([normalise_name(index.names[i]) for i in tips.tolist()], tips.astype(np.int64),
                        [], len(tips))
    seen: dict[str, None] = {}
    for t in taxa:
        n = normalise_name(str(t))
        if n:
            seen.setdefault(n, None)
    names = list(seen)
    if not names:
        raise ValidationError("no taxa given")
    found = index.exact_ids([n.replace(" ", "_") for n in names])
    tip_of: dict[str, int] = {}
    for k, n in enumerate(names):
        i = int(found[k]) if found is not None else index.find(n)
        if i is not None and i >= 0 and index.size[i] == 1:
            tip_of[n] = i
    resolved: dict[str, str] = {}
    unknown = [n for n in names if n not in tip_of]
    if unknown and resolve is not None:
        for n, tip in resolve(unknown).items():
            i = index.find(tip)
            if i is not None and index.size[i] == 1:
                tip_of[n] = i
                resolved[n] = normalise_name(tip)
    ids: list[int] = []
    ok: list[str] = []
    missing: list[str] = []
    taken: set[str] = set()
    for n in names:
        if n not in tip_of:
            missing.append(n)
            continue
        name = resolved.get(n, n)
        if name not in taken:  # a synonym and its accepted name: one row
            taken.add(name)
            ok.append(name)
            ids.append(tip_of[n])
    out = TaxonSet(ok, np.asarray(ids, dtype=np.int64), missing, len(names), resolved)
    if out.fraction < min_fraction:
        where = f" of tree {tree_name!r}" if tree_name else ""
        more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
        raise ValidationError(
            f"{len(missing)} of {len(names)} taxa ({100 * (1 - out.fraction):.1f}%) are not tips{where}: "
            f"{', '.join(map(repr, missing[:10]))}{more}; at least {100 * min_fraction:.0f}% must match "
            "(lower min_fraction to accept fewer)")
    return out
