"""The closure in the store: read the axioms from ontology graphs, write the redundant and
nonredundant graphs as N-Triples through the bulk path, with their manifest entries."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ontologies.axioms import DEPRECATED, OWL_CLASS, RDF_TYPE, SUBCLASS, THING, TRANSITIVE, Axioms
from ontologies.axioms import PREDICATES as AXIOM_PREDICATES
from ontologies.closure.reduction import Closure
from ontologies.closure.saturation import compute

#: ``parameters["scope"]`` of a closure kept true across the loaded ontologies (see ontologies.closure.loaded)
SCOPE = "loaded-ontologies"


def read_axioms(store: Any, graphs: Iterable[str], *, declared: dict[str, set[str]] | None = None) -> Axioms:
    """Read the axioms the closure needs from ontology graphs (one pattern scan per predicate).
    With ``declared``, fill ``declared[graph]`` with the named classes each graph speaks about
    (subjects of its axioms and of ``a owl:Class``)."""
    from kg.core.store import NamedNode

    rows: list[tuple[str, str, str]] = []
    for k, g in enumerate(graphs):
        start = len(rows)
        tag = f"g{k}."  # keep blank nodes of different graphs apart

        def term(t: Any, tag: str = tag) -> str:
            return "_:" + tag + t.value if type(t).__name__ == "BlankNode" else t.value

        for p in AXIOM_PREDICATES:
            rows.extend((term(q.subject), p, term(q.object)) for q in store.quads(None, NamedNode(p), None, g))
        rdf_type = NamedNode(RDF_TYPE)
        for o in (OWL_CLASS, TRANSITIVE):
            rows.extend((term(q.subject), RDF_TYPE, o) for q in store.quads(None, rdf_type, NamedNode(o), g))
        rows.extend((term(q.subject), DEPRECATED, q.object.value)
                    for q in store.quads(None, NamedNode(DEPRECATED), None, g))
        if declared is not None:
            declared[g] = {r[0] for r in rows[start:] if not r[0].startswith("_:")}
    return Axioms.from_triples(rows)

def ntriples_chunks(c: Closure, *, nonredundant: bool = False, chunk: int = 500_000,
                    properties: set[str] | None = None,
                    subjects: Iterable[int] | None = None) -> Iterator[tuple[bytes, int]]:
    """The redundant (or nonredundant) graph as N-Triples: ``(bytes, triples)`` chunks of about
    ``chunk`` triples, the same set as :meth:`Closure.triples` (only ``subClassOf`` and
    ``properties`` when given; the edges of the ``subjects`` given, by index, else of every class).
    No per-triple Python objects: one ``join`` per (subject, property)
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
    for i in (range(len(c.names)) if subjects is None else sorted(subjects)):
        excl = {i, thing}
        si = nodes[i]
        groups: list[tuple[str, Any]] = [(SUBCLASS, c.direct_sup(i) if nonredundant else c.sup[i])]
        groups += [(p, c.direct_rel(i, p) if nonredundant else t) for p, t in c.rel[i].items()
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
                properties: Iterable[str] | None = None, own: Sequence[str] | None = None,
                saturated: dict[tuple[str, ...], Any] | None = None) -> ClosureResult:
    """Compute the closure of ``graphs`` and write ``closure/<name>/<version>`` and
    ``closure/<name>-nonredundant/<version>`` (derived graphs; identical inputs: no-op).

    ``properties`` (IRIs) restricts which existential edges are *written*, besides ``subClassOf``
    (relation-graph's ``--property``) and their sub-properties: the saturation still uses every
    axiom, so the edges written are exactly those of the full closure for these properties.
    Recorded in the manifest.

    ``own`` (a subset of ``graphs``): the closure of one ontology among all those loaded (see
    :mod:`ontologies.closure.loaded`): the saturation uses every graph, the edges written are
    those of the classes ``own`` speaks about (in the nonredundant graph, also those of every class
    above them, so that a walk from them never stops at another ontology's class), and a previous closure of the same name and version
    made from other inputs is replaced. ``saturated`` shares one saturation between such calls."""
    from kg.core.bulk import load_chunks
    from kg.core.graphs import derived_sha, drop_graph, get_graph, list_graphs, load_graph
    t0 = time.perf_counter()
    if own is not None:  # its own graphs first, then the others (sorted: load order does not matter)
        graphs = [*own, *sorted(set(graphs) - set(own))]
    inputs = [get_graph(store, g) for g in graphs]
    selected = sorted(set(properties) - {SUBCLASS}) if properties is not None else None
    params: dict[str, Any] = {"closure": "el-saturation/1"}
    if selected is not None:
        params["properties"] = selected
    if own is not None:
        params["scope"] = SCOPE
        params["own"] = list(own)
    sha = derived_sha(inputs, params)
    if own is not None:  # replaced when made from other inputs (an ontology loaded, reloaded or dropped)
        for n in (name, f"{name}-nonredundant"):
            for prev in list_graphs(store, kind="closure", name=n):
                if prev.version == version and prev.sha256 != sha and prev.parameters.get("scope") == SCOPE:
                    drop_graph(store, prev.iri)
    cache = saturated if saturated is not None else {}
    key = tuple(sorted(r.iri for r in inputs))
    found: dict[str, Any] = {}

    def closure() -> tuple[Closure, set[str] | None, set[int] | None]:
        """The closure, the properties and the subjects to write, computed on the first write (none
        when both graphs exist already)."""
        if key not in cache:
            declared: dict[str, set[str]] = {}
            cache[key] = (compute(read_axioms(store, list(key), declared=declared)), declared)
        c, declared = cache[key]
        found["c"] = c
        # with their sub-properties, so that the nonredundant graph (which leaves out edges a
        # sub-property edge implies) stays complete
        props = None if selected is None else set(selected).union(*(c.subproperties().get(p, ()) for p in selected))
        subjects = None if own is None else {c.index[x] for g in own for x in declared.get(g, ()) if x in c.index}
        return c, props, subjects

    def upward(c: Closure, subjects: set[int] | None) -> set[int] | None:
        """The subjects and everything above them: a walk over the nonredundant graph from a
        class of this ontology reaches the classes of others, whose own closure may not exist."""
        if subjects is None:
            return None
        out = set(subjects)
        for i in subjects:
            out |= c.sup[i]
            for t in c.rel[i].values():
                out |= t
        return out

    def writer(nonredundant: bool):
        def write(graph: str) -> int:
            # N-Triples bytes built per (subject, property) group with one C-level join, parsed by the
            # store's bulk path while the next chunk is built; lines are distinct (one per set
            # member), so the count is the graph's size
            c, props, subjects = closure()
            if nonredundant:
                subjects = upward(c, subjects)
            return load_chunks(store, ntriples_chunks(c, nonredundant=nonredundant, properties=props,
                                                      subjects=subjects), graph)
        return write

    common = dict(source="derived:" + ",".join(r.iri for r in inputs), sha256=sha, byte_size=0, loader="closure",
                  loader_version="1", version=version, parameters=params, derived_from=[r.iri for r in inputs])
    red = load_graph(store, kind="closure", name=name, writer=writer(False), counted=True, **common)
    nonred = load_graph(store, kind="closure", name=f"{name}-nonredundant", writer=writer(True), counted=True, **common)
    c = found.get("c")
    return ClosureResult(red.iri, nonred.iri, red.triples, nonred.triples, len(c.names) if c else 0,
                         c.inferred_subclass if c else 0, red.status, time.perf_counter() - t0,
                         dict(c.skipped) if c else {}, selected)
