"""The phenotype index: what the phenotype and closure graphs say, in memory, for inference and queries.

Built once per store state (the facade caches it) from the ``phenotypes`` graphs (cells, states,
EQ phenotypes, post-composed classes) and the ``closure`` graphs (direct ``S P O`` triples for
rdfs:subClassOf and part_of). Ancestor sets are computed for the terms the corpus uses only.

>>> from kg import KnowledgeGraph
>>> idx = PhenotypeIndex.build(KnowledgeGraph.open("oxigraph:").store)
>>> len(idx.taxa)
0
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kg.core.bulk import gc_paused
from kg.core.graphs import TKG, GraphRecord, list_graphs
from kg.core.store import Store, tsv_value

OBO = "http://purl.obolibrary.org/obo/"
SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
PART_OF = OBO + "BFO_0000050"
PRESENT = OBO + "PATO_0000467"
ABSENT = OBO + "PATO_0000462"
LACKS_ALL_PARTS = OBO + "PATO_0002000"
HAS_NUMBER_OF = OBO + "PATO_0001555"
COMPLEMENT_OF = OBO + "PHENOSCAPE_complement_of"


@dataclass
class Pheno:
    """One EQ phenotype as stored: IRIs of entity, quality, related entity; count. ``entity`` None:
    a quality-only phenotype (Phenoscape has some), which implies neither presence nor absence."""

    iri: str
    entity: str | None
    quality: str | None
    related: str | None
    count: int | None


@dataclass
class CellRec:
    taxon: str
    otu: str
    states: list[str]
    kind: str  # single | polymorphic | uncertain


@dataclass
class PhenotypeIndex:
    """Corpus tables plus ancestor sets (subClassOf ∪ part_of, redundant) for the terms in use."""

    phenotype_graphs: list[GraphRecord] = field(default_factory=list)
    closure_graphs: list[GraphRecord] = field(default_factory=list)
    taxa: dict[str, str] = field(default_factory=dict)              # taxon IRI -> label
    otu_taxon: dict[str, str] = field(default_factory=dict)         # OTU IRI -> taxon IRI
    phenotypes: dict[str, Pheno] = field(default_factory=dict)
    state_phenotypes: dict[str, list[str]] = field(default_factory=dict)
    cells: list[CellRec] = field(default_factory=list)
    composed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # class -> [(pred, obj)]
    isa: dict[str, set[str]] = field(default_factory=dict)          # term -> superclasses (closure)
    anc: dict[str, set[str]] = field(default_factory=dict)          # term -> subClassOf ∪ part_of ancestors
    labels: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, store: Store, parts: Mapping[str, GraphPart] | None = None,
              graphs: tuple[list[GraphRecord], list[GraphRecord]] | None = None) -> PhenotypeIndex:
        """The index of the store's phenotype and closure graphs. ``parts`` (graph IRI -> its
        :class:`GraphPart`, made by :func:`part_from_ntriples` from the N-Triples a load just wrote)
        stand in for reading those graphs back from the store; either way a graph's part is the same.
        ``graphs``: the (phenotype, closure) graphs to read, when not the ones the manifest lists (a
        batch not listed yet: each of its graphs has its part)."""
        ph, cl = graphs if graphs is not None else (
            list_graphs(store, kind="phenotypes"),
            [g for g in list_graphs(store, kind="closure") if not g.name.endswith("-nonredundant")])
        idx = cls(phenotype_graphs=list(ph), closure_graphs=list(cl))
        with gc_paused():
            for g in idx.phenotype_graphs:
                part = parts.get(g.iri) if parts else None
                idx._add_part(part if part is not None else part_from_store(store, g.iri))
            idx._read_closure(store)
        return idx

    def _add_part(self, part: GraphPart) -> None:
        pairs = part.pairs.get
        otu_taxon = pairs(TKG + "taxon", [])
        self.otu_taxon.update(otu_taxon)
        for tx in sorted({tx for _, tx in otu_taxon} - self.labels.keys()):  # labels of the taxa only (sorted: not set order)
            if tx in part.labels:
                self.labels[tx] = part.labels[tx]
        _group(pairs(TKG + "describesPhenotype", []), self.state_phenotypes)
        qual = dict(pairs(TKG + "quality", []))
        rel = dict(pairs(TKG + "relatedEntity", []))
        cnt = {s: int(o) for s, o in pairs(TKG + "count", [])}
        phs = self.phenotypes
        for p, e in pairs(TKG + "entity", []):
            if p not in phs:
                phs[p] = Pheno(p, e, qual.get(p), rel.get(p), cnt.get(p))
        for p, q in qual.items():  # quality-only phenotypes (no tkg:entity)
            if p not in phs:
                phs[p] = Pheno(p, None, q, rel.get(p), cnt.get(p))
        for c, diffs in part.composed.items():
            self.composed.setdefault(c, diffs)
        cell_otu = dict(pairs(TKG + "otu", []))
        kinds = dict(pairs(TKG + "stateSetKind", []))
        states = _group(pairs(TKG + "state", []), {})
        taxa, cells, ot = self.taxa, self.cells, self.otu_taxon
        for cell, sts in states.items():
            otu = cell_otu[cell]
            tx = ot.get(otu)
            if tx is None:
                continue
            if tx not in taxa:
                taxa[tx] = self.labels.get(tx, tx)
            cells.append(CellRec(tx, otu, sts, kinds.get(cell, "single")))

    def _read_closure(self, store: Store) -> None:
        wanted = self.corpus_terms()
        isa: dict[str, set[str]] = defaultdict(set)
        anc: dict[str, set[str]] = defaultdict(set)
        for g in self.closure_graphs:
            for pred, target in ((SUB, isa), (PART_OF, anc)):
                for q in store.quads(None, _nn(pred), None, g.iri):
                    s = q.subject.value
                    if s in wanted:
                        target[s].add(q.object.value)
        for s, sup in isa.items():
            anc[s] |= sup
        # post-composed classes: genus and part_of fillers, with their own ancestors (a filler that
        # is itself post-composed is completed first, so no class's ancestors depend on read order)
        for c in _fillers_first(self.composed):
            a, i = anc[c], isa[c]
            for p, o in self.composed[c]:
                if p == SUB:
                    i.add(o)
                    i |= isa.get(o, set())
                    a.add(o)
                    a |= anc.get(o, set())
                elif p == PART_OF:
                    a.add(o)
                    a |= anc.get(o, set())
        self.isa, self.anc = dict(isa), dict(anc)

    # ------------------------------------------------------------------ helpers
    def corpus_terms(self) -> set[str]:
        out: set[str] = set()
        for p in self.phenotypes.values():
            out.update(t for t in (p.entity, p.quality, p.related) if t)
        for c, diffs in self.composed.items():
            out.add(c)
            out.update(o for _, o in diffs)
        return out

    def ancestors(self, term: str, *, parts: bool = True) -> set[str]:
        """Superclasses (and, with ``parts``, wholes) of a term; not reflexive."""
        return self.anc.get(term, set()) if parts else self.isa.get(term, set())

    def is_absent_quality(self, q: str | None) -> bool:
        if q is None:
            return False
        if q == ABSENT or ABSENT in self.isa.get(q, ()):
            return True
        return any(p == COMPLEMENT_OF and o == PRESENT for p, o in self.composed.get(q, ()))

    def genus(self, term: str) -> str:
        for p, o in self.composed.get(term, ()):
            if p == SUB:
                return o
        return term

    def implications(self, ph: Pheno) -> tuple[set[str], set[str]]:
        """Entities a phenotype implies present and absent (Phenoscape semantics); a quality-only
        phenotype implies none."""
        if ph.entity is None:
            return set(), set()
        q = self.genus(ph.quality) if ph.quality else None
        if self.is_absent_quality(ph.quality) or (ph.count == 0 and q != HAS_NUMBER_OF):
            return set(), {ph.entity}
        if q == LACKS_ALL_PARTS or (q == HAS_NUMBER_OF and ph.count == 0):
            return {ph.entity}, ({ph.related} if ph.related else set())
        present = {ph.entity}
        if ph.related:
            present.add(ph.related)
        return present, set()


def _fillers_first(composed: Mapping[str, list[tuple[str, str]]]) -> list[str]:
    """The post-composed classes, each after the post-composed classes among its fillers (depth
    first, without recursion; a cycle, which OWL would not allow here, is cut where it closes).

    >>> _fillers_first({"a": [(SUB, "b")], "b": [(PART_OF, "c")], "c": [(SUB, "x")]})
    ['c', 'b', 'a']
    """
    order: list[str] = []
    seen: set[str] = set()
    for root in composed:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(composed[root]))]
        while stack:
            c, fillers = stack[-1]
            for _, o in fillers:
                if o in composed and o not in seen:
                    seen.add(o)
                    stack.append((o, iter(composed[o])))
                    break
            else:
                stack.pop()
                order.append(c)
    return order


def _nn(iri: str):  # local import keeps this module light for doctests
    from kg.core.store import NamedNode

    return NamedNode(iri)


#: the predicates a phenotype graph's part keeps (subject, object) pairs of
PART_PREDICATES = tuple(TKG + p for p in ("taxon", "describesPhenotype", "quality", "relatedEntity", "count",
                                          "entity", "expression", "otu", "stateSetKind", "state"))


@dataclass
class GraphPart:
    """What the index reads from one phenotype graph, in one order whatever it was read from: the
    (subject, object) values of each of :data:`PART_PREDICATES`, sorted; each taxon's label (the
    least, should a taxon have several); each post-composed class's ``rdfs:subClassOf`` and OBO
    relation (predicate, object) pairs, sorted."""

    pairs: dict[str, list[tuple[str, str]]]
    labels: dict[str, str]
    composed: dict[str, list[tuple[str, str]]]


def _pairs(store: Store, graph: str, pred: str) -> list[tuple[str, str]]:
    """(subject, object) values of one predicate in one graph, read in one pass."""
    return [(q.subject.value, q.object.value) for q in store.quads(None, _nn(pred), None, graph)]


def part_from_store(store: Store, graph: str) -> GraphPart:
    """A phenotype graph's part, read from the store: one pass per predicate, one for the taxa's
    labels and one for the post-composed classes' axioms (not one read per taxon or class: that is a
    round trip each on a ``sparql:`` store)."""
    pairs = {p: sorted(set(_pairs(store, graph, p))) for p in PART_PREDICATES}
    taxa = {tx for _, tx in pairs[TKG + "taxon"]}
    labels: dict[str, str] = {}
    if taxa:
        for tx, label in _pairs(store, graph, LABEL):
            if tx in taxa and (tx not in labels or label < labels[tx]):
                labels[tx] = label
    composed: dict[str, set[tuple[str, str]]] = {c: set() for c, _ in pairs[TKG + "expression"]}
    if composed:
        query = "SELECT ?c ?p ?o WHERE { GRAPH ?g { ?c <%sexpression> ?e ; ?p ?o } }" % TKG
        for c, p, o in store.select(query, {"g": _nn(graph)}).values():
            if c in composed and (p == SUB or p.startswith(OBO)):
                composed[c].add((p, o))
    return GraphPart(pairs, labels, {c: sorted(v) for c, v in composed.items()})


def part_from_ntriples(data: bytes) -> GraphPart:
    """A phenotype graph's part, read from the N-Triples document it was loaded from (what
    :func:`part_from_store` reads back after that load; no store access). Lines are traitkg's own
    output: one triple each, terms in canonical N-Triples syntax.

    >>> part = part_from_ntriples(b'<http://x/o> <https://w3id.org/traitkg/schema#taxon> <http://x/t> .\\n'
    ...                           b'<http://x/t> <http://www.w3.org/2000/01/rdf-schema#label> "T \\\\"x\\\\"" .\\n')
    >>> part.pairs[TKG + "taxon"], part.labels
    ([('http://x/o', 'http://x/t')], {'http://x/t': 'T "x"'})
    """
    wanted = {f"<{p}>": p for p in PART_PREDICATES}
    pairs: dict[str, set[tuple[str, str]]] = {p: set() for p in PART_PREDICATES}
    labels: dict[str, list[str]] = {}
    rel: dict[str, set[tuple[str, str]]] = {}
    label_p, sub_p, obo = f"<{LABEL}>", f"<{SUB}>", f"<{OBO}"
    for line in data.decode().split("\n"):
        if not line:
            continue
        s, p, o = line.split(" ", 2)
        o = o[:-2]  # " ."
        to = wanted.get(p)
        if to is not None:
            pairs[to].add((_term_value(s), _term_value(o)))
        elif p == label_p:
            labels.setdefault(_term_value(s), []).append(_term_value(o))
        elif p == sub_p or p.startswith(obo):
            rel.setdefault(_term_value(s), set()).add((p[1:-1], _term_value(o)))
    out = {p: sorted(v) for p, v in pairs.items()}
    taxa = {tx for _, tx in out[TKG + "taxon"]}
    composed = {c: sorted(rel.get(c, ())) for c in dict.fromkeys(c for c, _ in out[TKG + "expression"])}
    return GraphPart(out, {tx: min(v) for tx, v in labels.items() if tx in taxa}, composed)


def _term_value(term: str) -> str:
    """A term's value from its N-Triples text (an IRI without brackets, a literal's lexical form)."""
    return term[1:-1] if term[0] == "<" else tsv_value(term)


def _group(pairs: Iterable[tuple[str, str]], into: dict[str, list[str]]) -> dict[str, list[str]]:
    """Append each ``(key, value)`` to ``into[key]`` (in order) and return ``into``.

    >>> _group([("a", "1"), ("b", "2"), ("a", "3")], {})
    {'a': ['1', '3'], 'b': ['2']}
    """
    for k, v in pairs:
        lst = into.get(k)
        if lst is None:
            into[k] = [v]
        else:
            lst.append(v)
    return into
