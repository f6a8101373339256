"""Hypotheses over HTTP: a `traitkg hypothesize` run on the bundled sample, listed and filtered
through /api/v1/hypotheses (read via SPARQL; the API never imports gnn)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # trains a (small) model first


@pytest.fixture(scope="module")
def hclient(tmp_path_factory):
    import sys
    from pathlib import Path

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from gnn.pipeline import hypothesize

    sys.path.insert(0, str(Path(__file__).parents[1] / "gnn"))
    from _worlds import gappy_sample  # the sample with cells left out: something to hypothesise

    d = tmp_path_factory.mktemp("hyp")
    selector = f"oxigraph:{d / 'store'}"
    kg = gappy_sample(d, selector=selector)
    out = hypothesize(kg, tree="sample", epochs=10, min_taxa=3, limit=None, seed=0, device="cpu")
    kg.close()
    with TestClient(create_app(Settings(store=selector, query_workers=1)), raise_server_exceptions=False) as c:
        yield c, out


def test_list_and_filter(hclient):
    c, out = hclient
    r = c.get("/api/v1/hypotheses")
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == out["hypotheses"] >= 1
    h = page["items"][0]
    assert h["run"] == out["run"] and h["subject"].startswith("taxon:") and h["predicate"].startswith("tkg:has")
    assert h["method"] == out["gate"]["chosen"] and h["baseline_validation"] == out["gate"]["best_baseline_val"]
    same = c.get("/api/v1/hypotheses", params={"subject": h["subject"], "object": h["object"], "run": out["run"]}).json()
    assert [x["id"] for x in same["items"]] == [h["id"]]
    assert c.get("/api/v1/hypotheses", params={"min_score": 1.0, "subject": "taxon:Nobody_here"}).json()["total"] == 0
    assert c.get("/api/v1/hypotheses", params={"limit": 1, "offset": page["total"]}).json()["items"] == []


def test_runs_with_provenance(hclient):
    c, out = hclient
    runs = c.get("/api/v1/hypotheses/runs").json()["items"]
    assert [r["run"] for r in runs] == [out["run"]]
    run = c.get(f"/api/v1/hypotheses/runs/{out['run']}").json()
    assert run["task"] == "imputation" and run["device"] == "cpu" and run["seed"] == 0
    assert any("/phenotypes/" in u for u in run["used"]) and any("/tree/sample/" in u for u in run["used"])
    assert run["gate"]["chosen"] == out["gate"]["chosen"] and "test_chosen" in run["metrics"]


def test_problems(hclient):
    c, _ = hclient
    r = c.get("/api/v1/hypotheses/runs/0123456789ab")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert c.get("/api/v1/hypotheses/runs/NOT-A-RUN").status_code == 422
    assert c.get("/api/v1/hypotheses", params={"subject": "nope:x y"}).status_code in (400, 422)


def test_run_audit_over_http(hclient):
    """A run's methods (validation and test, with intervals), its split cell by cell, its conflicts."""
    c, out = hclient
    run = c.get(f"/api/v1/hypotheses/runs/{out['run']}").json()
    assert run["methods"] == out["methods"] and run["violations"] == out["violations"]
    assert set(run["methods"]["model"]) == {"val", "test"} and len(run["methods"]["model"]["test"]["auc_ci"]) == 2
    assert run["software_versions"]["torch_geometric"] and run["limit"]["left_out"] == 0
    cells = c.get(f"/api/v1/hypotheses/runs/{out['run']}/cells", params={"limit": 1000}).json()
    assert cells["total"] == sum(out["metrics"]["split"].values())
    test = c.get(f"/api/v1/hypotheses/runs/{out['run']}/cells", params={"side": "test", "limit": 1000}).json()
    assert test["total"] == out["metrics"]["split"]["test"]
    assert all(set(x["scores"]) == set(out["methods"]) for x in test["items"])
    conflicts = c.get(f"/api/v1/hypotheses/runs/{out['run']}/conflicts").json()
    assert conflicts["total"] == out["conflicts"] >= 1 and conflicts["items"][0]["tiers"] == "asserted/asserted"
    assert c.get("/api/v1/hypotheses/runs/0123456789ab/cells").status_code == 404
    assert [r["run"] for r in c.get("/api/v1/hypotheses/runs", params={"task": "placement"}).json()["items"]] == []
