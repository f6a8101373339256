"""The closure in the store: read the axioms from ontology graphs, write the redundant and
nonredundant graphs as N-Triples through the bulk path, with their manifest entries."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ontologies.axioms import SUBCLASS, Axioms
from ontologies.closure.edges import Edges, ntriples_chunks, upward
from ontologies.closure.reduction import Closure
from ontologies.closure.saturation import compute
from ontologies.closure.update import affected, update
from ontologies.graph_axioms import graph_axioms

#: ``parameters["scope"]`` of a closure kept true across the loaded ontologies (see ontologies.closure.loaded)
SCOPE = "loaded-ontologies"


def read_graph_axioms(store: Any, graphs: Iterable[str], *, declared: dict[str, AbstractSet[str]] | None = None,
                      records: Mapping[str, Any] | None = None) -> dict[str, Axioms]:
    """The axioms the closure needs, of each ontology graph on its own (see
    :func:`ontologies.graph_axioms.graph_axioms`: a graph whose manifest record is in ``records``
    is read once for the loader's checks and all the closures made of it). With ``declared``, fill
    ``declared[graph]`` with the named classes each graph speaks about (subjects of its axioms and
    of ``a owl:Class``)."""
    out: dict[str, Axioms] = {}
    for g in graphs:
        found = graph_axioms(store, g, (records or {}).get(g))
        if declared is not None:
            declared[g] = found.declared
        out[g] = found.axioms
    return out


def read_axioms(store: Any, graphs: Iterable[str], *,
                declared: dict[str, AbstractSet[str]] | None = None) -> Axioms:
    """The axioms of ontology graphs together (see :func:`read_graph_axioms`)."""
    return Axioms.merge(read_graph_axioms(store, graphs, declared=declared).values())


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
                saturated: dict[tuple[str, ...], Any] | None = None, progress: Any = None) -> ClosureResult:
    """Compute the closure of ``graphs`` and write ``closure/<name>/<version>`` and
    ``closure/<name>-nonredundant/<version>`` (derived graphs; identical inputs: no-op).

    ``properties`` (IRIs) restricts which existential edges are *written*, besides ``subClassOf``
    (relation-graph's ``--property``) and their sub-properties: the saturation still uses every
    axiom, so the edges written are exactly those of the full closure for these properties.
    Recorded in the manifest.

    ``own`` (a subset of ``graphs``): the closure of one ontology among all those loaded (see
    :mod:`ontologies.closure.loaded`): the saturation uses every graph, the edges written are
    those of the classes ``own`` speaks about (in the nonredundant graph, also those of every class
    above them, so that a walk from them never stops at another ontology's class). A previous
    closure of the same name and version made from other inputs is brought up to date in place
    (kept, or updated for the classes that changed: :mod:`ontologies.closure.update`), its manifest
    entry then naming the new inputs. ``saturated`` shares the saturations between such calls.
    ``progress``: a ``progress(done, total)`` callback, with stages where it has them (see
    :func:`loaders._base.stage`: the CLI draws a bar for the saturation and each write)."""
    from kg.core.bulk import load_chunks, stage
    from kg.core.faults import crash_point
    from kg.core.graphs import derived_sha, drop_graph, get_graph, list_graphs, load_graph, mark_pending
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
    cache = saturated if saturated is not None else {}
    key = tuple(sorted(r.iri for r in inputs))

    def saturation(k: tuple[str, ...] = key) -> tuple[Closure, dict[str, AbstractSet[str]], dict[str, Axioms]]:
        """(closure, named classes per graph, axioms per graph) of the graphs ``k``, computed once;
        a subset of the inputs (an earlier closure's) from the axioms already read."""
        if k not in cache:
            if k != key and key in cache and set(k) <= set(key):
                _, declared, per = cache[key]
                per = {g: per[g] for g in k}
            else:
                declared = {}
                per = read_graph_axioms(store, list(k), declared=declared,
                                        records={r.iri: r for r in inputs})
            cache[k] = (compute(Axioms.merge(per.values()), progress=stage(progress, f"{name} closure", "class")),
                        declared, per)
        return cache[k]

    def edges(k: tuple[str, ...] = key) -> tuple[Edges, Edges]:
        """The redundant and nonredundant edges to write, of the closure over the graphs ``k``."""
        c, declared, _ = saturation(k)
        if k == key:
            found["c"] = c
        # with their sub-properties, so that the nonredundant graph (which leaves out edges a
        # sub-property edge implies) stays complete
        props = None if selected is None else set(selected).union(*(c.subproperties().get(p, ()) for p in selected))
        subjects = None if own is None else {c.index[x] for g in own for x in declared.get(g, ()) if x in c.index}
        return Edges(c, False, props, subjects), Edges(c, True, props, upward(c, subjects))

    found: dict[str, Any] = {}
    common = dict(source="derived:" + ",".join(r.iri for r in inputs), sha256=sha, byte_size=0, loader="closure",
                  loader_version="1", version=version, parameters=params, derived_from=[r.iri for r in inputs])
    if own is not None:  # made from other inputs (an ontology loaded, reloaded or dropped): kept, updated or replaced
        prevs = [prev for n in (name, f"{name}-nonredundant") for prev in list_graphs(store, kind="closure", name=n)
                 if prev.version == version and prev.sha256 != sha and prev.parameters.get("scope") == SCOPE]
        if len(prevs) == 2 and all(p.parameters == params and set(p.derived_from) == set(prevs[0].derived_from)
                                   for p in prevs):
            prevs.sort(key=lambda p: p.name.endswith("-nonredundant"))  # the redundant graph first
            new = edges()
            before = tuple(sorted(prevs[0].derived_from))
            changed = affected(new[0].c, saturation()[2], old=before, new=key)
            mark_pending(store, [p.iri for p in prevs])  # changed in place, not in one transaction
            crash_point("closure:patching")
            delta = update(store, (prevs[0].iri, prevs[1].iri), new, None if changed is None else edges(before),
                           changed)
            counts = [p.triples + (delta[k] if delta else 0) for k, p in enumerate(prevs)]
            return _rerecorded(store, prevs, common, new[0].c, t0, selected, counts,
                               "unchanged" if delta is None else "updated")
        for prev in prevs:
            drop_graph(store, prev.iri)

    def writer(nonredundant: bool):
        def write(graph: str) -> int:
            # N-Triples bytes built per (subject, property) group with one C-level join, parsed by the
            # store's bulk path while the next chunk is built; lines are distinct (one per set
            # member), so the count is the graph's size
            e = edges()[nonredundant]
            chunks = ntriples_chunks(e.c, groups=e.groups())
            bar = stage(progress, f"{name}{'-nonredundant' if nonredundant else ''} closure write", "triple")
            return load_chunks(store, chunks if bar is None else _counted(chunks, bar), graph)
        return write

    red = load_graph(store, kind="closure", name=name, writer=writer(False), counted=True, **common)
    nonred = load_graph(store, kind="closure", name=f"{name}-nonredundant", writer=writer(True), counted=True, **common)
    c = found.get("c")
    return ClosureResult(red.iri, nonred.iri, red.triples, nonred.triples, len(c.names) if c else 0,
                         c.inferred_subclass if c else 0, red.status, time.perf_counter() - t0,
                         dict(c.skipped) if c else {}, selected)


def _rerecorded(store: Any, prevs: list[Any], common: dict[str, Any], c: Closure, t0: float,
                selected: list[str] | None, counts: list[int], status: str) -> ClosureResult:
    """The two graphs of a closure made from other inputs, kept or updated in place (their sizes
    now ``counts``): their manifest entries now name the new inputs (``common``: the source,
    checksum and inputs a new record would have)."""
    from dataclasses import replace

    from kg.core.graphs import rerecord, utc_now

    now = utc_now()
    red, nonred = (rerecord(store, replace(p, sha256=common["sha256"], source=common["source"],
                                           derived_from=common["derived_from"], started=now, ended=now,
                                           status=status, triples=counts[k]))
                   for k, p in enumerate(prevs))
    return ClosureResult(red.iri, nonred.iri, red.triples, nonred.triples, len(c.names), c.inferred_subclass,
                         status, time.perf_counter() - t0, dict(c.skipped), selected)



def _counted(chunks: Iterator[tuple[bytes, int]], progress: Any) -> Iterator[tuple[bytes, int]]:
    """``chunks`` as they are, telling ``progress`` the triples handed on so far (total unknown)."""
    done = 0
    for data, n in chunks:
        yield data, n
        done += n
        progress(done, None)
