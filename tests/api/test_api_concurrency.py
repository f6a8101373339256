"""Faults and load on a real server: reads during writes, runaway queries, one owner of the store,
and what a client may not do (GET updates, paths outside the data directory)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from _api_support import TOKEN, Uvicorn

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = Path(__file__).resolve().parents[2] / "kg" / "sample"
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
COUNT_TIPS = ("SELECT (COUNT(?t) AS ?n) WHERE { GRAPH ?g { ?t <http://purl.obolibrary.org/obo/CDAO_0000187> ?x } }")


def _count(client: httpx.Client, q: str) -> int:
    r = client.get("/sparql", params={"query": q})
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.fixture
def server(fresh_selector):
    srv = Uvicorn({"TRAITKG_STORE": fresh_selector, "TRAITKG_API_TOKEN": TOKEN, "TRAITKG_QUERY_TIMEOUT": "20"})
    yield srv, fresh_selector
    srv.stop()


def test_reads_during_uploads_see_before_or_after_never_a_mixture(server, toy):
    srv, _ = server
    c = httpx.Client(base_url=srv.url, timeout=60)
    before = (_count(c, COUNT_ALL), _count(c, COUNT_TIPS), c.get("/api/v1/graphs").json()["total"])
    seen: list[tuple[str, object]] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        rc = httpx.Client(base_url=srv.url, timeout=60)
        while not stop.is_set():
            try:
                seen.append(("all", _count(rc, COUNT_ALL)))
                seen.append(("tips", _count(rc, COUNT_TIPS)))
                r = rc.get("/api/v1/graphs", params={"limit": 1})
                assert r.status_code == 200, r.text
                seen.append(("graphs", r.json()["total"]))
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    states = [before]
    for path, fields in ((SAMPLE / "fish-tree.nwk", {"kind": "tree", "name": "fish"}),
                         (toy / "ontologies" / "toy.obo", {"kind": "ontology"})):
        with open(path, "rb") as fh:
            r = c.post("/api/v1/graphs", files={"file": (path.name, fh)}, data=fields, headers=AUTH)
        assert r.status_code == 201, r.text
        states.append((_count(c, COUNT_ALL), _count(c, COUNT_TIPS), c.get("/api/v1/graphs").json()["total"]))
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    allowed = {"all": {s[0] for s in states}, "tips": {s[1] for s in states}, "graphs": {s[2] for s in states}}
    assert len(seen) > 10
    for what, value in seen:
        assert value in allowed[what], (what, value, allowed[what])
    # the uploaded ontology got its closure (listed, nothing stale)
    kinds = [g["kind"] for g in c.get("/api/v1/graphs", params={"limit": 100}).json()["items"]]
    assert kinds.count("closure") == 2 and states[1][1] > 0


def test_uploaded_ontology_answers_201_with_its_imports_and_closure(make_client, fresh_selector, toy):
    with make_client(fresh_selector) as c:
        with open(toy / "ontologies" / "toy.obo", "rb") as fh:
            r = c.post("/api/v1/graphs", files={"file": ("toy.obo", fh)}, data={"kind": "ontology"}, headers=AUTH)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["counts"]["imports"] == [] and body["counts"]["closure_triples"] > 0
        assert body["source"] == "toy.obo"  # never the server's copy of it
        graphs = {g["kind"] for g in c.get("/api/v1/graphs", params={"limit": 100}).json()["items"]}
        assert "closure" in graphs


def test_cli_beside_a_running_server_says_who_owns_the_store(server):
    _, selector = server
    p = subprocess.run([str(Path(sys.executable).parent / "traitkg"), "--store", selector, "graphs"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "open in another process" in lines[0] and "POST /api/v1/graphs" in lines[0]


CROSS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
_ANY = "(!<urn:x:none>|^!<urn:x:none>)*"
PATH = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a {_ANY} ?b . ?c {_ANY} ?d . ?e {_ANY} ?f }}"


def _expensive_beside_a_cheap_query(c, queries: list[str], wait_s: float) -> tuple[list[httpx.Response], set[int]]:
    """Send ``queries`` at once, each on its own thread; once every one is running in a query worker,
    check that a cheap query is answered while they still run. Returns their answers and the pids of
    the workers that ran them."""
    runner = c.app.state.runner
    out: dict[int, httpx.Response] = {}

    def send(k: int, q: str) -> None:
        out[k] = c.get("/sparql", params={"query": q})

    threads = [threading.Thread(target=send, args=(k, q)) for k, q in enumerate(queries)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + wait_s
    while len(runner.busy) < len(queries) and time.monotonic() < deadline:
        time.sleep(0.02)
    pids = set(runner.busy)
    assert len(pids) == len(queries)
    cheap = c.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert cheap.status_code == 200 and cheap.json()["boolean"] is True
    assert any(t.is_alive() for t in threads), "the cheap query was not answered while they ran"
    for t in threads:
        t.join()
    return list(out.values()), pids


def test_runaway_queries_are_stopped_and_a_cheap_one_is_answered_meanwhile(make_client, fresh_selector):
    """Three expensive queries (a cross product of all quads, a deep property path) with two warm
    workers: the cheap query is answered at once; the expensive ones get a 503 naming the limit, and
    the processes that ran them are gone (the work stopped, not only the waiting)."""
    with make_client(fresh_selector, query_timeout=3.0, query_workers=2, max_queries=6) as c:
        answers, pids = _expensive_beside_a_cheap_query(c, [CROSS, PATH, CROSS], wait_s=10)
        for r in answers:
            assert r.status_code == 503, r.text
            assert "3 s limit" in r.json()["detail"] and "TRAITKG_QUERY_TIMEOUT" in r.json()["detail"]
        for pid in pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert c.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True


# every quad with every quad, four times over: 67 quads in the toy store give 20 million rows
CROSS_ROWS = ("SELECT ?a ?d ?g ?j WHERE { GRAPH ?w { ?a ?b ?c } GRAPH ?x { ?d ?e ?f } "
              "GRAPH ?y { ?g ?h ?i } GRAPH ?z { ?j ?k ?l } }")


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_an_answer_over_the_result_limit_stops_its_query_and_others_are_answered(make_client, fresh_selector):
    """Two cross products of all quads, each with far more rows than the result limit: each stops
    at limit + 1 rows in its worker (which stays alive and small: the answer is never built) and
    answers 403 naming the limit; a cheap query is answered meanwhile."""
    limit = 50_000
    with make_client(fresh_selector, query_timeout=600.0, query_workers=3, max_queries=3,
                     result_limit=limit) as c:
        quads = _count(c, COUNT_ALL)
        assert quads ** 4 > 100 * limit
        answers, pids = _expensive_beside_a_cheap_query(c, [CROSS_ROWS, CROSS_ROWS], wait_s=30)
        for r in answers:
            assert r.status_code == 403, r.text
            body = r.json()
            assert body["setting"] == "TRAITKG_RESULT_LIMIT" and body["limit"] == limit
            assert f"more than {limit:,} rows" in body["detail"] and "LIMIT" in body["detail"]
        for pid in pids:  # stopped by the limit, not killed: the same workers answer the next queries
            assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
            # 20 million rows of four terms would take gigabytes; the worker read 50,001 of them
            assert _peak_rss(pid) < 1024 ** 3
        assert c.get("/sparql", params={"query": CROSS_ROWS + f" LIMIT {limit}"}).status_code == 200
        assert set(c.app.state.runner.busy) == set()


def test_past_max_queries_a_query_is_refused_with_the_setting_named(make_client, fresh_selector):
    with make_client(fresh_selector, query_timeout=4.0, query_workers=1, max_queries=1, queue_wait=0.2) as c:
        t = threading.Thread(target=lambda: c.get("/sparql", params={"query": CROSS}))
        t.start()
        deadline = time.monotonic() + 10
        while not c.app.state.runner.busy and time.monotonic() < deadline:
            time.sleep(0.05)
        r = c.get("/sparql", params={"query": "ASK {}"})
        assert r.status_code == 503 and "TRAITKG_MAX_QUERIES" in r.json()["detail"]
        t.join()


def test_get_with_an_update_is_refused(client):
    r = client.get("/sparql", params={"update": "DROP ALL"})
    assert r.status_code == 400 and "POST" in r.json()["detail"]
    assert client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True


@pytest.mark.parametrize("filename", ["../../../../etc/passwd", "..\\..\\secret.ttl", "/etc/hosts", "....//x.ttl"])
def test_upload_names_never_reach_outside_the_upload_directory(make_client, fresh_selector, tmp_path, filename):
    updir = tmp_path / "uploads"
    with make_client(fresh_selector, upload_dir=str(updir)) as c:
        r = c.post("/api/v1/graphs", files={"file": (filename, b"<http://x/a> <http://x/p> <http://x/b> .\n")},
                   data={"format": "ntriples", "name": "trav"}, headers=AUTH)
        assert r.status_code in (201, 400), r.text
        assert "/etc" not in r.text and str(tmp_path) not in r.text
        for f in updir.rglob("*"):
            assert f.resolve().is_relative_to(updir.resolve())
    assert Path("/etc/passwd").stat().st_size > 0


@pytest.mark.parametrize("url", [
    "/api/v1/graphs/..%2F..%2Fetc/passwd/1", "/api/v1/graphs/ontology/..%2F..%2F..%2Fetc%2Fpasswd/v1",
    "/static/..%2F..%2Fapp.py", "/static/../settings.py", "/api/v1/trees/..%2F..%2Fetc%2Fpasswd",
])
def test_path_parameters_never_read_files(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404, 422), (url, r.status_code)
    assert "root:" not in r.text and "class Settings" not in r.text and "import" not in r.text


def test_upload_name_fields_with_paths_are_refused(make_client, fresh_selector):
    with make_client(fresh_selector) as c:
        for fields in ({"name": "../x"}, {"version": "../../v"}, {"kind": "../tree"}):
            r = c.post("/api/v1/graphs", files={"file": ("a.nt", b"<http://x/a> <http://x/p> <http://x/b> .\n")},
                       data=fields, headers=AUTH)
            assert r.status_code == 400, (fields, r.text)


def test_failed_upload_errors_name_the_file_not_server_paths(make_client, fresh_selector, tmp_path, toy):
    updir = tmp_path / "uploads"
    with make_client(fresh_selector, upload_dir=str(updir)) as c:
        r = c.post("/api/v1/graphs", files={"file": ("bad.ttl", (toy / "api" / "bad.ttl").read_bytes())},
                   headers=AUTH)
        assert r.status_code == 400
        detail = r.json()["detail"]
        assert detail.startswith("bad.ttl:") and str(tmp_path) not in detail and str(updir) not in detail


def test_serve_with_several_workers_keeps_the_store_from_other_writers(fresh_selector):
    from _api_support import free_port

    port = free_port()
    exe = str(Path(sys.executable).parent / "traitkg")
    srv = Uvicorn({}, port=port, argv=[exe, "--store", fresh_selector, "serve", "--port", str(port),
                                       "--workers", "2", "--log-level", "warning"])
    try:
        assert _count(httpx.Client(base_url=srv.url), COUNT_ALL) > 0
        p = subprocess.run([exe, "--store", fresh_selector, "load", "tree", str(SAMPLE / "fish-tree.nwk")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "open in another process" in p.stderr
    finally:
        srv.stop()


def test_reads_during_a_closure_refresh_see_before_or_after(tmp_path, toy):
    """AISM's closure is updated in place when LEPAO (loaded without a closure) is taken in: readers of
    the closure graphs meanwhile see it whole, before or after."""
    from kg import KnowledgeGraph

    store = tmp_path / "store"
    with KnowledgeGraph.open(f"oxigraph:{store}") as kg:
        kg.load_ontology(toy / "ontologies" / "cross_aism.obo")
        kg.load_ontology(toy / "ontologies" / "cross_lepao.obo", closure=False)
    srv = Uvicorn({"TRAITKG_STORE": f"oxigraph:{store}", "TRAITKG_API_TOKEN": TOKEN})
    q = ("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
         "FILTER(STRSTARTS(STR(?g), 'https://w3id.org/traitkg/graph/closure/')) }")
    try:
        c = httpx.Client(base_url=srv.url, timeout=60)
        assert [s["graph"].rsplit("/graph/", 1)[-1] for s in c.get("/api/v1/graphs/stale").json()] == \
            ["closure/aism/2024-03-01"]
        before = _count(c, q)
        seen: list[int] = []
        errors: list[str] = []
        stop = threading.Event()

        def reader() -> None:
            rc = httpx.Client(base_url=srv.url, timeout=60)
            while not stop.is_set():
                try:
                    seen.append(_count(rc, q))
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    errors.append(repr(exc))

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        assert c.post("/api/v1/graphs/closures/refresh").status_code == 401
        r = c.post("/api/v1/graphs/closures/refresh", headers=AUTH)
        assert r.status_code == 200, r.text
        assert {x["status"] for x in r.json()} == {"updated"}
        after = _count(c, q)
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        assert errors == [] and seen and after != before
        assert set(seen) <= {before, after}
        assert c.get("/api/v1/graphs/stale").json() == []
    finally:
        srv.stop()


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://127.0.0.1:9/secret.owl"])
def test_uploaded_ontology_imports_read_no_server_file_and_fetch_no_url(make_client, fresh_selector, target):
    ttl = (f"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<http://x.org/o> a owl:Ontology ; "
           f"owl:imports <{target}> .\n<http://x.org/A> a owl:Class .\n").encode()
    with make_client(fresh_selector) as c:
        before = c.get("/api/v1/graphs").json()["total"]
        r = c.post("/api/v1/graphs", files={"file": ("o.ttl", ttl)}, data={"kind": "ontology"}, headers=AUTH)
        assert r.status_code == 400, r.text
        detail = r.json()["detail"]
        assert f"<{target}> was not resolved" in detail and "TRAITKG_UPLOAD_FETCH_IMPORTS" in detail
        assert "root:" not in r.text and "/.cache" not in r.text and "import-map" not in r.text
        assert c.get("/api/v1/graphs").json()["total"] == before
