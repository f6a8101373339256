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


FISH = ["Danio rerio", "Danio albolineatus", "Cyprinus carpio", "Carassius auratus", "Esox lucius",
        "Oncorhynchus mykiss", "Amia calva", "Lepisosteus osseus"]


def test_estimates_carry_every_stored_value(cclient):
    tree = _tree(cclient)
    out = cclient.post("/api/v1/comparative/runs", headers=AUTH,
                       json={"tree": tree, "method": "mk-ard", "entity": "UBERON:2000251"}).json()
    _, _, _, name, version = out["graph"].rsplit("/", 4)
    est = cclient.get(f"/api/v1/comparative/{name}/{version}/estimates", params={"limit": 1000}).json()["items"]
    by_node = {int(e["node"].rsplit("/", 1)[-1]): e for e in est}
    for n in out["nodes"]:
        e = by_node[n["node"]]
        assert e["probabilities"] == n["marginal"] and e["joint"] == n["joint"] and e["ml"] == n["most_likely"]
    back = cclient.get(f"/api/v1/comparative/{name}/{version}").json()
    assert back["result"] == out["result"] and back["match"] == out["match"] and back["method"] == "mk-ard"
    assert [n["probabilities"] for n in back["nodes"]] == [n["marginal"] for n in out["nodes"]]


def test_pgls_runs_stores_and_reads_back(cclient):
    tree = _tree(cclient)
    xs = [{"taxon": t, "value": 0.5 * i} for i, t in enumerate(FISH)]
    ys = [{"taxon": t, "value": 1.0 + 0.3 * i + (0.2 if i % 2 else -0.1)} for i, t in enumerate(FISH)]
    ys.append({"taxon": "Not a fish", "value": 1.0})
    body = {"tree": tree, "method": "pgls", "values": ys, "predictors": {"x": xs}, "trait_name": "y",
            "model": "lambda", "estimation": "REML", "vcv": "correlation"}
    assert "pgls" in cclient.get("/api/v1/comparative/methods").json()
    r = cclient.post("/api/v1/comparative/runs", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out = r.json()
    res = out["result"]
    assert [c["term"] for c in res["coefficients"]] == ["(Intercept)", "x"] and res["n"] == len(FISH)
    assert out["match"]["unmatched_taxa"] == ["Not a fish"] and out["graph"] and res["vcv"] == "correlation"
    _, _, _, name, version = out["graph"].rsplit("/", 4)
    est = cclient.get(f"/api/v1/comparative/{name}/{version}/estimates").json()["items"]
    assert {e["term"]: [e["est"], e["se"], e["t"]] for e in est} == {
        c["term"]: [c["estimate"], c["se"], c["t"]] for c in res["coefficients"]}
    back = cclient.get(f"/api/v1/comparative/{name}/{version}").json()
    assert back["result"] == res and back["parameters"]["vcv"] == "correlation"
    listed = {i["method"]: i for i in cclient.get("/api/v1/comparative").json()["items"]}
    assert listed["pgls"]["ll"] == res["loglik"] and listed["pgls"]["lam"] == res["lambda"]
    bad = cclient.post("/api/v1/comparative/runs", json={**body, "predictors": None, "write": False})
    assert bad.status_code == 400 and "predictors" in bad.json()["detail"]
    bad = cclient.post("/api/v1/comparative/runs", json={**body, "method": "bm", "write": False})
    assert bad.status_code == 400 and "for pgls" in bad.json()["detail"]


def test_cli_rest_and_python_give_the_same_numbers(tmp_path):
    """One call three ways -- distances on a tree with 17-digit branch lengths, Pagel's lambda and
    PGLS on the sample -- and the numbers are equal, not close: the CLI's JSON and tables print
    every digit (repr), JSON numbers are numbers."""
    import json

    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph
    from kg.cli import main

    selector = load_sample_store(tmp_path / "store")
    anole = "tests/data/comparative/anole.nwk"
    rows = [(t, 1.0 / (i + 3) + (i % 4) * 0.731, 0.01 * (1 + i % 3)) for i, t in enumerate(FISH)]
    xs = {t: (i * 0.37) ** 1.5 for i, t in enumerate(FISH)}
    table = tmp_path / "t.tsv"
    table.write_text("taxon\tv\tse\tx\n" + "".join(f"{t}\t{v!r}\t{s!r}\t{xs[t]!r}\n" for t, v, s in rows))
    with KnowledgeGraph.open(selector) as g:
        g.load_tree(anole, name="anole")
        tips = g.tree("anole").tips()[:6]
        py_matrix = g.tree("anole").distance_matrix(tips).tolist()
        trait = g.comparative.table(table, column="v")
        py_lam = g.comparative.run("sample", trait, "lambda", write=False).to_dict()
        py_pgls = g.comparative.run("sample", trait, "pgls", predictors={"x": xs}, vcv="correlation",
                                    write=False).to_dict()

    def cli(*args):
        r = CliRunner().invoke(main, ["--store", selector, *args])
        assert r.exit_code == 0, r.stderr
        return r.stdout

    cli_matrix = json.loads(cli("tree", "matrix", *tips, "--tree", "anole", "--format", "json"))
    assert [[row[t] for t in tips] for row in cli_matrix] == py_matrix
    table_out = cli("tree", "matrix", *tips, "--tree", "anole", "--format", "tsv").splitlines()
    assert [[float(x) for x in ln.split("\t")[1:]] for ln in table_out[1:]] == py_matrix
    assert float(cli("tree", "distance", tips[0], tips[1], "--tree", "anole")) == py_matrix[0][1]
    (cli_lam,) = json.loads(cli("signal", "sample", "--trait", str(table), "--value-column", "v", "--method", "lambda",
                                "--no-write", "--format", "json"))
    cli_pgls = json.loads(cli("pgls", "sample", "--table", str(table), "--y", "v", "--x", "x", "--vcv", "correlation",
                              "--no-write", "--format", "json"))
    lam_tsv = cli("signal", "sample", "--trait", str(table), "--value-column", "v", "--method", "lambda", "--no-write",
                  "--format", "tsv").splitlines()[1].split("\t")
    with TestClient(create_app(Settings(store=selector, api_token=TOKEN, query_workers=1))) as c:
        rest_matrix = c.post("/api/v1/trees/anole/distances", json={"ids": tips}).json()["matrix"]
        body = {"tree": "sample", "method": "lambda", "write": False, "trait_name": "v",
                "values": [{"taxon": t, "value": v, "se": s} for t, v, s in rows]}
        rest_lam = c.post("/api/v1/comparative/runs", json=body).json()
        rest_pgls = c.post("/api/v1/comparative/runs", json={
            **body, "method": "pgls", "vcv": "correlation",
            "predictors": {"x": [{"taxon": t, "value": v} for t, v in xs.items()]}}).json()
    assert rest_matrix == py_matrix
    for key in ("result", "match", "nodes", "imputed"):
        assert cli_lam[key] == py_lam[key] == rest_lam[key], key
        assert cli_pgls[key] == py_pgls[key] == rest_pgls[key], key
    assert float(lam_tsv[1]) == py_lam["result"]["lambda"] and float(lam_tsv[2]) == py_lam["result"]["loglik"]
