"""Predictions over HTTP (the bundled sample world, whose predictions the demo loads)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sclient(tmp_path_factory):
    from _api_support import load_sample_store
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    selector = load_sample_store(tmp_path_factory.mktemp("sample") / "store")
    with TestClient(create_app(Settings(store=selector, query_workers=1)), raise_server_exceptions=False) as c:
        yield c


def test_image_predictions(sclient):
    r = sclient.get("/api/v1/images/ark:/89609/tkgsample/img0004/predictions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["iri"] == "https://n2t.net/ark:/89609/tkgsample/img0004" and body["total"] == 1
    item = body["items"][0]
    assert (item["trait"], item["value"], item["confidence"], item["tier"]) == ("UBERON:2000251", "absent", 0.95,
                                                                                 "predicted")
    assert item["batch"] == "predictions/fin-presence-convnext/2026.11.1"


def test_unknown_image_is_a_problem_404(sclient):
    r = sclient.get("/api/v1/images/ark:/89609/nope/predictions")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_taxon_predicted_traits_beside_curated_calls(sclient):
    r = sclient.get("/api/v1/taxa/Ictalurus punctatus/predictions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["taxon"] == "taxon:Ictalurus_punctatus" and body["total"] == 1
    s = body["items"][0]
    assert (s["tier"], s["kind"], s["n"], s["states"]) == ("predicted", "categorical", 2, {"present": 2})
    assert [c["value"] for c in s["curated"]] == ["present"]
    assert s["curated"][0]["tier"] in ("asserted", "inferred") and s["curated"][0]["evidence"]
    assert sclient.get("/api/v1/taxa/Homo sapiens/predictions").status_code == 404


def test_disagreements_and_batches_paginate(sclient):
    r = sclient.get("/api/v1/predictions/disagreements", params={"all": True, "limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 11 and len(body["items"]) == 5 and "offset=5" in body["next"]
    assert {i["status"] for i in body["items"]} == {"agree"}  # the sample's predictions match its curation
    assert sclient.get("/api/v1/predictions/disagreements").json()["total"] == 0
    b = sclient.get("/api/v1/predictions/batches").json()
    assert [x["batch"] for x in b["items"]] == ["predictions/fin-presence-convnext/2026.11.1"]


def test_summaries_table(sclient):
    r = sclient.get("/api/v1/predictions/summaries", params={"trait": "UBERON:2000251"})
    assert r.status_code == 200
    rows = r.json()["items"]
    assert {x["taxon"]: x["n"] for x in rows}["taxon:Ictalurus_punctatus"] == 2
    assert sclient.get("/api/v1/predictions/summaries", params={"trait": "NOPE:1"}).status_code == 400


@pytest.fixture(scope="module")
def wings(tmp_path_factory, toy):
    """A store holding a Fiji per-wing measurement table (both wings of each photograph)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph

    path = tmp_path_factory.mktemp("wings") / "store"
    g = KnowledgeGraph.open(f"oxigraph:{path}")
    d = toy / "predictions"
    g.load_predictions(d / "fiji_wings.csv", mapping=d / "fiji_wings.yaml", new_taxa=True)
    g.close()
    with TestClient(create_app(Settings(store=f"oxigraph:{path}", query_workers=1)),
                    raise_server_exceptions=False) as c:
        yield c


def test_taxon_summaries_per_region_pooled_and_one_region(wings):
    per = wings.get("/api/v1/taxa/Apis mellifera/predictions", params={"evidence": False}).json()["items"]
    feret = [(i["region"], i["n"], i.get("regions")) for i in per if i["trait"] == "PATO:0000122"]
    assert feret == [("left", 2, None), ("right", 2, None)]
    pooled = wings.get("/api/v1/taxa/Apis mellifera/predictions", params={"pooled": True, "evidence": False}).json()
    assert [(i["region"], i["n"], i["regions"]) for i in pooled["items"] if i["trait"] == "PATO:0000122"] == [
        (None, 4, ["left", "right"])]
    area = next(i for i in pooled["items"] if i["trait"] == "PATO:0001323")
    assert (area["mean"], area["unit"]) == (pytest.approx((10.412 + 10.388 + 10.145 + 10.201) / 4), "UO:0000082")
    rows = wings.get("/api/v1/predictions/summaries", params={"trait": "PATO:0000122", "region": "right"}).json()
    assert [(r["taxon"], r["region"], r["n"]) for r in rows["items"]] == [("taxon:Apis_mellifera", "right", 2),
                                                                         ("taxon:Tetragonisca_angustula", "right", 2)]
    img = wings.get("/api/v1/images/MZUSP-0587.jpg/predictions").json()
    assert [(i["trait"], i["region"], i["value"]) for i in img["items"]][:2] == [("PATO:0000122", "left", 4.012),
                                                                                ("PATO:0000122", "right", 4.027)]


@pytest.fixture(scope="module")
def both_rows(tmp_path_factory, toy):
    """Two served stores with the same batches, per-image rows in the batch graph and in Parquet."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph

    pdir = toy / "predictions"
    clients = {}
    with __import__("contextlib").ExitStack() as stack:
        for mode in ("rdf", "parquet"):
            path = tmp_path_factory.mktemp(mode) / "store"
            g = KnowledgeGraph.open(f"oxigraph:{path}")
            g.load_taxonomy(pdir / "taxa.csv")
            for f in ("v1.csv", "v2.csv"):
                g.load_predictions(pdir / f, rows=mode)
            g.load_predictions(pdir / "fiji_wings.csv", mapping=pdir / "fiji_wings.yaml", new_taxa=True, rows=mode)
            g.close()
            clients[mode] = stack.enter_context(TestClient(create_app(Settings(store=f"oxigraph:{path}",
                                                                               query_workers=1)),
                                                           raise_server_exceptions=False))
        yield clients


def _no_times(x):
    if isinstance(x, dict):
        return {k: _no_times(v) for k, v in x.items() if k != "loaded"}
    if isinstance(x, list):
        return [_no_times(v) for v in x]
    return x


@pytest.mark.parametrize("url", ["/api/v1/images/ark:/89609/toy/i3/predictions",
                                 "/api/v1/images/ark:/89609/toy/i3/predictions?all_versions=true",
                                 "/api/v1/images/ark:/89609/toy/i4/predictions?batch=predictions/fin-net/1.0",
                                 "/api/v1/images/MZUSP-0412.jpg/predictions",
                                 "/api/v1/images/ark:/89609/nope/predictions"])
def test_image_routes_answer_the_same_from_parquet_rows(both_rows, url):
    r, p = both_rows["rdf"].get(url), both_rows["parquet"].get(url)
    assert p.status_code == r.status_code
    assert _no_times(p.json()) == _no_times(r.json())
    if r.status_code == 200:
        assert p.json()["total"] > 0 and all(i["batch"].startswith("predictions/") for i in p.json()["items"])


def _fast_equals_handler(client, refs, params):
    """Every request answered by taxon_predictions_fast gives the handler's bytes (a parameter the
    route ignores sends a request there); returns how many were compared."""
    from urllib.parse import quote, urlencode

    from api.routers._prediction_pages import summary_pages
    from api.routers.predictions import summary_encoder, taxon_predictions_fast

    pages = summary_pages(client.app, summary_encoder, wait=True)
    assert pages is not None and pages.taxa >= len(set(refs)) - 1
    n = 0
    for ref in refs:
        url = f"/api/v1/taxa/{quote(ref)}/predictions"
        for ps in params:
            qs = urlencode(ps)
            scope = {"type": "http", "method": "GET", "path": f"/api/v1/taxa/{ref}/predictions", "root_path": "",
                     "raw_path": url.encode(), "scheme": "http", "query_string": qs.encode(),
                     "headers": [(b"host", b"testserver")], "server": ("testserver", 80),
                     "path_params": {"ref": ref}, "app": client.app}
            fast = taxon_predictions_fast(scope)
            handler = client.get(f"{url}?{qs}&via=handler")
            if fast is None:  # a taxon without summaries in this scope: the handler's 404
                assert handler.status_code == 404 and client.get(f"{url}?{qs}").status_code == 404
                continue
            r = client.get(f"{url}?{qs}")
            assert r.status_code == handler.status_code == 200
            assert r.headers["content-type"] == handler.headers["content-type"] == "application/json"
            assert r.content == fast == handler.content.replace(b"&via=handler", b"").replace(b"via=handler&", b"")
            n += 1
    return n


def test_taxon_predictions_fast_path_gives_the_handlers_bytes(sclient, wings):
    """Once every summary of the latest batches is encoded, a well-formed GET is answered without
    FastAPI's machinery or the store: the handler's bytes (curated calls with and without evidence,
    per region, pooled, one region, pages and next links); anything else gets the handler's answer."""
    from kg import KnowledgeGraph

    params = [[], [("evidence", "false")], [("limit", "1")], [("limit", "1"), ("offset", "1"), ("evidence", "0")],
              [("pooled", "true")], [("region", "left")], [("region", "right"), ("pooled", "yes")]]
    for client in (sclient, wings):
        kg: KnowledgeGraph = client.app.state.kg
        _, graphs = kg.predictions.chosen()
        taxa = sorted({r[0].value for g in graphs for r in kg.query(
            "SELECT DISTINCT ?t WHERE { GRAPH ?g { ?s <https://w3id.org/traitkg/schema#taxon> ?t } }",
            {"g": __import__("kg.core.store", fromlist=["NamedNode"]).NamedNode(g)}).rows})
        assert taxa
        assert _fast_equals_handler(client, taxa + ["Ictalurus punctatus"] * (client is sclient), params) > len(taxa)
    ev = sclient.get("/api/v1/taxa/Ictalurus punctatus/predictions").json()["items"][0]["curated"]
    plain = sclient.get("/api/v1/taxa/Ictalurus punctatus/predictions?evidence=false").json()["items"][0]["curated"]
    assert ev[0]["evidence"] and plain[0]["evidence"] is None
    for qs, status in (("limit=0", 422), ("offset=-1", 422), ("evidence=maybe", 422), ("region=" + "x" * 301, 422)):
        r = sclient.get(f"/api/v1/taxa/Ictalurus punctatus/predictions?{qs}")
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", qs
    assert sclient.get("/api/v1/taxa/Homo sapiens/predictions").status_code == 404
    pinned = sclient.get("/api/v1/taxa/Ictalurus punctatus/predictions", params={"batch": "nope/nope"})
    assert pinned.status_code == 404


def test_summary_pages_from_the_graphs_read_ahead_equal_those_read_when_built(tmp_path):
    """`traitkg index` has the summary graphs read in a thread while the other parts run
    (prefetch_summaries) where their loads kept no summaries file (here removed, as for graphs
    written by an older version); the pages built from those texts are the pages built by reading
    them then, and nothing is read ahead once their file is written (or for a store without batches)."""
    import shutil

    import numpy as np

    from api.routers._prediction_pages import SummaryPages, prefetch_summaries
    from api.routers.predictions import summary_encoder
    from kg import KnowledgeGraph
    from kg.demo import load_sample

    with KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}") as kg:
        load_sample(kg)
        assert list((tmp_path / "kg.cache" / "summaryframes").glob("*.npz"))
        shutil.rmtree(tmp_path / "kg.cache" / "summaryframes")
        fetched = prefetch_summaries(kg)
        assert fetched is not None
        ahead = SummaryPages.open(kg, summary_encoder(kg), fetched)
        assert set(fetched()) == set(kg.predictions.chosen()[1])
        then = SummaryPages.build(kg, summary_encoder(kg))
        assert ahead.rows == then.rows > 0 and ahead._a.keys() == then._a.keys()
        assert all(np.array_equal(ahead._a[k], then._a[k]) for k in then._a)
        assert prefetch_summaries(kg) is None  # the file is written now
    assert prefetch_summaries(KnowledgeGraph.open("oxigraph:")) is None


def test_summary_pages_from_the_loads_files_equal_those_from_the_graphs(tmp_path):
    """The loads keep each summary graph's summaries beside the store (kg.predictions.summary_file):
    the index step reads nothing ahead and encodes the pages from those files, byte for byte the
    pages encoded from the graphs (the files removed: the graphs are read)."""
    import shutil

    import numpy as np

    from api.routers._prediction_pages import SummaryPages, prefetch_summaries
    from api.routers.predictions import summary_encoder
    from kg import KnowledgeGraph
    from kg.demo import load_sample
    from kg.indexlock import asked_for

    with KnowledgeGraph.open(f"oxigraph:{tmp_path / 'kg'}") as kg:
        load_sample(kg)
        kept = sorted((tmp_path / "kg.cache" / "summaryframes").glob("*.npz"))
        assert len(kept) == len(kg.predictions.chosen()[1]) > 0
        assert prefetch_summaries(kg) is None  # every summary graph's summaries are kept: nothing to read ahead
        with asked_for() as asked:
            files = SummaryPages.build(kg, summary_encoder(kg))
        assert set(kept) <= {p.resolve() for p in asked}
        shutil.rmtree(tmp_path / "kg.cache" / "summaryframes")
        graphs = SummaryPages.build(kg, summary_encoder(kg))
        assert files.rows == graphs.rows > 0 and files._a.keys() == graphs._a.keys()
        assert all(np.array_equal(files._a[k], graphs._a[k]) for k in graphs._a)
