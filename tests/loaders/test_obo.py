"""OBO parser and OBO -> OWL mapping (pure, no store)."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.core.errors import ParseError
from loaders._obo_owl import OIO, OWL, RDFS, to_owl
from loaders.obo import parse, parse_lines

OBO = "http://purl.obolibrary.org/obo/"


def _triples(path):
    m = to_owl(parse(path))
    return m, {(str(s), str(p), str(o)) for s, p, o in m.triples}


def test_parse_toy(toy):
    doc = parse(toy / "ontologies" / "toy.obo")
    assert doc.ontology == "toy" and doc.data_version == "releases/2024-01-01"
    assert [s.type for s in doc.stanzas].count("Typedef") == 3
    fin = next(s for s in doc.stanzas if s.id == "TOY:0000002")
    assert fin.first("is_a") == "TOY:0000001"  # trailing "! comment" stripped
    assert fin.all("synonym")[0].line == 17


def test_mapping_follows_obo_spec(toy):
    m, t = _triples(toy / "ontologies" / "toy.obo")
    fin, body = f"<{OBO}TOY_0000002>", f"<{OBO}TOY_0000006>"
    assert (fin, f"<{RDFS}subClassOf>", f"<{OBO}TOY_0000001>") in t
    assert (fin, f"<{RDFS}label>", '"fin"') in t
    assert (fin, f"<{OBO}IAO_0000115>", '"A paired or median appendage."') in t
    assert (fin, f"<{OIO}hasExactSynonym>", '"fins"') in t
    assert (fin, f"<{OIO}hasRelatedSynonym>", '"pinna"') in t
    assert (fin, f"<{OIO}hasDbXref>", '"ZFA:0000108"') in t
    # relationship: part_of -> subClassOf [ onProperty BFO:0000050 (xref of the shorthand) ; someValuesFrom body ]
    restr = {s for s, p, o in t if p == f"<{OWL}someValuesFrom>" and o == body}
    assert any((r, f"<{OWL}onProperty>", f"<{OBO}BFO_0000050>") in t for r in restr)
    assert any((fin, f"<{RDFS}subClassOf>", r) in t for r in restr)
    old = f"<{OBO}TOY_0000010>"
    assert (old, f"<{OWL}deprecated>", '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>') in t
    assert (old, f"<{OBO}IAO_0100001>", fin) in t
    assert (old, f"<{OIO}consider>", '"TOY:0000003"') in t
    assert (f"<{OBO}BFO_0000050>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", f"<{OWL}TransitiveProperty>") in t
    # intersection_of -> equivalentClass [ intersectionOf (...) ]; transitive_over -> property chain
    assert any(p == f"<{OWL}intersectionOf>" for _, p, _ in t)
    assert any(s == f"<{OBO}RO_0002202>" and p == f"<{OWL}propertyChainAxiom>" for s, p, _ in t)
    # def xrefs as axiom annotations
    assert any(p == f"<{OWL}annotatedTarget>" and o == '"A paired or median appendage."' for _, p, o in t)
    assert not m.problems


def test_gzip_transparent(toy, tmp_path):
    gz = tmp_path / "toy.obo.gz"
    gz.write_bytes(gzip.compress((toy / "ontologies" / "toy.obo").read_bytes()))
    assert len(parse(gz).stanzas) == len(parse(toy / "ontologies" / "toy.obo").stanzas)


def test_malformed_line_has_line_number(toy):
    with pytest.raises(ParseError) as e:
        parse(toy / "ontologies" / "bad_stanza.obo")
    assert e.value.line == 9 and "bad_stanza.obo:9" in str(e.value) and "tag: value" in str(e.value)


@pytest.mark.parametrize("lines, line, words", [
    (["[Term]", "name: no id"], 1, "no id"),
    (["[Term]", "id: A:1", "id: A:2"], 3, "exactly one"),
    (["[Thing]", "id: A:1"], 1, "unknown stanza"),
    (["[Term]", "id: A:1", 'def: "unterminated'], 3, "unterminated"),
    (["[Term]", "id: A:1", "relationship: part_of"], 3, "RELATION TARGET"),
    (["[Term]", "id: A:1", "synonym: no quotes EXACT []"], 3, "quoted"),
])
def test_bad_stanzas(lines, line, words):
    with pytest.raises(ParseError) as e:
        parse_lines(lines, "x.obo")
    assert e.value.line == line and words in str(e.value)


def test_bad_synonym_scope():
    with pytest.raises(ParseError, match="synonym scope 'EXACTLY'"):
        to_owl(parse_lines(["ontology: x", "[Term]", "id: X:1", 'synonym: "a" EXACTLY []'], "x.obo"))


@pytest.mark.slow
@pytest.mark.parametrize("rel, terms", [("zfa/zfa.obo", 3224), ("bspo/bspo.obo", 341), ("pato/pato.obo", 2820)])
def test_real_obo_files(shared, rel, terms):
    doc = parse(shared / rel)
    assert len(doc.stanzas) == terms
    m = to_owl(doc)
    assert not m.unknown_prefixes and not m.problems


_TRICKY = st.text(alphabet=['a', ' ', '\t', '!', '"', '\\', '{', '}', ':', 'n', 'é'], max_size=16)


@settings(max_examples=2000, deadline=None)
@given(_TRICKY)
def test_strip_fast_path_is_the_character_scan(raw):
    """Values without quotes or escapes take a shortcut; it must agree with the full scan."""
    from loaders.obo import _strip, _strip_scan

    assert _strip(raw) == _strip_scan(raw)


@settings(max_examples=2000, deadline=None)
@given(_TRICKY)
def test_unquote_fast_path_is_the_character_scan(rest):
    from loaders.obo import _unquote_scan, unquote

    text = '"' + rest
    try:
        want: object = _unquote_scan(text, "", None)
    except ParseError as exc:
        want = str(exc)
    try:
        got: object = unquote(text)
    except ParseError as exc:
        got = str(exc)
    assert got == want
