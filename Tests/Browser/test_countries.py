"""The dashboard's Countries panel in headless Chromium against a real gateway started with --geoip (the test
database of Tests/GeoIP): visits from addresses in several countries, given by X-Forwarded-For through the
trusted loopback proxy. The panel must list the query API's countries with their visitors; a click on a country
filters the view and the panel turns to its regions, then a region's cities."""
import json
import os
import subprocess
import tempfile
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from conftest import ROOT, browser, post_json as post, running_gateway, wait_for
from selenium.webdriver.common.by import By

SITE = "countries.example.com"
# (visitor, client address): two visitors in Bavaria, one in Berlin, two in San Francisco, one in Tokyo (IPv6),
# one the database does not know.
VISITS = [("de1", "203.0.113.7"), ("de2", "203.0.113.9"), ("de3", "203.0.113.200"), ("us1", "198.51.100.1"),
          ("us2", "198.51.100.2"), ("jp1", "2001:db8:1::5"), ("xx1", "10.9.8.7")]


@pytest.fixture(scope="module")
def gateway():
    work = tempfile.mkdtemp(prefix="clarm-geoip-db-")
    database = os.path.join(work, "test.mmdb")
    subprocess.run(["perl", str(ROOT / "Tests/GeoIP/make-mmdb.pl"), str(ROOT / "Tests/GeoIP/networks.json"), database], check=True)
    with running_gateway("clarm-countries-", ["--geoip", database]) as gateway:
        at = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        for visitor, address in VISITS:
            body = json.dumps([{"event": "page_view", "visitor_id": visitor, "session_id": visitor + "-1", "site": SITE,
                                "timestamp": at, "url": "https://%s/" % SITE}]).encode()
            request = urllib.request.Request("http://127.0.0.1:%d/api/track" % gateway.port, data=body, method="POST",
                                             headers={"X-Forwarded-For": address})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.load(response)["accepted"] == 1
        yield gateway


def rows(driver, dimension):
    panel = driver.find_element(By.CSS_SELECTOR, '[data-dimension="%s"]' % dimension)
    return {tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[1].text
            for tr in panel.find_elements(By.CSS_SELECTOR, "tr[data-filter]")}


def test_countries_panel_drills_down_to_regions_and_cities(gateway):
    api = post(gateway, "/api/query", {"site": SITE, "date_range": "7d", "metrics": ["visitors"], "dimensions": ["visit:country"]})
    assert {row["dimensions"][0]: row["metrics"][0] for row in api["results"]} == {"DE": 3, "US": 2, "JP": 1, "": 1}
    with browser() as driver:
        driver.get("http://127.0.0.1:%d/#/analytics?site=%s&range=7d" % (gateway.port, SITE))
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-dimension="visit:country"] tr[data-filter]'), what="the Countries panel")
        assert rows(driver, "visit:country") == {"Germany (DE)": "3", "United States (US)": "2", "Japan (JP)": "1", "(unknown)": "1"}

        driver.find_element(By.CSS_SELECTOR, '[data-dimension="visit:country"] tr[data-filter*="DE"]').click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-dimension="visit:region"] tr[data-filter]'), what="the Regions panel")
        assert rows(driver, "visit:region") == {"Bavaria": "2", "Berlin": "1"}
        assert "visit:country is DE" in driver.find_element(By.ID, "chips").text

        driver.find_element(By.CSS_SELECTOR, '[data-dimension="visit:region"] tr[data-filter*="Bavaria"]').click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-dimension="visit:city"] tr[data-filter]'), what="the Cities panel")
        assert rows(driver, "visit:city") == {"Munich": "2"}

        # A visitor's page says where their latest located event came from.
        driver.get("http://127.0.0.1:%d/#/visitors/jp1?site=%s" % (gateway.port, SITE))
        wait_for(lambda: driver.find_elements(By.ID, "place"), what="the visitor's place")
        assert driver.find_element(By.ID, "place").text == "Tokyo, Tokyo, Japan (JP)"
