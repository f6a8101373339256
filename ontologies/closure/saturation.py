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
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
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


def compute(ax: Axioms, *, max_rounds: int = 20, progress: Callable[[int, int | None], None] | None = None,
            ) -> Closure:
    """Saturate the axioms (see module docstring). Pure, no store. ``progress(classes done, classes)``
    follows each pass (a pass after the first restarts the count)."""
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
    state = _Saturation(n, told_parents, told, superprops, by_first, ax.transitive, defs, domains)
    changed: set[int] | None = None  # classes given a new parent since the last pass (None: the first)
    skipped = Counter(ax.skipped)
    rounds = 0
    while True:
        rounds += 1
        # what the pass met but could not infer on the way (a defined class or domain not done before
        # the class): parents for the next pass
        later = state.run(changed, progress)
        changed = set()
        for x, a in later:
            if a not in told_parents[x]:
                told_parents[x].add(a)
                state.inferred += 1
                changed.add(x)
        if not changed:
            break
        if rounds >= max_rounds:  # a safety valve: real ontologies take two passes
            log.warning("closure: stopped after %d passes with %d classes still to redo: incomplete", rounds,
                        len(changed))
            skipped["classes left unsaturated after the last pass"] += len(changed)
            break
    sup, rel, eq, inferred = state.sup, state.rel, state.eq, state.inferred
    log.info("closure: %d classes, %d rounds, %d inferred subclass axioms", n, rounds, inferred)
    return Closure(names, index, sup, rel, eq, sorted(p for p in props if not p.startswith("_:")),
                   set(ax.transitive), superprops, inferred, rounds, skipped)


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


#: a defined class ``A ≡ G1 and … and P1 some B1 and …``: (A, [G…], [(P, B)…]), as indices
Definition = tuple[int, list[int], list[tuple[str, int]]]


class _Saturation:
    """Superclasses and relations of every class, dependencies (parents and told fillers) first,
    each component of mutually dependent classes to its fixpoint; a class that then falls under a
    property's domain or a defined class already done gets it as a parent at once (so one pass
    usually suffices: the domains of the relations ontology put most anatomy classes under BFO's,
    and a second round would touch nearly every class again).

    After the first pass (``changed``: the classes given a new parent since), a component is
    recomputed only when an input of one of its classes changed: its parents, its told fillers
    (their superclasses or relations), or any class its relations reach (:func:`_one_class`
    reads the relations of those through the chains, and of no others)."""

    def __init__(self, n: int, parents: dict[int, set[int]], told: list[dict[str, set[int]]],
                 superprops: dict[str, set[str]], by_first: dict[str, list[tuple[str, str]]], transitive: set[str],
                 defs: list[Definition], domains: list[tuple[str, int]]) -> None:
        self.n, self.parents, self.told = n, parents, told
        self.superprops, self.by_first = superprops, by_first
        self.after_self = {p: [(p2, q) for p2, q in by_first.get(p, ()) if not p2 == q == p] for p in transitive}
        self.sup: list[frozenset[int]] = [frozenset()] * n
        self.eq: list[frozenset[int]] = [frozenset()] * n
        self.rel: list[dict[str, set[int]]] = [{}] * n
        self.inferred = 0
        self.domain_of: dict[str, list[int]] = defaultdict(list)
        for p, d in domains:
            self.domain_of[p].append(d)
        # defined classes by their first differentia (property, then filler; with the fillers of each
        # property as a set, to meet a class's relations in one intersection), then their first genus
        # (or None); those without a differentia by their first genus
        self.by_filler: dict[str, dict[int, dict[int | None, list[Definition]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list)))
        self.by_genus: dict[int, list[Definition]] = defaultdict(list)
        for d in defs:
            if d[2]:
                self.by_filler[d[2][0][0]][d[2][0][1]][d[1][0] if d[1] else None].append(d)
            elif d[1]:
                self.by_genus[d[1][0]].append(d)
        self.fillers = {p: frozenset(by) for p, by in self.by_filler.items()}

    def run(self, changed: set[int] | None,
            progress: Callable[[int, int | None], None] | None = None) -> list[tuple[int, int]]:
        """One pass; returns the (class, superclass) pairs met too early to infer in it.
        ``progress(classes done, classes)`` every few thousand classes."""
        parents, told, rel = self.parents, self.told, self.rel
        deps: dict[int, set[int]] = {i: set(parents.get(i, ())) for i in range(self.n)}
        for i, t in enumerate(told):
            for bs in t.values():
                deps[i] |= bs
        moved: set[int] = set()  # classes whose superclasses or relations changed in this pass
        done = [False] * self.n
        later: list[tuple[int, int]] = []

        def stale(c: int) -> bool:
            return (c in changed or not moved.isdisjoint(deps[c])  # type: ignore[operator]
                    or any(not moved.isdisjoint(s) for s in rel[c].values()))

        finished = 0
        step = max(1, self.n // 200)
        for comp in _sccs_topo(self.n, deps):
            if changed is None or any(stale(c) for c in comp):
                before = [(self.sup[c], rel[c]) for c in comp]
                while True:
                    self._superclasses(comp)
                    self._relations(comp)
                    met = [(c, a) for c in comp for a in self._under(c)]
                    found = [(c, a) for c, a in met if done[a]]
                    if not found:
                        later += met
                        break
                    for c, a in found:  # done already: no cycle, the order stays valid
                        mine = parents.setdefault(c, set())
                        if a not in mine:
                            mine.add(a)
                            deps[c].add(a)
                            self.inferred += 1
                if changed is not None:
                    moved.update(c for c, old in zip(comp, before) if (self.sup[c], rel[c]) != old)
            for c in comp:
                done[c] = True
            if progress is not None:
                finished += len(comp)
                if finished % step < len(comp) or finished == self.n:
                    progress(finished, self.n)
        return later

    def _superclasses(self, comp: list[int]) -> None:
        parents, sup = self.parents, self.sup
        groups = [comp] if len(comp) == 1 else _sccs_topo_within(comp, parents)
        for group in groups:
            members = frozenset(group)
            acc = set(members)
            for c in group:
                for p in parents.get(c, ()):
                    if p not in members:
                        acc |= sup[p]
            fs = frozenset(acc)
            for c in group:
                sup[c] = fs
                self.eq[c] = members

    def _relations(self, comp: list[int]) -> None:
        rel = self.rel
        members = frozenset(comp) if len(comp) > 1 else frozenset()
        again = True
        while again:
            again = False
            for c in comp:
                new = _one_class(c, self.parents.get(c, ()), self.told[c], self.sup, rel, self.superprops,
                                 self.by_first, self.after_self, members)
                if new != rel[c]:
                    rel[c] = new
                    again = len(comp) > 1

    def _under(self, c: int) -> list[int]:
        """The domains of ``c``'s properties and the defined classes whose definition it meets,
        not yet among its superclasses."""
        sup, r = self.sup[c], self.rel[c]
        out = [d for p in r for d in self.domain_of.get(p, ()) if d not in sup]
        cands: list[Definition] = []
        for p, fillers in self.fillers.items():
            targets = r.get(p)
            if targets:
                by = self.by_filler[p]
                for b in targets & fillers:
                    for g, ds in by[b].items():
                        if g is None or g in sup:
                            cands += ds
        if self.by_genus:
            cands += [d for g in sup for d in self.by_genus.get(g, ())]
        for a, gs, ds in cands:
            if a not in sup and all(g in sup for g in gs) and all(b in r.get(p, ()) for p, b in ds):
                out.append(a)
        return out


def _sccs_topo_within(comp: list[int], parents: dict[int, set[int]]) -> list[list[int]]:
    """The SCCs of the ``parents`` edges among ``comp``, parents first."""
    local = {c: k for k, c in enumerate(comp)}
    edges = {k: {local[p] for p in parents.get(c, ()) if p in local} for k, c in enumerate(comp)}
    return [[comp[k] for k in group] for group in _sccs_topo(len(comp), edges)]


def _one_class(c: int, parents: Iterable[int], told: dict[str, set[int]], sup: list[frozenset[int]],
               rel: list[dict[str, set[int]]], superprops: dict[str, set[str]],
               by_first: dict[str, list[tuple[str, str]]], after_self: dict[str, list[tuple[str, str]]],
               open_parents: AbstractSet[int] = frozenset()) -> dict[str, set[int]]:
    """Semi-naive: parents' relations are closed already; only told targets (and what chains
    derive from them) generate new work. Supers of a target need none: ``rel[sup] ⊆ rel[target]``.
    ``by_first[p]``: the chains ``p ∘ p2 -> q`` as (p2, q); ``after_self[p]``: those of a transitive
    ``p`` other than ``p ∘ p -> p``.

    Parents in ``open_parents`` (those in the class's own component, whose relations may still
    grow) are not closed: their edges generate work too. Else, among equivalent classes, each
    would take an edge the other derived from a filler's relations as they were then, and
    neither would apply the chains again once the filler's relations grew."""
    plist = [p for p in parents if p != c]
    if len(plist) == 1 and not told:
        return rel[plist[0]]  # exactly its parent's (an open one's too: it takes them as they end)
    cur: dict[str, set[int]] = {}
    for p in plist:
        for prop, s in rel[p].items():
            tgt = cur.get(prop)
            if tgt is None:
                cur[prop] = set(s)
            else:
                tgt |= s
    # work: (filler, the chains to apply to the new edge to it)
    gens: list[tuple[int, list[tuple[str, str]]]] = [(y, by_first[prop]) for p in plist if p in open_parents
                                                      for prop, s in rel[p].items() if prop in by_first for y in s]
    for prop, bs in told.items():
        for b in bs:
            for q in superprops.get(prop, (prop,)):
                cur.setdefault(q, set()).update(sup[b])
                if q in by_first:
                    gens.append((b, by_first[q]))
    while gens:
        x, chains = gens.pop()
        rx = rel[x] if x != c else cur
        for p2, q in chains:
            s = rx.get(p2)
            if not s:
                continue
            for qq in superprops.get(q, (q,)):
                tgt = cur.setdefault(qq, set())
                new = s - tgt
                if new:
                    tgt |= new
                    # edges taken from a filler's own (closed) edges of a transitive property need
                    # no transitivity again: only its other chains, if any
                    follow = after_self.get(qq) if p2 == qq and qq in after_self else by_first.get(qq)
                    if follow:
                        gens.extend((y, follow) for y in new)
    return cur
