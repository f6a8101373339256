"""The web page in headless Chromium (Debian's chromium + chromedriver), with screenshots in test-artifacts/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.fail("headless browser tests need Debian's chromium and chromedriver in /usr/bin")
    profile = tempfile.mkdtemp(prefix="traitkg-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
              "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", "--window-size=1280,1600"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(drv, predicate, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout).until(lambda d: predicate(d))


def shot(drv, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    drv.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")
    return path


def test_page_runs_sparql_examples_and_shows_a_table(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(live_server.url + "/")
    assert "traitkg" in browser.title
    assert browser.find_element(By.ID, "search-q").is_displayed()
    examples = Select(browser.find_element(By.ID, "sparql-example"))
    assert len(examples.options) >= 4
    examples.select_by_index(2)  # anatomy terms whose label mentions 'fin'
    assert "fin" in browser.find_element(By.ID, "sparql-query").get_attribute("value")
    browser.find_element(By.CSS_SELECTOR, "#sparql-form button[type=submit]").click()
    wait_for(browser, lambda d: "rows" in d.find_element(By.ID, "sparql-status").text)
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#sparql-results tbody td")]
    assert "pectoral fin" in cells and "UBERON:0000151" in cells
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#sparql-results thead th")]
    assert headers == ["term", "label"]
    href = browser.find_element(By.ID, "sparql-download").get_attribute("href")
    assert "/sparql?" in href and "format=csv" in href
    shot(browser, "web-sparql")


def test_page_reports_a_malformed_query(live_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/")
    area = browser.find_element(By.ID, "sparql-query")
    area.clear()
    area.send_keys("SELECT * WHERE { ?s ?p }")
    browser.find_element(By.CSS_SELECTOR, "#sparql-form button[type=submit]").click()
    wait_for(browser, lambda d: "400" in d.find_element(By.ID, "sparql-status").text)
    assert "malformed" in browser.find_element(By.ID, "sparql-status").text


@pytest.fixture(scope="module")
def rich_server(tmp_path_factory, toy):
    from _api_support import TOKEN, Uvicorn, load_toy_tree

    srv = Uvicorn({"TRAITKG_STORE": load_toy_tree(tmp_path_factory.mktemp("web") / "store", toy),
                   "TRAITKG_API_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_search_a_taxon_and_see_it_on_the_tree(rich_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(rich_server.url + "/")
    box = browser.find_element(By.ID, "search-q")
    box.send_keys("Brachydanio rerio")  # a synonym
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    link = browser.find_element(By.CSS_SELECTOR, "#search-results li a")
    assert link.text == "Danio rerio"
    link.click()
    wait_for(browser, lambda d: d.find_element(By.ID, "taxon").is_displayed()
             and "Danionidae" in d.find_element(By.ID, "taxon-detail").text)
    detail = browser.find_element(By.ID, "taxon-detail").text
    assert "NCBITaxon:7955" in detail and "Brachydanio rerio" in detail
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg svg circle.tip"))
    tips = {c.get_attribute("data-tip") for c in browser.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")}
    assert tips == {"Danio_rerio", "Danio kyathit", "Corydoras_aeneus", "Astyanax_mexicanus"}
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#tree-svg text.tip-label")]
    assert "Danio rerio" in labels
    shot(browser, "web-taxon-tree")


def test_search_hits_drawn_as_induced_subtree(rich_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(rich_server.url + "/")
    browser.find_element(By.ID, "search-q").send_keys("Corydoras aenus")  # misspelt: genus + candidates
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "hits-on-tree"))
    browser.find_element(By.ID, "hits-on-tree").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg svg circle.tip"))
    tips = {c.get_attribute("data-tip") for c in browser.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")}
    assert "Corydoras_aeneus" in tips


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory):
    from _api_support import TOKEN, Uvicorn, load_sample_store

    srv = Uvicorn({"TRAITKG_STORE": load_sample_store(tmp_path_factory.mktemp("websample") / "store"),
                   "TRAITKG_API_TOKEN": TOKEN})
    yield srv
    srv.stop()


def test_taxon_traits_table_and_states_painted_on_tips(sample_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(sample_server.url + "/")
    browser.find_element(By.ID, "search-q").send_keys("Corydoras aeneus")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    browser.find_element(By.CSS_SELECTOR, "#search-results li a").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#traits-table tbody tr"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#traits-table tbody tr")
    text = [r.text for r in rows]
    assert any("pectoral fin spine" in t and "asserted" in t and "traitkg sample matrix" in t for t in text), text[:8]
    tiers = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#traits-table .tier")}
    assert {"asserted", "inferred"} <= tiers
    # curated EQ phenotypes and the presence/absence calls drawn from them are told apart
    kinds = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#traits-table .kind")]
    assert set(kinds) == {"EQ phenotype", "presence/absence"} and kinds == sorted(kinds)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip"))
    # paint pectoral fin spine presence on the tree
    link = next(a for a in browser.find_elements(By.CSS_SELECTOR, "#traits-table a.entity")
                if a.get_attribute("data-entity") == "UBERON:2001787")
    link.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip-present"))
    states = {c.get_attribute("data-tip"): c.get_attribute("data-state")
              for c in browser.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")}
    assert states["Corydoras_aeneus"] == "present"
    assert "pectoral fin spine" in browser.find_element(By.ID, "tree-legend").text
    shot(browser, "web-taxon-traits-painted")


def test_anatomy_term_search_lists_taxa_and_paints_the_tree(sample_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(sample_server.url + "/")
    Select(browser.find_element(By.ID, "search-kind")).select_by_value("terms")
    browser.find_element(By.ID, "search-q").send_keys("pectoral fin spine")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    first = browser.find_element(By.CSS_SELECTOR, "#search-results li a")
    assert first.text == "pectoral fin spine"
    first.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#term-taxa li"))
    assert "Corydoras aeneus" in browser.find_element(By.ID, "term-taxa").text
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip-present"))
    painted = {c.get_attribute("data-state") for c in browser.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")}
    assert "present" in painted
    browser.execute_script("document.getElementById('term').scrollIntoView()")
    shot(browser, "web-term-tree")


def test_taxon_predicted_traits_shown_as_their_own_tier(sample_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(sample_server.url + "/")
    browser.find_element(By.ID, "search-q").send_keys("Ictalurus punctatus")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    browser.find_element(By.CSS_SELECTOR, "#search-results li a").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#predictions-table tbody tr"))
    row = browser.find_element(By.CSS_SELECTOR, "#predictions-table tbody tr")
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[0] == "adipose fin" and cells[1].startswith("present (present 2)") and cells[2] == "2"
    assert cells[3] == "predicted" and cells[4] == "fin-presence-convnext 2026.11.1"
    assert cells[5].startswith("present") and cells[6] == "agrees"
    curated_tiers = {e.text for e in row.find_elements(By.CSS_SELECTOR, ".tier")} - {"predicted"}
    assert curated_tiers <= {"asserted", "inferred"} and curated_tiers
    # the curated traits table beside it keeps its own tiers
    assert "predicted" not in {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#traits-table .tier")}
    assert "1 predicted trait" in browser.find_element(By.ID, "predictions-status").text
    shot(browser, "web-taxon-predictions")


def test_order_and_genus_pages_roll_up_their_species(sample_server, browser):
    """Searching an order (or a genus) shows its species' traits with the species behind each call,
    draws the clade's tips and paints a clicked trait on them."""
    from selenium.webdriver.common.by import By

    browser.get(sample_server.url + "/")
    browser.find_element(By.ID, "search-q").send_keys("Siluriformes")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    browser.find_element(By.CSS_SELECTOR, "#search-results li a").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#clade-table tbody tr"))
    assert "its species' traits are rolled up below" in browser.find_element(By.ID, "traits-status").text
    assert browser.find_element(By.ID, "clade-status").text.startswith("6 species of Siluriformes (order)")
    rows = {tuple(td.text for td in tr.find_elements(By.TAG_NAME, "td")[:3]): tr
            for tr in browser.find_elements(By.CSS_SELECTOR, "#clade-table tbody tr")}
    present = rows[("adipose fin", "present", "5 of 6")]
    names = {a.text for a in present.find_elements(By.CSS_SELECTOR, "a.species-link")}
    assert names == {"Ameiurus melas", "Ancistrus cirrhosus", "Corydoras aeneus", "Ictalurus punctatus",
                     "Pimelodus blochii"}
    assert [td.text for td in rows[("adipose fin", "absent", "1 of 6")].find_elements(By.TAG_NAME, "td")][4] \
        == "Silurus glanis"
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")) == 6)
    present.find_element(By.CSS_SELECTOR, "a.entity").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip-absent"))
    states = {c.get_attribute("data-tip"): c.get_attribute("data-state")
              for c in browser.find_elements(By.CSS_SELECTOR, "#tree-svg circle.tip")}
    assert states == {"Ameiurus_melas": "present", "Ancistrus_cirrhosus": "present", "Corydoras_aeneus": "present",
                      "Ictalurus_punctatus": "present", "Pimelodus_blochii": "present", "Silurus_glanis": "absent"}
    assert "adipose fin" in browser.find_element(By.ID, "tree-legend").text
    browser.execute_script("document.getElementById('clade').scrollIntoView()")
    shot(browser, "web-order-rollup")
    # a genus: no "no traits recorded", its two species rolled up; a species link opens the species
    box = browser.find_element(By.ID, "search-q")
    box.clear()
    box.send_keys("Danio")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a")
             and d.find_element(By.CSS_SELECTOR, "#search-results li a").text == "Danio")
    browser.find_element(By.CSS_SELECTOR, "#search-results li a").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "clade-status").text.startswith("2 species of Danio (genus)"))
    assert "Danio rerio" in browser.find_element(By.ID, "clade-table").text
    browser.find_element(By.CSS_SELECTOR, "#clade-table a.species-link").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "taxon-h").text in ("Danio albolineatus", "Danio rerio")
             and d.find_elements(By.CSS_SELECTOR, "#traits-table tbody tr"))
    assert not browser.find_element(By.ID, "clade").is_displayed()
