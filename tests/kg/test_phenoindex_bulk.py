"""The phenotype index and the inference graph read and written in bulk are what the quad-by-quad
reading gives (a reference reader below, one ``Quad`` per row as the index was first built)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from kg.core.graphs import TKG
from kg.core.store import NamedNode, RdfFormat, parse_rdf
from kg.phenoindex import LABEL, OBO, PART_OF, SUB, CellRec, Pheno, PhenotypeIndex

ANAT = "kg/sample/fish-anatomy-slim.ttl"


def reference_index(store) -> PhenotypeIndex:
    """The index read one quad at a time, in the engine's order for each pattern."""
    from kg.core.graphs import list_graphs

    idx = PhenotypeIndex(phenotype_graphs=list_graphs(store, kind="phenotypes"),
                         closure_graphs=[g for g in list_graphs(store, kind="closure")
                                         if not g.name.endswith("-nonredundant")])

    def pairs(g, p):
        return [(q.subject.value, q.object.value) for q in store.quads(None, NamedNode(p), None, g)]

    for rec in idx.phenotype_graphs:
        g = rec.iri
        ot = pairs(g, TKG + "taxon")
        idx.otu_taxon.update(ot)
        for tx in {tx for _, tx in ot} - idx.labels.keys():
            for q in store.quads(NamedNode(tx), NamedNode(LABEL), None, g):
                idx.labels[tx] = q.object.value
                break
        for s, p in pairs(g, TKG + "describesPhenotype"):
            idx.state_phenotypes.setdefault(s, []).append(p)
        qual, rel = dict(pairs(g, TKG + "quality")), dict(pairs(g, TKG + "relatedEntity"))
        cnt = {s: int(o) for s, o in pairs(g, TKG + "count")}
        for p, e in pairs(g, TKG + "entity"):
            idx.phenotypes.setdefault(p, Pheno(p, e, qual.get(p), rel.get(p), cnt.get(p)))
        for p, q in qual.items():
            idx.phenotypes.setdefault(p, Pheno(p, None, q, rel.get(p), cnt.get(p)))
        for c, _ in pairs(g, TKG + "expression"):
            if c not in idx.composed:
                idx.composed[c] = [(q.predicate.value, q.object.value) for q in store.quads(NamedNode(c), None, None, g)
                                   if q.predicate.value == SUB or q.predicate.value.startswith(OBO)]
        cell_otu, kinds = dict(pairs(g, TKG + "otu")), dict(pairs(g, TKG + "stateSetKind"))
        states: dict[str, list[str]] = {}
        for c, s in pairs(g, TKG + "state"):
            states.setdefault(c, []).append(s)
        for cell, sts in states.items():
            tx = idx.otu_taxon.get(cell_otu[cell])
            if tx is not None:
                idx.taxa.setdefault(tx, idx.labels.get(tx, tx))
                idx.cells.append(CellRec(tx, cell_otu[cell], sts, kinds.get(cell, "single")))
    wanted = idx.corpus_terms()
    isa: dict[str, set[str]] = defaultdict(set)
    anc: dict[str, set[str]] = defaultdict(set)
    for rec in idx.closure_graphs:
        for pred, target in ((SUB, isa), (PART_OF, anc)):
            for q in store.quads(None, NamedNode(pred), None, rec.iri):
                if q.subject.value in wanted:
                    target[q.subject.value].add(q.object.value)
    for s, sup in isa.items():
        anc[s] |= sup
    changed = True  # post-composed classes take their fillers' ancestors, to a fixpoint (any order)
    while changed:
        changed = False
        for c, diffs in idx.composed.items():
            a, i = anc[c], isa[c]
            before = len(a), len(i)
            for p, o in diffs:
                if p == SUB:
                    i.add(o)
                    i |= isa.get(o, set())
                if p in (SUB, PART_OF):
                    a.add(o)
                    a |= anc.get(o, set())
            changed |= (len(a), len(i)) != before
    idx.isa, idx.anc = dict(isa), dict(anc)
    return idx


def assert_same_index(got: PhenotypeIndex, want: PhenotypeIndex, *, ordered: bool = True) -> None:
    """The same index; ``ordered``: in the same order too (two bulk readings), else up to the order
    the engine happened to give (the reference's)."""
    for f in ("taxa", "otu_taxon", "labels", "composed", "isa", "anc", "phenotypes"):
        g, w = getattr(got, f), getattr(want, f)
        if f == "composed" and not ordered:
            g, w = ({k: sorted(v) for k, v in d.items()} for d in (g, w))
        assert g == w, f
        if ordered:
            assert list(g) == list(w), f"{f}: same keys, another order"
    if ordered:
        assert got.state_phenotypes == want.state_phenotypes and got.cells == want.cells
    else:
        assert ({k: sorted(v) for k, v in got.state_phenotypes.items()}
                == {k: sorted(v) for k, v in want.state_phenotypes.items()})
        def key(c):
            return c.taxon, c.otu, tuple(sorted(c.states)), c.kind
        assert sorted(map(key, got.cells)) == sorted(map(key, want.cells))
    assert [r.iri for r in got.phenotype_graphs] == [r.iri for r in want.phenotype_graphs]


def triples(quads) -> set:
    return {(q.subject, q.predicate, q.object) for q in quads}


def check_load(kg, written: int | None = None) -> int:
    """After a load: the index from the load's N-Triples equals the one read from the store, and
    both equal the quad-by-quad reading; the inference graph written holds exactly the triples the
    reference index gives."""
    from kg.traits import call_quads, compute_calls
    from kg.traits.queries import Traits

    parts = kg._cache["phenoparts"]
    store = kg.store
    graphs = [r.iri for r in PhenotypeIndex.build(store).phenotype_graphs]
    if written is None:  # every phenotype graph was written by the last load
        assert set(parts) == set(graphs)
    else:  # the others are read back from the store
        assert len(parts) == written and set(parts) < set(graphs)
    from_load, from_store = PhenotypeIndex.build(store, parts), PhenotypeIndex.build(store)
    assert_same_index(from_load, from_store)
    ref = reference_index(store)
    assert_same_index(from_load, ref, ordered=False)
    rec = kg.infer_traits()  # the path a load takes: the index from the parts the load left
    got = triples(store.quads(None, None, None, rec.iri))
    tr = Traits(store, {"phenoindex": ref})
    want = triples(call_quads(compute_calls(ref), rec.iri, tr.conflicts_keys()))
    assert got == want
    return len(got)


def test_index_equals_the_quad_by_quad_reading_on_the_toy_world(mem_kg, toy):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes([toy / "phenotypes" / "toy.xml", "kg/sample/phenotypes.xml"])
    ref = reference_index(mem_kg.store)
    assert ref.cells and ref.composed and ref.anc and any(len(c.states) > 1 for c in ref.cells)
    assert check_load(mem_kg) > 100


@pytest.mark.slow
def test_index_and_inference_equal_the_reference_on_the_shared_matrices(mem_kg, shared):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(shared / "phenoscape-data" / "nexml", lenient=True)
    ref = reference_index(mem_kg.store)
    assert len(ref.phenotype_graphs) == 47 and len(ref.cells) > 10_000
    assert check_load(mem_kg) > 10_000


def test_a_second_load_reads_the_graphs_loaded_before_from_the_store(mem_kg, toy):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    mem_kg.load_phenotypes("kg/sample/phenotypes.xml")
    assert check_load(mem_kg, written=1) > 100  # only the graph this load wrote comes from its N-Triples


def test_bulk_reading_handles_escaped_literals(mem_kg, toy, tmp_path):
    """Labels with quotes, backslashes and non-ASCII characters come back as written."""
    text = (toy / "phenotypes" / "toy.xml").read_text().replace('label=" Danio  rerio"', 'label="Danio &quot;rérío&quot;\\\\ tab\tx"')
    assert text != (toy / "phenotypes" / "toy.xml").read_text()
    (tmp_path / "esc.xml").write_text(text)
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(tmp_path / "esc.xml")
    want = reference_index(mem_kg.store)
    assert any('"' in v and "\\" in v for v in want.labels.values())
    assert check_load(mem_kg) > 10


def test_parse_rdf_of_the_written_graph(mem_kg, toy):  # the N-Triples the bulk path writes parse back
    from kg.traits import call_ntriples

    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    tr = mem_kg.traits
    data = call_ntriples(tr.calls(), tr.conflicts_keys())
    assert len(list(parse_rdf(data, RdfFormat.N_TRIPLES))) == data.count(b"\n")


def test_a_nested_post_composed_class_has_its_fillers_ancestors_whatever_the_order(mem_kg):
    """A post-composed class whose genus is another post-composed class gets that class's ancestors
    (and so the named classes above it), whichever of the two was read first."""
    from kg.core.graphs import list_graphs

    mem_kg.load_ontology(ANAT)
    store = mem_kg.store
    closure = [g for g in list_graphs(store, kind="closure") if not g.name.endswith("-nonredundant")]
    base = next(q.subject.value for g in closure for q in store.quads(None, NamedNode(SUB), None, g.iri)
                if q.subject.value.startswith(OBO) and q.object.value.startswith(OBO)
                and q.subject.value != q.object.value)
    named = {q.object.value for g in closure for q in store.quads(NamedNode(base), NamedNode(SUB), None, g.iri)}
    inner, outer = "urn:x:inner", "urn:x:outer"
    axioms = {inner: [(SUB, base), (PART_OF, base)], outer: [(SUB, inner)]}
    for order in ([outer, inner], [inner, outer]):
        idx = PhenotypeIndex(closure_graphs=closure, composed={c: axioms[c] for c in order})
        idx._read_closure(store)
        assert {inner, base} | named <= idx.isa[outer], order
        assert {inner, base} | named <= idx.anc[outer], order


def _graphs_of(kg) -> dict:
    """Each phenotype and inference graph: its record (the manifest answers derived_from in no set
    order) and its content with canonical blank node labels."""
    from kg.core.store import canonical_nquads

    recs = kg.graphs(kind="phenotypes") + kg.graphs(kind="inference")
    return {r.iri: ((r.version, r.sha256, r.triples, sorted(r.derived_from)),
                    canonical_nquads(kg.store.quads(None, None, None, r.iri))) for r in recs}


def check_inference_in_the_batch(batches: list[list], tmp_path) -> None:
    """``load_phenotypes(infer=True)`` (the CLI's path: the inference graph in the matrices' batch, from
    records not listed yet) writes the graphs and records that a load, then ``infer_traits``, writes."""
    from kg import KnowledgeGraph

    a, b = KnowledgeGraph.open("oxigraph:"), KnowledgeGraph.open(f"oxigraph:{tmp_path / 'b'}")
    for g in (a, b):
        g.load_ontology(ANAT)
    for paths in batches:
        a.load_phenotypes(paths, lenient=True)
        want = a.infer_traits()
        got = b.load_phenotypes(paths, lenient=True, infer=True).inference
        assert (got.iri, got.sha256, got.triples, got.derived_from, got.status) == (
            want.iri, want.sha256, want.triples, want.derived_from, "loaded")
        assert _graphs_of(b) == _graphs_of(a)
    again = b.load_phenotypes(batches[-1], lenient=True, infer=True)  # the same batch again: nothing written
    assert {r.status for r in again} == {"unchanged"} and again.inference.status == "unchanged"
    assert _graphs_of(b) == _graphs_of(a)


@pytest.mark.parametrize("second", [False, True])
def test_the_inference_made_in_the_load_batch_equals_infer_after_it(second, toy, tmp_path):
    files = [toy / "phenotypes" / "toy.xml", "kg/sample/phenotypes.xml"]
    # one batch; or two, the second's index reading the first's graph from the store
    check_inference_in_the_batch([files[:1], files[1:]] if second else [files], tmp_path)


@pytest.mark.slow
def test_the_inference_made_in_the_load_batch_on_the_shared_matrices(shared, tmp_path):
    check_inference_in_the_batch([[shared / "phenoscape-data" / "nexml"]], tmp_path)
