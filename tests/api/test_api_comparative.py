"""/api/v1/comparative: runs on the bundled sample (presence/absence calls and posted values),
the bearer token for runs that write, stored analyses and their per-node estimates."""

from __future__ import annotations

import pytest
from _api_support import TOKEN, load_sample_store

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def cclient(tmp_path_factory):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    selector = load_sample_store(tmp_path_factory.mktemp("comparative") / "store")
    with TestClient(create_app(Settings(store=selector, api_token=TOKEN, query_workers=1)),
                    raise_server_exceptions=False) as c:
        yield c


def _tree(c):
    return c.get("/api/v1/trees").json()["items"][0]["name"]


def test_run_presence_absence_and_read_back(cclient):
    tree = _tree(cclient)
    body = {"tree": tree, "method": "mk-er", "entity": "UBERON:2000251"}
    r = cclient.post("/api/v1/comparative/runs", json=body)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = cclient.post("/api/v1/comparative/runs", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["graph"] and out["match"]["matched"] >= 5 and out["nodes"]
    assert abs(sum(out["nodes"][0]["marginal"].values()) - 1) < 1e-9
    listed = cclient.get("/api/v1/comparative").json()
    assert listed["total"] == 1 and listed["items"][0]["method"] == "mk-er"
    _, _, _, name, version = out["graph"].rsplit("/", 4)
    est = cclient.get(f"/api/v1/comparative/{name}/{version}/estimates", params={"limit": 5}).json()
    assert est["total"] == len(out["nodes"]) and len(est["items"]) == 5 and "ml" in est["items"][0]
    assert cclient.get("/api/v1/comparative/nope/v1/estimates").status_code == 404


def test_run_posted_values_without_writing(cclient):
    tree = _tree(cclient)
    rows = [{"taxon": t, "value": float(i % 5) + 0.1 * i, "se": 0.05} for i, t in enumerate(
        ["Danio rerio", "Danio albolineatus", "Cyprinus carpio", "Carassius auratus", "Esox lucius",
         "Oncorhynchus mykiss", "Amia calva", "Lepisosteus osseus", "Not a fish"])]
    r = cclient.post("/api/v1/comparative/runs", json={"tree": tree, "method": "lambda", "values": rows,
                                                        "write": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["graph"] is None and out["match"]["unmatched_taxa"] == ["Not a fish"]
    assert 0 <= out["result"]["lambda"] <= out["result"]["max_lambda"]


def test_bad_runs_are_problems(cclient):
    tree = _tree(cclient)
    r = cclient.post("/api/v1/comparative/runs", json={"tree": tree, "method": "bm", "write": False})
    assert r.status_code == 400 and "exactly one" in r.json()["detail"]
    r = cclient.post("/api/v1/comparative/runs", json={"tree": tree, "method": "lambda", "write": False,
                                                        "values": [{"taxon": "Danio rerio", "value": 1}]})
    assert r.status_code == 400 and "only 1 of 1 taxa" in r.json()["detail"]
    r = cclient.post("/api/v1/comparative/runs", json={"tree": tree, "method": "ou", "entity": "UBERON:2000251"})
    assert r.status_code == 422
    r = cclient.post("/api/v1/comparative/runs", json={"tree": "nope", "method": "fitch", "write": False,
                                                        "entity": "UBERON:2000251"})
    assert r.status_code == 404
    assert cclient.get("/api/v1/comparative/methods").json()[0] == "fitch"
