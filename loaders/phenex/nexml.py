"""NeXML -> records: ``parse(path)`` reads one Phenex file with lxml into a :class:`PhenexMatrix`
(pure; bad input raises :class:`kg.core.errors.ParseError` with file and line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kg.core.errors import ParseError
from kg.core.sources import Source
from loaders.phenex.records import (
    LEFT_OUT,
    QUALITY_ONLY,
    Cell,
    Character,
    Expr,
    Otu,
    PhenexMatrix,
    Phenotype,
    PhenotypeProblem,
    State,
)

NEXML = "{http://www.nexml.org/2009}"
PHEN = "{http://www.bioontologies.org/obd/schema/pheno}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


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


def _phenotype(ph: Any, where: str, lenient: bool) -> Phenotype:
    """One ``phen:phenotype_character``. Strict: a bearer entity is required. Lenient: a phenotype
    with a quality but no bearer is kept quality-only (``entity`` None)."""
    bearer = ph.find(PHEN + "bearer")
    tref = bearer.find(PHEN + "typeref") if bearer is not None else None
    if tref is not None and lenient and not (tref.get("about") or "").strip():
        tref = None  # an empty bearer: no entity, as if it were not written
    if tref is None and not lenient:
        raise ParseError("phenotype without a bearer entity; load with lenient=True (--lenient) to keep it "
                         "quality-only or leave it out", source=where, line=ph.sourceline)
    entity = _typeref(tref, where) if tref is not None else None
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
    if entity is None and quality is None:
        raise ParseError("phenotype with neither a bearer entity nor a quality", source=where, line=ph.sourceline)
    d = ph.find(PHEN + "description")
    return Phenotype(entity, quality, related, count, (d.text or "").strip() if d is not None else None)


def _phenotypes(state_el: Any, where: str, problems: list[PhenotypeProblem] | None = None) -> list[Phenotype]:
    """The phenotypes a state describes. With ``problems`` (lenient), an incomplete phenotype is
    kept quality-only or left out, and noted there, instead of raising."""
    out = []
    for meta in state_el.findall(NEXML + "meta"):
        if meta.get("property") != "ps:describesPhenotype":
            continue
        for ph in meta.iter(PHEN + "phenotype_character"):
            if problems is None:
                out.append(_phenotype(ph, where, False))
                continue
            try:
                p = _phenotype(ph, where, True)
            except ParseError as exc:
                problems.append(PhenotypeProblem(LEFT_OUT, exc.line or ph.sourceline, exc.value, exc.message))
                continue
            if p.entity is None:
                problems.append(PhenotypeProblem(QUALITY_ONLY, ph.sourceline, p.quality.text if p.quality else None,
                                        "phenotype without a bearer entity: kept with its quality only"))
            out.append(p)
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


def parse(path: str | Path | Source, *, lenient: bool = False) -> PhenexMatrix:
    """Parse one Phenex NeXML file (gzip allowed) into records; raises ParseError with a line.

    ``lenient``: an incomplete phenotype (no bearer entity, a term without an id, a qualifier
    without a relation...) does not refuse the file: one with a quality is kept quality-only, the
    others are left out; each is listed in the matrix's ``problems`` (kind, line, value, why)."""

    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    root = src.xml_root()
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
                                    _phenotypes(el, where, m.problems if lenient else None), el.sourceline))
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
