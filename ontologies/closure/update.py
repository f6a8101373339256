"""A closure made from other inputs, brought up to date in place: kept when the ontologies loaded
since cannot change it, else updated for the classes they can change, instead of dropped and
written again (dropping a graph, like reading it back, costs more than writing it).

The closure of a class ``x`` is determined by the property axioms and by the axioms whose subjects
lie in ``reach(x)``: ``x`` and every class its entailed edges lead to, transitively (every
saturation rule reads only a class's own axioms and the closures of its superclasses and fillers). Adding graphs can therefore change
it only if ``reach(x)``, computed over the new saturation, holds a class the added graphs say
something about, or a class with an edge that one of their new property axioms needs to fire (the
sub-property, the transitive or domain property; for a chain, one of its links: each must have an
edge in ``reach(x)``). :func:`affected` gives those classes; every other class's edges, and its
nonredundant edges, are exactly those already written. The graphs then get, for the classes
:func:`affected` names, the difference between the closure over the new inputs and the one over the
old (still loaded: it is recomputed, not read back from the store), with no read of the graphs
(:func:`apply_diff`). When an input was removed instead, the graphs are compared with the new
closure as read from the store (:func:`patch`).

>>> from ontologies.axioms import SUBCLASS
>>> from ontologies.closure.saturation import compute
>>> old = {"a": Axioms.from_triples([("A1", SUBCLASS, "A2"), ("A3", SUBCLASS, "A2")])}
>>> new = {**old, "b": Axioms.from_triples([("B1", SUBCLASS, "A1")])}
>>> c = compute(Axioms.merge(new.values()))
>>> [c.names[i] for i in affected(c, new, old=["a"], new=["a", "b"])]  # B1 is_a A1: only B1 is new
['B1']
>>> new["b"] = Axioms.from_triples([("A2", SUBCLASS, "B2")])
>>> c = compute(Axioms.merge(new.values()))
>>> sorted(c.names[i] for i in affected(c, new, old=["a"], new=["a", "b"]))  # A2 is_a B2: A1, A3 gain B2
['A1', 'A2', 'A3']
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from ontologies.axioms import Axioms
from ontologies.closure.edges import Edges, ntriples_chunks
from ontologies.closure.reduction import Closure


def affected(c: Closure, axioms: Mapping[str, Axioms], *, old: Collection[str],
             new: Collection[str]) -> set[int] | None:
    """The classes (by index in ``c``, the saturation over the graphs ``new``; each graph's own
    axioms in ``axioms``) whose closure over ``new`` may differ from their closure over ``old``.
    None when ``old`` is not a proper subset of ``new`` (a graph removed or replaced: any may)."""
    old_set, new_set = set(old), set(new)
    if not old_set < new_set:
        return None
    added = new_set - old_set
    index = c.index
    seeds = {index[x] for g in added for x in axioms[g].subjects() if x in index}
    before: set[tuple] = set().union(*(axioms[g].property_axioms() for g in old_set))
    fresh = {a for g in added for a in axioms[g].property_axioms() - before}
    if fresh:
        having: dict[str, set[int]] = {}  # property -> the classes with an edge on it
        for i, r in enumerate(c.rel):
            for p in r:
                having.setdefault(p, set()).add(i)
        for a in fresh:  # a chain needs every link: the rarest one will do
            seeds |= min((having.get(p, set()) for p in _needs(a)), key=len)
    return _reaching(c, seeds)


def _reaching(c: Closure, seeds: set[int]) -> set[int]:
    """``seeds`` and every class from which an entailed edge path leads to one of them."""
    out = set(seeds)
    rest = [i for i in range(len(c.names)) if i not in out]
    while rest:
        hit = [i for i in rest if not c.sup[i].isdisjoint(out)
               or any(not t.isdisjoint(out) for t in c.rel[i].values())]
        if not hit:
            break
        out.update(hit)
        rest = [i for i in rest if i not in out]
    return out


def _needs(axiom: tuple) -> set[str]:
    """The properties that must all have edges for a property axiom to fire: every link of a
    chain, else the sub-property, the transitive or the domain property."""
    return set(axiom[1]) if axiom[0] == "chain" else {axiom[1]}


def apply_diff(store: Any, graph: str, new: Edges, old: Edges, check: Iterable[int]) -> tuple[int, int]:
    """Bring ``graph``, which holds ``old``'s edges, to ``new``'s for the classes ``check`` (indices
    in ``new.c``; every other class's edges are the same in both): load what is new, delete what
    no longer holds. Nothing is read from the store. Returns (added, removed)."""
    names, old_names = new.c.names, old.c.names
    to_new = [new.c.index.get(n) for n in old_names]
    add: list[tuple[int, str, set[int]]] = []
    gone: list[str] = []
    for i in sorted(check):
        now = new.of(i)
        j = old.c.index.get(names[i])
        before = {} if j is None else old.of(j)
        for p in now.keys() | before.keys():
            targets = now.get(p, frozenset())
            had = before.get(p, ())
            had_new = {to_new[x] for x in had if to_new[x] is not None}
            extra = targets - had_new
            if extra:
                add.append((i, p, set(extra)))
            gone += [f"<{names[i]}> <{p}> <{old_names[x]}> ." for x in had
                     if to_new[x] is None or to_new[x] not in targets]
    return _write(store, graph, new.c, add, gone)


def patch(store: Any, graph: str, new: Edges) -> tuple[int, int]:
    """Make ``graph`` hold exactly ``new``'s edges, comparing them with what it holds (read back
    from the store: the old closure's inputs are not all loaded any more). Returns (added, removed).

    >>> from kg.core.store import open_store
    >>> from ontologies.axioms import SUBCLASS
    >>> from ontologies.closure.saturation import compute
    >>> st, c = open_store("oxigraph:"), compute(Axioms.from_triples([("http://x/A", SUBCLASS, "http://x/B")]))
    >>> patch(st, "http://x/g", Edges(c)), patch(st, "http://x/g", Edges(c))
    ((1, 0), (0, 0))
    """
    index, names = new.c.index, new.c.names
    held: dict[tuple[int, str], set[int]] = {}
    gone: list[str] = []
    for q in store.quads(None, None, None, graph):
        s, o = index.get(q.subject.value), index.get(q.object.value)
        if s is None or o is None:  # a class no longer in any loaded ontology
            gone.append(f"{q.subject} {q.predicate} {q.object} .")
        else:
            held.setdefault((s, q.predicate.value), set()).add(o)
    add: list[tuple[int, str, set[int]]] = []
    for i, p, targets in new.groups():
        have = held.pop((i, p), set())
        extra = targets - have
        if extra:
            add.append((i, p, set(extra)))
        gone += [f"<{names[i]}> <{p}> <{names[o]}> ." for o in have - targets]
    gone += [f"<{names[i]}> <{p}> <{names[o]}> ." for (i, p), have in held.items() for o in have]
    return _write(store, graph, new.c, add, gone)


def _write(store: Any, graph: str, c: Closure, add: list[tuple[int, str, set[int]]],
           gone: list[str]) -> tuple[int, int]:
    from kg.core.bulk import load_chunks
    from kg.core.store import NamedNode

    added = load_chunks(store, ntriples_chunks(c, groups=add), graph) if add else 0
    g = NamedNode(graph)
    for k in range(0, len(gone), 20_000):
        store.update("DELETE DATA { GRAPH %s { %s } }" % (g, " ".join(gone[k:k + 20_000])))
    return added, len(gone)


def update(store: Any, graphs: tuple[str, str], new: tuple[Edges, Edges], old: tuple[Edges, Edges] | None,
           changed: set[int] | None) -> tuple[int, int] | None:
    """Bring a closure's redundant and nonredundant graphs (``graphs``), made from ``old`` inputs,
    to ``new``: (net change in size of each), or None when nothing changes. ``changed``: the
    classes :func:`affected` names, with ``old`` the closure over the old inputs; None (an input
    removed) compares with the graphs as stored instead."""
    if changed is None or old is None:
        (a1, r1), (a2, r2) = (patch(store, g, e) for g, e in zip(graphs, new))
        return a1 - r1, a2 - r2
    red_new, non_new = new
    red_check = changed if red_new.subjects is None else red_new.subjects & changed
    up_new = non_new.subjects
    if up_new is None:
        non_check = set(changed)
    else:  # the classes whose edges changed, and those that entered or left the nonredundant graph's subjects
        index, old_names = red_new.c.index, old[1].c.names
        up_old = {index[old_names[j]] for j in (old[1].subjects or ()) if old_names[j] in index}
        non_check = (up_new & changed) | (up_new ^ up_old)
    if not red_check and not non_check:
        return None
    out = []
    for g, e, o, check in zip(graphs, new, old, (red_check, non_check)):
        added, removed = apply_diff(store, g, e, o, check) if check else (0, 0)
        out.append(added - removed)
    return out[0], out[1]


__all__ = ["affected", "apply_diff", "patch", "update"]
