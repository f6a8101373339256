"""Real SPARQL clients against a real uvicorn server on loopback: SPARQLWrapper and rdflib's SPARQLStore."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import rdflib
from _api_support import Uvicorn, free_port, load_toy

pytestmark = pytest.mark.server
PECTORAL = "http://purl.obolibrary.org/obo/UBERON_0000151"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_sparqlwrapper_select(live_server, method, fmt):
    from SPARQLWrapper import CSV, JSON, POST, XML, SPARQLWrapper

    sw = SPARQLWrapper(live_server.url + "/sparql")
    sw.setMethod(POST if method == "POST" else "GET")
    sw.setQuery('PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> '
                'SELECT DISTINCT ?t WHERE { ?t rdfs:label "pectoral fin" }')
    sw.setReturnFormat({"json": JSON, "xml": XML, "csv": CSV}[fmt])
    res = sw.query().convert()
    if fmt == "json":
        assert [b["t"]["value"] for b in res["results"]["bindings"]] == [PECTORAL]
    elif fmt == "xml":
        assert [u.firstChild.data for u in res.getElementsByTagName("uri")] == [PECTORAL]
    else:
        assert res.decode().split() == ["t", PECTORAL]


def test_sparqlwrapper_ask_construct_and_errors(live_server):
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

    sw = SPARQLWrapper(live_server.url + "/sparql")
    sw.setQuery("ASK { ?t <http://www.w3.org/2000/01/rdf-schema#label> 'pelvic fin' }")
    sw.setReturnFormat(JSON)
    assert sw.query().convert()["boolean"] is True
    sw.setQuery("CONSTRUCT { ?t ?p ?o } WHERE { GRAPH <https://w3id.org/traitkg/graph/ontology/anatomy/v2> "
                "{ ?t ?p ?o FILTER(?t = <%s>) } }" % PECTORAL)
    sw.setReturnFormat(TURTLE)
    g = rdflib.Graph().parse(data=sw.query().convert(), format="turtle")
    assert len(g) == 3 and (rdflib.URIRef(PECTORAL), rdflib.RDFS.label, rdflib.Literal("pectoral fin")) in g
    sw.setQuery("SELECT * WHERE { ?s ?p }")
    sw.setReturnFormat(JSON)
    with pytest.raises(QueryBadFormed):
        sw.query()


def test_rdflib_sparqlstore(live_server):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(live_server.url + "/sparql", returnFormat="json")
    g = rdflib.Graph(store=store)
    rows = list(g.query("SELECT DISTINCT ?t ?l WHERE { ?t rdfs:subClassOf <http://purl.obolibrary.org/obo/UBERON_0002534> ; "
                        "rdfs:label ?l } ORDER BY ?l", initNs={"rdfs": rdflib.RDFS}))
    assert [(str(t), str(lab)) for t, lab in rows] == [(PECTORAL, "pectoral fin"),
                                                    ("http://purl.obolibrary.org/obo/UBERON_0000152", "pelvic fin")]
    assert bool(g.query("ASK { ?t rdfs:label 'caudal fin' }", initNs={"rdfs": rdflib.RDFS}).askAnswer)
    # user values bound by rdflib's initBindings arrive as VALUES/literals, never break the query
    hostile = 'x" } ; DROP ALL ; SELECT * { "'
    res = list(g.query("SELECT ?t WHERE { ?t rdfs:label ?l }", initNs={"rdfs": rdflib.RDFS},
                       initBindings={"l": rdflib.Literal(hostile)}))
    assert res == []
    assert len(list(g.triples((rdflib.URIRef(PECTORAL), rdflib.RDFS.label, None)))) >= 1


def test_traitkg_serve_command_runs_uvicorn(tmp_path, toy):
    selector = load_toy(tmp_path / "store", toy)
    port = free_port()
    srv = Uvicorn({"TRAITKG_QUERY_TIMEOUT": "10"}, port=port,
                  argv=[str(Path(sys.executable).parent / "traitkg"), "--store", selector, "serve", "--port", str(port),
                        "--workers", "2", "--log-level", "warning"])
    try:
        h = httpx.get(srv.url + "/health").json()
        assert h["status"] == "ok" and h["read_only"] is True and h["graphs"] == 3
        r = httpx.get(srv.url + "/sparql", params={"query": "SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { ?t rdfs:label ?l }"},
                      headers={"Accept": "text/csv"})
        assert r.text.splitlines() == ["n", "8"]
        assert "<title>traitkg" in httpx.get(srv.url + "/").text
    finally:
        srv.stop()
