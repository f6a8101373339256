"""Discrete characters on tree tips: state labels, polymorphic and missing values as state sets.

A tip's value is a state label, a set/list of labels (polymorphic or uncertain: any of them),
or ``None``/``"?"``/``"-"``/``nan`` (missing: any state). Sets become bitmasks (up to 63 states).

>>> from kg.comparative.tree import PhyloTree
>>> t = PhyloTree.from_newick("((A,B),C);")
>>> ch = encode(t, {"A": "0", "B": ["0", "1"], "C": None})
>>> ch.states, ch.masks[t.tips].ravel().tolist()
(['0', '1'], [1, 3, 3])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError

MISSING = {"?", "-", "", "NA", "na", "nan"}


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() in MISSING)


def _members(v: Any) -> list[str]:
    if isinstance(v, (set, frozenset, list, tuple)):
        return [str(s) for s in v]
    if isinstance(v, str) and ("&" in v or "|" in v):  # "0&1" or "0|1": polymorphic
        return [s.strip() for s in v.replace("|", "&").split("&") if s.strip()]
    if isinstance(v, bool):
        return [str(int(v))]
    if isinstance(v, float) and v.is_integer():
        return [str(int(v))]
    return [str(v)]


@dataclass
class Characters:
    """``masks``: (n_nodes, n_chars) bitmasks (tips only; bit ``s`` = state ``states[s]``)."""

    states: list[str]
    masks: np.ndarray
    names: list[str]

    @property
    def k(self) -> int:
        return len(self.states)

    def tip_likelihoods(self, tree: PhyloTree, j: int = 0) -> np.ndarray:
        """(n_nodes, k) indicator of the states allowed at each tip for character ``j``."""
        bits = (self.masks[:, j][:, None] >> np.arange(self.k, dtype=np.uint64)) & np.uint64(1)
        L = bits.astype(np.float64)
        L[~tree.is_tip] = 1.0
        return L


def encode(tree: PhyloTree, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
           states: Iterable[str] | None = None, names: list[str] | None = None) -> Characters:
    """Encode one character (taxon -> value) or several (a list of them) on the tree's tips.
    Tips absent from the map are missing. ``states`` fixes the order (default: sorted labels)."""
    chars = [data] if isinstance(data, Mapping) else list(data)
    if states is None:
        seen: set[str] = set()
        for ch in chars:
            for v in ch.values():
                if not _is_missing(v):
                    seen.update(_members(v))
        st = sorted(seen, key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else 0, s))
    else:
        st = [str(s) for s in states]
    if not st:
        raise ValidationError("the character has no observed states")
    if len(st) > 63:
        raise ValidationError(f"at most 63 states per character, got {len(st)}")
    index = {s: i for i, s in enumerate(st)}
    full = np.uint64((1 << len(st)) - 1)
    masks = np.zeros((tree.n_nodes, len(chars)), dtype=np.uint64)
    masks[tree.tips] = full
    for j, ch in enumerate(chars):
        ids = tree.tip_ids(list(ch))
        for i, v in zip(ids.tolist(), ch.values()):
            if _is_missing(v):
                continue
            m = 0
            for s in _members(v):
                if s not in index:
                    raise ValidationError(f"state {s!r} of tip {tree.names[i]!r} is not one of {st}")
                m |= 1 << index[s]
            masks[i, j] = m
    return Characters(st, masks, names or [f"char{j}" for j in range(len(chars))])


def from_matrix(tree: PhyloTree, matrix: np.ndarray, taxa: list[str], *, k: int = 2) -> Characters:
    """Encode an integer matrix (taxa x characters, values ``0..k-1``, negative = missing)."""
    M = np.asarray(matrix)
    masks = np.zeros((tree.n_nodes, M.shape[1]), dtype=np.uint64)
    masks[tree.tips] = np.uint64((1 << k) - 1)
    rows = tree.tip_ids(taxa)
    vals = np.where(M < 0, (1 << k) - 1, np.left_shift(1, np.clip(M, 0, 62)))
    masks[rows] = vals.astype(np.uint64)
    return Characters([str(s) for s in range(k)], masks, [f"char{j}" for j in range(M.shape[1])])
