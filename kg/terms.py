"""The term API: an in-memory index over the loaded ontologies, built once from the store.

Label, definition, synonyms, xrefs, obsolete -> replacement; ancestors / descendants over chosen
predicates with distances (a walk over the nonredundant closure graphs, as OAK walks a relation
graph: for ``is_a`` plus one transitive relation this equals the entailed closure); most
informative common ancestor; search by label and synonym (exact, prefix, fuzzy; ranked);
information content, intrinsic (from the structure) and corpus-based (from annotation counts);
xref mappings between ontologies (ZFA <-> UBERON).

>>> from kg import KnowledgeGraph
>>> import tempfile, pathlib
>>> tmp = tempfile.TemporaryDirectory()  # removed at the end
>>> p = pathlib.Path(tmp.name) / "t.obo"
>>> _ = p.write_text("ontology: t\\n[Term]\\nid: T:1\\nname: fin\\n[Term]\\nid: T:2\\nname: pectoral fin\\nis_a: T:1\\n")
>>> g = KnowledgeGraph.open("oxigraph:")
>>> _ = g.load_ontology(p)
>>> g.terms.term("T:2").label, g.terms.ancestors("T:2")
('pectoral fin', {'T:1': 1})
>>> [h.curie for h in g.terms.search("pectoral")]
['T:2']
>>> tmp.cleanup()
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kg.core.errors import NotFound, UnknownPrefix, ValidationError
from kg.core.store import NamedNode, Store
from kg.term_ic import InformationContent
from kg.term_search import TermSearch, normalise
from ontologies.prefixes import RELATIONS, contract, expand

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
OIO = "http://www.geneontology.org/formats/oboInOwl#"
OBO = "http://purl.obolibrary.org/obo/"
SUBCLASS = RDFS + "subClassOf"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_SCOPES = {OIO + "hasExactSynonym": "EXACT", OIO + "hasNarrowSynonym": "NARROW",
           OIO + "hasBroadSynonym": "BROAD", OIO + "hasRelatedSynonym": "RELATED"}
_FIELDS = {RDFS + "label": "label", OBO + "IAO_0000115": "definition", OIO + "hasDbXref": "xref",
           OWL + "deprecated": "deprecated", OBO + "IAO_0100001": "replaced_by", OIO + "consider": "consider",
           RDFS + "isDefinedBy": "defined_by", OIO + "hasOBONamespace": "namespace", **_SCOPES}
DEFAULT_PREDICATES = ("is_a", "part_of")
@dataclass
class Term:
    """Everything the index knows about one term (CURIEs throughout)."""

    curie: str
    iri: str
    label: str | None = None
    definition: str | None = None
    synonyms: list[dict[str, str]] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[str] = field(default_factory=list)
    consider: list[str] = field(default_factory=list)
    ontology: str | None = None
    namespace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predicate_iri(name: str) -> str:
    """``is_a`` / ``part_of`` / a CURIE / an IRI -> predicate IRI.

    >>> predicate_iri("is_a").endswith("subClassOf")
    True
    """
    return RELATIONS.get(name) or expand(name)


class TermIndex(InformationContent, TermSearch):
    """Terms of every loaded ontology (latest version of each) and their closure graphs."""

    def __init__(self) -> None:
        self.terms: dict[str, Term] = {}
        self.up: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # iri -> pred -> [iri]
        self.down: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.subprops: dict[str, set[str]] = defaultdict(set)
        self.transitive: set[str] = set()
        self._names: dict[str, list[tuple[str, str]]] = defaultdict(list)  # normalised text -> [(iri, field)]
        self._keys: list[str] = []
        self._xref_to: dict[str, set[str]] = defaultdict(set)
        self._ic: dict[tuple[str, ...], dict[str, float]] = {}
        self.graphs: list[str] = []
        self.held: set[str] | None = None  # the only properties the closures hold (None: every one)

    # building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, store: Store) -> TermIndex:
        """Read the latest ontology graphs and their nonredundant closures from ``store``."""
        from kg.core.graphs import list_graphs

        idx = cls()
        latest: dict[tuple[str, str], Any] = {}
        for rec in list_graphs(store):
            if rec.kind in ("ontology", "closure"):
                latest[(rec.kind, rec.name)] = rec  # oldest first, so the last one wins
        onto = [r for (k, _), r in latest.items() if k == "ontology"]
        closures = [r for (k, n), r in latest.items() if k == "closure" and n.endswith("-nonredundant")]
        for rec in onto:
            idx._read_terms(store, rec.iri)
        for rec in closures:
            idx._read_edges(store, rec.iri)
        chosen = [rec.parameters.get("properties") for rec in closures]
        if chosen and None not in chosen:  # every closure was written for a chosen few properties
            idx.held = set().union(*chosen)
        if not closures:  # no closure computed: fall back to told named subClassOf edges
            for rec in onto:
                for q in store.quads(None, NamedNode(SUBCLASS), None, rec.iri):
                    if isinstance(q.object, NamedNode) and isinstance(q.subject, NamedNode):
                        idx._edge(q.subject.value, SUBCLASS, q.object.value)
        for rec in onto:
            for q in store.quads(None, NamedNode(RDFS + "subPropertyOf"), None, rec.iri):
                if isinstance(q.object, NamedNode):
                    idx.subprops[q.object.value].add(q.subject.value)
            idx.transitive |= {q.subject.value for q in store.quads(
                None, NamedNode(RDF_TYPE), NamedNode(OWL + "TransitiveProperty"), rec.iri)}
        idx.graphs = [r.iri for r in onto + closures]
        idx.index_names()
        return idx

    def _read_terms(self, store: Store, graph: str) -> None:
        classes = {q.subject.value for q in store.quads(None, NamedNode(RDF_TYPE), NamedNode(OWL + "Class"), graph)
                   if isinstance(q.subject, NamedNode)}
        for iri in sorted(classes):  # IRI order, not set order: the index (and its file) the same in every process
            if iri not in self.terms:
                self.terms[iri] = Term(contract(iri), iri)
        for pred, fld in _FIELDS.items():
            for q in store.quads(None, NamedNode(pred), None, graph):
                t = self.terms.get(q.subject.value) if isinstance(q.subject, NamedNode) else None
                if t is None:
                    continue
                v = q.object.value
                if fld == "label":
                    t.label = t.label or v
                elif fld == "definition":
                    t.definition = t.definition or v
                elif fld == "xref":
                    if v not in t.xrefs:
                        t.xrefs.append(v)
                elif fld == "deprecated":
                    t.obsolete = t.obsolete or v in ("true", "1")
                elif fld in ("replaced_by", "consider"):
                    getattr(t, fld).append(contract(v) if isinstance(q.object, NamedNode) else v)
                elif fld == "defined_by":
                    t.ontology = t.ontology or v
                elif fld == "namespace":
                    t.namespace = t.namespace or v
                else:
                    syn = {"text": v, "scope": fld}
                    if syn not in t.synonyms:
                        t.synonyms.append(syn)

    def _edge(self, s: str, p: str, o: str) -> None:
        self.up[s][p].append(o)
        self.down[o][p].append(s)

    def _read_edges(self, store: Store, graph: str) -> None:
        for q in store.quads(None, None, None, graph):
            self._edge(q.subject.value, q.predicate.value, q.object.value)

    def index_names(self) -> None:
        """Derived lookups (names and synonyms to terms, xrefs) from the terms read (or loaded)."""
        for iri, t in self.terms.items():
            if t.label:
                self._names[normalise(t.label)].append((iri, "label"))
            for s in t.synonyms:
                self._names[normalise(s["text"])].append((iri, s["scope"]))
            for x in t.xrefs:
                self._xref_to[x].add(iri)
        self._keys = sorted(self._names)

    def name_index(self) -> tuple[dict[str, list[tuple[str, str]]], list[str], dict[str, set[str]]]:
        """What :meth:`index_names` derives: normalised text -> [(term IRI, field)], the texts
        sorted, xref -> term IRIs (:mod:`kg.term_cache` keeps them in the index file)."""
        return self._names, self._keys, self._xref_to

    def set_name_index(self, names: dict[str, list[tuple[str, str]]], keys: list[str],
                       xref_to: dict[str, set[str]]) -> None:
        """Take the lookups :meth:`name_index` gave (read back instead of derived again)."""
        self._names.clear()
        self._names.update(names)
        self._keys = keys
        self._xref_to.clear()
        self._xref_to.update(xref_to)

    # lookup --------------------------------------------------------------------------------
    def iri(self, ref: str) -> str:
        """A CURIE or IRI of a known term -> its IRI (NotFound otherwise)."""
        iri = self._expand(ref)
        if iri not in self.terms and iri not in self.up and iri not in self.down:
            raise NotFound(f"no term {ref!r} in the loaded ontologies ({len(self.terms)} terms)")
        return iri

    @staticmethod
    def _expand(ref: str) -> str:
        """CURIE -> IRI; an OBO-style CURIE with a prefix not in the map -> its OBO PURL."""
        try:
            return expand(ref)
        except UnknownPrefix:
            m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*):([^\s:/]+)", ref.strip())
            if not m:
                raise
            return f"{OBO}{m.group(1)}_{m.group(2)}"

    def term(self, ref: str) -> Term:
        """The term record for a CURIE or IRI.

        Obsolete terms come back with ``obsolete=True`` and their ``replaced_by`` / ``consider``.
        """
        iri = self.iri(ref)
        return self.terms.get(iri) or Term(contract(iri), iri)

    def __contains__(self, ref: str) -> bool:
        try:
            self.iri(ref)
            return True
        except Exception:
            return False

    def __len__(self) -> int:
        return len(self.terms)

    def label(self, ref: str) -> str | None:
        return self.term(ref).label

    def replacement(self, ref: str) -> str | None:
        """The term an obsolete term was replaced by (None if none, or if it is not obsolete)."""
        t = self.term(ref)
        return t.replaced_by[0] if t.obsolete and t.replaced_by else None

    # graph walks ---------------------------------------------------------------------------
    def _preds(self, predicates: Sequence[str] | None) -> set[str]:
        out: set[str] = set()
        todo = [predicate_iri(p) for p in (predicates or DEFAULT_PREDICATES)]
        if self.held is not None:
            held = self.held
            missing = [contract(p) for p in todo if p != SUBCLASS and p not in held]
            if missing:
                raise ValidationError(f"the loaded closures were materialised for {', '.join(map(contract, sorted(held)))} "
                                      f"only, not {', '.join(missing)}; run `traitkg closure` again without "
                                      f"--properties (or with them) to walk these")
        while todo:
            p = todo.pop()
            if p not in out:
                out.add(p)
                todo.extend(self.subprops.get(p, ()))
        return out

    def _walk(self, iri: str, preds: set[str], adj: Mapping[str, Mapping[str, list[str]]]) -> dict[str, int]:
        """Plain BFS over edges whose predicate is in ``preds`` (used for is_a)."""
        dist = {iri: 0}
        queue = deque([iri])
        while queue:
            x = queue.popleft()
            d = dist[x] + 1
            for p, targets in adj.get(x, {}).items():
                if p in preds:
                    for y in targets:
                        if y not in dist:
                            dist[y] = d
                            queue.append(y)
        del dist[iri]
        return dist

    def _walk_rel(self, iri: str, group: set[str], transitive: bool, adj: Mapping[str, Mapping[str, list[str]]],
                  reverse: bool) -> dict[str, int]:
        """Entailed ``P`` neighbours over the nonredundant graph: ``is_a* P (is_a | P if transitive)*``
        (reversed for descendants), as a BFS over (node, phase) states."""
        dist: dict[str, int] = {}
        seen = {(iri, 0)}
        queue = deque([(iri, 0, 0)])
        while queue:
            x, phase, d = queue.popleft()
            for p, targets in adj.get(x, {}).items():
                isa, rel = p == SUBCLASS, p in group
                if not (isa or rel):
                    continue
                moves = []
                if not reverse:
                    if isa:
                        moves.append(phase)
                    if rel and (phase == 0 or transitive):
                        moves.append(1)
                else:
                    if isa:
                        moves.append(phase)
                    if rel:
                        if phase == 0:
                            moves.append(1)
                            if transitive:
                                moves.append(0)
                for y in targets:
                    for ph in moves:
                        if (y, ph) not in seen:
                            seen.add((y, ph))
                            queue.append((y, ph, d + 1))
                            if ph == 1 and y not in dist and y != iri:
                                dist[y] = d + 1
        return dist

    def _entailed(self, iri: str, predicates: Sequence[str] | None, adj: Mapping[str, Mapping[str, list[str]]],
                  reverse: bool) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in predicates or DEFAULT_PREDICATES:
            p = predicate_iri(name)
            d = self._walk(iri, {SUBCLASS}, adj) if p == SUBCLASS else \
                self._walk_rel(iri, self._preds([p]), p in self.transitive, adj, reverse)
            for k, v in d.items():
                if k not in out or v < out[k]:
                    out[k] = v
        return out

    def ancestors(self, ref: str, predicates: Sequence[str] | None = None, *, iris: bool = False) -> dict[str, int]:
        """Entailed ancestors over ``predicates`` (default is_a + part_of; sub-properties included):
        the union of ``A SubClassOf P some X`` for each P, with the distance in edges of the
        nonredundant graph."""
        d = self._entailed(self.iri(ref), predicates, self.up, False)
        return d if iris else {contract(k): v for k, v in d.items()}

    def descendants(self, ref: str, predicates: Sequence[str] | None = None, *, iris: bool = False) -> dict[str, int]:
        """Descendants over ``predicates`` with distances (see :meth:`ancestors`)."""
        d = self._entailed(self.iri(ref), predicates, self.down, True)
        return d if iris else {contract(k): v for k, v in d.items()}

    # mappings ------------------------------------------------------------------------------
    def mappings(self, ref: str, target: str | None = None) -> list[str]:
        """Terms linked to ``ref`` by xrefs in either direction (optionally only one target prefix).

        ZFA -> UBERON uses UBERON's xrefs to ZFA; UBERON -> ZFA uses both directions.
        """
        iri = self.iri(ref)
        t = self.terms.get(iri)
        curie = contract(iri)
        out = set(t.xrefs if t else [])
        out |= {contract(i) for i in self._xref_to.get(curie, ())}
        if target:
            out = {c for c in out if c.split(":", 1)[0].upper() == target.upper()}
        return sorted(out)


def term_curies(index: TermIndex, refs: Iterable[str]) -> list[str]:
    """Normalise references to CURIEs of known terms (raises NotFound for unknown ones)."""
    return [contract(index.iri(r)) for r in refs]
