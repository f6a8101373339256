"""Phenex NeXML loader: records from the toy world, RDF shape, bad input, and the oracle (slow)."""

from __future__ import annotations

import pytest

from kg.core.errors import ParseError, ValidationError
from kg.core.store import NamedNode
from loaders import phenex

ANAT = "kg/sample/fish-anatomy-slim.ttl"


def test_parse_records(toy):
    m = phenex.parse(toy / "phenotypes" / "toy.xml")
    assert [o.label for o in m.otus] == [" Danio  rerio", "Silurus glanis", "Gymnotus carapo"]
    assert m.otus[0].vto == "http://purl.obolibrary.org/obo/VTO_0039818"
    assert m.otus[0].specimens == [("http://purl.obolibrary.org/obo/COLLECTION_0000009", "123")]
    assert m.doi == "http://dx.doi.org/10.1000/toy.1" and m.title == "Toy 2026"
    assert [c.number for c in m.characters] == [1, 2, 3]
    spine = m.characters[2].states[0].phenotypes[0]
    assert spine.entity.text == "UBERON:2001787 and BFO:0000050 some (UBERON:0000151)"
    assert spine.quality.text == "PATO:0000701"
    assert m.characters[2].states[1].phenotypes == []
    kinds = {(c.otu, c.character): (c.kind, sorted(c.states)) for c in m.cells}
    assert kinds[("t2", "ch1")] == ("polymorphic", ["s1a", "s1b"])
    assert kinds[("t2", "ch2")] == ("uncertain", ["s2a", "s2b"])
    assert m.counts()["cells"] == 8


@pytest.mark.parametrize("name,fragment,line", [
    ("bad_xml.xml", "malformed XML", 37),
    ("bad_char.xml", "character 'ch9', which is not defined", 37),
    ("bad_states_block.xml", "states block 's9'", 30),
    ("bad_state.xml", "has state 's2a', which is not declared", 37),
])
def test_bad_input_names_file_line_value(toy, mem_kg, name, fragment, line):
    with pytest.raises(ParseError) as err:
        mem_kg.load_phenotypes(toy / "phenotypes" / name)
    assert fragment in str(err.value) and err.value.line == line and name in str(err.value)
    assert mem_kg.graphs(kind="phenotypes") == []


def test_unknown_term_strict_then_lenient(toy, mem_kg):
    mem_kg.load_ontology(ANAT)
    with pytest.raises(ValidationError, match=r"bad_term.xml:\d+: unknown ontology term 'UBERON:9999999'"):
        mem_kg.load_phenotypes(toy / "phenotypes" / "bad_term.xml")
    assert mem_kg.graphs(kind="phenotypes") == []
    rep, = mem_kg.load_phenotypes(toy / "phenotypes" / "bad_term.xml", lenient=True)
    assert rep.counts["phenotypes_dropped"] == 2 and any(p.value == "UBERON:9999999" for p in rep.problems)
    assert mem_kg.graphs(kind="phenotypes")[0].triples == rep.triples > 0


def test_rdf_shape_and_idempotent(toy, kg):
    path = toy / "phenotypes" / "toy.xml"
    rep, = kg.load_phenotypes(path)
    assert rep.status == "loaded" and rep.counts["taxa_linked"] == 3
    again, = kg.load_phenotypes(path)
    assert again.status == "unchanged"
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
    SELECT ?expr ?genus ?whole WHERE { ?c tkg:expression ?expr ;
       <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?genus ; <http://purl.obolibrary.org/obo/BFO_0000050> ?whole }"""
    assert kg.query(q).values() == [("UBERON:2001787 and BFO:0000050 some (UBERON:0000151)",
                                     "http://purl.obolibrary.org/obo/UBERON_2001787",
                                     "http://purl.obolibrary.org/obo/UBERON_0000151")]
    vto = kg.query("SELECT ?v WHERE { <https://w3id.org/traitkg/taxon/Danio_rerio> "
                   "<http://www.w3.org/2004/02/skos/core#exactMatch> ?v }").values()
    assert vto == [("http://purl.obolibrary.org/obo/VTO_0039818",)]
    pub = kg.query("SELECT ?p WHERE { ?m <https://w3id.org/traitkg/schema#publication> ?p }").values()
    assert pub == [("https://doi.org/10.1000/toy.1",)]


def test_sample_matrix_terms_are_in_the_sample_ontology(mem_kg):
    mem_kg.load_ontology(ANAT)
    rep, = mem_kg.load_phenotypes("kg/sample/phenotypes.xml")  # strict: every term must be known
    assert rep.counts["otus"] == 32 and rep.counts["characters"] == 10 and not rep.problems


@pytest.mark.slow
def test_oracle_every_flat_row_is_in_the_store(shared, mem_kg):
    """Every row of the independently flattened TSV (394,800 rows) is represented in the store."""
    import csv
    import gzip

    from kg.core.store import RDFS_LABEL, NamedNode
    from ontologies.prefixes import contract

    mem_kg.load_phenotypes(shared / "phenoscape-data" / "nexml")
    files = {g.iri: "/".join(g.source.split("/")[-2:]) for g in mem_kg.graphs(kind="phenotypes")}
    T = "https://w3id.org/traitkg/schema#"
    st = mem_kg.store

    def objs(pred: str, g: str) -> dict:
        out: dict = {}
        for q in st.quads(None, NamedNode(pred if pred.startswith("http") else T + pred), None, g):
            out.setdefault(q.subject.value, []).append(q.object.value)
        return out

    have = set()
    for g, f in files.items():
        label = {q.subject.value: q.object.value for q in st.quads(None, RDFS_LABEL, None, g)}
        expr = {k: v[0] for k, v in objs("expression", g).items()}
        vto = {k: v[0].rsplit("/", 1)[-1] for k, v in objs("http://rs.tdwg.org/dwc/terms/taxonID", g).items()}
        num = {k: v[0] for k, v in objs("characterNumber", g).items()}
        sym = {k: v[0] for k, v in objs("symbol", g).items()}
        phs = objs("describesPhenotype", g)
        ent, qual, rel = objs("entity", g), objs("quality", g), objs("relatedEntity", g)
        kind = {k: v[0] for k, v in objs("stateSetKind", g).items()}
        otu, char = objs("otu", g), objs("character", g)

        def term(x, expr=expr):
            return expr.get(x) or contract(x)

        for cell, states in objs("state", g).items():
            o, c = otu[cell][0], char[states[0]][0]  # a cell's character is its states' (one each)
            assert cell not in char and {char[s][0] for s in states} == {c} and all(len(char[s]) == 1 for s in states)
            flag = "polymorphic_or_uncertain" if cell in kind else ""
            for s in states:
                base = (f, label[o], vto.get(o, ""), num[c], label[c], sym[s], label[s])
                if not phs.get(s):
                    have.add(base + ("", "", "", flag))
                for p in phs.get(s, []):
                    have.add(base + (term(ent[p][0]), term(qual[p][0]) if p in qual else "",
                                     term(rel[p][0]) if p in rel else "", flag))
    missing, n = [], 0
    with gzip.open(shared / "phenoscape-data" / "derived" / "phenoscape_eq_flat_shared.tsv.gz", "rt") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            n += 1
            key = (row["source_file"], row["taxon_label"], row["vto_id"], row["character_number"],
                   row["character_label"].strip(), row["state_symbol"], row["state_label"].strip(), row["entity"],
                   row["quality"], row["related_entity"], row["state_set"])
            if key not in have:
                missing.append(key)
    assert n == 394_800
    assert missing == [], f"{len(missing)} oracle rows missing, e.g. {missing[:3]}"


TAXONOMY = """order\tfamily\tgenus\tspecies\tsynonyms\tvto
Cypriniformes\tDanionidae\tDanio\trerio\tBrachydanio rerio; Cyprinus danio\tVTO:0042931
Cypriniformes\tDanionidae\tDanio\tkyathit\tCyprinus danio\t
Siluriformes\tCallichthyidae\tCorydoras\taeneus\tHoplosternum aeneum\t
Characiformes\tCharacidae\tAstyanax\tmexicanus\t\t
"""


def _variant(toy, tmp_path, labels: dict[str, str], vto: str | None = None):
    text = (toy / "phenotypes" / "toy.xml").read_text().replace("Toy 2026", "Variant 2026")
    for old, new in labels.items():
        text = text.replace(f'label="{old}"', f'label="{new}"')
    if vto:
        text = text.replace("VTO_0039818", vto)
    p = tmp_path / "variant.xml"
    p.write_text(text)
    return p


def test_otu_names_resolved_per_file(mem_kg, toy, tmp_path):
    """Each file's report resolves its OTUs against the taxonomy: VTO id first, then the name;
    matched OTUs link to the taxon matched, the others to the taxon their label names."""
    (tmp_path / "tax.tsv").write_text(TAXONOMY)
    mem_kg.load_taxonomy(tmp_path / "tax.tsv")
    # t1: unknown name, but the VTO id of Danio rerio; t2: a synonym; t3: genus only
    var = _variant(toy, tmp_path, {" Danio  rerio": "Zebra danio", "Silurus glanis": "Hoplosternum aeneum",
                                   "Gymnotus carapo": "Astyanax sp."}, vto="VTO_0042931")
    a, b = mem_kg.load_phenotypes([toy / "phenotypes" / "toy.xml", var])
    # the toy file: Danio rerio (its VTO id is not the taxonomy's: the name decides), two fishes not in it
    assert [(m.name, m.status, m.method) for m in a.names][0] == (" Danio  rerio", "matched", "exact")
    assert "VTO id http://purl.obolibrary.org/obo/VTO_0039818 not known to the store" in a.names[0].flags
    assert [m.status for m in a.names[1:]] == ["unmatched", "unmatched"]
    assert (a.counts["names_matched"], a.counts["names_unmatched"], a.counts["names_universe"]) == (1, 2, 13)
    got = {m.name: (m.status, m.method, m.matched_name) for m in b.names}
    assert got == {"Zebra danio": ("matched", "external_id", "Danio rerio"),
                   "Hoplosternum aeneum": ("matched", "synonym", "Corydoras aeneus"),
                   "Astyanax sp.": ("approximate", "genus", "Astyanax")}
    assert (b.counts["names_matched"], b.counts["names_approximate"]) == (2, 1)
    # links: matched OTUs point at the taxonomy's taxa; the genus-level one keeps its own taxon
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?l ?t WHERE { GRAPH ?g { ?o tkg:taxon ?t ; <http://www.w3.org/2000/01/rdf-schema#label> ?l } }"""
    links = {lab: t for lab, t in mem_kg.query(q, {"g": NamedNode(b.graph)}).values()}
    T = "https://w3id.org/traitkg/taxon/"
    assert links == {"Zebra danio": T + "Danio_rerio", "Hoplosternum aeneum": T + "Corydoras_aeneus",
                     "Astyanax sp.": T + "Astyanax_sp."}
    assert set(mem_kg.traits.index.taxa.values()) == {"Danio rerio", "Silurus glanis", "Gymnotus carapo",
                                                       "Corydoras aeneus", "Astyanax sp."}


def test_otu_name_ambiguous_with_candidates(mem_kg, toy, tmp_path):
    (tmp_path / "tax.tsv").write_text(TAXONOMY)
    mem_kg.load_taxonomy(tmp_path / "tax.tsv")
    rep, = mem_kg.load_phenotypes(_variant(toy, tmp_path, {" Danio  rerio": "Cyprinus danio"}))
    m = rep.names[0]
    assert m.status == "ambiguous" and {c["name"] for c in m.candidates} == {"Danio rerio", "Danio kyathit"}
    assert rep.counts["names_ambiguous"] == 1
    # not linked to either: the OTU keeps the taxon its label names
    assert "Cyprinus danio" in mem_kg.traits.index.taxa.values()


def test_cli_load_phenotypes_reports_names(tmp_path, toy):
    import csv
    import json

    from click.testing import CliRunner

    from kg.cli import main

    (tmp_path / "tax.tsv").write_text(TAXONOMY)
    store = f"oxigraph:{tmp_path / 's'}"
    r = CliRunner()
    assert r.invoke(main, ["--store", store, "load", "taxonomy", str(tmp_path / "tax.tsv")]).exit_code == 0
    var = _variant(toy, tmp_path, {"Silurus glanis": "Hoplosternum aeneum"})
    out = tmp_path / "names.tsv"
    res = r.invoke(main, ["--store", store, "load", "phenotypes", str(var), "--no-infer", "--names-report", str(out)])
    assert res.exit_code == 0, res.output
    assert "names: 2 matched, 0 approximate, 0 ambiguous, 1 unmatched of 3 OTUs; e.g. 'Gymnotus carapo' unmatched" \
        in res.output
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert [(x["name"], x["status"], x["matched_name"]) for x in rows] == [
        (" Danio  rerio", "matched", "Danio rerio"), ("Hoplosternum aeneum", "matched", "Corydoras aeneus"),
        ("Gymnotus carapo", "unmatched", "")]
    res = r.invoke(main, ["--store", f"oxigraph:{tmp_path / 's2'}", "load", "phenotypes", str(var), "--no-infer",
                          "--json"])
    data = json.loads(res.output)
    assert [n["status"] for n in data[0]["names"]] == ["unmatched"] * 3 and data[0]["counts"]["names_universe"] == 0
    res = r.invoke(main, ["--store", f"oxigraph:{tmp_path / 's3'}", "load", "phenotypes", str(var), "--no-infer"])
    assert "no taxonomy or tree in the store: OTU names were not resolved" in res.output


@pytest.mark.slow
def test_real_otu_names_against_the_fish_classification(shared, mem_kg):
    """The 47 matrices' OTUs resolved against the Fish Tree of Life classification: one row per
    OTU; exact matches are exactly the labels the classification spells (checked from the CSV)."""
    import csv

    from kg.core.names import normalise_name

    classification = shared / "fishtree" / "PFC_short_classification.csv"
    mem_kg.load_taxonomy(classification)
    names = set()
    with classification.open() as fh:
        for row in csv.DictReader(fh):
            names.update(normalise_name(v).casefold() for v in row.values() if v.strip())
    # what resolving matrix by matrix answers (the loader's flow before its fuzzy searches were made
    # for the whole batch at once, after the graphs were handed over)
    from kg.taxon_names import store_resolver
    from loaders.phenex.load import expand_paths
    from loaders.phenex.names import resolve_otus
    from loaders.phenex.nexml import parse

    resolver, memo = store_resolver(mem_kg.store), {}
    one_by_one = [[m.to_dict() for m in resolve_otus(parse(f, lenient=True), resolver, memo)]
                  for f in expand_paths([shared / "phenoscape-data" / "nexml"])]
    reports = mem_kg.load_phenotypes(shared / "phenoscape-data" / "nexml", lenient=True)
    assert len(reports) == 47
    assert [[m.to_dict() for m in r.names] for r in reports] == one_by_one
    total = {s: 0 for s in ("matched", "approximate", "ambiguous", "unmatched")}
    for r in reports:
        assert len(r.names) == r.counts["otus"]
        assert sum(r.counts[f"names_{s}"] for s in total) == r.counts["otus"]
        for m in r.names:
            total[m.status] += 1
            assert (m.status == "matched" and m.method == "exact") == (normalise_name(m.name).casefold() in names)
            if m.status == "approximate":
                assert m.flags and m.taxon
            if m.status == "ambiguous":
                assert len(m.candidates) > 1
    assert total["matched"] > 0 and total["approximate"] > 0
    # every matched OTU links to the taxon matched, a taxon of the classification; the others to
    # the taxon their label names
    from kg.core.names import taxon_iri

    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?o ?l ?t WHERE { GRAPH ?g { ?o a tkg:OTU ; <http://www.w3.org/2000/01/rdf-schema#label> ?l ; tkg:taxon ?t } }"""
    sci = {t for t, in mem_kg.query("SELECT DISTINCT ?t WHERE { ?t <http://rs.tdwg.org/dwc/terms/scientificName> ?n }")
           .values()}
    for r in reports:
        links = {lab: t for _, lab, t in mem_kg.query(q, {"g": NamedNode(r.graph)}).values()}
        for m in r.names:
            if m.status == "matched":
                assert links[m.name] == m.taxon and m.taxon in sci
            elif normalise_name(m.name):
                assert links[m.name] == taxon_iri(normalise_name(m.name))


def test_states_block_shared_by_two_characters(mem_kg, toy, tmp_path):
    """Two characters using one states block get state nodes of their own, so every state has one
    character and a cell's character is its states' (cells do not repeat it)."""
    text = (toy / "phenotypes" / "toy.xml").read_text()
    text = text.replace('<char id="ch3" label="Pectoral-fin spine margin" states="s3"/>',
                        '<char id="ch3" label="Pectoral-fin spine margin" states="s3"/>\n'
                        '      <char id="ch4" label="Pelvic fin, second reading" states="s1"/>')
    text = text.replace('<cell char="ch3" state="s3b"/></row>', '<cell char="ch3" state="s3b"/><cell char="ch4" state="s1a"/></row>')
    (tmp_path / "shared.xml").write_text(text)
    mem_kg.load_ontology(ANAT)
    rep, = mem_kg.load_phenotypes(tmp_path / "shared.xml")
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?s (COUNT(?c) AS ?n) WHERE { GRAPH ?g { ?s a tkg:CharacterState ; tkg:character ?c } } GROUP BY ?s"""
    per_state = mem_kg.query(q, {"g": NamedNode(rep.graph)}).values()
    assert len(per_state) == 6 + 2 and {n for _, n in per_state} == {"1"}
    cells = mem_kg.query("""PREFIX tkg: <https://w3id.org/traitkg/schema#>
        SELECT DISTINCT ?cell ?n WHERE { ?cell tkg:state/tkg:character/tkg:characterNumber ?n ; tkg:otu ?o }""").values()
    assert len({c for c, _ in cells}) == rep.counts["cells"] == 9 and len(cells) == 9
    assert mem_kg.query("SELECT ?c WHERE { ?cell <https://w3id.org/traitkg/schema#otu> ?o ; "
                        "<https://w3id.org/traitkg/schema#character> ?c }").values() == []
    conf, = [r for r in mem_kg.traits.conflicts() if r["taxon"] == "Danio rerio" and r["entity"] == "UBERON:0000152"]
    assert [e["character_number"] for e in conf["present"]["evidence"]] == [1]
    assert [e["character_number"] for e in conf["absent"]["evidence"]] == [4]


# --------------------------------------------------------------------------- incomplete phenotypes

#: line of each state of tests/data/phenotypes/incomplete.xml (one phenotype per line) -> what lenient does
INCOMPLETE = {31: "quality_only", 32: "quality_only", 33: "quality_only",  # no bearer / empty bearer / no id
              34: "left_out",   # neither a bearer nor a quality
              35: "left_out",   # quality term without an id
              36: "left_out",   # qualifier without a relation
              37: "left_out",   # count not an integer
              38: "left_out"}   # related entity term without an id


def test_incomplete_phenotype_strict_refuses_with_file_line(toy, mem_kg):
    with pytest.raises(ParseError, match=r"incomplete.xml:31: phenotype without a bearer entity") as err:
        mem_kg.load_phenotypes(toy / "phenotypes" / "incomplete.xml")
    assert err.value.line == 31
    assert mem_kg.graphs(kind="phenotypes") == []


def test_incomplete_phenotypes_parsed_leniently(toy):
    m = phenex.parse(toy / "phenotypes" / "incomplete.xml", lenient=True)
    assert {p.line: p.kind for p in m.problems} == INCOMPLETE
    states = {s.id: s for c in m.characters for s in c.states}
    for sid in ("s4a", "s4b", "s4c"):
        ph, = states[sid].phenotypes
        assert ph.entity is None and ph.quality.text == "PATO:0000587"
    assert all(states[s].phenotypes == [] for s in ("s4d", "s4e", "s4f", "s4g", "s4h"))
    assert states["s4i"].phenotypes[0].entity.text == "UBERON:0000152"
    # the rest of the file is as complete as the strict parse of the toy file
    assert m.counts()["cells"] == 10 and len(m.characters) == 4


def test_incomplete_phenotypes_lenient_load_and_inference(toy, mem_kg):
    rep, = mem_kg.load_phenotypes(toy / "phenotypes" / "incomplete.xml", lenient=True)
    assert rep.status == "loaded"
    assert rep.counts["phenotypes_quality_only"] == 3 and rep.counts["phenotypes_incomplete_left_out"] == 5
    assert sorted(p.line for p in rep.problems if p.line in INCOMPLETE) == sorted(INCOMPLETE)
    # stored with its quality and no entity (the three quality-only phenotypes are one EQ, one node)
    q = """PREFIX tkg: <https://w3id.org/traitkg/schema#>
    SELECT ?p WHERE { GRAPH ?g { ?p a tkg:Phenotype ; tkg:quality <http://purl.obolibrary.org/obo/PATO_0000587>
                                 FILTER NOT EXISTS { ?p tkg:entity ?e } } }"""
    assert len(mem_kg.query(q).values()) == 1
    # Danio rerio's cell of ch4 is quality-only: listed as a phenotype, implying no presence or absence
    rows = mem_kg.traits.traits_of("Danio rerio")
    qo = [r for r in rows if r["kind"] == "phenotype" and r["entity"] is None]
    assert [r["quality"] for r in qo] == ["PATO:0000587"]
    assert all(r["entity"] for r in rows if r["kind"] != "phenotype")
    assert {r["taxon"] for r in mem_kg.traits.taxa_with("PATO:0000587")} == {"Danio rerio"}
    assert mem_kg.similarity.subsumers(qo[0]["phenotype"])  # no entity: still a profile member


@pytest.mark.slow
def test_every_shared_matrix_loads_strictly_or_leniently(shared, mem_kg):
    """Each of the 47 shared Phenoscape matrices loads: strictly, or else leniently (nothing refused)."""
    files = phenex.expand_paths([shared / "phenoscape-data" / "nexml"])
    assert len(files) == 47
    lenient = []
    for f in files:
        try:
            mem_kg.load_phenotypes(f)
        except (ParseError, ValidationError):
            lenient.append(f.name)
            rep, = mem_kg.load_phenotypes(f, lenient=True)
            assert rep.status == "loaded"
    assert len(mem_kg.graphs(kind="phenotypes")) == 47, lenient


def test_a_batch_with_a_bad_file_leaves_nothing(tmp_path, toy):
    """The files of one `load phenotypes` are one batch: a bad file after good ones is one line, exit 2, and
    none of the batch's graphs stays (written ones dropped, none listed); without it, all are listed together."""
    import shutil

    from click.testing import CliRunner

    from kg import KnowledgeGraph
    from kg.cli import main

    d = tmp_path / "matrices"
    d.mkdir()
    shutil.copy(toy / "phenotypes" / "toy.xml", d / "a_toy.xml")
    shutil.copy("kg/sample/phenotypes.xml", d / "b_sample.xml")
    shutil.copy(toy / "phenotypes" / "bad_state.xml", d / "c_bad.xml")
    store = tmp_path / "s"
    res = CliRunner().invoke(main, ["--store", f"oxigraph:{store}", "load", "phenotypes", str(d)])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "c_bad.xml" in lines[0] and "37" in lines[0] and "Traceback" not in res.output
    g = KnowledgeGraph.open(f"oxigraph:{store}")
    assert g.graphs(kind="phenotypes") == [] and [x for x in g.store.named_graphs() if "/graph/phenotypes/" in x] == []
    g.close()
    (d / "c_bad.xml").unlink()
    res = CliRunner().invoke(main, ["--store", f"oxigraph:{store}", "load", "phenotypes", str(d)])
    assert res.exit_code == 0, res.output
    g = KnowledgeGraph.open(f"oxigraph:{store}")
    listed = g.graphs(kind="phenotypes")
    assert [r.name for r in listed] == ["a_toy", "b_sample"] and all(r.triples > 0 for r in listed)
    assert {r.iri for r in listed} == {x for x in g.store.named_graphs() if "/graph/phenotypes/" in x}
    assert g.graphs(kind="inference")[0].derived_from == [r.iri for r in listed]
