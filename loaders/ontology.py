"""Ontology loader: OBO 1.4 or OWL (RDF/XML, Turtle, N-Triples), ``.gz``, path or URL.

Each ontology release becomes a graph of kind ``ontology``; its owl:imports are resolved through
:mod:`ontologies.catalog` and loaded as ontology graphs of their own first. Checks before
anything is written: unknown prefixes in ids, dangling references into the ontology's own id
space (both errors unless ``lenient=True``), references to undeclared terms of other ontologies
(warnings, with counts) and is_a cycles (warnings). Every class gets ``rdfs:isDefinedBy`` its
ontology (``obo:uberon.owl`` for ``UBERON_...``) unless the file says otherwise.

>>> from kg.core.store import open_store
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.obo"
>>> _ = p.write_text('ontology: t\\ndata-version: 2024-01-01\\n[Term]\\nid: T:1\\nname: thing\\n')
>>> r = load(open_store("oxigraph:"), p)
>>> r.name, r.version, r.counts["classes"]
('t', '2024-01-01', 1)
>>> tmp.cleanup()
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError, UnknownFormat, ValidationError
from kg.core.graphs import drop_graph, get_graph, slug
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode, Quad, RdfFormat, Store, Triple, rdf_format, serialize_rdf
from loaders._base import Progress, ingest
from loaders.rdf import no_triples, parse_error
from loaders.report import LoadReport
from ontologies.axioms import EQUIVALENT, FIRST, INTERSECTION, SOME, SUBCLASS, UNION
from ontologies.cycles import is_a_cycles
from ontologies.graph_axioms import axiom_triples, remember
from ontologies.prefixes import PREFIXES

log = logging.getLogger(__name__)

KIND = "ontology"
FORMATS = ("ontology", "owl", "obo")
EXTENSIONS = ("owl", "ofn", "owx", "obo")

OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OBO = "http://purl.obolibrary.org/obo/"
_SYNTAXES = ("obo", "rdfxml", "turtle", "ntriples")


def detect_syntax(src: Source, syntax: str | None = None) -> str:
    """``obo``, ``rdfxml``, ``turtle`` or ``ntriples``: the explicit choice, else sniffed from content."""
    if syntax:
        s = {"owl": "rdfxml", "rdf": "rdfxml", "xml": "rdfxml", "ttl": "turtle", "nt": "ntriples"}.get(syntax, syntax)
        if s not in _SYNTAXES:
            raise UnknownFormat(f"{src.path}: unknown ontology syntax {syntax!r}; expected one of {', '.join(_SYNTAXES)}")
        return s
    with src.open() as fh:
        head = fh.read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    stripped = head.lstrip()
    if re.search(r"^(Prefix|Ontology)\s*\(", stripped, re.M) and not stripped.startswith("<"):
        raise UnknownFormat(f"{src.path}: OWL functional syntax is not supported; convert it to RDF/XML or "
                            "Turtle (e.g. `robot convert -i FILE -o FILE.owl`)")
    if stripped.startswith("<") and ("<Ontology" in head and "owl#" in head and "rdf:RDF" not in head):
        raise UnknownFormat(f"{src.path}: OWL/XML syntax is not supported; convert it to RDF/XML "
                            "(e.g. `robot convert -i FILE -o FILE.owl`)")
    if stripped.startswith("<?xml") or "<rdf:RDF" in head:
        return "rdfxml"
    if re.search(r"^\s*(@prefix|@base|PREFIX)\b", head, re.M | re.I):
        return "turtle"
    if re.search(r"^(format-version|ontology|data-version):", head, re.M) or "[Term]" in head:
        return "obo"
    hint = src.format_hint
    if hint == "obo":
        return "obo"
    if hint in ("ttl", "turtle"):
        return "turtle"
    if hint == "nt":
        return "ntriples"
    if hint in ("owl", "rdf", "xml"):
        return "rdfxml"
    raise UnknownFormat(f"{src.path}: cannot tell whether this is OBO or OWL; pass the syntax explicitly "
                        f"(one of {', '.join(_SYNTAXES)})")


@dataclass
class Header:
    """What a loader needs before loading: identity, version and imports."""

    ontology_iri: str = ""
    version_iri: str = ""
    version_info: str = ""
    imports: list[str] = field(default_factory=list)

    def default_name(self, src: Source) -> str:
        if self.ontology_iri:
            tail = self.ontology_iri.rstrip("/").rsplit("/", 1)[-1]
            tail = tail[:-4] if tail.endswith((".owl", ".obo")) else tail
            if tail:
                return slug(tail)
        return slug(src.stem)

    def default_version(self) -> str | None:
        if self.version_iri:
            parts = [p for p in self.version_iri.split("/") if p]
            dated = [p for p in parts if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p)]
            if dated:
                return dated[-1]
            if len(parts) >= 2:
                return slug(parts[-2])
        if self.version_info:
            return slug(self.version_info)
        return None


_RDFXML_RE = {
    "ontology_iri": re.compile(r"<owl:Ontology\s+rdf:about=\"([^\"]+)\""),
    "version_iri": re.compile(r"<owl:versionIRI\s+rdf:resource=\"([^\"]+)\""),
    "version_info": re.compile(r"<owl:versionInfo[^>]*>([^<]+)<"),
}
_IMPORT_RE = re.compile(r"<owl:imports\s+rdf:resource=\"([^\"]+)\"|owl:imports\s+<([^>]+)>|"
                        r"<http://www.w3.org/2002/07/owl#imports>\s+<([^>]+)>")


def scan_owl_header(src: Source, syntax: str) -> Header:
    """Read ontology IRI, version and imports from an OWL file's text (without a full parse)."""
    h = Header()
    with src.open() as fh:
        if syntax == "rdfxml":  # the owl:Ontology element comes first; stop after it
            chunks: list[bytes] = []
            while block := fh.read(1 << 16):
                chunks.append(block)
                if b"</owl:Ontology>" in block or b"<owl:Class" in block or len(chunks) > 256:
                    break
            text = b"".join(chunks).decode("utf-8", "replace")
        else:
            text = fh.read().decode("utf-8", "replace")
    if syntax == "rdfxml":
        for attr, rx in _RDFXML_RE.items():
            m = rx.search(text)
            if m:
                setattr(h, attr, m.group(1).strip())
    else:
        m = re.search(r"<([^>]+)>\s+(?:a|rdf:type|<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>)\s+"
                      r"(?:owl:Ontology|<http://www.w3.org/2002/07/owl#Ontology>)", text)
        if m:
            h.ontology_iri = m.group(1)
        m = re.search(r"(?:owl:versionIRI|<http://www.w3.org/2002/07/owl#versionIRI>)\s+<([^>]+)>", text)
        if m:
            h.version_iri = m.group(1)
    h.imports = [next(g for g in m.groups() if g) for m in _IMPORT_RE.finditer(text)]
    return h


@dataclass
class _Plan:
    src: Source
    syntax: str
    header: Header
    mapping: Any = None  # loaders._obo_owl.OwlMapping for OBO


def _prepare(src: Source, syntax: str) -> _Plan:
    if syntax == "obo":
        from loaders._obo_owl import to_owl
        from loaders.obo import parse

        doc = parse(src)
        m = to_owl(doc)
        h = Header(ontology_iri=m.ontology_iri, imports=[_obo_import(v) for v in doc.imports])
        if doc.data_version:
            h.version_iri = f"{OBO}{doc.ontology}/{doc.data_version}/{doc.ontology}.owl"
            h.version_info = doc.data_version.rsplit("/", 1)[-1]
        return _Plan(src, syntax, h, m)
    return _Plan(src, syntax, scan_owl_header(src, syntax))


def _obo_import(value: str) -> str:
    if value.startswith(("http://", "https://", "file:")):
        return value
    return f"{OBO}{value[:-4] if value.endswith(('.obo', '.owl')) else value}.owl"


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         syntax: str | None = None, lenient: bool = False, import_map: Mapping[str, str] | list[str] | None = None,
         offline: bool | None = None, progress: Progress | None = None, fmt: str | None = None,
         local_imports: bool = True, **_: Any) -> LoadReport:
    """Load an ontology (and, first, everything it imports) into ``ontology/<name>/<version>``.

    ``syntax`` (or the format name ``fmt``, e.g. ``obo``) overrides what the content says.

    The report's ``counts['imports']`` lists the graphs of resolved imports. ``local_imports=False``
    refuses ``file:`` imports (uploads to a server).
    """
    from ontologies.catalog import parse_import_map, resolve_import

    imap = parse_import_map(import_map)
    main_src = source if isinstance(source, Source) else Source.resolve(source)
    main = _prepare(main_src, detect_syntax(main_src, syntax or (fmt if fmt not in (None, *FORMATS[:2]) else None)))
    # Resolve the import closure first (iteratively), so an unresolvable import fails before any write.
    plans: list[_Plan] = []
    seen = {main.header.ontology_iri} if main.header.ontology_iri else set()
    todo = list(main.header.imports)
    while todo:
        iri = todo.pop(0)
        if iri in seen:
            continue
        seen.add(iri)
        isrc = Source.resolve(resolve_import(iri, import_map=imap, offline=offline, local_files=local_imports))
        plan = _prepare(isrc, detect_syntax(isrc))
        plans.append(plan)
        todo.extend(plan.header.imports)
    import_reports: list[LoadReport] = []
    try:
        for p in reversed(plans):
            import_reports.append(_load_one(store, p, None, None, lenient, None))
        report = _load_one(store, main, name, version, lenient, progress)
    except BaseException:
        # all or nothing: imports this call added go again when a later file fails
        for r in import_reports:
            if r.status == "loaded" and r.graph:
                drop_graph(store, r.graph)
        raise
    report.counts["imports"] = [r.graph for r in import_reports]  # type: ignore[assignment]
    for r in import_reports:
        report.problems.extend(r.problems)
    return report


def _load_one(store: Store, plan: _Plan, name: str | None, version: str | None, lenient: bool,
              progress: Progress | None) -> LoadReport:
    src, h = plan.src, plan.header
    name = name or h.default_name(src)
    version = version or h.default_version()
    report = LoadReport(source=src.origin, kind=KIND)
    own = {name.upper(), (h.default_name(src) or "").upper()}
    if plan.mapping is not None:
        _check_obo(plan, report, own, lenient)

    def writer(graph: str) -> None:
        if plan.mapping is not None:  # through the bulk path: a fresh graph, dropped if the load fails
            data = serialize_rdf([Triple(s, p, o) for s, p, o in plan.mapping.triples], RdfFormat.N_TRIPLES)
            store.load_file(data, RdfFormat.N_TRIPLES, graph, lenient=True)  # terms checked by the mapping
            del data
        else:
            fmt = {"rdfxml": RdfFormat.RDF_XML, "turtle": RdfFormat.TURTLE,
                   "ntriples": RdfFormat.N_TRIPLES}.get(plan.syntax) or rdf_format(plan.syntax)
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                if progress:
                    progress(done[0], src.size)

            with src.pipe(progress=tick if progress else None) as fh:  # gunzip beside the parse
                try:
                    store.load_file(fh, fmt, graph, base_iri=h.ontology_iri or src.path.resolve().as_uri())
                except (SyntaxError, MemoryError) as exc:
                    raise parse_error(src, exc) from None
            no_triples(store, graph, src)
        # one read of the axioms, for the checks here and for every closure made of this graph
        triples = axiom_triples(store, graph)
        if plan.mapping is None:
            _check_owl(store, graph, report, own, lenient, src, triples)
        _post_load(store, graph, h, report, triples)
        read.append(triples)

    read: list[list[tuple[str, str, str]]] = []
    params = {"syntax": plan.syntax, "lenient": lenient}
    report = ingest(store, src, kind=KIND, name=name, version=version, loader="ontology", writer=writer,
                    parameters=params, report=report)
    if read:  # recorded: kept for the closures made of it
        remember(store, get_graph(store, report.graph), read[0])
    return report


def _check_obo(plan: _Plan, report: LoadReport, own: set[str], lenient: bool) -> None:
    m = plan.mapping
    path = str(plan.src.path)
    for msg, line, value in m.problems:
        report.warn(msg, line=line, value=value)
    if m.unknown_prefixes:
        first = sorted(m.unknown_prefixes.items(), key=lambda kv: kv[1])
        desc = ", ".join(f"{p!r} (line {ln})" for p, ln in first[:10])
        if not lenient:
            import difflib

            from ontologies.prefixes import PREFIXES

            p0 = first[0][0]
            near = difflib.get_close_matches(p0, list(PREFIXES), n=1)
            hint = f" Did you mean {near[0]}?" if near else ""
            raise ParseError(f"unknown prefix in ids: {desc}; declare it with 'idspace: PREFIX IRI' or load "
                             f"with lenient=True / --lenient.{hint}", source=path, line=first[0][1], value=p0)
        for p, ln in first:
            report.warn(f"unknown prefix {p!r} in an id", line=ln, value=p)
    undeclared = {iri: ln for iri, ln in m.referenced.items() if iri not in m.declared}
    _classify_refs(undeclared, report, own, lenient, path)


def _prefix_of(iri: str) -> str:
    if iri.startswith(OBO):
        local = iri[len(OBO):]
        return local.split("_", 1)[0] if "_" in local else ""
    return ""


def _classify_refs(undeclared: dict[str, int | None], report: LoadReport, own: set[str], lenient: bool,
                   path: str) -> None:
    internal = {i: ln for i, ln in undeclared.items() if _prefix_of(i).upper() in own}
    external = {i: ln for i, ln in undeclared.items() if i not in internal}
    report.counts["dangling"] = len(internal)
    report.counts["external_undeclared"] = len(external)
    if internal:
        from ontologies.prefixes import contract

        ex = sorted(internal.items(), key=lambda kv: (kv[1] or 0))[:5]
        desc = ", ".join(f"{contract(i)}" + (f" (line {ln})" if ln else "") for i, ln in ex)
        if not lenient:
            raise ValidationError(f"{path}: {len(internal)} dangling reference(s) to undeclared terms of this "
                                  f"ontology, e.g. {desc}; load with lenient=True / --lenient to load anyway")
        for i, ln in sorted(internal.items(), key=lambda kv: (kv[1] or 0)):
            report.warn("dangling reference to an undeclared term", line=ln, value=contract(i))
    if external:
        from ontologies.prefixes import contract

        ex = ", ".join(contract(i) for i in sorted(external)[:5])
        report.warn(f"{len(external)} reference(s) to terms of other ontologies that are not declared here "
                    f"(e.g. {ex}); load those ontologies to resolve them")


def _check_owl(store: Store, graph: str, report: LoadReport, own: set[str], lenient: bool, src: Source,
               triples: list[tuple[str, str, str]]) -> None:
    _classify_refs(dict.fromkeys(_undeclared(store, graph, triples)), report, own, lenient, str(src.path))


def _undeclared(store: Store, graph: str, triples: list[tuple[str, str, str]]) -> list[str]:
    """Named classes the graph's axioms (``triples``: :func:`ontologies.graph_axioms.axiom_triples`)
    refer to as a superclass, filler, equivalent or first member of an intersection or union, and
    that have no triple of their own in it (blank nodes and the built-in vocabularies aside)."""
    heads = {o for _, p, o in triples if p in (INTERSECTION, UNION)}
    refs = {o for s, p, o in triples if p in _REFERRING or (p == FIRST and s in heads)}
    refs -= {s for s, _, _ in triples}  # these have triples of their own
    refs = {x for x in refs if not x.startswith(_BUILT_IN)}
    seen: set[str] = set()
    todo = sorted(refs)
    for k in range(0, len(todo), 1000):  # the rest: have they any triple at all?
        values = " ".join(f"<{x}>" for x in todo[k:k + 1000])
        rows = store.select(f"SELECT DISTINCT ?x WHERE {{ GRAPH ?g {{ VALUES ?x {{ {values} }} ?x ?p ?o }} }}",
                            {"g": NamedNode(graph)}).rows
        seen.update(r[0].value for r in rows)
    return [x for x in todo if x not in seen]


#: what makes a named class referred to, besides the first members of intersections and unions
_REFERRING = (SUBCLASS, SOME, EQUIVALENT)
#: never undeclared: blank nodes, and OWL's, RDF's, RDFS's and XML Schema's own terms (owl:Thing, xsd:integer)
_BUILT_IN = ("_:", *(PREFIXES[p] for p in ("owl", "rdf", "rdfs", "xsd")))

_STATS = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
SELECT ?c WHERE { GRAPH ?g { ?c a owl:Class FILTER(isIRI(?c))
  FILTER NOT EXISTS { ?c <http://www.w3.org/2000/01/rdf-schema#isDefinedBy> ?d } } }"""


def defined_by(iri: str, ontology_iri: str) -> str:
    """The ontology an OBO term belongs to by its id space (``UBERON_1`` -> ``obo:uberon.owl``).

    >>> defined_by("http://purl.obolibrary.org/obo/ZFA_0000001", "http://x.org/o.owl")
    'http://purl.obolibrary.org/obo/zfa.owl'
    """
    p = _prefix_of(iri)
    return f"{OBO}{p.lower()}.owl" if p else ontology_iri


def _post_load(store: Store, graph: str, h: Header, report: LoadReport, triples: list[tuple[str, str, str]]) -> None:
    """Add rdfs:isDefinedBy, count classes / properties / obsoletes, report is_a cycles."""
    g = NamedNode(graph)
    ont = h.ontology_iri or graph
    missing = [r[0].value for r in store.select(_STATS, {"g": g}).rows]
    by = NamedNode(RDFS + "isDefinedBy")
    store.add_quads([Quad(NamedNode(c), by, NamedNode(defined_by(c, ont)), g) for c in missing])
    counts = store.select(
        "PREFIX owl: <http://www.w3.org/2002/07/owl#> SELECT "
        "(COUNT(DISTINCT ?c) AS ?classes) (COUNT(DISTINCT ?p) AS ?props) (COUNT(DISTINCT ?d) AS ?obs) "
        "WHERE { GRAPH ?g { { ?c a owl:Class FILTER(isIRI(?c)) } UNION { ?p a owl:ObjectProperty } "
        "UNION { ?d owl:deprecated true } } }", {"g": g}).rows[0]
    report.counts["classes"] = int(counts[0].value)
    report.counts["object_properties"] = int(counts[1].value)
    report.counts["obsolete"] = int(counts[2].value)
    edges = [(a, b) for a, p, b in triples if p == SUBCLASS and a != b and not a.startswith("_:")
             and not b.startswith("_:")]
    for cyc in is_a_cycles(edges):
        from ontologies.prefixes import contract

        report.warn(f"is_a cycle among {len(cyc)} classes (they are treated as equivalent)",
                    value=", ".join(contract(c) for c in cyc[:8]))


__all__ = ["load", "detect_syntax", "scan_owl_header", "Header", "defined_by", "is_a_cycles", "Literal"]
