"""The dashboard's Channels panels in headless Chromium against a real gateway: visits from search, social,
email, paid and referral traffic; the panel must list the query API's channels with their visitors, a click
on one must filter the view, and the conversions view must credit conversions by channel."""
from datetime import datetime, timedelta, timezone

import pytest
from conftest import browser, post_json as post, running_gateway, wait_for
from selenium.webdriver.common.by import By

SITE = "channels.example.com"


def visits():
    """One visit per visitor, an hour ago: (visitor, URL query, referrer, converts)."""
    return [("g1", "", "https://www.google.com/search?q=x", True), ("g2", "", "https://www.google.co.uk/", False),
            ("d1", "", "https://duckduckgo.com/", False), ("h1", "", "https://news.ycombinator.com/item?id=1", True),
            ("f1", "?fbclid=IwAR0", "https://l.facebook.com/l.php", False), ("n1", "?utm_source=newsletter&utm_medium=email", "", True),
            ("p1", "?gclid=abc", "https://www.google.com/", True), ("b1", "", "https://someblog.example.net/post", False),
            ("x1", "", "", False)]


@pytest.fixture
def gateway():
    with running_gateway("clarm-channels-") as gateway:
        record_visits(gateway)
        yield gateway


def record_visits(gateway):
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    stamp = lambda minutes: (at + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    events = []
    for visitor, query, referrer, converts in visits():
        events.append({"event": "page_view", "visitor_id": visitor, "session_id": visitor + "-1", "site": SITE, "timestamp": stamp(0),
                       "url": "https://%s/%s" % (SITE, query), "referrer": referrer})
        if converts:
            events.append({"event": "purchase", "visitor_id": visitor, "session_id": visitor + "-1", "site": SITE, "timestamp": stamp(1),
                           "url": "https://%s/checkout" % SITE, "properties": {"amount": 10, "currency": "USD"}})
    assert post(gateway, "/api/track", events)["accepted"] == len(events)


def rows(driver, dimension):
    panel = driver.find_element(By.CSS_SELECTOR, '[data-dimension="%s"]' % dimension)
    return {tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[1].text
            for tr in panel.find_elements(By.CSS_SELECTOR, "tr[data-filter]")}


def test_channels_panel_lists_the_apis_channels_and_filters(gateway):
    with browser() as driver:
        base = "http://127.0.0.1:%d/" % gateway.port
        driver.get(base + "#/analytics?site=%s&range=7d" % SITE)
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-dimension="visit:channel"] tr[data-filter]'), what="the Channels panel")
        api = post(gateway, "/api/query", {"site": SITE, "date_range": "7d", "metrics": ["visitors"], "dimensions": ["visit:channel"]})
        expected = {row["dimensions"][0]: str(row["metrics"][0]) for row in api["results"]}
        assert expected == {"Organic Search": "3", "Organic Social": "2", "Email": "1", "Paid Search": "1", "Referral": "1", "Direct": "1"}
        assert rows(driver, "visit:channel") == expected
        assert rows(driver, "visit:source")["Google"] == "3"

        # A click on a channel filters the whole view, like the other panels.
        driver.find_element(By.CSS_SELECTOR, '[data-dimension="visit:channel"] tr[data-filter*="Organic Search"]').click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".chip"), what="the filter chip")
        assert "visit:channel" in driver.find_element(By.CSS_SELECTOR, ".chip").text
        wait_for(lambda: driver.find_element(By.CSS_SELECTOR, '[data-metric="visitors"]').text == "3", what="the filtered visitors")

        # Conversions credited by channel.
        driver.get(base + "#/conversions?site=%s&range=7d&model=first_touch" % SITE)
        wait_for(lambda: "Paid Search" in driver.find_element(By.ID, "byChannel").text, what="conversions by channel")
        text = driver.find_element(By.ID, "byChannel").text
        assert "Organic Search" in text and "Organic Social" in text and "Email" in text and "Direct" not in text
