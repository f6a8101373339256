"""The store seam: the same suite on the embedded store, a real Oxigraph server and a real Virtuoso."""

from __future__ import annotations

import io
import socket
import time

import pytest

from kg.core.errors import QueryError, StoreUnavailable, UnknownStoreScheme
from kg.core.store import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    RdfFormat,
    isomorphic,
    open_store,
    parse_rdf,
    tsv_value,
)

EX = "https://example.org/"
G1, G2 = EX + "g1", EX + "g2"
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
XSD_INT = "http://www.w3.org/2001/XMLSchema#integer"

NASTY = ['plain', 'quote " inside', "single ' quote", "brace } ; DROP ALL", '} } ; INSERT DATA { <x> <y> <z> }',
         "back\\slash", "new\nline", "émoji 🐟"]


def _fill_quads() -> list[Quad]:
    quads = [Quad(NamedNode(f"{EX}t{i}"), LABEL, Literal(v), NamedNode(G1)) for i, v in enumerate(NASTY)]
    quads.append(Quad(NamedNode(EX + "a"), NamedNode(EX + "p"), NamedNode(EX + "b"), NamedNode(G2)))
    return quads


def _quads_as_rows(quads: list[Quad]) -> list[tuple]:
    return [(q.subject, q.predicate, q.object) for q in quads]


def _fill(store):
    quads = _fill_quads()
    assert store.add_quads(quads) == len(quads)
    return quads


def test_named_graphs_count_and_drop(store, request):
    own = set(store.named_graphs())  # graphs an engine keeps for itself: Virtuoso's system graphs
    if request.node.callspec.params["store"] != "virtuoso":
        assert own == set()
    _fill(store)
    assert store.named_graphs() == sorted(own | {G1, G2})
    assert store.count(G1) == len(NASTY) and store.count(G2) == 1
    assert store.has_graph(G1) and not store.has_graph(EX + "nope")
    store.drop_graph(G2)
    assert store.named_graphs() == sorted(own | {G1})
    store.drop_graph(G2)  # dropping twice is harmless


@pytest.mark.parametrize("value", NASTY)
def test_bound_values_round_trip_and_never_become_syntax(store, value):
    _fill(store)
    rows = store.select("SELECT ?s WHERE { GRAPH ?g { ?s ?p ?label } }", {"label": Literal(value)})
    assert len(rows) == 1
    assert rows.rows[0][0].value.startswith(EX + "t")
    # nothing was inserted or dropped by the payload
    assert store.count(G1) == len(NASTY) and store.count(G2) == 1


def test_select_ask_construct(store, request):
    _fill(store)
    res = store.select("SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?o", {"g": NamedNode(G2)})
    assert res.variables == ["o"] and res.values() == [(EX + "b",)]
    assert store.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(G2)}) is True
    assert store.ask("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(EX + "none")}) is False
    triples = store.construct("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(G2)})
    assert [(t.subject.value, t.object.value) for t in triples] == [(EX + "a", EX + "b")]
    union = store.select("SELECT * WHERE { ?s ?p ?o }", union_default_graph=True).rows
    if request.node.callspec.params["store"] == "virtuoso":
        # Virtuoso's default graph is always the union of every graph, its own included (traitkg's
        # queries name their graphs, so they never depend on it)
        assert set(_quads_as_rows(_fill_quads())) <= set(union)
        return
    # the default graph is empty unless asked to be the union of all graphs
    assert len(store.select("SELECT * WHERE { ?s ?p ?o }")) == 0
    assert len(union) == len(NASTY) + 1


def test_select_tsv_has_the_select_values(store):
    """Many rows without a Python object per term: the same values as select, escapes undone."""
    quads = _fill(store)
    store.add_quads([Quad(BlankNode("n1"), LABEL, Literal("42", datatype=NamedNode(XSD_INT)), NamedNode(G2))])
    q = "SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
    text = store.select_tsv(q, {"g": NamedNode(G1)})
    head, *lines = text.split("\n")
    assert head == "?s\t?o" and lines[-1] == ""
    rows = sorted(tuple(tsv_value(t) for t in line.split("\t")) for line in lines[:-1])
    assert rows == sorted(store.select(q, {"g": NamedNode(G1)}).values())
    assert sorted(v for _, v in rows) == sorted(q.object.value for q in quads[:len(NASTY)])
    (_, o), = [line.split("\t") for line in store.select_tsv(q, {"g": NamedNode(G2)}).split("\n")[1:]
               if line.startswith("_:")]
    assert tsv_value(o) == "42"
    with pytest.raises(QueryError):
        store.select_tsv("ASK { ?s ?p ?o }")


def test_aggregate_with_bound_variable_not_projected(store):
    _fill(store)
    n = store.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": NamedNode(G1)})
    assert int(n.rows[0][0].value) == len(NASTY)


def test_update_and_quads(store):
    store.update(f'INSERT DATA {{ GRAPH <{G1}> {{ <{EX}x> <{EX}p> "1" }} }}')
    qs = list(store.quads(NamedNode(EX + "x"), None, None, G1))
    assert len(qs) == 1 and qs[0].object.value == "1"


def test_malformed_query_is_a_query_error(store):
    with pytest.raises(QueryError):
        store.select("SELECT ?s WHERE { ?s ?p }")


def test_load_file_moves_dataset_quads_into_the_target_graph(store):
    nq = f'<{EX}s> <{EX}p> "default" .\n<{EX}s> <{EX}p> "named" <{EX}other> .\n'.encode()
    store.load_file(io.BytesIO(nq), RdfFormat.N_QUADS, G1)
    assert store.named_graphs() == [G1] and store.count(G1) == 2


def test_blank_nodes_survive_chunked_remote_loads(store, monkeypatch):
    # a restriction-like structure crossing a chunk boundary must stay one node
    if hasattr(store, "CHUNK"):
        monkeypatch.setattr(store, "CHUNK", 2)
    b = BlankNode()
    g = NamedNode(G1)
    quads = [Quad(NamedNode(EX + "c"), NamedNode(EX + "sub"), b, g),
             Quad(b, NamedNode(EX + "onProperty"), NamedNode(EX + "part_of"), g),
             Quad(b, NamedNode(EX + "some"), NamedNode(EX + "d"), g)]
    store.add_quads(quads)
    out = io.BytesIO()
    store.dump_graph(G1, out)
    assert isomorphic(parse_rdf(out.getvalue(), RdfFormat.N_QUADS), quads)


def test_dump_graph_round_trips(store):
    quads = _fill(store)
    out = io.BytesIO()
    store.dump_graph(G1, out)
    back = list(parse_rdf(out.getvalue(), RdfFormat.N_QUADS))
    assert isomorphic(back, [q for q in quads if q.graph_name.value == G1])


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(UnknownStoreScheme, match=r"'mysql'.*oxigraph:, sparql:"):
        open_store("mysql:localhost")
    with pytest.raises(UnknownStoreScheme):
        open_store("no-colon-here")
    with pytest.raises(ValueError):  # also a builtin ValueError
        open_store("bogus:")


def test_unreachable_endpoint_fails_fast(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        open_store(f"sparql:http://127.0.0.1:{port}/query")
    assert time.monotonic() - t0 < 30  # a timeout, not a hang (a bound, not a speed claim)


def test_silent_endpoint_times_out(monkeypatch):
    monkeypatch.setenv("TRAITKG_HTTP_TIMEOUT", "1")
    with socket.socket() as srv:  # accepts connections but never answers
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with pytest.raises(StoreUnavailable, match="did not answer in time"):
            open_store(f"sparql:http://127.0.0.1:{port}/query")


def test_sparql_selector_needs_http_url():
    with pytest.raises(UnknownStoreScheme, match="http"):
        open_store("sparql:ftp://example.org/sparql")


def test_reopen_keeps_the_data_and_the_object_and_leaves_few_info_logs(tmp_path):
    from kg.core.store import OxigraphStore
    from kg.core.store.embedded import KEEP_INFO_LOGS

    st = OxigraphStore(tmp_path / "s")
    quads = _fill(st)
    for k in range(KEEP_INFO_LOGS + 3):
        assert st.reopen() is True
        st.add_quads([Quad(NamedNode(f"{EX}r{k}"), LABEL, Literal(str(k)), NamedNode(G2))])
    assert st.opens == KEEP_INFO_LOGS + 4
    assert sorted(st.quads(graph=G1), key=str) == sorted([q for q in quads if q.graph_name.value == G1], key=str)
    assert st.count(G2) == 1 + KEEP_INFO_LOGS + 3
    assert len(list((tmp_path / "s").glob("LOG.old.*"))) == KEEP_INFO_LOGS


def test_reopen_changes_nothing_where_it_cannot(tmp_path):
    from kg.core.store import OxigraphStore

    assert OxigraphStore().reopen() is False  # in memory: reopening would lose it
    st = OxigraphStore(tmp_path / "s")
    _fill(st)
    st.close()
    ro = OxigraphStore(tmp_path / "s", read_only=True)
    assert ro.reopen() is False and ro.count(G1) == len(NASTY)
