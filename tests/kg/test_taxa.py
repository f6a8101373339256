"""Taxonomy loading and name resolution: per-name reports, never a failed batch."""

from __future__ import annotations

import csv
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.core.names import Resolver, TaxonName, clean_name, normalise_name, taxon_iri
from loaders import taxonomy


def test_normalise_and_iri_unchanged():
    assert normalise_name(" Danio_rerio ") == "Danio rerio"
    assert taxon_iri("Danio rerio").endswith("/taxon/Danio_rerio")


def test_clean_name():
    assert clean_name("Corydoras sp.") == ("Corydoras", ["qualifier removed"])
    assert clean_name("Danio rerio (Hamilton, 1822)") == ("Danio rerio", ["authority removed"])


def test_taxonomy_parse_toy(toy):
    cls = taxonomy.parse(toy / "trees" / "toy_taxonomy.tsv")
    rerio = cls.taxa["Danio rerio"]
    assert (rerio.rank, rerio.parent) == ("species", "Danio")
    assert rerio.synonyms == ["Brachydanio rerio", "Cyprinus rerio"]
    assert rerio.external == ["http://purl.obolibrary.org/obo/NCBITaxon_7955", "http://purl.obolibrary.org/obo/VTO_0042931"]
    assert cls.taxa["Danionidae"].parent == "Cypriniformes"
    assert cls.rows == 5 and cls.warnings == []


def test_taxonomy_bad_input(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("colour,size\nred,3\n")
    with pytest.raises(Exception, match="no rank column in the header"):
        taxonomy.parse(p)
    p.write_text("family,genus\nCyprinidae,Danio\nDanionidae,Danio\nX\n")
    with pytest.raises(Exception, match="bad.csv:4: row has 1 field.s., the header 2"):  # strict
        taxonomy.parse(p)
    cls = taxonomy.parse(p, lenient=True)
    msgs = [(m, line) for m, line, _ in cls.warnings]
    assert any("has parent 'Cyprinidae' (line 2) and 'Danionidae'" in m and line == 3 for m, line in msgs)
    assert any("row has 1 field(s), the header 2" in m and "row skipped" in m and line == 4 for m, line in msgs)


@pytest.fixture
def toy_kg(mem_kg, toy):
    mem_kg.load_taxonomy(toy / "trees" / "toy_taxonomy.tsv", name="toy")
    mem_kg.load_tree(toy / "trees" / "toy.nwk", name="toy")
    return mem_kg


def test_resolve_against_the_store(toy_kg):
    names = ["Danio rerio", "danio_rerio", "Brachydanio rerio", "NCBITaxon:7955", "VTO:0042931",
             "Danio sp.", "Danio albolineatus", "Corydoras aenaeus", "Astyanax cf. fasciatus",
             "Homo sapiens", "", "GBIF:1", "Astyanax"]
    got = {m.name: m for m in toy_kg.resolve(names)}
    assert len(got) == len(names)
    rerio = taxon_iri("Danio rerio")
    for n in ("Danio rerio", "danio_rerio"):
        assert (got[n].status, got[n].method, got[n].taxon) == ("matched", "exact", rerio)
    assert (got["Brachydanio rerio"].status, got["Brachydanio rerio"].method) == ("matched", "synonym")
    assert got["NCBITaxon:7955"].taxon == rerio and got["NCBITaxon:7955"].method == "external_id"
    assert got["VTO:0042931"].taxon == rerio
    sp = got["Danio sp."]
    assert (sp.status, sp.method, sp.taxon, sp.rank) == ("approximate", "genus", taxon_iri("Danio"), "genus")
    assert "genus-level" in sp.flags
    alb = got["Danio albolineatus"]
    assert (alb.status, alb.method) == ("approximate", "genus")
    typo = got["Corydoras aenaeus"]
    assert (typo.status, typo.method) == ("approximate", "genus")
    assert typo.candidates[0]["name"] == "Corydoras aeneus" and typo.candidates[0]["score"] > 90
    cf = got["Astyanax cf. fasciatus"]
    assert (cf.status, cf.taxon, cf.flags) == ("approximate", taxon_iri("Astyanax fasciatus"), ["qualifier removed"])
    assert got["Homo sapiens"].status == "unmatched"
    assert got[""].status == "unmatched" and got["GBIF:1"].status == "unmatched"
    assert got["Astyanax"].status == "matched" and got["Astyanax"].rank == "genus"
    d = got["Danio rerio"].to_dict()
    assert d["taxon"] == "taxon:Danio_rerio"


def test_fuzzy_and_ambiguous():
    r = Resolver([TaxonName("urn:a", "Aus bus", "species"), TaxonName("urn:b", "Aus bus", "species"),
                  TaxonName("urn:c", "Corydoras paleatus", "species"), TaxonName("urn:e", "Eus fus", "species")])
    amb = r.resolve_one("Aus bus")
    assert amb.status == "ambiguous" and {c["taxon"] for c in amb.candidates} == {"urn:a", "urn:b"}
    fz = r.resolve_one("Corydoras paleatvs")
    assert (fz.status, fz.method, fz.taxon) == ("approximate", "fuzzy", "urn:c") and 80 < fz.score < 100
    assert r.resolve_one("Corydoras paleatvs").flags == ["fuzzy"]
    assert r.resolve_one("Corydoras paleatvs", fuzzy=False).status == "unmatched"
    none = r.resolve_one("Zzz qqq")
    assert none.status == "unmatched"


def test_batch_never_fails(toy_kg):
    out = toy_kg.resolve(["Danio rerio", None, 42, "x" * 5000, "'; DROP {", "VTO:"])  # type: ignore[list-item]
    assert [m.status for m in out][0] == "matched" and len(out) == 6
    assert all(m.status in ("matched", "approximate", "ambiguous", "unmatched") for m in out)


def test_resolve_against_a_tree(toy_kg):
    got = toy_kg.resolve(["Danio rerio", "Danio kyathit", "Danio sp.", "Astyanax fasciatus"], tree="toy")
    assert [m.status for m in got] == ["matched", "matched", "approximate", "approximate"]
    assert got[3].method == "genus"  # not a tip: falls back to the genus, which the tree can answer
    tree = toy_kg.tree("toy")
    assert tree.mrca(["Astyanax"]).name == "Astyanax_mexicanus"


@pytest.mark.slow
def test_phenoscape_taxa_against_the_fish_tree(shared, mem_kg):
    mem_kg.load_tree(shared / "fishtree" / "actinopt_12k_raxml.tre", name="fishtree")
    with gzip.open(shared / "phenoscape-data" / "derived" / "phenoscape_eq_flat_shared.tsv.gz", "rt") as fh:
        labels = sorted({(r["taxon_label"].strip(), r["vto_id"]) for r in csv.DictReader(fh, delimiter="\t")})
    assert len(labels) == 2365
    names = sorted({lab for lab, _ in labels})
    got = mem_kg.resolve(names, tree="fishtree")
    assert len(got) == len(names)
    binomials = [m for m in got if len(normalise_name(m.name).split()) == 2
                 and not normalise_name(m.name).endswith((" sp.", " sp"))]
    exact = sum(m.status == "matched" and m.method == "exact" for m in binomials)
    assert exact >= 848  # the data README's exact-tip count for binomial labels
    genus = sum(m.method == "genus" for m in got)
    assert genus > 500


def _fish_resolver(shared) -> Resolver:
    """A resolver over the shared fish classification's species and genera (~12,000 names)."""
    with open(shared / "fishtree" / "PFC_short_classification.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    taxa = [TaxonName(taxon_iri(r["genus.species"]), r["genus.species"], "species") for r in rows]
    taxa += [TaxonName(taxon_iri(g), g, "genus") for g in sorted({r["genus"] for r in rows})]
    return Resolver(taxa)


@pytest.mark.parametrize("budget", [None, 4 * 64 * 1000])
def test_prefetched_fuzzy_searches_answer_alike(shared, budget, monkeypatch):
    """A batch's fuzzy searches narrowed at once (``prefetch``, what ``resolve`` and the Phenex
    loader do) answer exactly as one full search per name: status, taxon, scores, flags and the
    candidates in their order, over the Phenoscape OTU labels and misspelt copies of them; also with
    the universe scored 1,000 names a slice (what a universe of millions is, to bound the scores)."""
    if budget is not None:
        monkeypatch.setattr("kg.core.names._SCORES_BUDGET", budget)
    with gzip.open(shared / "phenoscape-data" / "derived" / "phenoscape_eq_flat_shared.tsv.gz", "rt") as fh:
        labels = sorted({r["taxon_label"].strip() for r in csv.DictReader(fh, delimiter="\t")})
    typos = [lab[:i] + lab[i + 1:] + "x" for i, lab in enumerate(labels[::7]) if len(lab) > 3]
    names = labels + typos + ["", "VTO:0000001", "Corydoras sp.", "Zzzz qqqq"]
    one_by_one = _fish_resolver(shared)
    expected = [one_by_one.resolve_one(n).to_dict() for n in names]
    assert not one_by_one._near  # nothing narrowed: every search ran over the whole universe
    batch = _fish_resolver(shared)
    got = [m.to_dict() for m in batch.resolve(names)]
    assert batch._near  # the searches did run narrowed
    assert got == expected
    assert sum(m["method"] == "fuzzy" for m in got) > 20 and sum(bool(m["candidates"]) for m in got) > 100


@given(st.lists(st.text(alphabet="abcdeoruy .", min_size=1, max_size=14), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_prefetch_never_changes_an_answer(names):
    universe = ["Aus bus", "Aus bys", "Abus cus", "Corydoras paleatus", "Eus fus", "Aus", "Bus", "Aus busa"]

    def make() -> Resolver:
        return Resolver([TaxonName(f"urn:{i}", n, "genus" if " " not in n else "species") for i, n in enumerate(universe)])

    plain = make()
    assert [m.to_dict() for m in make().resolve(names)] == [plain.resolve_one(n).to_dict() for n in names]
