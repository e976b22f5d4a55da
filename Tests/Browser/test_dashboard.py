"""The dashboard in headless Chromium against a real gateway holding a known data set: its figures must equal the
query API's answers for the same questions, a click on a top page must filter the view, and the visitor page must
list the visitor's events in order. Screenshots of each view go to $CLARM_ARTIFACTS (default Tests/Browser/artifacts)."""
import json
import os
import pathlib
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from conftest import browser, post_json as post, running_gateway, wait_for
from selenium.webdriver.common.by import By

SITE = "dash.example.com"
ARTIFACTS = pathlib.Path(os.environ.get("CLARM_ARTIFACTS", pathlib.Path(__file__).parent / "artifacts"))


def known_events():
    """Three visitors over the last two days: page views, widget use, an identify and purchases."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    events = []

    def add(visitor, session, minutes_ago, name, path, props=None, referrer=""):
        e = {"event": name, "visitor_id": visitor, "session_id": session, "site": SITE, "referrer": referrer,
             "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z"),
             "url": "https://%s%s" % (SITE, path), "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"}
        if props:
            e["properties"] = props
        events.append(e)

    add("ann", "a1", 2000, "page_view", "/?utm_source=newsletter")
    add("ann", "a1", 1999, "page_view", "/pricing")
    add("ann", "a1", 1998, "widget_open", "/pricing")
    add("ann", "a1", 1997, "widget_message", "/pricing", {"text": "Hi"})
    add("ann", "a2", 300, "page_view", "/checkout", referrer="https://www.google.com/")
    add("ann", "a2", 299, "identify", "/checkout", {"email": "ann@example.com", "name": "Ann", "company": "Acme", "plan": "pro"})
    add("ann", "a2", 298, "purchase", "/checkout", {"amount": 99.0, "currency": "USD", "plan": "pro"})
    add("bob", "b1", 900, "page_view", "/blog/post", referrer="https://news.ycombinator.com/")
    add("bob", "b1", 899, "page_view", "/pricing")
    add("cat", "c1", 60, "page_view", "/pricing")
    add("cat", "c1", 59, "goal_achieved", "/pricing", {"goal": "signup"})
    add("cat", "c1", 58, "purchase", "/pricing", {"amount": 20.0, "currency": "EUR"})
    return events


@pytest.fixture
def dashboard():
    with running_gateway("clarm-dashboard-") as gateway, browser() as driver:
        assert post(gateway, "/api/track", known_events())["accepted"] == 12
        yield gateway, driver


def seven_days():
    today = int(time.time() // 86400) * 86400
    start, end = today - 6 * 86400, today + 86400
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [iso(start), iso(end)]


def figure(driver, metric):
    return driver.find_element(By.CSS_SELECTOR, '[data-metric="%s"]' % metric).text


def test_dashboard_views_match_the_api(dashboard):
    gateway, driver = dashboard
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = "http://127.0.0.1:%d/" % gateway.port
    metrics = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "conversions", "conversion_rate", "total_revenue"]

    driver.get(base + "#/analytics?site=%s&range=7d" % SITE)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-metric="visitors"]'), what="the figures")
    api = post(gateway, "/api/query", {"site": SITE, "date_range": seven_days(), "metrics": metrics})["results"][0]["metrics"]
    assert figure(driver, "visitors") == str(api[0])
    assert figure(driver, "visits") == str(api[1])
    assert figure(driver, "pageviews") == str(api[2])
    assert float(figure(driver, "bounce_rate").rstrip("%")) == api[3]
    assert float(figure(driver, "visit_duration").rstrip(" s").replace(",", "")) == api[4]
    assert figure(driver, "conversions") == str(api[5])
    assert float(figure(driver, "conversion_rate").rstrip("%")) == api[6]
    assert figure(driver, "total_revenue") == " · ".join("%s %s" % ("{:,}".format(v).rstrip("0").rstrip("."), c) for c, v in sorted(api[7].items()))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#list0 tr[data-filter]"), what="top pages")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#series svg"), what="the chart")
    time.sleep(0.5)
    driver.save_screenshot(str(ARTIFACTS / "analytics.png"))

    # A click on the top page filters the whole view, shown as a chip and kept in the URL.
    row = driver.find_element(By.CSS_SELECTOR, "#list0 tr[data-filter]")
    page = row.find_element(By.TAG_NAME, "td").text
    row.click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".chip"), what="the filter chip")
    assert page in driver.find_element(By.CSS_SELECTOR, ".chip").text
    assert "filters=" in driver.current_url
    filtered = post(gateway, "/api/query", {"site": SITE, "date_range": seven_days(), "metrics": ["visitors", "pageviews"],
                                            "filters": [["is", "event:page", [page]]]})["results"][0]["metrics"]
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-metric="visitors"]') and figure(driver, "visitors") == str(filtered[0]),
             what="the filtered figures")
    assert figure(driver, "pageviews") == str(filtered[1])

    # The visitor page lists the visitor's events in order.
    driver.get(base + "#/visitors?site=%s&range=7d" % SITE)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-visitor]"), what="the visitor list")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr[data-visitor]")) == 3
    assert "ann@example.com" in driver.find_element(By.ID, "visitorList").text
    driver.save_screenshot(str(ARTIFACTS / "visitors.png"))
    driver.find_element(By.CSS_SELECTOR, 'tr[data-visitor="ann"]').click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#timeline li"), what="the timeline")
    with urllib.request.urlopen("http://127.0.0.1:%d/api/visitors/ann?site=%s" % (gateway.port, SITE)) as response:
        timeline = [e["event"] for e in json.load(response)["timeline"]]
    assert [li.get_attribute("data-event") for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")] == timeline
    driver.save_screenshot(str(ARTIFACTS / "visitor.png"))

    # Conversions: the table has one row per conversion the API lists.
    driver.get(base + "#/conversions?site=%s&range=7d&model=first_touch" % SITE)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#conversionList tr[data-visitor]"), what="the conversions")
    with urllib.request.urlopen("http://127.0.0.1:%d/api/conversions?site=%s&date_range=%s" % (gateway.port, SITE, ",".join(seven_days()))) as response:
        total = json.load(response)["meta"]["total"]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#conversionList tr[data-visitor]")) == total == 4
    wait_for(lambda: "newsletter" in driver.find_element(By.ID, "bySource").text, what="first-touch sources")
    driver.save_screenshot(str(ARTIFACTS / "conversions.png"))


def test_empty_site_shows_the_install_snippet(dashboard):
    gateway, driver = dashboard
    driver.get("http://127.0.0.1:%d/#/analytics?site=nothing.example.com&range=7d" % gateway.port)
    wait_for(lambda: driver.find_elements(By.ID, "empty"), what="the empty state")
    assert "clarm.js" in driver.find_element(By.ID, "empty").text


def test_dashboard_runs_under_its_security_policy_without_console_errors(dashboard):
    gateway, driver = dashboard
    base = "http://127.0.0.1:%d/" % gateway.port
    with urllib.request.urlopen(base) as response:
        headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and "script-src 'sha256-" in policy and "style-src 'sha256-" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"

    for view, ready in [("analytics", "#list0 tr[data-filter]"), ("visitors", "tr[data-visitor]"),
                        ("conversions", "#conversionList tr[data-visitor]")]:
        driver.get(base + "#/%s?site=%s&range=7d" % (view, SITE))
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ready), what="the %s view" % view)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#revenue .legend .swatch"), what="the chart legend")
    time.sleep(0.5)
    # The icon the page links to is there, and nothing was refused or missing.
    icon = driver.execute_script("return document.querySelector('link[rel=icon]').href")
    with urllib.request.urlopen(icon) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml"
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_key_dialog_works_under_the_policy():
    """With --api-key the dashboard asks for the key in a <form method=dialog>, which form-action 'none' must let through."""
    key = "dashboard-test-key-0123456789"
    with running_gateway("clarm-dashboard-key-", ["--api-key", key]) as gateway, browser() as driver:
        request = urllib.request.Request("http://127.0.0.1:%d/api/track" % gateway.port, data=json.dumps(known_events()).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["accepted"] == 12
        driver.get("http://127.0.0.1:%d/#/visitors?site=%s&range=7d" % (gateway.port, SITE))
        wait_for(lambda: driver.find_element(By.ID, "keyDialog").get_attribute("open") is not None, what="the key dialog")
        driver.find_element(By.ID, "keyInput").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "#keyDialog button").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-visitor]"), what="the visitors, with the key")
        assert driver.execute_script("return localStorage.getItem('clarm_api_key')") == key
        # The first, keyless requests were refused (401, logged by the browser); nothing else went wrong.
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "401" not in e["message"]]
        assert errors == []
