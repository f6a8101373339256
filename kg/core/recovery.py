"""Recovery after a killed write: make the manifest and the data agree again.

A load writes its graph first and its manifest entry last, in one transaction; a graph changed in
place is marked pending first (:func:`kg.core.graphs.mark_pending`). So after ``kill -9`` at any
moment the store holds, besides whole listed graphs, at most: a graph under ``<base>graph/`` that
the manifest does not list (a load or a drop cut short) and listed graphs still marked pending (an
in-place change cut short). :func:`recover` drops the first and drops the second with its entry,
leaving a ``wantedGraph`` mark so that the next refresh rebuilds it and ``traitkg graphs --stale``
lists it meanwhile. It only runs where this process owns the store (an embedded store opened for
writing: the engine's lock keeps every other writer out); on a shared ``sparql:`` endpoint another
client's load may be in progress, so there it is an explicit step (``traitkg graphs --recover``).

>>> from kg.core.store import open_store
>>> recover(open_store("oxigraph:"))
[]
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from kg.core import tables
from kg.core.graphs import (
    GRAPH_PREFIX,
    MANIFEST,
    PENDING_WRITE,
    WANTED_GRAPH,
    GraphRecord,
    list_graphs,
)
from kg.core.store import Literal, NamedNode, Quad, Store

log = logging.getLogger(__name__)


@dataclass
class Recovered:
    """One thing recovery did: the graph, what (``unlisted``, ``half-changed``) and its size."""

    graph: str
    what: str
    quads: int

    def __str__(self) -> str:
        how = ("not in the manifest (a load or drop cut short); dropped" if self.what == "unlisted"
               else "was being changed in place when its writer stopped; dropped, to be rebuilt")
        return f"{self.graph.split('/graph/', 1)[-1]} ({self.quads} quads): {how}"


def _spec(rec: GraphRecord) -> dict:
    return {"kind": rec.kind, "name": rec.name, "version": rec.version, "parameters": rec.parameters}


def recover(store: Store) -> list[Recovered]:
    """Drop what a killed write left behind (see the module docstring); return what was done."""
    manifest = NamedNode(MANIFEST)
    done: list[Recovered] = []
    pending = {q.subject.value for q in store.quads(None, NamedNode(PENDING_WRITE), None, MANIFEST)}
    if pending:
        recs = {r.iri: r for r in list_graphs(store)}
        for iri in sorted(pending):
            entry = [q for s in (NamedNode(iri), NamedNode(iri + "#activity"))
                     for q in store.quads(s, None, None, MANIFEST)
                     if q.predicate.value != WANTED_GRAPH]
            rec = recs.get(iri)
            mark = [Quad(NamedNode(iri), NamedNode(WANTED_GRAPH), Literal(json.dumps(_spec(rec), sort_keys=True)),
                         manifest)] if rec is not None and rec.derived_from else []
            ops = "DELETE DATA { GRAPH %s { %s } }" % (manifest, " ".join(f"{q.subject} {q.predicate} {q.object} ."
                                                                           for q in entry))
            if mark:
                ops += " ; INSERT DATA { GRAPH %s { %s } }" % (manifest, " ".join(
                    f"{q.subject} {q.predicate} {q.object} ." for q in mark))
            store.update(ops)  # the entry and its mark go (and the rebuild mark comes) in one transaction
            store.flush()
            n = store.count(iri)
            store.drop_graph(iri)
            done.append(Recovered(iri, "half-changed", n))
    listed = {r.iri for r in list_graphs(store)}
    for g in store.named_graphs():
        if g.startswith(GRAPH_PREFIX) and g != MANIFEST and g not in listed:
            n = store.count(g)
            store.drop_graph(g)
            done.append(Recovered(g, "unlisted", n))
    for what, why in tables.recover(store):  # side tables: entries of unlisted batches, unnamed files
        log.warning("recovered from an interrupted write: %s: %s", what, why)
    if done:
        store.flush()
        store.compact()  # the dropped quads' space back now, not at some later compaction
        for r in done:
            log.warning("recovered from an interrupted write: %s", r)
    return done


def owns(store: Store) -> bool:
    """Whether this process is the store's only writer (an embedded on-disk store opened for
    writing), so that recovery may run when it opens."""
    return (store.selector.startswith("oxigraph:") and getattr(store, "path", None) is not None
            and not getattr(store, "read_only", True))


__all__ = ["Recovered", "recover", "owns"]
