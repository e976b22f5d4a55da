"""The dashboard's Integrations page in headless Chromium against a real gateway and a webhook receiver on loopback:
add a webhook through the form (its secret shown once), send a test event, watch the delivered count rise, see
the error when the receiver answers 500, replay the dead letters once it recovers, disable and remove."""
import http.server
import threading

from conftest import SITE, browser, post_json, running_gateway, wait_for
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


class Receiver:
    """Answers every POST with `status` and keeps the `webhook-id` of each."""

    def __init__(self):
        self.status = 200
        self.ids = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.ids.append(self.headers.get("webhook-id"))
                body = b"receiver broke" if receiver.status >= 400 else b"ok"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]


def purchases(numbers):
    return [{"event": "purchase", "visitor_id": "v-%d" % n, "event_id": "e-%d" % n, "url": "https://%s/checkout" % SITE,
             "properties": {"amount": 10, "currency": "EUR"}} for n in numbers]


def test_integrations_page_adds_tests_shows_errors_replays_and_removes():
    receiver = Receiver()
    options = ["--allow-private-destinations", "--destination-retry-delays", "0.2"]
    with running_gateway("clarm-integrations-", options) as gateway, browser() as driver:
        driver.get("http://127.0.0.1:%d/#/integrations" % gateway.port)
        wait_for(lambda: "No destinations yet" in driver.find_element(By.ID, "destinationList").text, what="the empty list")

        form = driver.find_element(By.ID, "addDestination")
        Select(form.find_element(By.NAME, "type")).select_by_value("webhook")
        assert not form.find_element(By.NAME, "token").is_displayed()
        form.find_element(By.NAME, "site").clear()
        form.find_element(By.NAME, "site").send_keys(SITE)
        form.find_element(By.NAME, "url").send_keys(receiver.url)
        driver.find_element(By.ID, "addButton").click()
        secret = wait_for(lambda: driver.find_elements(By.ID, "createdSecret"), what="the secret")[0].text
        assert secret.startswith("whsec_")
        # The list is redrawn when its state changes: each look and click finds its element afresh.
        def cell(name):
            return driver.execute_script("var c = document.querySelector('tr[data-destination] [data-cell=' + arguments[0] + ']');"
                                         "return c ? c.textContent : ''", name)

        def click(action):
            for _ in range(5):
                try:
                    return driver.find_element(By.CSS_SELECTOR, "tr[data-destination] [data-action=%s]" % action).click()
                except StaleElementReferenceException:
                    pass
            raise AssertionError("the %s button kept being redrawn" % action)
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-destination]"), what="the new destination's row")
        # Shown once: the list never holds it.
        assert secret not in driver.find_element(By.ID, "destinationList").text

        click("test")
        wait_for(lambda: cell("test") == "test delivered", what="the test's answer")
        assert receiver.ids[-1].startswith("msg_")

        post_json(gateway, "/api/track", purchases(range(3)))
        wait_for(lambda: cell("delivered") == "3", what="3 delivered")
        assert "ok" == cell("status")

        receiver.status = 500
        post_json(gateway, "/api/track", purchases([3]))
        wait_for(lambda: "HTTP 500: receiver broke" in cell("last_error"), what="the receiver's error")
        wait_for(lambda: cell("dead_lettered") == "1", what="the dead letter")
        assert cell("status") == "failing"
        click("test")
        wait_for(lambda: cell("test").startswith("test failed: HTTP 500"), what="the failed test")

        receiver.status = 200
        dead_id = receiver.ids[-2]
        click("replay")
        wait_for(lambda: cell("delivered") == "4", what="the replayed event delivered")
        assert receiver.ids[-1] == dead_id

        click("toggle")
        wait_for(lambda: cell("status").startswith("disabled"), what="disabled")
        assert driver.find_element(By.CSS_SELECTOR, "tr[data-destination] [data-action=toggle]").text == "Enable"

        click("remove")
        click("remove")
        wait_for(lambda: "No destinations yet" in driver.find_element(By.ID, "destinationList").text, what="the removal")

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    receiver.server.shutdown()
