"""The dashboard in the site's time zone, and its chart at any magnitude, in headless Chromium against a real gateway.

The chart test wraps the page's fetch (injected before the page's own scripts run) so that the time-series answers carry
six- and seven-digit values; it then measures in the DOM that every label lies inside the chart and that the y ticks
are round (multiples of a 1, 2 or 5 × 10ⁿ step)."""
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import browser, post_json as call, running_gateway, wait_for
from selenium.webdriver.common.by import By

SITE = "zone.example.com"
ZONE = "Pacific/Kiritimati"  # UTC+14: its "today" differs from UTC's for 14 hours of every day.


@pytest.fixture
def dashboard():
    with running_gateway("clarm-zone-") as gateway, browser() as driver:
        call(gateway, "/api/sites", {"site": SITE, "timezone": ZONE})
        now = datetime.now(timezone.utc).replace(microsecond=0)
        events = [{"event": "page_view", "visitor_id": "v%d" % i, "session_id": "s%d" % i, "site": SITE,
                   "timestamp": (now - timedelta(hours=5 * i)).isoformat().replace("+00:00", "Z"), "url": "https://%s/p%d" % (SITE, i % 3)}
                  for i in range(30)]
        assert call(gateway, "/api/track", events)["accepted"] == 30
        yield gateway, driver


def test_days_are_the_sites_days(dashboard):
    gateway, driver = dashboard
    base = "http://127.0.0.1:%d/" % gateway.port
    driver.get(base + "#/analytics?site=%s&range=day" % SITE)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-metric="visitors"]'), what="the figures")
    wait_for(lambda: driver.find_element(By.ID, "zone").text == ZONE, what="the zone beside the range")
    answer = call(gateway, "/api/query", {"site": SITE, "date_range": "day", "metrics": ["visitors"]})
    assert answer["query"]["timezone"] == ZONE
    today = datetime.now(ZoneInfo(ZONE)).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=ZoneInfo(ZONE)).astimezone(timezone.utc)
    assert answer["query"]["date_range"][0] == midnight.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert driver.find_element(By.CSS_SELECTOR, '[data-metric="visitors"]').text == str(answer["results"][0]["metrics"][0])
    # Today's chart is the site's 24 local hours; the 7-day chart ends with the site's today.
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#series svg circle"), what="the chart")
    hours = [c.find_element(By.TAG_NAME, "title").get_attribute("textContent").split(" · ")[0]
             for c in driver.find_elements(By.CSS_SELECTOR, "#series svg circle")][:24]
    assert hours[0] == today.isoformat() + "T00:00:00+14:00" and len(set(hours)) == 24
    driver.get(base + "#/analytics?site=%s&range=7d" % SITE)
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#series svg circle")) == 14, what="the 7-day chart")
    days = [c.find_element(By.TAG_NAME, "title").get_attribute("textContent").split(" · ")[0]
            for c in driver.find_elements(By.CSS_SELECTOR, "#series svg circle")][:7]
    assert days == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]


# Wraps fetch: time-series answers get values of the given magnitude (row i: scale × (1 + i/7)).
SCALE_FETCH = """
const realFetch = window.fetch;
window.fetch = function (url, options) {
  return realFetch(url, options).then(function (response) {
    const body = options && options.body ? JSON.parse(options.body) : {};
    if (!body.dimensions || !String(body.dimensions[0]).startsWith('time:')) return response;
    return response.json().then(function (json) {
      const scale = +(new URLSearchParams(location.hash.split('?')[1]).get('scale'));
      json.results.forEach(function (row, i) { row.metrics = row.metrics.map(function (m, k) { return typeof m === 'number' ? Math.round(scale * (1 + i / 7 + k / 3)) : m; }); });
      return new Response(JSON.stringify(json), { status: response.status, headers: { 'content-type': 'application/json' } });
    });
  });
};
"""


@pytest.mark.parametrize("scale", [201919, 3456789, 7])
def test_chart_labels_fit_and_ticks_are_round(dashboard, scale):
    gateway, driver = dashboard
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SCALE_FETCH})
    driver.get("http://127.0.0.1:%d/#/analytics?site=%s&range=30d&scale=%d" % (gateway.port, SITE, scale))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#series svg text.tick"), what="the chart")
    chart = driver.find_element(By.CSS_SELECTOR, "#series svg").rect
    values = []
    for text in driver.find_elements(By.CSS_SELECTOR, "#series svg text"):
        box = text.rect
        assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"] + 0.5, text.text
        assert chart["y"] <= box["y"] and box["y"] + box["height"] <= chart["y"] + chart["height"] + 0.5, text.text
    ticks = driver.find_elements(By.CSS_SELECTOR, "#series svg text.tick")
    values = [float(t.get_attribute("data-value")) for t in ticks]
    step = values[1] - values[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1, 2, 5), values
    assert all(abs(v / step - round(v / step)) < 1e-9 for v in values) and values[0] == 0
    plotted = [float(c.find_element(By.TAG_NAME, "title").get_attribute("textContent").rsplit(": ", 1)[1].replace(",", ""))
               for c in driver.find_elements(By.CSS_SELECTOR, "#series svg circle")]
    assert max(plotted) <= values[-1] < max(plotted) + 2 * step, (values, max(plotted))
    assert len(values) <= 6
    labels = [t.text for t in ticks]
    if scale > 1_000_000:
        assert any(label.endswith("M") for label in labels), labels
    elif scale > 100_000:
        assert any(label.endswith("k") for label in labels) and all(len(label) <= 4 for label in labels), labels
    driver.save_screenshot(os.path.join(tempfile.gettempdir(), "clarm-chart-%d.png" % scale))
