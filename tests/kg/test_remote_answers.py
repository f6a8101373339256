"""A ``sparql:`` store's answers are read as they arrive and are never taken whole when the server cut
them: a real Virtuoso 7 on loopback with ``ResultSetMaxRows = 50`` (Virtuoso answers 200 with the first
50 rows or triples), and a real Oxigraph server for an answer too big to download."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from api.query_pool import QueryJob, execute
from api.sparql_results import ResultLimitExceeded
from kg.core.errors import AnswerTruncated
from kg.core.store import Literal, NamedNode, Quad, open_store

pytestmark = pytest.mark.server

EX = "https://example.org/"
P = NamedNode(EX + "p")
ALL = "SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }"


@pytest.fixture
def capped(virtuoso_capped):
    """The capped server holding graph ``g`` of 120 triples and ``small`` of exactly 50 (the cap)."""
    virtuoso_capped.clear()
    s = open_store(virtuoso_capped.selector)
    s.add_quads([Quad(NamedNode(f"{EX}s{i}"), P, Literal(i), NamedNode(EX + "g")) for i in range(120)])
    s.add_quads([Quad(NamedNode(f"{EX}s{i}"), P, Literal(f'"quoted" {{{i}}}'), NamedNode(EX + "small"))
                 for i in range(virtuoso_capped.max_rows)])
    yield s
    s.close()


def _g(name: str) -> dict[str, NamedNode]:
    return {"g": NamedNode(EX + name)}


def test_the_servers_limit_is_read_at_open(capped, virtuoso_capped):
    assert capped.max_rows == virtuoso_capped.max_rows == 50


def test_a_select_cut_at_the_row_limit_raises_instead_of_answering_part(capped):
    with pytest.raises(AnswerTruncated, match=r"row limit \(50 rows; Virtuoso: \[SPARQL\] ResultSetMaxRows"):
        capped.select(ALL, _g("g"))
    with pytest.raises(AnswerTruncated):
        capped.select_tsv(ALL, _g("g"))
    with pytest.raises(AnswerTruncated):
        list(capped.quads(graph=EX + "g"))
    kind, (names, rows) = capped.iter_query("SELECT ?s WHERE { GRAPH <https://example.org/g> { ?s ?p ?o } }")
    assert kind == "solutions" and names == ["s"]
    with pytest.raises(AnswerTruncated):
        list(rows)


def test_answers_under_or_limited_to_the_cap_are_whole(capped):
    some = capped.select("SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o FILTER(?o < 49) } }", _g("g"))
    assert sorted(int(r[0].value.rsplit("s", 1)[1]) for r in some) == list(range(49))
    # exactly the cap, but the query's own LIMIT says that is all it asked for
    assert len(capped.select("SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 50", _g("g"))) == 50
    assert capped.count(EX + "g") == 120  # an aggregate is one row
    tsv = capped.select_tsv("SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?o LIMIT 3", _g("small"))
    assert tsv.splitlines()[1] == '"\\"quoted\\" {0}"'


def test_a_construct_or_a_dump_cut_at_the_limit_raises(capped):
    with pytest.raises(AnswerTruncated, match="50 triples"):
        capped.construct("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", _g("g"))
    kind, triples = capped.iter_query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <https://example.org/g> { ?s ?p ?o } }")
    with pytest.raises(AnswerTruncated):
        list(triples)
    for dump in (capped.dump_graph, capped.dump_triples):
        with pytest.raises(AnswerTruncated):
            dump(EX + "g", io.BytesIO())


def test_a_graph_of_exactly_the_cap_dumps_whole(capped):
    for dump in (capped.dump_graph, capped.dump_triples):
        out = io.BytesIO()
        dump(EX + "small", out)
        assert out.getvalue().count(b"\n") == 50
    # a CONSTRUCT answer carries no header: one of exactly the cap cannot be told from a cut one (refused),
    # one under it is whole
    q = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o FILTER(?s != <%ss7>) } }" % EX
    assert len(capped.construct(q, _g("small"))) == 49


def test_the_cli_says_so_in_one_line(capped, virtuoso_capped):
    from kg.cli import main

    res = CliRunner().invoke(main, ["--store", virtuoso_capped.selector, "query", ALL])
    assert res.exit_code == 2, res.output
    assert "ResultSetMaxRows" in res.output and "Traceback" not in res.output


def test_the_result_limit_stops_reading_an_answer_too_big_to_download(oxigraph_server):
    """Sixty values in each of four VALUES blocks: 13M rows (~1 GB of JSON) that a client reading the
    whole answer before applying the limit could not hold; read as it arrives, 11 rows are enough."""
    s = open_store(oxigraph_server.selector)
    values = " ".join(str(i) for i in range(60))
    q = ("SELECT * WHERE { VALUES ?a { %s } VALUES ?b { %s } VALUES ?c { %s } VALUES ?d { %s } }"
         % (values, values, values, values))
    try:
        with pytest.raises(ResultLimitExceeded):
            execute(s, QueryJob(q, "json", "turtle", limit=10))
        kind, (names, rows) = s.iter_query(q)
        assert names == ["a", "b", "c", "d"] and len([next(rows) for _ in range(1000)]) == 1000
        rows.close()
        assert s.ask("ASK { }")  # the store still answers after the abandoned response
    finally:
        s.close()
