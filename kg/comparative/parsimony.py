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
from kg.errors import ValidationError


@dataclass
class FitchResult:
    score: np.ndarray  # per character
    sets: np.ndarray  # (n_nodes, n_chars) bitmasks of the first (down) pass

    @property
    def total(self) -> int:
        return int(self.score.sum())


def fitch(tree: PhyloTree, chars: Characters) -> FitchResult:
    """Parsimony score of every character (unit costs), Hartigan's rule at polytomies."""
    k = chars.k
    sets = chars.masks.copy()
    score = np.zeros(sets.shape[1], dtype=np.int64)
    small = sets.dtype if k > 8 else np.uint8
    one = np.array(1, dtype=small)
    for lv in tree.levels:
        M = sets[lv.kids].astype(small, copy=False)
        starts = lv.start[:-1]
        nk = np.diff(lv.start)
        best = None
        cnts = []
        for s in range(k):
            c = np.add.reduceat(((M >> np.array(s, dtype=small)) & one).astype(np.int32), starts, axis=0)
            cnts.append(c)
            best = c if best is None else np.maximum(best, c)
        out = np.zeros(best.shape, dtype=np.uint64)
        for s in range(k):
            out |= (cnts[s] == best).astype(np.uint64) << np.uint64(s)
        sets[lv.nodes] = out
        score += (nk[:, None] - best).sum(axis=0)
    return FitchResult(score, sets)


@dataclass
class SankoffResult:
    states: list[str]
    score: np.ndarray  # per character
    down: np.ndarray  # (n_nodes, n_chars, k) subtree costs
    total_cost: np.ndarray  # (n_nodes, n_chars, k): best whole-tree cost with the node in each state

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
    return SankoffResult(chars.states, score, down, down + up)
