"""TDWG SDD 1.1 (Structured Descriptive Data) XML: taxon names, categorical characters and their
states, coded descriptions (a taxa x characters matrix) and single-access identification keys.

``parse(path)`` is pure (lxml; malformed XML raises ``ParseError`` with the line) and returns an
:class:`SddDataset`; ``load(...)`` writes one graph of kind ``key``: the keys in the shape of
:mod:`loaders._key_rdf` plus the characters, states and coded descriptions. SDD leads form a tree
through ``<Parent ref>``; the leads under one parent become one couplet, numbered 1, 2, ... from
the root in order of appearance, so SDD keys are walked and validated like KeyBase keys.
Labels: English (or untagged) first, other languages as a fallback.

>>> import gzip, tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "k.xml"
>>> _ = p.write_text('<Datasets xmlns="http://rs.tdwg.org/UBIF/2006/"><Dataset><TaxonNames>'
...   '<TaxonName id="t1"><Representation><Label>A a</Label></Representation></TaxonName>'
...   '<TaxonName id="t2"><Representation><Label>B b</Label></Representation></TaxonName></TaxonNames>'
...   '<IdentificationKeys><IdentificationKey id="k"><Leads>'
...   '<Lead><Statement>red</Statement><TaxonName ref="t1"/></Lead>'
...   '<Lead><Statement>blue</Statement><TaxonName ref="t2"/></Lead>'
...   '</Leads></IdentificationKey></IdentificationKeys></Dataset></Datasets>')
>>> [(x.id, x.statement, x.item) for x in parse(p).keys[0].leads]
[('1a', 'red', 'A a'), ('1b', 'blue', 'B b')]
>>> tmp.cleanup()
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.core.errors import ParseError
from kg.core.graphs import TKG, slug
from kg.core.sources import Source
from kg.core.store import Literal, NamedNode, RdfFormat, Store
from loaders._base import Progress, ingest
from loaders._key_rdf import keys_ntriples
from loaders.keybase import report_problems
from loaders.keymodel import Key, Lead, item_iri, lead_letter, project_iri
from loaders.report import LoadReport

KIND = "key"
FORMATS = ("sdd",)
EXTENSIONS = ("sdd", "sdd11")

NS = "{http://rs.tdwg.org/UBIF/2006/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TAXON_LANG = "zxx-x-taxon"


@dataclass
class SddCharacter:
    id: str
    label: str
    states: dict[str, str] = field(default_factory=dict)  # state id -> label
    line: int | None = None


@dataclass
class SddDataset:
    """What one SDD file says (the first dataset's taxa, characters, descriptions and keys)."""

    source: str
    title: str = ""
    taxa: dict[str, str] = field(default_factory=dict)  # taxon name id -> scientific name
    characters: dict[str, SddCharacter] = field(default_factory=dict)
    descriptions: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # taxon -> char id -> states
    keys: list[Key] = field(default_factory=list)
    warnings: list[tuple[str, int | None, str | None]] = field(default_factory=list)

    def matrix(self) -> tuple[list[str], dict[str, str], dict[str, dict[str, set[str]]]]:
        """(taxa, character id -> label, taxon -> character label -> state labels) for key generation."""
        labels = {cid: c.label or cid for cid, c in self.characters.items()}
        cells: dict[str, dict[str, set[str]]] = {}
        for taxon, chars in self.descriptions.items():
            row = cells.setdefault(taxon, {})
            for cid, states in chars.items():
                ch = self.characters.get(cid)
                if ch is not None:
                    row.setdefault(labels[cid], set()).update(ch.states.get(s, s) for s in states)
        return list(self.descriptions), labels, cells


def _text(el: Any, tag: str) -> str:
    """The English (or untagged) text of ``tag`` children, else the first one."""
    return _text_of(el.findall(NS + tag))


def _label(el: Any) -> str:
    rep = el.find(NS + "Representation")
    return _text(rep, "Label") if rep is not None else ""


def _taxon_name(el: Any) -> str:
    rep = el.find(NS + "Representation")
    if rep is not None:
        for lab in rep.findall(NS + "Label"):
            if lab.get(XML_LANG) == _TAXON_LANG and (lab.text or "").strip():
                return " ".join(lab.text.split())
    simple = el.find(f"{NS}CanonicalName/{NS}Simple")
    if simple is not None and (simple.text or "").strip():
        return simple.text.strip()
    return _label(el) or el.get("id", "")


def _media(ds_el: Any) -> dict[str, dict[str, str]]:
    """The dataset's MediaObjects: id -> {id, href, label, type} (href from Source or EncodedData)."""
    out = {}
    for m in ds_el.iterfind(f"{NS}MediaObjects/{NS}MediaObject"):
        src = m.find(NS + "Source")
        if src is None:
            src = m.find(NS + "EncodedData")
        typ = m.find(NS + "Type")
        out[m.get("id")] = {"id": m.get("id"), "href": (src.get("href") or "") if src is not None else "",
                            "label": _label(m), "type": (typ.text or "").strip() if typ is not None else ""}
    return out


def _media_refs(el: Any, media: dict[str, dict[str, str]], where: str) -> list[dict[str, str]]:
    out = []
    for m in el.findall(NS + "MediaObject"):
        ref = m.get("ref")
        if ref not in media:
            raise ParseError(f"MediaObject ref {ref!r} names no MediaObject of the dataset", source=where,
                             line=m.sourceline, value=ref)
        out.append(dict(media[ref], role=m.get("role") or ""))
    return out


def _detail(rep: Any) -> str:
    """The description of a Representation: its Detail (role Description first), English first."""
    if rep is None:
        return ""
    details = rep.findall(NS + "Detail")
    for ok in (lambda d: (d.get("role") or "Description").lower() == "description", lambda d: True):
        text = _text_of([d for d in details if ok(d)])
        if text:
            return text
    return ""


def _text_of(found: list[Any]) -> str:
    for lang_ok in (lambda v: v in (None, "en") or (v or "").startswith("en-"), lambda v: True):
        for x in found:
            if lang_ok(x.get(XML_LANG)) and (x.text or "").strip():
                return " ".join(x.text.split())
    return ""


@dataclass
class _Node:
    """Where a lead id sits: its key, its couplet, the couplet below it (if any) and the lead."""

    key: Key
    couplet: str
    below: str | None
    lead: Lead


def _key(el: Any, taxa: dict[str, str], media: dict[str, dict[str, str]], where: str, index: int,
         nodes: dict[str, _Node], pending: list[tuple[Lead, Any, Key]]) -> Key:
    """One IdentificationKey: couplets numbered breadth-first from the root (document order);
    each lead's id is recorded in ``nodes`` and its Reticulation / Subkey left in ``pending``."""
    kid = el.get("id") or f"key{index}"
    leads_el = el.find(NS + "Leads")
    raw = list(leads_el.findall(NS + "Lead")) if leads_el is not None else []
    if not raw:
        raise ParseError(f"identification key {kid!r} has no leads", source=where, line=el.sourceline, value=kid)
    children: dict[str | None, list[Any]] = {}
    ids: set[str] = set()
    for x in raw:
        p = x.find(NS + "Parent")
        children.setdefault(p.get("ref") if p is not None else None, []).append(x)
        if x.get("id"):
            ids.add(x.get("id"))
    for parent, xs in children.items():
        if parent is not None and parent not in ids:
            raise ParseError(f"lead's Parent ref {parent!r} names no lead of key {kid!r}", source=where,
                             line=xs[0].sourceline, value=parent)
    # couplet numbers: breadth-first from the root, in document order
    number: dict[str | None, str] = {None: "1"}
    queue: list[str | None] = [None]
    while queue:
        parent = queue.pop(0)
        for x in children.get(parent, []):
            if x.get("id") is not None and x.get("id") in children and x.get("id") not in number:
                number[x.get("id")] = str(len(number) + 1)
                queue.append(x.get("id"))
    rep = el.find(NS + "Representation")
    key = Key(kid, title=_label(el) or kid, source=f"{where}#{kid}")
    if _detail(rep):
        key.metadata["description"] = _detail(rep)
    if rep is not None:
        key.media = _media_refs(rep, media, where)
    scope = el.find(f"{NS}Scope/{NS}TaxonName")
    if scope is not None and scope.get("ref") in taxa:
        key.scope = taxa[scope.get("ref")]
    question = el.find(NS + "Question")
    if question is not None and _text_of(question.findall(NS + "Text")):
        key.questions["1"] = _text_of(question.findall(NS + "Text"))
    orphan_no = len(number)
    for parent, xs in children.items():
        if parent not in number:  # under a lead that is not reached from the root (a cycle)
            orphan_no += 1
            number[parent] = str(orphan_no)
        for i, x in enumerate(xs):
            c = number[parent]
            lead = Lead(f"{c}{lead_letter(i)}", c, _text(x, "Statement"), "", line=x.sourceline,
                        source_id=x.get("id"), media=_media_refs(x, media, where))
            below = None
            if x.get("id") is not None and x.get("id") in children:
                below = number.get(x.get("id")) or ""
                lead.to_couplet = lead.to = below
            q = x.find(NS + "Question")
            if below and q is not None and _text_of(q.findall(NS + "Text")):
                key.questions[below] = _text_of(q.findall(NS + "Text"))
            tn = x.find(NS + "TaxonName")
            if tn is not None:
                ref = tn.get("ref")
                if ref not in taxa:
                    raise ParseError(f"lead names taxon {ref!r}, which is not among the TaxonNames",
                                     source=where, line=tn.sourceline, value=ref)
                lead.item = taxa[ref]
                lead.to = lead.to or taxa[ref]
            for tag in ("Subkey", "Reticulation"):
                t = x.find(NS + tag)
                if t is not None:
                    pending.append((lead, t, key))
            if x.get("id"):
                nodes[x.get("id")] = _Node(key, c, below, lead)
            key.leads.append(lead)
    key.leads.sort(key=lambda x: (int(x.couplet), x.id))
    return key


def _link(pending: list[tuple[Lead, Any, Key]], keys: dict[str, Key], nodes: dict[str, _Node], where: str) -> None:
    """Resolve Subkey and Reticulation refs once every key is read (ids are unique across keys).

    A reticulation goes to the couplet holding the lead it names; with ``leadspecific="true"`` it
    goes where that lead goes (the couplet below it, or its taxon). Into another key of the file it
    becomes a hand-over to that key at that couplet."""
    for lead, el, key in pending:
        ref = el.get("ref")
        if el.tag == NS + "Subkey":
            if ref not in keys:
                raise ParseError(f"lead's Subkey ref {ref!r} names no IdentificationKey of the dataset",
                                 source=where, line=el.sourceline, value=ref)
            lead.subkey, lead.to = ref, lead.to or ref
            continue
        node = nodes.get(ref)
        if node is None:
            raise ParseError(f"lead's Reticulation ref {ref!r} names no lead of any IdentificationKey",
                             source=where, line=el.sourceline, value=ref)
        lead.reticulation, lead.to = ref, lead.to or ref
        couplet: str | None = node.couplet
        if (el.get("leadspecific") or "").strip().lower() in ("true", "1"):
            couplet = node.below
            if couplet is None:  # a result node: go where it goes (its taxon, sub-key or own reticulation)
                target = node.lead
                lead.item, lead.shortcut = target.item, list(target.shortcut)
                if target.subkey:
                    lead.subkey, lead.subkey_couplet = target.subkey, target.subkey_couplet
                    continue
                if target.item:
                    continue
                couplet = target.to_couplet
        if couplet is None:
            continue  # nowhere: validation reports the dead end
        if node.key is key:
            lead.to_couplet = couplet
        else:
            lead.subkey, lead.subkey_couplet = node.key.id, couplet


def parse(path: str | Path | Source) -> SddDataset:
    """Parse an SDD 1.1 file (gzip allowed) into records; malformed XML raises ParseError with the line."""

    src = path if isinstance(path, Source) else Source.resolve(path)
    where = str(src.path)
    root = src.xml_root()
    if root.tag != NS + "Datasets":
        raise ParseError(f"not an SDD document: root element is {root.tag!r}, expected Datasets in "
                         f"namespace {NS[1:-1]}", source=where, line=root.sourceline, value=str(root.tag))
    ds_el = root.find(NS + "Dataset")
    if ds_el is None:
        raise ParseError("SDD document without a Dataset", source=where, line=root.sourceline)
    ds = SddDataset(source=where, title=_label(ds_el) or src.stem)
    for t in ds_el.iterfind(f"{NS}TaxonNames/{NS}TaxonName"):
        ds.taxa[t.get("id")] = _taxon_name(t)
    for c in ds_el.iterfind(f"{NS}Characters/{NS}CategoricalCharacter"):
        ch = SddCharacter(c.get("id"), _label(c), line=c.sourceline)
        for s in c.iterfind(f"{NS}States/{NS}StateDefinition"):
            ch.states[s.get("id")] = _label(s) or s.get("id")
        ds.characters[ch.id] = ch
    for d in ds_el.iterfind(f"{NS}CodedDescriptions/{NS}CodedDescription"):
        scope = d.find(f"{NS}Scope/{NS}TaxonName")
        if scope is None or scope.get("ref") not in ds.taxa:
            ds.warnings.append(("coded description without a known taxon; left out", d.sourceline, d.get("id")))
            continue
        row = ds.descriptions.setdefault(ds.taxa[scope.get("ref")], {})
        for cat in d.iterfind(f"{NS}SummaryData/{NS}Categorical"):
            cid = cat.get("ref")
            if cid not in ds.characters:
                raise ParseError(f"coded description refers to character {cid!r}, which is not defined",
                                 source=where, line=cat.sourceline, value=cid)
            for st in cat.iterfind(NS + "State"):
                if st.get("ref") not in ds.characters[cid].states:
                    raise ParseError(f"state {st.get('ref')!r} is not a state of character {cid!r}",
                                     source=where, line=st.sourceline, value=st.get("ref"))
                row.setdefault(cid, []).append(st.get("ref"))
    media = _media(ds_el)
    nodes: dict[str, _Node] = {}
    pending: list[tuple[Lead, Any, Key]] = []
    for i, k in enumerate(ds_el.iterfind(f"{NS}IdentificationKeys/{NS}IdentificationKey"), start=1):
        ds.keys.append(_key(k, ds.taxa, media, where, i, nodes, pending))
    _link(pending, {k.id: k for k in ds.keys}, nodes, where)
    return ds


def _matrix_ntriples(ds: SddDataset, project: str) -> tuple[bytes, int]:
    """Characters, states and coded descriptions (item tkg:codedState state)."""
    def n(iri: str) -> str:
        return str(NamedNode(iri))

    base = project_iri(project)
    a, label = n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), n("http://www.w3.org/2000/01/rdf-schema#label")
    mx = n(f"{base}/matrix")
    lines = [f"{mx} {a} {n(TKG + 'CharacterMatrix')} .", f"{mx} {label} {Literal(ds.title)} ."]
    for cid, ch in ds.characters.items():
        c = n(f"{base}/character/{urllib.parse.quote(cid, safe='')}")
        lines += [f"{c} {a} {n(TKG + 'Character')} .", f"{c} {label} {Literal(ch.label or cid)} .",
                  f"{c} {n(TKG + 'inMatrix')} {mx} ."]
        for sid, slabel in ch.states.items():
            s = n(f"{base}/character/{urllib.parse.quote(cid, safe='')}/state/{urllib.parse.quote(sid, safe='')}")
            lines += [f"{s} {a} {n(TKG + 'CharacterState')} .", f"{s} {label} {Literal(slabel)} .",
                      f"{s} {n(TKG + 'character')} {c} ."]
    for taxon, chars in ds.descriptions.items():
        it = n(item_iri(project, taxon))
        lines += [f"{it} {a} {n(TKG + 'KeyItem')} .", f"{it} {label} {Literal(taxon)} ."]
        for cid, states in chars.items():
            for sid in states:
                s = n(f"{base}/character/{urllib.parse.quote(cid, safe='')}/state/{urllib.parse.quote(sid, safe='')}")
                lines.append(f"{it} {n(TKG + 'codedState')} {s} .")
    uniq = list(dict.fromkeys(lines))
    return ("\n".join(uniq) + "\n").encode(), len(uniq)


def load(store: Store, source: str | Path | Source, *, name: str | None = None, version: str | None = None,
         progress: Progress | None = None, **_: Any) -> LoadReport:
    """Load an SDD file into graph ``key/<name>/<version>`` (keys, characters, coded descriptions)."""
    src = source if isinstance(source, Source) else Source.resolve(source)
    ds = parse(src)
    project = name or slug(src.stem.split(".")[0]).lower()
    rep = LoadReport(source=src.origin, kind=KIND)
    for msg, line, val in ds.warnings:
        rep.warn(msg, line=line, value=val)
    totals = report_problems(rep, ds.keys)
    rep.counts.update({"keys": len(ds.keys), "leads": sum(len(k.leads) for k in ds.keys), "taxa": len(ds.taxa),
                       "characters": len(ds.characters), "descriptions": len(ds.descriptions)})
    rep.counts.update({f"problems_{c}": v for c, v in totals.items()})
    kdata, kn = keys_ntriples(project, ds.title, ds.keys)
    mdata, mn = _matrix_ntriples(ds, project)

    def writer(graph: str) -> int:
        store.load_file(kdata + mdata, RdfFormat.N_TRIPLES, graph)
        return store.count(graph)

    out = ingest(store, src, kind=KIND, name=project, version=version, loader="sdd", writer=writer,
                 report=rep, counted=True)
    if progress:
        progress(src.size, src.size)
    return out
