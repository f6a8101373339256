"""Tasks and splits: presence/absence imputation per (taxon, entity) cell, two splits side by side.

* ``random``: cells shuffled into train / validation / test (a taxon keeps its other cells in
  training: within-taxon ontology logic can answer some held-out cells; the ``ontology-rules``
  baseline measures how many);
* ``clade``: whole clades of 3-10 labelled tips held out (every cell of every tip below the
  chosen node goes to one side), picked at random without overlap until each held-out side has
  about its share of the labelled tips; nothing of a held-out taxon is seen in training.

Fixed seeds: the same graph and seed give the same split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnn.data import TraitGraph
from kg.core.errors import ValidationError

SPLITS = ("random", "clade")
MIN_CELLS = 20  # per side of a split, and per class in training


@dataclass
class Split:
    """Index arrays into ``TraitGraph.cells`` for each side; ``clades``: held-out clade roots (taxon nodes)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    clades: dict[str, list[int]] | None = None

    def summary(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _check(g: TraitGraph, s: Split) -> Split:
    y = g.cells["y"]
    n_pos, n_neg = int(y[s.train].sum()), int(len(s.train) - y[s.train].sum())
    if min(len(s.val), len(s.test)) < MIN_CELLS or min(n_pos, n_neg) < MIN_CELLS:
        raise ValidationError(
            f"too few labelled examples for the {s.name} split: train {len(s.train)} cells ({n_pos} present, "
            f"{n_neg} absent), validation {len(s.val)}, test {len(s.test)}; each side needs >= {MIN_CELLS} cells "
            f"and training >= {MIN_CELLS} of each value (graph: {g.counts.get('tips_matched')} tips, "
            f"{g.n_entities} entities, {len(y)} cells)")
    return s


def random_split(g: TraitGraph, *, seed: int = 0, val: float = 0.15, test: float = 0.15) -> Split:
    """Cells at random."""
    n = len(g.cells["y"])
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    nv, nt = int(round(n * val)), int(round(n * test))
    return _check(g, Split("random", np.sort(perm[nv + nt:]), np.sort(perm[:nv]), np.sort(perm[nv:nv + nt]), seed))


def subtree_sizes(parent: np.ndarray) -> np.ndarray:
    """Number of nodes below each node (itself included) of a preorder parent array.

    >>> subtree_sizes(np.array([-1, 0, 1, 1, 0])).tolist()
    [5, 3, 1, 1, 1]
    """
    size = np.ones(len(parent), dtype=np.int64)
    for i in range(len(parent) - 1, 0, -1):
        size[parent[i]] += size[i]
    return size


def clade_split(g: TraitGraph, *, seed: int = 0, val: float = 0.15, test: float = 0.15,
                min_tips: int = 3, max_tips: int = 10) -> Split:
    """Whole clades of ``min_tips``..``max_tips`` labelled tips held out (validation and test)."""
    size = subtree_sizes(g.parent)
    labelled = np.zeros(len(g.parent), dtype=bool)
    labelled[g.tips] = True
    cum = np.concatenate([[0], np.cumsum(labelled)])
    n_lab = cum[np.arange(len(size)) + size] - cum[np.arange(len(size))]
    cands = np.flatnonzero((n_lab >= min_tips) & (n_lab <= max_tips))
    rng = np.random.default_rng(seed)
    cands = cands[rng.permutation(len(cands))]
    taken = np.zeros(len(g.parent), dtype=bool)
    total = int(labelled.sum())
    want = {"val": int(round(total * val)), "test": int(round(total * test))}
    got = {"val": 0, "test": 0}
    side_of = np.zeros(len(g.parent), dtype=np.int8)  # 0 train, 1 val, 2 test
    clades: dict[str, list[int]] = {"val": [], "test": []}
    for c in cands.tolist():
        lo, hi = c, c + int(size[c])
        if taken[lo:hi].any():  # preorder: a clade is a range; a taken ancestor covers it too
            continue
        side = "test" if got["test"] * want["val"] <= got["val"] * want["test"] else "val"
        if got[side] >= want[side]:
            side = "val" if side == "test" else "test"
            if got[side] >= want[side]:
                break
        taken[lo:hi] = True
        side_of[lo:hi] = 1 if side == "val" else 2
        got[side] += int(n_lab[c])
        clades[side].append(c)
    where = side_of[g.cells["taxon"]]
    return _check(g, Split("clade", np.flatnonzero(where == 0), np.flatnonzero(where == 1),
                           np.flatnonzero(where == 2), seed, clades))


def make_split(g: TraitGraph, name: str, *, seed: int = 0) -> Split:
    if name == "random":
        return random_split(g, seed=seed)
    if name == "clade":
        return clade_split(g, seed=seed)
    raise ValidationError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
