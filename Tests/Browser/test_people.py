"""The Visitors view groups a person's devices, the person page merges their timelines, and the top-line figures
show the API's own comparison with the previous period: in headless Chromium against a real gateway."""
import json
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from conftest import browser, post_json as post, running_gateway, wait_for
from selenium.webdriver.common.by import By

SITE = "people.example.com"
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"


def events():
    """Dana on three devices (one identifying as " DANA@example.com"), Eli on one; and last week's traffic."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    out = []

    def add(visitor, minutes_ago, name, path="/", props=None):
        e = {"event": name, "visitor_id": visitor, "session_id": visitor + "-s", "site": SITE, "user_agent": AGENT,
             "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z"), "url": "https://%s%s" % (SITE, path)}
        if props:
            e["properties"] = props
        out.append(e)

    for device, minutes, email in [("dana-phone", 90, "dana@example.com"), ("dana-laptop", 60, " DANA@example.com"),
                                   ("dana-tablet", 30, "dana@example.com")]:
        add(device, minutes, "page_view", "/pricing")
        add(device, minutes - 1, "identify", "/pricing", {"email": email, "name": "Dana"})
    add("dana-laptop", 58, "purchase", "/checkout", {"amount": 40, "currency": "EUR"})
    add("eli", 20, "page_view")
    add("eli", 19, "identify", props={"email": "eli@example.com"})
    for i in range(4):
        add("old-%d" % i, 8 * 24 * 60 + i, "page_view")
    return out


def get(gateway, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (gateway.port, path), timeout=10) as response:
        return json.load(response)


def test_visitors_view_groups_a_persons_devices_and_the_cards_show_the_apis_comparison():
    with running_gateway("clarm-people-") as gateway, browser() as driver:
        assert post(gateway, "/api/track", events())["accepted"] == 13
        request = urllib.request.Request("http://127.0.0.1:%d/api/visitors/dana-phone?site=%s" % (gateway.port, SITE), method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()
        base = "http://127.0.0.1:%d/" % gateway.port

        driver.get(base + "#/visitors?site=%s&range=7d" % SITE)
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-person]"), what="the people on several devices")
        rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-person]")
        assert [r.get_attribute("data-person") for r in rows] == ["dana@example.com"], "Eli has one device; Dana's phone is erased"
        devices = [c.get_attribute("data-device") for c in rows[0].find_elements(By.CSS_SELECTOR, "[data-device]")]
        assert devices == ["dana-tablet", "dana-laptop"]

        rows[0].click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#timeline li"), what="the person's timeline")
        api = get(gateway, "/api/people/%s?site=%s" % (urllib.parse.quote("dana@example.com"), SITE))
        shown = [(li.get_attribute("data-device"), li.get_attribute("data-event")) for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")]
        assert shown == [(e["visitor_id"], e["event"]) for e in api["timeline"]]
        assert [d for d, _ in shown] == ["dana-laptop"] * 3 + ["dana-tablet"] * 2

        driver.get(base + "#/analytics?site=%s&range=7d" % SITE)
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '[data-change="visitors"]'), what="the figures")
        answer = post(gateway, "/api/query", {"site": SITE, "date_range": "7d", "metrics": ["visitors", "bounce_rate"],
                                               "comparisons": {"mode": "previous_period"}})
        comparison = answer["results"][0]["comparison"]
        assert comparison["metrics"][0] == 4 and answer["results"][0]["metrics"][0] == 3
        assert driver.find_element(By.CSS_SELECTOR, '[data-change="visitors"]').text == "%+g%% vs previous period" % comparison["change"][0]
        assert driver.find_element(By.CSS_SELECTOR, '[data-change="bounce_rate"]').text == "%+g pts vs previous period" % comparison["change"][1]
