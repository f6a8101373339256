"""Traits over HTTP (the bundled sample world): a taxon's traits with tier and evidence, taxa with an
entity (subsumption, within a clade), OntoTrace matrices in three formats, similarity."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree


@pytest.fixture(scope="module")
def sample_kg():
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    kg = KnowledgeGraph.open("oxigraph:")
    load_sample(kg)
    return kg


@pytest.fixture(scope="module")
def sclient(tmp_path_factory):
    from _api_support import load_sample_store
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    selector = load_sample_store(tmp_path_factory.mktemp("sample") / "store")
    with TestClient(create_app(Settings(store=selector, query_workers=1)),
                    raise_server_exceptions=False) as c:
        yield c


def test_taxon_traits_have_tier_and_evidence(sclient):
    r = sclient.get("/api/v1/taxa/Corydoras aeneus/traits", params={"limit": 1000})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    page = r.json()
    assert page["total"] == len(page["items"]) > 5
    kinds = {x["kind"] for x in page["items"]}
    tiers = {x["tier"] for x in page["items"]}
    assert {"presence", "phenotype"} <= kinds and {"asserted", "inferred"} <= tiers
    spine = [x for x in page["items"] if x["kind"] == "presence" and x["entity"] == "UBERON:2001787"]
    assert spine and spine[0]["value"] == "present" and spine[0]["tier"] == "asserted"
    ev = spine[0]["evidence"][0]
    assert ev["matrix_title"] and ev["character_label"] and ev["publication"]
    inferred = [x for x in page["items"] if x["tier"] == "inferred"]
    assert all(x["inferred_from"] for x in inferred)
    # the same answer by CURIE and by IRI
    for ref in ("taxon:Corydoras_aeneus", "https://w3id.org/traitkg/taxon/Corydoras_aeneus"):
        assert sclient.get(f"/api/v1/taxa/{ref}/traits", params={"limit": 1000}).json()["total"] == page["total"]


def test_taxon_traits_filters_and_pages(sclient):
    url = "/api/v1/taxa/Corydoras aeneus/traits"
    asserted = sclient.get(url, params={"tier": "asserted", "limit": 1000}).json()
    assert asserted["items"] and {x["tier"] for x in asserted["items"]} == {"asserted"}
    ph = sclient.get(url, params={"kind": "phenotype", "evidence": "false", "limit": 1000}).json()
    assert {x["kind"] for x in ph["items"]} == {"phenotype"} and all("evidence" not in x for x in ph["items"])
    p1 = sclient.get(url, params={"limit": 2}).json()
    p2 = sclient.get(p1["next"]).json()
    assert len(p1["items"]) == 2 and p2["offset"] == 2 and p1["items"][0] != p2["items"][0]


def test_taxon_traits_fast_path_gives_the_handlers_bytes(sclient):
    """Once every taxon's traits are encoded, a well-formed GET is answered by taxon_traits_fast
    without FastAPI's machinery: the handler's bytes and headers (a parameter the route ignores sends
    a request there), next links included; malformed or unknown requests get the handler's errors."""
    from urllib.parse import quote, urlencode

    from api.routers.traits import taxon_traits_fast

    kg = sclient.app.state.kg
    kg.traits.pages()  # ready (a server with --warm has them before its first request)
    params = [[], [("limit", "2")], [("limit", "3"), ("offset", "4"), ("evidence", "false")],
              [("tier", "asserted"), ("tier", "inferred"), ("kind", "absence"), ("evidence", "Yes")],
              [("kind", "phenotype"), ("limit", "1000")], [("offset", "999999")], [("limit", "5"), ("limit", "07")]]
    refs = [n for n in kg.traits.index.taxa.values()] + ["taxon:Corydoras_aeneus"]
    for ref in refs:
        url = f"/api/v1/taxa/{quote(ref)}/traits"
        for ps in params:
            qs = urlencode(ps)
            scope = {"type": "http", "method": "GET", "path": f"/api/v1/taxa/{ref}/traits", "raw_path": url.encode(),
                     "root_path": "",
                     "scheme": "http", "query_string": qs.encode(), "headers": [(b"host", b"testserver")],
                     "server": ("testserver", 80), "path_params": {"ref": ref}, "app": sclient.app}
            fast = sclient.get(f"{url}?{qs}")
            handler = sclient.get(f"{url}?{qs}&via=handler")
            assert fast.status_code == handler.status_code == 200
            assert fast.headers["content-type"] == handler.headers["content-type"] == "application/json"
            assert taxon_traits_fast(scope) == fast.content
            # the handler's next link carries the parameter it ignored
            assert fast.content == handler.content.replace(b"&via=handler", b"").replace(b"via=handler&", b"")
    for qs, status in (("limit=0", 422), ("limit=1001", 422), ("offset=-1", 422), ("tier=curated", 422),
                       ("evidence=maybe", 422), ("limit=x", 422)):
        r = sclient.get(f"/api/v1/taxa/Corydoras aeneus/traits?{qs}")
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", qs
    r = sclient.get("/api/v1/taxa/Corydoras aenus/traits", params={"limit": 5})
    assert r.status_code == 404 and "Corydoras aeneus" in r.json()["detail"]


def test_unknown_taxon_traits_is_404_with_a_suggestion(sclient):
    r = sclient.get("/api/v1/taxa/Corydoras aenus/traits")
    assert r.status_code == 404 and "Corydoras aeneus" in r.json()["detail"]


def test_taxa_with_an_entity_matches_the_facade_and_respects_clades(sclient, sample_kg):
    for term, params in [("UBERON:0000151", {}), ("UBERON:2001787", {}), ("UBERON:0000151", {"parts": "false"}),
                         ("UBERON:2001787", {"value": "present"}), ("UBERON:2001787", {"value": "absent"})]:
        got = sclient.get(f"/api/v1/terms/{term}/taxa", params={**params, "limit": 1000}).json()
        want = sample_kg.traits.taxa_with(term, parts=params.get("parts") != "false", value=params.get("value"))
        assert [x["name"] for x in got["items"]] == [w["taxon"] for w in want], (term, params)
        assert all(x["taxon"].startswith("taxon:") for x in got["items"])
    fin = {x["name"] for x in sclient.get("/api/v1/terms/UBERON:0000151/taxa", params={"limit": 1000}).json()["items"]}
    no_parts = sclient.get("/api/v1/terms/UBERON:0000151/taxa", params={"parts": "false", "limit": 1000}).json()
    assert {x["name"] for x in no_parts["items"]} <= fin
    within = sclient.get("/api/v1/terms/UBERON:2001787/taxa", params={"within": "Corydoras", "limit": 1000}).json()
    assert within["items"] and all(x["name"].startswith("Corydoras ") for x in within["items"])
    present = sclient.get("/api/v1/terms/UBERON:2001787/taxa", params={"value": "present", "limit": 1000}).json()
    assert "Corydoras aeneus" in {x["name"] for x in present["items"]}


def test_taxa_within_a_tree_clade(sclient):
    tree = sclient.get("/api/v1/trees").json()["items"][0]["name"]
    mrca = sclient.get(f"/api/v1/trees/{tree}/mrca", params={"ids": ["Corydoras aeneus", "Ictalurus punctatus"]}).json()
    node = mrca["mrca"]["id"]
    clade = set(sclient.get(f"/api/v1/trees/{tree}/nodes/{node}", params={"tips": 1000}).json()["tips"])
    r = sclient.get("/api/v1/terms/UBERON:2001787/taxa",
                    params={"within": str(node), "tree": tree, "value": "present", "limit": 1000}).json()
    assert r["items"] and {x["name"].replace(" ", "_") for x in r["items"]} <= {t.replace(" ", "_") for t in clade}


def test_matrix_in_csv_json_and_nexml(sclient):
    body = {"taxa": ["Corydoras aeneus", "Danio rerio"], "entities": ["UBERON:2001787", "UBERON:2000251"]}
    j = sclient.post("/api/v1/traits/matrix", json={**body, "format": "json"})
    assert j.headers["content-type"].startswith("application/json")
    m = j.json()
    assert m["taxa"] == body["taxa"] and [e["id"] for e in m["entities"]] == body["entities"]
    assert m["cells"][0][0]["value"] == "1"
    c = sclient.post("/api/v1/traits/matrix", json={**body, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert len(rows) == 4 and rows[0]["taxon"] == "Corydoras aeneus" and rows[0]["value"] == "1"
    x = sclient.get("/api/v1/traits/matrix", params={"taxa": body["taxa"], "entities": body["entities"],
                                                     "format": "nexml"})
    doc = etree.fromstring(x.content)
    ns = {"n": "http://www.nexml.org/2009"}
    assert len(doc.findall(".//n:otu", ns)) == 2 and len(doc.findall(".//n:row/n:cell", ns)) == 4
    bad = sclient.post("/api/v1/traits/matrix", json={**body, "entities": ["UBRON:1"]})
    assert bad.status_code == 400 and "UBERON" in bad.json()["detail"]


def test_similarity(sclient):
    sim = sclient.get("/api/v1/similarity/taxa/Corydoras aeneus", params={"k": 5}).json()
    assert len(sim) == 5 and all(0 <= s["score"] <= 1 for s in sim)
    assert [s["score"] for s in sim] == sorted((s["score"] for s in sim), reverse=True)
    assert "taxon:Corydoras_aeneus" not in {s["taxon"] for s in sim}
    prof = sclient.post("/api/v1/similarity/profile", json={"terms": ["UBERON:2001787"], "k": 3}).json()
    assert len(prof) == 3
    pair = sclient.get("/api/v1/similarity/terms", params={"a": "UBERON:2001787", "b": "UBERON:2001787"}).json()
    assert pair["jaccard"] == pytest.approx(1.0)
    assert sclient.get("/api/v1/similarity/taxa/Nobody here").status_code == 404


def test_warm_start_builds_indices_before_serving(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    kg = KnowledgeGraph.open(f"oxigraph:{tmp_path / 's'}")
    load_sample(kg)
    kg.close()
    app = create_app(Settings.from_env({"TRAITKG_STORE": f"oxigraph:{tmp_path / 's'}", "TRAITKG_WARM": "1"}))
    with TestClient(app) as c:
        assert ("tree", "sample") in app.state.views
        assert "calls" in app.state.kg._cache and "terms" in app.state.kg._cache  # built before the first request
        cache = app.state.kg._cache  # and what a taxon's traits, summaries and an MRCA answer read
        assert {"calls_by_taxon", "cells_by_taxon", "labels", "evidence_json", "state_taxa", "state_info", ("prediction-batches", None)} <= set(cache)
        assert ("ages", "sample") in app.state.views
        assert c.get("/api/v1/taxa/Corydoras aeneus/traits").status_code == 200
