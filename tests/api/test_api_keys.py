"""``/api/v1/keys``: list, couplet, identify (GET and POST), batch, problems; errors as problem details."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def keys_selector(tmp_path_factory, toy) -> str:
    from kg import KnowledgeGraph

    path = tmp_path_factory.mktemp("keys") / "store"
    g = KnowledgeGraph.open(f"oxigraph:{path}")
    g.load_key(toy / "keys" / "fins.csv")
    g.load_key(toy / "keys" / "toy.sdd.xml")
    loop = path.parent / "loopy.csv"
    loop.write_text("1,a,2\n1,b,Item 1\n2,c,1\n2,d,Item 2\n")
    g.load_key(loop)
    g.load_key(toy / "keys" / "frogs.sdd.xml")
    g.close()
    return f"oxigraph:{path}"


@pytest.fixture(scope="module")
def kc(keys_selector):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(store=keys_selector, query_workers=1)), raise_server_exceptions=False) as c:
        yield c


def test_list_keys_paged_and_filtered(kc):
    page = kc.get("/api/v1/keys").json()
    assert page["total"] == 5 and {k["ref"] for k in page["items"]} == {"fins/fins", "toy/k1", "loopy/loopy",
                                                                        "frogs/k-main", "frogs/k-toads"}
    assert [k["ref"] for k in kc.get("/api/v1/keys?q=three").json()["items"]] == ["toy/k1"]
    assert len(kc.get("/api/v1/keys?limit=1").json()["items"]) == 1


def test_key_and_couplet(kc):
    d = kc.get("/api/v1/keys/fins/fins").json()
    assert d["couplet"] == "1" and [x["id"] for x in d["leads_of_couplet"]] == ["1a", "1b"]
    c = kc.get("/api/v1/keys/toy/k1/couplets/2").json()
    assert [x["item"] for x in c["leads_of_couplet"]] == ["Silurus glanis", "Salmo trutta"]
    r = kc.get("/api/v1/keys/fins/fins/couplets/9")
    assert r.status_code == 404 and "no couplet '9'" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert kc.get("/api/v1/keys/nope/nope").status_code == 404


def test_identify_get_and_post(kc):
    st = kc.get("/api/v1/keys/fins/fins/identify?answer=1b").json()
    assert st["couplet"] == "3" and not st["done"] and st["remaining"] == ["Anguilla anguilla", "Esox lucius"]
    st = kc.post("/api/v1/keys/fins/fins/identify", json={"answers": ["1b", "3a"]}).json()
    assert st["done"] and st["result"] == "Anguilla anguilla" and [p["lead"] for p in st["path"]] == ["1b", "3a"]


def test_bad_answer_is_a_400_naming_the_choices(kc):
    r = kc.post("/api/v1/keys/fins/fins/identify", json={"answers": ["1b", "\"}{ 2a"]})
    assert r.status_code == 400
    assert "is not a lead of couplet 3" in r.json()["detail"] and "3a (Pelvic fins absent)" in r.json()["detail"]


def test_batch_and_problems(kc):
    r = kc.post("/api/v1/keys/fins/fins/batch", json={"observations": ["adipose fin absent"]}).json()
    assert r["candidates"] == ["Anguilla anguilla", "Esox lucius"] and r["remaining"][0]["couplet"] == "3"
    assert kc.get("/api/v1/keys/fins/fins/problems").json() == []
    probs = kc.get("/api/v1/keys/loopy/loopy/problems").json()
    assert [(p["kind"], p["leads"], p["severity"]) for p in probs] == [("loop", ["2a"], "error")]
    assert kc.post("/api/v1/keys/fins/fins/batch", json={"observations": []}).status_code == 422


def test_sub_keys_reticulations_and_media(kc):
    d = kc.get("/api/v1/keys/frogs/k-main").json()
    assert d["question"] == "What is the skin like?" and d["description"].startswith("Adults only")
    assert d["media"] == [{"id": "m-habitat", "href": "https://example.org/media/pond.jpg", "label": "A pond",
                           "type": "Image"}]
    hand = d["leads_of_couplet"][1]
    assert (hand["subkey"], hand["subkeys"], hand["item"], hand["to_couplet"]) == \
        ("frogs/k-toads", ["frogs/k-toads"], None, None)
    c = kc.get("/api/v1/keys/frogs/k-main/couplets/2").json()["leads_of_couplet"]
    assert [(x["to_couplet"], x["reticulation"]) for x in c] == [("3", False), ("3", True)]
    st = kc.get("/api/v1/keys/frogs/k-main/identify?answer=1b").json()  # the sub-key takes over
    assert (st["key"], st["in_key"], st["couplet"], st["done"]) == ("frogs/k-main", "frogs/k-toads", "1", False)
    assert st["path"] == [{"key": "frogs/k-main", "couplet": "1", "lead": "1b", "statement": "Skin dry and warty",
                           "item": None, "subkey": "frogs/k-toads"}]
    back = st["leads"][1]
    assert (back["subkey"], back["subkey_couplet"], back["reticulation"]) == ("frogs/k-main", "2", True)
    st = kc.post("/api/v1/keys/frogs/k-main/identify", json={"answers": ["1b", "1a", "2a"]}).json()
    assert st["done"] and st["result"] == "Bufo bufo" and [p["key"] for p in st["path"]] == \
        ["frogs/k-main", "frogs/k-toads", "frogs/k-toads"]
    st = kc.post("/api/v1/keys/frogs/k-main/identify", json={"answers": ["1a", "2b", "3a"]}).json()
    assert st["result"] == "Hyla arborea"  # down the reticulation
    r = kc.post("/api/v1/keys/frogs/k-main/batch", json={"observations": ["skin dry and warty"]}).json()
    assert sorted(r["candidates"]) == ["Bufo bufo", "Epidalea calamita", "Hyla arborea", "Pelophylax ridibundus"]
    assert kc.get("/api/v1/keys/frogs/k-main/problems").json() == []
    assert kc.get("/api/v1/keys/frogs/k-toads/problems").json() == []
