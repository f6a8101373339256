"""The computed closure (:class:`Closure`): its entailed edges and their transitive reduction
(Ubergraph's "nonredundant" graph: the edges no other entailed edge implies)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from ontologies.axioms import SUBCLASS, THING


@dataclass
class Closure:
    """The computed closure. ``sup[i]``: named superclasses of class ``i`` (reflexive);
    ``rel[i]``: property -> set of fillers (``i SubClassOf P some filler``); classes with one parent
    and nothing told share their parent's dict, so none of these is to be changed in place."""

    names: list[str]
    index: dict[str, int]
    sup: list[frozenset[int]]
    rel: list[dict[str, set[int]]]
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
    def direct_sup(self, i: int) -> frozenset[int]:
        """Direct named superclasses of class ``i`` (and its equivalents), by index."""
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

    def direct_rel(self, i: int, p: str) -> set[int]:
        """Edges of ``i`` for ``p`` that no other entailed edge implies (Ubergraph's nonredundant)."""
        targets = self.rel[i].get(p)
        if not targets:
            return set()
        parents = self.direct_sup(i) - self.eq[i]
        inherited: set[int] = set()
        for j in parents:
            inherited |= self.rel[j].get(p, frozenset())
        subs = self.subproperties().get(p, ())
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

    def subproperties(self) -> dict[str, list[str]]:
        """Property -> its strict sub-properties."""
        if not hasattr(self, "_sub_cache"):
            sub: dict[str, list[str]] = defaultdict(list)
            for q, sups in self.superprops.items():
                for p in sups:
                    if p != q:
                        sub[p].append(q)
            self._sub_cache = dict(sub)
        return self._sub_cache

    def nonredundant_related(self, iri: str, prop: str) -> set[str]:
        return {self.names[j] for j in self.direct_rel(self.index[iri], prop)}

    def triples(self, *, nonredundant: bool = False) -> Iterator[tuple[int, str, int]]:
        """(subject index, predicate IRI, object index) of the redundant or nonredundant graph."""
        thing = self.index.get(THING)
        for i in range(len(self.names)):
            sups = self.direct_sup(i) if nonredundant else self.sup[i]
            for j in sups:
                if j != i and j != thing:
                    yield i, SUBCLASS, j
            for p in self.rel[i]:
                if p.startswith("_:"):
                    continue
                targets = self.direct_rel(i, p) if nonredundant else self.rel[i][p]
                for j in targets:
                    if j != i and j != thing:
                        yield i, p, j
