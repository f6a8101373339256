"""The RDF shape of a Phenex matrix (used by :mod:`loaders.phenex`; vocabulary in ontologies/traitkg.ttl).

::

  matrix  a tkg:CharacterMatrix ; dcterms:title ; dcterms:bibliographicCitation ; tkg:publication pub
  otu     a tkg:OTU ; rdfs:label (as written) ; tkg:inMatrix ; tkg:taxon taxon ; dwc:taxonID VTO ;
          tkg:specimen [ dwc:collectionID ; dwc:catalogNumber ]
  taxon   a tkg:Taxon ; rdfs:label (normalised) ; skos:exactMatch VTO
  char    a tkg:Character ; rdfs:label ; tkg:characterNumber n ; tkg:inMatrix
  state   a tkg:CharacterState ; rdfs:label ; tkg:symbol ; tkg:character ; tkg:describesPhenotype ph
  ph      a tkg:Phenotype ; tkg:entity E ; tkg:quality Q ; tkg:relatedEntity R ; tkg:count n
  cell    tkg:otu ; tkg:character ; tkg:state s1 [, s2 …] ; tkg:stateSetKind "polymorphic"|"uncertain"
  C (post-composed)  a owl:Class, tkg:PostComposedClass ; tkg:expression "X and BFO:0000050 some (Y)" ;
          rdfs:subClassOf X ; BFO:0000050 Y  (direct "S P O" triples, the closure contract's shape) ;
          owl:equivalentClass [ owl:intersectionOf ( X [ owl:onProperty BFO:0000050 ; owl:someValuesFrom Y ] ) ]
"""

from __future__ import annotations

import hashlib
import urllib.parse
from typing import TYPE_CHECKING

from kg.errors import UnknownPrefix
from kg.graphs import BASE, TKG
from kg.store import BlankNode, Literal, NamedNode, Store
from kg.taxa import normalise_name, taxon_iri
from ontologies.prefixes import OBO, PREFIXES, expand

if TYPE_CHECKING:  # pragma: no cover
    from loaders.phenex import Expr, PhenexMatrix
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


def ontology_classes(store: Store) -> set[str] | None:
    """IRIs declared (typed or labelled) in the store's ontology graphs; None when there are none."""
    from kg.graphs import list_graphs

    graphs = list_graphs(store, kind="ontology")
    if not graphs:
        return None
    from collections import Counter

    out: set[str] = set()
    for g in graphs:
        rows = store.select("SELECT DISTINCT ?c WHERE { GRAPH ?g { { ?c a <%sClass> } UNION { ?c <%slabel> ?l } } "
                            "FILTER(STRSTARTS(STR(?c), '%s')) }" % (OWL, RDFS, OBO), {"g": NamedNode(g.iri)})
        iris = [r[0].value for r in rows]
        # the graph's own namespace: the prefix its name spells (uberon -> UBERON), else its commonest
        counts = Counter(i[len(OBO):].split("_", 1)[0] for i in iris)
        own = [p for p in counts if p.lower() == g.name.lower()] or [p for p, _ in counts.most_common(1)]
        out.update(i for i in iris if i[len(OBO):].split("_", 1)[0] in own)
    return out


def _expr_triples(e: Expr, out: list, seen: set[str]) -> NamedNode:
    """Triples for a (possibly nested) post-composed class; returns its node. Iterative."""
    order: list[Expr] = []
    stack = [e]
    while stack:
        x = stack.pop()
        order.append(x)
        stack.extend(f for _, f in x.differentia)
    for x in reversed(order):  # fillers before the classes that use them
        iri = class_iri(x)
        if not x.differentia or iri in seen:
            continue
        seen.add(iri)
        c, genus = N(iri), N(expand(x.genus))
        out += [(c, N(RDF + "type"), N(OWL + "Class")), (c, N(RDF + "type"), N(TKG + "PostComposedClass")),
                (c, N(TKG + "expression"), Literal(x.text)), (c, N(RDFS + "subClassOf"), genus)]
        eq, items = BlankNode(), [genus]
        for rel, filler in x.differentia:
            r, f = N(relation_iri(rel)), N(class_iri(filler))
            out.append((c, r, f))
            b = BlankNode()
            out += [(b, N(RDF + "type"), N(OWL + "Restriction")), (b, N(OWL + "onProperty"), r),
                    (b, N(OWL + "someValuesFrom"), f)]
            if rel != r.value:  # how the file wrote the relation; its label is the ontology's to give
                out.append((r, N(SKOS + "notation"), Literal(rel)))
            items.append(b)
        out += [(c, N(OWL + "equivalentClass"), eq), (eq, N(RDF + "type"), N(OWL + "Class"))]
        head = BlankNode()
        out.append((eq, N(OWL + "intersectionOf"), head))
        for i, item in enumerate(items):
            nxt = N(RDF + "nil") if i == len(items) - 1 else BlankNode()
            out += [(head, N(RDF + "first"), item), (head, N(RDF + "rest"), nxt)]
            head = nxt  # type: ignore[assignment]
    return N(class_iri(e))


def phenotype_key(entity: Expr, quality: Expr | None, related: Expr | None, count: int | None) -> str:
    return "|".join([entity.text, quality.text if quality else "", related.text if related else "",
                     "" if count is None else str(count)])


def matrix_triples(m: PhenexMatrix, name: str, report: LoadReport | None = None) -> list[tuple]:
    """All triples for one parsed matrix, as (s, p, o) tuples of terms."""
    t: list[tuple] = []
    a, label = N(RDF + "type"), N(RDFS + "label")
    mx = N(matrix_iri(name))
    in_m = N(TKG + "inMatrix")
    t += [(mx, a, N(TKG + "CharacterMatrix")), (mx, N(DCT + "title"), Literal(m.title))]
    if m.citation:
        t.append((mx, N(DCT + "bibliographicCitation"), Literal(m.citation)))
    if m.creator:
        t.append((mx, N(DCT + "creator"), Literal(m.creator)))
    if m.references:
        t.append((mx, N(DCT + "references"), Literal(m.references)))
    doi = m.doi
    if doi and "10." in doi:
        pub = N("https://doi.org/" + urllib.parse.quote(doi[doi.index("10."):].strip(), safe="/._-;()"))
    else:
        pub = N(BASE + "publication/" + urllib.parse.quote(name, safe="_-."))
    t += [(mx, N(TKG + "publication"), pub), (pub, a, N(TKG + "Publication")),
          (pub, label, Literal(m.citation or m.title))]
    if doi:
        t.append((pub, N(DCT + "identifier"), Literal(doi)))

    otu_node: dict[str, NamedNode] = {}
    taxa = 0
    for o in m.otus:
        n = N(f"{mx.value}/otu/{urllib.parse.quote(o.id, safe='_-.')}")
        otu_node[o.id] = n
        t += [(n, a, N(TKG + "OTU")), (n, label, Literal(o.label)), (n, in_m, mx)]
        name_ = normalise_name(o.label)
        if name_:
            tx = N(taxon_iri(name_))
            t += [(n, N(TKG + "taxon"), tx), (tx, a, N(TKG + "Taxon")), (tx, label, Literal(name_))]
            taxa += 1
            if o.vto:
                t.append((tx, N(SKOS + "exactMatch"), N(o.vto)))
        elif report is not None:
            report.warn("OTU without a label is not linked to a taxon", line=o.line, value=o.id)
        if o.vto:
            t.append((n, N(DWC + "taxonID"), N(o.vto)))
        for coll, cat in o.specimens:
            sp = BlankNode()
            t += [(n, N(TKG + "specimen"), sp), (sp, a, N(TKG + "Specimen"))]
            if coll:
                t.append((sp, N(DWC + "collectionID"), N(coll) if ":" in coll else Literal(coll)))
            if cat:
                t.append((sp, N(DWC + "catalogNumber"), Literal(cat)))

    seen_cls: set[str] = set()
    seen_ph: set[str] = set()
    state_node: dict[str, NamedNode] = {}
    char_node: dict[str, NamedNode] = {}
    xsd_int = N(XSD + "integer")
    for c in m.characters:
        cn = N(f"{mx.value}/character/{c.number}")
        char_node[c.id] = cn
        t += [(cn, a, N(TKG + "Character")), (cn, label, Literal(c.label)), (cn, in_m, mx),
              (cn, N(TKG + "characterNumber"), Literal(str(c.number), datatype=xsd_int))]
        for s in c.states:
            sn = N(f"{mx.value}/state/{urllib.parse.quote(s.id, safe='_-.')}")
            state_node[s.id] = sn
            t += [(sn, a, N(TKG + "CharacterState")), (sn, label, Literal(s.label)),
                  (sn, N(TKG + "symbol"), Literal(s.symbol)), (sn, N(TKG + "character"), cn)]
            for ph in s.phenotypes:
                key = phenotype_key(ph.entity, ph.quality, ph.related, ph.count)
                pn = N(phenotype_iri(key))
                t.append((sn, N(TKG + "describesPhenotype"), pn))
                if key in seen_ph:
                    continue
                seen_ph.add(key)
                t += [(pn, a, N(TKG + "Phenotype")), (pn, N(TKG + "entity"), _expr_triples(ph.entity, t, seen_cls))]
                if ph.quality is not None:
                    t.append((pn, N(TKG + "quality"), _expr_triples(ph.quality, t, seen_cls)))
                if ph.related is not None:
                    t.append((pn, N(TKG + "relatedEntity"), _expr_triples(ph.related, t, seen_cls)))
                if ph.count is not None:
                    t.append((pn, N(TKG + "count"), Literal(str(ph.count), datatype=xsd_int)))
    st, kind_p = N(TKG + "state"), N(TKG + "stateSetKind")
    otu_p, char_p = N(TKG + "otu"), N(TKG + "character")
    for cell in m.cells:
        cid = m_char_number(m, cell.character)
        node = N(f"{otu_node[cell.otu].value}/cell/{cid}")
        t += [(node, otu_p, otu_node[cell.otu]), (node, char_p, char_node[cell.character])]
        t += [(node, st, state_node[s]) for s in cell.states]
        if cell.kind != "single":
            t.append((node, kind_p, Literal(cell.kind)))
    if report is not None:
        report.counts["taxa_linked"] = taxa
    return t


def ntriples(triples: list[tuple]) -> bytes:
    """Triples as N-Triples bytes for the store's bulk loader (pyoxigraph writes each term)."""
    return "".join(f"{s} {p} {o} .\n" for s, p, o in triples).encode()


def m_char_number(m: PhenexMatrix, char_id: str) -> int:
    """1-based position of a character in its matrix (cached on the matrix object)."""
    idx = m.__dict__.get("_char_index")
    if idx is None:
        idx = m.__dict__["_char_index"] = {c.id: c.number for c in m.characters}
    return idx[char_id]
