"""Traits of taxa: presence/absence inference with evidence, trait queries, conflicts.

Phenoscape's semantics: a phenotype of an entity implies the entity is present (``absent``
implies it is absent); presence of a part or subtype implies presence of the whole or
supertype (closure ancestors); absence of a whole or supertype implies absence of its parts
and subtypes (over the entities the corpus uses). Polymorphic cells contribute all their
states; uncertain cells only what every member state implies. Every call keeps its
evidence: asserted calls point at states (-> character -> matrix -> publication); inferred
calls at the asserted calls they follow from. :meth:`Traits.infer` writes the calls into a
derived graph of kind ``inference`` with ``prov:wasDerivedFrom`` the phenotype and closure graphs.

>>> from kg import KnowledgeGraph
>>> t = KnowledgeGraph.open("oxigraph:").traits
>>> t.calls() == {}
True
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kg.errors import NotFound, ValidationError
from kg.graphs import BASE, TKG, derived_sha, load_graph
from kg.phenoindex import PhenotypeIndex
from kg.store import Literal, NamedNode, Quad, RdfFormat, Store
from kg.taxa import normalise_name, taxon_iri

PRESENT, ABSENT = "present", "absent"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_BOOL = "http://www.w3.org/2001/XMLSchema#boolean"


@dataclass
class Call:
    """Presence or absence of one entity in one taxon, with its tier and evidence."""

    taxon: str
    entity: str
    value: str                                     # present | absent
    tier: str = "inferred"                         # asserted | inferred
    states: set[str] = field(default_factory=set)  # asserted evidence: state IRIs
    sources: set[str] = field(default_factory=set)  # inferred from asserted calls on these entities
    polymorphic: bool = False
    _iri: str | None = field(default=None, repr=False, compare=False)

    @property
    def iri(self) -> str:
        if self._iri is None:
            self._iri = BASE + "pa/" + hashlib.sha1(f"{self.taxon}|{self.entity}|{self.value}".encode()).hexdigest()[:20]
        return self._iri


def _curie(iri: str) -> str:
    from ontologies.prefixes import contract

    return contract(iri)


def _iri(term: str) -> str:
    from ontologies.prefixes import expand

    return expand(term)


class Traits:
    """Trait queries over one store (the facade's ``kg.traits``)."""

    def __init__(self, store: Store, cache: dict[str, Any] | None = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}

    # ------------------------------------------------------------------ index and inference
    @property
    def index(self) -> PhenotypeIndex:
        if "phenoindex" not in self._cache:
            self._cache["phenoindex"] = PhenotypeIndex.build(self.store)
        return self._cache["phenoindex"]

    def calls(self) -> dict[tuple[str, str, str], Call]:
        """Every asserted and inferred call, keyed by (taxon, entity, value)."""
        if "calls" not in self._cache:
            self._cache["calls"] = compute_calls(self.index)
        return self._cache["calls"]

    def infer(self, *, name: str = "presence-absence") -> Any:
        """Write the calls into a derived graph (kind ``inference``); a no-op when inputs are unchanged."""
        idx = self.index
        if not idx.phenotype_graphs:
            raise ValidationError("no phenotype graphs loaded: run `traitkg load phenotypes PATH...` first")
        inputs = idx.phenotype_graphs + idx.closure_graphs
        calls = self.calls()

        def writer(graph: str) -> None:
            # the store's bulk path: N-Triples bytes, not one Python Quad per triple
            self.store.load_file(io.BytesIO(call_ntriples(calls, self.conflicts_keys())), RdfFormat.N_TRIPLES, graph)

        return load_graph(self.store, kind="inference", name=name, writer=writer, source="derived",
                          sha256=derived_sha(inputs, {"rules": "phenoscape-presence-absence/1"}), byte_size=0,
                          loader="traits", loader_version="1",
                          parameters={"rules": "phenoscape-presence-absence/1"},
                          derived_from=[g.iri for g in inputs])

    def conflicts_keys(self) -> set[tuple[str, str]]:
        c = self.calls()
        return {(t, e) for (t, e, v) in c if v == PRESENT and (t, e, ABSENT) in c
                and not (c[(t, e, PRESENT)].polymorphic and c[(t, e, ABSENT)].polymorphic)}

    # ------------------------------------------------------------------ lookups
    def taxon(self, name_or_iri: str) -> str:
        """The taxon IRI for a name, CURIE or IRI known to the phenotype graphs."""
        idx = self.index
        cand = name_or_iri if name_or_iri.startswith("http") else (
            _iri(name_or_iri) if name_or_iri.startswith("taxon:") else taxon_iri(normalise_name(name_or_iri)))
        if cand in idx.taxa:
            return cand
        import difflib

        near = difflib.get_close_matches(normalise_name(name_or_iri), list(idx.taxa.values()), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise NotFound(f"no taxon {name_or_iri!r} with phenotypes{hint}")

    def label(self, iri: str) -> str:
        lab = self._cache.get("labels")
        if lab is None:
            lab = self._cache["labels"] = _labels(self.store, self.index)
        return lab.get(iri) or _curie(iri)

    def evidence(self, call: Call) -> list[dict[str, Any]]:
        """The states, characters, matrices and publications behind a call."""
        calls = self.calls()
        states = set(call.states)
        for src in call.sources:
            states |= calls[(call.taxon, src, call.value)].states
        info = _state_info(self.store, self._cache, states)
        return sorted((info[s] for s in states if s in info), key=lambda d: (d["matrix"], d["character_number"]))

    # ------------------------------------------------------------------ queries
    def traits_of(self, taxon: str, *, evidence: bool = True) -> list[dict[str, Any]]:
        """Every presence/absence call for a taxon (asserted and inferred), plus its asserted phenotypes."""
        tx = self.taxon(taxon)
        out = []
        for c in self._by_taxon().get(tx, ()):
            d = self._call_dict(c, evidence)
            d["kind"] = "presence" if c.value == PRESENT else "absence"
            out.append(d)
        idx = self.index
        seen = set()
        for cell in idx.cells:
            if cell.taxon != tx:
                continue
            for s in cell.states:
                for p in idx.state_phenotypes.get(s, ()):
                    if (p, s) in seen:
                        continue
                    seen.add((p, s))
                    ph = idx.phenotypes[p]
                    d = {"kind": "phenotype", "tier": "asserted", "phenotype": p, "entity": _curie(ph.entity),
                         "entity_label": self.label(ph.entity), "quality": _curie(ph.quality) if ph.quality else None,
                         "quality_label": self.label(ph.quality) if ph.quality else None,
                         "related_entity": _curie(ph.related) if ph.related else None, "state_set": cell.kind}
                    if evidence:
                        d["evidence"] = [_state_info(self.store, self._cache, {s})[s]]
                    out.append(d)
        out.sort(key=lambda d: (d["kind"], d["tier"], d.get("entity_label") or ""))
        return out

    def taxa_with(self, term: str, *, parts: bool = True, within: Iterable[str] | str | None = None,
                  value: str | None = None) -> list[dict[str, Any]]:
        """Taxa with a phenotype of ``term`` or of anything it subsumes (subclasses and, with ``parts``,
        parts). A PATO term matches phenotypes by quality. ``within`` restricts to a clade: a collection
        of taxon names/IRIs, a tree node (its tips), or a genus name. ``value='present'|'absent'`` asks presence/absence calls
        instead of phenotypes."""
        idx = self.index
        t = _iri(term)
        allowed = self._within(within)
        if value is not None:
            if value not in (PRESENT, ABSENT):
                raise ValidationError(f"value {value!r}: expected 'present' or 'absent'")
            rows = [c for (tx, e, v), c in self.calls().items() if e == t and v == value
                    and (allowed is None or tx in allowed)]
            return sorted(({"taxon": idx.taxa[c.taxon], "taxon_iri": c.taxon, "tier": c.tier,
                            "phenotypes": []} for c in rows), key=lambda d: d["taxon"])
        match = self._matching_phenotypes(t, parts)
        if not match:
            return []
        states = {s for s, ps in idx.state_phenotypes.items() if any(p in match for p in ps)}
        hits: dict[str, set[str]] = defaultdict(set)
        state_taxa = self._state_taxa()
        for s in states:
            ps = [p for p in idx.state_phenotypes[s] if p in match]
            for tx in state_taxa.get(s, ()):
                if allowed is None or tx in allowed:
                    hits[tx].update(ps)
        return sorted(({"taxon": idx.taxa[tx], "taxon_iri": tx, "tier": "asserted",
                        "phenotypes": sorted(ps)} for tx, ps in hits.items()), key=lambda d: d["taxon"])

    def _state_taxa(self) -> dict[str, list[str]]:
        """State IRI -> the taxa of the cells that score it (built once per store state)."""
        if "state_taxa" not in self._cache:
            by: dict[str, dict[str, None]] = defaultdict(dict)
            for cell in self.index.cells:
                for s in cell.states:
                    by[s][cell.taxon] = None
            self._cache["state_taxa"] = {s: list(t) for s, t in by.items()}
        return self._cache["state_taxa"]

    def _matching_phenotypes(self, t: str, parts: bool) -> set[str]:
        key = ("match", t, parts)
        if key in self._cache:
            return self._cache[key]
        idx = self.index
        out = set()
        for p, ph in idx.phenotypes.items():
            for term in (ph.entity, ph.quality):
                if term and (term == t or t in idx.ancestors(term, parts=parts and term == ph.entity)):
                    out.add(p)
                    break
        self._cache[key] = out
        return out

    def _within(self, within: Iterable[str] | str | None) -> set[str] | None:
        if within is None:
            return None
        idx = self.index
        if hasattr(within, "tips"):  # a kg.trees node: the tips below it
            within = within.tips()
        if isinstance(within, str):
            genus = normalise_name(within)
            members = {tx for tx, lab in idx.taxa.items() if lab == genus or lab.startswith(genus + " ")}
            if not members:
                raise NotFound(f"clade {within!r}: no taxon with phenotypes is in it (give a genus name, "
                               "or a list of taxa such as the tips below a tree node)")
            return members
        out = set()
        for x in within:
            out.add(x if x.startswith("http") else taxon_iri(normalise_name(x)))
        return out

    def conflicts(self) -> list[dict[str, Any]]:
        """Taxa inferred both present and absent for an entity, with both sides' evidence."""
        c = self.calls()
        out = []
        for t, e in sorted(self.conflicts_keys()):
            p, a = c[(t, e, PRESENT)], c[(t, e, ABSENT)]
            out.append({"taxon": self.index.taxa[t], "taxon_iri": t, "entity": _curie(e), "entity_label": self.label(e),
                        "present": self._call_dict(p, True), "absent": self._call_dict(a, True)})
        return out

    def _by_taxon(self) -> dict[str, list[Call]]:
        if "calls_by_taxon" not in self._cache:
            by: dict[str, list[Call]] = defaultdict(list)
            for c in self.calls().values():
                by[c.taxon].append(c)
            self._cache["calls_by_taxon"] = by
        return self._cache["calls_by_taxon"]

    def _call_dict(self, c: Call, evidence: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"entity": _curie(c.entity), "entity_label": self.label(c.entity), "value": c.value,
                             "tier": c.tier, "polymorphic": c.polymorphic}
        if c.sources:
            d["inferred_from"] = sorted(_curie(s) for s in c.sources)
        if evidence:
            d["evidence"] = self.evidence(c)
        return d

    def matrix(self, taxa: Iterable[str], entities: Iterable[str], **kw: Any) -> Any:
        """An OntoTrace-style presence/absence matrix (see :mod:`kg.ontotrace`)."""
        from kg.ontotrace import build_matrix

        return build_matrix(self, list(taxa), list(entities), **kw)


# ---------------------------------------------------------------------- inference

def compute_calls(idx: PhenotypeIndex) -> dict[tuple[str, str, str], Call]:
    """Asserted calls from the cells, then inferred ones along the closure."""
    impl = {p: idx.implications(ph) for p, ph in idx.phenotypes.items()}
    calls: dict[tuple[str, str, str], Call] = {}

    memo: dict[str, tuple[set[str], set[str]]] = {}

    def state_impl(s: str) -> tuple[set[str], set[str]]:
        hit = memo.get(s)
        if hit is not None:
            return hit
        pres: set[str] = set()
        absn: set[str] = set()
        for p in idx.state_phenotypes.get(s, ()):
            a, b = impl[p]
            pres |= a
            absn |= b
        memo[s] = (pres, absn)
        return pres, absn

    for cell in idx.cells:
        if len(cell.states) == 1:  # the common case: every implied entity is supported by the one state
            s0 = cell.states[0]
            for value, ents in zip((PRESENT, ABSENT), state_impl(s0)):
                for e in ents:
                    c = calls.get((cell.taxon, e, value))
                    if c is None:
                        c = calls[(cell.taxon, e, value)] = Call(cell.taxon, e, value, "asserted")
                    c.states.add(s0)
            continue
        per = [state_impl(s) for s in cell.states]
        if cell.kind == "uncertain":
            pres = set.intersection(*(x[0] for x in per)) if per else set()
            absn = set.intersection(*(x[1] for x in per)) if per else set()
        else:
            pres = set().union(*(x[0] for x in per))
            absn = set().union(*(x[1] for x in per))
        poly = cell.kind == "polymorphic"
        for value, ents in ((PRESENT, pres), (ABSENT, absn)):
            for e in ents:
                c = calls.get((cell.taxon, e, value))
                if c is None:
                    c = calls[(cell.taxon, e, value)] = Call(cell.taxon, e, value, "asserted")
                supporting = [s for s, x in zip(cell.states, per) if e in (x[0] if value == PRESENT else x[1])]
                c.states.update(supporting if cell.kind != "uncertain" else cell.states)
                c.polymorphic = c.polymorphic or (poly and len(supporting) < len(cell.states))
    asserted = list(calls.values())
    # descendants within the corpus for absence propagation
    desc: dict[str, set[str]] = defaultdict(set)
    for term, ancs in idx.anc.items():
        for a in ancs:
            desc[a].add(term)
    corpus = idx.corpus_terms()
    up: dict[str, tuple[str, ...]] = {}  # entity -> corpus ancestors (presence propagates up)
    down = {e: tuple(d) for e, d in desc.items()}  # entity -> descendants (absence propagates down)
    for c in asserted:
        # materialised over the corpus's own terms; other entities are answered on demand (kg.ontotrace)
        if c.value == PRESENT:
            targets = up.get(c.entity)
            if targets is None:
                targets = up[c.entity] = tuple(idx.ancestors(c.entity) & corpus)
        else:
            targets = down.get(c.entity, ())
        taxon, value, src = c.taxon, c.value, c.entity
        for e in targets:
            key = (taxon, e, value)
            d = calls.get(key)
            if d is None:
                d = calls[key] = Call(taxon, e, value, "inferred")
            if d.tier == "inferred":
                d.sources.add(src)
    return calls


def call_quads(calls: dict[tuple[str, str, str], Call], graph: str, conflicts: set[tuple[str, str]]) -> list[Quad]:
    """The inference graph: one node per call with taxon, entity, value, tier and evidence links."""
    g = NamedNode(graph)
    cache: dict[str, NamedNode] = {}

    def n(iri: str) -> NamedNode:
        x = cache.get(iri)
        if x is None:
            x = cache[iri] = NamedNode(iri)
        return x

    a, tax, ent, val, tier = n(RDF_TYPE), n(TKG + "taxon"), n(TKG + "entity"), n(TKG + "presence"), n(TKG + "tier")
    ev, frm, poly, conf = n(TKG + "evidence"), n(TKG + "inferredFrom"), n(TKG + "polymorphic"), n(TKG + "conflictsWith")
    typ = n(TKG + "PresenceAbsenceCall")
    vals = {PRESENT: n(TKG + "Present"), ABSENT: n(TKG + "Absent")}
    tiers = {"asserted": Literal("asserted"), "inferred": Literal("inferred")}
    true = Literal("true", datatype=NamedNode(XSD_BOOL))
    out: list[Quad] = []
    for c in calls.values():
        node = n(c.iri)
        out += [Quad(node, a, typ, g), Quad(node, tax, n(c.taxon), g), Quad(node, ent, n(c.entity), g),
                Quad(node, val, vals[c.value], g), Quad(node, tier, tiers[c.tier], g)]
        out += [Quad(node, ev, n(s), g) for s in c.states]
        out += [Quad(node, frm, n(calls[(c.taxon, s, c.value)].iri), g) for s in c.sources]
        if c.polymorphic:
            out.append(Quad(node, poly, true, g))
    for t, e in conflicts:
        p, q = n(calls[(t, e, PRESENT)].iri), n(calls[(t, e, ABSENT)].iri)
        out += [Quad(p, conf, q, g), Quad(q, conf, p, g)]
    return out


def call_ntriples(calls: dict[tuple[str, str, str], Call], conflicts: set[tuple[str, str]]) -> bytes:
    """The same triples as :func:`call_quads`, as N-Triples bytes for the store's bulk loader.

    Evidence stays compact: asserted calls link their states; an inferred call links the
    asserted calls it follows from (``tkg:inferredFrom``), never copies of their state links."""
    term: dict[str, str] = {}

    def n(iri: str) -> str:
        x = term.get(iri)
        if x is None:
            x = term[iri] = str(NamedNode(iri))  # pyoxigraph validates and writes the IRI
        return x

    a, tax, ent, val, tier = n(RDF_TYPE), n(TKG + "taxon"), n(TKG + "entity"), n(TKG + "presence"), n(TKG + "tier")
    ev, frm, poly, conf = n(TKG + "evidence"), n(TKG + "inferredFrom"), n(TKG + "polymorphic"), n(TKG + "conflictsWith")
    typ = n(TKG + "PresenceAbsenceCall")
    vals = {PRESENT: n(TKG + "Present"), ABSENT: n(TKG + "Absent")}
    tiers = {"asserted": str(Literal("asserted")), "inferred": str(Literal("inferred"))}
    true = str(Literal("true", datatype=NamedNode(XSD_BOOL)))
    base = str(NamedNode(BASE + "pa/"))[:-1]  # calls are BASE/pa/<hex>: safe to write without checks
    node_of = {key: f"{base}{c.iri[len(BASE) + 3:]}>" for key, c in calls.items()}
    out: list[str] = []
    add = out.append
    for key, c in calls.items():
        node = node_of[key]
        add(f"{node} {a} {typ} .\n{node} {tax} {n(c.taxon)} .\n{node} {ent} {n(c.entity)} .\n"
            f"{node} {val} {vals[c.value]} .\n{node} {tier} {tiers[c.tier]} .\n")
        for s in c.states:
            add(f"{node} {ev} {n(s)} .\n")
        for s in c.sources:
            add(f"{node} {frm} {node_of[(c.taxon, s, c.value)]} .\n")
        if c.polymorphic:
            add(f"{node} {poly} {true} .\n")
    for t, e in conflicts:
        p, q = node_of[(t, e, PRESENT)], node_of[(t, e, ABSENT)]
        add(f"{p} {conf} {q} .\n{q} {conf} {p} .\n")
    return "".join(out).encode()


# ---------------------------------------------------------------------- evidence details

_STATE_INFO = """
PREFIX tkg: <%s>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?s ?sl ?sym ?c ?cl ?n ?m ?mt ?pub ?cit WHERE { GRAPH ?g {
  ?s tkg:character ?c ; tkg:symbol ?sym . OPTIONAL { ?s rdfs:label ?sl }
  ?c tkg:characterNumber ?n ; tkg:inMatrix ?m . OPTIONAL { ?c rdfs:label ?cl }
  ?m dcterms:title ?mt ; tkg:publication ?pub . OPTIONAL { ?pub rdfs:label ?cit } } }""" % TKG


def _state_info(store: Store, cache: dict[str, Any], states: set[str]) -> dict[str, dict[str, Any]]:
    """State -> {state, label, symbol, character, character_number, matrix, publication, citation}."""
    if "state_info" not in cache:
        info = {}
        for s, sl, sym, c, cl, n, m, mt, pub, cit in store.select(_STATE_INFO).rows:
            info[s.value] = {"state": s.value, "state_label": sl.value if sl else "", "symbol": sym.value,
                             "character": c.value, "character_label": cl.value if cl else "",
                             "character_number": int(n.value), "matrix": m.value, "matrix_title": mt.value,
                             "publication": pub.value, "citation": cit.value if cit else ""}
        cache["state_info"] = info
    return cache["state_info"]


def _labels(store: Store, idx: PhenotypeIndex) -> dict[str, str]:
    out = dict(idx.labels)
    rows = store.select("SELECT ?s ?l WHERE { GRAPH ?g { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } "
                        "FILTER(STRSTARTS(STR(?s), 'http://purl.obolibrary.org/obo/')) }").rows
    for s, lab in rows:
        out.setdefault(s.value, lab.value)
    for c in idx.composed:
        if c not in out:
            out[c] = _composed_label(store, c, out)
    return out


def _composed_label(store: Store, c: str, labels: dict[str, str]) -> str:
    rows = store.quads(NamedNode(c), NamedNode(TKG + "expression"), None, None)
    text = next((q.object.value for q in rows), c)
    import re

    from ontologies.prefixes import expand

    def sub(m: re.Match) -> str:
        try:
            return labels.get(expand(m.group(0)), m.group(0))
        except Exception:
            return m.group(0)

    return re.sub(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_]+", sub, text)
