"""The array index of one tree: parents, preorder ranges, depths and a range-minimum table.

Nodes are numbered in preorder, so the subtree of ``v`` is the index range
``[v, v + size[v])``: clade membership and "tips below" are range checks. The lowest common
ancestor of ``u < v`` is ``u`` when ``v`` lies in its range, else the parent of the shallowest
node in ``(u, v]`` (a range-minimum query over depths, answered in O(1) from a sparse table
over blocks of 32). The MRCA of a set is the LCA of its first and last node in preorder. Every
step is a numpy operation or a loop with an explicit stack: no recursion anywhere.

>>> from loaders.newick_grammar import parse_newick
>>> ix = TreeIndex.from_parsed(parse_newick("((A:1,B:2)x:1,(C:1,D:1)y:2)r;"))
>>> ix.names[ix.mrca(ix.ids(["A", "B"]))], ix.names[ix.mrca(ix.ids(["A", "D"]))]
('x', 'r')
>>> float(ix.distance(ix.lookup("A"), ix.lookup("C")))
5.0
>>> ix.induced_newick(ix.ids(["A", "B", "C"]))
'((A:1,B:2)x:1,C:3)r;'
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kg.core.errors import IntegrityError, NotFound, ValidationError
from kg.tree_labels import AMBIGUOUS, LabelTable, normalise_label
from kg.tree_rmq import RangeMinimum, jump_sum

FORMAT = 3  # 2: root distances kept in the file (1 rebuilt them at every load); 3: label and RMQ tables too


class TreeIndex:
    """Arrays of one tree in preorder plus the LCA structure; answers MRCA, induced subtrees,
    subtrees, distances, ages and clade membership."""

    def __init__(self, parent: np.ndarray, size: np.ndarray, depth: np.ndarray, length: np.ndarray,
                 support: np.ndarray, names: list[str], meta: dict[str, Any] | None = None,
                 dist: np.ndarray | None = None, rmq: RangeMinimum | None = None) -> None:
        self.parent = np.asarray(parent, dtype=np.int32)
        self.size = np.asarray(size, dtype=np.int32)
        self.depth = np.asarray(depth, dtype=np.int32)
        self.length = np.asarray(length, dtype=np.float64)
        self.support = np.asarray(support, dtype=np.float64)
        self.names = names
        self.meta = dict(meta or {})
        n = len(names)
        if not (len(self.parent) == len(self.size) == len(self.depth) == len(self.length) == n) or n == 0:
            raise IntegrityError("tree index arrays disagree in length or are empty")
        self.has_lengths = bool(np.isfinite(self.length[1:]).any()) if n > 1 else False
        # root distances: read back from the index file when kept there (pointer jumping over a
        # 2.4M-tip tree is seconds), else computed
        self.dist = (np.asarray(dist, dtype=np.float64) if dist is not None and len(dist) == n else
                     jump_sum(self.parent, np.nan_to_num(self.length, nan=0.0) * (self.parent >= 0)))
        self._rmq = rmq if rmq is not None and rmq.n == n else RangeMinimum(self.depth)
        self._table: LabelTable | None = None
        self._genera: dict[str, list[int]] | None = None

    # construction ------------------------------------------------------------------------------
    @classmethod
    def from_parsed(cls, tree: Any, meta: dict[str, Any] | None = None) -> TreeIndex:
        """From a :class:`loaders.parsed_tree.ParsedTree` (arrays already in preorder)."""
        return cls(tree.parent, tree.size, tree.depth, tree.length, tree.support, list(tree.names), meta)

    @classmethod
    def from_parent(cls, parent: Sequence[int], length: Sequence[float], support: Sequence[float],
                    names: list[str], meta: dict[str, Any] | None = None) -> TreeIndex:
        """From a parent array already in preorder (``parent[0] == -1``, ``parent[i] < i``)."""
        p = np.asarray(parent, dtype=np.int64)
        n = len(p)
        if n == 0 or p[0] != -1 or (n > 1 and not (p[1:] < np.arange(1, n)).all()) or (p[1:] < 0).any():
            raise IntegrityError("tree nodes are not numbered in preorder (parent[i] < i, one root at 0)")
        depth = jump_sum(p, (p >= 0).astype(np.float64)).astype(np.int32)
        # The subtree of i ends at the first later node that is not deeper than i.
        end = np.full(n, n, dtype=np.int64)
        stack: list[int] = []
        for i, d in enumerate(depth.tolist()):
            while stack and depth[stack[-1]] >= d:
                end[stack.pop()] = i
            stack.append(i)
        size = (end - np.arange(n)).astype(np.int32)
        # each node's parent must be the nearest shallower node before it
        if n > 1 and not (p[1:] + size[p[1:]] >= np.arange(1, n) + size[1:]).all():
            raise IntegrityError("tree nodes are not numbered in preorder")
        return cls(p, size, depth, np.asarray(length, dtype=np.float64),
                   np.asarray(support, dtype=np.float64), names, meta)

    # persistence -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index as one ``.npz`` (atomically: a temp file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = "\x00".join(self.names).encode("utf-8", "surrogatepass")
        labels, dup_keys = self._labels().arrays()  # kept: hashing millions of labels takes seconds
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, parent=self.parent, size=self.size, depth=self.depth, length=self.length,
                         support=self.support, dist=self.dist, names=np.frombuffer(blob, dtype=np.uint8),
                         **{f"labels_{k}": v for k, v in labels.items()},
                         **{f"rmq_{k}": v for k, v in self._rmq.arrays().items()},
                         meta=np.array(json.dumps({**self.meta, "format": FORMAT, "label_dups": dup_keys})))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TreeIndex:
        """Read an index file: its arrays are mapped from the file (read-only, shared by the
        processes that map it), the names decoded, nothing recomputed."""
        from kg.indexcache import load_mapped

        z = load_mapped(Path(path))
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT:
            raise IntegrityError(f"{path}: tree index format {meta.get('format')}, expected {FORMAT}")
        names = z["names"].tobytes().decode("utf-8", "surrogatepass").split("\x00")
        dups = meta.pop("label_dups")
        rmq = RangeMinimum(None, arrays={k[4:]: v for k, v in z.items() if k.startswith("rmq_")})
        ix = cls(z["parent"], z["size"], z["depth"], z["length"], z["support"], names, meta, dist=z["dist"], rmq=rmq)
        ix._table = LabelTable.from_arrays(names, {k[7:]: v for k, v in z.items() if k.startswith("labels_")}, dups)
        return ix

    # basic facts -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    @property
    def tips(self) -> np.ndarray:
        """Tip ids in preorder."""
        return np.flatnonzero(self.size == 1)

    @property
    def n_tips(self) -> int:
        return int(np.count_nonzero(self.size == 1))

    def children(self, v: int) -> list[int]:
        """Children of ``v`` left to right (walks sibling ranges: O(number of children))."""
        out, c, end = [], v + 1, v + int(self.size[v])
        while c < end:
            out.append(c)
            c += int(self.size[c])
        return out

    def tips_below(self, v: int) -> np.ndarray:
        lo, hi = int(v), int(v) + int(self.size[v])
        return lo + np.flatnonzero(self.size[lo:hi] == 1)

    def is_ancestor(self, a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray | bool:
        """True where ``a`` is ``b`` or an ancestor of ``b`` (a range check)."""
        a = np.asarray(a)
        b = np.asarray(b)
        return (a <= b) & (b < a + self.size[a])

    # names -------------------------------------------------------------------------------------
    def _labels(self) -> LabelTable:
        """The label table (read from the index file, else built on first use: seconds for
        millions of labels)."""
        if self._table is None:
            self._table = LabelTable(self.names, self.size == 1)
        return self._table

    def prepare(self) -> TreeIndex:
        """Have the label table ready now (a service does it at start-up, so that no request pays
        for it; an index read from its file has it already). Lookups build it on first use otherwise."""
        self._labels().prepare()
        return self

    def lookup(self, name: str | int) -> int:
        """Node id of a label (``Genus_species`` and ``Genus species`` alike) or ``int``/``"node:N"``."""
        if isinstance(name, (int, np.integer)):
            if not 0 <= int(name) < len(self.names):
                raise NotFound(f"node {name} is not in the tree (0..{len(self.names) - 1})")
            return int(name)
        found = self.find(name)
        if found is None:
            raise NotFound(f"no node labelled {name!r} in the tree{self._suggest(name)}")
        return found

    def find(self, name: str) -> int | None:
        """Node id of a label as written or in normalised form, ``node:N``, or ``None``;
        an ambiguous label raises :class:`ValidationError`."""
        t = self._labels()
        i = t.get(name)
        if i is None and name.startswith("node:") and name[5:].isdigit() and int(name[5:]) < len(self.names):
            return int(name[5:])
        if i == AMBIGUOUS:
            key = normalise_label(name)
            raise ValidationError(f"label {name!r} is ambiguous: nodes {t.dups[key][:10]}")
        return i

    def _suggest(self, name: str) -> str:
        from rapidfuzz import process

        near = process.extract(name.replace("_", " "), list(self._labels().by_key()), limit=3, score_cutoff=80)
        return f". Did you mean {', '.join(repr(n) for n, _, _ in near)}?" if near else ""

    def exact_ids(self, items: list[Any]) -> np.ndarray | None:
        """Node ids when every item is a label as written that names one node (hashed and verified
        in bulk: the common case of tip labels), else ``None``."""
        found = self._labels().exact(items)
        return found if found is not None and (found >= 0).all() else None

    def ids(self, items: Iterable[str | int]) -> np.ndarray:
        """Node ids for labels or ids; every missing label is named in one error."""
        items = items if isinstance(items, list) else list(items)
        found = self.exact_ids(items)
        if found is not None:
            return found
        out = []
        missing = []
        for it in items:
            i = self.lookup(it) if isinstance(it, (int, np.integer)) else self.find(it)
            if i is None:
                missing.append(it)
            out.append(i)
        if missing:
            more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
            raise NotFound(f"{len(missing)} name(s) not in the tree: {', '.join(map(repr, missing[:10]))}{more}"
                           f"{self._suggest(missing[0]) if len(missing) == 1 else ''}")
        return np.asarray(out, dtype=np.int64)

    def genus_tips(self, genus: str) -> np.ndarray:
        """Tips whose label starts with ``genus`` (``Genus_species`` or ``Genus species``)."""
        if self._genera is None:
            g: dict[str, list[int]] = {}
            for i in self.tips.tolist():
                nm = self.names[i].replace("_", " ").strip()
                if " " in nm:
                    g.setdefault(nm.split(" ", 1)[0], []).append(i)
            self._genera = g
        return np.asarray(self._genera.get(genus.strip(), []), dtype=np.int64)

    # queries -----------------------------------------------------------------------------------
    def lca(self, u: np.ndarray | int, v: np.ndarray | int) -> np.ndarray:
        """Lowest common ancestors of pairs (vectorised)."""
        u = np.atleast_1d(np.asarray(u, dtype=np.int64))
        v = np.atleast_1d(np.asarray(v, dtype=np.int64))
        a, b = np.minimum(u, v), np.maximum(u, v)
        out = a.copy()
        far = b >= a + self.size[a]
        if far.any():
            m = self._rmq.argmin(a[far] + 1, b[far])
            out[far] = self.parent[m]
        return out

    def mrca(self, ids: Sequence[int] | np.ndarray) -> int:
        """The most recent common ancestor of a set of nodes."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            raise ValidationError("MRCA of an empty set of nodes")
        lo, hi = int(ids.min()), int(ids.max())  # the preorder extremes: one range check, one RMQ
        if hi < lo + int(self.size[lo]):
            return lo
        return int(self.parent[self._rmq.argmin_one(lo + 1, hi)])

    def distance(self, u: int | np.ndarray, v: int | np.ndarray, *, topological: bool = False) -> np.ndarray:
        """Patristic (sum of branch lengths) or topological (edge count) distance."""
        w = self.lca(u, v)
        x = self.depth if topological else self.dist
        d = x[np.atleast_1d(u)] + x[np.atleast_1d(v)] - 2 * x[w]
        return d[0] if d.shape == (1,) else d

    def distance_matrix(self, ids: Sequence[int] | np.ndarray, *, topological: bool = False) -> np.ndarray:
        """K x K distances between the given nodes (see :func:`kg.tree_distances.distance_matrix`:
        one LCA per consecutive pair in preorder, then running minima; no query per pair)."""
        from kg.tree_distances import distance_matrix

        return distance_matrix(self, ids, topological=topological)

    def is_ultrametric(self, rel_tol: float = 1e-6) -> bool:
        d = self.dist[self.tips]
        h = float(d.max())
        return bool(self.has_lengths and h > 0 and float(d.max() - d.min()) <= rel_tol * h)

    def ages(self, rel_tol: float = 1e-6) -> np.ndarray:
        """Node ages (time before the present) on an ultrametric tree."""
        d = self.dist[self.tips]
        if not self.is_ultrametric(rel_tol):
            raise ValidationError(f"node ages need an ultrametric tree; root-to-tip distances range from "
                                  f"{float(d.min()):.6g} to {float(d.max()):.6g}")
        return np.clip(float(d.max()) - self.dist, 0.0, None)

    # subtrees ----------------------------------------------------------------------------------
    def induced(self, ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The induced subtree of a set: (original node ids in preorder, parent positions,
        branch lengths summed over collapsed unary nodes). Root length is ``nan``."""
        s = np.unique(np.asarray(ids, dtype=np.int64))
        if s.size == 0:
            raise ValidationError("induced subtree of an empty set")
        nodes = np.unique(np.concatenate([s, self.lca(s[:-1], s[1:])])) if s.size > 1 else s
        par = np.full(len(nodes), -1, dtype=np.int64)
        if len(nodes) > 1:
            par[1:] = np.searchsorted(nodes, self.lca(nodes[:-1], nodes[1:]))
        blen = np.full(len(nodes), np.nan)
        if self.has_lengths and len(nodes) > 1:
            blen[1:] = self.dist[nodes[1:]] - self.dist[nodes[par[1:]]]
        return nodes, par, blen

    def _sizes(self, par: np.ndarray) -> np.ndarray:
        size = [1] * len(par)  # a list: item updates on a numpy array cost ~10x more
        p = par.tolist()
        for i in range(len(p) - 1, 0, -1):
            size[p[i]] += size[i]
        return np.asarray(size, dtype=np.int64)

    def induced_newick(self, ids: Sequence[int] | np.ndarray) -> str:
        """Newick of the induced subtree (unary nodes collapsed, branch lengths summed)."""
        from loaders.parsed_tree import write_newick

        nodes, par, blen = self.induced(ids)
        return write_newick(par, self._sizes(par), [self.names[i] for i in nodes.tolist()], blen,
                            self.support[nodes])

    def subtree_newick(self, v: int, *, max_tips: int | None = None, height_limit: int | None = None) -> str:
        """Newick of the subtree below ``v``; ``height_limit`` cuts it that many edges down
        (cut nodes become tips named by their label or ``node:N``); more than ``max_tips`` tips
        is an error."""
        from loaders.parsed_tree import write_newick

        lo, hi = int(v), int(v) + int(self.size[v])
        idx = np.arange(lo, hi)
        if height_limit is not None:
            idx = idx[self.depth[lo:hi] - self.depth[lo] <= height_limit]
        cut = np.zeros(len(idx), dtype=bool)
        if height_limit is not None:
            cut = (self.size[idx] > 1) & (self.depth[idx] - self.depth[lo] == height_limit)
        ntips = int(np.count_nonzero((self.size[idx] == 1) | cut))
        if max_tips is not None and ntips > max_tips:
            raise ValidationError(f"the subtree below node {v} has {ntips} tips, more than max_tips={max_tips}; "
                                  "raise the limit or set a height limit")
        par = np.full(len(idx), -1, dtype=np.int64)
        if len(idx) > 1:
            par[1:] = np.searchsorted(idx, self.parent[idx[1:]])
        size = self.size[idx] if height_limit is None else self._sizes(par)
        names = [self.names[i] or (f"node:{i}" if c else "") for i, c in zip(idx.tolist(), cut.tolist())]
        length = self.length[idx].copy()
        length[0] = np.nan
        return write_newick(par, size, names, length, self.support[idx])

    def summary(self) -> dict[str, Any]:
        return {"nodes": len(self), "tips": self.n_tips, "max_depth": int(self.depth.max()),
                "has_lengths": self.has_lengths,
                "height": float(self.dist.max()) if self.has_lengths else None,
                "ultrametric": self.is_ultrametric() if self.has_lengths else False,
                "max_children": int(self._max_children())}

    def _max_children(self) -> int:
        if len(self) < 2:
            return 0
        return int(np.bincount(self.parent[1:]).max())


def nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x

