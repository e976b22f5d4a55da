"""The Funnels view: bars and drop-off equal to what POST /api/funnel answers, steps edited in the page, the last
step a purchase by default; in headless Chromium against a real gateway, with no console errors (CSP)."""
from datetime import datetime, timedelta, timezone

from conftest import browser, post_json as post, running_gateway, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SITE = "funnel.example.com"
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"


def events():
    """Six visitors on /pricing; four of them chat; two of those buy, one more buys without chatting."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    out = []

    def add(visitor, minutes_ago, name, path="/"):
        out.append({"event": name, "visitor_id": visitor, "session_id": visitor + "-s", "site": SITE, "user_agent": AGENT,
                    "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z"),
                    "url": "https://%s%s" % (SITE, path)})

    for i in range(6):
        add("v%d" % i, 120 - i, "page_view", "/pricing")
    for i in range(4):
        add("v%d" % i, 100 - i, "widget_message", "/pricing")
    for i in (0, 1, 5):
        add("v%d" % i, 60 - i, "purchase", "/checkout")
    return out


def shown(driver):
    return [(row.find_element(By.CSS_SELECTOR, ".visitors").text, row.find_element(By.CSS_SELECTOR, ".rate").text,
             [e.text for e in row.find_elements(By.CSS_SELECTOR, ".dropoff")],
             row.find_element(By.CSS_SELECTOR, ".funnel-fill").size["width"] / row.find_element(By.CSS_SELECTOR, ".funnel-bar").size["width"])
            for row in driver.find_elements(By.CSS_SELECTOR, "#funnel [data-step]")]


def expected(answer):
    top = answer["steps"][0]["visitors"]
    return [(str(s["visitors"]), "%g%%" % s["conversion_rate"], [str(s["dropoff"])] if i else [], s["visitors"] / top)
            for i, s in enumerate(answer["steps"])]


def same(a, b):
    return len(a) == len(b) and all(x[:3] == y[:3] and abs(x[3] - y[3]) < 0.01 for x, y in zip(a, b))


def test_the_funnel_bars_equal_the_apis_numbers_and_steps_are_editable():
    with running_gateway("clarm-funnels-") as gateway, browser() as driver:
        assert post(gateway, "/api/track", events())["accepted"] == 13
        driver.get("http://127.0.0.1:%d/#/funnels?site=%s&range=7d" % (gateway.port, SITE))
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#funnel [data-step]"), what="the default funnel")
        kinds = [Select(s).first_selected_option.get_attribute("value") for s in driver.find_elements(By.CSS_SELECTOR, "#funnelSteps .kind")]
        values = [i.get_attribute("value") for i in driver.find_elements(By.CSS_SELECTOR, "#funnelSteps .value")]
        assert (kinds[-1], values[-1]) == ("event", "purchase")
        default = post(gateway, "/api/funnel", {"site": SITE, "date_range": "7d", "window": "7d", "steps": [
            {"filters": [["is", "event:name", ["page_view"]]]}, {"filters": [["is", "event:name", ["purchase"]]]}]})
        assert [s["visitors"] for s in default["steps"]] == [6, 3]
        assert same(shown(driver), expected(default))

        # Edit: step 1 the pricing page, a chat step inserted before the purchase, within one hour.
        Select(driver.find_elements(By.CSS_SELECTOR, "#funnelSteps .kind")[0]).select_by_value("page")
        first = driver.find_elements(By.CSS_SELECTOR, "#funnelSteps .value")[0]
        first.clear()
        first.send_keys("/pricing")
        driver.find_element(By.ID, "addStep").click()
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#funnelSteps [data-row]")) == 3, what="a third step")
        middle = driver.find_elements(By.CSS_SELECTOR, "#funnelSteps .value")[1]
        middle.clear()
        middle.send_keys("widget_message")
        Select(driver.find_element(By.ID, "window")).select_by_value("1h")
        driver.find_element(By.ID, "showFunnel").click()
        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#funnel [data-step]")) == 3, what="the edited funnel")
        edited = post(gateway, "/api/funnel", {"site": SITE, "date_range": "7d", "window": "1h", "steps": [
            {"filters": [["is", "event:page", ["/pricing"]]]}, {"filters": [["is", "event:name", ["widget_message"]]]},
            {"filters": [["is", "event:name", ["purchase"]]]}]})
        assert [s["visitors"] for s in edited["steps"]] == [6, 4, 2]
        wait_for(lambda: same(shown(driver), expected(edited)), what="the bars to equal the API's numbers")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
