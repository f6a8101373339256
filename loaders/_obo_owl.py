"""The OBO 1.4 -> OWL mapping (https://owlcollab.github.io/oboformat/doc/obo-syntax.html, section 5).

``is_a`` -> ``rdfs:subClassOf``; ``relationship: R X`` -> ``subClassOf [R some X]``;
``intersection_of`` -> ``owl:equivalentClass [owl:intersectionOf (...)]``; synonyms with their
scope -> ``oboInOwl:has{Exact,Narrow,Broad,Related}Synonym`` (type and xrefs as axiom
annotations); ``def`` -> ``IAO:0000115``; ``xref`` -> ``oboInOwl:hasDbXref``; ``is_obsolete`` ->
``owl:deprecated``; ``replaced_by`` -> ``IAO:0100001``; ``consider``, ``subset``, ``namespace``;
Typedefs -> object properties with characteristics, ``is_a`` -> ``subPropertyOf``,
``holds_over_chain`` / ``transitive_over`` -> ``owl:propertyChainAxiom``. Shorthand relation ids
(``part_of``) take the IRI of their prefixed ``xref`` (``BFO:0000050``), as the OWL API does.

>>> from loaders.obo import parse_lines
>>> doc = parse_lines(["ontology: t", "[Term]", "id: T:2", "is_a: T:1", "relationship: part_of T:1",
...                    "[Term]", "id: T:1", "[Typedef]", "id: part_of", "xref: BFO:0000050"])
>>> m = to_owl(doc)
>>> [str(o) for s, p, o in m.triples if str(p).endswith("#onProperty>")]
['<http://purl.obolibrary.org/obo/BFO_0000050>']
>>> m.problems
[]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kg.core.errors import ParseError
from kg.core.store import BlankNode, Literal, NamedNode
from loaders.obo import Clause, OboDocument, Stanza, unquote
from ontologies.prefixes import OBO, PREFIXES

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OIO = "http://www.geneontology.org/formats/oboInOwl#"

_n = NamedNode
TYPE, LABEL, COMMENT = _n(RDF + "type"), _n(RDFS + "label"), _n(RDFS + "comment")
SUBCLASS, SUBPROP = _n(RDFS + "subClassOf"), _n(RDFS + "subPropertyOf")
CLASS, OBJPROP, ANNPROP = _n(OWL + "Class"), _n(OWL + "ObjectProperty"), _n(OWL + "AnnotationProperty")
RESTRICTION, ON_PROP, SOME = _n(OWL + "Restriction"), _n(OWL + "onProperty"), _n(OWL + "someValuesFrom")
EQUIV, INTERSECTION, UNION = _n(OWL + "equivalentClass"), _n(OWL + "intersectionOf"), _n(OWL + "unionOf")
FIRST, REST, NIL = _n(RDF + "first"), _n(RDF + "rest"), _n(RDF + "nil")
DEPRECATED, DISJOINT, INVERSE = _n(OWL + "deprecated"), _n(OWL + "disjointWith"), _n(OWL + "inverseOf")
CHAIN = _n(OWL + "propertyChainAxiom")
DEFINITION, REPLACED_BY = _n(OBO + "IAO_0000115"), _n(OBO + "IAO_0100001")
AXIOM = _n(OWL + "Axiom")
A_SOURCE, A_PROP, A_TARGET = _n(OWL + "annotatedSource"), _n(OWL + "annotatedProperty"), _n(OWL + "annotatedTarget")
XREF, SUBSET, NAMESPACE, OIO_ID = _n(OIO + "hasDbXref"), _n(OIO + "inSubset"), _n(OIO + "hasOBONamespace"), _n(OIO + "id")
SYN = {s: _n(OIO + f"has{s.title()}Synonym") for s in ("EXACT", "NARROW", "BROAD", "RELATED")}
SYN_TYPE = _n(OIO + "hasSynonymType")
TRUE = Literal("true", datatype=_n(XSD + "boolean"))
_CHARACTERISTICS = {
    "is_transitive": "TransitiveProperty", "is_symmetric": "SymmetricProperty", "is_reflexive": "ReflexiveProperty",
    "is_functional": "FunctionalProperty", "is_inverse_functional": "InverseFunctionalProperty",
    "is_asymmetric": "AsymmetricProperty",
}
_SIMPLE_ANN = {  # tag -> annotation property (literal value)
    "comment": COMMENT, "namespace": NAMESPACE, "alt_id": _n(OIO + "hasAlternativeId"),
    "consider": _n(OIO + "consider"), "created_by": _n(OIO + "created_by"),
    "creation_date": _n(OIO + "creation_date"), "expand_expression_to": _n(OIO + "expandExpressionTo"),
}
_IGNORED = {"is_anonymous", "builtin", "is_class_level", "is_metadata_tag", "id", "name", "def", "synonym",
            "xref", "is_a", "relationship", "intersection_of", "union_of", "is_obsolete", "replaced_by",
            "disjoint_from", "subset", "property_value", "equivalent_to", "inverse_of", "domain", "range",
            "holds_over_chain", "equivalent_to_chain", "transitive_over", "instance_of", "disjoint_over",
            "is_cyclic", "exact_synonym", "narrow_synonym", "broad_synonym", "related_synonym"}
#: Prefixes every OBO file may use without declaring them.
BUILTIN = {p: PREFIXES[p] for p in ("rdf", "rdfs", "owl", "xsd", "oboInOwl", "dc", "dcterms", "skos")}
BUILTIN["terms"] = PREFIXES["dcterms"]


@dataclass
class OwlMapping:
    """The result of mapping an OBO document: triples, the ontology IRI, and problems found."""

    ontology_iri: str
    triples: list[tuple] = field(default_factory=list)
    problems: list[tuple[str, int | None, str | None]] = field(default_factory=list)  # message, line, value
    declared: set[str] = field(default_factory=set)
    referenced: dict[str, int] = field(default_factory=dict)  # IRI -> first line
    unknown_prefixes: dict[str, int] = field(default_factory=dict)


class _Mapper:
    def __init__(self, doc: OboDocument) -> None:
        self.doc = doc
        self.ont = (doc.ontology or "").strip() or "unnamed"
        self.idspaces: dict[str, str] = dict(BUILTIN)
        for v in doc.header_values("idspace"):
            parts = v.split()
            if len(parts) >= 2:
                self.idspaces[parts[0]] = parts[1]
        self.shorthand: dict[str, str] = {}
        self.known_prefixes = set(PREFIXES) | set(self.idspaces) | {self.ont.upper(), self.ont}
        for st in doc.stanzas:
            if st.type == "Typedef" and ":" not in st.id:
                xr = [c.value.split()[0] for c in st.all("xref")
                      if ":" in c.value.split()[0] and not c.value.startswith(("\\", ":"))]
                if xr and not xr[0].startswith("http"):
                    self.shorthand[st.id] = self.expand(xr[0])
        iri = OBO + self.ont + (".owl" if "." not in self.ont else "")
        self.m = OwlMapping(iri)
        self.out = self.m.triples
        self.line: int | None = None  # the clause being mapped (for errors)

    # identifiers -----------------------------------------------------------------------------
    def expand(self, ident: str, *, line: int | None = None) -> str:
        if "\\" in ident:
            ident = ident.replace("\\", "")
        if ident.startswith(("http://", "https://", "urn:")):
            return ident
        if ":" in ident:
            prefix, local = ident.split(":", 1)
            if prefix in self.idspaces:
                return self.idspaces[prefix] + local
            return f"{OBO}{prefix}_{local}"
        if ident in self.shorthand:
            return self.shorthand[ident]
        return f"{OBO}{self.ont}#{ident}"

    def node(self, ident: str, line: int | None = None, *, ref: bool = True) -> NamedNode:
        iri = self.expand(ident, line=line)
        if line is not None and ref:
            self.m.referenced.setdefault(iri, line)
        try:
            return _n(iri)
        except ValueError as exc:
            raise ParseError(f"identifier {ident!r} does not make a valid IRI ({exc})",
                             source=self.doc.path, line=line, value=ident) from None

    def add(self, s, p, o) -> None:
        self.out.append((s, p, o))

    def rdf_list(self, items: Iterable) -> BlankNode | NamedNode:
        items = list(items)
        head: BlankNode | NamedNode = NIL
        for item in reversed(items):
            cell = BlankNode()
            self.add(cell, FIRST, item)
            self.add(cell, REST, head)
            head = cell
        return head

    def some(self, prop: NamedNode, filler: NamedNode) -> BlankNode:
        r = BlankNode()
        self.add(r, TYPE, RESTRICTION)
        self.add(r, ON_PROP, prop)
        self.add(r, SOME, filler)
        return r

    def annotate(self, s, p, o, anns: list[tuple]) -> None:
        self.add(s, p, o)
        if anns:
            ax = BlankNode()
            self.add(ax, TYPE, AXIOM)
            self.add(ax, A_SOURCE, s)
            self.add(ax, A_PROP, p)
            self.add(ax, A_TARGET, o)
            for ap, av in anns:
                self.add(ax, ap, av)

    def xref_list(self, text: str, line: int) -> list[tuple]:
        text = text.strip()
        if not text.startswith("[") or "]" not in text:
            return []
        inner = text[1:text.rindex("]")]
        return [(XREF, Literal(x.strip().split(" ")[0])) for x in inner.split(",") if x.strip()]

    # stanzas ---------------------------------------------------------------------------------
    def header(self) -> None:
        self.line = next((c.line for c in self.doc.header if c.tag == "ontology"), None)
        o = _n(self.m.ontology_iri)
        self.add(o, TYPE, _n(OWL + "Ontology"))
        for c in self.doc.header:
            self.line = c.line
            if c.tag == "data-version":
                dv = c.value
                self.add(o, _n(OWL + "versionIRI"), _n(f"{OBO}{self.ont}/{dv}/{self.ont}.owl"))
                self.add(o, _n(OWL + "versionInfo"), Literal(dv.rsplit("/", 1)[-1]))
            elif c.tag == "format-version":
                self.add(o, _n(OIO + "hasOBOFormatVersion"), Literal(c.value))
            elif c.tag == "default-namespace":
                self.add(o, _n(OIO + "hasDefaultNamespace"), Literal(c.value))
            elif c.tag == "remark":
                self.add(o, COMMENT, Literal(c.value))
            elif c.tag == "import":
                self.add(o, _n(OWL + "imports"), _n(self.import_iri(c.value)))
            elif c.tag == "subsetdef":
                name, rest = (c.value.split(" ", 1) + [""])[:2]
                s = self.node(name)
                self.add(s, TYPE, ANNPROP)
                self.add(s, SUBPROP, _n(OIO + "SubsetProperty"))
                if rest.strip().startswith('"'):
                    self.add(s, COMMENT, Literal(unquote(rest.strip(), path=self.doc.path, line=c.line)[0]))
            elif c.tag == "synonymtypedef":
                name, rest = (c.value.split(" ", 1) + [""])[:2]
                s = self.node(name)
                self.add(s, TYPE, ANNPROP)
                self.add(s, SUBPROP, _n(OIO + "SynonymTypeProperty"))
                if rest.strip().startswith('"'):
                    self.add(s, LABEL, Literal(unquote(rest.strip(), path=self.doc.path, line=c.line)[0]))
            elif c.tag == "property_value":
                self.property_value(o, c)

    def import_iri(self, value: str) -> str:
        if value.startswith(("http://", "https://", "file:")):
            return value
        stem = value[:-4] if value.endswith((".obo", ".owl")) else value
        return f"{OBO}{stem}.owl"

    def property_value(self, s, c: Clause) -> None:
        parts = c.value.split(" ", 1)
        if len(parts) < 2:
            self.m.problems.append(("property_value needs PROPERTY VALUE", c.line, c.value))
            return
        prop = _n(self.expand(parts[0]))
        rest = parts[1].strip()
        if rest.startswith('"'):
            text, dt = unquote(rest, path=self.doc.path, line=c.line)
            dt = dt.split()[0] if dt else ""
            val = Literal(text, datatype=_n(self.expand(dt))) if dt and dt != "xsd:string" else Literal(text)
        else:
            bits = rest.split()
            if len(bits) >= 2 and bits[1].startswith("xsd:"):
                val = Literal(bits[0], datatype=_n(self.expand(bits[1])))
            else:
                val = _n(self.expand(bits[0]))
        self.add(s, prop, val)

    def stanza(self, st: Stanza) -> None:
        path = self.doc.path
        sid = st.id
        s = self.node(sid, st.line, ref=False)
        self.m.declared.add(s.value)
        if ":" in sid and not sid.startswith("http"):
            prefix = sid.split(":", 1)[0]
            if prefix not in self.known_prefixes:
                self.m.unknown_prefixes.setdefault(prefix, st.line)
        kind = {"Term": CLASS, "Typedef": OBJPROP, "Instance": _n(OWL + "NamedIndividual")}[st.type]
        if st.type == "Typedef" and st.first("is_metadata_tag") == "true":
            kind = ANNPROP
        self.add(s, TYPE, kind)
        self.add(s, OIO_ID, Literal(sid))
        if st.type == "Typedef" and ":" not in sid:
            self.add(s, _n(OIO + "shorthand"), Literal(sid))
        inter: list[tuple[str, ...]] = []
        unions: list[str] = []
        for c in st.clauses:
            t, v = c.tag, c.value
            self.line = c.line
            if t == "name":
                self.add(s, LABEL, Literal(v))
            elif t == "def":
                text, rest = unquote(v, path=path, line=c.line)
                self.annotate(s, DEFINITION, Literal(text), self.xref_list(rest, c.line))
            elif t == "synonym":
                text, rest = unquote(v, path=path, line=c.line)
                bits = rest.split(" ", 2) if rest else []
                scope = bits[0] if bits and not bits[0].startswith("[") else "RELATED"
                if scope not in SYN:
                    raise ParseError(f"synonym scope {scope!r}; expected EXACT, NARROW, BROAD or RELATED",
                                     source=path, line=c.line, value=v)
                anns = []
                after = rest[len(scope):].strip() if rest.startswith(scope) else rest
                if after and not after.startswith("["):
                    styp, _, after = after.partition(" ")
                    anns.append((SYN_TYPE, _n(self.expand(styp))))
                anns += self.xref_list(after, c.line)
                self.annotate(s, SYN[scope], Literal(text), anns)
            elif t in ("exact_synonym", "narrow_synonym", "broad_synonym", "related_synonym"):
                text, _ = unquote(v, path=path, line=c.line)
                self.add(s, SYN[t.split("_")[0].upper()], Literal(text))
            elif t == "xref":
                self.add(s, XREF, Literal(v.split(" ")[0]))
            elif t == "is_a":
                self.add(s, SUBPROP if st.type == "Typedef" else SUBCLASS, self.node(v, c.line))
            elif t == "relationship":
                rel, target = v.split()
                self.add(s, SUBCLASS, self.some(self.node(rel, c.line), self.node(target, c.line)))
            elif t == "intersection_of":
                inter.append(tuple(v.split()))
            elif t == "union_of":
                unions.append(v)
            elif t == "disjoint_from":
                self.add(s, DISJOINT, self.node(v, c.line))
            elif t == "equivalent_to":
                self.add(s, EQUIV, self.node(v, c.line))
            elif t == "is_obsolete":
                if v == "true":
                    self.add(s, DEPRECATED, TRUE)
            elif t == "replaced_by":
                self.add(s, REPLACED_BY, self.node(v))
            elif t == "subset":
                self.add(s, SUBSET, _n(self.expand(v)))
            elif t in _SIMPLE_ANN:
                self.add(s, _SIMPLE_ANN[t], Literal(v))
            elif t == "property_value":
                self.property_value(s, c)
            elif t in _CHARACTERISTICS and v == "true":
                self.add(s, TYPE, _n(OWL + _CHARACTERISTICS[t]))
            elif t == "inverse_of":
                self.add(s, INVERSE, self.node(v, c.line))
            elif t in ("domain", "range"):
                self.add(s, _n(RDFS + t), self.node(v, c.line))
            elif t in ("holds_over_chain", "equivalent_to_chain"):
                props = v.split()
                if len(props) != 2:
                    raise ParseError(f"{t}: expects two relations, got {v!r}", source=path, line=c.line, value=v)
                self.add(s, CHAIN, self.rdf_list([self.node(p, c.line) for p in props]))
            elif t == "transitive_over":
                self.add(s, CHAIN, self.rdf_list([s, self.node(v, c.line)]))
            elif t == "instance_of":
                self.add(s, TYPE, self.node(v, c.line))
            elif t not in _IGNORED:
                self.add(s, _n(OIO + t), Literal(v))
        if inter:
            members = []
            for parts in inter:
                if len(parts) == 1:
                    members.append(self.node(parts[0], st.line))
                elif len(parts) == 2:
                    members.append(self.some(self.node(parts[0], st.line), self.node(parts[1], st.line)))
                else:
                    raise ParseError(f"intersection_of: expects 'CLASS' or 'RELATION CLASS', got {' '.join(parts)!r}",
                                     source=path, line=st.line, value=" ".join(parts))
            if len(members) < 2:
                self.m.problems.append((f"{sid}: a single intersection_of clause is not a definition "
                                        "(OBO needs at least two); ignored", st.line, sid))
            else:
                eq = BlankNode()
                self.add(eq, TYPE, CLASS)
                self.add(eq, INTERSECTION, self.rdf_list(members))
                self.add(s, EQUIV, eq)
        if unions:
            eq = BlankNode()
            self.add(eq, TYPE, CLASS)
            self.add(eq, UNION, self.rdf_list([self.node(u, st.line) for u in unions]))
            self.add(s, EQUIV, eq)


def to_owl(doc: OboDocument) -> OwlMapping:
    """Map an OBO document to OWL triples (tuples of pyoxigraph terms)."""
    try:
        mp = _Mapper(doc)
        mp.header()
        seen: dict[str, int] = {}
        for st in doc.stanzas:
            if st.id in seen and st.type == "Term":
                mp.m.problems.append((f"duplicate [Term] stanza for {st.id} (first at line {seen[st.id]}); merged",
                                      st.line, st.id))
            seen.setdefault(st.id, st.line)
            mp.line = st.line
            mp.stanza(st)
    except ParseError:
        raise
    except ValueError as exc:  # a value that makes no valid IRI (a control character, a space...)
        line = getattr(locals().get("mp"), "line", None)
        raise ParseError(f"a value that makes no valid IRI ({exc})", source=doc.path, line=line) from None
    return mp.m
