"""Traits of taxa: presence/absence inference with evidence, trait queries, conflicts.

Phenoscape's semantics: a phenotype of an entity implies the entity is present (``absent``
implies it is absent); presence of a part or subtype implies presence of the whole or
supertype (closure ancestors); absence of a whole or supertype implies absence of its parts
and subtypes (over the entities the corpus uses). Polymorphic cells contribute all their
states; uncertain cells only what every member state implies. Every call keeps its
evidence: asserted calls point at states (-> character -> matrix -> publication); inferred
calls at the asserted calls they follow from. :meth:`Traits.infer` writes the calls into a
derived graph of kind ``inference`` with ``prov:wasDerivedFrom`` the phenotype and closure graphs;
calls of one entity and value with identical evidence share one node there, linked to each of
their taxa (see :func:`call_quads`).

>>> from kg import KnowledgeGraph
>>> t = KnowledgeGraph.open("oxigraph:").traits
>>> t.calls() == {}
True
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kg.bulk import gc_paused, load_chunks
from kg.errors import NotFound, ValidationError
from kg.graphs import BASE, TKG, derived_sha, load_graph
from kg.phenoindex import PhenotypeIndex
from kg.store import Literal, NamedNode, Quad, Store
from kg.taxa import normalise_name, taxon_iri

PRESENT, ABSENT = "present", "absent"
#: The inference rules and graph shape (2: calls with identical evidence share one node).
RULES = "phenoscape-presence-absence/2"
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
            idx = self.index
            with gc_paused():
                self._cache["calls"] = compute_calls(idx)
        return self._cache["calls"]

    def infer(self, *, name: str = "presence-absence") -> Any:
        """Write the calls into a derived graph (kind ``inference``); a no-op when inputs are unchanged."""
        idx = self.index
        if not idx.phenotype_graphs:
            raise ValidationError("no phenotype graphs loaded: run `traitkg load phenotypes PATH...` first")
        inputs = idx.phenotype_graphs + idx.closure_graphs
        calls = self.calls()

        params = {"rules": RULES}

        def writer(graph: str) -> int:
            # the store's bulk path, N-Triples in chunks; lines are distinct, so their number is the graph's size
            with gc_paused():
                return load_chunks(self.store, call_ntriples_chunks(calls, self.conflicts_keys()), graph)

        return load_graph(self.store, kind="inference", name=name, writer=writer, source="derived",
                          sha256=derived_sha(inputs, params), byte_size=0, loader="traits", loader_version="2",
                          parameters=params, derived_from=[g.iri for g in inputs], counted=True)

    def conflicts_keys(self) -> set[tuple[str, str]]:
        c = self.calls()
        return {(t, e) for (t, e, v), a in c.items() if v == ABSENT and (p := c.get((t, e, PRESENT))) is not None
                and not (p.polymorphic and a.polymorphic)}

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
        of taxon names/IRIs, a tree node (its tips), or a name (see :meth:`clade`: a taxonomy taxon at
        any rank, ``TREE:NODE``, a tree's clade label, a genus). ``value='present'|'absent'`` asks
        presence/absence calls instead of phenotypes."""
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
        """The phenotype taxa in a clade (see :meth:`clade`); a collection is taken as taxa."""
        if within is None:
            return None
        if hasattr(within, "tips"):  # a kg.trees node: the tips below it
            within = within.tips()
        if isinstance(within, str):
            return self.clade(within)["taxa"]
        out = set()
        for x in within:
            out.add(x if x.startswith("http") else taxon_iri(normalise_name(x)))
        return out

    def clade(self, name: str) -> dict[str, Any]:
        """The taxa with phenotypes in a clade named by a string, tried in this order:

        1. ``TREE:NODE`` (a loaded tree's name): the tips below that node;
        2. a taxon of a loaded taxonomy, at any rank (name, ``taxon:`` CURIE or IRI): the taxa
           below it, plus taxa with phenotypes whose genus (first word) is a genus below it;
        3. a node label (a clade name) of a loaded tree: the tips below it;
        4. a genus name: the taxa whose name starts with it.

        Returns ``{"kind": "tree"|"taxonomy"|"genus", "node": ..., "taxa": set of taxon IRIs}``."""
        idx = self.index
        text = name.strip()
        tree_names = self._tree_names()
        if ":" in text and not text.startswith(("http", "taxon:")) and text.split(":", 1)[0] in tree_names:
            tree, node = text.split(":", 1)
            return self._tree_clade(tree, node)
        tax = self._taxonomy()
        hits = tax["by_name"].get(normalise_name(text).casefold(), [])
        if not hits and text.startswith(("http", "taxon:")):
            iri = _iri(text) if text.startswith("taxon:") else text
            hits = [iri] if iri in tax["rank"] else []
        if len(hits) > 1:
            raise ValidationError(f"clade {name!r} names {len(hits)} taxa of the taxonomy: "
                                  + ", ".join(f"{_curie(h)} ({tax['rank'].get(h) or 'no rank'})" for h in hits)
                                  + "; give its IRI or taxon: CURIE")
        if hits:
            below = _descendants(tax["children"], hits[0])
            genera = {tax["name"][t].casefold() for t in below if tax["rank"].get(t) == "genus"}
            members = {t for t, label in idx.taxa.items()
                       if t in below or label.split(" ", 1)[0].casefold() in genera}
            return {"kind": "taxonomy", "node": hits[0], "rank": tax["rank"].get(hits[0]), "taxa": members}
        in_trees = [t for t in tree_names if self._tree(t).index._find(text) is not None]
        if len(in_trees) > 1:
            raise ValidationError(f"clade {name!r} is a node of several trees ({', '.join(in_trees)}); "
                                  "name one as TREE:NODE")
        if in_trees:
            return self._tree_clade(in_trees[0], text)
        genus = normalise_name(text)
        members = {tx for tx, lab in idx.taxa.items() if lab == genus or lab.startswith(genus + " ")}
        if not members:
            raise NotFound(f"clade {name!r}: not a taxon of a loaded taxonomy, a node of a loaded tree or a genus "
                           "of a taxon with phenotypes (give a taxon name at any rank with a taxonomy loaded, "
                           "TREE:NODE, or a list of taxa)")
        return {"kind": "genus", "node": genus, "taxa": members}

    def _tree_names(self) -> list[str]:
        from kg.graphs import list_graphs

        return sorted({r.name for r in list_graphs(self.store, kind="tree")})

    def _tree(self, name: str) -> Any:
        from kg.trees import open_tree, tree_record

        rec = tree_record(self.store, name)
        key = ("tree", rec.iri)  # the facade's cache key: one index per tree version
        if key not in self._cache:
            self._cache[key] = open_tree(self.store, rec.iri)
        return self._cache[key]

    def _tree_clade(self, tree: str, node: str) -> dict[str, Any]:
        n = self._tree(tree).node(node)
        tips = {taxon_iri(normalise_name(t)) for t in n.tips()}
        return {"kind": "tree", "node": n.iri, "taxa": {t for t in self.index.taxa if t in tips}}

    def _taxonomy(self) -> dict[str, Any]:
        """The taxonomy graphs' hierarchy: children, names, ranks and a name -> taxa lookup."""
        if "taxonomy" not in self._cache:
            children: dict[str, list[str]] = defaultdict(list)
            names: dict[str, str] = {}
            rank: dict[str, str | None] = {}
            rows = self.store.select(_TAXONOMY, union_default_graph=True).rows
            for t, nm, rk, parent in rows:
                names[t.value] = nm.value
                rank[t.value] = rk.value if rk is not None else None
                if parent is not None:
                    children[parent.value].append(t.value)
            by_name: dict[str, list[str]] = defaultdict(list)
            for t, nm in names.items():
                by_name[normalise_name(nm).casefold()].append(t)
            self._cache["taxonomy"] = {"children": dict(children), "name": names, "rank": rank,
                                       "by_name": dict(by_name)}
        return self._cache["taxonomy"]

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


_TAXONOMY = f"""SELECT ?t ?name ?rank ?parent WHERE {{ ?t a <{TKG}Taxon> ;
  <http://rs.tdwg.org/dwc/terms/scientificName> ?name .
  OPTIONAL {{ ?t <http://rs.tdwg.org/dwc/terms/taxonRank> ?rank }} OPTIONAL {{ ?t <{TKG}parentTaxon> ?parent }} }}"""


def _descendants(children: dict[str, list[str]], root: str) -> set[str]:
    """A taxon and everything below it (iterative; a cycle in bad data cannot loop)."""
    from ontologies.closure import reachable

    return reachable(children, [root])


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
    # materialised over the corpus's own terms; other entities are answered on demand (kg.ontotrace).
    # One (taxon, value) at a time: entity -> sources in a local dict, no key tuples per step.
    by_tv: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in asserted:
        by_tv[(c.taxon, c.value)].append(c.entity)
    for (taxon, value), ents in by_tv.items():
        have = set(ents)  # asserted here: an asserted call takes no inferred sources
        found: dict[str, set[str]] = {}
        for src in ents:
            if value == PRESENT:
                targets = up.get(src)
                if targets is None:
                    targets = up[src] = tuple(idx.ancestors(src) & corpus)
            else:
                targets = down.get(src, ())
            for e in targets:
                got = found.get(e)
                if got is None:
                    if e in have:
                        continue
                    found[e] = {src}
                else:
                    got.add(src)
        for e, srcs in found.items():
            calls[(taxon, e, value)] = Call(taxon, e, value, "inferred", sources=srcs)
    return calls


@dataclass
class CallGroup:
    """Calls of one entity and value that share one body of evidence: one node in the inference graph.

    Asserted groups have the same evidence states (and polymorphic flag); inferred groups follow
    from the same asserted groups. ``taxa`` are the taxa the call holds for."""

    iri: str
    entity: str
    value: str
    tier: str
    polymorphic: bool
    states: tuple[str, ...] = ()    # asserted: evidence states (sorted)
    sources: tuple[str, ...] = ()   # inferred: IRIs of the asserted groups it follows from (sorted)
    taxa: list[str] = field(default_factory=list)


def _group_iri(tier: str, entity: str, value: str, poly: bool, members: Iterable[str]) -> str:
    key = f"{tier}|{entity}|{value}|{int(poly)}|{' '.join(members)}"
    return BASE + "pa/" + hashlib.sha1(key.encode()).hexdigest()[:20]


def group_calls(calls: dict[tuple[str, str, str], Call]) -> tuple[list[CallGroup], dict[tuple[str, str, str], CallGroup]]:
    """The call groups, and each call's group. IRIs hash the group's content, so they are stable."""
    groups: list[CallGroup] = []
    of: dict[tuple[str, str, str], CallGroup] = {}
    number: dict[tuple, int] = {}
    by_key: dict[tuple, CallGroup] = {}
    gid: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)  # (taxon, value) -> entity -> group number
    inferred = []
    for key, c in calls.items():
        if c.tier != "asserted":
            inferred.append((key, c))
            continue
        gk = (c.entity, c.value, c.polymorphic, frozenset(c.states))
        hit = number.get(gk)
        if hit is None:
            st = tuple(sorted(c.states))
            hit = number[gk] = len(groups)
            groups.append(CallGroup(_group_iri("asserted", c.entity, c.value, c.polymorphic, st), c.entity,
                                    c.value, "asserted", c.polymorphic, states=st))
        g = groups[hit]
        g.taxa.append(c.taxon)
        of[key] = g
        gid[(c.taxon, c.value)][c.entity] = hit
    for key, c in inferred:
        src = frozenset(map(gid[(c.taxon, c.value)].__getitem__, c.sources))
        gk = (c.entity, c.value, src)
        g = by_key.get(gk)
        if g is None:
            members = tuple(sorted(groups[i].iri for i in src))
            g = by_key[gk] = CallGroup(_group_iri("inferred", c.entity, c.value, False, members), c.entity,
                                       c.value, "inferred", False, sources=members)
            groups.append(g)
        g.taxa.append(c.taxon)
        of[key] = g
    return groups, of


def conflict_pairs(of: dict[tuple[str, str, str], CallGroup], conflicts: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """(present group, absent group) IRIs for the conflicting calls: the conflict holds for every
    taxon the two groups share (the polymorphic flag, which excuses a conflict, is per group)."""
    return {(of[(t, e, PRESENT)].iri, of[(t, e, ABSENT)].iri) for t, e in conflicts}


def call_quads(calls: dict[tuple[str, str, str], Call], graph: str, conflicts: set[tuple[str, str]]) -> list[Quad]:
    """The inference graph as quads (the reference shape; :func:`call_ntriples` writes the same triples).

    One node per :class:`CallGroup`: ``a tkg:PresenceAbsenceCall ; tkg:entity ; tkg:presence ;
    tkg:tier``, ``tkg:taxon`` for each taxon it holds for, ``tkg:evidence`` states (asserted) or
    ``tkg:inferredFrom`` asserted calls (inferred), ``tkg:polymorphic true``, ``tkg:conflictsWith``."""
    g = NamedNode(graph)
    groups, of = group_calls(calls)
    N = NamedNode
    a, typ = N(RDF_TYPE), N(TKG + "PresenceAbsenceCall")
    vals = {PRESENT: N(TKG + "Present"), ABSENT: N(TKG + "Absent")}
    out: list[Quad] = []
    for grp in groups:
        node = N(grp.iri)
        out += [Quad(node, a, typ, g), Quad(node, N(TKG + "entity"), N(grp.entity), g),
                Quad(node, N(TKG + "presence"), vals[grp.value], g), Quad(node, N(TKG + "tier"), Literal(grp.tier), g)]
        out += [Quad(node, N(TKG + "taxon"), N(t), g) for t in grp.taxa]
        out += [Quad(node, N(TKG + "evidence"), N(s), g) for s in grp.states]
        out += [Quad(node, N(TKG + "inferredFrom"), N(s), g) for s in grp.sources]
        if grp.polymorphic:
            out.append(Quad(node, N(TKG + "polymorphic"), Literal("true", datatype=N(XSD_BOOL)), g))
    for p, q in conflict_pairs(of, conflicts):
        out += [Quad(N(p), N(TKG + "conflictsWith"), N(q), g), Quad(N(q), N(TKG + "conflictsWith"), N(p), g)]
    return out


class _IriText(dict):
    """IRI -> its N-Triples text, written (and validated) by pyoxigraph on first use."""

    def __missing__(self, iri: str) -> str:
        x = self[iri] = str(NamedNode(iri))
        return x


def call_ntriples_chunks(calls: dict[tuple[str, str, str], Call], conflicts: set[tuple[str, str]], *,
                         chunk: int = 400_000) -> Iterator[tuple[bytes, int]]:
    """The triples of :func:`call_quads` as N-Triples for the store's bulk loader: ``(bytes, triples)``
    chunks of about ``chunk`` triples. Lines are distinct, so the counts add up to the graph's size.

    Calls that share their evidence share one node, so the graph holds a node per group, not per
    taxon × entity, and an inferred call links the asserted groups it follows from (whose
    evidence is the same for every taxon of the group)."""
    groups, of = group_calls(calls)
    n = _IriText().__getitem__

    a, typ = n(RDF_TYPE), n(TKG + "PresenceAbsenceCall")
    ent, val, tier = f" {n(TKG + 'entity')} ", f" {n(TKG + 'presence')} ", f" {n(TKG + 'tier')} "
    tax, ev, frm = f" {n(TKG + 'taxon')} ", f" {n(TKG + 'evidence')} ", f" {n(TKG + 'inferredFrom')} "
    poly = f" {n(TKG + 'polymorphic')} {Literal('true', datatype=NamedNode(XSD_BOOL))} .\n"
    conf = f" {n(TKG + 'conflictsWith')} "
    vals = {PRESENT: n(TKG + "Present"), ABSENT: n(TKG + "Absent")}
    tiers = {"asserted": str(Literal("asserted")), "inferred": str(Literal("inferred"))}
    base = str(NamedNode(BASE + "pa/"))[:-1]  # group nodes are BASE/pa/<hex>: safe to write without checks
    node_of = {g.iri: f"{base}{g.iri[len(BASE) + 3:]}>" for g in groups}
    parts: list[str] = []
    k = 0
    for grp in groups:
        node = node_of[grp.iri]
        parts.append(f"{node} {a} {typ} .\n{node}{ent}{n(grp.entity)} .\n{node}{val}{vals[grp.value]} .\n"
                     f"{node}{tier}{tiers[grp.tier]} .\n")
        k += 4
        for pred, objs in ((tax, list(map(n, grp.taxa))), (ev, list(map(n, grp.states))),
                           (frm, list(map(node_of.__getitem__, grp.sources)))):
            if objs:
                prefix = node + pred
                parts.append(prefix + (" .\n" + prefix).join(objs) + " .\n")
                k += len(objs)
        if grp.polymorphic:
            parts.append(node + poly)
            k += 1
        if k >= chunk:
            yield "".join(parts).encode(), k
            parts, k = [], 0
    for p, q in sorted(conflict_pairs(of, conflicts)):
        parts.append(f"{node_of[p]}{conf}{node_of[q]} .\n{node_of[q]}{conf}{node_of[p]} .\n")
        k += 2
    if k:
        yield "".join(parts).encode(), k


def call_ntriples(calls: dict[tuple[str, str, str], Call], conflicts: set[tuple[str, str]]) -> bytes:
    """All of :func:`call_ntriples_chunks` as one N-Triples document."""
    return b"".join(b for b, _ in call_ntriples_chunks(calls, conflicts))


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
