"""Cycles among is_a edges: the strongly connected components an ontology's subclass axioms form
(their classes are equivalent), found without a graph library (importing networkx cost every
ontology load 0.5 s of CPU)."""

from __future__ import annotations

from collections.abc import Iterable


def is_a_cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components (size > 1) of an is_a edge list, each sorted (Tarjan's
    algorithm, iterative: an is_a chain may be deeper than Python's recursion limit).

    >>> is_a_cycles([("a", "b"), ("b", "a"), ("b", "c")])
    [['a', 'b']]
    """
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in succ:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work and low[v] < low[work[-1][0]]:
                    low[work[-1][0]] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


__all__ = ["is_a_cycles"]
