"""The :class:`Traits` sub-API: calls, inference graph, lookups and trait queries over one store (the
semantics are in :mod:`kg.traits`)."""


from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from kg.core.bulk import Feed, gc_paused, load_chunks
from kg.core.errors import NotFound, ValidationError
from kg.core.graph_batch import GraphBatch
from kg.core.graphs import GraphRecord, derived_sha, load_graph
from kg.core.names import normalise_name, taxon_iri
from kg.core.store import Store
from kg.phenoindex import GraphPart, PhenotypeIndex
from kg.traits.cached import CallsByTaxon, CallTable, dependencies, open_calls, open_index
from kg.traits.calls import ABSENT, PRESENT, Call
from kg.traits.cell_table import cells_by_taxon, state_taxa
from kg.traits.clades import CladeQueries
from kg.traits.evidence import state_info, state_json, term_labels
from kg.traits.inference_graph import RULES, call_ntriples_chunks
from kg.traits.pages import TraitPages
from ontologies.prefixes import contract, expand

_PAGES_STARTED = threading.Lock()

#: Triples per bulk load of the inference graph: the whole graph of the 47 Phenoscape matrices
#: (2.13M triples, ~330 MB of N-Triples) in one load. Each bulk load's sorted files are ingested
#: beside what the store holds, so fewer, larger loads cost less engine time. Measured on the 0.1
#: store (load average 8-12): one bulk load of the step's 2.98M quads took 73.0 s into a copy of
#: that store against 69.4 and 82.1 s into an empty one (the floor), where the inference graph alone
#: in 400,000-triple chunks, two loads at a time, had taken 118 s (its N-Triples built meanwhile).
INFERENCE_CHUNK = 4_000_000


class Traits(CladeQueries):
    """Trait queries over one store (the facade's ``kg.traits``)."""

    def __init__(self, store: Store, cache: dict[str, Any] | None = None) -> None:
        self.store = store
        self._cache = cache if cache is not None else {}

    # ------------------------------------------------------------------ index and inference
    @property
    def index(self) -> PhenotypeIndex:
        if "phenoindex" not in self._cache:  # kept on disk per graph version (kg.traits.cached)
            self._cache["phenoindex"] = open_index(self.store, self._cache.pop("phenoparts", None))
        return self._cache["phenoindex"]

    def calls(self) -> Mapping[tuple[str, str, str], Call]:
        """Every asserted and inferred call, keyed by (taxon, entity, value) (a dict when computed
        here, a :class:`~kg.traits.cached.CallTable` when read from the file kept beside the store)."""
        if "calls" not in self._cache:
            self._cache["calls"] = open_calls(self.store, lambda: self.index)
        return self._cache["calls"]

    def prepare(self) -> Traits:
        """Have ready now what trait requests read (a service does it at start-up, so that no request
        builds it): the phenotype index and the calls (read from their files when kept), the calls by
        taxon, the state -> taxa table, the term labels and the states' evidence."""
        self.calls()
        self.calls_by_taxon()
        self._state_taxa()
        self.labels()
        state_info(self.store, self._cache, set())
        self._cells_by_taxon()  # a taxon's own cells and the states' encoded evidence (its traits page)
        self.evidence_json()
        self.pages()
        return self

    def pages(self, *, wait: bool = True) -> TraitPages | None:
        """Every taxon's traits encoded (:mod:`kg.traits.pages`; read from its file when kept), once
        per store state. With ``wait=False``, ``None`` until they are ready, while one background
        thread reads or builds them (a server's requests meanwhile build their own page)."""
        got = self._cache.get("trait_pages")
        if got is not None:
            return got
        if wait:
            got = self._cache["trait_pages"] = TraitPages.open(self)
            return got
        with _PAGES_STARTED:
            if "trait_pages_thread" not in self._cache:
                cache = self._cache

                def work() -> None:
                    pages = TraitPages.open(self)
                    if cache.get("trait_pages_thread") is th:  # not after a write cleared the cache
                        cache["trait_pages"] = pages

                th = cache["trait_pages_thread"] = threading.Thread(target=work, name="trait-pages", daemon=True)
                th.start()
        return None

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
                return load_chunks(self.store, call_ntriples_chunks(calls, self.conflicts_keys(), chunk=INFERENCE_CHUNK),
                                   graph)

        return load_graph(self.store, kind="inference", name=name, writer=writer, source="derived",
                          sha256=derived_sha(inputs, params), byte_size=0, loader="traits", loader_version="2",
                          parameters=params, derived_from=[g.iri for g in inputs], counted=True)

    def infer_batch(self, batch: GraphBatch, feed: Feed, parts: Mapping[str, GraphPart], *,
                    name: str = "presence-absence") -> GraphRecord:
        """:meth:`infer` for phenotype graphs a batch has written and not listed yet (``parts``: each
        one's :class:`~kg.phenoindex.GraphPart`): the inference graph joins the batch (same graph,
        same record as :meth:`infer` once the batch is listed), its N-Triples put on ``feed``, the
        batch's one load. Its index and calls files are written as :meth:`infer` writes them; nothing
        is kept in this object (the batch may still fail)."""
        listed, closures = dependencies(self.store)
        pending = [r for r in batch.records if r.kind == "phenotypes"]
        # in the manifest's order (kind, name, start), as the index reads the listed graphs
        ph = sorted(listed + pending, key=lambda r: (r.name, r.started))
        if not ph:
            raise ValidationError("no phenotype graphs loaded: run `traitkg load phenotypes PATH...` first")
        deps = (ph, closures)
        index: list[PhenotypeIndex] = []

        def idx() -> PhenotypeIndex:
            if not index:
                index.append(open_index(self.store, parts, deps))
            return index[0]

        calls = open_calls(self.store, idx, deps)
        inputs = ph + closures
        params = {"rules": RULES}

        def writer(graph: str) -> int:
            with gc_paused():
                total = 0
                for data, n in call_ntriples_chunks(calls, conflict_keys(calls)):  # 400,000-triple chunks, one load
                    feed.put((graph, data))
                    total += n
                return total

        return batch.write(kind="inference", name=name, writer=writer, source="derived",
                           sha256=derived_sha(inputs, params), byte_size=0, loader="traits", loader_version="2",
                           parameters=params, derived_from=[g.iri for g in inputs], counted=True)

    def conflicts_keys(self) -> set[tuple[str, str]]:
        return conflict_keys(self.calls())

    # ------------------------------------------------------------------ lookups
    def taxon(self, name_or_iri: str) -> str:
        """The taxon IRI for a name, CURIE or IRI known to the phenotype graphs."""
        idx = self.index
        cand = name_or_iri if name_or_iri.startswith("http") else (
            expand(name_or_iri) if name_or_iri.startswith("taxon:") else taxon_iri(normalise_name(name_or_iri)))
        if cand in idx.taxa:
            return cand
        near = self._near_taxa(normalise_name(name_or_iri))
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise NotFound(f"no taxon {name_or_iri!r} with phenotypes{hint}")

    def _near_taxa(self, name: str) -> list[str]:
        """Up to three taxa with phenotypes whose names are close to ``name``: among the species of
        the same genus, else of the genera closest to its genus (a handful of short comparisons,
        not one per taxon: an unknown name is answered as fast as a known one)."""
        import difflib

        by_genus = self._cache.get("taxa_by_genus")
        if by_genus is None:
            by_genus = defaultdict(list)
            for label in self.index.taxa.values():
                by_genus[label.split(" ", 1)[0].lower()].append(label)
            by_genus = self._cache["taxa_by_genus"] = dict(by_genus)
        genus = name.split(" ", 1)[0].lower()
        genera = [genus] if genus in by_genus else difflib.get_close_matches(genus, list(by_genus), n=3)
        pool = [label for g in genera for label in by_genus[g]]
        return difflib.get_close_matches(name, pool, n=3)

    def labels(self) -> dict[str, str]:
        """Term IRI -> label (read from the store once per store state)."""
        lab = self._cache.get("labels")
        if lab is None:
            lab = self._cache["labels"] = term_labels(self.store, self.index)
        return lab

    def label(self, iri: str) -> str:
        return self.labels().get(iri) or contract(iri)

    def evidence(self, call: Call) -> list[dict[str, Any]]:
        """The states, characters, matrices and publications behind a call."""
        info = state_info(self.store, self._cache, set())
        return [info[s] for s in self.evidence_states(call)]

    def evidence_states(self, call: Call) -> list[str]:
        """The states behind a call, in :meth:`evidence`'s order (by matrix, then character, then
        state: a polymorphic cell's states are in one order whatever set they came from)."""
        calls = self.calls()
        states = set(call.states)
        for src in call.sources:
            states |= calls[(call.taxon, src, call.value)].states
        info = state_info(self.store, self._cache, states)
        return sorted((s for s in states if s in info), key=lambda s: (info[s]["matrix"], info[s]["character_number"], s))

    def evidence_json(self) -> Mapping[str, str]:
        """State IRI -> its evidence entry as JSON text, encoded once per store state (a server writes
        a trait's evidence by joining these: :meth:`trait_json`)."""
        out = self._cache.get("evidence_json")
        if out is None:  # read from the states' file when it keeps them (kg.traits.evidence.state_json)
            out = self._cache["evidence_json"] = state_json(self.store, self._cache)
        return out

    def trait_json(self, row: tuple[str, str, str, Any], *, evidence: bool = True) -> str:
        """``json.dumps(self.trait_dict(row, evidence=evidence), ensure_ascii=False)``, with the
        evidence joined from :meth:`evidence_json` instead of encoded again."""
        d = self.trait_dict(row, evidence=False)
        if not evidence:
            return json.dumps(d, ensure_ascii=False, default=str)
        ev = self.evidence_json()
        ref = row[3]
        if isinstance(ref, Call):  # the call's fields, its evidence, then its kind
            kind = d.pop("kind")
            items = ", ".join(ev[s] for s in self.evidence_states(ref))
            return f'{json.dumps(d, ensure_ascii=False, default=str)[:-1]}, "evidence": [{items}], "kind": {json.dumps(kind)}}}'
        return f'{json.dumps(d, ensure_ascii=False, default=str)[:-1]}, "evidence": [{ev[ref[1]]}]}}'

    # ------------------------------------------------------------------ queries
    def traits_of(self, taxon: str, *, evidence: bool = True) -> list[dict[str, Any]]:
        """Every presence/absence call for a taxon (asserted and inferred), plus its asserted phenotypes."""
        return [self.trait_dict(r, evidence=evidence) for r in self.trait_rows(taxon)]

    def trait_rows(self, taxon: str) -> list[tuple[str, str, str, Any]]:
        """A taxon's traits in :meth:`traits_of`'s order, each as ``(kind, tier, entity label, what it
        is built from)``: enough to filter and page them; :meth:`trait_dict` builds one answer, so a
        page of a taxon with thousands of calls builds (and expands the evidence of) its own rows only."""
        tx = self.taxon(taxon)
        labels = self.labels()

        def label(iri: str) -> str:
            return labels.get(iri) or contract(iri)

        rows: list[tuple[str, str, str, Any]] = [
            ("presence" if c.value == PRESENT else "absence", c.tier, label(c.entity), c)
            for c in self.calls_by_taxon().get(tx, ())]
        idx = self.index
        seen = set()
        for cell in self._cells_by_taxon().get(tx, ()):
            for s in cell.states:
                for p in idx.state_phenotypes.get(s, ()):
                    if (p, s) in seen:
                        continue
                    seen.add((p, s))
                    ent = idx.phenotypes[p].entity  # None: a quality-only phenotype
                    rows.append(("phenotype", "asserted", label(ent) if ent else "", (p, s, cell.kind)))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        return rows

    def trait_dict(self, row: tuple[str, str, str, Any], *, evidence: bool = True) -> dict[str, Any]:
        """One of :meth:`trait_rows` as :meth:`traits_of` answers it."""
        kind, _, _, ref = row
        if isinstance(ref, Call):
            d = self._call_dict(ref, evidence)
            d["kind"] = kind
            return d
        p, s, state_set = ref
        ph = self.index.phenotypes[p]
        ent = ph.entity
        d = {"kind": "phenotype", "tier": "asserted", "phenotype": p,
             "entity": contract(ent) if ent else None, "entity_label": self.label(ent) if ent else None,
             "quality": contract(ph.quality) if ph.quality else None,
             "quality_label": self.label(ph.quality) if ph.quality else None,
             "related_entity": contract(ph.related) if ph.related else None, "state_set": state_set}
        if evidence:
            d["evidence"] = [state_info(self.store, self._cache, {s})[s]]
        return d

    def taxa_with(self, term: str, *, parts: bool = True, within: Iterable[str] | str | None = None,
                  value: str | None = None) -> list[dict[str, Any]]:
        """Taxa with a phenotype of ``term`` or of anything it subsumes (subclasses and, with ``parts``,
        parts). A PATO term matches phenotypes by quality. ``within`` restricts to a clade: a collection
        of taxon names/IRIs, a tree node (its tips), or a name (see :meth:`clade`: a taxonomy taxon at
        any rank, ``TREE:NODE``, a tree's clade label, a genus). ``value='present'|'absent'`` asks
        presence/absence calls instead of phenotypes."""
        idx = self.index
        t = expand(term)
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

    def _cells_by_taxon(self) -> Mapping[str, list[Any]]:
        """Taxon IRI -> its cells, in the index's order (built once per store state)."""
        if "cells_by_taxon" not in self._cache:  # lazy over the arrays when read from the file
            self._cache["cells_by_taxon"] = cells_by_taxon(self.index)
        return self._cache["cells_by_taxon"]

    def _state_taxa(self) -> dict[str, list[str]]:
        """State IRI -> the taxa of the cells that score it (built once per store state)."""
        if "state_taxa" not in self._cache:
            self._cache["state_taxa"] = state_taxa(self.index)
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


    def conflicts(self) -> list[dict[str, Any]]:
        """Taxa inferred both present and absent for an entity, with both sides' evidence."""
        c = self.calls()
        out = []
        for t, e in sorted(self.conflicts_keys()):
            p, a = c[(t, e, PRESENT)], c[(t, e, ABSENT)]
            out.append({"taxon": self.index.taxa[t], "taxon_iri": t, "entity": contract(e), "entity_label": self.label(e),
                        "present": self._call_dict(p, True), "absent": self._call_dict(a, True)})
        return out

    def calls_by_taxon(self) -> Any:
        """``taxon -> [Call]`` (``.get(taxon, default)``)."""
        if "calls_by_taxon" not in self._cache and isinstance(self.calls(), CallTable):
            self._cache["calls_by_taxon"] = CallsByTaxon(self.calls())  # read from the file: by key, lazily
        if "calls_by_taxon" not in self._cache:
            by: dict[str, list[Call]] = defaultdict(list)
            for c in self.calls().values():
                by[c.taxon].append(c)
            self._cache["calls_by_taxon"] = by
        return self._cache["calls_by_taxon"]

    def _call_dict(self, c: Call, evidence: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"entity": contract(c.entity), "entity_label": self.label(c.entity), "value": c.value,
                             "tier": c.tier, "polymorphic": c.polymorphic}
        if c.sources:
            d["inferred_from"] = sorted(contract(s) for s in c.sources)
        if evidence:
            d["evidence"] = self.evidence(c)
        return d

    def matrix(self, taxa: Iterable[str], entities: Iterable[str], **kw: Any) -> Any:
        """An OntoTrace-style presence/absence matrix (see :mod:`kg.traits.matrix`)."""
        from kg.traits.matrix import build_matrix

        return build_matrix(self, list(taxa), list(entities), **kw)


def conflict_keys(c: Mapping[tuple[str, str, str], Call]) -> set[tuple[str, str]]:
    """(taxon, entity) of the calls both present and absent, unless both are polymorphic."""
    return {(t, e) for (t, e, v), a in c.items() if v == ABSENT and (p := c.get((t, e, PRESENT))) is not None
            and not (p.polymorphic and a.polymorphic)}
