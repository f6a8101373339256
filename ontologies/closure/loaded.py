"""One closure across every loaded ontology, kept true as ontologies are loaded, reloaded and dropped.

Terms of one ontology are ``is_a`` / ``part_of`` terms of another (LEPAO of AISM, ZFA and BSPO
of UBERON), often without an ``import:`` line, so a closure computed one file at a time misses
every entailment that crosses files. Here the closure an ontology gets at load,
``closure/<name>/<version>`` (and ``-nonredundant``), is saturated over the axioms of *every*
loaded ontology graph (the latest release of each name) and holds the edges of the classes its
own graphs (the ontology and its imports) speak about; the union of these graphs is the KG-wide
closure, without writing any class twice over. Its manifest entry names every ontology graph it
was derived from (``prov:wasDerivedFrom``), its own first, and records ``scope`` and ``own``.

:func:`refresh` brings them all up to date at once (one saturation), which makes the answer
independent of load order: after A then B, or B then A, both closures are saturated over A and
B. A closure made from other inputs than the loaded ontologies is kept (when the ontologies added
since cannot change it) or updated in place; one whose ontology was reloaded moves to the new
release; one whose ontology was dropped is dropped.
:func:`stale_closures` says which closures do not match the loaded ontologies (after a load with
``closure=False``, or a drop) and the command that rebuilds them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kg.core.graphs import GraphRecord, drop_graph, graph_iri, list_graphs, unwant, want
from kg.core.graphs import wanted as wanted_marks
from ontologies.closure.materialise import SCOPE, ClosureResult, materialise

log = logging.getLogger(__name__)

#: the command that rebuilds every closure kept across the loaded ontologies
REFRESH_COMMAND = "traitkg closure --refresh"


@dataclass(frozen=True)
class Wanted:
    """A closure to keep: the graphs that are its own (an ontology and its imports), its name,
    version and properties (None: every property)."""

    own: tuple[str, ...]
    name: str
    version: str
    properties: tuple[str, ...] | None = None


def latest_ontologies(store: Any) -> list[GraphRecord]:
    """The latest release of each ontology graph name (the manifest lists the oldest first)."""
    latest: dict[str, GraphRecord] = {}
    for rec in list_graphs(store, kind="ontology"):
        latest[rec.name] = rec
    return list(latest.values())


def managed_closures(store: Any) -> list[GraphRecord]:
    """Closures kept across the loaded ontologies (the redundant graph of each pair)."""
    return [r for r in list_graphs(store, kind="closure")
            if r.parameters.get("scope") == SCOPE and not r.name.endswith("-nonredundant")]


def _drop_pair(store: Any, rec: GraphRecord) -> None:
    for n in (rec.name, f"{rec.name}-nonredundant"):
        for r in list_graphs(store, kind="closure", name=n):
            if r.version == rec.version:
                drop_graph(store, r.iri)


def _plan(store: Any, add: Iterable[Wanted]) -> tuple[list[GraphRecord], list[Wanted], list[GraphRecord]]:
    """(inputs, closures to keep, closures to drop) for the store's current ontologies."""
    onto = latest_ontologies(store)
    current = {r.iri for r in onto}
    by_iri = {r.iri: r for r in list_graphs(store, kind="ontology")}
    latest_of = {r.name: r for r in onto}
    wanted: dict[str, Wanted] = {}
    gone: list[GraphRecord] = []
    for rec in managed_closures(store):
        own = []
        for g in rec.parameters.get("own", []):
            r = by_iri.get(g)
            if r is not None:  # a release still loaded: itself, or the latest of its name
                own.append(g if g in current else latest_of[r.name].iri)
        main = by_iri.get(rec.parameters.get("own", [""])[0])
        if main is None:  # its ontology was dropped: so is its closure
            gone.append(rec)
            continue
        version = latest_of[main.name].version
        if version != rec.version:  # reloaded: the closure moves to the new release
            gone.append(rec)
        props = rec.parameters.get("properties")
        wanted[rec.name] = Wanted(tuple(own), rec.name, version, tuple(props) if props is not None else None)
    for w in _unfinished(store):  # asked for by a load whose process stopped (kg.core.recovery)
        main = by_iri.get(w.own[0]) if w.own else None
        if main is not None and w.name not in wanted:
            own = [g if g in current else latest_of[by_iri[g].name].iri for g in w.own if g in by_iri]
            wanted[w.name] = Wanted(tuple(own), w.name, latest_of[main.name].version, w.properties)
    for w in add:
        wanted[w.name] = w
    inputs = {r.iri: r for r in onto}
    for w in wanted.values():  # an import that is an older release than the latest of its name stays an input
        for g in w.own:
            if g not in inputs and g in by_iri:
                inputs[g] = by_iri[g]
    return list(inputs.values()), list(wanted.values()), gone


def _unfinished(store: Any) -> list[Wanted]:
    """Closures a load asked for (:func:`want_closure`) that were never recorded: its process was
    killed first, or recovery dropped one left half-updated."""
    out: dict[str, Wanted] = {}
    for spec in wanted_marks(store).values():
        p = spec.get("parameters", {})
        if spec.get("kind") == "closure" and p.get("scope") == SCOPE and p.get("own"):
            name = spec["name"].removesuffix("-nonredundant")
            props = p.get("properties")
            out[name] = Wanted(tuple(p["own"]), name, spec["version"], tuple(props) if props is not None else None)
    return list(out.values())


def want_closure(store: Any, w: Wanted) -> None:
    """Say, durably, that a load asks for this closure (both graphs) before writing it: a process
    killed before both are recorded leaves the request, which the next refresh fulfils and
    ``graphs --stale`` lists meanwhile."""
    params: dict[str, Any] = {"scope": SCOPE, "own": list(w.own)}
    if w.properties is not None:
        params["properties"] = list(w.properties)
    want(store, {graph_iri("closure", n, w.version): {"kind": "closure", "name": n, "version": w.version,
                                                       "parameters": params}
                 for n in (w.name, f"{w.name}-nonredundant")})


def refresh(store: Any, add: Iterable[Wanted] = (), *, progress: Any = None) -> list[ClosureResult]:
    """Make every kept closure (and the ``add``\\ ed ones) the closure of the loaded ontologies:
    one saturation over all of them, then each closure's own edges: written when new, kept when
    the ontologies added since cannot change them, else updated in place (see
    :func:`ontologies.closure.materialise.materialise`; ``progress`` is handed to it)."""
    inputs, wanted, gone = _plan(store, add)
    for rec in gone:
        log.info("closure %s/%s: its ontology was dropped or reloaded; dropped", rec.name, rec.version)
        _drop_pair(store, rec)
    saturated: dict[tuple[str, ...], Any] = {}
    iris = [r.iri for r in inputs]
    out = [materialise(store, iris, name=w.name, version=w.version, properties=w.properties, own=list(w.own),
                       saturated=saturated, progress=progress) for w in wanted]
    names = {w.name for w in wanted}
    unwant(store, [i for i, s in wanted_marks(store).items()
                   if s.get("kind") == "closure" and s["name"].removesuffix("-nonredundant") in names])
    return out


@dataclass
class Stale:
    """A derived graph that no longer matches its inputs, why, and the command that rebuilds it."""

    graph: str
    reason: str
    command: str

    def to_dict(self) -> dict[str, str]:
        return {"graph": self.graph, "reason": self.reason, "command": self.command}


def stale_closures(store: Any) -> list[Stale]:
    """Closures kept across the loaded ontologies that do not match them.

    >>> from kg.core.store import open_store
    >>> stale_closures(open_store("oxigraph:"))
    []
    """
    out = []
    inputs, wanted, gone = _plan(store, ())
    names = {w.name: w for w in wanted}
    current = {r.iri for r in inputs}
    for rec in gone:
        out.append(Stale(rec.iri, "its ontology was dropped or reloaded", REFRESH_COMMAND))
    for w in _unfinished(store):
        out.append(Stale(graph_iri("closure", w.name, w.version), "asked for by a load that did not finish "
                         "(its process stopped); not written yet", REFRESH_COMMAND))
    gone_iris = {r.iri for r in gone}
    for rec in managed_closures(store):
        if rec.iri in gone_iris or rec.name not in names:
            continue
        have = set(rec.derived_from)
        if have != current:
            missing = sorted(current - have)
            extra = sorted(have - current)
            why = []
            if missing:
                why.append("not derived from " + ", ".join(_short(g) for g in missing))
            if extra:
                why.append("derived from " + ", ".join(_short(g) for g in extra) + ", no longer loaded")
            out.append(Stale(rec.iri, "; ".join(why), REFRESH_COMMAND))
    return out


def _short(iri: str) -> str:
    return iri.split("/graph/", 1)[-1]


def wanted_for(graphs: Sequence[str], *, name: str, version: str,
               properties: Iterable[str] | None = None) -> Wanted:
    """The closure an ontology load asks for: its graph and imports, name, version, properties."""
    return Wanted(tuple(graphs), name, version, tuple(sorted(properties)) if properties is not None else None)


__all__ = ["REFRESH_COMMAND", "Stale", "Wanted", "latest_ontologies", "managed_closures", "refresh",
           "stale_closures", "want_closure", "wanted_for"]
