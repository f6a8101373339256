"""Named graphs, the PROV manifest, versions, diff, export/import and atomic loads — both backends."""

from __future__ import annotations

import gzip
import io
import json
import shutil

import pytest

from kg.core.errors import GraphNotFound, IntegrityError, ParseError, SourceNotFound, UnknownFormat, ValidationError
from kg.core.graphs import BASE, MANIFEST, PROV, TKG
from kg.core.store import RdfFormat, canonical_nquads, isomorphic, parse_rdf

FORMATS = ["toy.ttl", "toy.ttl.gz", "toy.nt", "toy.nq", "toy.rdf", "toy.jsonld"]


def snapshot(store):
    """Every quad of every graph, as a canonical dataset for exact comparison: typed literals in
    canonical form (engines keep values, not text: Virtuoso answers an xsd:dateTime
    ``...29.79382Z`` as ``...29.793820Z``; on Oxigraph stores this changes nothing)."""
    quads = []
    for g in store.named_graphs():
        buf = io.BytesIO()
        store.dump_graph(g, buf)
        quads.extend(parse_rdf(buf.getvalue(), RdfFormat.N_QUADS))
    return list(parse_rdf(canonical_nquads(quads), RdfFormat.N_QUADS))


@pytest.mark.parametrize("name", FORMATS)
def test_every_rdf_syntax_loads_into_its_own_graph(kg, toy, name):
    rep = kg.load_rdf(toy / "rdf" / name, name="toy")
    assert rep.status == "loaded" and rep.triples > 0
    assert rep.graph.startswith(BASE + "graph/rdf/toy/")
    assert kg.store.count(rep.graph) == rep.triples
    assert set(kg.store.named_graphs()) == {rep.graph, MANIFEST}
    labels = kg.query("SELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    assert ("pectoral fin",) in labels.values()


def test_manifest_records_provenance(kg, toy):
    src = toy / "rdf" / "toy.ttl"
    rep = kg.load_rdf(src, name="toy", version="v1")
    (rec,) = kg.graphs()
    assert rec.iri == rep.graph and rec.iri.endswith("/graph/rdf/toy/v1")
    assert (rec.kind, rec.name, rec.version, rec.loader) == ("rdf", "toy", "v1", "rdf")
    import hashlib

    assert rec.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert rec.byte_size == src.stat().st_size and rec.source == str(src.resolve())
    assert rec.triples == rep.triples and rec.parameters == {"format": "ttl"}
    assert rec.started and rec.ended and rec.loader_version
    # the same facts are plain PROV-O in the manifest graph, queryable by anyone
    ask = kg.query(f"""PREFIX prov: <{PROV}> PREFIX tkg: <{TKG}>
        ASK {{ GRAPH <{MANIFEST}> {{ ?g a prov:Entity ; prov:wasGeneratedBy ?a ; tkg:sha256 ?sha .
                                    ?a a prov:Activity ; prov:startedAtTime ?t ; prov:wasAssociatedWith ?who }} }}""")
    assert ask is True


def test_identical_bytes_are_a_noop_and_changes_make_a_new_version(kg, toy, tmp_path):
    src = tmp_path / "onto.ttl"
    shutil.copy(toy / "rdf" / "toy.ttl", src)
    first = kg.load_rdf(src, name="onto")
    again = kg.load_rdf(src, name="onto")
    assert again.status == "unchanged" and again.graph == first.graph
    assert len(kg.graphs()) == 1
    src.write_text(src.read_text() + '\n<http://example.org/new> <http://www.w3.org/2000/01/rdf-schema#label> "new" .\n')
    second = kg.load_rdf(src, name="onto")
    assert second.status == "loaded" and second.graph != first.graph
    assert [g.version for g in kg.graphs(name="onto")] == [first.version, second.version]
    assert kg.graph("rdf/onto").iri == second.graph  # kind/name -> latest
    d = kg.diff(first.graph, second.graph)
    assert (d.added, d.removed) == (1, 0)
    assert d.sample_added == ['<http://example.org/new> <http://www.w3.org/2000/01/rdf-schema#label> "new" .']


def test_same_version_with_other_content_is_refused(kg, toy):
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="x", version="1.0")
    before = snapshot(kg.store)
    with pytest.raises(ValidationError, match="x/1.0 is already loaded"):
        kg.load_rdf(toy / "rdf" / "toy.nt", name="x", version="1.0")
    assert isomorphic(snapshot(kg.store), before)


def test_drop_removes_graph_and_manifest_entry(kg, toy):
    rep = kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy")
    kg.load_rdf(toy / "rdf" / "toy.nt", name="other")
    kg.drop("rdf/toy")
    assert [g.name for g in kg.graphs()] == ["other"]
    assert rep.graph not in kg.store.named_graphs()
    with pytest.raises(GraphNotFound, match="no graph 'toy'"):
        kg.drop("toy")


def _big_turtle(path, bad_line: int | None, lines: int = 12_000, gz: bool = False):
    rows = []
    for i in range(1, lines + 1):
        if i == bad_line:
            rows.append(f'<http://example.org/s{i}> <http://example.org/p> "unterminated .')
        else:
            rows.append(f'<http://example.org/s{i}> <http://example.org/p> "{i}" .')
    data = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_failed_load_halfway_leaves_the_store_exactly_as_it_was(kg, toy, tmp_path):
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy")
    before, graphs_before = snapshot(kg.store), kg.graphs()
    bad = _big_turtle(tmp_path / "big.ttl", bad_line=10_000)
    with pytest.raises(ParseError) as err:
        kg.load_rdf(bad, name="big")
    assert err.value.line == 10_000 and "big.ttl:10000" in str(err.value)
    assert isomorphic(snapshot(kg.store), before)
    assert kg.graphs() == graphs_before
    good = _big_turtle(tmp_path / "good.ttl", bad_line=None)
    assert kg.load_rdf(good, name="big").triples == 12_000


def test_truncated_gzip_is_a_clear_error_and_changes_nothing(kg, tmp_path):
    full = _big_turtle(tmp_path / "x.ttl.gz", bad_line=None, gz=True).read_bytes()
    cut = tmp_path / "cut.ttl.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(ParseError, match="cut.ttl.gz.*(truncated|corrupt)"):
        kg.load_rdf(cut)
    assert kg.store.named_graphs() == []


def test_missing_file_and_unknown_format(kg, tmp_path):
    with pytest.raises(SourceNotFound, match="nope.ttl"):
        kg.load_rdf(tmp_path / "nope.ttl")
    odd = tmp_path / "data.xyz"
    odd.write_text("hello")
    with pytest.raises(UnknownFormat, match=r"\.xyz"):
        kg.load_rdf(odd)
    with pytest.raises(UnknownFormat, match=r"\.xyz"):
        kg.load(odd)
    assert kg.store.named_graphs() == []


def test_malformed_turtle_names_file_and_line(kg, tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:a ex:b "oops .\n')
    with pytest.raises(ParseError, match=r"bad.ttl:3"):
        kg.load_rdf(bad)


def test_export_import_round_trip_is_isomorphic(kg, toy, tmp_path):
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy")  # has a blank node restriction
    kg.load_rdf(toy / "rdf" / "toy.rdf", name="xml", kind="ontology")
    original = snapshot(kg.store)
    rel = kg.export(tmp_path / "release")
    assert {e["graph"] for e in rel["graphs"]} == set(kg.store.named_graphs())
    meta = json.loads((tmp_path / "release" / "release.json").read_text())
    assert meta["format"] == "traitkg-release/1" and all(len(e["sha256"]) == 64 for e in meta["graphs"])

    from kg import KnowledgeGraph

    fresh = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'fresh'}")
    fresh.import_release(tmp_path / "release")
    assert isomorphic(snapshot(fresh.store), original)
    assert [g.to_dict() for g in fresh.graphs()] == [g.to_dict() for g in kg.graphs()]
    # and back out again: the second export is byte-for-byte the first (same files, same checksums)
    rel2 = fresh.export(tmp_path / "release2")
    assert [e["sha256"] for e in rel2["graphs"]] == [e["sha256"] for e in rel["graphs"]]


def test_import_refuses_tampered_release_and_changes_nothing(kg, toy, tmp_path):
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy")
    kg.export(tmp_path / "rel")
    kg.drop("toy")
    before = snapshot(kg.store)
    victim = next((tmp_path / "rel" / "graphs").glob("*toy*"))
    victim.write_bytes(victim.read_bytes().replace(b"pectoral", b"PECTORAL"))
    with pytest.raises(IntegrityError, match="checksum .* does not match"):
        kg.import_release(tmp_path / "rel")
    assert isomorphic(snapshot(kg.store), before)
    with pytest.raises(IntegrityError, match="release.json is missing"):
        kg.import_release(tmp_path)


def test_import_refuses_graphs_already_present(kg, toy, tmp_path):
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy")
    kg.export(tmp_path / "rel")
    with pytest.raises(ValidationError, match="already in the store"):
        kg.import_release(tmp_path / "rel")
