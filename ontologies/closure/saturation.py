"""The saturation: from :class:`ontologies.axioms.Axioms` to a :class:`Closure`, pure and in-process.

For every named class ``A``: its named superclasses and every ``A SubClassOf P some B`` entailed
by told ``subClassOf`` (named, existential restrictions, genus and differentiae of
``equivalentClass`` intersections, members of unions), sub-properties, transitivity and property
chains (``transitive_over`` included), ``subClassOf ∘ R`` and ``R ∘ subClassOf``, property domains,
and recognition of defined classes (``X`` is classified under ``A ≡ G and P some B`` when ``X`` is
under ``G`` and has ``P some B``), repeated to a fixpoint: an EL-style saturation restricted to the
constructs anatomy ontologies use. Nested class expressions are weakened soundly and counted.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ontologies.axioms import Axioms
from ontologies.closure.reduction import Closure

log = logging.getLogger(__name__)


def _prop_closure(props: set[str], subprop: list[tuple[str, str]]) -> dict[str, set[str]]:
    up: dict[str, set[str]] = defaultdict(set)
    for a, b in subprop:
        up[a].add(b)
    out = {}
    for p in props | set(up):
        seen, todo = {p}, [p]
        while todo:
            for q in up.get(todo.pop(), ()):
                if q not in seen:
                    seen.add(q)
                    todo.append(q)
        out[p] = seen
    return out


def _sccs_topo(n: int, edges: dict[int, set[int]]) -> list[list[int]]:
    """SCCs of a graph, dependencies (edge targets) first: iterative Tarjan (no recursion)."""
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    empty: tuple[int, ...] = ()
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, iter(edges.get(root, empty)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, iter(edges.get(w, empty))))
                    pushed = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if pushed:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out  # Tarjan emits components in reverse topological order: targets first


def compute(ax: Axioms, *, max_rounds: int = 20) -> Closure:
    """Saturate the axioms (see module docstring). Pure, no store."""
    names = sorted(ax.classes | {c for c, *_ in ax.exist})
    index = {c: i for i, c in enumerate(names)}
    n = len(names)
    props = {p for _, p, _ in ax.exist} | {q for _, q in ax.chains} | {p for ch, _ in ax.chains for p in ch}
    props |= {p for pair in ax.subprop for p in pair} | ax.transitive
    superprops = _prop_closure(props, ax.subprop)
    # binary chains (longer ones folded left through fresh properties), transitivity as p∘p -> p
    chains: list[tuple[str, str, str]] = []
    k = 0
    for chain, q in ax.chains:
        left = chain[0]
        for nxt in chain[1:-1]:
            fresh = f"_:chain{k}"
            k += 1
            chains.append((left, nxt, fresh))
            superprops[fresh] = {fresh}
            left = fresh
        chains.append((left, chain[-1], q))
    chains += [(p, p, p) for p in ax.transitive]
    by_first: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for p1, p2, q in chains:
        by_first[p1].append((p2, q))
    told_parents: dict[int, set[int]] = defaultdict(set)
    for a, b in ax.subclass:
        if a != b:
            told_parents[index[a]].add(index[b])
    told: list[dict[str, set[int]]] = [dict() for _ in range(n)]
    for a, p, b in ax.exist:
        told[index[a]].setdefault(p, set()).add(index[b])
    defs = [(index[a], [index[g] for g in gs], [(p, index[b]) for p, b in ds]) for a, gs, ds in ax.defs]
    domains = [(p, index[d]) for p, d in ax.domains if d in index]
    inferred = 0
    rounds = 0
    dirty: set[int] | None = None
    sup: list[frozenset[int]] = []
    eq: list[frozenset[int]] = []
    rel: list[dict[str, frozenset[int]]] = []
    while True:
        rounds += 1
        sup, eq = _superclasses(n, told_parents, sup, eq, dirty)
        rel = _relations(n, told_parents, told, sup, superprops, by_first, ax.transitive, rel, dirty)
        new = _classify(n, defs, domains, sup, rel, eq, superprops)
        changed: set[int] = set()
        for x, a in new:
            if a not in told_parents[x]:
                told_parents[x].add(a)
                changed.add(x)
        inferred += sum(1 for x, _ in new if x in changed)
        if not changed or rounds >= max_rounds:
            break
        dirty = _dependents(n, changed, told_parents, told)
    log.info("closure: %d classes, %d rounds, %d inferred subclass axioms", n, rounds, inferred)
    return Closure(names, index, sup, rel, eq, sorted(p for p in props if not p.startswith("_:")),
                   set(ax.transitive), superprops, inferred, rounds, Counter(ax.skipped))


def _dependents(n: int, changed: set[int], parents: dict[int, set[int]], told: list[dict[str, set[int]]]) -> set[int]:
    """Every class whose closure can depend on a class in ``changed`` (reverse reachability)."""
    rev: dict[int, list[int]] = defaultdict(list)
    for a, ps in parents.items():
        for b in ps:
            rev[b].append(a)
    for a, t in enumerate(told):
        for bs in t.values():
            for b in bs:
                rev[b].append(a)
    return reachable(rev, changed)


def reachable(edges: Mapping[Any, Iterable[Any]], starts: Iterable[Any]) -> set[Any]:
    """Everything reachable from ``starts`` (included) along ``edges``; iterative, cycle-safe.

    >>> sorted(reachable({"a": ["b"], "b": ["c", "a"]}, ["a"]))
    ['a', 'b', 'c']
    """
    seen = set(starts)
    todo = list(seen)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _superclasses(n: int, parents: dict[int, set[int]], prev_sup: list[frozenset[int]], prev_eq: list[frozenset[int]],
                  dirty: set[int] | None) -> tuple[list[frozenset[int]], list[frozenset[int]]]:
    sup: list[frozenset[int]] = list(prev_sup) if dirty is not None else [frozenset()] * n
    eq: list[frozenset[int]] = list(prev_eq) if dirty is not None else [frozenset()] * n
    for comp in _sccs_topo(n, parents):
        if dirty is not None and not any(c in dirty for c in comp):
            continue
        members = frozenset(comp)
        acc = set(members)
        for c in comp:
            for p in parents.get(c, ()):
                if p not in members:
                    acc |= sup[p]
        fs = frozenset(acc)
        for c in comp:
            sup[c] = fs
            eq[c] = members
    return sup, eq


def _relations(n: int, parents: dict[int, set[int]], told: list[dict[str, set[int]]], sup: list[frozenset[int]],
               superprops: dict[str, set[str]], by_first: dict[str, list[tuple[str, str]]],
               transitive: set[str], prev: list[dict[str, frozenset[int]]],
               dirty: set[int] | None) -> list[dict[str, frozenset[int]]]:
    deps: dict[int, set[int]] = {i: set(parents.get(i, ())) for i in range(n)}
    for i, t in enumerate(told):
        for bs in t.values():
            deps[i] |= bs
    empty: dict[str, frozenset[int]] = {}
    rel: list[dict[str, frozenset[int]]] = list(prev) if dirty is not None else [empty] * n
    for comp in _sccs_topo(n, deps):
        if dirty is not None and not any(c in dirty for c in comp):
            continue
        changed = True
        while changed:
            changed = False
            for c in comp:
                new = _one_class(c, parents.get(c, ()), told[c], sup, rel, superprops, by_first, transitive)
                if new != rel[c]:
                    rel[c] = new
                    changed = len(comp) > 1
    return rel


def _one_class(c: int, parents: Iterable[int], told: dict[str, set[int]], sup: list[frozenset[int]],
               rel: list[dict[str, frozenset[int]]], superprops: dict[str, set[str]],
               by_first: dict[str, list[tuple[str, str]]], transitive: set[str]) -> dict[str, frozenset[int]]:
    """Semi-naive: parents' relations are closed already; only told targets (and what chains
    derive from them) generate new work. Supers of a target need none: ``rel[sup] ⊆ rel[target]``."""
    plist = [p for p in parents if p != c]
    if len(plist) == 1 and not told:
        return rel[plist[0]]
    cur: dict[str, set[int]] = {}
    for p in plist:
        for prop, s in rel[p].items():
            tgt = cur.get(prop)
            if tgt is None:
                cur[prop] = set(s)
            else:
                tgt |= s
    gens: list[tuple[str, int, bool]] = []
    for prop, bs in told.items():
        for b in bs:
            for q in superprops.get(prop, (prop,)):
                cur.setdefault(q, set()).update(sup[b])
                gens.append((q, b, False))
    while gens:
        p1, x, closed = gens.pop()
        for p2, q in by_first.get(p1, ()):
            if closed and p2 == p1 == q:
                continue
            s = rel[x].get(p2) if x != c else cur.get(p2)
            if not s:
                continue
            for qq in superprops.get(q, (q,)):
                tgt = cur.setdefault(qq, set())
                new = s - tgt
                if new:
                    tgt |= new
                    self_closed = p2 == qq and qq in transitive
                    gens.extend((qq, y, self_closed) for y in new)
    return {p: frozenset(v) for p, v in cur.items()}


def _classify(n: int, defs: list, domains: list, sup: list[frozenset[int]], rel: list[dict[str, frozenset[int]]],
              eq: list[frozenset[int]], superprops: dict[str, set[str]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    if defs:
        desc: dict[int, set[int]] = defaultdict(set)
        for i in range(n):
            for g in sup[i]:
                desc[g].add(i)
        needed: dict[str, set[int]] = defaultdict(set)
        for _, _, ds in defs:
            for p, b in ds:
                needed[p].add(b)
        inv: dict[tuple[str, int], set[int]] = defaultdict(set)
        for i in range(n):
            for p, fill in needed.items():
                s = rel[i].get(p)
                if s:
                    for b in s & fill:
                        inv[(p, b)].add(i)
        for a, gs, ds in defs:
            sets = [desc.get(g, set()) for g in gs] + [inv.get((p, b), set()) for p, b in ds]
            if not sets or any(not s for s in sets):
                continue
            sets.sort(key=len)
            cands = set(sets[0]).intersection(*sets[1:])
            for x in cands:
                if a not in sup[x]:
                    out.append((x, a))
    for p, d in domains:
        for i in range(n):
            if rel[i].get(p) and d not in sup[i]:
                out.append((i, d))
    return out
