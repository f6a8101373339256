"""The RDF shape of identification keys (used by :mod:`loaders.keybase` and :mod:`loaders.sdd`;
vocabulary in ontologies/traitkg.ttl). One graph per loaded file (a KeyBase project export holds
all of its keys in one graph: the keys of a project release are loaded, versioned and dropped together).

::

  project a tkg:KeyProject ; rdfs:label                           <BASE>key/<project>
  key     a tkg:IdentificationKey ; rdfs:label title ; tkg:inProject project ; tkg:keyId "1903" ;
          tkg:firstCouplet couplet ; tkg:keyScope item ; dcterms:source "file[#member]" ;
          dcterms:description "..." ; foaf:depiction media
  couplet a tkg:Couplet ; tkg:inKey key ; tkg:coupletNumber "3" ; tkg:question "..."   <key>/couplet/<n>
  lead    a tkg:Lead ; tkg:inCouplet couplet ; tkg:leadId "3a" ; tkg:leadOrder 0 ; tkg:statement "..." ;
          tkg:leadsTo couplet | tkg:keysOut item | tkg:subKey key2 ; tkg:shortcut item ;
          tkg:toText "as written" ; tkg:sourceLine n ; tkg:isReticulation true ; foaf:depiction media
  item    a tkg:KeyItem ; rdfs:label name ; rdfs:seeAlso url      <BASE>key/<project>/item/<name>
  media   a tkg:KeyMedia ; rdfs:label ; dcterms:source "href" ; dcterms:type "Image"
                                                                  <BASE>key/<project>/media/<id>

A lead hands over to another key with ``tkg:subKey`` (SDD's ``<Subkey>``; with ``tkg:leadsTo`` a
couplet of that key when a reticulation points into it); a KeyBase lead whose item (or its
shortcut) is the scope of another key of the project gets ``tkg:subKey`` too, beside its
``tkg:keysOut``. ``tkg:isReticulation`` marks a ``tkg:leadsTo`` the key's author declared as a
reticulation (SDD's ``<Reticulation>``), not a branch of the key's tree.
Leads going nowhere (dead ends) keep only ``tkg:toText``; items are linked to taxon nodes later,
by :mod:`kg.keys.link` (name resolution belongs to the domain layer, not to the loader).
"""

from __future__ import annotations

from collections.abc import Iterable

from kg.core.graphs import TKG
from kg.core.store import Literal, NamedNode
from loaders.keymodel import Key, iri_segment, item_iri, key_iri, project_iri

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
DCT = "http://purl.org/dc/terms/"
XSD_INT = "http://www.w3.org/2001/XMLSchema#integer"
XSD_BOOL = "http://www.w3.org/2001/XMLSchema#boolean"
FOAF_DEPICTION = "http://xmlns.com/foaf/0.1/depiction"


def media_iri(project: str, media_id: str) -> str:
    return f"{project_iri(project)}/media/{iri_segment(media_id)}"

class _Lines:
    """N-Triples text: IRIs written once each, literals escaped by the store's Literal."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._iri: dict[str, str] = {}

    def iri(self, iri: str) -> str:
        x = self._iri.get(iri)
        if x is None:
            x = self._iri[iri] = str(NamedNode(iri))
        return x

    @staticmethod
    def lit(value: object, datatype: str | None = None) -> str:
        return str(Literal(str(value), datatype=NamedNode(datatype)) if datatype else Literal(str(value)))

    def add(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"{s} {p} {o} .\n")


def keys_ntriples(project: str, project_label: str, keys: Iterable[Key]) -> tuple[bytes, int]:
    """Every key of a project as N-Triples, and the number of distinct triples."""
    keys = list(keys)
    out = _Lines()
    i_, lit, add = out.iri, out.lit, out.add

    def t(local: str) -> str:
        return i_(TKG + local)

    a, label = i_(RDF_TYPE), i_(RDFS + "label")
    proj = i_(project_iri(project))
    add(proj, a, t("KeyProject"))
    add(proj, label, lit(project_label or project))
    scopes: dict[str, list[str]] = {}
    for k in keys:
        if k.scope:
            scopes.setdefault(k.scope, []).append(key_iri(project, k.id))
    items_done: set[str] = set()
    media_done: set[str] = set()

    def media(node: str, objects: list[dict[str, str]]) -> None:
        for m in objects:
            mn = i_(media_iri(project, m["id"]))
            add(node, i_(FOAF_DEPICTION), mn)
            if m["id"] in media_done:
                continue
            media_done.add(m["id"])
            add(mn, a, t("KeyMedia"))
            for pred, value in ((RDFS + "label", m.get("label")), (DCT + "source", m.get("href")),
                                (DCT + "type", m.get("type"))):
                if value:
                    add(mn, i_(pred), lit(value))

    def item(name: str, extra: dict[str, str] | None = None) -> str:
        node = i_(item_iri(project, name))
        if name not in items_done:
            items_done.add(name)
            add(node, a, t("KeyItem"))
            add(node, label, lit(name))
            if extra and extra.get("url"):
                add(node, i_(RDFS + "seeAlso"), lit(extra["url"]))
        return node

    for k in keys:
        kiri = key_iri(project, k.id)
        kn = i_(kiri)
        add(kn, a, t("IdentificationKey"))
        add(kn, label, lit(k.title or k.id))
        add(kn, t("inProject"), proj)
        add(kn, t("keyId"), lit(k.id))
        if k.source:
            add(kn, i_(DCT + "source"), lit(k.source))
        if k.scope:
            add(kn, t("keyScope"), item(k.scope, k.items.get(k.scope)))
        for field_, value in sorted(k.metadata.items()):
            if value:
                add(kn, i_(DCT + field_), lit(value))
        media(kn, k.media)
        couplets = k.couplets()
        cn = {c: i_(f"{kiri}/couplet/{iri_segment(c)}") for c in couplets}
        if k.first:
            add(kn, t("firstCouplet"), cn[k.first])
        for c, node in cn.items():
            add(node, a, t("Couplet"))
            add(node, t("inKey"), kn)
            add(node, t("coupletNumber"), lit(c))
            if k.questions.get(c):
                add(node, t("question"), lit(k.questions[c]))
        for c, leads in couplets.items():
            for order, lead in enumerate(leads):
                ln = i_(f"{kiri}/lead/{iri_segment(lead.id)}")
                add(ln, a, t("Lead"))
                add(ln, t("inCouplet"), cn[c])
                add(ln, t("leadId"), lit(lead.id))
                add(ln, t("leadOrder"), lit(order, XSD_INT))
                add(ln, t("statement"), lit(lead.statement))
                add(ln, t("toText"), lit(lead.to))
                if lead.line is not None:
                    add(ln, t("sourceLine"), lit(lead.line, XSD_INT))
                if lead.to_couplet and lead.to_couplet in cn:
                    add(ln, t("leadsTo"), cn[lead.to_couplet])
                if lead.subkey:
                    sub = key_iri(project, lead.subkey)
                    add(ln, t("subKey"), i_(sub))
                    if lead.subkey_couplet:
                        add(ln, t("leadsTo"), i_(f"{sub}/couplet/{iri_segment(lead.subkey_couplet)}"))
                if lead.reticulation:
                    add(ln, t("isReticulation"), lit("true", XSD_BOOL))
                media(ln, lead.media)
                if lead.item:
                    add(ln, t("keysOut"), item(lead.item, k.items.get(lead.item)))
                for s in lead.shortcut:
                    add(ln, t("shortcut"), item(s, k.items.get(s)))
                for name in ([lead.item] if lead.item else []) + lead.shortcut:
                    for sub in scopes.get(name, ()):
                        if sub != kiri:
                            add(ln, t("subKey"), i_(sub))
    lines = list(dict.fromkeys(out.lines))
    return "".join(lines).encode(), len(lines)
