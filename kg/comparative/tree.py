"""The tree as comparative methods see it: parent and branch-length arrays in preorder, grouped
into levels for vectorised post- and preorder passes.

A node's *level* is its height in edges above its deepest tip (tips are level 0). Every child of
a level-``h`` node sits at a lower level, so a postorder pass handles one level at a time with a
few numpy operations over all of its nodes (Felsenstein pruning, contrasts, Fitch sets), and a
preorder pass walks the levels downwards. The fish tree (23,275 nodes) has 67 levels; no
recursion anywhere, so a 200,000-deep caterpillar is merely slower.

>>> t = PhyloTree.from_newick("((A:1,B:2):1,(C:1,D:1):2);")
>>> t.n_tips, t.n_nodes, len(t.levels)
(4, 7, 2)
>>> [t.names[i] for i in t.tips]
['A', 'B', 'C', 'D']
>>> float(t.heights[t.tips].max())
3.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg.core.errors import ValidationError


class NotUltrametric(ValidationError):
    """A method needs an ultrametric tree and got one whose tips are at different heights."""


@dataclass(frozen=True)
class Level:
    """The internal nodes of one level and their children, children sorted by parent.

    ``kids[start[j]:start[j+1]]`` are the children of ``nodes[j]``; ``slot[i]`` is the position
    of ``kids[i]``'s parent in ``nodes``.
    """

    nodes: np.ndarray
    kids: np.ndarray
    slot: np.ndarray
    start: np.ndarray


class PhyloTree:
    """A rooted tree in preorder (``parent[i] < i``; node 0 is the root) with branch lengths."""

    def __init__(self, parent: Sequence[int] | np.ndarray, length: Sequence[float] | np.ndarray,
                 names: list[str], *, source: dict[str, Any] | None = None) -> None:
        p = np.asarray(parent, dtype=np.int64)
        n = len(p)
        if n == 0 or p[0] != -1 or (n > 1 and not (p[1:] < np.arange(1, n)).all()) or (p[1:] < 0).any():
            raise ValidationError("tree nodes are not numbered in preorder (parent[i] < i, one root at 0)")
        self.parent = p
        self.length = np.asarray(length, dtype=np.float64).copy()
        self.length[0] = 0.0
        self.names = list(names)
        self.source = dict(source or {})
        nkids = np.bincount(p[1:], minlength=n) if n > 1 else np.zeros(n, dtype=np.int64)
        self.is_tip = nkids == 0
        self.tips = np.flatnonzero(self.is_tip)
        self.n_children = nkids
        self.levels = self._build_levels()

    # construction ------------------------------------------------------------------------------
    @classmethod
    def from_newick(cls, text: str) -> PhyloTree:
        """Parse one Newick tree."""
        from loaders.newick_grammar import parse_newick

        t = parse_newick(text)
        return cls(t.parent, t.length, list(t.names), source={"newick": True})

    @classmethod
    def from_index(cls, ix: Any, tips: Iterable[int] | None = None) -> PhyloTree:
        """From a :class:`kg.treeindex.TreeIndex`; with ``tips`` (node ids), the induced subtree
        on them (unary nodes collapsed, branch lengths summed; its root is their MRCA)."""
        if tips is None:
            return cls(ix.parent, ix.length, list(ix.names), source={"nodes": np.arange(len(ix.names))})
        nodes, par, blen = ix.induced(np.asarray(list(tips), dtype=np.int64))
        return cls(par, blen, [ix.names[i] for i in nodes.tolist()], source={"nodes": nodes})

    def _build_levels(self) -> list[Level]:
        n = len(self.parent)
        if n == 1:
            return []
        lev = [0] * n
        pl = self.parent.tolist()
        for i in range(n - 1, 0, -1):  # children after parents: one reverse sweep sets heights
            a, v = pl[i], lev[i] + 1
            if v > lev[a]:
                lev[a] = v
        self.level = np.asarray(lev, dtype=np.int64)
        kids = np.arange(1, n)
        plev = self.level[self.parent[1:]]
        order = np.lexsort((self.parent[1:], plev))
        kids, plev = kids[order], plev[order]
        bounds = np.searchsorted(plev, np.arange(1, int(plev.max()) + 2))
        out = []
        for h in range(len(bounds) - 1):
            k = kids[bounds[h]:bounds[h + 1]]
            if k.size == 0:
                continue
            nodes, slot = np.unique(self.parent[k], return_inverse=True)
            start = np.searchsorted(slot, np.arange(len(nodes) + 1))
            out.append(Level(nodes, k, slot, start))
        return out

    # facts -------------------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    @property
    def n_tips(self) -> int:
        return len(self.tips)

    @property
    def tip_names(self) -> list[str]:
        return [self.names[i] for i in self.tips.tolist()]

    @property
    def heights(self) -> np.ndarray:
        """Distance from the root of every node."""
        h = getattr(self, "_heights", None)
        if h is None:
            h = np.zeros(self.n_nodes)
            L, p = self.length, self.parent
            for lv in reversed(self.levels):  # top-down: a parent's height is known first
                h[lv.kids] = h[p[lv.kids]] + L[lv.kids]
            self._heights = h
        return h

    def check_lengths(self) -> None:
        """Every branch has a finite, non-negative length (else :class:`ValidationError`)."""
        L = self.length[1:]
        bad = np.flatnonzero(~np.isfinite(L))
        if bad.size:
            raise ValidationError(f"the tree has {bad.size} branches without a length (e.g. above node "
                                  f"{self.label(int(bad[0]) + 1)!r}); this method needs branch lengths")
        neg = np.flatnonzero(L < 0)
        if neg.size:
            i = int(neg[0]) + 1
            raise ValidationError(f"the tree has {neg.size} negative branch lengths (e.g. {float(L[i - 1]):.6g} "
                                  f"above node {self.label(i)!r}); branch lengths must be >= 0")

    def is_ultrametric(self, rel_tol: float = 1.5e-8) -> bool:
        h = self.heights[self.tips]
        top = float(h.max())
        return bool(top > 0 and float(h.max() - h.min()) <= rel_tol * top)

    def require_ultrametric(self, method: str, rel_tol: float = 1.5e-8) -> None:
        if not self.is_ultrametric(rel_tol):
            h = self.heights[self.tips]
            raise NotUltrametric(f"{method} needs an ultrametric tree; root-to-tip distances here range "
                                 f"from {float(h.min()):.6g} to {float(h.max()):.6g}")

    def max_lambda(self) -> float:
        """Upper bound of Pagel's lambda (phytools' ``maxLambda``): tree height over the height
        of the highest internal node on an ultrametric tree, else 1."""
        if not self.is_ultrametric():
            return 1.0
        h = self.heights
        return float(h[self.tips].max() / h[~self.is_tip].max()) if (~self.is_tip).any() else 1.0

    def label(self, i: int) -> str:
        return self.names[i] or f"node:{i}"

    def tip_ids(self, names: Iterable[str]) -> np.ndarray:
        """Node ids of tips by name (exact labels; underscores and blanks are the same)."""
        table = getattr(self, "_tip_table", None)
        if table is None:
            table = {}
            for i in self.tips.tolist():
                table[self.names[i]] = i
                table.setdefault(self.names[i].replace("_", " "), i)
            self._tip_table = table
        out = []
        for nm in names:
            i = table.get(nm, table.get(str(nm).replace("_", " ")))
            if i is None:
                raise ValidationError(f"no tip named {nm!r} in the tree")
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def mrca(self, ids: Sequence[int]) -> int:
        """Most recent common ancestor of node ids (walks parents; fine for a handful)."""
        anc: set[int] | None = None
        for v in ids:
            path = set()
            v = int(v)
            while v >= 0:
                path.add(v)
                v = int(self.parent[v])
            anc = path if anc is None else anc & path
        return max(anc) if anc else 0

    def transformed(self, *, lam: float | None = None, scale: float = 1.0) -> np.ndarray:
        """Branch lengths under Pagel's lambda (internal branches times ``lam``, tip branches
        stretched so every tip keeps its height) and a common scale."""
        L = self.length.copy()
        if lam is not None:
            h = self.heights
            L *= lam
            L[self.tips] += (1.0 - lam) * h[self.tips]
        L[0] = 0.0
        return L * scale if scale != 1.0 else L

