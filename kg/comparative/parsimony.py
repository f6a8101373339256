"""Maximum parsimony for discrete characters: Fitch's algorithm (Hartigan's generalisation for
polytomies) over many characters at once, and Sankoff's algorithm for any cost matrix with the
most-parsimonious state sets at every node.

Polymorphic or uncertain tips are state sets, missing tips the set of all states; neither adds cost
by itself. Both algorithms run one level of the tree at a time over all characters.

>>> from kg.comparative.tree import PhyloTree
>>> from kg.comparative.characters import encode
>>> t = PhyloTree.from_newick("((A,B),(C,D));")
>>> ch = encode(t, {"A": "0", "B": "1", "C": "1", "D": "1"})
>>> fitch(t, ch).score.tolist()
[1]
>>> r = sankoff(t, ch)
>>> r.score.tolist(), r.sets(0)[0]
([1.0], ['1'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kg.comparative.characters import Characters
from kg.comparative.tree import PhyloTree
from kg.core.errors import ValidationError


class FitchResult:
    """``score`` per character; ``sets``: (n_nodes, n_chars) bitmasks of the first (down) pass
    (unpacked on first use)."""

    def __init__(self, score: np.ndarray, sets: np.ndarray | None = None, planes: np.ndarray | None = None,
                 n_chars: int = 0) -> None:
        self.score = score
        self._sets, self._planes, self._nc = sets, planes, n_chars

    @property
    def sets(self) -> np.ndarray:
        if self._sets is None:
            nc, planes = self._nc, self._planes
            out = np.zeros((planes.shape[1], nc), dtype=np.uint64)
            for s in range(planes.shape[0]):
                on = np.unpackbits(planes[s].view(np.uint8), axis=1, bitorder="little")[:, :nc]
                out |= on.astype(np.uint64) << np.uint64(s)
            self._sets = out
        return self._sets

    @property
    def total(self) -> int:
        return int(self.score.sum())


def fitch(tree: PhyloTree, chars: Characters) -> FitchResult:
    """Parsimony score of every character (unit costs), Hartigan's rule at polytomies."""
    if tree.n_nodes > 1 and (tree.n_children[~tree.is_tip] == 2).all():
        return _fitch_binary(tree, chars)
    k = chars.k
    small = np.uint8 if k <= 8 else np.uint64
    sets = chars.masks.astype(small)
    score = np.zeros(sets.shape[1], dtype=np.int64)
    one = np.array(1, dtype=small)
    for lv in tree.levels:
        nk = np.diff(lv.start)
        M = sets[lv.kids]
        starts = lv.start[:-1]
        best = None
        cnts = []
        for s in range(k):
            c = np.add.reduceat(((M >> np.array(s, dtype=small)) & one).astype(np.int32), starts, axis=0)
            cnts.append(c)
            best = c if best is None else np.maximum(best, c)
        out = np.zeros(best.shape, dtype=small)
        for s in range(k):
            out |= (cnts[s] == best).astype(small) << np.array(s, dtype=small)
        sets[lv.nodes] = out
        score += (nk[:, None] - best).sum(axis=0)
    return FitchResult(score, sets.astype(np.uint64))


def _fitch_binary(tree: PhyloTree, chars: Characters) -> FitchResult:
    """Fitch on a bifurcating tree with characters packed 64 to a word, one bit plane per state."""
    k, nc = chars.k, chars.masks.shape[1]
    W = -(-nc // 64)
    planes = np.zeros((k, tree.n_nodes, W), dtype=np.uint64)
    small = chars.masks.astype(np.uint8) if k <= 8 else chars.masks
    for s in range(k):
        bits = (small >> small.dtype.type(s)) & small.dtype.type(1)
        packed = np.packbits(bits, axis=1, bitorder="little")
        buf = np.zeros((tree.n_nodes, W * 8), dtype=np.uint8)
        buf[:, :packed.shape[1]] = packed
        planes[s] = buf.view(np.uint64)
    steps = np.zeros((tree.n_nodes, W), dtype=np.uint64)
    for lv in tree.levels:
        a, b = planes[:, lv.kids[0::2]], planes[:, lv.kids[1::2]]
        inter = a & b
        empty = ~np.bitwise_or.reduce(inter, axis=0)
        planes[:, lv.nodes] = inter | ((a | b) & empty[None])
        steps[lv.nodes] = empty
    bits = np.unpackbits(steps[~tree.is_tip].view(np.uint8), axis=1, bitorder="little")[:, :nc]
    return FitchResult(bits.sum(axis=0, dtype=np.int64), planes=planes, n_chars=nc)


@dataclass
class SankoffResult:
    states: list[str]
    score: np.ndarray  # per character
    down: np.ndarray  # (n_nodes, n_chars, k) subtree costs
    total_cost: np.ndarray  # (n_nodes, n_chars, k): best whole-tree cost with the node in each state
    via: np.ndarray | None = None  # (n_nodes, n_chars, k): best cost of a node's subtree given its parent's state
    up: np.ndarray | None = None  # (n_nodes, n_chars, k): best cost outside a node's subtree given its state
    cost: np.ndarray | None = None  # the k x k cost matrix used

    def mpr(self) -> np.ndarray:
        """(n_nodes, n_chars) bitmasks of the states in some most-parsimonious reconstruction."""
        best = self.total_cost.min(axis=2, keepdims=True)
        on = np.isclose(self.total_cost, best, rtol=0, atol=1e-9)
        return (on.astype(np.uint64) << np.arange(on.shape[2], dtype=np.uint64)).sum(axis=2).astype(np.uint64)

    def sets(self, j: int = 0) -> list[list[str]]:
        """The most-parsimonious states of character ``j`` at every node (preorder)."""
        m = self.mpr()[:, j]
        return [[s for b, s in enumerate(self.states) if (int(v) >> b) & 1] for v in m.tolist()]


def sankoff(tree: PhyloTree, chars: Characters, cost: np.ndarray | None = None) -> SankoffResult:
    """Sankoff parsimony with a ``k x k`` cost matrix (default: 1 off the diagonal) and, by a
    second (preorder) pass, the whole-tree cost of every state at every node."""
    k = chars.k
    C = np.ones((k, k)) - np.eye(k) if cost is None else np.asarray(cost, dtype=np.float64)
    if C.shape != (k, k) or (C < 0).any() or not np.isfinite(C).all():
        raise ValidationError(f"the cost matrix must be {k}x{k}, finite and >= 0")
    bits = (chars.masks[:, :, None] >> np.arange(k, dtype=np.uint64)) & np.uint64(1)
    down = np.where(bits.astype(bool), 0.0, np.inf)
    down[~tree.is_tip] = 0.0
    # best cost of a child's subtree given the parent in state s: min_r C[s, r] + down_c[r]
    via = np.zeros_like(down)
    for lv in tree.levels:
        D = down[lv.kids]
        V = (D[:, :, None, :] + C[None, None, :, :]).min(axis=3)
        via[lv.kids] = V
        down[lv.nodes] = np.add.reduceat(V, lv.start[:-1], axis=0)
    score = down[0].min(axis=1)
    up = np.zeros_like(down)  # best cost outside a node's subtree given its state
    for lv in reversed(tree.levels):
        c = lv.kids
        par = lv.nodes[lv.slot]
        out = up[par] + down[par] - via[c]  # outside + siblings, parent in state s
        up[c] = (out[:, :, :, None] + C[None, None, :, :]).min(axis=2)
    return SankoffResult(chars.states, score, down, down + up, via, up, C)


def insertion_costs(tree: PhyloTree, chars: Characters, leaves: np.ndarray, cost: np.ndarray | None = None) -> np.ndarray:
    """Parsimony placement: the whole-tree cost of attaching a new leaf on the edge above each node.

    ``leaves``: (n_queries, n_chars) state bitmasks of the new leaves (all bits set: unknown). The new
    node ``v`` on the edge above ``c`` joins three parts, each at its best given ``v``'s state ``t``:
    ``c``'s subtree, the new leaf and the rest of the tree (the cost outside ``c``'s subtree with
    the parent in state ``s``, plus ``C[s, t]``). Returns (n_queries, n_nodes), ``nan`` at the root;
    the best edges of a query are its minima (ties are real: every one of them is a best place).

    >>> from kg.comparative.characters import encode
    >>> t = PhyloTree.from_newick("((a:1,b:1):1,(c:1,d:1):1);")
    >>> ch = encode(t, {"a": "0", "b": "0", "c": "1", "d": "1"})
    >>> costs = insertion_costs(t, ch, np.array([[0b10]], dtype=np.uint64))  # a leaf in state 1
    >>> [t.names[i] or f"node{i}" for i in np.flatnonzero(costs[0] == np.nanmin(costs[0]))]  # one change: 1
    ['node1', 'node4', 'c', 'd']

    (The edges above ``node1`` and ``node4`` meet at a two-child root: one edge of the unrooted tree.)
    """
    r = sankoff(tree, chars, cost)
    C, k = r.cost, chars.k
    par = tree.parent.copy()
    par[0] = 0
    out = r.up[par] + r.down[par] - r.via  # cost outside c's subtree, parent in state s
    above = (out[:, :, :, None] + C[None, None, :, :]).min(axis=2)  # ... and v in state t
    base = above + r.via  # (n_nodes, n_chars, k): c's subtree and the rest, v in state t
    bits = ((np.asarray(leaves, dtype=np.uint64)[:, :, None] >> np.arange(k, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    leaf = np.where(bits, 0.0, np.inf)  # (q, n_chars, k)
    leaf_from = (leaf[:, :, None, :] + C[None, None, :, :]).min(axis=3)  # v in state t -> the leaf
    res = np.empty((len(leaf_from), tree.n_nodes))
    for i, lf in enumerate(leaf_from):
        res[i] = (base + lf[None, :, :]).min(axis=2).sum(axis=1)
    res[:, 0] = np.nan
    return res
