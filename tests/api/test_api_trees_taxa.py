"""/api/v1/trees (mrca, induced_subtree, distances, node_info with per-id diagnostics) and /api/v1/taxa."""

from __future__ import annotations

import pytest

HOSTILE = ['x" } ; DROP ALL ; #', "a'b", "}", "{ ?s ?p ?o }", 'Danio rerio" . } INSERT DATA { <a:b> <a:c> "d" } #',
           "<http://example.org/x>", "\\", "taxon:Danio_rerio> } ; DROP ALL ; SELECT * { <x"]


@pytest.fixture(scope="module")
def tclient(tmp_path_factory, toy):
    from _api_support import load_toy_tree
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    selector = load_toy_tree(tmp_path_factory.mktemp("trees") / "store", toy, anatomy=False)
    with TestClient(create_app(Settings(store=selector, query_workers=1)),
                    raise_server_exceptions=False) as c:
        yield c


def _newick_tips(text):
    from ete3 import Tree

    return sorted(leaf.name.strip("'") for leaf in Tree(text, format=1, quoted_node_names=True).get_leaves())


def test_tree_list_and_info(tclient):
    page = tclient.get("/api/v1/trees").json()
    assert page["total"] == 1
    t = page["items"][0]
    assert t["name"] == "toy" and t["tips"] == 4 and t["has_lengths"] is True
    assert tclient.get("/api/v1/trees/toy").json()["nodes"] == t["nodes"]
    r = tclient.get("/api/v1/trees/nope")
    assert r.status_code == 404 and "toy" in r.json()["detail"]


def test_mrca_partial_results_with_diagnostics(tclient):
    body = {"ids": ["Danio rerio", "Danio_kyathit", "Homo sapiens", "taxon:Danio_rerio"]}
    r = tclient.post("/api/v1/trees/toy/mrca", json=body).json()
    assert r["mrca"]["name"] == "Danio" and r["mrca"]["n_tips"] == 2
    st = {d["id"]: d["status"] for d in r["diagnostics"]}
    assert st == {"Danio rerio": "found", "Danio_kyathit": "found", "Homo sapiens": "not_found",
                  "taxon:Danio_rerio": "found"}
    g = tclient.get("/api/v1/trees/toy/mrca", params={"ids": ["Danio_rerio", "Corydoras aeneus"]}).json()
    assert g["mrca"]["name"] == "Otophysi"
    none = tclient.post("/api/v1/trees/toy/mrca", json={"ids": ["Homo sapiens"], "fuzzy": False}).json()
    assert none["mrca"] is None and none["diagnostics"][0]["status"] == "not_found"


def test_mrca_answered_on_the_event_loop_equals_the_thread_pool_answer(tclient):
    """Tip labels as written take the inline path once the tree and its ages are held; names to
    normalise take the thread pool: the same tips give the same answer, node and diagnostics."""
    exact = ["Danio_rerio", "Danio_kyathit", "Danio_rerio"]
    first = tclient.get("/api/v1/trees/toy/mrca", params={"ids": exact}).json()  # may load the tree
    inline = tclient.get("/api/v1/trees/toy/mrca", params={"ids": exact}).json()
    posted = tclient.post("/api/v1/trees/toy/mrca", json={"ids": exact}).json()
    pooled = tclient.post("/api/v1/trees/toy/mrca", json={"ids": ["Danio rerio", " Danio_kyathit", "Danio rerio"]}).json()
    assert inline == first == posted
    assert pooled["mrca"] == inline["mrca"] and inline["mrca"]["name"] == "Danio"
    found = [(d["status"], d["node"]) for d in inline["diagnostics"]]
    assert [(d["status"], d["node"]) for d in pooled["diagnostics"]] == found
    assert found[0] == found[2] != found[1] and {s for s, _ in found} == {"found"}


def test_mrca_fast_path_gives_the_route_handlers_bytes(tclient):
    """A GET of tip labels as written is answered by ``mrca_fast`` without FastAPI's machinery: the
    same bytes and headers as the route's handler for the same request (a parameter the route
    ignores sends a request there); what it does not take goes to the handler, errors included."""
    from itertools import product
    from urllib.parse import urlencode

    from api.fastroute import FastPaths
    from api.routers.trees import INLINE_IDS, mrca_fast

    assert [m.cls for m in tclient.app.user_middleware].count(FastPaths) == 1  # asked before routing

    tips = tclient.get("/api/v1/trees/toy/nodes/0", params={"tips": 100}).json()["tips"]
    assert len(tips) == 4
    url = "/api/v1/trees/toy/mrca?"

    def scope(qs: str, tree: str = "toy") -> dict:
        return {"path_params": {"tree": tree}, "app": tclient.app, "query_string": qs.encode(), "method": "GET"}

    sets = [list(s) for k in (1, 2, 3) for s in product(tips, repeat=k)] + [tips, tips[::-1] + [f" {tips[0]} "]]
    for ids in sets:
        for extra in ([], [("fuzzy", "false")], [("fuzzy", "True")]):
            qs = urlencode([("ids", x) for x in ids] + extra)
            fast = tclient.get(url + qs)
            handler = tclient.get(url + qs + "&via=handler")
            assert fast.status_code == handler.status_code == 200
            assert fast.content == handler.content == mrca_fast(scope(qs))
            assert fast.headers["content-type"] == handler.headers["content-type"] == "application/json"
            assert int(fast.headers["content-length"]) == len(fast.content)
    # not taken: names to normalise or resolve, a bad fuzzy, too many ids, another parameter, an unknown tree
    for qs, status in ((urlencode({"ids": "Danio rerio"}), 200), (urlencode({"ids": "Homo sapiens"}), 200),
                       (urlencode({"ids": tips[0], "fuzzy": "maybe"}), 422),
                       (urlencode([("ids", tips[0])] * (INLINE_IDS + 1)), 200),
                       (urlencode({"ids": tips[0], "limit": "x"}), 200), ("", 422)):
        assert mrca_fast(scope(qs)) is None
        r = tclient.get(url + qs)
        assert r.status_code == status, (qs, r.text)
        if status == 422:
            assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 422
    assert mrca_fast(scope(urlencode({"ids": tips[0]}), "nope")) is None
    assert tclient.get("/api/v1/trees/nope/mrca", params={"ids": tips[0]}).status_code == 404


def test_fast_path_answers_carry_the_cors_headers(tmp_path, toy):
    """Fast paths are asked inside the CORS middleware: a cross-origin answer has its headers."""
    from _api_support import load_toy_tree
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.routers.trees import mrca_fast
    from api.settings import Settings

    selector = load_toy_tree(tmp_path / "store", toy, anatomy=False)
    settings = Settings(store=selector, query_workers=1, cors_origins=["https://example.org"])
    with TestClient(create_app(settings)) as c:
        c.get("/api/v1/trees/toy/mrca", params={"ids": "Danio_rerio"})  # the tree is held from here on
        qs = "ids=Danio_rerio&ids=Corydoras_aeneus"
        assert mrca_fast({"path_params": {"tree": "toy"}, "app": c.app, "query_string": qs.encode()}) is not None
        r = c.get(f"/api/v1/trees/toy/mrca?{qs}", headers={"Origin": "https://example.org"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://example.org"
        assert r.headers["access-control-expose-headers"] == "X-TraitKG-Result-Count"


def test_misspelt_names_resolve_approximately_and_say_so(tclient):
    r = tclient.post("/api/v1/trees/toy/mrca", json={"ids": ["Corydoras aeneus", "Astyanax mexicanu"]}).json()
    d = r["diagnostics"][1]
    assert d["status"] == "approximate" and d["matched"] and d["message"].startswith("resolved by")
    assert r["mrca"]["id"] == 0


def test_induced_subtree_newick_and_json(tclient):
    r = tclient.post("/api/v1/trees/toy/induced_subtree?format=both",
                     json={"ids": ["Danio rerio", "Astyanax_mexicanus", "Corydoras aeneus", "nope nope"]}).json()
    assert _newick_tips(r["newick"]) == ["Astyanax_mexicanus", "Corydoras_aeneus", "Danio_rerio"]
    tips = [n for n in r["nodes"] if n["is_tip"]]
    assert sorted(n["name"] for n in tips) == ["Astyanax_mexicanus", "Corydoras_aeneus", "Danio_rerio"]
    assert r["nodes"][0]["parent"] is None and all(n["parent"] < n["index"] for n in r["nodes"][1:])
    # branch lengths: Danio_rerio 1.0 + collapsed Danio 2.5 -> 3.5 below Otophysi
    dr = next(n for n in tips if n["name"] == "Danio_rerio")
    assert dr["length"] == pytest.approx(3.5)
    assert r["diagnostics"][-1]["status"] == "not_found"
    g = tclient.get("/api/v1/trees/toy/induced_subtree", params={"ids": ["Danio rerio", "Danio kyathit"]}).json()
    assert _newick_tips(g["newick"]) == ["Danio kyathit", "Danio_rerio"] and g.get("nodes") is None


def test_distances_and_node_info(tclient):
    r = tclient.post("/api/v1/trees/toy/distances",
                     json={"ids": ["Danio rerio", "Astyanax mexicanus", "Zzz", "Danio kyathit"]}).json()
    assert r["ids"] == ["Danio_rerio", "Astyanax_mexicanus", "Danio kyathit"]
    m = r["matrix"]
    assert m[0][1] == pytest.approx(1.0 + 2.5 + 0.5 + 4.0) and m[0][2] == pytest.approx(2.5) and m[1][0] == m[0][1]
    topo = tclient.post("/api/v1/trees/toy/distances", json={"ids": ["Danio rerio", "Danio kyathit"],
                                                             "topological": True}).json()
    assert topo["matrix"][0][1] == 2
    n = tclient.get("/api/v1/trees/toy/nodes/Danio", params={"tips": 10}).json()
    assert n["n_tips"] == 2 and sorted(n["tips"]) == ["Danio kyathit", "Danio_rerio"] and len(n["children"]) == 2
    assert tclient.get("/api/v1/trees/toy/nodes/0").json()["parent"] is None
    assert tclient.get("/api/v1/trees/toy/nodes/Homo sapiens").status_code == 404
    sub = tclient.get("/api/v1/trees/toy/subtree", params={"node": "Danio"})
    assert sub.headers["content-type"].startswith("text/x-newick") and "Danio_rerio" in sub.text
    assert tclient.get("/api/v1/trees/toy/subtree", params={"max_tips": 2}).status_code == 400


def test_taxa_search_fuzzy_and_detail(tclient):
    hit = tclient.get("/api/v1/taxa", params={"q": "Brachydanio rerio"}).json()["items"][0]
    assert hit["id"] == "taxon:Danio_rerio" and hit["method"] == "synonym"
    fuzzy = tclient.get("/api/v1/taxa", params={"q": "Astyanax mexicanuss"}).json()["items"]
    assert any(h["id"] == "taxon:Astyanax_mexicanus" for h in fuzzy)
    for ref in ("taxon:Danio_rerio", "Danio rerio", "NCBITaxon:7955", "https://w3id.org/traitkg/taxon/Danio_rerio"):
        d = tclient.get(f"/api/v1/taxa/{ref}").json()
        assert d["id"] == "taxon:Danio_rerio", ref
    assert d["external_ids"] == ["NCBITaxon:7955", "VTO:0042931"]
    assert [a["name"] for a in d["lineage"]] == ["Danio", "Danionidae", "Cypriniformes"]
    assert d["synonyms"] == ["Brachydanio rerio", "Cyprinus rerio"]
    assert d["tips"][0]["tree"] == "toy" and d["tips"][0]["label"] == "Danio_rerio"
    assert [c["name"] for c in tclient.get("/api/v1/taxa/Danio").json()["children"]] == ["Danio kyathit", "Danio rerio"]


def test_unknown_prefix_is_400_with_a_suggestion(tclient):
    r = tclient.get("/api/v1/taxa/NCBITaxo:7955")
    assert r.status_code == 400 and "Did you mean NCBITaxon" in r.json()["detail"]


def test_batch_resolution_reports_every_name(tclient):
    r = tclient.post("/api/v1/taxa/resolve", json={"names": ["Danio rerio", "Corydoras aenus", "Homo", ""],
                                                   "tree": "toy"}).json()
    assert [m["status"] for m in r] == ["matched", "approximate", "unmatched", "unmatched"]


@pytest.mark.parametrize("payload", HOSTILE)
def test_injection_payloads_are_bound_never_pasted(tclient, payload):
    """Quotes, braces, '}' and ';' travel as values: no 5xx, no store change, an honest 'not found'."""
    before = tclient.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json()
    r = tclient.get("/api/v1/taxa", params={"q": payload})
    assert r.status_code == 200 and all(h["id"].startswith("taxon:") for h in r.json()["items"])
    d = tclient.get("/api/v1/taxa/" + payload)
    assert d.status_code in (400, 404), d.text
    m = tclient.post("/api/v1/trees/toy/mrca", json={"ids": [payload, "Danio rerio"], "fuzzy": False})
    assert m.status_code == 200 and m.json()["diagnostics"][0]["status"] == "not_found"
    after = tclient.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json()
    assert before == after


@pytest.mark.slow
def test_fish_tree_of_life_mrca_and_induced_subtree(tmp_path, shared):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open(f"oxigraph:{tmp_path / 'store'}")
    kg.load_tree(shared / "fishtree" / "actinopt_12k_treePL.tre", name="fish")
    kg.close()
    with TestClient(create_app(Settings(store=f"oxigraph:{tmp_path / 'store'}", query_workers=1))) as c:
        ids = ["Danio rerio", "Corydoras aeneus", "Astyanax mexicanus", "Not a fish", "Salmo salar"]
        r = c.post("/api/v1/trees/fish/induced_subtree?format=newick", json={"ids": ids, "fuzzy": False}).json()
        assert [d["status"] for d in r["diagnostics"]] == ["found", "found", "found", "not_found", "found"]
        assert _newick_tips(r["newick"]) == ["Astyanax_mexicanus", "Corydoras_aeneus", "Danio_rerio", "Salmo_salar"]
        m = c.post("/api/v1/trees/fish/mrca", json={"ids": ids[:3]}).json()["mrca"]
        assert m["n_tips"] > 1000 and m["age"] > 100  # Otophysi: well over 100 Myr old


def test_clade_rollup_same_in_python_cli_and_rest(tmp_path):
    """An order rolled up: every species behind each call, the clade's tips; one answer three ways."""
    import json

    from _api_support import load_sample_store
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph
    from kg.cli import main

    selector = load_sample_store(tmp_path / "store")
    with KnowledgeGraph.open(selector) as g:
        py = g.rollup("Siluriformes")
        node = g.tree("sample").node("Danio_rerio").parent.parent  # a clade named by its tree node
        by_node = g.rollup(f"sample:node:{node.id}")
        assert by_node["kind"] == "tree" and by_node["tree"]["tips"] == sorted(node.tips())
        assert g.rollup("taxon:Danio")["species"] == ["Danio albolineatus", "Danio rerio"]
    rows = {(x["entity"], x["value"]): x for x in py["traits"]}
    assert rows[("UBERON:2000251", "absent")]["taxa"] == ["Silurus glanis"]
    assert rows[("UBERON:2000251", "present")]["n_taxa"] == 5 and py["rank"] == "order"
    assert py["tree"]["tips"] == sorted(s.replace(" ", "_") for s in py["species"]) and len(py["species"]) == 6
    r = CliRunner().invoke(main, ["--store", selector, "rollup", "Siluriformes", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == py
    table = CliRunner().invoke(main, ["--store", selector, "rollup", "Siluriformes"])
    assert "6 species, 6 with traits; 6 tips on sample" in table.stderr and "Silurus glanis" in table.stdout
    with TestClient(create_app(Settings(store=selector, query_workers=1))) as c:
        rest = c.get("/api/v1/taxa/Siluriformes/rollup").json()
        assert rest == py
        assert c.get("/api/v1/taxa/taxon:Siluriformes/rollup").json()["traits"] == py["traits"]
        miss = c.get("/api/v1/taxa/Nonexistentia/rollup")
        assert miss.status_code == 404 and "Nonexistentia" in miss.json()["detail"]


def test_split_and_levels_same_in_python_cli_and_rest(tmp_path, toy):
    """A genus hold-out and level groups, one answer three ways; a degenerate split refused with
    strict in each (400 / exit 2), warned about without."""
    import json

    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from kg import KnowledgeGraph
    from kg.cli import main

    selector = f"oxigraph:{tmp_path / 'store'}"
    with KnowledgeGraph.open(selector) as g:
        g.load_tree(toy / "training" / "toy.nwk", name="toy")
        g.load_taxonomy(toy / "training" / "taxonomy.csv", name="toy-taxonomy")
        s = g.training.split(method="rank", rank="genus", test=0.3, val=0.2, seed=5)
        py_split = {"assignment": dict(s.assignment.items()), "counts": s.counts(), "report": s.report}
        lv = g.training.levels(None, [5.5, 9], by="age")
        py_groups = {t: [int(x) for x in row] for t, row in zip(lv.groups.index, lv.groups.to_numpy())}

    def cli(*args, code=0):
        r = CliRunner().invoke(main, ["--store", selector, *args])
        assert r.exit_code == code, r.output
        return r

    out = json.loads(cli("tree", "split", "--method", "rank", "--rank", "genus", "--test", "0.3", "--val", "0.2",
                         "--seed", "5", "--format", "json").stdout)
    assert {k: out[k] for k in ("assignment", "counts", "report")} == py_split
    lv_cli = json.loads(cli("tree", "levels", "--cuts", "5.5,9", "--by", "age", "--format", "json").stdout)
    assert lv_cli["groups"] == py_groups and lv_cli["cuts"] == [9.0, 5.5]
    three = ["Aa one", "Aa two", "Ab one"]
    r = cli("tree", "split", *three, "--method", "rank", "--rank", "family", "--strict", code=2)
    assert "degenerate rank split of 3 taxa" in r.stderr
    r = cli("tree", "split", *three, "--method", "rank", "--rank", "family")
    assert "warning: degenerate rank split of 3 taxa" in r.stderr
    with TestClient(create_app(Settings(store=selector, query_workers=1))) as c:
        rest = c.post("/api/v1/trees/toy/split", json={"method": "rank", "rank": "genus", "test": 0.3, "val": 0.2,
                                                       "seed": 5}).json()
        assert {k: rest[k] for k in ("assignment", "counts", "report")} == py_split
        assert c.post("/api/v1/trees/toy/levels", json={"cuts": [5.5, 9], "by": "age"}).json()["groups"] == py_groups
        bad = c.post("/api/v1/trees/toy/split", json={"taxa": three, "method": "rank", "rank": "family",
                                                      "strict": True})
        assert bad.status_code == 400 and "degenerate rank split of 3 taxa" in bad.json()["detail"]
        few = c.post("/api/v1/trees/toy/levels", json={"taxa": three, "n_levels": 3}).json()
        assert "1 level(s) of the 3 asked for" in few["report"][0]["warnings"][0]
