"""Walking a key on the web page, in headless Chromium against a real server."""

from __future__ import annotations

import pytest
from _api_support import TOKEN, Uvicorn
from test_api_web import browser, shot, wait_for  # noqa: F401  (browser is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def keys_server(tmp_path_factory, toy):
    from kg import KnowledgeGraph

    path = tmp_path_factory.mktemp("webkeys") / "store"
    g = KnowledgeGraph.open(f"oxigraph:{path}")
    g.load_key(toy / "keys" / "fins.csv")
    g.close()
    srv = Uvicorn({"TRAITKG_STORE": f"oxigraph:{path}", "TRAITKG_API_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_walk_a_key_to_a_result_and_back(keys_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(keys_server.url + "/")
    wait_for(browser, lambda d: "1 key" in d.find_element(By.ID, "key-status").text)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#key-leads .key-lead"))
    assert browser.find_element(By.ID, "key-couplet").text == "Couplet 1"
    assert "4 taxa still possible" in browser.find_element(By.ID, "key-status").text
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1b']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 3")
    assert [li.text.split(" ", 1)[0] for li in browser.find_elements(By.CSS_SELECTOR, "#key-path li")] == ["1b"]
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='3b']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "key-result-name"))
    assert browser.find_element(By.ID, "key-result-name").text == "Esox lucius"
    assert "identified in 2 steps" in browser.find_element(By.ID, "key-status").text
    shot(browser, "web-key-result")
    browser.find_element(By.CSS_SELECTOR, "#key-path .key-back[data-step='0']").click()  # back to couplet 1
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 1"
             and not d.find_elements(By.ID, "key-result-name"))


@pytest.fixture(scope="module")
def frogs_server(tmp_path_factory, toy):
    from kg import KnowledgeGraph

    path = tmp_path_factory.mktemp("webfrogs") / "store"
    g = KnowledgeGraph.open(f"oxigraph:{path}")
    g.load_key(toy / "keys" / "frogs.sdd.xml")
    g.close()
    srv = Uvicorn({"TRAITKG_STORE": f"oxigraph:{path}", "TRAITKG_API_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_walk_into_a_sub_key_and_down_a_reticulation(frogs_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(frogs_server.url + "/")
    wait_for(browser, lambda d: "2 keys" in d.find_element(By.ID, "key-status").text)
    Select(browser.find_element(By.ID, "key-select")).select_by_value("frogs/k-main")
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#key-leads .key-lead"))
    wait_for(browser, lambda d: "Adults only" in d.find_element(By.ID, "key-about").text)
    assert browser.find_element(By.ID, "key-question").text == "What is the skin like?"
    tos = [x.text for x in browser.find_elements(By.CSS_SELECTOR, "#key-leads .key-to")]
    assert tos == ["→ 2", "→ key frogs/k-toads"]
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1b']").click()  # hand over to the sub-key
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 1 of key frogs/k-toads")
    assert browser.find_element(By.ID, "key-title").text == "frogs/k-main → frogs/k-toads"
    assert "→ key frogs/k-toads" in browser.find_element(By.CSS_SELECTOR, "#key-path li").text
    tos = [x.text for x in browser.find_elements(By.CSS_SELECTOR, "#key-leads .key-to")]
    assert tos == ["→ 2", "→ key frogs/k-main, couplet 2 (reticulation)"]
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1a']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 2 of key frogs/k-toads")
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='2b']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "key-result-name"))
    assert browser.find_element(By.ID, "key-result-name").text == "Epidalea calamita"
    assert [li.get_attribute("data-key") for li in browser.find_elements(By.CSS_SELECTOR, "#key-path li")] == \
        ["frogs/k-main", "frogs/k-toads", "frogs/k-toads"]
    shot(browser, "web-key-subkey-result")
    # back to the start, then down the reticulation (a brown back goes to couplet 3) to a species with media
    browser.find_element(By.CSS_SELECTOR, "#key-path .key-back[data-step='0']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 1")
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1a']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 2")
    assert browser.find_element(By.ID, "key-question").text == "What colour is the back?"
    assert browser.find_elements(By.CSS_SELECTOR, "#key-leads .key-to")[1].text == "→ 3 (reticulation)"
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='2b']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 3")
    media = browser.find_element(By.CSS_SELECTOR, "#key-leads .key-media")
    assert media.get_attribute("href") == "https://example.org/media/hyla-arborea.jpg"
    assert "Hyla arborea on a leaf" in media.text
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='3a']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "key-result-name"))
    assert browser.find_element(By.ID, "key-result-name").text == "Hyla arborea"


@pytest.fixture(scope="module")
def project_server(tmp_path_factory, toy):
    import zipfile

    from kg import KnowledgeGraph

    d = tmp_path_factory.mktemp("webproject")
    z = d / "toy-fishes.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((toy / "keys" / "project").iterdir()):
            zf.write(f, f.name)
    g = KnowledgeGraph.open(f"oxigraph:{d / 'store'}")
    g.load_key(z)
    g.close()
    srv = Uvicorn({"TRAITKG_STORE": f"oxigraph:{d / 'store'}", "TRAITKG_API_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_a_result_with_a_key_of_its_own_goes_on_in_that_key(project_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(project_server.url + "/")
    wait_for(browser, lambda d: "3 keys" in d.find_element(By.ID, "key-status").text)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()  # toy-fishes/1, listed first
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".key-lead[data-lead='1a']"))
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1a']").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".key-lead[data-lead='2b']"))
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='2b']").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".key-subkey"))
    assert browser.find_element(By.ID, "key-result-name").text == "Salmoniformes"
    browser.find_element(By.CSS_SELECTOR, ".key-subkey[data-key='toy-fishes/2']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "key-couplet").text == "Couplet 1 of key toy-fishes/2")
    browser.find_element(By.CSS_SELECTOR, ".key-lead[data-lead='1a']").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "key-result-name"))
    assert browser.find_element(By.ID, "key-result-name").text == "Salmo trutta"
    path = browser.find_elements(By.CSS_SELECTOR, "#key-path li")
    assert [li.get_attribute("data-key") for li in path] == ["toy-fishes/1", "toy-fishes/1", "toy-fishes/2"]
    assert path[1].text.endswith("→ Salmoniformes")  # what was reached on the way
