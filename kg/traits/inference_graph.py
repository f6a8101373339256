"""The inference graph: calls grouped by shared evidence, written as quads or N-Triples chunks."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kg.core.graphs import BASE, TKG
from kg.core.store import Literal, NamedNode, Quad
from kg.traits.calls import ABSENT, PRESENT, Call

#: The inference rules and graph shape (2: calls with identical evidence share one node).
RULES = "phenoscape-presence-absence/2"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_BOOL = "http://www.w3.org/2001/XMLSchema#boolean"


@dataclass
class CallGroup:
    """Calls of one entity and value that share one body of evidence: one node in the inference graph.

    Asserted groups have the same evidence states (and polymorphic flag); inferred groups follow
    from the same asserted groups. ``taxa`` are the taxa the call holds for."""

    iri: str
    entity: str
    value: str
    tier: str
    polymorphic: bool
    states: tuple[str, ...] = ()    # asserted: evidence states (sorted)
    sources: tuple[str, ...] = ()   # inferred: IRIs of the asserted groups it follows from (sorted)
    taxa: list[str] = field(default_factory=list)


def _group_iri(tier: str, entity: str, value: str, poly: bool, members: Iterable[str]) -> str:
    key = f"{tier}|{entity}|{value}|{int(poly)}|{' '.join(members)}"
    return BASE + "pa/" + hashlib.sha1(key.encode()).hexdigest()[:20]


def group_calls(calls: dict[tuple[str, str, str], Call]) -> tuple[list[CallGroup], dict[tuple[str, str, str], CallGroup]]:
    """The call groups, and each call's group. IRIs hash the group's content, so they are stable."""
    groups: list[CallGroup] = []
    of: dict[tuple[str, str, str], CallGroup] = {}
    number: dict[tuple, int] = {}
    by_key: dict[tuple, CallGroup] = {}
    gid: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)  # (taxon, value) -> entity -> group number
    inferred = []
    for key, c in calls.items():
        if c.tier != "asserted":
            inferred.append((key, c))
            continue
        gk = (c.entity, c.value, c.polymorphic, frozenset(c.states))
        hit = number.get(gk)
        if hit is None:
            st = tuple(sorted(c.states))
            hit = number[gk] = len(groups)
            groups.append(CallGroup(_group_iri("asserted", c.entity, c.value, c.polymorphic, st), c.entity,
                                    c.value, "asserted", c.polymorphic, states=st))
        g = groups[hit]
        g.taxa.append(c.taxon)
        of[key] = g
        gid[(c.taxon, c.value)][c.entity] = hit
    for key, c in inferred:
        src = frozenset(map(gid[(c.taxon, c.value)].__getitem__, c.sources))
        gk = (c.entity, c.value, src)
        g = by_key.get(gk)
        if g is None:
            members = tuple(sorted(groups[i].iri for i in src))
            g = by_key[gk] = CallGroup(_group_iri("inferred", c.entity, c.value, False, members), c.entity,
                                       c.value, "inferred", False, sources=members)
            groups.append(g)
        g.taxa.append(c.taxon)
        of[key] = g
    return groups, of


def conflict_pairs(of: dict[tuple[str, str, str], CallGroup], conflicts: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """(present group, absent group) IRIs for the conflicting calls: the conflict holds for every
    taxon the two groups share (the polymorphic flag, which excuses a conflict, is per group)."""
    return {(of[(t, e, PRESENT)].iri, of[(t, e, ABSENT)].iri) for t, e in conflicts}


def call_quads(calls: dict[tuple[str, str, str], Call], graph: str, conflicts: set[tuple[str, str]]) -> list[Quad]:
    """The inference graph as quads (the reference shape; :func:`call_ntriples` writes the same triples).

    One node per :class:`CallGroup`: ``a tkg:PresenceAbsenceCall ; tkg:entity ; tkg:presence ;
    tkg:tier``, ``tkg:taxon`` for each taxon it holds for, ``tkg:evidence`` states (asserted) or
    ``tkg:inferredFrom`` asserted calls (inferred), ``tkg:polymorphic true``, ``tkg:conflictsWith``."""
    g = NamedNode(graph)
    groups, of = group_calls(calls)
    N = NamedNode
    a, typ = N(RDF_TYPE), N(TKG + "PresenceAbsenceCall")
    vals = {PRESENT: N(TKG + "Present"), ABSENT: N(TKG + "Absent")}
    out: list[Quad] = []
    for grp in groups:
        node = N(grp.iri)
        out += [Quad(node, a, typ, g), Quad(node, N(TKG + "entity"), N(grp.entity), g),
                Quad(node, N(TKG + "presence"), vals[grp.value], g), Quad(node, N(TKG + "tier"), Literal(grp.tier), g)]
        out += [Quad(node, N(TKG + "taxon"), N(t), g) for t in grp.taxa]
        out += [Quad(node, N(TKG + "evidence"), N(s), g) for s in grp.states]
        out += [Quad(node, N(TKG + "inferredFrom"), N(s), g) for s in grp.sources]
        if grp.polymorphic:
            out.append(Quad(node, N(TKG + "polymorphic"), Literal("true", datatype=N(XSD_BOOL)), g))
    for p, q in conflict_pairs(of, conflicts):
        out += [Quad(N(p), N(TKG + "conflictsWith"), N(q), g), Quad(N(q), N(TKG + "conflictsWith"), N(p), g)]
    return out


class _IriText(dict):
    """IRI -> its N-Triples text, written (and validated) by pyoxigraph on first use."""

    def __missing__(self, iri: str) -> str:
        x = self[iri] = str(NamedNode(iri))
        return x


def call_ntriples_chunks(calls: dict[tuple[str, str, str], Call], conflicts: set[tuple[str, str]], *,
                         chunk: int = 400_000) -> Iterator[tuple[bytes, int]]:
    """The triples of :func:`call_quads` as N-Triples for the store's bulk loader: ``(bytes, triples)``
    chunks of about ``chunk`` triples. Lines are distinct, so the counts add up to the graph's size.

    Calls that share their evidence share one node, so the graph holds a node per group, not per
    taxon × entity, and an inferred call links the asserted groups it follows from (whose
    evidence is the same for every taxon of the group)."""
    groups, of = group_calls(calls)
    n = _IriText().__getitem__

    a, typ = n(RDF_TYPE), n(TKG + "PresenceAbsenceCall")
    ent, val, tier = f" {n(TKG + 'entity')} ", f" {n(TKG + 'presence')} ", f" {n(TKG + 'tier')} "
    tax, ev, frm = f" {n(TKG + 'taxon')} ", f" {n(TKG + 'evidence')} ", f" {n(TKG + 'inferredFrom')} "
    poly = f" {n(TKG + 'polymorphic')} {Literal('true', datatype=NamedNode(XSD_BOOL))} .\n"
    conf = f" {n(TKG + 'conflictsWith')} "
    vals = {PRESENT: n(TKG + "Present"), ABSENT: n(TKG + "Absent")}
    tiers = {"asserted": str(Literal("asserted")), "inferred": str(Literal("inferred"))}
    base = str(NamedNode(BASE + "pa/"))[:-1]  # group nodes are BASE/pa/<hex>: safe to write without checks
    node_of = {g.iri: f"{base}{g.iri[len(BASE) + 3:]}>" for g in groups}
    parts: list[str] = []
    k = 0
    for grp in groups:
        node = node_of[grp.iri]
        parts.append(f"{node} {a} {typ} .\n{node}{ent}{n(grp.entity)} .\n{node}{val}{vals[grp.value]} .\n"
                     f"{node}{tier}{tiers[grp.tier]} .\n")
        k += 4
        for pred, objs in ((tax, list(map(n, grp.taxa))), (ev, list(map(n, grp.states))),
                           (frm, list(map(node_of.__getitem__, grp.sources)))):
            if objs:
                prefix = node + pred
                parts.append(prefix + (" .\n" + prefix).join(objs) + " .\n")
                k += len(objs)
        if grp.polymorphic:
            parts.append(node + poly)
            k += 1
        if k >= chunk:
            yield "".join(parts).encode(), k
            parts, k = [], 0
    for p, q in sorted(conflict_pairs(of, conflicts)):
        parts.append(f"{node_of[p]}{conf}{node_of[q]} .\n{node_of[q]}{conf}{node_of[p]} .\n")
        k += 2
    if k:
        yield "".join(parts).encode(), k


def call_ntriples(calls: dict[tuple[str, str, str], Call], conflicts: set[tuple[str, str]]) -> bytes:
    """All of :func:`call_ntriples_chunks` as one N-Triples document."""
    return b"".join(b for b, _ in call_ntriples_chunks(calls, conflicts))


# ---------------------------------------------------------------------- evidence details
