"""Species-level trait expectation matrices with the tier of every cell.

Presence/absence calls (:meth:`kg.traits.Traits.calls`, asserted and inferred) become 1.0 / 0.0;
a polymorphic taxon (present and absent, both polymorphic) 0.5; a conflict (present and absent
from different sources) and a cell without a call are missing (NaN, mask 0). Predicted measurement
means (a DataFrame taxon x trait -> mean, e.g. from the predictions module) join as more columns of
tier ``predicted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kg.core.names import normalise_name, taxon_iri

TIERS = ("asserted", "inferred", "predicted", "conflict", "")


@dataclass
class TraitMatrix:
    """``values`` (taxa x traits, float, NaN missing), ``tier`` (same shape: asserted / inferred /
    predicted / conflict / empty) and ``labels`` (trait -> label)."""

    values: pd.DataFrame
    tier: pd.DataFrame
    labels: dict[str, str]

    @property
    def mask(self) -> pd.DataFrame:
        """1 where a cell has a value, 0 where it is missing."""
        return self.values.notna().astype(np.int8)

    def long(self) -> pd.DataFrame:
        """One row per cell with a value: taxon, trait, label, value, tier."""
        v = self.values.stack().rename("value")
        t = self.tier.stack().rename("tier")
        out = pd.concat([v, t.reindex(v.index)], axis=1).reset_index()
        out.columns = ["taxon", "trait", "value", "tier"]
        out.insert(2, "label", out["trait"].map(lambda x: self.labels.get(x, x)))
        return out

    def report(self) -> dict[str, Any]:
        counts = {k: int((self.tier == k).to_numpy().sum()) for k in TIERS if k}
        return {"taxa": len(self.values.index), "traits": len(self.values.columns),
                "cells": int(self.values.size), "missing": int(self.values.isna().to_numpy().sum()), **counts}


def trait_matrix(traits: Any, taxa: Sequence[str], entities: Sequence[str] | None = None, *,
                 predicted: pd.DataFrame | None = None, min_taxa: int = 1) -> TraitMatrix:
    """The expectation matrix of ``taxa`` for ``entities`` (CURIEs; default: every entity with a call
    for at least ``min_taxa`` of the taxa), plus the columns of ``predicted``."""
    from kg.traits import ABSENT, PRESENT
    from ontologies.prefixes import contract, expand

    names = [normalise_name(t) for t in taxa]
    iris = {taxon_iri(n): n for n in names}
    by_taxon = traits.calls_by_taxon() if traits is not None else {}
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for iri, name in iris.items():
        for c in by_taxon.get(iri, ()):
            cells.setdefault((name, c.entity), {})[c.value] = c
    if entities is None:
        count: dict[str, int] = {}
        for (_, e) in cells:
            count[e] = count.get(e, 0) + 1
        ents = sorted((e for e, n in count.items() if n >= min_taxa), key=contract)
    else:
        ents = [expand(e) for e in entities]
    cols = [contract(e) for e in ents]
    vals = np.full((len(names), len(ents)), np.nan)
    tier = np.full((len(names), len(ents)), "", dtype=object)
    pos = {e: j for j, e in enumerate(ents)}
    row = {n: i for i, n in enumerate(names)}
    for (name, e), got in cells.items():
        j = pos.get(e)
        if j is None:
            continue
        i = row[name]
        p, a = got.get(PRESENT), got.get(ABSENT)
        if p and a:
            if p.polymorphic and a.polymorphic:
                vals[i, j], tier[i, j] = 0.5, min(p.tier, a.tier)
            else:
                tier[i, j] = "conflict"
        else:
            x = p or a
            vals[i, j], tier[i, j] = (1.0 if x is p else 0.0), x.tier
    labels = {contract(e): traits.label(e) for e in ents} if traits is not None else {}
    v = pd.DataFrame(vals, index=pd.Index(names, name="taxon"), columns=cols)
    t = pd.DataFrame(tier, index=v.index, columns=cols)
    if predicted is not None and not predicted.empty:
        pr = predicted.copy()
        pr.index = [normalise_name(str(x)) for x in pr.index]
        pr = pr.groupby(level=0).mean(numeric_only=True).reindex(names)
        pr.index.name = "taxon"
        clash = [c for c in pr.columns if c in v.columns]
        pr = pr.rename(columns={c: f"{c} (predicted)" for c in clash})
        pt = pd.DataFrame(np.where(pr.notna(), "predicted", ""), index=pr.index, columns=pr.columns)
        v = pd.concat([v, pr.astype(np.float64)], axis=1)
        t = pd.concat([t, pt], axis=1)
        labels.update({c: str(c) for c in pr.columns})
    return TraitMatrix(v, t, labels)
