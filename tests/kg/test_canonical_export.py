"""One graph streamed to canonical N-Quads (kg/core/store/canonical.py): the same bytes as
canonical_nquads over the whole graph in memory, through GNU sort and through the Python runs."""

from __future__ import annotations

import gzip
import hashlib
import io
import random

import pytest

from kg.core.store import BlankNode, Literal, NamedNode, Quad, RdfFormat, canonical_nquads, open_store, parse_rdf
from kg.core.store import canonical as canon

G = "https://w3id.org/traitkg/graph/test/g/1"
X = "http://www.w3.org/2001/XMLSchema#"


def _quads(n: int, seed: int = 3) -> list[Quad]:
    rng = random.Random(seed)
    g = NamedNode(G)
    odd = ["a _:b c", "line\nbreak .\n", 'quote " and \\ back', "ünïcödé", " .", "x .\n<y>", ""]
    out = []
    for i in range(n):
        s = NamedNode(f"http://ex.org/s{rng.randrange(n)}")
        p = NamedNode(f"http://ex.org/p{i % 7}")
        k = i % 6
        if k == 0:
            o: object = Literal(odd[i % len(odd)] + str(i))
        elif k == 1:
            o = Literal(f"{rng.random()}", datatype=NamedNode(X + "double"))
        elif k == 2:
            o = Literal(f"text {i}", language="en")
        elif k == 3:
            o = Literal(str(rng.randrange(-5, 10**6)), datatype=NamedNode(X + "integer"))
        elif k == 4:
            o = Literal(f"{i}", datatype=NamedNode("http://ex.org/custom"))
        else:
            o = NamedNode(f"http://ex.org/o{rng.randrange(n)}")
        out.append(Quad(s, p, o, g))  # type: ignore[arg-type]
    return out


def _expected(store) -> bytes:
    buf = io.BytesIO()
    store.dump_graph(G, buf)
    return canonical_nquads(parse_rdf(buf.getvalue(), RdfFormat.N_QUADS))


@pytest.mark.parametrize("sorter", ["gnu", "python"])
def test_streamed_graph_is_canonical_nquads(tmp_path, monkeypatch, sorter):
    if sorter == "python":
        monkeypatch.setattr(canon, "_gnu_sort", lambda: None)
    elif canon._gnu_sort() is None:
        pytest.fail("GNU sort is expected on the development machine")
    monkeypatch.setattr(canon, "SORT_BUFFER", 20_000)  # many runs, merged
    store = open_store(f"oxigraph:{tmp_path / 'kg'}")
    store.add_quads(_quads(3000))
    store.add_quads([Quad(NamedNode("http://ex.org/other"), NamedNode("http://ex.org/p"), Literal("not mine"),
                          NamedNode(G + "x"))])
    told: list[int] = []
    f = canon.write_canonical_graph(store, G, tmp_path / "g.nq", progress=told.append)
    data = (tmp_path / "g.nq").read_bytes()
    assert data == _expected(store)
    assert f.streamed and f.quads == 3000 == sum(told) == data.count(b"\n")
    assert (f.sha256, f.bytes) == (hashlib.sha256(data).hexdigest(), len(data))
    assert not list((tmp_path).glob(".sort-*"))  # temporary runs removed


def test_blank_nodes_take_the_canonicalisation_algorithm(tmp_path):
    store = open_store(f"oxigraph:{tmp_path / 'kg'}")
    g = NamedNode(G)
    b1, b2 = BlankNode(), BlankNode()
    p = NamedNode("http://ex.org/p")
    store.add_quads([Quad(NamedNode("http://ex.org/a"), p, b1, g), Quad(b1, p, b2, g),
                     Quad(b2, p, Literal("leaf"), g)] + _quads(50))
    told: list[int] = []
    f = canon.write_canonical_graph(store, G, tmp_path / "g.nq", progress=told.append)
    data = (tmp_path / "g.nq").read_bytes()
    # streamed: the 3 quads naming blank nodes relabelled in memory, the 50 others through the sort
    assert f.streamed and f.blank == 3 and data == _expected(store) and f.quads == 53 == sum(told)
    # the labels are the algorithm's, not the store's: a second store with other labels gives the same bytes
    other = open_store("oxigraph:")
    c1, c2 = BlankNode(), BlankNode()
    other.add_quads([Quad(c2, p, Literal("leaf"), g), Quad(c1, p, c2, g),
                     Quad(NamedNode("http://ex.org/a"), p, c1, g)] + _quads(50))
    assert canon.write_canonical_graph(other, G, tmp_path / "h.nq").sha256 == f.sha256


def test_empty_graph(tmp_path):
    store = open_store("oxigraph:")
    f = canon.write_canonical_graph(store, G, tmp_path / "g.nq")
    assert (f.quads, f.bytes, (tmp_path / "g.nq").read_bytes()) == (0, 0, b"")


@pytest.mark.parametrize("sorter", ["gnu", "python"])
def test_blank_node_lines_merge_into_the_sorted_stream(tmp_path, monkeypatch, sorter):
    """Blank node quads everywhere in the order (subjects and objects, literals holding ``_:``
    and ``> _:``, many sorted runs): the relabelled lines land where :func:`canonical_nquads` puts them."""
    if sorter == "python":
        monkeypatch.setattr(canon, "_gnu_sort", lambda: None)
    monkeypatch.setattr(canon, "SORT_BUFFER", 20_000)
    monkeypatch.setattr(canon, "BLOCK", 4096)  # blocks cut inside lines, merged block by block
    rng = random.Random(5)
    g, p = NamedNode(G), NamedNode("http://ex.org/p")
    nodes = [BlankNode() for _ in range(300)]
    quads = _quads(2000)
    for i, b in enumerate(nodes):
        quads.append(Quad(b, p, Literal(f"v{i % 40}"), g))
        quads.append(Quad(NamedNode(f"http://ex.org/s{rng.randrange(2000)}"), p, b, g))
        quads.append(Quad(b, NamedNode("http://ex.org/q"), nodes[rng.randrange(len(nodes))], g))
    quads.append(Quad(NamedNode("http://ex.org/z"), p, Literal("<a> _:b and > _:c"), g))
    store = open_store(f"oxigraph:{tmp_path / 'kg'}")
    store.add_quads(quads)
    f = canon.write_canonical_graph(store, G, tmp_path / "g.nq")
    data = (tmp_path / "g.nq").read_bytes()
    assert data == _expected(store)
    assert f.streamed and f.blank == 900 and f.quads == len(quads) == data.count(b"\n")
    assert (f.sha256, f.bytes) == (hashlib.sha256(data).hexdigest(), len(data))


def _assert_release_is_canonical(store, rel) -> int:
    """Every graph file of the release ``rel`` is the in-memory canonical N-Quads of its graph;
    the quads naming blank nodes it holds."""
    import json

    blank = 0
    for e in json.loads((rel / "release.json").read_text())["graphs"]:
        buf = io.BytesIO()
        store.dump_graph(e["graph"], buf)
        want = canonical_nquads(parse_rdf(buf.getvalue(), RdfFormat.N_QUADS))
        data = (rel / e["file"]).read_bytes()
        assert data == want, e["graph"]
        assert (e["sha256"], e["bytes"], e["triples"]) == (hashlib.sha256(want).hexdigest(), len(want),
                                                            want.count(b"\n"))
        blank += sum(1 for line in data.splitlines() if b"_:c14n" in line)
    return blank


def test_toy_world_release_is_the_in_memory_canonical_form(tmp_path):
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    g = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}")
    load_sample(g)
    g.export(tmp_path / "rel")
    assert _assert_release_is_canonical(g.store, tmp_path / "rel") > 0  # the anatomy's OWL restrictions


@pytest.mark.slow
def test_uberon_graph_is_the_in_memory_canonical_form(tmp_path, shared):
    """UBERON's OWL graph (596k quads, 397k naming blank nodes): the streamed file is byte for byte
    what the whole graph canonicalised in memory gives."""
    store = open_store(f"oxigraph:{tmp_path / 'kg'}")
    g = "https://w3id.org/traitkg/graph/ontology/uberon/test"
    with gzip.open(shared / "uberon" / "uberon-2015-05-25.owl.gz") as fh:
        store.load_file(fh, RdfFormat.RDF_XML, g)
    f = canon.write_canonical_graph(store, g, tmp_path / "u.nq")
    data = (tmp_path / "u.nq").read_bytes()
    buf = io.BytesIO()
    store.dump_graph(g, buf)
    want = canonical_nquads(parse_rdf(buf.getvalue(), RdfFormat.N_QUADS))
    del buf
    assert f.streamed and f.blank > 300_000 and f.quads > 590_000
    assert data == want
