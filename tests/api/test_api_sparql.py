"""The SPARQL 1.1 Protocol at /sparql: methods, dataset, negotiation, errors, limits, SERVICE."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import rdflib
import rdflib.compare
import rdflib.util

SELECT_LABELS = "SELECT ?t ?l WHERE { ?t rdfs:label ?l } ORDER BY ?t ?l"
V1 = "https://w3id.org/traitkg/graph/ontology/anatomy/v1"
V2 = "https://w3id.org/traitkg/graph/ontology/anatomy/v2"
SRX = "{http://www.w3.org/2005/sparql-results#}"


def _bindings(r):
    assert r.status_code == 200, r.text
    return r.json()["results"]["bindings"]


def test_get_post_form_and_post_direct_agree(client):
    a = client.get("/sparql", params={"query": SELECT_LABELS})
    b = client.post("/sparql", data={"query": SELECT_LABELS})
    c = client.post("/sparql", content=SELECT_LABELS, headers={"Content-Type": "application/sparql-query"})
    assert a.headers["content-type"].startswith("application/sparql-results+json")
    assert _bindings(a) == _bindings(b) == _bindings(c)
    labels = {x["l"]["value"] for x in _bindings(a)}
    assert {"pectoral fin", "fin", 'a "quoted" {braced} label; with } and ;'} <= labels


def test_default_graph_is_union_and_dataset_parameters_narrow_it(client):
    q = "SELECT ?l WHERE { <http://purl.obolibrary.org/obo/UBERON_0008897> rdfs:label ?l }"
    assert [x["l"]["value"] for x in _bindings(client.get("/sparql", params={"query": q}))] == ["fin"]
    only_v1 = client.get("/sparql", params={"query": q, "default-graph-uri": V1})
    assert _bindings(only_v1) == []
    only_v2 = client.post("/sparql", data={"query": q, "default-graph-uri": V2})
    assert [x["l"]["value"] for x in _bindings(only_v2)] == ["fin"]
    named = client.post(f"/sparql?named-graph-uri={V1}",
                        content="SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                        headers={"Content-Type": "application/sparql-query"})
    assert [x["g"]["value"] for x in _bindings(named)] == [V1]


@pytest.mark.parametrize("accept, ctype", [
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("*/*", "application/sparql-results+json"),
])
def test_select_content_negotiation(client, accept, ctype):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == ctype
    if ctype.endswith("json"):
        rows = [(b["t"]["value"], b["l"]["value"]) for b in r.json()["results"]["bindings"]]
    elif ctype.endswith("xml"):
        root = ET.fromstring(r.content)
        rows = [tuple(b.find("./*").text for b in res.findall(SRX + "binding"))
                for res in root.iter(SRX + "result")]
    elif ctype == "text/csv":
        rows = [tuple(x) for x in list(csv.reader(io.StringIO(r.text)))[1:]]
    else:
        lines = r.text.splitlines()
        assert lines[0] == "?t\t?l"
        rows = [tuple(x.split("\t")) for x in lines[1:]]
        assert rows[0][0].startswith("<http://purl.obolibrary.org/obo/") and rows[0][1].startswith('"')
        rows = [(t[1:-1], rdflib.util.from_n3(lit).toPython()) for t, lit in rows]
    assert ("http://purl.obolibrary.org/obo/UBERON_0000151", "pectoral fin") in rows
    assert len(rows) == int(r.headers["x-traitkg-result-count"])


def test_ask_in_every_results_format(client):
    q = "ASK { ?t rdfs:label 'pelvic fin' }"
    assert client.get("/sparql", params={"query": q}).json()["boolean"] is True
    xml = client.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+xml"})
    assert ET.fromstring(xml.content).find(SRX + "boolean").text == "true"
    assert client.get("/sparql", params={"query": q, "format": "csv"}).text.splitlines()[-1] == "true"


@pytest.mark.parametrize("accept, fmt", [("text/turtle", "turtle"), ("application/n-triples", "nt"),
                                         ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld"),
                                         (None, "turtle")])
def test_construct_content_negotiation(client, accept, fmt):
    q = "CONSTRUCT { ?t rdfs:label ?l } WHERE { GRAPH <%s> { ?t rdfs:label ?l } }" % V2
    r = client.get("/sparql", params={"query": q}, headers={"Accept": accept} if accept else {})
    assert r.status_code == 200, r.text
    got = rdflib.Graph().parse(data=r.content, format=fmt)
    want = rdflib.Graph()
    for s, p, o in rdflib.Graph().parse(str(_toy("anatomy-v2.ttl")), format="turtle"):
        if p == rdflib.RDFS.label:
            want.add((s, p, o))
    assert rdflib.compare.isomorphic(got, want)


def test_describe_answers_a_graph(client):
    r = client.get("/sparql", params={"query": "DESCRIBE <http://purl.obolibrary.org/obo/UBERON_0000151>"},
                   headers={"Accept": "application/n-triples"})
    g = rdflib.Graph().parse(data=r.text, format="nt")
    assert (rdflib.URIRef("http://purl.obolibrary.org/obo/UBERON_0000151"), rdflib.RDFS.label,
            rdflib.Literal("pectoral fin")) in g


def _toy(name):
    return Path(__file__).resolve().parents[1] / "data" / "api" / name


def test_unacceptable_accept_is_406_with_the_choices(client):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert r.headers["content-type"] == "application/problem+json"
    assert "text/csv" in r.json()["acceptable"]
    r = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert r.status_code == 406 and "text/turtle" in r.json()["detail"]
    assert client.get("/sparql", params={"query": SELECT_LABELS, "format": "turtle"}).status_code == 406


@pytest.mark.parametrize("query", ["SELECT * WHERE { ?s ?p }", "SELEKT ?s WHERE { ?s ?p ?o }", "", "   ",
                                   "SELECT * WHERE { ?s ?p ?o } LIMIT 'x'", "PREFIX : <x> SELECT"])
def test_malformed_query_is_400_with_a_message(client, query):
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["detail"] and body["type"].startswith("https://w3id.org/traitkg/problems/")


def test_bad_dataset_iri_and_bad_content_type(client):
    r = client.get("/sparql", params={"query": SELECT_LABELS, "default-graph-uri": "not an iri"})
    assert r.status_code == 400 and "not an iri" in r.json()["detail"]
    r = client.post("/sparql", content=b"SELECT * {}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/sparql", data={"query": "ASK {}", "update": "CLEAR ALL"})
    assert r.status_code == 400


def test_updates_are_refused_when_read_only(client):
    for r in (client.post("/sparql", data={"update": "CLEAR ALL"}, headers={"Authorization": "Bearer s3cret-token"}),
              client.post("/sparql", content="DROP ALL", headers={"Content-Type": "application/sparql-update"})):
        assert r.status_code == 403
        assert "read-only" in r.json()["detail"]
    assert client.get("/sparql", params={"query": "ASK { ?s rdfs:label 'fin' }"}).json()["boolean"] is True


def test_update_endpoint_needs_the_token_when_enabled(make_client, fresh_selector):
    upd = 'INSERT DATA { GRAPH <urn:x:g> { <urn:x:a> <http://www.w3.org/2000/01/rdf-schema#label> "added" } }'
    ask = "ASK { ?s rdfs:label 'added' }"
    with make_client(fresh_selector, sparql_update=True) as c:
        assert c.post("/sparql", data={"update": upd}).status_code == 401
        assert c.post("/sparql", data={"update": upd}, headers={"Authorization": "Bearer nope"}).status_code == 403
        assert c.get("/sparql", params={"query": ask}).json()["boolean"] is False
        r = c.post("/sparql", content=upd, headers={"Content-Type": "application/sparql-update",
                                                    "Authorization": "Bearer s3cret-token"})
        assert r.status_code == 204, r.text
        # the query workers see the write (they reopen the read-only store after it)
        assert c.get("/sparql", params={"query": ask}).json()["boolean"] is True


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND(<http://example.org/sparql> AS ?e) SERVICE ?e { ?s ?p ?o } }",
    "PREFIX ex: <http://example.org/> SELECT * WHERE { service ex:sparql { ?s ?p ?o } }",
])
def test_service_is_refused_unless_allow_listed(client, query):
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 403
    assert "SERVICE" in r.json()["detail"]


def test_service_word_inside_strings_and_comments_is_not_a_service_call(client):
    q = "SELECT ?l WHERE { ?t rdfs:label ?l FILTER(?l != 'SERVICE <http://x/>') } # SERVICE <http://y/>"
    assert client.get("/sparql", params={"query": q}).status_code == 200


def test_allow_listed_service_passes_the_check(make_client, toy_selector):
    q = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    with make_client(toy_selector, read_only=True, service_allowlist=["http://127.0.0.1:9/"]) as c:
        r = c.get("/sparql", params={"query": q})
        # not refused by policy: the engine itself tries the call (and refuses port 9)
        assert r.status_code == 400 and r.json()["detail"].startswith("query failed")


def _rows(r, fmt: str) -> int:
    """How many rows a 200 answer in ``fmt`` carries (each parsed as its format)."""
    assert r.status_code == 200, r.text
    if fmt == "json":
        return len(r.json()["results"]["bindings"])
    if fmt == "xml":
        return len(ET.fromstring(r.content).findall(f"{SRX}results/{SRX}result"))
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(r.text)))) - 1
    return len(r.text.rstrip("\n").split("\n")) - 1  # tsv


def _refused_over_limit(r, limit: int) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/result-limit-exceeded") and body["status"] == 403
    assert body["setting"] == "TRAITKG_RESULT_LIMIT" and body["limit"] == limit
    assert f"TRAITKG_RESULT_LIMIT={limit}" in body["detail"] and "add a LIMIT" in body["detail"]
    assert "x-traitkg-truncated" not in r.headers


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_a_select_over_the_result_limit_is_refused_never_cut(make_client, toy_selector, fmt):
    with make_client(toy_selector, read_only=True, result_limit=3) as c:
        whole = c.get("/sparql", params={"query": SELECT_LABELS, "format": fmt})
        _refused_over_limit(whole, 3)
        at_limit = c.get("/sparql", params={"query": SELECT_LABELS + " LIMIT 3", "format": fmt})
        assert _rows(at_limit, fmt) == 3 and at_limit.headers["x-traitkg-result-count"] == "3"
        assert _rows(c.get("/sparql", params={"query": SELECT_LABELS + " LIMIT 2", "format": fmt}), fmt) == 2
        # ASK has one answer: never over a limit of 1 or more
        ask = c.get("/sparql", params={"query": "ASK { ?s ?p ?o }", "format": fmt})
        assert ask.status_code == 200 and "true" in ask.text
    with make_client(toy_selector, read_only=True, result_limit=1) as c:
        assert c.get("/sparql", params={"query": "ASK { ?s ?p ?o }", "format": fmt}).status_code == 200


@pytest.mark.parametrize("fmt, rdflib_format", [("turtle", "turtle"), ("ntriples", "nt"), ("rdfxml", "xml"),
                                                ("jsonld", "json-ld")])
def test_a_graph_answer_over_the_result_limit_is_refused_never_cut(make_client, toy_selector, fmt, rdflib_format):
    with make_client(toy_selector, read_only=True, result_limit=3) as c:
        _refused_over_limit(c.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": fmt}), 3)
        _refused_over_limit(c.get("/sparql", params={"query": "DESCRIBE ?t WHERE { ?t rdfs:label ?l }", "format": fmt}), 3)
        r = c.get("/sparql", params={"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3", "format": fmt})
        assert r.status_code == 200, r.text
        assert len(rdflib.Graph().parse(data=r.text, format=rdflib_format)) == 3
        assert r.headers["x-traitkg-result-count"] == "3"
    with make_client(toy_selector, read_only=True, result_limit=1000) as c:
        r = c.get("/sparql", params={"query": "DESCRIBE ?t WHERE { ?t rdfs:label ?l }", "format": fmt})
        assert r.status_code == 200 and len(rdflib.Graph().parse(data=r.text, format=rdflib_format)) > 3


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"


def test_runaway_query_is_stopped_while_other_requests_are_served(make_client, toy_selector):
    with make_client(toy_selector, read_only=True, query_timeout=2.0, query_workers=2) as c:
        c.get("/sparql", params={"query": "ASK {}"})  # warm one worker
        out = {}

        def runaway():
            t0 = time.monotonic()
            out["r"] = c.get("/sparql", params={"query": RUNAWAY})
            out["t"] = time.monotonic() - t0

        th = threading.Thread(target=runaway)
        th.start()
        time.sleep(0.3)
        # meanwhile: REST and other SPARQL queries are answered
        served = []
        while th.is_alive():
            served.append(c.get("/health").status_code)
            served.append(c.get("/sparql", params={"query": "ASK { ?s rdfs:label 'fin' }"}).status_code)
        th.join()
        assert out["r"].status_code == 503
        assert "limit" in out["r"].json()["detail"] and out["r"].json()["timeout_s"] == 2.0
        assert out["r"].json()["setting"] == "TRAITKG_QUERY_TIMEOUT" and out["r"].json()["limit"] == 2.0
        assert out["t"] < 15
        assert served and set(served) == {200}
        # the killed worker was replaced: queries still work afterwards
        assert c.get("/sparql", params={"query": "ASK { ?s rdfs:label 'fin' }"}).json()["boolean"] is True


def test_service_description(client):
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    svc = next(g.subjects(rdflib.RDF.type, sd.Service))
    assert (svc, sd.supportedLanguage, sd.SPARQL11Query) in g
    assert (svc, sd.resultFormat, rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_CSV")) in g
    names = {str(o) for o in g.objects(None, sd.name)}
    assert {V1, V2} <= names


def test_project_prefixes_need_no_declaration_but_user_ones_win(client):
    r = client.get("/sparql", params={"query": "SELECT DISTINCT ?t WHERE { ?t rdfs:subClassOf UBERON:0002534 } ORDER BY ?t"})
    assert [b["t"]["value"][-7:] for b in _bindings(r)] == ["0000151", "0000152"]
    r = client.get("/sparql", params={"query": "PREFIX UBERON: <http://example.org/none#> "
                                               "SELECT ?t WHERE { ?t rdfs:subClassOf UBERON:0002534 }"})
    assert _bindings(r) == []


def test_json_results_round_trip_language_tags(client):
    r = client.get("/sparql", params={"query": "SELECT ?l WHERE { obo:UBERON_0000002 rdfs:label ?l }"})
    (b,) = _bindings(r)
    assert b["l"] == {"type": "literal", "value": 'a "quoted" {braced} label; with } and ;', "xml:lang": "en"}
    assert json.loads(r.text)  # valid JSON with the quotes escaped


def test_cors_is_configurable(make_client, toy_selector):
    with make_client(toy_selector, read_only=True, cors_origins=["https://yasgui.example"]) as c:
        pre = c.options("/sparql", headers={"Origin": "https://yasgui.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "Content-Type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://yasgui.example"
        r = c.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://yasgui.example"})
        assert r.headers["access-control-allow-origin"] == "https://yasgui.example"
        assert "x-traitkg-result-count" in r.headers["access-control-expose-headers"].lower()
        other = c.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with make_client(toy_selector, read_only=True) as c:  # off by default
        r = c.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "https://yasgui.example"})
        assert "access-control-allow-origin" not in r.headers


@pytest.mark.server
def test_endpoint_over_a_remote_store(make_client, oxigraph_server, toy):
    """The same protocol over the sparql: backend (a real Oxigraph server): threads, not processes."""
    from kg import KnowledgeGraph
    from kg.core.store import open_store

    s = open_store(oxigraph_server.selector)
    s.update("DROP SILENT ALL")
    s.close()
    kg = KnowledgeGraph.open(oxigraph_server.selector)
    kg.load_rdf(toy / "api" / "anatomy-v2.ttl", name="anatomy", version="v2", kind="ontology")
    kg.close()
    with make_client(oxigraph_server.selector) as c:
        r = c.get("/sparql", params={"query": "SELECT ?l WHERE { obo:UBERON_0008897 rdfs:label ?l }"},
                  headers={"Accept": "text/csv"})
        assert r.status_code == 200 and r.text.splitlines() == ["l", "fin"]
        assert c.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"}).status_code == 400
        assert c.get("/api/v1/graphs").json()["total"] == 1
        assert type(c.app.state.runner).__name__ == "ThreadQueryRunner"
