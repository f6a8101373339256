"""Hypotheses runs started over REST (``POST /api/v1/hypotheses/runs``): each of the three tasks runs
as a job of the server's worker thread on the small world of tests/gnn, is listed afterwards with
its task, and reports what the Python API reports for the same parameters and seed; the bearer
token, bad bodies, the queue, and reads going on while a job runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from _api_support import TOKEN

pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # trains (small) models

sys.path.insert(0, str(Path(__file__).parents[1] / "gnn"))
from _worlds import gappy_sample  # noqa: E402  (the sample with cells left out and a conflict)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
RUNS = "/api/v1/hypotheses/runs"
TASKS = {"imputation": {"epochs": 4, "min_taxa": 3, "seed": 3, "split": "clade", "ablation": True},
         "linkpred": {"epochs": 4, "min_taxa": 3, "seed": 1, "limit": 5},
         "placement": {"min_taxa": 3, "seed": 2}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The server (owning an on-disk store of the world) and the same world in memory for the Python API."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg.cli.hypothesize import run_for_server

    d = tmp_path_factory.mktemp("hypruns")
    selector = f"oxigraph:{d / 'store'}"
    gappy_sample(d / "w1", selector=selector).close()
    mem = gappy_sample(d / "w2")
    app = create_app(Settings(store=selector, api_token=TOKEN, query_workers=1, max_queued_jobs=1),
                     hypothesize=run_for_server)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, mem
    mem.close()


def _wait(c, url: str, until=("done", "failed")) -> dict:
    deadline = time.monotonic() + 600  # a bound against hanging, not a timing assertion
    while time.monotonic() < deadline:
        job = c.get(url).json()
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job at {url} still {job['status']}")


def _plain(obj):
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_over_rest_matches_the_python_api(world, task):
    from gnn.evaluate import jsonable
    from gnn.pipeline import hypothesize

    c, mem = world
    params = {"task": task, "tree": "sample", "device": "cpu", **TASKS[task]}
    r = c.post(RUNS, json=params, headers=AUTH)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["task"] == task
    assert r.headers["location"] == job["status_url"] and job["status_url"].endswith(f"/api/v1/hypotheses/jobs/{job['id']}")
    job = _wait(c, job["status_url"])
    assert job["status"] == "done", job["error"]
    report = job["report"]
    assert job["run"] == report["run"] and job["graph"] == report["graph"] and report["status"] == "loaded"
    assert job["parameters"]["seed"] == params["seed"] and report["task"] == task
    listed = c.get(RUNS, params={"task": task}).json()["items"]
    assert job["run"] in [x["run"] for x in listed] and all(x["task"] == task for x in listed)
    stored = c.get(job["run_url"]).json()
    assert stored["task"] == task and stored["seed"] == params["seed"] and stored["methods"] == report["methods"]

    limit = params.get("limit", None if task == "placement" else 1000)
    py = jsonable(hypothesize(mem, task=task, tree="sample", device="cpu", write=False, limit=limit,
                              **{k: v for k, v in TASKS[task].items() if k != "limit"}))
    for key in ("methods", "metrics", "gate", "violations", "hypotheses", "conflicts", "limit", "sample"):
        assert report[key] == _plain(py[key]), key
    if task == "imputation":
        assert [a["variant"] for a in report["ablation"]] == [a["variant"] for a in py["ablation"]]
        assert report["ablation"] == _plain(py["ablation"])


def test_token_and_bad_bodies(world):
    c, _ = world
    body = {"task": "imputation", "epochs": 2, "min_taxa": 3}
    r = c.post(RUNS, json=body)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert c.post(RUNS, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = c.post(RUNS, json={"task": "clustering"}, headers=AUTH)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "task" in detail and all(t in detail for t in ("'imputation'", "'placement'", "'linkpred'")), detail
    for bad in ({"epochs": 0}, {"split": "diagonal"}, {"conv": "gcn"}, {"device": "tpu"}, {"limit": -1},
                {"checkpoint": "/tmp/x"}, {"epochs": "many"}, {"priors": ["ridge"]}):
        r = c.post(RUNS, json={**body, **bad}, headers=AUTH)
        assert r.status_code == 422, (bad, r.text)
        assert next(iter(bad)) in r.json()["detail"], (bad, r.json()["detail"])
    r = c.post(RUNS, json={**body, "tree": "no-such-tree"}, headers=AUTH)
    assert r.status_code == 404 and "loaded trees: sample" in r.json()["detail"]
    assert c.get("/api/v1/hypotheses/jobs/0123abcd").status_code == 404
    assert c.get("/api/v1/hypotheses/jobs/NOT-A-JOB").status_code == 422


def test_a_failed_run_says_why_in_one_line(world):
    c, _ = world
    r = c.post(RUNS, json={"task": "imputation", "min_taxa": 1000, "device": "cpu"}, headers=AUTH)
    assert r.status_code == 202
    job = _wait(c, r.json()["status_url"])
    assert job["status"] == "failed" and "too few labelled examples" in job["error"] and "\n" not in job["error"]
    assert job["report"] is None and job["run"] is None


def test_reads_go_on_while_a_job_runs_and_the_queue_is_bounded(world):
    """The test holds the server's write lock, so the job trains and then waits to write: it is
    running while the reads below are answered (from the snapshot), a second job waits behind it
    and a third is refused (max_queued_jobs=1); then both finish and their runs appear."""
    c, _ = world
    before = {x["run"] for x in c.get(RUNS, params={"limit": 1000}).json()["items"]}
    lock = c.app.state.write_lock
    with lock:
        first = c.post(RUNS, json={"task": "imputation", "epochs": 3, "min_taxa": 3, "seed": 7, "device": "cpu"},
                       headers=AUTH).json()
        second = c.post(RUNS, json={"task": "placement", "min_taxa": 3, "seed": 8}, headers=AUTH).json()
        running = _wait(c, first["status_url"], until=("running",))
        assert running["status"] == "running" and running["started"] and running["finished"] is None
        queued = c.get(second["status_url"]).json()
        assert queued["status"] == "queued" and queued["ahead"] == 1
        third = c.post(RUNS, json={"task": "linkpred"}, headers=AUTH)
        assert third.status_code == 429 and "Retry-After" in third.headers
        for _ in range(3):  # reads are answered meanwhile, from the store as it was
            r = c.get(RUNS, params={"limit": 1000})
            assert r.status_code == 200 and {x["run"] for x in r.json()["items"]} == before
            assert c.get("/api/v1/hypotheses", params={"limit": 1}).status_code == 200
            assert c.get("/api/v1/trees").status_code == 200
        assert c.get(first["status_url"]).json()["status"] == "running"
    done = [_wait(c, j["status_url"]) for j in (first, second)]
    assert [j["status"] for j in done] == ["done", "done"], [j["error"] for j in done]
    after = {x["run"] for x in c.get(RUNS, params={"limit": 1000}).json()["items"]}
    assert after - before == {done[0]["run"], done[1]["run"]}


def test_a_server_without_the_models_says_how_to_start_one(make_client):
    with make_client("oxigraph:") as c:
        r = c.post(RUNS, json={"task": "imputation"}, headers=AUTH)
        assert r.status_code == 503 and "traitkg serve" in r.json()["detail"]
        assert c.get("/api/v1/hypotheses/jobs/0123abcd").status_code == 404


@pytest.mark.server
def test_traitkg_serve_runs_jobs_over_real_http(tmp_path):
    """The app `traitkg serve` runs (``kg.cli.serve:app_factory``) under uvicorn: a placement run
    over loopback HTTP finishes and its run is listed."""
    import httpx
    from _api_support import Uvicorn, free_port

    selector = f"oxigraph:{tmp_path / 'store'}"
    gappy_sample(tmp_path / "w", selector=selector).close()
    port = free_port()
    srv = Uvicorn({"TRAITKG_STORE": selector, "TRAITKG_API_TOKEN": TOKEN, "TRAITKG_QUERY_WORKERS": "1"}, port=port,
                  argv=[sys.executable, "-m", "uvicorn", "--factory", "kg.cli.serve:app_factory",
                        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"])
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            r = c.post(RUNS, json={"task": "placement", "min_taxa": 3}, headers=AUTH)
            assert r.status_code == 202, r.text
            job = _wait(c, r.headers["location"])
            assert job["status"] == "done", job["error"]
            runs = c.get(RUNS, params={"task": "placement"}).json()["items"]
            assert [x["run"] for x in runs] == [job["run"]]
    finally:
        srv.stop()
