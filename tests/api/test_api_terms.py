"""/api/v1/terms: search, detail, ancestors/descendants with distances, mappings, CURIE errors."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def oclient(tmp_path_factory, toy):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph

    path = tmp_path_factory.mktemp("terms") / "store"
    kg = KnowledgeGraph.open(f"oxigraph:{path}")
    kg.load_ontology(toy / "api" / "fins.obo", name="fins")
    kg.close()
    with TestClient(create_app(Settings(store=f"oxigraph:{path}", query_workers=1)),
                    raise_server_exceptions=False) as c:
        yield c


def test_search_by_label_prefix_and_synonym(oclient):
    hits = oclient.get("/api/v1/terms", params={"q": "pectoral"}).json()["items"]
    assert [h["id"] for h in hits] == ["UBERON:0000151", "UBERON:4000170"]
    syn = oclient.get("/api/v1/terms", params={"q": "pinna"}).json()["items"][0]
    assert syn["id"] == "UBERON:0008897" and syn["field"] == "EXACT" and syn["match"] == "exact"
    fuzzy = oclient.get("/api/v1/terms", params={"q": "pectorl fin"}).json()["items"]
    assert fuzzy and fuzzy[0]["id"] == "UBERON:0000151" and fuzzy[0]["match"] == "fuzzy"
    page = oclient.get("/api/v1/terms", params={"q": "fin", "limit": 1}).json()
    assert len(page["items"]) == 1 and page["next"]


def test_detail_by_curie_and_iri_and_obsolete_replacement(oclient):
    a = oclient.get("/api/v1/terms/UBERON:0000151").json()
    b = oclient.get("/api/v1/terms/http://purl.obolibrary.org/obo/UBERON_0000151").json()
    assert a == b and a["label"] == "pectoral fin" and a["xrefs"] == ["ZFA:0001161"]
    old = oclient.get("/api/v1/terms/UBERON:0000999").json()
    assert old["obsolete"] is True and old["replaced_by"] == ["UBERON:0008897"]
    assert oclient.get("/api/v1/terms/UBERON:1234567").status_code == 404


def test_ancestors_and_descendants_with_distances(oclient):
    up = oclient.get("/api/v1/terms/UBERON:4000170/ancestors").json()["items"]
    assert [(x["id"], x["distance"]) for x in up] == [("UBERON:0000151", 1), ("UBERON:0002534", 2),
                                                      ("UBERON:0008897", 3)]
    only_isa = oclient.get("/api/v1/terms/UBERON:4000170/ancestors", params={"predicates": "is_a"}).json()
    assert only_isa["items"] == []
    down = oclient.get("/api/v1/terms/UBERON:0008897/descendants", params={"predicates": ["is_a"]}).json()
    assert {x["id"] for x in down["items"]} == {"UBERON:0002534", "UBERON:0000151", "UBERON:0000152"}
    assert oclient.get("/api/v1/terms/UBERON:0000151/mappings").json() == ["ZFA:0001161"]


@pytest.mark.parametrize("url, fragment", [("/api/v1/terms/UBERN:0000151", "Did you mean UBERON"),
                                           ("/api/v1/terms/UBERON:0000151/ancestors?predicates=part_off", "part_off")])
def test_bad_identifiers_are_400_with_a_message(oclient, url, fragment):
    r = oclient.get(url)
    assert r.status_code == 400 and fragment in r.json()["detail"]


@pytest.mark.parametrize("payload", ['fin" } ; DROP ALL', "{ ?s ?p ?o }", "}", "a'b;"])
def test_search_payloads_are_values(oclient, payload):
    r = oclient.get("/api/v1/terms", params={"q": payload})
    assert r.status_code == 200
