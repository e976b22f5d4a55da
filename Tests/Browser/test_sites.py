"""The dashboard's site field in headless Chromium: a text field while no site is registered, a picker of the
registered sites (GET /api/sites) once some are."""
import json
import urllib.request

import pytest
from conftest import browser, running_gateway, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def register(gateway, site):
    request = urllib.request.Request("http://127.0.0.1:%d/api/sites" % gateway.port, data=json.dumps({"site": site}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


@pytest.fixture
def gateway_and_browser():
    with running_gateway("clarm-sites-") as gateway, browser() as driver:
        yield gateway, driver


def test_text_field_without_registered_sites(gateway_and_browser):
    gateway, driver = gateway_and_browser
    driver.get("http://127.0.0.1:%d/#/analytics?site=&range=7d" % gateway.port)
    wait_for(lambda: "Enter the site" in driver.find_element(By.ID, "view").text, what="the prompt for a site")
    assert driver.find_element(By.ID, "site").is_displayed()
    assert not driver.find_element(By.ID, "sitePicker").is_displayed()


def test_picker_of_registered_sites(gateway_and_browser):
    gateway, driver = gateway_and_browser
    register(gateway, "b.example.com")
    register(gateway, "a.example.com")
    driver.get("http://127.0.0.1:%d/#/analytics?site=&range=7d" % gateway.port)
    picker = driver.find_element(By.ID, "sitePicker")
    wait_for(picker.is_displayed, what="the site picker")
    assert not driver.find_element(By.ID, "site").is_displayed()
    # The first registered site is chosen when none is.
    wait_for(lambda: "site=a.example.com" in driver.current_url, what="the first site chosen")
    assert [o.text for o in Select(picker).options] == ["a.example.com", "b.example.com"]
    Select(picker).select_by_value("b.example.com")
    wait_for(lambda: "site=b.example.com" in driver.current_url, what="the picked site in the URL")
    assert Select(driver.find_element(By.ID, "sitePicker")).first_selected_option.text == "b.example.com"
