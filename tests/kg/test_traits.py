"""Presence/absence inference, evidence, trait queries, conflicts and OntoTrace matrices."""

from __future__ import annotations

import json

import pytest

from kg.core.errors import NotFound
from kg.core.store import NamedNode

ANAT = "kg/sample/fish-anatomy-slim.ttl"
UB = "http://purl.obolibrary.org/obo/UBERON_"


@pytest.fixture
def toy_kg(mem_kg, toy):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    return mem_kg


@pytest.fixture
def sample_kg(mem_kg):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes("kg/sample/phenotypes.xml")
    return mem_kg


def calls_of(g, taxon):
    return {(c["entity"], c["value"]): c for c in g.traits.traits_of(taxon) if c["kind"] != "phenotype"}


def test_presence_of_a_part_implies_the_whole_with_evidence(toy_kg):
    c = calls_of(toy_kg, "Danio rerio")
    assert c[("UBERON:4000175", "present")]["tier"] == "asserted"          # branched rays
    fin = c[("UBERON:0000151", "present")]                                  # pectoral fin: only inferred
    assert fin["tier"] == "inferred" and fin["inferred_from"] == ["UBERON:4000175"]
    ev = fin["evidence"][0]
    assert (ev["matrix_title"], ev["character_number"], ev["symbol"], ev["citation"]) == \
        ("Toy 2026", 2, "1", "Toy, A. (2026). A toy matrix.")
    assert ev["publication"] == "https://doi.org/10.1000/toy.1"
    assert ("UBERON:0000151", "absent") not in c


def test_absence_of_a_whole_implies_absence_of_parts_and_subtypes(sample_kg):
    c = calls_of(sample_kg, "Danio rerio")
    # pectoral fin spine absent -> the post-composed "spine part_of pectoral fin" is absent too
    composed = [k for k in c if k[1] == "absent" and c[k]["entity_label"].startswith("pectoral fin spine and")]
    assert composed and c[composed[0]]["tier"] == "inferred"
    assert c[composed[0]]["inferred_from"] == ["UBERON:2001787"]


def test_polymorphic_and_uncertain_cells(toy_kg):
    s = calls_of(toy_kg, "Silurus glanis")
    # polymorphic {absent, present}: both calls, flagged polymorphic, not a conflict
    assert s[("UBERON:0000152", "present")]["polymorphic"] and s[("UBERON:0000152", "absent")]["polymorphic"]
    assert not any(r["taxon"] == "Silurus glanis" and r["entity"] == "UBERON:0000152"
                   for r in toy_kg.traits.conflicts())
    # uncertain {unbranched, branched}: rays are present either way
    assert s[("UBERON:4000175", "present")]["tier"] == "asserted"
    assert s[("UBERON:4000175", "present")]["polymorphic"] is False


def test_conflicts_are_reported(mem_kg, toy, tmp_path):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    other = (toy / "phenotypes" / "toy.xml").read_text().replace(
        '<cell char="ch1" state="s1b"/>', '<cell char="ch1" state="s1a"/>').replace("Toy 2026", "Other 2027")
    (tmp_path / "other.xml").write_text(other)
    mem_kg.load_phenotypes(tmp_path / "other.xml")
    conf = mem_kg.traits.conflicts()
    hit = [r for r in conf if r["taxon"] == "Danio rerio" and r["entity"] == "UBERON:0000152"]
    assert len(hit) == 1
    assert {e["matrix_title"] for e in hit[0]["present"]["evidence"]} == {"Toy 2026"}
    assert {e["matrix_title"] for e in hit[0]["absent"]["evidence"]} == {"Other 2027"}


def test_infer_writes_a_derived_graph_with_provenance(toy_kg):
    rec = toy_kg.infer_traits()
    assert rec.kind == "inference" and rec.status == "loaded"
    kinds = {toy_kg.graph(i).kind for i in rec.derived_from}
    assert kinds == {"phenotypes", "closure"}
    assert toy_kg.infer_traits().status == "unchanged"
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?tier (COUNT(?src) AS ?n) WHERE { ?c tkg:taxon <https://w3id.org/traitkg/taxon/Danio_rerio> ;
      tkg:entity <http://purl.obolibrary.org/obo/UBERON_0000151> ; tkg:presence tkg:Present ; tkg:tier ?tier ;
      tkg:inferredFrom ?src . ?src tkg:evidence ?state } GROUP BY ?tier"""
    assert toy_kg.query(q).values() == [("inferred", "1")]


def test_taxa_with_subsumption_and_within(sample_kg):
    t = sample_kg.traits
    catfish = {"Ictalurus punctatus", "Ameiurus melas", "Silurus glanis", "Corydoras aeneus",
               "Ancistrus cirrhosus", "Pimelodus blochii"}
    # every species has a phenotype of a part of the pectoral fin (rays), and through part_of
    assert len(t.taxa_with("UBERON:0000151")) == 32
    # pectoral fin spine: subclass of pectoral fin lepidotrichium; not a part of the pelvic fin
    assert {r["taxon"] for r in t.taxa_with("UBERON:0000152")} == {r["taxon"] for r in t.taxa_with("UBERON:0000152")}
    serration = {r["taxon"] for r in t.taxa_with("PATO:0001976")}  # quality subsumption: serrated/smooth? serration
    assert serration == {"Ictalurus punctatus", "Ameiurus melas", "Corydoras aeneus", "Pimelodus blochii"}
    assert {r["taxon"] for r in t.taxa_with("UBERON:0000151", within="Danio")} == {"Danio rerio", "Danio albolineatus"}
    present = {r["taxon"] for r in t.taxa_with("UBERON:2001787", value="present")}
    assert present == catfish
    with pytest.raises(NotFound, match="clade 'Xenopus'"):
        t.taxa_with("UBERON:0000151", within="Xenopus")


def test_taxa_with_within_a_tree_clade(sample_kg):
    sample_kg.load_tree("kg/sample/fish-tree.nwk", name="sample")
    tree = sample_kg.tree("sample")
    node = tree.mrca(["Ictalurus punctatus", "Corydoras aeneus"])
    got = {r["taxon"] for r in sample_kg.traits.taxa_with("UBERON:2001787", value="present", within=node)}
    tips = {t.replace("_", " ") for t in node.tips()}
    assert got and got <= tips
    everywhere = {r["taxon"] for r in sample_kg.traits.taxa_with("UBERON:2001787", value="present")}
    assert got == everywhere & tips


def test_unknown_taxon_suggests(sample_kg):
    with pytest.raises(NotFound, match="Danio rerio"):
        sample_kg.traits.traits_of("Danio reri")


def test_unknown_taxon_suggests_a_species_of_a_misspelt_genus(sample_kg):
    with pytest.raises(NotFound, match="did you mean Danio rerio"):
        sample_kg.traits.traits_of("Dannio rerio")


def test_rows_pages_and_json_are_the_answer_itself(sample_kg):
    """What a server pages and writes (light rows, then one trait's JSON with its evidence joined
    from encoded states) is what traits_of answers, item for item and byte for byte."""
    t = sample_kg.traits
    for taxon in sorted(t.index.taxa.values()):
        rows = t.trait_rows(taxon)
        full = t.traits_of(taxon)
        assert [t.trait_dict(r) for r in rows] == full
        assert [(r[0], r[1]) for r in rows] == [(d["kind"], d["tier"]) for d in full]
        for r, d in zip(rows, full):
            assert t.trait_json(r) == json.dumps(d, ensure_ascii=False, default=str)
            plain = {k: v for k, v in d.items() if k != "evidence"}
            assert t.trait_json(r, evidence=False) == json.dumps(plain, ensure_ascii=False, default=str)
    assert any(d.get("inferred_from") and len(d["evidence"]) > 1 for tx in t.index.taxa.values()
               for d in t.traits_of(tx))  # inferred calls with several states of evidence were compared


def test_encoded_pages_are_the_rows_json_for_every_taxon(sample_kg, tmp_path):
    """Every taxon's encoded traits (kg.traits.pages) give trait_json's text row by row, with and
    without evidence, through the tier and kind filters and any window of rows; kept on disk, the
    file read back gives the same bytes."""
    from itertools import combinations

    from kg import KnowledgeGraph
    from kg.traits.pages import KINDS, TIERS, TraitPages

    t = sample_kg.traits
    pages = t.pages()
    assert pages.taxa == len(t.index.taxa) and t.pages(wait=False) is pages
    filters = [None] + [list(c) for k in (1, 2) for c in combinations(TIERS[:2], k)]
    kinds = [None] + [list(c) for k in (1, 2) for c in combinations(KINDS, k)]
    for tx in sorted(t.index.taxa):
        rows = t.trait_rows(tx)
        assert rows and len(pages.select(tx)) == len(rows)
        for tier in filters:
            for kind in kinds:
                want = [r for r in rows if (not tier or r[1] in tier) and (not kind or r[0] in kind)]
                got = pages.select(tx, tier, kind)
                assert len(got) == len(want)
                for a, b in ((0, len(want)), (1, 3), (len(want) - 2, len(want) + 5)):
                    a = max(a, 0)
                    for ev in (True, False):
                        assert pages.items(got[a:b], evidence=ev).decode() == \
                            ",".join(t.trait_json(r, evidence=ev) for r in want[a:b])
    assert pages.select("https://w3id.org/traitkg/taxon/Nope").size == 0 and pages.items(pages.select("x")) == b""

    disk = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'store'}")
    disk.load_ontology(ANAT)
    disk.load_phenotypes("kg/sample/phenotypes.xml")
    built = TraitPages.open(disk.traits)
    assert list((tmp_path / "store.cache" / "traitpages").glob("*.npz"))
    disk.invalidate()
    read = TraitPages.open(disk.traits)
    assert built._a["kind"].flags.writeable and not read._a["kind"].flags.writeable  # mapped from the file
    assert read.rows == built.rows == pages.rows
    for tx in sorted(t.index.taxa):
        assert read.items(read.select(tx)) == pages.items(pages.select(tx))


def test_matrix_formats_evidence_and_variable_only(sample_kg):
    t = sample_kg.traits
    taxa = ["Danio rerio", "Silurus glanis", "Gymnotus carapo", "Ictalurus punctatus"]
    ents = ["UBERON:0000151", "UBERON:2001787", "UBERON:0000152", "UBERON:0008897"]
    m = t.matrix(taxa, ents)
    vals = [[c.value for c in row] for row in m.cells]
    assert vals == [["1", "0", "1", "1"], ["1", "0&1", "1", "1"], ["1", "0", "0", "1"], ["1", "1", "1", "1"]]
    assert m.cells[1][1].polymorphic and not m.cells[1][1].conflict
    assert m.cells[0][0].tier == "inferred" and m.cells[0][0].evidence
    v = t.matrix(taxa, ents, variable_only=True)
    assert v.entities == ["UBERON:2001787", "UBERON:0000152"]
    data = json.loads(m.to_json())
    assert data["cells"][0][0]["evidence"][0]["supports"] == "present"
    csv_lines = m.to_csv().splitlines()
    assert len(csv_lines) == 1 + 16 and csv_lines[1].startswith("Danio rerio,UBERON:0000151,pectoral fin,1,inferred")
    from lxml import etree

    x = etree.fromstring(m.to_nexml().encode())
    cells = x.findall(".//{http://www.nexml.org/2009}cell")
    assert len(cells) == 16 and cells[5].get("state") == "s01"


def test_cli_traits_matrix_similar(mem_kg, tmp_path):
    from click.testing import CliRunner

    from kg.cli import main

    store = f"oxigraph:{tmp_path / 's'}"
    r = CliRunner()
    assert r.invoke(main, ["--store", store, "load", "ontology", ANAT]).exit_code == 0
    res = r.invoke(main, ["--store", store, "load", "phenotypes", "kg/sample"])
    assert res.exit_code == 0, res.output
    assert "inference: inference/presence-absence" in res.output
    res = r.invoke(main, ["--store", store, "traits", "Silurus glanis", "--format", "json"])
    assert res.exit_code == 0 and "pectoral fin spine" in res.output
    res = r.invoke(main, ["--store", store, "taxa-with", "UBERON:2001787", "--value", "present", "--format", "csv"])
    assert res.output.splitlines()[0] == "taxon,tier,phenotypes" and len(res.output.splitlines()) == 7
    res = r.invoke(main, ["--store", store, "matrix", "--taxa", "Danio rerio,Amia calva", "--entities",
                          "UBERON:2000251,UBERON:0000151", "--format", "csv"])
    assert res.exit_code == 0 and len(res.output.splitlines()) == 5
    res = r.invoke(main, ["--store", store, "similar", "Danio rerio", "-k", "3", "--format", "csv"])
    assert res.exit_code == 0 and len(res.output.splitlines()) == 4
    res = r.invoke(main, ["--store", store, "traits", "Nonexistent species"])
    assert res.exit_code == 2 and "no taxon" in res.output


def test_bulk_ntriples_equal_the_quads(sample_kg, toy):
    """The inference graph is written as N-Triples bytes; they hold exactly the triples of call_quads."""
    from kg.core.store import RdfFormat, parse_rdf
    from kg.traits import call_ntriples, call_quads

    sample_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    tr = sample_kg.traits
    calls, conf = tr.calls(), tr.conflicts_keys()
    assert any(c.tier == "inferred" for c in calls.values()) and any(c.polymorphic for c in calls.values())
    g = "https://example.org/g"
    want = {(q.subject, q.predicate, q.object) for q in call_quads(calls, g, conf)}
    got = {(t.subject, t.predicate, t.object) for t in parse_rdf(call_ntriples(calls, conf), RdfFormat.N_TRIPLES)}
    assert got == want and len(want) > 100
    rec = sample_kg.infer_traits()
    assert rec.triples == len(want)


def test_composed_entities_are_labelled_with_the_relation_label(sample_kg):
    labels = {t["entity_label"] for t in sample_kg.traits.traits_of("Corydoras aeneus")}
    assert "pectoral fin spine and part of some (pectoral fin)" in labels
    assert not any("BFO:" in lab for lab in labels)


def test_inference_graph_holds_every_call_with_its_evidence(sample_kg, toy):
    """Calls with identical evidence share a node; SPARQL over the graph still gives, for every
    taxon × entity × value, the tier, the evidence states and the conflicts that Python computes."""
    sample_kg.load_phenotypes(toy / "phenotypes" / "toy.xml")
    tr = sample_kg.traits
    calls = tr.calls()
    rec = sample_kg.infer_traits()
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?c ?t ?e ?v ?tier ?s WHERE { GRAPH ?g { ?c tkg:taxon ?t ; tkg:entity ?e ; tkg:presence ?v ; tkg:tier ?tier .
      OPTIONAL { { ?c tkg:evidence ?s } UNION { ?c tkg:inferredFrom ?a . ?a tkg:evidence ?s } } } }"""
    got: dict = {}
    nodes = set()
    for c, t, e, v, tier, s in sample_kg.store.select(q, {"g": NamedNode(rec.iri)}).rows:
        value = "present" if v.value.endswith("#Present") else "absent"
        got.setdefault((t.value, e.value, value), (tier.value, set()))[1].add(s.value if s else None)
        nodes.add(c.value)
    want = {}
    for key, c in calls.items():
        states = set(c.states)
        for src in c.sources:
            states |= calls[(c.taxon, src, c.value)].states
        want[key] = (c.tier, states)
    assert got == want
    assert len(nodes) < len(calls)  # shared nodes: fewer than one per call
    poly = {(t.value, e.value) for t, e in sample_kg.store.select(
        """PREFIX tkg: <https://w3id.org/traitkg/schema#>
        SELECT ?t ?e WHERE { GRAPH ?g { ?c tkg:polymorphic true ; tkg:taxon ?t ; tkg:entity ?e } }""",
        {"g": NamedNode(rec.iri)}).rows}
    assert poly == {(t, e) for (t, e, _v), c in calls.items() if c.polymorphic} and poly
    conf = {(t.value, e.value) for t, e in sample_kg.store.select(
        """PREFIX tkg: <https://w3id.org/traitkg/schema#>
        SELECT DISTINCT ?t ?e WHERE { GRAPH ?g { ?p tkg:conflictsWith ?q ; tkg:presence tkg:Present ;
          tkg:taxon ?t ; tkg:entity ?e . ?q tkg:taxon ?t } }""", {"g": NamedNode(rec.iri)}).rows}
    assert conf == tr.conflicts_keys() and conf


def _classification(path):
    import csv

    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_within_a_taxonomy_clade_at_any_rank(sample_kg, toy, tmp_path):
    """With a taxonomy loaded, --within takes a taxon at any rank: the phenotype taxa below it (or
    whose genus is below it); the CSV itself says which taxa those are."""
    sample_kg.load_taxonomy("kg/sample/taxonomy.csv")
    rows = _classification("kg/sample/taxonomy.csv")
    t = sample_kg.traits
    everyone = {r["taxon"] for r in t.taxa_with("UBERON:0000151")}
    for rank, name in (("order", "Cypriniformes"), ("family", "Ictaluridae"), ("genus", "Danio"),
                       ("order", "Siluriformes")):
        want = {r["species"] for r in rows if r[rank] == name} & everyone
        got = {r["taxon"] for r in t.taxa_with("UBERON:0000151", within=name)}
        assert got == want and got, (rank, name)
        c = t.clade(name)
        assert (c["kind"], c["rank"]) == ("taxonomy", rank)
    assert t.clade("taxon:Cypriniformes")["taxa"] == t.clade("cypriniformes")["taxa"]
    # a taxon with phenotypes that the taxonomy does not list, whose genus it does
    text = (toy / "phenotypes" / "toy.xml").read_text().replace('label=" Danio  rerio"', 'label="Danio sp."')
    text = text.replace("VTO_0039818", "VTO_9999999")  # (the sample taxonomy gives Danio rerio the toy's VTO id)
    (tmp_path / "sp.xml").write_text(text.replace("Toy 2026", "Sp 2026"))
    sample_kg.load_phenotypes(tmp_path / "sp.xml")
    assert "Danio sp." in {r["taxon"] for r in sample_kg.traits.taxa_with("UBERON:0000151", within="Danionidae")}
    assert "Danio sp." not in {r["taxon"] for r in sample_kg.traits.taxa_with("UBERON:0000151", within="Cyprinidae")}
    # presence/absence calls too
    present = {r["taxon"] for r in sample_kg.traits.taxa_with("UBERON:2001787", value="present", within="Ictaluridae")}
    assert present == {"Ictalurus punctatus", "Ameiurus melas"}


def test_within_a_tree_clade_by_label_and_taxonomy_first(sample_kg):
    sample_kg.load_tree("kg/sample/fish-tree.nwk", name="sample")
    t = sample_kg.traits
    tree = sample_kg.tree("sample")
    # no taxonomy: a clade label of the tree (a suborder the taxonomy would not have)
    for label in ("Cyprinoidei", "Loricarioidei", "Cypriniformes"):
        tips = {x.replace("_", " ") for x in tree.node(label).tips()}
        got = {r["taxon"] for r in t.taxa_with("UBERON:0000151", within=label)}
        assert got == tips & {r["taxon"] for r in t.taxa_with("UBERON:0000151")} and got
        assert t.clade(label)["kind"] == "tree"
    assert t.clade("sample:Cyprinoidei")["taxa"] == t.clade("Cyprinoidei")["taxa"]
    # a taxonomy taxon of the same name wins over the tree's label; TREE:NODE still names the tree's
    sample_kg.load_taxonomy("kg/sample/taxonomy.csv")
    t = sample_kg.traits
    assert t.clade("Cypriniformes")["kind"] == "taxonomy" and t.clade("sample:Cypriniformes")["kind"] == "tree"
    assert t.clade("Cyprinoidei")["kind"] == "tree"


def test_cli_taxa_with_within_an_order(tmp_path):
    from click.testing import CliRunner

    from kg.cli import main

    store = f"oxigraph:{tmp_path / 's'}"
    r = CliRunner()
    for args in (["load", "ontology", ANAT], ["load", "taxonomy", "kg/sample/taxonomy.csv"],
                 ["load", "phenotypes", "kg/sample/phenotypes.xml", "--no-infer"]):
        assert r.invoke(main, ["--store", store, *args]).exit_code == 0
    res = r.invoke(main, ["--store", store, "taxa-with", "UBERON:0000151", "--within", "Siluriformes",
                          "--format", "csv"])
    assert res.exit_code == 0, res.output
    got = {line.split(",")[0] for line in res.output.splitlines()[1:]}
    assert got == {x["species"] for x in _classification("kg/sample/taxonomy.csv") if x["order"] == "Siluriformes"}
    res = r.invoke(main, ["--store", store, "taxa-with", "UBERON:0000151", "--within", "Xenopodinae"])
    assert res.exit_code == 2 and "clade 'Xenopodinae'" in res.output


@pytest.mark.slow
def test_within_real_orders_families_genera(shared, mem_kg):
    """The 47 matrices with the Fish Tree of Life classification: taxa-with within an order, a
    family and a genus are the unrestricted answer cut to the taxa the CSV puts there (by name at
    the clade's rank or below, or by genus)."""
    from kg.core.names import normalise_name

    path = shared / "fishtree" / "PFC_short_classification.csv"
    mem_kg.load_taxonomy(path)
    mem_kg.load_phenotypes(shared / "phenoscape-data" / "nexml", lenient=True)
    rows = _classification(path)
    t = mem_kg.traits
    everyone = {r["taxon"] for r in t.taxa_with("UBERON:0000151")}
    for rank, name in (("order", "Cypriniformes"), ("family", "Characidae"), ("genus", "Astyanax"),
                       ("order", "Siluriformes")):
        inside = [r for r in rows if r[rank] == name]
        below = {normalise_name(r[col]).casefold() for r in inside  # the clade and the taxa under it
                 for col in ("order", "family", "genus", "genus.species")[("order", "family", "genus").index(rank):]}
        genera = {r["genus"].casefold() for r in inside}
        want = {x for x in everyone if x.casefold() in below or x.split(" ")[0].casefold() in genera}
        got = {r["taxon"] for r in t.taxa_with("UBERON:0000151", within=name)}
        assert got == want and got, (rank, name, len(got), len(want))
