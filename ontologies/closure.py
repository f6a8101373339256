"""Materialised ontology closure (Ubergraph's "redundant" and "nonredundant" graphs), in-process.

The axioms that matter are read once from the ontology graphs; :func:`compute` then derives, for
every named class ``A``, its named superclasses and every ``A SubClassOf P some B`` entailed by:
told ``subClassOf`` (named, existential restrictions, genus and differentiae of
``equivalentClass`` intersections, members of unions), sub-properties, transitivity and property
chains (``transitive_over`` included), ``subClassOf ∘ R`` and ``R ∘ subClassOf``, property domains,
and recognition of defined classes (``X`` is classified under ``A ≡ G and P some B`` when ``X`` is
under ``G`` and has ``P some B``), repeated to a fixpoint: an EL-style saturation restricted to the
constructs anatomy ontologies use. Nested class expressions are weakened soundly and counted.

Output (see docs/DEVELOPING.md, "Ontology closure contract"): a derived graph
``graph/closure/<name>/<version>`` of direct triples ``S P O`` (non-reflexive) and its transitive
reduction ``graph/closure/<name>-nonredundant/<version>``, both ``prov:wasDerivedFrom`` the
ontology graphs.

>>> ax = Axioms.from_triples([("A", SUBCLASS, "B"), ("B", SUBCLASS, "_:r"), ("_:r", ON_PROPERTY, "part_of"),
...                           ("_:r", SOME, "C"), ("C", SUBCLASS, "_:s"), ("_:s", ON_PROPERTY, "part_of"),
...                           ("_:s", SOME, "D"), ("part_of", RDF_TYPE, TRANSITIVE)])
>>> c = compute(ax)
>>> sorted(c.superclasses("A")), sorted(c.related("A", "part_of"))
(['B'], ['C', 'D'])
>>> sorted(c.nonredundant_related("A", "part_of"))
[]
>>> sorted(c.nonredundant_related("B", "part_of"))
['C']
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ontologies.axioms import (  # noqa: F401 - re-exported: the closure's vocabulary
    DEPRECATED,
    ON_PROPERTY,
    OWL_CLASS,
    RDF,
    RDF_TYPE,
    SOME,
    SUBCLASS,
    THING,
    TRANSITIVE,
    Axioms,
)
from ontologies.axioms import PREDICATES as _PREDICATES

log = logging.getLogger(__name__)



@dataclass
class Closure:
    """The computed closure. ``sup[i]``: named superclasses of class ``i`` (reflexive);
    ``rel[i]``: property -> set of fillers (``i SubClassOf P some filler``)."""

    names: list[str]
    index: dict[str, int]
    sup: list[frozenset[int]]
    rel: list[dict[str, frozenset[int]]]
    eq: list[frozenset[int]]
    properties: list[str]
    transitive: set[str]
    superprops: dict[str, set[str]]
    inferred_subclass: int = 0
    rounds: int = 0
    skipped: Counter = field(default_factory=Counter)

    def superclasses(self, iri: str, *, reflexive: bool = False) -> set[str]:
        i = self.index[iri]
        return {self.names[j] for j in self.sup[i] if reflexive or j != i}

    def related(self, iri: str, prop: str) -> set[str]:
        i = self.index[iri]
        return {self.names[j] for j in self.rel[i].get(prop, ()) if j != i}

    # transitive reduction ------------------------------------------------------------------
    def _direct_sup(self, i: int) -> frozenset[int]:
        cache = self.__dict__.setdefault("_dsup", {})
        hit = cache.get(i)
        if hit is not None:
            return hit
        eq = self.eq[i]
        strict = self.sup[i] - eq
        covered: set[int] = set()
        for j in strict:
            covered |= self.sup[j] - self.eq[j]
        out = frozenset((strict - covered) | (eq - {i}))
        cache[i] = out
        return out

    def _direct_rel(self, i: int, p: str) -> set[int]:
        """Edges of ``i`` for ``p`` that no other entailed edge implies (Ubergraph's nonredundant)."""
        targets = self.rel[i].get(p)
        if not targets:
            return set()
        parents = self._direct_sup(i) - self.eq[i]
        inherited: set[int] = set()
        for j in parents:
            inherited |= self.rel[j].get(p, frozenset())
        subs = self._subprops().get(p, ())
        from_sub: set[int] = set()
        for q in subs:
            from_sub |= self.rel[i].get(q, frozenset())
        cands = set(targets) - inherited - from_sub - {i}
        if not cands:
            return set()
        # anything strictly above another candidate, or reachable from one through p, is implied
        implied: set[int] = set()
        trans = p in self.transitive
        for b in cands:
            implied |= self.sup[b] - self.eq[b]
            if trans:
                implied |= self.rel[b].get(p, frozenset()) - self.eq[b]
        return cands - implied

    def _subprops(self) -> dict[str, list[str]]:
        if not hasattr(self, "_sub_cache"):
            sub: dict[str, list[str]] = defaultdict(list)
            for q, sups in self.superprops.items():
                for p in sups:
                    if p != q:
                        sub[p].append(q)
            self._sub_cache = dict(sub)
        return self._sub_cache

    def nonredundant_related(self, iri: str, prop: str) -> set[str]:
        return {self.names[j] for j in self._direct_rel(self.index[iri], prop)}

    def triples(self, *, nonredundant: bool = False) -> Iterator[tuple[int, str, int]]:
        """(subject index, predicate IRI, object index) of the redundant or nonredundant graph."""
        thing = self.index.get(THING)
        for i in range(len(self.names)):
            sups = self._direct_sup(i) if nonredundant else self.sup[i]
            for j in sups:
                if j != i and j != thing:
                    yield i, SUBCLASS, j
            for p in self.rel[i]:
                if p.startswith("_:"):
                    continue
                targets = self._direct_rel(i, p) if nonredundant else self.rel[i][p]
                for j in targets:
                    if j != i and j != thing:
                        yield i, p, j


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


def read_axioms(store: Any, graphs: Iterable[str]) -> Axioms:
    """Read the axioms the closure needs from ontology graphs (one pattern scan per predicate)."""
    from kg.core.store import NamedNode

    rows: list[tuple[str, str, str]] = []
    for k, g in enumerate(graphs):
        tag = f"g{k}."  # keep blank nodes of different graphs apart

        def term(t: Any, tag: str = tag) -> str:
            return "_:" + tag + t.value if type(t).__name__ == "BlankNode" else t.value

        for p in _PREDICATES:
            rows.extend((term(q.subject), p, term(q.object)) for q in store.quads(None, NamedNode(p), None, g))
        rdf_type = NamedNode(RDF_TYPE)
        for o in (OWL_CLASS, TRANSITIVE):
            rows.extend((term(q.subject), RDF_TYPE, o) for q in store.quads(None, rdf_type, NamedNode(o), g))
        rows.extend((term(q.subject), DEPRECATED, q.object.value)
                    for q in store.quads(None, NamedNode(DEPRECATED), None, g))
    return Axioms.from_triples(rows)


def ntriples_chunks(c: Closure, *, nonredundant: bool = False, chunk: int = 500_000,
                    properties: set[str] | None = None) -> Iterator[tuple[bytes, int]]:
    """The redundant (or nonredundant) graph as N-Triples: ``(bytes, triples)`` chunks of about
    ``chunk`` triples, the same set as :meth:`Closure.triples` (only ``subClassOf`` and
    ``properties`` when given). No per-triple Python objects: one ``join`` per (subject, property)
    over the IRIs of a set difference.

    >>> c = compute(Axioms.from_triples([("http://x/A", SUBCLASS, "http://x/B")]))
    >>> [(b.decode(), n) for b, n in ntriples_chunks(c)]
    [('<http://x/A> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://x/B> .\\n', 1)]
    """
    nodes = [f"<{x}>" for x in c.names]
    get = nodes.__getitem__
    thing = c.index.get(THING)
    preds = {p: f" <{p}> " for p in {SUBCLASS, *(p for r in c.rel for p in r)}}
    parts: list[str] = []
    n = 0
    for i in range(len(c.names)):
        excl = {i, thing}
        si = nodes[i]
        groups: list[tuple[str, Any]] = [(SUBCLASS, c._direct_sup(i) if nonredundant else c.sup[i])]
        groups += [(p, c._direct_rel(i, p) if nonredundant else t) for p, t in c.rel[i].items()
                   if not p.startswith("_:") and (properties is None or p in properties)]
        for p, targets in groups:
            objs = list(map(get, targets - excl))
            if objs:
                prefix = si + preds[p]
                parts.append(prefix + (" .\n" + prefix).join(objs) + " .\n")
                n += len(objs)
        if n >= chunk:
            yield "".join(parts).encode(), n
            parts, n = [], 0
    if n:
        yield "".join(parts).encode(), n


@dataclass
class ClosureResult:
    """What :func:`materialise` did: the two graphs, their sizes and what was not captured."""

    graph: str
    nonredundant_graph: str
    triples: int
    nonredundant_triples: int
    classes: int
    inferred_subclass: int
    status: str
    seconds: float
    skipped: dict[str, int] = field(default_factory=dict)
    properties: list[str] | None = None  # None: every property

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def materialise(store: Any, graphs: list[str], *, name: str, version: str,
                properties: Iterable[str] | None = None) -> ClosureResult:
    """Compute the closure of ``graphs`` and write ``closure/<name>/<version>`` and
    ``closure/<name>-nonredundant/<version>`` (derived graphs; identical inputs: no-op).

    ``properties`` (IRIs) restricts which existential edges are *written*, besides ``subClassOf``
    (relation-graph's ``--property``) and their sub-properties: the saturation still uses every
    axiom, so the edges written are exactly those of the full closure for these properties.
    Recorded in the manifest."""
    from kg.core.bulk import load_chunks
    from kg.core.graphs import derived_sha, get_graph, load_graph
    t0 = time.perf_counter()
    inputs = [get_graph(store, g) for g in graphs]
    selected = sorted(set(properties) - {SUBCLASS}) if properties is not None else None
    params: dict[str, Any] = {"closure": "el-saturation/1"}
    if selected is not None:
        params["properties"] = selected
    sha = derived_sha(inputs, params)
    cache: dict[str, Any] = {}

    def closure() -> tuple[Closure, set[str] | None]:
        """The closure and the properties to write, computed on the first write (none when both
        graphs exist already)."""
        if "c" not in cache:
            c = compute(read_axioms(store, [r.iri for r in inputs]))
            # with their sub-properties, so that the nonredundant graph (which leaves out edges a
            # sub-property edge implies) stays complete
            cache["c"] = c
            cache["props"] = None if selected is None else set(selected).union(
                *(c._subprops().get(p, ()) for p in selected))
        return cache["c"], cache["props"]

    def writer(nonredundant: bool):
        def write(graph: str) -> int:
            # N-Triples bytes built per (subject, property) group with one C-level join, parsed by the
            # store's bulk path while the next chunk is built; lines are distinct (one per set
            # member), so the count is the graph's size
            c, props = closure()
            return load_chunks(store, ntriples_chunks(c, nonredundant=nonredundant, properties=props), graph)
        return write

    common = dict(source="derived:" + ",".join(r.iri for r in inputs), sha256=sha, byte_size=0, loader="closure",
                  loader_version="1", version=version, parameters=params, derived_from=[r.iri for r in inputs])
    red = load_graph(store, kind="closure", name=name, writer=writer(False), counted=True, **common)
    nonred = load_graph(store, kind="closure", name=f"{name}-nonredundant", writer=writer(True), counted=True, **common)
    c = cache.get("c")
    return ClosureResult(red.iri, nonred.iri, red.triples, nonred.triples, len(c.names) if c else 0,
                         c.inferred_subclass if c else 0, red.status, time.perf_counter() - t0,
                         dict(c.skipped) if c else {}, selected)
