"""Named graphs, the provenance manifest, versions and diff (releases: :mod:`kg.core.releases`).

Every load goes into its own graph ``<base>graph/<kind>/<name>/<version>``. The manifest graph
(``<base>graph/manifest``) records for each graph, with PROV-O: source, sha256, byte size,
loader and version, parameters, times, triple count and the graphs it was derived from.

Loads are atomic: the data goes into a graph nobody has seen yet, and the manifest entry is
written last in one transaction; if anything fails the new graph is dropped, so the store is
exactly as it was. Loading identical bytes (same kind, name and parameters) again is a no-op.
A graph changed in place is marked pending first (:func:`mark_pending`) and unmarked by its new
record; what a killed process leaves (an unlisted graph, a pending one) is cleared by
:func:`kg.core.recovery.recover` when the store is next opened for writing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import GraphNotFound, IntegrityError, TraitKGError, ValidationError
from kg.core.faults import crash_point
from kg.core.store import Literal, NamedNode, Quad, Store

log = logging.getLogger(__name__)

#: Base IRI for everything traitkg mints (configurable with ``TRAITKG_BASE``).
BASE = os.environ.get("TRAITKG_BASE", "https://w3id.org/traitkg/")
if not BASE.endswith(("/", "#")):
    BASE += "/"
#: The project's own vocabulary (fixed, independent of BASE).
TKG = "https://w3id.org/traitkg/schema#"
PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DCT = "http://purl.org/dc/terms/"

MANIFEST = BASE + "graph/manifest"
#: Manifest markers (subject: a graph IRI). ``pendingWrite``: a listed graph is being changed in
#: place; ``wantedGraph``: a derived graph a load asked for and has not recorded yet (JSON spec).
PENDING_WRITE = TKG + "pendingWrite"
WANTED_GRAPH = TKG + "wantedGraph"
GRAPH_PREFIX = BASE + "graph/"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _n(iri: str) -> NamedNode:
    return NamedNode(iri)


def graph_iri(kind: str, name: str, version: str) -> str:
    """The IRI of one source release's graph.

    >>> graph_iri("ontology", "uberon", "2015-05-25").endswith("graph/ontology/uberon/2015-05-25")
    True
    """
    for label, value in (("kind", kind), ("name", name), ("version", version)):
        if not _SLUG.match(value):
            raise ValidationError(f"graph {label} {value!r} must match {_SLUG.pattern} (letters, digits, . _ -)")
    return f"{GRAPH_PREFIX}{kind}/{name}/{version}"


def slug(text: str) -> str:
    """Turn free text (a file stem, a date) into a graph name/version component."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return s or "x"


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """Return (sha256 hex, byte size) of a file, streaming."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def check_release_file(f: Path, sha256: str, size: int) -> None:
    """Raise :class:`IntegrityError` unless ``f`` (a file a release lists) exists with the listed
    sha256 and byte size."""
    if not f.is_file():
        raise IntegrityError(f"{f}: listed in release.json but missing")
    sha, got = sha256_file(f)
    if sha != sha256 or got != size:
        raise IntegrityError(f"{f}: checksum {sha[:12]}… ({got} bytes) does not match release.json "
                             f"({sha256[:12]}…, {size} bytes); the release is corrupt or edited")


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def _time(lexical: str) -> str:
    """An xsd:dateTime as :func:`utc_now` writes it, whatever form the engine answers with (stores
    keep the value, not the text: Oxigraph says ``...29.79382Z``, Virtuoso ``...29.793820Z``).

    >>> _time("2026-11-30T01:19:29.79382Z"), _time("2026-11-30T01:19:29.500Z")
    ('2026-11-30T01:19:29.793820+00:00', '2026-11-30T01:19:29.500000+00:00')
    """
    try:
        return _dt.datetime.fromisoformat(lexical).isoformat(timespec="microseconds")
    except ValueError:
        return lexical


@dataclass
class GraphRecord:
    """One manifest entry."""

    iri: str
    kind: str
    name: str
    version: str
    source: str
    sha256: str
    byte_size: int
    loader: str
    loader_version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    ended: str = ""
    triples: int = 0
    derived_from: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | unchanged (only in answers, not stored)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {  # python field -> (predicate, literal datatype or None for IRI)
    "kind": (TKG + "kind", None), "name": (TKG + "name", None), "version": (TKG + "version", None),
    "source": (TKG + "source", None), "sha256": (TKG + "sha256", None),
    "byte_size": (TKG + "byteSize", XSD + "integer"), "triples": (TKG + "tripleCount", XSD + "integer"),
    "loader_version": (TKG + "loaderVersion", None), "parameters": (TKG + "parameters", None),
}


def _record_quads(rec: GraphRecord) -> list[Quad]:
    m = _n(MANIFEST)
    g = _n(rec.iri)
    act = _n(rec.iri + "#activity")
    q = [
        Quad(g, _n(RDF_TYPE), _n(PROV + "Entity"), m),
        Quad(g, _n(RDF_TYPE), _n(TKG + "SourceGraph" if not rec.derived_from else TKG + "DerivedGraph"), m),
        Quad(g, _n(PROV + "wasGeneratedBy"), act, m),
        Quad(act, _n(RDF_TYPE), _n(PROV + "Activity"), m),
        Quad(act, _n(PROV + "wasAssociatedWith"), _n(BASE + "loader/" + rec.loader), m),
        Quad(act, _n(PROV + "startedAtTime"), Literal(rec.started, datatype=_n(XSD + "dateTime")), m),
        Quad(act, _n(PROV + "endedAtTime"), Literal(rec.ended, datatype=_n(XSD + "dateTime")), m),
    ]
    for attr, (pred, dt) in _FIELDS.items():
        val = getattr(rec, attr)
        if attr == "parameters":
            val = json.dumps(val, sort_keys=True)
        lit = Literal(str(val), datatype=_n(dt)) if dt else Literal(str(val))
        q.append(Quad(act if attr in ("loader_version", "parameters") else g, _n(pred), lit, m))
    for src in rec.derived_from:
        q.append(Quad(g, _n(PROV + "wasDerivedFrom"), _n(src), m))
    return q


_LIST_QUERY = """
PREFIX tkg: <%(tkg)s>
PREFIX prov: <%(prov)s>
SELECT ?g ?kind ?name ?version ?source ?sha ?size ?triples ?loader ?lv ?params ?start ?end
       (GROUP_CONCAT(DISTINCT STR(?from); SEPARATOR=" ") AS ?froms)
WHERE { GRAPH ?m {
  ?g tkg:kind ?kind ; tkg:name ?name ; tkg:version ?version ; tkg:source ?source ;
     tkg:sha256 ?sha ; tkg:byteSize ?size ; tkg:tripleCount ?triples ; prov:wasGeneratedBy ?a .
  ?a prov:wasAssociatedWith ?loader ; tkg:loaderVersion ?lv ; tkg:parameters ?params ;
     prov:startedAtTime ?start ; prov:endedAtTime ?end .
  OPTIONAL { ?g prov:wasDerivedFrom ?from }
} }
GROUP BY ?g ?kind ?name ?version ?source ?sha ?size ?triples ?loader ?lv ?params ?start ?end
ORDER BY ?kind ?name ?start
""" % {"tkg": TKG, "prov": PROV}


#: Manifests of read-only stores (snapshots, stores nobody writes), read once per store and question.
_READ_ONCE: weakref.WeakKeyDictionary[Store, dict[tuple[str | None, str | None], list[GraphRecord]]] = \
    weakref.WeakKeyDictionary()


def list_graphs(store: Store, *, kind: str | None = None, name: str | None = None) -> list[GraphRecord]:
    """Every graph in the manifest (optionally one kind / name), oldest version first. A read-only
    store's manifest cannot change while it is open, so it is read once per question (a service's
    start asks it a dozen times)."""
    if getattr(store, "read_only", False) is True:
        memo = _READ_ONCE.setdefault(store, {})
        got = memo.get((kind, name))
        if got is None:
            got = memo[(kind, name)] = _read_graphs(store, kind, name)
        return list(got)
    return _read_graphs(store, kind, name)


def _read_graphs(store: Store, kind: str | None, name: str | None) -> list[GraphRecord]:
    b: dict[str, Any] = {"m": _n(MANIFEST)}
    if kind:
        b["kind"] = Literal(kind)
    if name:
        b["name"] = Literal(name)
    out = []
    for r in store.select(_LIST_QUERY, b).rows:
        v = [t.value if t is not None else "" for t in r]
        out.append(GraphRecord(
            iri=v[0], kind=v[1], name=v[2], version=v[3], source=v[4], sha256=v[5],
            byte_size=int(v[6]), triples=int(v[7]), loader=v[8].rsplit("/", 1)[-1], loader_version=v[9],
            parameters=json.loads(v[10] or "{}"), started=_time(v[11]), ended=_time(v[12]),
            derived_from=[x for x in v[13].split(" ") if x]))
    return out


def get_graph(store: Store, ref: str) -> GraphRecord:
    """Find a graph by IRI, by ``kind/name/version``, or by ``kind/name`` / ``name`` (latest)."""
    graphs = list_graphs(store)
    if not graphs:
        raise GraphNotFound(f"no graph {ref!r}: the store has no graphs loaded")
    exact = [g for g in graphs if ref in (g.iri, f"{g.kind}/{g.name}/{g.version}")]
    if exact:
        return exact[0]
    latest = [g for g in graphs if ref in (f"{g.kind}/{g.name}", g.name)]
    if latest:
        return latest[-1]
    known = ", ".join(f"{g.kind}/{g.name}/{g.version}" for g in graphs[:20])
    raise GraphNotFound(f"no graph {ref!r}; known graphs: {known}")


def _record_of(store: Store, iri: str) -> list[Quad]:
    """The manifest quads of one graph's entry (the graph's and its activity's)."""
    return [q for subj in (_n(iri), _n(iri + "#activity")) for q in store.quads(subj, None, None, MANIFEST)]


def data_op(op: str, quads: Iterable[Quad]) -> str:
    """A ``DELETE DATA`` or ``INSERT DATA`` operation of manifest quads."""
    return "%s { GRAPH %s { %s } }" % (op, _n(MANIFEST), " ".join(
        f"{q.subject} {q.predicate} {q.object} ." for q in quads))


def _remove_record(store: Store, iri: str) -> None:
    quads = _record_of(store, iri)
    if quads:
        store.update(data_op("DELETE DATA", quads))


def _write_record(store: Store, rec: GraphRecord) -> None:
    """Replace whatever the manifest says about ``rec.iri`` (an old entry, its markers) with ``rec``,
    in one transaction."""
    write_records(store, [rec])


def write_records(store: Store, recs: Sequence[GraphRecord]) -> None:
    """Replace whatever the manifest says about each record's graph (an old entry, its markers) with
    the record, all of them in one transaction (one update): a batch of graphs is listed together."""
    old = [q for rec in recs for q in _record_of(store, rec.iri)]
    store.update((data_op("DELETE DATA", old) + " ; " if old else "")
                 + data_op("INSERT DATA", [q for rec in recs for q in _record_quads(rec)]))


def rerecord(store: Store, rec: GraphRecord) -> GraphRecord:
    """Replace a graph's manifest entry with ``rec``, its data untouched, in one update: a derived
    graph that new inputs are shown not to change gets their names and checksum without a rewrite.
    A :func:`mark_pending` mark on it goes in the same update."""
    _write_record(store, rec)
    store.flush()
    return rec


def mark_pending(store: Store, iris: Iterable[str]) -> None:
    """Say, durably, that listed graphs are about to be changed in place (not in one transaction);
    :func:`rerecord` clears the mark. A graph still marked when the store is next opened for writing
    was left half-changed by a killed process: recovery drops it and asks for it again
    (:func:`kg.core.recovery.recover`)."""
    now = Literal(utc_now(), datatype=_n(XSD + "dateTime"))
    store.update(data_op("INSERT DATA", [Quad(_n(i), _n(PENDING_WRITE), now, _n(MANIFEST)) for i in iris]))
    store.flush()


def want(store: Store, specs: dict[str, dict[str, Any]]) -> None:
    """Record, durably, derived graphs (IRI -> a JSON spec for rebuilding it) a load is about to make;
    each mark goes when that graph's record is written. A mark that outlives its load names a graph
    a killed process did not finish (listed by :func:`wanted`, rebuilt by the next refresh)."""
    if specs:
        store.update(data_op("INSERT DATA", [Quad(_n(i), _n(WANTED_GRAPH), Literal(json.dumps(spec, sort_keys=True)),
                                                _n(MANIFEST)) for i, spec in specs.items()]))
        store.flush()


def wanted(store: Store) -> dict[str, dict[str, Any]]:
    """Derived graphs asked for and never recorded (IRI -> spec): see :func:`want`."""
    return {q.subject.value: json.loads(q.object.value)
            for q in store.quads(None, _n(WANTED_GRAPH), None, MANIFEST)}


def unwant(store: Store, iris: Iterable[str]) -> None:
    """Withdraw :func:`want` marks (the graphs are no longer asked for)."""
    quads = [q for i in iris for q in store.quads(_n(i), _n(WANTED_GRAPH), None, MANIFEST)]
    if quads:
        store.update(data_op("DELETE DATA", quads))
        store.flush()


def drop_graph(store: Store, ref: str) -> GraphRecord:
    """Drop a graph and its manifest entry. Graphs derived from it are reported, not dropped.
    The entry goes first: a process killed in between leaves an unlisted graph, which recovery
    drops, never a listed graph with part of its data."""
    rec = get_graph(store, ref)
    _remove_record(store, rec.iri)
    store.flush()
    store.drop_graph(rec.iri)
    store.flush()
    return rec


Writer = Callable[[str], Any]


def load_graph(store: Store, *, kind: str, name: str, writer: Writer, source: str, sha256: str,
               byte_size: int, loader: str, loader_version: str, version: str | None = None,
               parameters: dict[str, Any] | None = None, derived_from: Sequence[str] = (),
               counted: bool = False) -> GraphRecord:
    """Write one graph atomically and record it in the manifest.

    ``writer(graph_iri)`` puts the data into the store (and may raise: the graph is then dropped).
    With ``counted=True`` it returns the number of distinct triples it wrote (no count query then).
    Returns the record, with ``status == "unchanged"`` when identical input was loaded before.
    """
    params = dict(parameters or {})
    for prev in list_graphs(store, kind=kind, name=name):
        if prev.sha256 == sha256 and prev.parameters == params and (version is None or prev.version == version):
            prev.status = "unchanged"
            return prev
    version = version or sha256[:12]
    iri = graph_iri(kind, name, version)
    if any(g.iri == iri for g in list_graphs(store, kind=kind, name=name)):
        raise ValidationError(
            f"{kind}/{name}/{version} is already loaded from different content; "
            "give the new release another version (--version) or drop the old one")
    started = utc_now()
    store.drop_graph(iri)  # an orphan left by a crashed process; never a manifest graph
    try:
        crash_point(f"load:{kind}:start")
        written = writer(iri)
        triples = int(written) if counted else store.count(iri)
        rec = GraphRecord(iri=iri, kind=kind, name=name, version=version, source=source, sha256=sha256,
                          byte_size=byte_size, loader=loader, loader_version=loader_version,
                          parameters=params, started=started, ended=utc_now(), triples=triples,
                          derived_from=list(derived_from))
        store.flush()  # the data is on disk before the manifest says it is there
        crash_point(f"load:{kind}:written")
        _write_record(store, rec)  # one transaction: the entry, and any wantedGraph mark of it gone
    except BaseException:
        try:
            store.drop_graph(iri)
        except Exception:  # pragma: no cover - keep the original error
            log.exception("could not clean up graph %s after a failed load", iri)
        raise
    store.flush()
    crash_point(f"load:{kind}:recorded")
    return rec


def derived_sha(inputs: Iterable[GraphRecord], parameters: dict[str, Any] | None = None) -> str:
    """A stable fingerprint for a derived graph: its inputs' checksums and its parameters."""
    h = hashlib.sha256()
    for rec in sorted(inputs, key=lambda r: r.iri):
        h.update(f"{rec.iri} {rec.sha256}\n".encode())
    h.update(json.dumps(parameters or {}, sort_keys=True).encode())
    return h.hexdigest()


def stale_derived(store: Store) -> list[tuple[GraphRecord, str]]:
    """Derived graphs whose inputs are gone or changed since they were made: ``(record, why)``.

    >>> from kg.core.store import open_store
    >>> stale_derived(open_store("oxigraph:"))
    []
    """
    recs = list_graphs(store)
    by_iri = {r.iri: r for r in recs}
    out = []
    for rec in recs:
        if not rec.derived_from:
            continue
        missing = [g for g in rec.derived_from if g not in by_iri]
        if missing:
            out.append((rec, "derived from " + ", ".join(g.split("/graph/", 1)[-1] for g in missing)
                        + ", no longer loaded"))
        elif derived_sha([by_iri[g] for g in rec.derived_from], rec.parameters) != rec.sha256:
            out.append((rec, "an input graph changed since it was made"))
    return out


# --------------------------------------------------------------------------- diff

@dataclass
class GraphDiff:
    a: str
    b: str
    added: int
    removed: int
    common: int
    sample_added: list[str]
    sample_removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ONLY_IN = """SELECT %s WHERE { GRAPH ?x { ?s ?p ?o } FILTER(!isBlank(?s) && !isBlank(?o))
  FILTER NOT EXISTS { GRAPH ?y { ?s ?p ?o } } } %s"""


def diff_graphs(store: Store, a: str, b: str, *, sample: int = 10) -> GraphDiff:
    """Triples added in ``b`` and removed since ``a`` (blank-node triples are left out of the
    comparison: blank node ids are local to each load)."""
    ra, rb = get_graph(store, a), get_graph(store, b)
    x, y = _n(ra.iri), _n(rb.iri)

    def only(first: NamedNode, second: NamedNode) -> tuple[int, list[str]]:
        n = int(store.select(_ONLY_IN % ("(COUNT(*) AS ?n)", ""), {"x": first, "y": second}).rows[0][0].value)
        rows = store.select(_ONLY_IN % ("?s ?p ?o", f"LIMIT {int(sample)}"), {"x": first, "y": second}).rows
        return n, [f"{s} {p} {o} ." for s, p, o in rows]

    added, s_add = only(y, x)
    removed, s_rem = only(x, y)
    total_b = int(store.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?x { ?s ?p ?o } "
                               "FILTER(!isBlank(?s) && !isBlank(?o)) }", {"x": y}).rows[0][0].value)
    return GraphDiff(ra.iri, rb.iri, added, removed, total_b - added, s_add, s_rem)


# --------------------------------------------------------------------------- export / import

__all__ = [
    "BASE", "TKG", "PROV", "MANIFEST", "GraphRecord", "GraphDiff", "graph_iri", "slug", "sha256_file", "rerecord",
    "list_graphs", "get_graph", "drop_graph", "load_graph", "derived_sha", "stale_derived", "diff_graphs",
    "GRAPH_PREFIX", "data_op", "PENDING_WRITE", "WANTED_GRAPH", "mark_pending", "want", "wanted", "unwant",
    "TraitKGError",
]
