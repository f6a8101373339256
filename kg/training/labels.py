"""Per-image label arrays: one image manifest joined with species, rank, level, trait and split labels.

What a torch ``Dataset`` (``gnn.datasets``) or any other trainer indexes by image: integer classes
(-1 where a rank is unknown), trait expectations with a mask for missing cells, sample weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ImageLabels:
    """Rows of ``frame`` (``image_id``, ``path``, ``taxon``, ``split``, ``weight``) and aligned arrays."""

    frame: pd.DataFrame
    species: np.ndarray
    species_names: list[str]
    ranks: np.ndarray
    rank_names: list[str]
    rank_classes: dict[str, list[str]]
    levels: np.ndarray
    level_report: list[dict[str, Any]]
    traits: np.ndarray
    trait_mask: np.ndarray
    trait_names: list[str]
    weights: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def row(self, i: int) -> dict[str, Any]:
        """Labels of image ``i`` as numpy values (no image)."""
        f = self.frame
        return {"image_id": f["image_id"].iat[i], "path": f["path"].iat[i], "taxon": f["taxon"].iat[i],
                "split": f["split"].iat[i], "species": int(self.species[i]), "ranks": self.ranks[i],
                "levels": self.levels[i], "traits": self.traits[i], "trait_mask": self.trait_mask[i],
                "weight": float(self.weights[i])}


def build_image_labels(images: Any, ranks: pd.DataFrame | None, levels: Any, traits: Any, split: Any) -> ImageLabels:
    """Join a checked :class:`kg.training.images.ImageManifest` with per-taxon labels."""
    f = images.frame.copy()
    taxa = f["taxon"].tolist()
    species_names = sorted(set(taxa))
    sp = {n: k for k, n in enumerate(species_names)}
    species = np.asarray([sp[t] for t in taxa], dtype=np.int64)
    rank_names: list[str] = []
    rank_classes: dict[str, list[str]] = {}
    rk = np.zeros((len(f), 0), dtype=np.int64)
    if ranks is not None and len(ranks.columns):
        rank_names = list(ranks.columns)
        cols = []
        for r in rank_names:
            vals = ranks[r].reindex(taxa).fillna("").tolist()
            classes = sorted({v for v in vals if v})
            rank_classes[r] = classes
            pos = {c: k for k, c in enumerate(classes)}
            cols.append([pos.get(v, -1) for v in vals])
        rk = np.asarray(cols, dtype=np.int64).T.reshape(len(f), len(rank_names))
    lv = levels.groups.reindex(taxa).to_numpy(dtype=np.int64) if levels is not None else \
        np.zeros((len(f), 0), dtype=np.int64)
    if traits is not None and len(traits.values.columns):
        tv = traits.values.reindex(taxa).to_numpy(dtype=np.float32)
        names = list(traits.values.columns)
    else:
        tv = np.zeros((len(f), 0), dtype=np.float32)
        names = []
    mask = (~np.isnan(tv)).astype(np.float32)
    tv = np.nan_to_num(tv, nan=0.0)
    f["split"] = split.for_items(taxa).to_numpy() if split is not None else ""
    w = f["weight"].to_numpy(dtype=np.float32) if "weight" in f.columns else np.ones(len(f), dtype=np.float32)
    if "weight" not in f.columns:
        f["weight"] = w
    rep = {"images": len(f), "species": len(species_names), "ranks": rank_names,
           "levels": int(lv.shape[1]), "traits": len(names), "missing_trait_cells": int((mask == 0).sum())}
    return ImageLabels(f, species, species_names, rk, rank_names, rank_classes, lv,
                       levels.report if levels is not None else [], tv, mask, names, w, rep)
