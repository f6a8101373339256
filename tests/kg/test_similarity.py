"""Semantic similarity: corpus IC, Resnik/MICA, Jaccard, simGIC, best match, top-k."""

from __future__ import annotations

import math

import pytest

from kg.core.errors import ValidationError

ANAT = "kg/sample/fish-anatomy-slim.ttl"
UB = "http://purl.obolibrary.org/obo/UBERON_"


@pytest.fixture
def sim(mem_kg):
    mem_kg.load_ontology(ANAT)
    mem_kg.load_phenotypes("kg/sample/phenotypes.xml")
    return mem_kg.similarity


def test_information_content_is_corpus_based(sim):
    assert sim.corpus_size == 32
    # every taxon has a phenotype under "fin": IC 0; the pectoral fin spine (6 catfish + 0) is rarer
    assert sim.information_content("UBERON:0008897") == 0
    assert sim.information_content("UBERON:2001787") == 0  # every taxon has a spine phenotype (present or absent)
    spine_present = [p for p, ph in sim.traits.index.phenotypes.items()
                     if ph.entity == UB + "2001787" and ph.quality.endswith("PATO_0000467")][0]
    assert sim.information_content(spine_present) == pytest.approx(-math.log2(6 / 32))


def test_term_measures(sim):
    assert sim.mica("UBERON:2001787", "UBERON:0000152") == UB + "0008897"  # fin
    assert sim.resnik("UBERON:2001787", "UBERON:0000152") == 0
    assert sim.jaccard("UBERON:2001787", "UBERON:2001787") == 1.0
    j = sim.jaccard("UBERON:2001787", "UBERON:4000175")
    assert 0 < j < 1
    assert sim.simgic("UBERON:2001787", "UBERON:2001787") in (0.0, 1.0)


def test_profiles_and_top_k(sim):
    top = sim.similar("Ictalurus punctatus", k=3)
    assert top[0]["taxon"] in {"Ameiurus melas", "Pimelodus blochii", "Corydoras aeneus"}
    assert top[0]["score"] == 1.0 and all(r["taxon"] != "Ictalurus punctatus" for r in top)
    a, b = sim.profile("Danio rerio"), sim.profile("Amia calva")
    import statistics

    own = [sim.resnik(x, x) for x in a]
    assert sim.best_match(a, a, aggregate="mean") == pytest.approx(statistics.fmean(own))
    assert sim.best_match(a, a) == pytest.approx(statistics.median(own)) and sim.best_match(a, a) > 0
    assert sim.best_match(a, b) < sim.best_match(a, a)
    # a user-supplied profile: Ictalurus's own phenotypes; it is found (score 1) along with its twins
    prof = sim.profile("Ictalurus punctatus")
    hits = sim.similar(prof, k=3, metric="jaccard")
    assert "Ictalurus punctatus" in {r["taxon"] for r in hits} and hits[0]["score"] == 1.0
    assert {r["taxon"] for r in hits} <= {"Ictalurus punctatus", "Ameiurus melas", "Pimelodus blochii",
                                         "Corydoras aeneus"}
    assert len(sim.similar("Danio rerio", k=2, metric="resnik-bma")) == 2
    with pytest.raises(ValidationError, match="metric 'cosine'"):
        sim.similar("Danio rerio", metric="cosine")
