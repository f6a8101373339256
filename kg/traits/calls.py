"""Presence/absence calls and the rules that infer them (Phenoscape's semantics; see :mod:`kg.traits`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kg.phenoindex import PhenotypeIndex

PRESENT, ABSENT = "present", "absent"


@dataclass
class Call:
    """Presence or absence of one entity in one taxon, with its tier and evidence."""

    taxon: str
    entity: str
    value: str                                     # present | absent
    tier: str = "inferred"                         # asserted | inferred
    states: set[str] = field(default_factory=set)  # asserted evidence: state IRIs
    sources: set[str] = field(default_factory=set)  # inferred from asserted calls on these entities
    polymorphic: bool = False



def compute_calls(idx: PhenotypeIndex) -> dict[tuple[str, str, str], Call]:
    """Asserted calls from the cells, then inferred ones along the closure."""
    impl = {p: idx.implications(ph) for p, ph in idx.phenotypes.items()}
    calls: dict[tuple[str, str, str], Call] = {}

    memo: dict[str, tuple[set[str], set[str]]] = {}

    def state_impl(s: str) -> tuple[set[str], set[str]]:
        hit = memo.get(s)
        if hit is not None:
            return hit
        pres: set[str] = set()
        absn: set[str] = set()
        for p in idx.state_phenotypes.get(s, ()):
            a, b = impl[p]
            pres |= a
            absn |= b
        memo[s] = (pres, absn)
        return pres, absn

    for cell in idx.cells:
        if len(cell.states) == 1:  # the common case: every implied entity is supported by the one state
            s0 = cell.states[0]
            for value, ents in zip((PRESENT, ABSENT), state_impl(s0)):
                for e in ents:
                    c = calls.get((cell.taxon, e, value))
                    if c is None:
                        c = calls[(cell.taxon, e, value)] = Call(cell.taxon, e, value, "asserted")
                    c.states.add(s0)
            continue
        per = [state_impl(s) for s in cell.states]
        if cell.kind == "uncertain":
            pres = set.intersection(*(x[0] for x in per)) if per else set()
            absn = set.intersection(*(x[1] for x in per)) if per else set()
        else:
            pres = set().union(*(x[0] for x in per))
            absn = set().union(*(x[1] for x in per))
        poly = cell.kind == "polymorphic"
        for value, ents in ((PRESENT, pres), (ABSENT, absn)):
            for e in ents:
                c = calls.get((cell.taxon, e, value))
                if c is None:
                    c = calls[(cell.taxon, e, value)] = Call(cell.taxon, e, value, "asserted")
                supporting = [s for s, x in zip(cell.states, per) if e in (x[0] if value == PRESENT else x[1])]
                c.states.update(supporting if cell.kind != "uncertain" else cell.states)
                c.polymorphic = c.polymorphic or (poly and len(supporting) < len(cell.states))
    asserted = list(calls.values())
    # descendants within the corpus for absence propagation
    desc: dict[str, set[str]] = defaultdict(set)
    for term, ancs in idx.anc.items():
        for a in ancs:
            desc[a].add(term)
    corpus = idx.corpus_terms()
    up: dict[str, tuple[str, ...]] = {}  # entity -> corpus ancestors (presence propagates up)
    down = {e: tuple(d) for e, d in desc.items()}  # entity -> descendants (absence propagates down)
    # materialised over the corpus's own terms; other entities are answered on demand (kg.traits.matrix).
    # One (taxon, value) at a time: entity -> sources in a local dict, no key tuples per step.
    by_tv: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in asserted:
        by_tv[(c.taxon, c.value)].append(c.entity)
    for (taxon, value), ents in by_tv.items():
        have = set(ents)  # asserted here: an asserted call takes no inferred sources
        found: dict[str, set[str]] = {}
        for src in ents:
            if value == PRESENT:
                targets = up.get(src)
                if targets is None:
                    targets = up[src] = tuple(idx.ancestors(src) & corpus)
            else:
                targets = down.get(src, ())
            for e in targets:
                got = found.get(e)
                if got is None:
                    if e in have:
                        continue
                    found[e] = {src}
                else:
                    got.add(src)
        for e, srcs in found.items():
            calls[(taxon, e, value)] = Call(taxon, e, value, "inferred", sources=srcs)
    return calls


