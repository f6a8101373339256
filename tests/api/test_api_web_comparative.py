"""The page's ancestral-state panel in headless Chromium: open an anatomy term, reconstruct its
presence/absence on the tree (Mk and Fitch), see the server-drawn SVG with state pies."""

from __future__ import annotations

import pytest
from test_api_web import browser, sample_server, shot, wait_for  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_term_ancestral_states_drawn(sample_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(sample_server.url + "/")
    assert not browser.find_element(By.ID, "asr").is_displayed()
    Select(browser.find_element(By.ID, "search-kind")).select_by_value("terms")
    browser.find_element(By.ID, "search-q").send_keys("adipose fin")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a"))
    browser.find_element(By.CSS_SELECTOR, "#search-results li a").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "asr").is_displayed())
    browser.find_element(By.ID, "asr-run").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#asr-picture path"), timeout=30)
    text = browser.find_element(By.ID, "asr-status").text
    assert text.startswith("mk-er:") and "log-likelihood" in text and "internal nodes" in text, text
    pies = browser.find_elements(By.CSS_SELECTOR, "#asr-picture path title, #asr-picture circle title")
    assert pies and any("absent" in (p.get_attribute("textContent") or "") for p in pies)
    browser.execute_script("document.getElementById('asr').scrollIntoView()")
    shot(browser, "web-ancestral-states")
    Select(browser.find_element(By.ID, "asr-method")).select_by_value("fitch")
    browser.find_element(By.ID, "asr-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "asr-status").text.startswith("fitch:"), timeout=30)
    assert "parsimony score" in browser.find_element(By.ID, "asr-status").text
