"""Parsimony placement (insertion_costs) against inserting the leaf for real and scoring again."""

from __future__ import annotations

import numpy as np
import pytest

from kg.comparative.characters import encode
from kg.comparative.parsimony import insertion_costs, sankoff
from kg.comparative.tree import PhyloTree


def _newick(children: dict[int, list[int]], names: list[str], v: int) -> str:  # tiny trees only
    kids = children.get(v, [])
    return names[v] if not kids else "(" + ",".join(_newick(children, names, c) for c in kids) + ")"


@pytest.mark.parametrize("seed", range(6))
def test_insertion_costs_equal_rescoring_the_tree_with_the_leaf_inserted(seed):
    rng = np.random.default_rng(seed)
    n_tips, n_chars = 7, 5
    nodes = [f"t{i}" for i in range(n_tips)]
    while len(nodes) > 1:  # random binary tree
        i, j = sorted(rng.choice(len(nodes), 2, replace=False), reverse=True)
        x, y = nodes.pop(i), nodes.pop(j)
        nodes.append(f"({x},{y})")
    tree = PhyloTree.from_newick(nodes[0] + ";")
    tips = [tree.names[i] for i in tree.tips]
    rows = {t: ["".join(rng.choice(["0", "1", "?"], p=[0.45, 0.45, 0.1])) for _ in range(n_chars)] for t in tips}
    data = [{t: (None if rows[t][j] == "?" else rows[t][j]) for t in tips} for j in range(n_chars)]
    chars = encode(tree, data)
    leaf_states = rng.choice(["0", "1", "?"], size=n_chars)
    mask = np.array([[{"0": 1, "1": 2, "?": 3}[s] for s in leaf_states]], dtype=np.uint64)
    got = insertion_costs(tree, chars, mask)[0]

    names = list(tree.names)
    for c in range(1, tree.n_nodes):  # insert v on the edge above c, leaf q under v
        children: dict[int, list[int]] = {}
        for v in range(1, tree.n_nodes):
            p = int(tree.parent[v])
            children.setdefault(p, []).append(v if v != c else tree.n_nodes)
        children[tree.n_nodes] = [c, tree.n_nodes + 1]
        nm = names + ["", "q"]
        t2 = PhyloTree.from_newick(_newick(children, nm, 0) + ";")
        d2 = [dict(d, q=None if leaf_states[j] == "?" else leaf_states[j]) for j, d in enumerate(data)]
        want = float(sankoff(t2, encode(t2, d2)).score.sum())
        assert got[c] == pytest.approx(want), (seed, c)
    assert np.isnan(got[0])
