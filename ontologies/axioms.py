"""The axioms the closure uses, read from OWL triples: named and existential subClassOf,
equivalences (intersections as definitions, unions), sub-properties, chains, transitivity, domains.

>>> ax = Axioms.from_triples([("A", SUBCLASS, "B"), ("B", EQUIVALENT, "C")])
>>> sorted(ax.subclass)
[('A', 'B'), ('B', 'C'), ('C', 'B')]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE, FIRST, REST, NIL = RDF + "type", RDF + "first", RDF + "rest", RDF + "nil"
SUBCLASS, SUBPROPERTY, DOMAIN = RDFS + "subClassOf", RDFS + "subPropertyOf", RDFS + "domain"
EQUIVALENT, INTERSECTION, UNION = OWL + "equivalentClass", OWL + "intersectionOf", OWL + "unionOf"
ON_PROPERTY, SOME, CHAIN = OWL + "onProperty", OWL + "someValuesFrom", OWL + "propertyChainAxiom"
TRANSITIVE, OWL_CLASS, DEPRECATED = OWL + "TransitiveProperty", OWL + "Class", OWL + "deprecated"
THING, NOTHING = OWL + "Thing", OWL + "Nothing"
PREDICATES = (SUBCLASS, SUBPROPERTY, DOMAIN, EQUIVALENT, INTERSECTION, UNION, ON_PROPERTY, SOME, CHAIN,
              FIRST, REST)


def _is_bnode(t: str) -> bool:
    return t.startswith("_:")


@dataclass
class Axioms:
    """The axioms the closure uses, as IRI strings (blank nodes as ``_:id``)."""

    classes: set[str] = field(default_factory=set)
    subclass: list[tuple[str, str]] = field(default_factory=list)
    exist: list[tuple[str, str, str]] = field(default_factory=list)
    defs: list[tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]] = field(default_factory=list)
    transitive: set[str] = field(default_factory=set)
    subprop: list[tuple[str, str]] = field(default_factory=list)
    chains: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    domains: list[tuple[str, str]] = field(default_factory=list)
    deprecated: set[str] = field(default_factory=set)
    skipped: Counter = field(default_factory=Counter)

    @classmethod
    def merge(cls, parts: Iterable[Axioms]) -> Axioms:
        """The axioms of several graphs together (each read on its own: blank nodes never cross
        graphs, so this equals reading all their triples at once)."""
        out = cls()
        for a in parts:
            out.classes |= a.classes
            out.subclass += a.subclass
            out.exist += a.exist
            out.defs += a.defs
            out.transitive |= a.transitive
            out.subprop += a.subprop
            out.chains += a.chains
            out.domains += a.domains
            out.deprecated |= a.deprecated
            out.skipped.update(a.skipped)
        return out

    def subjects(self) -> set[str]:
        """The named classes these axioms say something about: the left side of every
        ``subClassOf``, existential edge and definition (what they can add to a class's closure)."""
        return ({a for a, _ in self.subclass} | {a for a, _, _ in self.exist} | {a for a, _, _ in self.defs})

    def property_axioms(self) -> set[tuple]:
        """Sub-properties, chains, transitivity and domains: axioms that act on every class.

        >>> sorted(Axioms.from_triples([("p", SUBPROPERTY, "q"), ("p", RDF_TYPE, TRANSITIVE)]).property_axioms())
        [('subproperty', 'p', 'q'), ('transitive', 'p')]
        """
        return ({("subproperty", a, b) for a, b in self.subprop} | {("chain", ch, q) for ch, q in self.chains}
                | {("transitive", p) for p in self.transitive} | {("domain", p, d) for p, d in self.domains})

    @classmethod
    def from_triples(cls, triples: Iterable[tuple[str, str, str]]) -> Axioms:
        """Build from (s, p, o) strings; blank nodes start with ``_:``. Pure."""
        by_s: dict[str, list[tuple[str, str]]] = defaultdict(list)
        ax = cls()
        for s, p, o in triples:
            if p == RDF_TYPE:
                if o == OWL_CLASS and not _is_bnode(s):
                    ax.classes.add(s)
                elif o == TRANSITIVE:
                    ax.transitive.add(s)
                continue
            if p == DEPRECATED:
                if o in ("true", "1"):
                    ax.deprecated.add(s)
                continue
            by_s[s].append((p, o))
        _Reader(ax, by_s).run()
        ax.classes -= {THING, NOTHING}
        return ax


class _Reader:
    def __init__(self, ax: Axioms, by_s: dict[str, list[tuple[str, str]]]) -> None:
        self.ax, self.by_s = ax, by_s

    def one(self, s: str, p: str) -> str | None:
        for q, o in self.by_s.get(s, ()):
            if q == p:
                return o
        return None

    def rdf_list(self, head: str) -> list[str]:
        out, seen = [], set()
        while head and head != NIL and head not in seen:
            seen.add(head)
            first = self.one(head, FIRST)
            if first is None:
                break
            out.append(first)
            head = self.one(head, REST) or NIL
        return out

    def restriction(self, node: str) -> tuple[str, str] | None:
        p, f = self.one(node, ON_PROPERTY), self.one(node, SOME)
        return (p, f) if p and f and not _is_bnode(p) else None

    def conjuncts(self, node: str) -> list[str] | None:
        lst = self.one(node, INTERSECTION)
        return self.rdf_list(lst) if lst else None

    def forward(self, a: str, expr: str, depth: int = 0) -> bool:
        """Add ``a SubClassOf expr`` (weakened where nested). True if fully captured."""
        ax = self.ax
        if not _is_bnode(expr):
            if expr not in (THING,):
                ax.subclass.append((a, expr))
                ax.classes.update((a, expr))
            return True
        r = self.restriction(expr)
        if r:
            p, f = r
            if not _is_bnode(f):
                ax.exist.append((a, p, f))
                ax.classes.update((a, f))
                return True
            inner = self.conjuncts(f) or []
            named = [m for m in inner if not _is_bnode(m)]
            for m in named:  # P some (X and ...) entails P some X
                ax.exist.append((a, p, m))
                ax.classes.update((a, m))
            ax.skipped["nested filler weakened"] += 1
            return False
        members = self.conjuncts(expr)
        if members is not None:
            ok = True
            for m in members:
                ok = self.forward(a, m, depth + 1) and ok
            return ok
        ax.skipped["unsupported class expression (cardinality, union, ...)"] += 1
        return False

    def run(self) -> None:
        ax = self.ax
        for s, pos in self.by_s.items():
            if _is_bnode(s):
                continue
            for p, o in pos:
                if p == SUBCLASS:
                    self.forward(s, o)
                elif p == EQUIVALENT:
                    self.equivalence(s, o)
                elif p == SUBPROPERTY and not _is_bnode(o):
                    ax.subprop.append((s, o))
                elif p == CHAIN:
                    props = self.rdf_list(o)
                    if len(props) >= 2 and not any(_is_bnode(x) for x in props):
                        ax.chains.append((tuple(props), s))
                    else:
                        ax.skipped["property chain with inverse or anonymous property"] += 1
                elif p == DOMAIN and not _is_bnode(o):
                    ax.domains.append((s, o))
                elif p == UNION:
                    pass

    def equivalence(self, a: str, o: str) -> None:
        ax = self.ax
        if not _is_bnode(o):
            ax.subclass += [(a, o), (o, a)]
            ax.classes.update((a, o))
            return
        union = self.one(o, UNION)
        if union:
            for m in self.rdf_list(union):
                if not _is_bnode(m):
                    ax.subclass.append((m, a))
                    ax.classes.update((a, m))
            return
        members = self.conjuncts(o)
        if members is None:
            r = self.restriction(o)
            if r is None:
                ax.skipped["unsupported equivalence"] += 1
                return
            members = [o]
        complete = self.forward(a, o)
        genus: list[str] = []
        diffs: list[tuple[str, str]] = []
        for m in members:
            if not _is_bnode(m):
                genus.append(m)
                continue
            r = self.restriction(m)
            if r and not _is_bnode(r[1]):
                diffs.append(r)
            else:
                complete = False
        if complete and (genus or diffs):
            ax.defs.append((a, tuple(genus), tuple(diffs)))
        else:
            ax.skipped["definition not used for classification (nested or unsupported parts)"] += 1


