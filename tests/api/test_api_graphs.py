"""/api/v1/graphs: manifest (paginated), versions, detail, diff; uploads and drops behind the token."""

from __future__ import annotations

import tempfile

import pytest

AUTH = {"Authorization": "Bearer s3cret-token"}


def test_manifest_is_paginated_with_a_next_link(client):
    r = client.get("/api/v1/graphs", params={"limit": 1})
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 2 and page["limit"] == 1 and page["offset"] == 0
    assert [g["version"] for g in page["items"]] == ["v1"]
    nxt = client.get(page["next"]).json()
    assert [g["version"] for g in nxt["items"]] == ["v2"] and nxt["next"] is None
    g = nxt["items"][0]
    assert g["kind"] == "ontology" and g["name"] == "anatomy" and g["triples"] > 0 and len(g["sha256"]) == 64
    assert g["loader"] == "rdf" and g["source"].endswith("anatomy-v2.ttl")


def test_filters_versions_detail_and_diff(client):
    assert client.get("/api/v1/graphs", params={"kind": "tree"}).json()["total"] == 0
    vs = client.get("/api/v1/graphs/ontology/anatomy").json()
    assert [g["version"] for g in vs["items"]] == ["v1", "v2"]
    one = client.get("/api/v1/graphs/ontology/anatomy/v2").json()
    assert one["iri"].endswith("graph/ontology/anatomy/v2")
    d = client.get("/api/v1/graphs/diff", params={"a": "ontology/anatomy/v1", "b": "ontology/anatomy/v2"}).json()
    assert d["added"] == 3 and d["removed"] == 2  # fin (type, label), caudal fin subClassOf; odd term gone
    assert any("UBERON_0008897" in t for t in d["sample_added"])


@pytest.mark.parametrize("url", ["/api/v1/graphs/ontology/nothing/v1", "/api/v1/graphs/ontology/nothing",
                                 "/api/v1/graphs/diff?a=ontology/anatomy/v1&b=nope"])
def test_unknown_graph_is_404_problem(client, url):
    r = client.get(url)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 5000}, {"offset": -1}, {"limit": "x"}])
def test_bad_page_parameters_are_422_problems(client, params):
    r = client.get("/api/v1/graphs", params=params)
    assert r.status_code == 422 and r.json()["errors"]


def test_writes_need_a_bearer_token(client, toy):
    files = {"file": ("extra.ttl", b'<http://example.org/x> <http://example.org/p> "y" .', "text/turtle")}
    r = client.post("/api/v1/graphs", files=files, data={"name": "extra"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = client.post("/api/v1/graphs", files=files, data={"name": "extra"}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    assert client.delete("/api/v1/graphs/ontology/anatomy/v1").status_code == 401
    assert client.delete("/api/v1/graphs/ontology/anatomy/v1", headers={"Authorization": "Bearer x"}).status_code == 403
    assert client.get("/api/v1/graphs").json()["total"] == 2


def test_upload_loads_a_graph_and_queries_see_it(make_client, fresh_selector, toy):
    with make_client(fresh_selector) as c:
        c.get("/sparql", params={"query": "ASK {}"})  # a worker is up before the write
        data = (toy / "api" / "anatomy-v1.ttl").read_bytes().replace(b"pelvic fin", b"pelvic fin (uploaded)")
        r = c.post("/api/v1/graphs", files={"file": ("new-anatomy.ttl", data, "text/turtle")},
                   data={"name": "uploaded", "version": "2024-01"}, headers=AUTH)
        assert r.status_code == 201, r.text
        rep = r.json()
        assert rep["status"] == "loaded" and rep["name"] == "uploaded" and rep["version"] == "2024-01"
        assert rep["triples"] == 17
        assert c.get("/api/v1/graphs").json()["total"] == 3
        ask = c.get("/sparql", params={"query": "ASK { ?t rdfs:label 'pelvic fin (uploaded)' }"})
        assert ask.json()["boolean"] is True
        # same bytes again: a no-op
        again = c.post("/api/v1/graphs", files={"file": ("new-anatomy.ttl", data, "text/turtle")},
                       data={"name": "uploaded"}, headers=AUTH)
        assert again.status_code == 201 and again.json()["status"] == "unchanged"
        # drop it
        d = c.delete("/api/v1/graphs/rdf/uploaded/2024-01", headers=AUTH)
        assert d.status_code == 200 and d.json()["name"] == "uploaded"
        assert c.get("/api/v1/graphs").json()["total"] == 2
        ask = c.get("/sparql", params={"query": "ASK { ?t rdfs:label 'pelvic fin (uploaded)' }"})
        assert ask.json()["boolean"] is False


@pytest.fixture
def server_tmp(tmp_path, monkeypatch):
    """The in-process server's temporary directory: a test checks none of its files outlive a request."""
    d = tmp_path / "server-tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _snapshot(c):
    graphs = c.get("/api/v1/graphs").json()
    n = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"}).json()
    return graphs["items"], n["results"]["bindings"][0]["n"]["value"]


@pytest.mark.parametrize("upload, fields", [
    (("bad.ttl", "bad"), {"name": "bad"}),                                       # syntax error mid-file
    (("notes.xyz", b"whatever"), {"name": "x"}),                                  # unknown format
    (("ok.ttl", b'<http://e.org/a> <http://e.org/p> "q" .'), {"name": "bad name!"}),  # invalid graph name
    (("ok.ttl", b'<http://e.org/a> <http://e.org/p> "q" .'), {"bogus": "1"}),     # unknown field
    (("empty.ttl", b""), {"name": "empty"}),
])
def test_failed_upload_changes_nothing(make_client, fresh_selector, toy, tmp_path, server_tmp, upload, fields):
    name, content = upload
    if content == "bad":
        content = (toy / "api" / "bad.ttl").read_bytes()
    upload_dir = tmp_path / "uploads"
    with make_client(fresh_selector, upload_dir=str(upload_dir)) as c:
        before = _snapshot(c)
        r = c.post("/api/v1/graphs", files={"file": (name, content, "application/octet-stream")}, data=fields,
                   headers=AUTH)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert _snapshot(c) == before
        assert not any(p.is_file() for p in upload_dir.rglob("*")) if upload_dir.exists() else True
        assert list(server_tmp.iterdir()) == []
    if content and name == "bad.ttl":
        assert "bad.ttl" in r.json()["detail"] and ("3" in r.json()["detail"])  # file and line named


@pytest.mark.parametrize("declared", [True, False])  # refused on the declared length, or while streaming
def test_oversized_upload_is_413_and_changes_nothing(make_client, fresh_selector, server_tmp, declared):
    with make_client(fresh_selector, max_upload=1024 if declared else 100_000) as c:
        before = _snapshot(c)
        big = b"<http://e.org/a> <http://e.org/p> \"" + b"x" * (200_000 if declared else 120_000) + b"\" .\n"
        r = c.post("/api/v1/graphs", files={"file": ("big.nt", big, "application/n-triples")}, headers=AUTH)
        assert r.status_code == 413 and r.json()["limit"] == (1024 if declared else 100_000)
        assert _snapshot(c) == before
        assert list(server_tmp.iterdir()) == []


def test_upload_needs_multipart(make_client, fresh_selector):
    with make_client(fresh_selector) as c:
        r = c.post("/api/v1/graphs", content=b"<a> <b> <c> .", headers={**AUTH, "Content-Type": "text/turtle"})
        assert r.status_code == 415
        r = c.post("/api/v1/graphs", data={"name": "x"}, files={"other": ("a.ttl", b"x")}, headers=AUTH)
        assert r.status_code == 400 and "'file'" in r.json()["detail"]


def test_writes_refused_without_configured_token_or_when_read_only(make_client, fresh_selector):
    files = {"file": ("a.nt", b'<http://e.org/a> <http://e.org/p> "q" .\n')}
    with make_client(fresh_selector, api_token=None) as c:
        r = c.post("/api/v1/graphs", files=files, headers=AUTH)
        assert r.status_code == 403 and "TRAITKG_API_TOKEN" in r.json()["detail"]
    with make_client(fresh_selector, read_only=True) as c:
        r = c.post("/api/v1/graphs", files=files, headers=AUTH)
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
        assert c.get("/health").json()["read_only"] is True
