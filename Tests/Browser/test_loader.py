"""The loader in a real browser: headless Chromium loads pages of a site on one port that embed clarm.js from
a real gateway on another (so CORS is exercised), and the gateway's visitor endpoint must show what happened."""
import functools
import http.server
import pathlib
import threading
import time

import pytest
from conftest import SITE, browser, free_port, running_gateway, wait_for
from selenium.webdriver.common.by import By

STUB = ("<script>window.ClarmTrack=window.ClarmTrack||{q:[],track:function(){this.q.push(['track',[].slice.call(arguments)])},"
        "widget:function(){this.q.push(['widget',[].slice.call(arguments)])}};</script>")


@pytest.fixture
def world():
    with running_gateway("clarm-browser-") as gateway, browser() as driver:
        site = serve_pages(gateway)
        try:
            yield gateway, driver, "http://127.0.0.1:%d" % site.server_address[1]
        finally:
            site.shutdown()


def serve_pages(gateway):
    """The test site's pages, served from beside the gateway's data directory on a port of their own."""
    pages = pathlib.Path(gateway.data).parent / "site"
    pages.mkdir()
    loader = '<script defer src="http://127.0.0.1:%d/clarm.js" data-site="%s"></script>' % (gateway.port, SITE)
    (pages / "index.html").write_text(
        "<!doctype html><html><head><title>Shop</title>" + STUB +
        "<script>window.ClarmTrack.track('identify', {email: 'ann@example.com', name: 'Ann', plan: 'pro'});</script>" + loader +
        "</head><body><button id='cta' data-clarm-cta='book-demo'>Book a demo</button>"
        "<button id='spa' onclick=\"history.pushState({}, '', '/pricing')\">Pricing</button></body></html>")
    hashed = '<script defer src="http://127.0.0.1:%d/clarm.js" data-site="%s" data-hash></script>' % (gateway.port, SITE)
    (pages / "app.html").write_text(
        "<!doctype html><html><head><title>Billing settings</title>" + hashed + "</head><body>"
        "<a id='out' href='https://example.org/elsewhere'>elsewhere</a></body></html>")
    (pages / "thanks.html").write_text("<!doctype html><html><head><title>Thank you</title>" + loader + "</head><body>Thanks</body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(pages))
    handler.log_message = lambda *args: None
    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


def events_named(timeline, name):
    return [e for e in (timeline or {}).get("timeline", []) if e["event"] == name]


def test_loader_tracks_pages_widget_commerce_and_survives_an_outage(world):
    gateway, driver, site = world
    driver.get(site + "/index.html?utm_source=browser-test")
    wait_for(lambda: driver.execute_script("return !!(window.ClarmTrack && window.ClarmTrack.loaded)"), what="the loader")
    visitor = driver.execute_script("return localStorage.getItem('clarm_vid')")
    assert visitor

    driver.find_element(By.ID, "spa").click()
    driver.find_element(By.ID, "cta").click()
    driver.execute_script("""
        document.dispatchEvent(new CustomEvent('clarm:widget', {detail: {kind: 'open', widget: 'chat'}}));
        ClarmTrack.widget('message', {text: 'Hi there'});
        ClarmTrack.track('purchase', {amount: 49.5, currency: 'USD', plan: 'pro', orderId: 'o-1'});
        ClarmTrack.flush();""")
    driver.get(site + "/thanks.html?payment=success")
    wait_for(lambda: driver.execute_script("return !!(window.ClarmTrack && window.ClarmTrack.loaded)"), what="the loader again")
    driver.execute_script("ClarmTrack.flush()")

    wanted = ["identify", "page_view", "click", "widget_open", "widget_message", "purchase", "payment_success"]
    timeline = wait_for(lambda: (lambda t: t if all(events_named(t, n) for n in wanted) and len(events_named(t, "page_view")) >= 3 else None)(
        gateway.timeline(visitor)), what="the events at the gateway")

    landing = events_named(timeline, "page_view")[0]
    assert landing["url"] == site + "/index.html?utm_source=browser-test"
    assert landing["page"] == "/index.html"
    assert landing["session_id"]
    assert "Chrome" in landing["user_agent"]
    assert landing["referrer"] == ""
    assert abs(time.time() - time.mktime(time.strptime(landing["time"][:19], "%Y-%m-%dT%H:%M:%S")) + time.timezone) < 120
    assert [e["page"] for e in events_named(timeline, "page_view")] == ["/index.html", "/pricing", "/thanks.html"]
    assert events_named(timeline, "identify")[0]["properties"] == {"email": "ann@example.com", "name": "Ann", "plan": "pro"}
    assert timeline["identity"]["email"] == "ann@example.com"
    assert events_named(timeline, "click")[0]["properties"] == {"element": "book-demo", "page": "/pricing"}
    assert events_named(timeline, "widget_open")[0]["properties"] == {"widget": "chat"}
    assert events_named(timeline, "widget_message")[0]["properties"] == {"text": "Hi there"}
    assert events_named(timeline, "purchase")[0]["properties"] == {"amount": 49.5, "currency": "USD", "plan": "pro", "orderId": "o-1"}
    assert events_named(timeline, "payment_success")[0]["properties"] == {"rule": "query:payment=success"}
    assert len({e["session_id"] for e in timeline["timeline"]}) == 1

    # The gateway goes away: events wait in the outbox and arrive, once, when it is back.
    gateway.stop()
    driver.execute_script("ClarmTrack.track('offline_event', {n: 1}); ClarmTrack.flush();")
    wait_for(lambda: driver.execute_script("return (localStorage.getItem('clarm_outbox') || '[]') !== '[]'"), what="the outbox")
    gateway.start()
    wait_for(lambda: events_named(gateway.timeline(visitor), "offline_event"), timeout=30, what="the retried event")
    time.sleep(3)
    assert len(events_named(gateway.timeline(visitor), "offline_event")) == 1
    assert driver.execute_script("return localStorage.getItem('clarm_outbox')") == "[]"


def test_navigation_rules_opt_out_and_reset(world):
    gateway, driver, site = world
    driver.get(site + "/app.html")
    wait_for(lambda: driver.execute_script("return !!(window.ClarmTrack && window.ClarmTrack.loaded)"), what="the loader")
    visitor = driver.execute_script("return localStorage.getItem('clarm_vid')")
    driver.execute_script("""
        history.replaceState({}, '', '/app.html?tab=1');   // same path: no page view
        history.replaceState({}, '', '/settings');         // new path: a page view
        history.pushState({}, '', '/settings');            // same URL again: none
        location.hash = '#billing';                        // data-hash: a page view
        // An outbound link, without leaving the page.
        document.getElementById('out').addEventListener('click', function (e) { e.preventDefault(); });
        document.getElementById('out').click();""")
    time.sleep(0.3)
    driver.execute_script("ClarmTrack.flush()")
    timeline = wait_for(lambda: (lambda t: t if events_named(t, "outbound_click") and len(events_named(t, "page_view")) >= 3 else None)(
        gateway.timeline(visitor)), what="navigation events")
    assert [e["url"].replace(site, "") for e in events_named(timeline, "page_view")] == ["/app.html", "/settings", "/settings#billing"]
    # The title says billing: a payment page, once per URL.
    assert events_named(timeline, "payment_page")[0]["properties"] == {"rule": "title:billing"}
    assert events_named(timeline, "outbound_click")[0]["properties"] == {"url": "https://example.org/elsewhere"}

    # Opted out: nothing is sent, and it is remembered across pages.
    driver.execute_script("ClarmTrack.optOut(); ClarmTrack.track('secret'); ClarmTrack.flush();")
    driver.get(site + "/thanks.html")
    wait_for(lambda: driver.execute_script("return !!(window.ClarmTrack && window.ClarmTrack.loaded)"), what="the loader")
    driver.execute_script("ClarmTrack.track('secret'); ClarmTrack.flush();")
    time.sleep(1.5)
    assert not events_named(gateway.timeline(visitor), "secret")
    assert not [e for e in gateway.timeline(visitor)["timeline"] if e["page"] == "/thanks.html"]

    # Opted in again and reset (a logout): the next events belong to a new visitor.
    driver.execute_script("ClarmTrack.optIn(); ClarmTrack.reset(); ClarmTrack.track('after_reset'); ClarmTrack.flush();")
    fresh = driver.execute_script("return localStorage.getItem('clarm_vid')")
    assert fresh and fresh != visitor
    wait_for(lambda: events_named(gateway.timeline(fresh), "after_reset"), what="the new visitor's event")
    assert not events_named(gateway.timeline(visitor), "after_reset")


# The shape of Plausible's snippet: the stub's track() queues its own arguments.
PUSH_STUB = "<script>window.ClarmTrack=window.ClarmTrack||{q:[],track:function(){ClarmTrack.q.push(arguments)}};</script>"
# Calls that throw: a custom properties getter, and a method the loader does not have.
FAULTY_CALLS = ("<script>ClarmTrack.track('identify', {email: 'q@example.com'});"
                "ClarmTrack.track('broken', {get amount() { throw new Error('getter fails'); }});"
                "ClarmTrack.q.push(['noSuchMethod', [1, 2]]);"
                "ClarmTrack.track('after_errors', {ok: true});</script>")


@pytest.mark.parametrize("stub", [STUB, PUSH_STUB], ids=["readme-stub", "push-arguments-stub"])
def test_queued_calls_of_either_stub_survive_failing_ones(world, stub):
    gateway, driver, site = world
    pages = pathlib.Path(gateway.data).parent / "site"
    (pages / "stub.html").write_text(
        "<!doctype html><html><head><title>Stub</title>" + stub + FAULTY_CALLS +
        '<script defer src="http://127.0.0.1:%d/clarm.js" data-site="%s"></script></head><body></body></html>' % (gateway.port, SITE))
    driver.get(site + "/stub.html")
    wait_for(lambda: driver.execute_script("return !!(window.ClarmTrack && window.ClarmTrack.loaded)"), what="the loader")
    visitor = driver.execute_script("return localStorage.getItem('clarm_vid')")
    # After the load, the stub's shapes keep working: a call of the function, a push onto q, a throwing call.
    driver.execute_script("""
        ClarmTrack('track', 'called', {how: 'function'});
        ClarmTrack.q.push(['pushed', {how: 'push'}]);
        try { ClarmTrack.track('broken_later', {get x() { throw new Error('later'); }}); } catch (e) {}
        ClarmTrack.track('last', {});
        ClarmTrack.flush();""")
    wanted = ["page_view", "identify", "after_errors", "called", "pushed", "last"]
    timeline = wait_for(lambda: (lambda t: t if all(events_named(t, n) for n in wanted) else None)(gateway.timeline(visitor)),
                        what="every event but the failing ones")
    assert not events_named(timeline, "broken") and not events_named(timeline, "broken_later")
    assert not events_named(timeline, "noSuchMethod")
    assert events_named(timeline, "identify")[0]["properties"] == {"email": "q@example.com"}
    assert events_named(timeline, "after_errors")[0]["properties"] == {"ok": True}
    assert events_named(timeline, "pushed")[0]["properties"] == {"how": "push"}
    assert [e["event"] for e in timeline["timeline"]].count("page_view") == 1
