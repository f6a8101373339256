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
