"""The RDF shape of a Phenex matrix (built by :mod:`loaders.phenex.load`; vocabulary in ontologies/traitkg.ttl).

::

  matrix  a tkg:CharacterMatrix ; dcterms:title ; dcterms:bibliographicCitation ; tkg:publication pub
  otu     a tkg:OTU ; rdfs:label (as written) ; tkg:inMatrix ; tkg:taxon taxon ; dwc:taxonID VTO ;
          tkg:specimen [ dwc:collectionID ; dwc:catalogNumber ]
  taxon   a tkg:Taxon ; rdfs:label (normalised) ; skos:exactMatch VTO
          (the taxon name resolution matched, by VTO id or name; else the one the label names)
  char    a tkg:Character ; rdfs:label ; tkg:characterNumber n ; tkg:inMatrix
  state   a tkg:CharacterState ; rdfs:label ; tkg:symbol ; tkg:character ; tkg:describesPhenotype ph
  ph      a tkg:Phenotype ; tkg:entity E ; tkg:quality Q ; tkg:relatedEntity R ; tkg:count n
          (no tkg:entity: a quality-only phenotype, kept by lenient parsing)
  cell    tkg:otu ; tkg:state s1 [, s2 …] ; tkg:stateSetKind "polymorphic"|"uncertain"
          (its character: its states', by tkg:character's property chain; a states block shared by
          several characters gets state nodes per character, .../character/<n>/state/<id>)
  C (post-composed)  a owl:Class, tkg:PostComposedClass ; tkg:expression "X and BFO:0000050 some (Y)" ;
          rdfs:subClassOf X ; BFO:0000050 Y  (direct "S P O" triples, the closure contract's shape) ;
          owl:equivalentClass [ owl:intersectionOf ( X [ owl:onProperty BFO:0000050 ; owl:someValuesFrom Y ] ) ]
"""

from __future__ import annotations

import hashlib
import urllib.parse
from functools import lru_cache
from typing import TYPE_CHECKING

from kg.core.errors import UnknownPrefix
from kg.core.graphs import BASE, TKG
from kg.core.names import normalise_name, taxon_iri
from kg.core.store import Literal, NamedNode
from loaders.phenex.records import Expr, PhenexMatrix
from ontologies.prefixes import OBO, PREFIXES
from ontologies.prefixes import expand as _expand_curie

if TYPE_CHECKING:  # pragma: no cover
    from loaders.report import LoadReport

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
DCT = PREFIXES["dcterms"]
DWC = PREFIXES["dwc"]
SKOS = PREFIXES["skos"]
XSD = PREFIXES["xsd"]

#: Relation tokens seen in Phenex files that are not CURIEs of a known ontology.
RELATION_ALIASES = {
    "part_of": OBO + "BFO_0000050", "has_part": OBO + "BFO_0000051",
    "OBO_REL:located_in": OBO + "RO_0001025", "located_in": OBO + "RO_0001025",
    "overlaps": OBO + "RO_0002131", "towards": OBO + "RO_0002503",
    "UBERON:attaches_to": OBO + "RO_0002371", "UBERON:connects": OBO + "RO_0002176",
}

_N: dict[str, NamedNode] = {}


@lru_cache(maxsize=1 << 16)
def expand(curie: str) -> str:
    """``ontologies.prefixes.expand``, remembered: the 47 matrices use ~20k distinct ids ~55k times."""
    return _expand_curie(curie)


def N(iri: str) -> NamedNode:
    """A cached NamedNode (loads create millions of the same few IRIs)."""
    n = _N.get(iri)
    if n is None:
        if len(_N) > 500_000:
            _N.clear()
        n = _N[iri] = NamedNode(iri)
    return n


def relation_iri(token: str) -> str:
    """IRI of a qualifier relation as written in Phenex (``BFO:0000050``, ``part_of``, ``overlaps``)."""
    if token in RELATION_ALIASES:
        return RELATION_ALIASES[token]
    try:
        return expand(token)
    except UnknownPrefix:
        return BASE + "relation/" + urllib.parse.quote(token, safe="_-.")


def class_iri(e: Expr) -> str:
    """The IRI of a term, or of the minted class for a post-composition (stable across files)."""
    if not e.differentia:
        return expand(e.genus)
    return BASE + "class/" + hashlib.sha1(e.text.encode()).hexdigest()[:16]


def phenotype_iri(ph_key: str) -> str:
    return BASE + "phenotype/" + hashlib.sha1(ph_key.encode()).hexdigest()[:16]


def matrix_iri(name: str) -> str:
    return BASE + "matrix/" + urllib.parse.quote(name, safe="_-.")


class _Lines:
    """N-Triples lines built as text: IRIs checked once each (pyoxigraph writes them), literals
    escaped by pyoxigraph, blank node labels unique to this writer."""

    def __init__(self) -> None:
        import uuid

        self.lines: list[str] = []
        self._iri: dict[str, str] = {}
        self._token = "b" + uuid.uuid4().hex[:12] + "x"
        self._n = 0

    def iri(self, iri: str) -> str:
        x = self._iri.get(iri)
        if x is None:
            if len(self._iri) > 500_000:
                self._iri.clear()
            x = self._iri[iri] = str(N(iri))
        return x

    @staticmethod
    def lit(value: str, datatype: str | None = None) -> str:
        return str(Literal(value, datatype=N(datatype)) if datatype else Literal(value))

    def bnode(self) -> str:
        self._n += 1
        return f"_:{self._token}{self._n}"

    def add(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"{s} {p} {o} .\n")


def _expr_triples(e: Expr, out: _Lines, seen: set[str]) -> str:
    """Triples for a (possibly nested) post-composed class; returns its node. Iterative."""
    order: list[Expr] = []
    stack = [e]
    while stack:
        x = stack.pop()
        order.append(x)
        stack.extend(f for _, f in x.differentia)
    i_, add = out.iri, out.add
    a = i_(RDF + "type")
    for x in reversed(order):  # fillers before the classes that use them
        iri = class_iri(x)
        if not x.differentia or iri in seen:
            continue
        seen.add(iri)
        c, genus = i_(iri), i_(expand(x.genus))
        add(c, a, i_(OWL + "Class"))
        add(c, a, i_(TKG + "PostComposedClass"))
        add(c, i_(TKG + "expression"), out.lit(x.text))
        add(c, i_(RDFS + "subClassOf"), genus)
        eq, items = out.bnode(), [genus]
        for rel, filler in x.differentia:
            rel_iri = relation_iri(rel)
            r, f = i_(rel_iri), i_(class_iri(filler))
            add(c, r, f)
            b = out.bnode()
            add(b, a, i_(OWL + "Restriction"))
            add(b, i_(OWL + "onProperty"), r)
            add(b, i_(OWL + "someValuesFrom"), f)
            if rel != rel_iri:  # how the file wrote the relation; its label is the ontology's to give
                add(r, i_(SKOS + "notation"), out.lit(rel))
            items.append(b)
        add(c, i_(OWL + "equivalentClass"), eq)
        add(eq, a, i_(OWL + "Class"))
        head = out.bnode()
        add(eq, i_(OWL + "intersectionOf"), head)
        for k, item in enumerate(items):
            nxt = i_(RDF + "nil") if k == len(items) - 1 else out.bnode()
            add(head, i_(RDF + "first"), item)
            add(head, i_(RDF + "rest"), nxt)
            head = nxt
    return i_(class_iri(e))


def phenotype_key(entity: Expr | None, quality: Expr | None, related: Expr | None, count: int | None) -> str:
    """The text a phenotype's IRI hashes (a quality-only phenotype has an empty entity part)."""
    return "|".join([entity.text if entity else "", quality.text if quality else "", related.text if related else "",
                     "" if count is None else str(count)])


def matrix_ntriples(m: PhenexMatrix, name: str, report: LoadReport | None = None,
                    links: dict[str, tuple[str, str]] | None = None) -> tuple[bytes, int]:
    """One parsed matrix as N-Triples for the store's bulk loader, and its number of distinct triples.

    ``links`` maps OTU ids to the (taxon IRI, name) that name resolution matched; other OTUs link
    to the taxon node their label names (``kg.core.names.taxon_iri``)."""
    out = _Lines()
    i_, lit, add = out.iri, out.lit, out.add
    a, label = i_(RDF + "type"), i_(RDFS + "label")
    mx_iri = matrix_iri(name)
    mx = i_(mx_iri)
    in_m = i_(TKG + "inMatrix")
    add(mx, a, i_(TKG + "CharacterMatrix"))
    add(mx, i_(DCT + "title"), lit(m.title))
    if m.citation:
        add(mx, i_(DCT + "bibliographicCitation"), lit(m.citation))
    if m.creator:
        add(mx, i_(DCT + "creator"), lit(m.creator))
    if m.references:
        add(mx, i_(DCT + "references"), lit(m.references))
    doi = m.doi
    if doi and "10." in doi:
        pub = i_("https://doi.org/" + urllib.parse.quote(doi[doi.index("10."):].strip(), safe="/._-;()"))
    else:
        pub = i_(BASE + "publication/" + urllib.parse.quote(name, safe="_-."))
    add(mx, i_(TKG + "publication"), pub)
    add(pub, a, i_(TKG + "Publication"))
    add(pub, label, lit(m.citation or m.title))
    if doi:
        add(pub, i_(DCT + "identifier"), lit(doi))

    otu_iri: dict[str, str] = {}
    taxa = 0
    otu_t, taxon_p, taxon_t = i_(TKG + "OTU"), i_(TKG + "taxon"), i_(TKG + "Taxon")
    for o in m.otus:
        oi = otu_iri[o.id] = f"{mx_iri}/otu/{urllib.parse.quote(o.id, safe='_-.')}"
        n = i_(oi)
        add(n, a, otu_t)
        add(n, label, lit(o.label))
        add(n, in_m, mx)
        hit = links.get(o.id) if links else None
        name_ = hit[1] if hit else normalise_name(o.label)
        if name_:
            tx = i_(hit[0] if hit else taxon_iri(name_))
            add(n, taxon_p, tx)
            add(tx, a, taxon_t)
            add(tx, label, lit(name_))
            taxa += 1
            if o.vto:
                add(tx, i_(SKOS + "exactMatch"), i_(o.vto))
        elif report is not None:
            report.warn("OTU without a label is not linked to a taxon", line=o.line, value=o.id)
        if o.vto:
            add(n, i_(DWC + "taxonID"), i_(o.vto))
        for coll, cat in o.specimens:
            sp = out.bnode()
            add(n, i_(TKG + "specimen"), sp)
            add(sp, a, i_(TKG + "Specimen"))
            if coll:
                add(sp, i_(DWC + "collectionID"), i_(coll) if ":" in coll else lit(coll))
            if cat:
                add(sp, i_(DWC + "catalogNumber"), lit(cat))

    seen_cls: set[str] = set()
    seen_ph: set[str] = set()
    state_node: dict[tuple[str, str], str] = {}  # (character id, state id) -> node
    char_node: dict[str, str] = {}
    char_num: dict[str, int] = {}
    # a states block several characters share gets a state node per character, so that every state
    # has one character (cells then need no tkg:character of their own: see traitkg.ttl)
    block_use: dict[int, int] = {}
    for c in m.characters:
        block_use[id(c.states)] = block_use.get(id(c.states), 0) + 1
    xsd_int = XSD + "integer"
    char_t, number_p = i_(TKG + "Character"), i_(TKG + "characterNumber")
    state_t, symbol_p, char_p = i_(TKG + "CharacterState"), i_(TKG + "symbol"), i_(TKG + "character")
    desc_p, ph_t = i_(TKG + "describesPhenotype"), i_(TKG + "Phenotype")
    for c in m.characters:
        cn = char_node[c.id] = i_(f"{mx_iri}/character/{c.number}")
        char_num[c.id] = c.number
        add(cn, a, char_t)
        add(cn, label, lit(c.label))
        add(cn, in_m, mx)
        add(cn, number_p, lit(str(c.number), xsd_int))
        for s in c.states:
            local = urllib.parse.quote(s.id, safe='_-.')
            sn = state_node[(c.id, s.id)] = i_(f"{mx_iri}/state/{local}" if block_use[id(c.states)] == 1
                                               else f"{mx_iri}/character/{c.number}/state/{local}")
            add(sn, a, state_t)
            add(sn, label, lit(s.label))
            add(sn, symbol_p, lit(s.symbol))
            add(sn, char_p, cn)
            for ph in s.phenotypes:
                key = phenotype_key(ph.entity, ph.quality, ph.related, ph.count)
                pn = i_(phenotype_iri(key))
                add(sn, desc_p, pn)
                if key in seen_ph:
                    continue
                seen_ph.add(key)
                add(pn, a, ph_t)
                if ph.entity is not None:  # None: quality-only (lenient parsing)
                    add(pn, i_(TKG + "entity"), _expr_triples(ph.entity, out, seen_cls))
                if ph.quality is not None:
                    add(pn, i_(TKG + "quality"), _expr_triples(ph.quality, out, seen_cls))
                if ph.related is not None:
                    add(pn, i_(TKG + "relatedEntity"), _expr_triples(ph.related, out, seen_cls))
                if ph.count is not None:
                    add(pn, i_(TKG + "count"), lit(str(ph.count), xsd_int))
    # cells: the bulk of a matrix; their IRIs extend the (checked) OTU IRIs with /cell/<n>. A cell's
    # character is its states' (tkg:character's property chain), not written again
    st_p, kind_p = f" {i_(TKG + 'state')} ", i_(TKG + "stateSetKind")
    otu_p = f" {i_(TKG + 'otu')} "
    otu_node = {k: i_(v) for k, v in otu_iri.items()}
    lines = out.lines
    for cell in m.cells:
        node = f"<{otu_iri[cell.otu]}/cell/{char_num[cell.character]}>"
        lines.append(f"{node}{otu_p}{otu_node[cell.otu]} .\n")
        ch = cell.character
        for s in cell.states:
            lines.append(f"{node}{st_p}{state_node[(ch, s)]} .\n")
        if cell.kind != "single":
            add(node, kind_p, lit(cell.kind))
    if report is not None:
        report.counts["taxa_linked"] = taxa
    # distinct lines (a taxon named by two OTUs, a relation written the same way twice): the count
    # is then the graph's size; N-Triples escapes line breaks inside literals
    uniq = dict.fromkeys("".join(lines).split("\n"))
    uniq.pop("", None)
    return ("\n".join(uniq) + "\n").encode() if uniq else b"", len(uniq)


def matrix_triples(m: PhenexMatrix, name: str, report: LoadReport | None = None,
                   links: dict[str, tuple[str, str]] | None = None) -> list[tuple]:
    """The triples of :func:`matrix_ntriples` as (s, p, o) tuples of terms."""
    from kg.core.store import RdfFormat, parse_rdf

    data, _ = matrix_ntriples(m, name, report, links)
    return [(t.subject, t.predicate, t.object) for t in parse_rdf(data, RdfFormat.N_TRIPLES)]


def m_char_number(m: PhenexMatrix, char_id: str) -> int:
    """1-based position of a character in its matrix (cached on the matrix object)."""
    idx = m.__dict__.get("_char_index")
    if idx is None:
        idx = m.__dict__["_char_index"] = {c.id: c.number for c in m.characters}
    return idx[char_id]
