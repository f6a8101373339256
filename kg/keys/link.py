"""Keys linked to the rest of the graph, as hypotheses in a derived graph (kind ``keylinks``):

* lead statements -> anatomy and quality terms: the longest phrases of each clause (up to four
  words, a plural ``-s`` also tried) that equal a term label or synonym in the term index
  (:meth:`kg.terms.TermIndex.search`, exact matches only), scored 100 (label), 98 (exact synonym),
  95 (other synonyms), less 5 for a plural and 10 for a one-word phrase; stored as
  ``tkg:TermMatchHypothesis`` nodes (tier ``hypothesised``), never as facts about the lead;
* key items -> taxon nodes through name resolution (:mod:`kg.core.names`; only ``matched`` names link,
  ``tkg:itemTaxon``);
* contradictions: a lead that says an entity is absent (or present) on the path to an item whose
  taxon (or, for a higher taxon, any taxon within it) has the opposite presence/absence call
  (:mod:`kg.traits`). Only clauses that say so in words (absent, no, without / present) count.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.graphs import BASE, TKG, derived_sha, get_graph, load_graph
from kg.core.store import Literal, NamedNode, RdfFormat, Store
from kg.terms import normalise
from loaders.keymodel import Key, Lead, iri_segment, item_iri, key_iri

DEFAULT_PREFIXES = ("UBERON", "PATO", "ZFA", "BSPO")
ANATOMY = ("UBERON", "ZFA")
_CLAUSES = re.compile(r"[;,:()]|\band\b|\bor\b")
_PRESENT = {"present"}
_NEG_BEFORE = {"no", "without", "lacking", "not"}
_NEG_AFTER = {"absent", "lacking", "missing"}
_SKIP_ONE = {"the", "and", "with", "than", "for", "are", "its", "from", "into", "not", "no", "but", "both",
             "long", "short", "large", "small", "present", "absent", "very", "usually", "mostly"}


@dataclass
class TermMatch:
    """One hypothesis: a lead's phrase matches a term's label or synonym."""

    key: str
    lead: str
    term: str
    label: str | None
    matched: str
    field: str
    score: float
    clause: str
    says: str | None  # "present" / "absent" when the words next to the phrase say so, else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LinkResult:
    """What :func:`link_keys` found and wrote."""

    graph: str = ""
    status: str = ""
    term_matches: list[TermMatch] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # item -> name match (dict)
    contradictions: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"term_matches": len(self.term_matches), "leads_with_terms": len({(m.key, m.lead) for m in self.term_matches}),
                "items": len(self.items), "items_linked": sum(1 for m in self.items.values() if m["status"] == "matched"),
                "contradictions": len(self.contradictions)}


def match_statement(index: Any, statement: str, *, prefixes: tuple[str, ...] = DEFAULT_PREFIXES,
                    max_words: int = 4) -> list[tuple[str, str | None, str, str, float, str, str | None]]:
    """(term, label, matched phrase, field, score, clause, what the lead says of it) for one
    statement, best first. Greedy: at each word the longest phrase with an exact label/synonym
    match wins. The lead *says* ``absent`` when the word before the phrase is no/without/lacking or
    the word after it is absent/lacking, ``present`` when the word after it is present.

    >>> import tempfile, pathlib
    >>> from kg import KnowledgeGraph
    >>> tmp = tempfile.TemporaryDirectory()  # removed at the end
    >>> p = pathlib.Path(tmp.name) / "o.ttl"
    >>> _ = p.write_text('@prefix owl: <http://www.w3.org/2002/07/owl#> . '
    ...     '<http://purl.obolibrary.org/obo/UBERON_2000622> a owl:Class ; '
    ...     '<http://www.w3.org/2000/01/rdf-schema#label> "barbel" .')
    >>> g = KnowledgeGraph.open("oxigraph:")
    >>> _ = g.load_rdf(p, name="o", kind="ontology")
    >>> [(h[0], h[2], h[6]) for h in match_statement(g.terms, "No barbels; body naked")]
    [('UBERON:2000622', 'barbel', 'absent')]
    >>> tmp.cleanup()
    """
    out = []
    for clause in re.split(r"[;.]", statement):
        for part in _CLAUSES.split(clause):
            words = normalise(part).split()
            i = 0
            while i < len(words):
                hit = None
                for n in range(min(max_words, len(words) - i), 0, -1):
                    phrase = " ".join(words[i:i + n])
                    if n == 1 and (phrase in _SKIP_ONE or len(phrase) < 3):
                        continue
                    for text, penalty in ((phrase, 0.0), (phrase[:-1], 5.0) if phrase.endswith("s") else (None, 0.0)):
                        if not text:
                            continue
                        hits = [h for h in index.search(text, limit=5, fuzzy=False)
                                if h.match == "exact" and h.curie.split(":", 1)[0] in prefixes]
                        if hits:
                            h = hits[0]
                            before = words[i - 1] if i else ""
                            after = words[i + n] if i + n < len(words) else ""
                            says = ("absent" if before in _NEG_BEFORE or after in _NEG_AFTER
                                    else "present" if after in _PRESENT else None)
                            hit = (h.curie, h.label, text, h.field, h.score - penalty - (10.0 if n == 1 else 0.0),
                                   clause.strip(), says)
                            break
                    if hit:
                        i += n
                        break
                if hit:
                    out.append(hit)
                else:
                    i += 1
    return sorted(out, key=lambda h: -h[4])


def _path_leads(key: Key) -> dict[str, list[Lead]]:
    """Lead id -> the leads from the first couplet down to it (itself last); loops cut."""
    incoming: dict[str, Lead] = {}
    for lead in key.leads:
        if lead.to_couplet and lead.to_couplet not in incoming:
            incoming[lead.to_couplet] = lead
    out = {}
    for lead in key.leads:
        path, cur, seen = [lead], lead, {lead.id}
        while cur.couplet in incoming and cur.couplet != key.first:
            cur = incoming[cur.couplet]
            if cur.id in seen:
                break
            seen.add(cur.id)
            path.append(cur)
        out[lead.id] = path[::-1]
    return out


def find_contradictions(key: Key, matches: list[TermMatch], items: dict[str, dict[str, Any]],
                        traits: Any) -> list[dict[str, Any]]:
    """Leads whose stated presence/absence of an entity disagrees with a call for a taxon keyed out below."""
    by_lead: dict[str, list[TermMatch]] = {}
    for m in matches:
        if m.term.split(":", 1)[0] in ANATOMY:
            by_lead.setdefault(m.lead, []).append(m)
    if not by_lead:
        return []
    out = []
    paths = _path_leads(key)
    for lead in key.leads:
        nm = items.get(lead.item or "")
        if not nm or nm["status"] != "matched":
            continue
        for anc in paths[lead.id]:
            for m in by_lead.get(anc.id, []):
                said = m.says
                if said is None:
                    continue
                other = "present" if said == "absent" else "absent"
                try:
                    rows = traits.taxa_with(m.term, within=lead.item, value=other)
                except Exception:  # the item is not a clade the phenotype data knows: nothing to compare
                    continue
                if rows:
                    out.append({"key": key.id, "lead": anc.id, "statement": anc.statement, "entity": m.term,
                                "entity_label": m.label, "lead_says": said, "item": lead.item,
                                "taxa": [r["taxon"] for r in rows[:20]], "tier": sorted({r["tier"] for r in rows})})
    return out


def link_keys(store: Store, keys: list[tuple[str, str, Key]], *, terms: Any, resolver: Any, traits: Any,
              name: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> LinkResult:
    """Link ``keys`` (``(graph IRI, project, key)``) and write the hypotheses into
    ``keylinks/<name>/<version>`` (a no-op when the inputs are unchanged)."""
    res = LinkResult()
    for _g, project, key in keys:
        for lead in key.leads:
            for term, label, phrase, fld, score, clause, says in match_statement(terms, lead.statement,
                                                                                 prefixes=prefixes):
                res.term_matches.append(TermMatch(f"{project}/{key.id}", lead.id, term, label, phrase, fld,
                                                  round(score, 2), clause, says))
    names = sorted({n for _g, _p, k in keys for n in k.item_names()})
    for nm in (resolver.resolve(names, fuzzy=False) if names and len(resolver) else []):
        res.items[nm.name] = nm.to_dict()
    for _g, project, key in keys:
        mine = [m for m in res.term_matches if m.key == f"{project}/{key.id}"]
        res.contradictions += find_contradictions(key, mine, res.items, traits)
    data, n = _ntriples(keys, res)
    inputs = [get_graph(store, g) for g in dict.fromkeys(g for g, _p, _k in keys)]
    inputs += [get_graph(store, g) for g in getattr(terms, "graphs", [])]
    params = {"prefixes": list(prefixes), "method": "exact label/synonym phrases, v1"}

    def writer(graph: str) -> int:
        store.load_file(data, RdfFormat.N_TRIPLES, graph)
        return n

    rec = load_graph(store, kind="keylinks", name=name, writer=writer, source="derived",
                     sha256=derived_sha(inputs, params), byte_size=len(data), loader="kg.keys.link",
                     loader_version="1", parameters=params, derived_from=[g.iri for g in inputs], counted=True)
    res.graph, res.status = rec.iri, rec.status
    return res


def _ntriples(keys: list[tuple[str, str, Key]], res: LinkResult) -> tuple[bytes, int]:
    from ontologies.prefixes import expand

    lines: list[str] = []
    typ = str(NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"))

    def t(local: str) -> str:
        return str(NamedNode(TKG + local))

    for m in res.term_matches:
        project, kid = m.key.split("/", 1)
        lead = NamedNode(f"{key_iri(project, kid)}/lead/{iri_segment(m.lead)}")
        h = NamedNode(BASE + "hypothesis/keyterm/" + hashlib.sha1(f"{lead.value} {m.term}".encode()).hexdigest()[:20])
        lines += [f"{h} {typ} {t('TermMatchHypothesis')} .", f"{h} {t('aboutLead')} {lead} .",
                  f"{h} {t('candidateTerm')} {NamedNode(expand(m.term))} .",
                  f"{h} {t('matchedText')} {Literal(m.matched)} .", f"{h} {t('matchField')} {Literal(m.field)} .",
                  f"{h} {t('score')} {Literal(str(m.score), datatype=NamedNode('http://www.w3.org/2001/XMLSchema#decimal'))} .",
                  f"{h} {t('tier')} {Literal('hypothesised')} ."]
    for _g, project, key in keys:
        for name in key.item_names():
            nm = res.items.get(name)
            if nm and nm["status"] == "matched" and nm.get("taxon"):
                lines.append(f"{NamedNode(item_iri(project, name))} {t('itemTaxon')} {NamedNode(expand(nm['taxon']))} .")
    uniq = list(dict.fromkeys(lines))
    return ("\n".join(uniq) + "\n").encode(), len(uniq)
