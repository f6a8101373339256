"""Virtuoso's own bulk loader behind a ``sparql:`` store (kg/core/store/virtuoso.py), against a real
Virtuoso 7 on loopback: the same quads as through SPARQL and as the embedded store; a refused load
reports the loader's error and leaves nothing listed or half-written."""

from __future__ import annotations

import os
import tempfile

import pytest
from click.testing import CliRunner

from kg import KnowledgeGraph
from kg.core.errors import StoreUnavailable, UnknownStoreScheme
from kg.core.graphs import list_graphs
from kg.core.store import Literal, NamedNode, Quad, canonical_nquads, open_store
from kg.core.store.virtuoso import BulkLoadFailed

pytestmark = pytest.mark.server

EX = "https://example.org/"
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
NASTY = ['quote " inside', "brace } ; DROP ALL", "back\\slash", "new\nline", "émoji 🐟", "tab\there"]
#: a valid language tag (BCP 47 allows any number of 1-8 character subtags) that Virtuoso 7's loader refuses
REFUSED = Literal("a", language="en-abcdefgh-abcdefgh-abcdefgh-abcdefgh-abcdefgh-abcdefgh-abcdefgh")


@pytest.fixture
def bulk_env(monkeypatch, virtuoso_server):
    for key, value in virtuoso_server.credentials.items():
        monkeypatch.setenv(key, value)
    virtuoso_server.clear()
    return virtuoso_server


def _build(kg: KnowledgeGraph, toy) -> None:
    kg.load_rdf(toy / "rdf" / "toy.ttl", name="toy-rdf", version="1")
    kg.load_ontology(toy / "ontologies" / "toy.obo", version="1")  # + its closure (derived graphs)
    kg.load_tree(toy / "trees" / "toy.nwk", name="toy", version="1")
    kg.store.add_quads([Quad(NamedNode(f"{EX}t{i}"), LABEL, Literal(v), NamedNode(EX + "g"))
                        for i, v in enumerate(NASTY)])


def _data(store) -> dict[str, bytes]:
    """Every data graph (the manifest left out: it records load times) as canonical N-Quads."""
    return {g: canonical_nquads(store.quads(graph=g)) for g in store.named_graphs() if "/graph/manifest" not in g}


def test_bulk_load_gives_the_same_quads_as_sparql_and_the_embedded_store(bulk_env, toy, tmp_path):
    embedded = KnowledgeGraph(open_store(f"oxigraph:{tmp_path / 'store'}"))
    _build(embedded, toy)
    expected = _data(embedded.store)
    embedded.close()

    sparql = KnowledgeGraph(open_store(bulk_env.selector))
    _build(sparql, toy)
    via_sparql = _data(sparql.store)
    sparql.close()
    bulk_env.clear()

    bulk = KnowledgeGraph(open_store(bulk_env.bulk_selector(0)))
    _build(bulk, toy)
    assert bulk.store.bulk.files >= 5  # every graph went through the bulk loader
    assert [r.iri for r in list_graphs(bulk.store)] and not list(bulk_env.load_dir.iterdir())
    via_bulk = _data(bulk.store)
    bulk.close()
    assert len(expected) >= 5 and via_bulk == via_sparql == expected


def test_small_graphs_go_through_sparql_below_bulk_min(bulk_env, toy):
    kg = KnowledgeGraph(open_store(bulk_env.bulk_selector(10**9)))
    kg.load_tree(toy / "trees" / "toy.nwk", name="toy", version="1")
    assert kg.store.bulk.files == 0 and len(kg.tree("toy").tips()) == 4
    assert not list(bulk_env.load_dir.iterdir())
    kg.close()


def test_a_refused_bulk_load_reports_the_loaders_error_and_leaves_nothing(bulk_env, tmp_path):
    store = open_store(bulk_env.bulk_selector(0))
    with pytest.raises(BulkLoadFailed, match=r"refused the data for https://example.org/bad: .*SP029.*syntax error"):
        store.add_quads([Quad(NamedNode(EX + "a"), LABEL, REFUSED, NamedNode(EX + "bad"))])
    store.drop_graph(EX + "bad")
    # through a loader: one error, the graph neither listed nor half-written, the load directory empty
    src = tmp_path / "refused.ttl"
    src.write_text("".join(f'<{EX}s{i}> <{LABEL.value}> "x{i}" .\n' for i in range(50)) + f"<{EX}a> <{LABEL.value}> {REFUSED} .\n")
    kg = KnowledgeGraph(store)
    with pytest.raises(BulkLoadFailed, match="SP029"):
        kg.load_rdf(src, name="refused", version="1")
    assert list_graphs(store) == [] and not store.has_graph("https://w3id.org/traitkg/graph/rdf/refused/1")
    assert not list(bulk_env.load_dir.iterdir())
    kg.close()
    # the CLI: one line, exit code 2
    from kg.cli import main

    res = CliRunner().invoke(main, ["--store", bulk_env.bulk_selector(0), "load", "rdf", str(src), "--name", "refused"])
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "\n" not in line and "SP029" in line and "Traceback" not in line
    assert list_graphs(open_store(bulk_env.selector)) == []


def test_a_load_directory_the_server_does_not_see_is_reported(bulk_env):
    # writable here, but not in the server's DirsAllowed (Virtuoso always allows /tmp, where tmp_path is)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as elsewhere:
        store = open_store(f"{bulk_env.selector},isql=127.0.0.1:{bulk_env.sql},load-dir={elsewhere},bulk-min=0")
        quads = [Quad(NamedNode(EX + "a"), LABEL, Literal("x"), NamedNode(EX + "g"))]
        with pytest.raises(BulkLoadFailed, match=f"Access to '{elsewhere}' is denied due to access control"):
            store.add_quads(quads)
        assert not os.listdir(elsewhere)
        store.close()
    # server-dir= naming a directory the server lacks, or another one than load-dir=
    store = open_store(f"{bulk_env.bulk_selector(0)},server-dir={bulk_env.load_dir}/nowhere")
    with pytest.raises(BulkLoadFailed, match="Unable to list files in '.*/load/nowhere'"):
        store.add_quads(quads)
    store.close()
    store = open_store(f"{bulk_env.bulk_selector(0)},server-dir={bulk_env.load_dir.parent}")
    with pytest.raises(BulkLoadFailed, match=r"found no traitkg-\w+\.nt in .*: is server-dir= the load directory"):
        store.add_quads(quads)
    assert not list(bulk_env.load_dir.iterdir()) and not store.has_graph(EX + "g")
    store.close()


def test_bulk_configuration_is_explicit(virtuoso_server, monkeypatch, tmp_path):
    for key in virtuoso_server.credentials:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(StoreUnavailable, match="TRAITKG_VIRTUOSO_USER and \\$TRAITKG_VIRTUOSO_PASSWORD"):
        open_store(virtuoso_server.bulk_selector())
    monkeypatch.setenv("TRAITKG_VIRTUOSO_USER", "dba")
    monkeypatch.setenv("TRAITKG_VIRTUOSO_PASSWORD", "not-the-password")
    with pytest.raises(StoreUnavailable, match="cannot log in to Virtuoso at 127.0.0.1:.* as 'dba'"):
        open_store(virtuoso_server.bulk_selector())
    with pytest.raises(UnknownStoreScheme, match="needs both isql=HOST:PORT and load-dir=DIR"):
        open_store(f"{virtuoso_server.selector},isql=127.0.0.1:{virtuoso_server.sql}")
    with pytest.raises(UnknownStoreScheme, match="unknown option 'loaddir=/x'.*expected key=value with key one of"):
        open_store(f"{virtuoso_server.selector},loaddir=/x")
    with pytest.raises(StoreUnavailable, match="is not a directory this process can write"):
        open_store(f"{virtuoso_server.selector},isql=127.0.0.1:1,load-dir={tmp_path / 'missing'}")


def _batch() -> list[tuple[str, bytes]]:
    """Three graphs' N-Triples as traitkg's writers make them: awkward literals, a blank node used
    twice within its graph (its label drawn per graph), a typed literal."""
    lit = lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'  # noqa: E731
    parts = []
    for k in range(3):
        lines = [f"<{EX}b{k}s{i}> <{LABEL.value}> {lit(v)} .\n" for i, v in enumerate(NASTY)]
        lines += [f"<{EX}b{k}> <{EX}has> _:n{k}x .\n", f"_:n{k}x <{EX}size> \"{k}.5\"^^<http://www.w3.org/2001/XMLSchema#double> .\n",
                  f"_:n{k}x <{LABEL.value}> \"node {k}\" .\n"]
        parts.append((f"{EX}batch{k}", "".join(lines).encode()))
    return parts


def _loader_runs(store, monkeypatch) -> list[str]:
    """The SQL the store's bulk loader sends, as it goes to the real server (a spy, not a stand-in)."""
    sent: list[str] = []
    real = store.bulk._sql
    monkeypatch.setattr(store.bulk, "_sql", lambda sql, *p: (sent.append(sql), real(sql, *p))[1])
    return sent


def test_a_batch_of_graphs_loads_in_one_loader_run(bulk_env, tmp_path, monkeypatch):
    embedded = open_store(f"oxigraph:{tmp_path / 'store'}")
    embedded.load_graphs(iter(_batch()))
    expected = _data(embedded)
    embedded.close()
    assert len(expected) == 3
    store = open_store(bulk_env.bulk_selector(0))
    sent = _loader_runs(store, monkeypatch)
    store.load_graphs(iter(_batch()))
    assert sent.count("DB.DBA.rdf_loader_run()") == 1 and sent.count("DB.DBA.ld_dir(?, ?, ?)") == 3
    assert store.bulk.files == 3 and not list(bulk_env.load_dir.iterdir())
    assert _data(store) == expected
    store.close()
    # below bulk-min together: each graph through the Graph Store Protocol, the same quads
    bulk_env.clear()
    store = open_store(bulk_env.bulk_selector(10**9))
    sent = _loader_runs(store, monkeypatch)
    store.load_graphs(iter(_batch()))
    assert not sent and store.bulk.files == 0 and not list(bulk_env.load_dir.iterdir())
    assert _data(store) == expected
    store.close()


def test_a_refused_graph_of_a_batch_names_its_graph_and_leaves_no_file(bulk_env, monkeypatch):
    store = open_store(bulk_env.bulk_selector(0))
    bad = (EX + "bad", f"<{EX}a> <{LABEL.value}> {REFUSED} .\n".encode())
    with pytest.raises(BulkLoadFailed, match=r"refused the data for https://example.org/bad: .*SP029"):
        store.load_graphs(iter([*_batch()[:2], bad]))
    assert not list(bulk_env.load_dir.iterdir())
    for g in store.named_graphs():  # the caller drops the batch's graphs (kg.core.graph_batch)
        store.drop_graph(g)
    # a part that fails while the files are written: none left behind, nothing loaded
    with pytest.raises(SyntaxError):
        store.load_graphs(iter([*_batch()[:1], (EX + "broken", b"<not an iri .\n")]))
    assert not list(bulk_env.load_dir.iterdir()) and not store.has_graph(EX + "batch0")
    store.close()
