"""Phenex NeXML character matrices with entity–quality (EQ) phenotypes (Phenoscape).

``parse(path)`` is pure: it reads one NeXML file with lxml and returns a :class:`PhenexMatrix`
(OTUs with VTO ids and specimens, characters, states with their EQ phenotypes, matrix cells
including polymorphic and uncertain state sets, and the publication). ``load(...)`` writes one
graph of kind ``phenotypes`` per file. Post-composed terms (``X and part_of some Y``) become
minted classes carrying their OWL class expression, direct ``S P O`` triples in the shape of
the ontology closure, and the expression text (see :mod:`loaders._phenex_rdf`).

>>> from pathlib import Path
>>> m = parse(Path(__file__).parent.parent / "kg" / "sample" / "phenotypes.xml")
>>> len(m.otus), m.characters[0].number
(32, 1)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kg.core.bulk import gc_paused
from kg.core.errors import ParseError, UnknownPrefix, ValidationError
from kg.core.graphs import slug
from kg.core.names import normalise_name
from kg.core.sources import Source
from kg.core.store import RdfFormat, Store
from loaders._base import Progress, ingest
from loaders.report import LoadReport

KIND = "phenotypes"
FORMATS = ("phenex", "phenoscape")
EXTENSIONS = ("xml",)

NEXML = "{http://www.nexml.org/2009}"
PHEN = "{http://www.bioontologies.org/obd/schema/pheno}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Expr:
    """An ontology term, optionally post-composed: ``genus and rel1 some (f1) and ...``.

    >>> Expr("UBERON:1", (("BFO:0000050", Expr("UBERON:2")),)).text
    'UBERON:1 and BFO:0000050 some (UBERON:2)'
    """

    genus: str
    differentia: tuple[tuple[str, Expr], ...] = ()

    @property
    def text(self) -> str:
        """Manchester-like text, the form the Phenoscape tools print."""
        out = self.genus
        for rel, filler in self.differentia:
            out += f" and {rel} some ({filler.text})"
        return out

    def terms(self) -> Iterable[str]:
        """Every class id used (not the relations), genus first."""
        stack: list[Expr] = [self]
        while stack:
            e = stack.pop()
            yield e.genus
            stack.extend(f for _, f in reversed(e.differentia))


@dataclass(frozen=True)
class Phenotype:
    """One EQ statement: entity (bearer), quality, optional related entity and count."""

    entity: Expr
    quality: Expr | None = None
    related: Expr | None = None
    count: int | None = None
    description: str | None = None


@dataclass
class Otu:
    id: str
    label: str
    vto: str | None = None
    specimens: list[tuple[str | None, str | None]] = field(default_factory=list)  # (collection, catalog no.)
    line: int | None = None


@dataclass
class State:
    id: str
    symbol: str
    label: str
    phenotypes: list[Phenotype] = field(default_factory=list)
    line: int | None = None


@dataclass
class Character:
    id: str
    number: int
    label: str
    states: list[State] = field(default_factory=list)
    line: int | None = None


@dataclass
class Cell:
    otu: str
    character: str
    states: list[str]
    kind: str = "single"  # single | polymorphic | uncertain
    line: int | None = None


@dataclass
class PhenexMatrix:
    """Everything one Phenex NeXML file says."""

    source: str
    title: str = ""
    citation: str = ""
    doi: str | None = None
    creator: str = ""
    references: str | None = None
    otus: list[Otu] = field(default_factory=list)
    characters: list[Character] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        states = [s for c in self.characters for s in c.states]
        return {"otus": len(self.otus), "characters": len(self.characters), "states": len(states),
                "phenotypes": sum(len(s.phenotypes) for s in states), "cells": len(self.cells),
                "state_sets": sum(1 for c in self.cells if c.kind != "single")}


# --------------------------------------------------------------------------- parsing

def _typeref(el: Any, where: str) -> Expr:
    """A ``phen:typeref`` with nested ``phen:qualifier`` post-compositions (iteratively)."""
    def bare(t: Any) -> Expr:
        about = (t.get("about") or "").strip()
        if not about:
            raise ParseError("phen:typeref without an 'about' term id", source=where, line=t.sourceline)
        return Expr(about)

    # post-order over nested typerefs without recursion
    order: list[Any] = []
    stack = [el]
    while stack:
        t = stack.pop()
        order.append(t)
        for q in t.findall(PHEN + "qualifier"):
            for h in q.findall(PHEN + "holds_in_relation_to"):
                stack.extend(h.findall(PHEN + "typeref"))
    built: dict[Any, Expr] = {}
    for t in reversed(order):
        diffs = []
        for q in t.findall(PHEN + "qualifier"):
            rel = (q.get("relation") or "").strip()
            if not rel:
                raise ParseError("phen:qualifier without a 'relation'", source=where, line=q.sourceline)
            for h in q.findall(PHEN + "holds_in_relation_to"):
                for inner in h.findall(PHEN + "typeref"):
                    diffs.append((rel, built[inner]))
        base = bare(t)
        built[t] = Expr(base.genus, tuple(diffs))
    return built[el]


def _phenotypes(state_el: Any, where: str) -> list[Phenotype]:
    out = []
    for meta in state_el.findall(NEXML + "meta"):
        if meta.get("property") != "ps:describesPhenotype":
            continue
        for ph in meta.iter(PHEN + "phenotype_character"):
            bearer = ph.find(PHEN + "bearer")
            tref = bearer.find(PHEN + "typeref") if bearer is not None else None
            if tref is None:
                raise ParseError("phenotype without a bearer entity", source=where, line=ph.sourceline)
            entity = _typeref(tref, where)
            quality = related = None
            count = None
            q = ph.find(PHEN + "quality")
            if q is not None:
                qt = q.find(PHEN + "typeref")
                quality = _typeref(qt, where) if qt is not None else None
                rel = q.find(PHEN + "related_entity")
                if rel is not None and rel.find(PHEN + "typeref") is not None:
                    related = _typeref(rel.find(PHEN + "typeref"), where)
            c = ph.find(PHEN + "count")
            if c is not None and (c.text or "").strip():
                try:
                    count = int(c.text.strip())
                except ValueError:
                    raise ParseError(f"phen:count {c.text.strip()!r} is not an integer", source=where,
                                     line=c.sourceline, value=c.text.strip()) from None
            d = ph.find(PHEN + "description")
            out.append(Phenotype(entity, quality, related, count, (d.text or "").strip() if d is not None else None))
    return out


def _metas(el: Any) -> dict[str, Any]:
    """Direct ``meta`` children: property/rel -> text, href or nested element."""
    out: dict[str, Any] = {}
    for m in el.findall(NEXML + "meta"):
        key = m.get("property") or m.get("rel")
        if key is None:
            continue
        out.setdefault(key, m.get("href") or (m.text or "").strip() or m)
    return out


def parse(path: str | Path | Source) -> PhenexMatrix:
    """Parse one Phenex NeXML file (gzip allowed) into records; raises ParseError with a line."""
    from lxml import etree

    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    try:
        with src.open() as fh:
            root = etree.parse(fh, etree.XMLParser(remove_comments=True, huge_tree=True)).getroot()
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if getattr(exc, "position", None) else (exc.lineno, None))
        raise ParseError(f"malformed XML: {exc.msg}", source=where, line=line, column=col) from exc
    if root.tag != NEXML + "nexml":
        raise ParseError(f"not a NeXML document: root element is {root.tag!r}, expected nexml",
                         source=where, line=root.sourceline, value=str(root.tag))
    m = PhenexMatrix(source=where)
    top = _metas(root)
    m.creator = top.get("dc:creator", "") if isinstance(top.get("dc:creator"), str) else ""
    m.references = top.get("dc:references") if isinstance(top.get("dc:references"), str) else None
    pub = top.get("dc:source")
    if pub is not None and not isinstance(pub, str):
        inner = _metas(pub)
        m.citation = inner.get("dc:bibliographicCitation", "") or ""
        m.title = inner.get("dc:title", "") or ""
        doi = inner.get("dc:identifier")
        m.doi = doi if isinstance(doi, str) and doi else None
    m.title = m.title or src.stem

    otus: dict[str, Otu] = {}
    for otu in root.iter(NEXML + "otu"):
        o = Otu(id=otu.get("id"), label=otu.get("label") or "", line=otu.sourceline)
        for meta in otu.findall(NEXML + "meta"):
            rel = meta.get("rel")
            if rel == "dwc:taxonID" and meta.get("href"):
                o.vto = meta.get("href").strip()
            elif rel == "dwc:individualID":
                inner = _metas(meta)
                coll, cat = inner.get("dwc:collectionID"), inner.get("dwc:catalogNumber")
                o.specimens.append((coll if isinstance(coll, str) else None, cat if isinstance(cat, str) else None))
        if o.id in otus:
            raise ParseError(f"duplicate otu id {o.id!r}", source=where, line=o.line, value=o.id)
        otus[o.id] = o
    m.otus = list(otus.values())

    chars_el = root.find(NEXML + "characters")
    if chars_el is None:
        return m
    fmt = chars_el.find(NEXML + "format")
    blocks: dict[str, tuple[list[State], dict[str, tuple[str, list[str]]]]] = {}
    for sb in (fmt.findall(NEXML + "states") if fmt is not None else []):
        states: list[State] = []
        sets: dict[str, tuple[str, list[str]]] = {}
        for el in sb:
            tag = el.tag
            if tag == NEXML + "state":
                states.append(State(el.get("id"), (el.get("symbol") or "").strip(), (el.get("label") or "").strip(),
                                    _phenotypes(el, where), el.sourceline))
            elif tag in (NEXML + "polymorphic_state_set", NEXML + "uncertain_state_set"):
                kind = "polymorphic" if "polymorphic" in tag else "uncertain"
                sets[el.get("id")] = (kind, [mem.get("state") for mem in el.findall(NEXML + "member")])
        ids = {s.id for s in states}
        for sid, (_, members) in sets.items():
            for mem in members:
                if mem not in ids and mem not in sets:
                    raise ParseError(f"state set {sid!r} has member {mem!r}, which is not a state of block "
                                     f"{sb.get('id')!r}", source=where, line=sb.sourceline, value=mem)
        blocks[sb.get("id")] = (states, sets)

    chars: dict[str, Character] = {}
    char_sets: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for i, ch in enumerate(fmt.findall(NEXML + "char") if fmt is not None else [], start=1):
        ref = ch.get("states")
        if ref not in blocks:
            raise ParseError(f"character {ch.get('id')!r} ({ch.get('label')!r}) points at states block {ref!r}, "
                             "which is not defined", source=where, line=ch.sourceline, value=ref)
        c = Character(ch.get("id"), i, (ch.get("label") or "").strip(), blocks[ref][0], ch.sourceline)
        chars[c.id] = c
        char_sets[c.id] = blocks[ref][1]
    m.characters = list(chars.values())

    matrix = chars_el.find(NEXML + "matrix")
    state_ids = {cid: {s.id for s in c.states} for cid, c in chars.items()}
    cells = m.cells
    for row in (matrix.findall(NEXML + "row") if matrix is not None else []):
        otu_id = row.get("otu")
        if otu_id not in otus:
            raise ParseError(f"matrix row for otu {otu_id!r}, which is not declared", source=where,
                             line=row.sourceline, value=otu_id)
        for cell in row.iterchildren(NEXML + "cell"):
            cid, sid = cell.get("char"), cell.get("state")
            ids = state_ids.get(cid)
            if ids is None:
                raise ParseError(f"cell for character {cid!r}, which is not defined", source=where,
                                 line=cell.sourceline, value=cid)
            if sid is None:
                continue
            if sid in ids:
                cells.append(Cell(otu_id, cid, [sid], "single", cell.sourceline))
                continue
            c = chars[cid]
            if sid in char_sets[cid]:
                kind, members = char_sets[cid][sid]
                flat, stack, seen = [], list(members), {sid}
                while stack:  # state sets may nest other sets (a set met twice is expanded once)
                    x = stack.pop(0)
                    if x in char_sets[cid]:
                        if x not in seen:
                            seen.add(x)
                            stack.extend(char_sets[cid][x][1])
                    elif x not in flat:
                        flat.append(x)
                m.cells.append(Cell(otu_id, cid, flat, kind, cell.sourceline))
            else:
                raise ParseError(f"cell of character {c.number} ({c.label!r}) has state {sid!r}, which is not "
                                 f"declared for that character (expected one of its {len(ids)} states "
                                 "or state sets)", source=where, line=cell.sourceline, value=sid)
    return m


# --------------------------------------------------------------------------- term checks

@lru_cache(maxsize=4)
def _id_spaces(known: frozenset[str]) -> frozenset[str]:
    """The OBO id spaces (``UBERON``, ``PATO``) of a set of class IRIs (a batch of files shares
    one set: computed once; a frozenset keeps its hash)."""
    from ontologies.prefixes import OBO

    return frozenset(i[len(OBO):].split("_", 1)[0] for i in known if i.startswith(OBO))


def unknown_terms(m: PhenexMatrix, known: Collection[str] | None) -> list[tuple[str, int | None, str]]:
    """(term, line, problem) for every class id that does not expand or is not in ``known``."""
    from loaders._phenex_rdf import expand
    from ontologies.prefixes import OBO

    # only terms of ontologies that are loaded can be checked: PATO ids against a store holding
    # only UBERON are not "unknown", just unchecked
    spaces = None if known is None else _id_spaces(frozenset(known))  # no copy when it is one
    out, seen = [], set()
    for c in m.characters:
        for s in c.states:
            for ph in s.phenotypes:
                for e in (ph.entity, ph.quality, ph.related):
                    for t in (e.terms() if e else ()):
                        if t in seen:
                            continue
                        seen.add(t)
                        try:
                            iri = expand(t)
                        except UnknownPrefix as exc:
                            out.append((t, s.line, str(exc)))
                            continue
                        if known is not None and iri not in known and iri.startswith(OBO) \
                                and iri[len(OBO):].split("_", 1)[0] in spaces:
                            out.append((t, s.line, "not a class of any loaded ontology"))
    return out


def drop_phenotypes_with(m: PhenexMatrix, bad: set[str]) -> int:
    """Remove phenotypes that use any term in ``bad`` (lenient mode); returns how many went."""
    n = 0
    for c in m.characters:
        for s in c.states:
            keep = [ph for ph in s.phenotypes
                    if not any(t in bad for e in (ph.entity, ph.quality, ph.related) if e for t in e.terms())]
            n += len(s.phenotypes) - len(keep)
            s.phenotypes = keep
    return n


# --------------------------------------------------------------------------- loading

def resolve_otus(m: PhenexMatrix, resolver: Any, memo: dict[tuple[str, str | None], Any] | None = None) -> list[Any]:
    """One :class:`kg.core.names.NameMatch` per OTU, in order: its VTO id first (an exact match when a
    taxon of the resolver's taxonomy or trees carries it), else its label (exact, synonym, genus,
    fuzzy...). Taxa other phenotype matrices minted are not matches: answers do not depend on the
    order files are loaded in."""
    import copy

    out = []
    memo = {} if memo is None else memo  # (label, VTO id) -> match: a batch names many taxa more than once
    for o in m.otus:
        hit = memo.get((o.label, o.vto))
        if hit is not None:
            out.append(copy.deepcopy(hit))
            continue
        if o.vto:
            by_id = resolver.resolve_one(o.vto)
            if by_id.status == "matched" and by_id.taxon in resolver.taxa:
                hit = by_id
                hit.name = o.label
        if hit is None:
            hit = resolver.resolve_one(o.label)
            if o.vto:
                hit.flags = [*hit.flags, f"VTO id {o.vto} not known to the store"]
        memo[(o.label, o.vto)] = hit
        out.append(copy.deepcopy(hit))
    return out


NAME_STATUSES = ("matched", "approximate", "ambiguous", "unmatched")


@dataclass
class _Prepared:
    """One file parsed, checked, resolved and written as N-Triples: ready to go into the store."""

    src: Source
    name: str
    report: LoadReport
    data: bytes
    triples: int
    parameters: dict[str, Any]


def _prepare(src: Source, *, name: str | None, lenient: bool, known_terms: Collection[str] | None,
             resolver: Any, memo: dict | None = None) -> _Prepared:
    """Everything before the write (no store access): parse, term checks, name resolution, N-Triples."""
    from loaders._phenex_rdf import matrix_ntriples

    m = parse(src)
    report = LoadReport(source=src.origin, kind=KIND)
    bad = unknown_terms(m, known_terms)
    if bad:
        if not lenient:
            t, line, why = bad[0]
            more = f" (and {len(bad) - 1} more: {', '.join(b[0] for b in bad[1:6])})" if len(bad) > 1 else ""
            raise ValidationError(f"{src.path}:{line}: unknown ontology term {t!r} in a phenotype: {why}{more}; "
                                  "load with lenient=True (--lenient) to leave such phenotypes out")
        for t, line, why in bad:
            report.warn(f"unknown ontology term left out: {why}", line=line, value=t)
        report.counts["phenotypes_dropped"] = drop_phenotypes_with(m, {b[0] for b in bad})
    if known_terms is None:
        report.warn("no ontology graphs in the store: term ids were not checked against an ontology")
    report.counts.update(m.counts())
    names = resolve_otus(m, resolver, memo)
    report.names = names  # type: ignore[attr-defined]  # per-OTU resolution (see names_report)
    for st in NAME_STATUSES:
        report.counts[f"names_{st}"] = sum(1 for x in names if x.status == st)
    report.counts["names_universe"] = len(resolver)  # taxa resolved against (0: no taxonomy or tree loaded)
    links = {o.id: (x.taxon, x.matched_name or normalise_name(o.label))
             for o, x in zip(m.otus, names) if x.status == "matched" and x.taxon}
    nm = name or slug(src.stem)
    data, n_triples = matrix_ntriples(m, nm, report, links)
    return _Prepared(src, nm, report, data, n_triples, {"lenient": True} if lenient else {})


def _write(store: Store, job: _Prepared, version: str | None) -> LoadReport:
    def writer(graph: str) -> int:
        store.load_file(job.data, RdfFormat.N_TRIPLES, graph)  # bytes: parsed without the GIL
        return job.triples  # distinct lines: the graph's size

    return ingest(store, job.src, kind=KIND, name=job.name, version=version, loader="phenex", writer=writer,
                  report=job.report, parameters=job.parameters, counted=True)


_UNSET: Any = object()


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         lenient: bool = False, known_terms: Collection[str] | None = _UNSET, resolver: Any = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load one Phenex NeXML file into graph ``phenotypes/<name>/<version>``.

    Term ids are checked against ``known_terms`` (IRIs) when given, else against the classes of
    the ontology graphs in the store (if any). Unknown terms raise ``ValidationError`` naming
    term, file and line; with ``lenient=True`` the phenotypes using them are left out and reported.
    OTUs are resolved to taxa (``resolver``, default: the store's taxonomy and tree tips, see
    :func:`kg.core.names.resolver`): the report's ``names`` holds one match per OTU, its counts
    ``names_matched`` ... ``names_unmatched``; matched OTUs link to the taxon matched.
    """
    from kg.core.names import resolver as make_resolver
    from loaders._phenex_rdf import ontology_classes

    src = source if isinstance(source, Source) else Source.resolve(source)
    if known_terms is _UNSET:
        known_terms = ontology_classes(store)
    job = _prepare(src, name=name, lenient=lenient, known_terms=known_terms,
                   resolver=resolver if resolver is not None else make_resolver(store))
    if progress:
        progress(src.size, src.size)
    return _write(store, job, version)


def names_report(reports: Iterable[LoadReport]) -> list[dict[str, Any]]:
    """One row per OTU of each loaded file: file, OTU label, status, method, taxon, candidates."""
    rows = []
    for r in reports:
        for x in getattr(r, "names", []):
            d = x.to_dict()
            rows.append({"source": r.source, "graph": r.graph, **d})
    return rows


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus every ``*.xml`` (and ``*.xml.gz``) below directories named, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.is_file() and x.name.endswith((".xml", ".xml.gz")))
        else:
            out.append(p)
    return out


def load_many(store: Store, paths: Iterable[str | Path], *, lenient: bool = False,
              progress: Progress | None = None, **options: Any) -> list[LoadReport]:
    """Load many files (directories are searched for ``*.xml``), one graph per matrix.

    Each file loads atomically; ontology terms are looked up once for the whole batch. The
    first bad file raises (files before it stay loaded, each complete)."""
    from concurrent.futures import ThreadPoolExecutor

    from kg.core.names import resolver as make_resolver
    from loaders._phenex_rdf import ontology_classes

    files = expand_paths(paths)
    if options.get("name") and len(files) != 1:
        raise ValidationError(f"a graph name ({options['name']!r}) applies to one file; {len(files)} files given")
    known = ontology_classes(store)
    resolver = make_resolver(store)
    memo: dict = {}
    version = options.get("version")
    reports: list[LoadReport] = []
    # parsing makes many small acyclic objects (the collector's passes cost more than the work);
    # file i+1 is parsed and written as N-Triples while the store bulk-loads file i (it releases the GIL)
    with gc_paused(), ThreadPoolExecutor(1) as pool:
        pending = None
        for f in files:
            try:
                job = _prepare(Source.resolve(f), name=options.get("name"),
                               lenient=lenient, known_terms=known, resolver=resolver, memo=memo)
            finally:  # the file before a bad one stays loaded, complete (or its own error comes first)
                if pending is not None:
                    reports.append(pending.result())
                    pending = None
                    if progress:
                        progress(len(reports), len(files))
            pending = pool.submit(_write, store, job, version)
        if pending is not None:
            reports.append(pending.result())
            if progress:
                progress(len(reports), len(files))
    return reports
