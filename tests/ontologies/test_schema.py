"""The project's own vocabulary (ontologies/traitkg.ttl): every term it mints is defined once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import rdflib

TTL = Path(__file__).resolve().parents[2] / "ontologies" / "traitkg.ttl"
TKG = "https://w3id.org/traitkg/schema#"
RDFS = rdflib.RDFS


def test_every_term_has_one_label_and_at_most_one_domain_and_range():
    g = rdflib.Graph().parse(TTL)
    terms = {s for s in g.subjects() if str(s).startswith(TKG)}
    assert len(terms) > 100
    labels = Counter(s for s, _ in g.subject_objects(RDFS.label) if s in terms)
    assert [t for t in terms if labels[t] != 1] == []
    for prop in (RDFS.domain, RDFS.range):
        many = Counter(s for s, _ in g.subject_objects(prop) if s in terms)
        assert [str(t) for t, n in many.items() if n > 1] == [], prop
