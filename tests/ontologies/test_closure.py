"""Closure correctness: toy semantics, ZFA/BSPO against an independent networkx computation,
UBERON 2015 sanity."""

from __future__ import annotations

import re
from collections import defaultdict

import networkx as nx
import pytest

from ontologies.closure import Axioms, compute

OBO = "http://purl.obolibrary.org/obo/"
PART_OF = OBO + "BFO_0000050"
SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def test_toy_closure_semantics(mem_kg, toy):
    mem_kg.load_ontology(toy / "ontologies" / "toy.obo")
    t = mem_kg.terms
    # R ∘ subClassOf and transitivity: pectoral fin ray part_of pectoral fin, fin, body
    assert set(t.ancestors("TOY:0000005", ["part_of"])) == {"TOY:0000003", "TOY:0000002", "TOY:0000006", "TOY:0000001"}
    # subClassOf ∘ R: pectoral fin is a fin, fin part_of body
    assert t.ancestors("TOY:0000003", ["part_of"]) == {"TOY:0000006": 2, "TOY:0000001": 3}
    # defined class recognised: pectoral fin ray ≡> pectoral fin structure (structure and part_of pectoral fin)
    assert "TOY:0000007" in t.ancestors("TOY:0000005", ["is_a"])
    # transitive_over: fin bud develops_from LPM, LPM part_of body => develops_from body
    assert set(t.ancestors("TOY:0000008", ["develops_from"])) == {"TOY:0000009", "TOY:0000006", "TOY:0000001"}
    assert set(t.descendants("TOY:0000006", ["part_of"])) >= {"TOY:0000002", "TOY:0000005", "TOY:0000009"}
    red = mem_kg.graph("closure/toy").iri
    assert mem_kg.query("ASK { GRAPH <%s> { <%sTOY_0000005> <%s> <%sTOY_0000006> } }" % (red, OBO, PART_OF, OBO))
    nonred = mem_kg.graph("closure/toy-nonredundant").iri
    assert not mem_kg.query("ASK { GRAPH <%s> { <%sTOY_0000005> <%s> <%sTOY_0000006> } }" % (nonred, OBO, PART_OF, OBO))
    # non-reflexive
    assert not mem_kg.query("ASK { GRAPH ?g { ?x ?p ?x } FILTER(STRSTARTS(STR(?g), STR(<%s>))) }"
                            % red.rsplit("/", 2)[0])


def test_closure_restricted_to_chosen_properties(mem_kg, toy):
    """--closure-properties: only is_a and the chosen properties are written, each edge exactly as
    in the full closure; the manifest says so and the term API refuses walks it cannot answer."""
    from kg.core.errors import ValidationError

    def edges(g: str) -> set[tuple[str, str, str]]:
        return {(q.subject.value, q.predicate.value, q.object.value) for q in mem_kg.store.quads(None, None, None, g)}

    full = mem_kg.load_ontology(toy / "ontologies" / "toy.obo")
    everything = edges(mem_kg.graph("closure/toy").iri)
    res = mem_kg.closure([full.graph], name="toy-po", version="1", properties=["part_of"])
    assert res.properties == [PART_OF] and mem_kg.graph("closure/toy-po").parameters["properties"] == [PART_OF]
    some = edges(res.graph)
    assert some == {e for e in everything if e[1] in (SUB, PART_OF)}
    assert any(e[1] == PART_OF for e in some) and any(e[1] not in (SUB, PART_OF) for e in everything)
    mem_kg.drop("closure/toy")
    mem_kg.drop("closure/toy-nonredundant")
    t = mem_kg.terms
    assert set(t.ancestors("TOY:0000005", ["part_of"])) == {"TOY:0000003", "TOY:0000002", "TOY:0000006",
                                                             "TOY:0000001"}
    with pytest.raises(ValidationError, match="develops_from|RO:0002202"):
        t.ancestors("TOY:0000008", ["develops_from"])


def test_property_chain_and_subproperty():
    T = "http://www.w3.org/2002/07/owl#TransitiveProperty"
    ax = Axioms.from_triples([
        ("A", SUB, "_:1"), ("_:1", "http://www.w3.org/2002/07/owl#onProperty", "q"),
        ("_:1", "http://www.w3.org/2002/07/owl#someValuesFrom", "B"),
        ("B", SUB, "_:2"), ("_:2", "http://www.w3.org/2002/07/owl#onProperty", "r"),
        ("_:2", "http://www.w3.org/2002/07/owl#someValuesFrom", "C"),
        ("q", "http://www.w3.org/2000/01/rdf-schema#subPropertyOf", "p"),
        ("s", "http://www.w3.org/2002/07/owl#propertyChainAxiom", "_:l1"),
        ("_:l1", "http://www.w3.org/1999/02/22-rdf-syntax-ns#first", "p"),
        ("_:l1", "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest", "_:l2"),
        ("_:l2", "http://www.w3.org/1999/02/22-rdf-syntax-ns#first", "r"),
        ("_:l2", "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest", "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil"),
        ("p", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", T),
    ])
    c = compute(ax)
    assert c.related("A", "q") == {"B"} and c.related("A", "p") == {"B"}  # sub-property
    assert c.related("A", "s") == {"C"}  # q ⊑ p, p ∘ r ⊑ s


def _reference_ancestors(path) -> tuple[dict[str, set[str]], set[str]]:
    """Independent: regex over the OBO text + networkx. Edges: is_a, part_of and its sub-properties,
    intersection_of genus/differentia; plus brute-force recognition of intersection_of definitions."""
    text = path.read_text()
    stanzas = re.split(r"\n(?=\[)", text)
    shorthand: dict[str, str] = {}
    sub_of_part: set[str] = set()
    for st in stanzas:
        if st.startswith("[Typedef]"):
            sid = re.search(r"^id: (\S+)", st, re.M).group(1)
            xr = re.search(r"^xref: ([A-Z]+:\d+)", st, re.M)
            shorthand[sid] = xr.group(1) if xr and ":" not in sid else sid
            for parent in re.findall(r"^is_a: (\S+)", st, re.M):
                sub_of_part.add(sid) if parent in ("part_of", "BFO:0000050") else None
    part = {"BFO:0000050"} | {shorthand.get(s, s) for s in sub_of_part}
    # sub-properties of sub-properties
    g = nx.DiGraph()
    terms, obsolete, defs = set(), set(), []
    for st in stanzas:
        if not st.startswith("[Term]"):
            continue
        tid = re.search(r"^id: (\S+)", st, re.M).group(1)
        terms.add(tid)
        g.add_node(tid)
        if re.search(r"^is_obsolete: true", st, re.M):
            obsolete.add(tid)
        for parent in re.findall(r"^is_a: (\S+)", st, re.M):
            g.add_edge(tid, parent)
        for rel, target in re.findall(r"^relationship: (\S+) (\S+)", st, re.M):
            if shorthand.get(rel, rel) in part:
                g.add_edge(tid, target, rel="part_of")
        inter = re.findall(r"^intersection_of: (\S+)(?: (\S+))?", st, re.M)
        genus = [a for a, b in inter if not b]
        diffs = [(shorthand.get(a, a), b) for a, b in inter if b]
        for x in genus:
            g.add_edge(tid, x)
        for rel, target in diffs:
            if rel in part:
                g.add_edge(tid, target, rel="part_of")
        if len(inter) >= 2:
            defs.append((tid, genus, diffs))
    # brute-force recognition of definitions over part_of/is_a until nothing changes
    changed = True
    while changed:
        changed = False
        anc = {t: nx.descendants(g, t) for t in terms}
        for d, genus, diffs in defs:
            if any(r not in part for r, _ in diffs):
                continue
            for x in terms - {d} - obsolete:
                if d in anc[x]:
                    continue
                if all(gg in anc[x] for gg in genus) and all(t in anc[x] for _, t in diffs):
                    # X under every genus and reaching each differentia through a path containing part_of
                    ok = all(any(g.edges[u, v].get("rel") for u, v in zip(p[:-1], p[1:]))
                             for _, t in diffs for p in [nx.shortest_path(g, x, t)])
                    if ok:
                        g.add_edge(x, d)
                        changed = True
    return {t: nx.descendants(g, t) for t in terms - obsolete}, terms


@pytest.mark.slow
@pytest.mark.parametrize("rel, lenient", [("zfa/zfa.obo", False), ("bspo/bspo.obo", True)])
def test_is_a_part_of_ancestors_match_networkx(shared, mem_kg, rel, lenient):
    from ontologies.prefixes import contract

    mem_kg.load_ontology(shared / rel, lenient=lenient)
    ref, _ = _reference_ancestors(shared / rel)
    idx = mem_kg.terms
    red = mem_kg.graphs(kind="closure")[0].iri
    closure: dict[str, set[str]] = defaultdict(set)
    for q in mem_kg.store.quads(None, None, None, red):
        if q.predicate.value in (SUB, PART_OF):
            closure[contract(q.subject.value)].add(contract(q.object.value))
    mismatches = {}
    for t, expected in ref.items():
        expected = {x for x in expected if x in ref or not x.startswith(t.split(":")[0])}
        ours = set(idx.ancestors(t, ["is_a", "part_of"]))
        if ours != expected or closure.get(t, set()) != expected:
            mismatches[t] = (sorted(expected ^ ours), sorted(expected ^ closure.get(t, set())))
    assert len(ref) > 100 and not mismatches, list(mismatches.items())[:5]


@pytest.mark.slow
def test_uberon_2015_closure(shared, mem_kg):
    r = mem_kg.load_ontology(shared / "uberon" / "uberon-2015-05-25.owl.gz")
    assert r.counts["classes"] == 14237 and r.counts["closure_triples"] > 1_000_000
    t = mem_kg.terms
    # pectoral fin radial (UBERON:2001586?) is checked through labels to avoid guessing ids
    pf = t.search("pectoral fin", limit=1)[0].curie
    assert pf == "UBERON:0000151"
    parts = t.descendants(pf, ["part_of"])
    assert len(parts) > 20 and all(d >= 1 for d in parts.values())
    fin_ray = t.search("pectoral fin lepidotrichium", limit=1)[0].curie
    assert pf in t.ancestors(fin_ray, ["part_of"])
    # ZFA <-> UBERON through UBERON's xrefs
    assert "ZFA:0001161" in t.mappings("UBERON:0000151", "ZFA")


def test_ntriples_chunks_equal_triples(mem_kg, toy):
    """The fast writer emits exactly Closure.triples(), in chunks, with exact counts."""
    from kg.core.store import RdfFormat, parse_rdf
    from ontologies.closure import ntriples_chunks, read_axioms

    r = mem_kg.load_ontology(toy / "ontologies" / "toy.obo")
    c = compute(read_axioms(mem_kg.store, [r.graph]))
    for nonred in (False, True):
        expected = {(c.names[i], p, c.names[j]) for i, p, j in c.triples(nonredundant=nonred)}
        chunks = list(ntriples_chunks(c, nonredundant=nonred, chunk=3))
        got = [(t.subject.value, t.predicate.value, t.object.value)
               for data, _ in chunks for t in parse_rdf(data, RdfFormat.N_TRIPLES)]
        assert len(chunks) > 1 and len(got) == len(set(got)) == sum(n for _, n in chunks)
        assert set(got) == expected
    nonred_graph = mem_kg.graph("closure/toy-nonredundant").iri
    assert mem_kg.store.count(nonred_graph) == r.counts["nonredundant_triples"] == len(
        list(c.triples(nonredundant=True)))
    assert mem_kg.store.count(mem_kg.graph("closure/toy").iri) == r.counts["closure_triples"]
