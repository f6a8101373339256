"""What a closure graph holds: the edges of a set of classes (redundant or nonredundant, all
properties or some), as ``(subject, property, objects)`` groups by index and as N-Triples."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ontologies.axioms import SUBCLASS, THING
from ontologies.closure.reduction import Closure


@dataclass(frozen=True)
class Edges:
    """The edges a closure graph holds: those of ``c``'s classes ``subjects`` (by index; None: every
    class), nonredundant or not, ``subClassOf`` and ``properties`` (None: every property)."""

    c: Closure
    nonredundant: bool = False
    properties: set[str] | None = None
    subjects: set[int] | None = None

    def groups(self, only: Iterable[int] | None = None) -> Iterator[tuple[int, str, Any]]:
        """The groups of :func:`edge_groups`, of the classes ``only`` among the subjects if given."""
        subjects = self.subjects
        if only is not None:
            subjects = set(only) if subjects is None else subjects.intersection(only)
        return edge_groups(self.c, nonredundant=self.nonredundant, properties=self.properties, subjects=subjects)

    def of(self, i: int) -> dict[str, Any]:
        """Property -> objects, of class ``i`` (empty when it is not a subject)."""
        return {p: t for _, p, t in self.groups((i,))}


def upward(c: Closure, subjects: set[int] | None) -> set[int] | None:
    """The subjects of a nonredundant graph: ``subjects`` and everything their edges lead to (a walk
    over it from a class of one ontology reaches the classes of others, whose own closure may not
    exist)."""
    if subjects is None:
        return None
    out = set(subjects)
    for i in subjects:
        out |= c.sup[i]
        for t in c.rel[i].values():
            out |= t
    return out


def edge_groups(c: Closure, *, nonredundant: bool = False, properties: set[str] | None = None,
                subjects: Iterable[int] | None = None) -> Iterator[tuple[int, str, frozenset[int] | set[int]]]:
    """``(subject, property, objects)`` by index: the redundant (or nonredundant) graph's edges of
    the ``subjects`` given (else of every class), only ``subClassOf`` and ``properties`` when given;
    never a class to itself or to ``owl:Thing``. The same set as :meth:`Closure.triples`."""
    thing = c.index.get(THING)
    for i in (range(len(c.names)) if subjects is None else sorted(subjects)):
        excl = {i, thing}
        groups: list[tuple[str, Any]] = [(SUBCLASS, c.direct_sup(i) if nonredundant else c.sup[i])]
        groups += [(p, c.direct_rel(i, p) if nonredundant else t) for p, t in c.rel[i].items()
                   if not p.startswith("_:") and (properties is None or p in properties)]
        for p, targets in groups:
            objs = targets - excl
            if objs:
                yield i, p, objs


def ntriples_chunks(c: Closure, *, nonredundant: bool = False, chunk: int = 500_000,
                    properties: set[str] | None = None, subjects: Iterable[int] | None = None,
                    groups: Iterable[tuple[int, str, Any]] | None = None) -> Iterator[tuple[bytes, int]]:
    """The edges of :func:`edge_groups` (or the ``groups`` given) as N-Triples: ``(bytes, triples)``
    chunks of about ``chunk`` triples. No per-triple Python objects: one ``join`` per (subject,
    property) over the IRIs of a set.

    >>> from ontologies.axioms import Axioms
    >>> from ontologies.closure.saturation import compute
    >>> c = compute(Axioms.from_triples([("http://x/A", SUBCLASS, "http://x/B")]))
    >>> [(b.decode(), n) for b, n in ntriples_chunks(c)]
    [('<http://x/A> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://x/B> .\\n', 1)]
    """
    nodes = [f"<{x}>" for x in c.names]
    get = nodes.__getitem__
    preds = {p: f" <{p}> " for p in {SUBCLASS, *(p for r in c.rel for p in r)}}
    parts: list[str] = []
    n = 0
    if groups is None:
        groups = edge_groups(c, nonredundant=nonredundant, properties=properties, subjects=subjects)
    last = -1
    for i, p, targets in groups:
        if n >= chunk and i != last:
            yield "".join(parts).encode(), n
            parts, n = [], 0
        last = i
        prefix = nodes[i] + preds[p]
        parts.append(prefix + (" .\n" + prefix).join(map(get, targets)) + " .\n")
        n += len(targets)
    if n:
        yield "".join(parts).encode(), n


__all__ = ["Edges", "edge_groups", "ntriples_chunks", "upward"]
