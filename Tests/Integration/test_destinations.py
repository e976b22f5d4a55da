"""Destinations against real receivers on loopback and a real `clarm serve`: webhook signatures checked by the
`standardwebhooks` package, a receiver that fails then recovers, a SIGKILL between delivery and acknowledgement,
a fake Slack (429 + Retry-After, invalid_payload), a fake HubSpot, 410 Gone, and the SSRF refusal."""
import http.server
import itertools
import json
import os
import pathlib
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
from standardwebhooks.webhooks import Webhook

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLARM = ROOT / ".build" / "debug" / "clarm"
SITE = "shop.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
FAST_RETRIES = "0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2"


class Gateway:
    def __init__(self, data, *extra):
        self.data = data
        self.extra = list(extra)
        self.process = None
        self.url = None

    def start(self):
        self.process = subprocess.Popen(
            [str(CLARM), "serve", "--port", "0", "--data", self.data, "--loops", "1", "--shards", "2",
             "--destination-retry-delays", FAST_RETRIES] + self.extra,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.process.stdout.readline().decode()
        assert "listening on" in line, line
        self.url = "http://127.0.0.1:%s" % line.rsplit(":", 1)[1].strip()
        return self

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=20) == 0

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "User-Agent": BROWSER})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def track(self, events):
        status, body = self.request("POST", "/api/track", events)
        assert status == 202 and body["accepted"] == len(events), body


class Receiver:
    """An HTTP server on loopback that records every request and answers what `answer` says."""

    def __init__(self, answer, keep_alive=False):
        self.answer = answer
        self.requests = []
        self.ports = []   # the client port of each request: one per connection
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers.items()), body))
                    receiver.ports.append(self.client_address[1])
                    count = len(receiver.requests)
                status, headers, text = receiver.answer(count, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()

    def snapshot(self):
        with self.lock:
            return list(self.requests)


def ok(*_):
    return 200, {}, b"ok"


def events(numbers, visitors=5, name="purchase"):
    return [{"event": name, "visitor_id": "v-%d" % (n % visitors), "event_id": "e-%d" % n,
             "url": "https://%s/checkout?utm_source=news" % SITE,
             "properties": {"amount": n + 0.5, "currency": "EUR", "plan": "pro", "n": n}} for n in numbers]


def wait_for(condition, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def verified_deliveries(receiver, secret):
    """Every request verified with standardwebhooks; by webhook-id, the body (identical on every resend)."""
    verifier = Webhook(secret)
    by_id = {}
    order = []
    for _, headers, body in receiver.snapshot():
        lowered = {k.lower(): v for k, v in headers.items()}
        verifier.verify(body, lowered)
        message_id = lowered["webhook-id"]
        if message_id in by_id:
            assert by_id[message_id] == body, "a resend of %s differs" % message_id
        else:
            by_id[message_id] = body
            order.append(message_id)
    return [json.loads(by_id[i]) for i in order]


@pytest.fixture
def data():
    with tempfile.TemporaryDirectory() as directory:
        yield directory


def test_webhook_is_signed_retried_and_delivered_once_per_event(data):
    # Down for the first three attempts, then a 429 with Retry-After, then up.
    def answer(count, *_):
        if count <= 3:
            return 503, {}, b"down"
        if count == 4:
            return 429, {"Retry-After": "1"}, b"slow down"
        return 200, {}, b"ok"
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        status, created = gateway.request("POST", "/api/destinations",
                                          {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        assert status == 201, created
        secret = created["secret"]
        assert secret.startswith("whsec_")
        status, listed = gateway.request("GET", "/api/destinations")
        assert "secret" not in json.dumps(listed)
        assert oct(os.stat(os.path.join(data, "destinations.json")).st_mode & 0o777) == "0o600"

        gateway.track(events(range(0, 10)))
        gateway.track(events(range(10, 20)) + events(range(100, 103), name="page_view"))
        gateway.track(events(range(20, 30)))
        wait_for(lambda: len(verified_deliveries(receiver, secret)) >= 30)
        delivered = verified_deliveries(receiver, secret)
        assert all(d["type"] == "event.purchase" for d in delivered)
        ids = [d["data"]["event_id"] for d in delivered]
        assert sorted(ids) == sorted("e-%d" % n for n in range(30))
        for visitor in range(5):
            mine = [d["data"]["properties"]["n"] for d in delivered if d["data"]["visitor_id"] == "v-%d" % visitor]
            assert mine == sorted(mine)
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert state["state"]["delivered"] == 30
        assert state["state"]["failed_attempts"] >= 4
        assert "429" in state["state"]["last_error"] or "503" in state["state"]["last_error"]
    finally:
        gateway.stop()
        receiver.close()


def test_a_kill_between_delivery_and_acknowledgement_resends_the_same_ids(data):
    gateway = Gateway(data, "--allow-private-destinations")
    killed = threading.Event()

    def answer(count, *_):
        # The gateway dies while the fifth request waits for its answer: it never learns it was delivered.
        if count == 5:
            # Set only once the process is gone: the test restarts the gateway when it sees this, and a new
            # process started before the kill would be the one killed.
            gateway.kill()
            killed.set()
            return 200, {}, b"ok"
        time.sleep(0.05)
        return 200, {}, b"ok"
    receiver = Receiver(answer)
    gateway.start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["*"], "url": receiver.url})
        gateway.track(events(range(0, 12)))
        wait_for(killed.is_set)
        gateway.start()

        def ids():
            return [{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in receiver.snapshot()]

        def every_event_and_a_resend():
            delivered = {d["data"]["event_id"] for d in verified_deliveries(receiver, created["secret"])}
            return delivered == {"e-%d" % n for n in range(12)} and len(ids()) > len(set(ids()))
        # Each shard's unacknowledged events are sent again: wait for all of them, not for a count that the
        # other shard's events alone may reach first.
        wait_for(every_event_and_a_resend)
        delivered = verified_deliveries(receiver, created["secret"])
        assert sorted({d["data"]["event_id"] for d in delivered}) == sorted("e-%d" % n for n in range(12))
    finally:
        gateway.stop()
        receiver.close()


def test_slack_digests_and_shows_its_errors(data):
    def answer(count, *_):
        if count == 1:
            return 429, {"Retry-After": "1"}, b"rate_limited"
        if count == 2:
            return 400, {}, b"invalid_payload"
        return 200, {}, b"ok"
    slack = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        status, created = gateway.request("POST", "/api/destinations",
                                          {"type": "slack", "site": SITE, "events": ["purchase", "identify"], "url": slack.url})
        assert status == 201 and "secret" not in created
        _, shown = gateway.request("GET", "/api/destinations/" + created["id"])
        assert shown["url"] != slack.url and shown["url"].endswith("/…" + slack.url[-4:])
        gateway.track(events(range(0, 8)))
        # Two shards: two digests, the first refused twice (429, then invalid_payload) before it goes through.
        wait_for(lambda: len(slack.snapshot()) >= 4)
        messages = [json.loads(body) for _, _, body in slack.snapshot()]
        for message in messages:
            assert message["text"]
            assert message["blocks"][0]["type"] == "section" and message["blocks"][0]["text"]["type"] == "mrkdwn"
            assert message["blocks"][1]["type"] == "context"
        assert len(slack.snapshot()) < 8, "events faster than one a second are combined"
        assert any(" events on " in message["text"] for message in messages)
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert "invalid_payload" in state["state"]["last_error"]
    finally:
        gateway.stop()
        slack.close()


def test_hubspot_upserts_identified_contacts_and_sends_their_purchases(data):
    hubspot = Receiver(ok)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        status, created = gateway.request("POST", "/api/destinations", {
            "type": "hubspot", "site": SITE, "events": ["identify", "purchase"], "token": "pat-test-token",
            "api_base": hubspot.url.rsplit("/", 1)[0], "event_name": "pe123_purchase"})
        assert status == 201, created
        gateway.track([{"event": "identify", "visitor_id": "v-1", "event_id": "i-1", "url": "https://%s/" % SITE,
                        "properties": {"email": "Ada@Example.com", "name": "Ada Lovelace", "company": "Engines", "plan": "pro"}}])
        wait_for(lambda: len(hubspot.snapshot()) >= 1)
        gateway.track([{"event": "purchase", "visitor_id": "v-1", "event_id": "p-1", "url": "https://%s/" % SITE,
                        "properties": {"amount": 99, "currency": "USD"}},
                       {"event": "purchase", "visitor_id": "v-unknown", "event_id": "p-2", "url": "https://%s/" % SITE,
                        "properties": {"amount": 5, "currency": "USD"}}])
        wait_for(lambda: len(hubspot.snapshot()) >= 2)
        requests = hubspot.snapshot()
        path, headers, body = requests[0]
        assert path == "/crm/v3/objects/contacts/batch/upsert"
        assert headers["Authorization"] == "Bearer pat-test-token"
        upsert = json.loads(body)
        assert upsert["inputs"] == [{"idProperty": "email", "id": "ada@example.com", "properties": {
            "email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace", "company": "Engines", "clarm_plan": "pro"}}]
        path, _, body = requests[1]
        assert path == "/events/v3/send"
        sent = json.loads(body)
        assert sent["eventName"] == "pe123_purchase" and sent["email"] == "ada@example.com"
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert state["state"]["skipped"] == {"visitor_not_identified": 1}
        assert "token" not in state
        # The stored token goes only where it went: a new api_base must bring its own.
        moved = {"type": "hubspot", "site": SITE, "events": ["identify"], "api_base": "http://127.0.0.1:9"}
        status, body = gateway.request("PUT", "/api/destinations/" + created["id"], moved)
        assert status == 400 and "token is required when api_base changes" in body["error"], body
        status, _ = gateway.request("PUT", "/api/destinations/" + created["id"], dict(moved, api_base=hubspot.url.rsplit("/", 1)[0]))
        assert status == 200
    finally:
        gateway.stop()
        hubspot.close()


def test_gone_disables_and_private_addresses_are_refused(data):
    answer = {"status": 410}
    gone = Receiver(lambda *_: (answer["status"], {}, b"gone" if answer["status"] == 410 else b"ok"))
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["*"], "url": gone.url})
        gateway.track(events(range(0, 3)))

        def disabled():
            _, state = gateway.request("GET", "/api/destinations/" + created["id"])
            return state["enabled"] is False and "410" in (state["state"]["disabled_reason"] or "")
        wait_for(disabled)
        assert len(gone.snapshot()) == 1
        # A disabled destination holds no logs back: its change-feed cursors are deleted.
        wait_for(lambda: not list(pathlib.Path(data).glob("shard-*/feed-dest-%s.cursor" % created["id"])))
        # Events that come while it is off are not kept for it; enabled again, it gets the events from then on.
        gateway.track(events(range(3, 5)))
        answer["status"] = 200
        status, _ = gateway.request("PUT", "/api/destinations/" + created["id"],
                                    {"type": "webhook", "site": SITE, "events": ["*"], "url": gone.url, "enabled": True})
        assert status == 200
        assert len(list(pathlib.Path(data).glob("shard-*/feed-dest-%s.cursor" % created["id"]))) == 2
        gateway.track(events(range(5, 7)))
        wait_for(lambda: len(gone.snapshot()) >= 3)
        time.sleep(0.5)
        assert sorted(json.loads(body)["data"]["event_id"] for _, _, body in gone.snapshot()[1:]) == ["e-5", "e-6"]
        for bad in [{"type": "fax"}, {"type": "webhook", "site": SITE, "events": [], "url": gone.url},
                    {"type": "webhook", "site": SITE, "events": ["*"], "url": "ftp://x"},
                    {"type": "webhook", "site": SITE, "events": ["*"], "url": gone.url, "batch": 101}]:
            status, body = gateway.request("POST", "/api/destinations", bad)
            assert status == 400 and "invalid destination" in body["error"]
    finally:
        gateway.stop()
        gone.close()
    strict = Gateway(data).start()
    try:
        status, body = strict.request("POST", "/api/destinations",
                                      {"type": "webhook", "site": SITE, "events": ["*"], "url": "http://127.0.0.1:9/x"})
        assert status == 400 and "--allow-private-destinations" in body["error"]
    finally:
        strict.stop()


def test_a_huge_retry_after_neither_crashes_nor_parks_the_gateway(data):
    receiver = Receiver(lambda *_: (503, {"Retry-After": "10000000000000000"}, b"later"))
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["*"], "url": receiver.url})
        gateway.track(events(range(0, 2)))

        def retrying():
            _, state = gateway.request("GET", "/api/destinations/" + created["id"])
            return state["state"]["retrying"] and "503" in (state["state"]["last_error"] or "")
        wait_for(retrying)
        gateway.track(events(range(2, 4)))
        assert gateway.process.poll() is None
        status, _ = gateway.request("GET", "/healthz")
        assert status == 200
    finally:
        gateway.stop()
        receiver.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_https_receivers_are_trusted_through_the_ca_file_option(data, tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    receiver = Receiver(ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    gateway = Gateway(data, "--allow-private-destinations").start()
    url = "https://localhost:%d/hook" % receiver.server.server_address[1]
    try:
        _, created = gateway.request("POST", "/api/destinations", {"type": "webhook", "site": SITE, "events": ["*"], "url": url})
        status, answer = gateway.request("POST", "/api/destinations/%s/test" % created["id"])
        # A certificate no trusted authority signed is refused: the request goes over TLS, verified.
        assert status == 200 and answer["delivered"] is False and "certificate" in answer["error"], answer
        assert receiver.snapshot() == []
        # Delivery fails the same way, and says why in the destination's state.
        gateway.track(events(range(0, 1)))

        def certificate_error():
            _, state = gateway.request("GET", "/api/destinations/" + created["id"])
            return "certificate" in (state["state"]["last_error"] or "")
        wait_for(certificate_error)
        assert receiver.snapshot() == []
    finally:
        gateway.stop()
    # Trusted through --destination-ca-file: the test event and the waiting event go through, over TLS.
    gateway = Gateway(data, "--allow-private-destinations", "--destination-ca-file", str(tmp_path / "cert.pem")).start()
    try:
        status, answer = gateway.request("POST", "/api/destinations/%s/test" % created["id"])
        assert status == 200 and answer == {"delivered": True}, answer
        gateway.track(events(range(1, 3)))
        wait_for(lambda: {d["data"].get("event_id") for d in verified_deliveries(receiver, created["secret"])} >= {"e-0", "e-1", "e-2"})
    finally:
        gateway.stop()
        receiver.close()
    # A file without a certificate stops the gateway at start, with the reason.
    (tmp_path / "empty.pem").write_text("nothing here\n")
    bad = subprocess.run([str(CLARM), "serve", "--port", "0", "--data", data, "--destination-ca-file", str(tmp_path / "empty.pem")],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "holds no PEM certificate" in bad.stdout + bad.stderr


def test_limits_hangs_huge_answers_changes_metrics_and_the_command_line(data):
    # A receiver that hangs past the timeout, then answers 500 with 4 MiB, then accepts.
    def answer(count, *_):
        if count == 1:
            time.sleep(3)
            return 200, {}, b"too late"
        if count == 2:
            return 500, {}, b"x" * (4 << 20)
        return 200, {}, b"ok"
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations", "--destination-timeout", "1").start()
    try:
        status, created = gateway.request("POST", "/api/destinations", {"type": "webhook", "site": SITE, "events": ["*"],
                                                                         "url": receiver.url, "batch": 5})
        assert status == 201
        gateway.track(events(range(0, 4)))
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["delivered"] == 4)
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert state["state"]["failed_attempts"] >= 2
        assert len(state["state"]["last_error"]) < 300
        bodies = [json.loads(body) for _, _, body in receiver.snapshot()]
        assert all(body["type"] == "event.batch" and len(body["data"]) <= 5 for body in bodies)

        # A change keeps the secret and the cursor.
        status, changed = gateway.request("PUT", "/api/destinations/" + created["id"],
                                          {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        assert status == 200 and changed["events"] == ["purchase"] and "secret" not in changed
        with open(os.path.join(data, "destinations.json")) as file:
            assert created["secret"] in file.read()

        metrics = urllib.request.urlopen(gateway.url + "/metrics", timeout=10).read().decode()
        assert 'clarm_destination_delivered_events_total{destination="%s",type="webhook"} 4' % created["id"] in metrics

        listed = subprocess.run([str(CLARM), "destinations", "list", "--url", gateway.url], capture_output=True, text=True, check=True)
        assert created["id"] in listed.stdout and "webhook" in listed.stdout
        removed = subprocess.run([str(CLARM), "destinations", "remove", created["id"], "--url", gateway.url],
                                 capture_output=True, text=True, check=True)
        assert "removed" in removed.stdout
        assert gateway.request("GET", "/api/destinations")[1] == {"destinations": []}
        status, body = gateway.request("POST", "/api/destinations", {"type": "webhook", "site": SITE, "events": ["*"] * 65,
                                                                    "url": receiver.url})
        assert status == 400 and "64" in body["error"]
    finally:
        gateway.stop()
        receiver.close()


def test_dead_letters_are_queued_again_with_the_same_ids(data):
    down = {"on": True}

    def answer(*_):
        return (500, {}, b"down") if down["on"] else (200, {}, b"ok")
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        status, created = gateway.request("POST", "/api/destinations",
                                          {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url, "batch": 3})
        assert status == 201, created
        replay = "/api/destinations/%s/replay" % created["id"]
        status, empty = gateway.request("POST", replay)
        assert status == 400 and "dead_letters" in empty["error"], empty
        status, refused = gateway.request("POST", replay, {"dead_letters": False})
        assert status == 400 and "dead_letters" in refused["error"], refused
        assert gateway.request("POST", "/api/destinations/nope/replay", {"dead_letters": True})[0] == 404

        gateway.track(events(range(3), visitors=1))   # one visitor: one shard, one batch, one message
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["dead_lettered"] == 3)
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert [letter["events"] for letter in state["dead_letters"]] == [3]
        dead_id = state["dead_letters"][0]["id"]
        attempts = len(receiver.snapshot())

        down["on"] = False
        status, answer_ = gateway.request("POST", replay, {"dead_letters": True})
        assert (status, answer_) == (200, {"requeued_messages": 1, "requeued_events": 3}), answer_
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["delivered"] == 3)
        resent = receiver.snapshot()[attempts:]
        assert [{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in resent] == [dead_id]
        delivered = verified_deliveries(receiver, created["secret"])   # the resend's body is the dead letter's
        assert sorted(e["event_id"] for e in delivered[0]["data"]) == ["e-0", "e-1", "e-2"]
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert state["dead_letters"] == []
        assert gateway.request("POST", replay, {"dead_letters": True}) == (200, {"requeued_messages": 0, "requeued_events": 0})

        # A replay still being sent (down again: it goes through its retries) refuses another one.
        down["on"] = True
        gateway.track(events(range(3, 4)))
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["dead_lettered"] == 4)
        assert gateway.request("POST", replay, {"dead_letters": True})[0] == 200
        status, busy = gateway.request("POST", replay, {"dead_letters": True})
        assert status == 409 and "still being sent" in busy["error"], busy
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["dead_lettered"] == 5)

        settings = {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url, "enabled": False}
        assert gateway.request("PUT", "/api/destinations/" + created["id"], settings)[0] == 200
        status, disabled = gateway.request("POST", replay, {"dead_letters": True})
        assert status == 409 and "disabled" in disabled["error"], disabled
        # Disabling and enabling again (the dashboard's toggle) keeps the dead letters, and they still go through.
        down["on"] = False
        status, enabled = gateway.request("PUT", "/api/destinations/" + created["id"], dict(settings, enabled=True))
        assert status == 200 and len(enabled["dead_letters"]) == 1, enabled
        assert gateway.request("POST", replay, {"dead_letters": True}) == (200, {"requeued_messages": 1, "requeued_events": 1})
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["delivered"] == 4)
    finally:
        gateway.stop()
        receiver.close()


def test_dead_letters_survive_a_kill_and_are_replayed_with_their_ids(data):
    down = {"on": True}

    def answer(*_):
        return (500, {}, b"down") if down["on"] else (200, {}, b"ok")
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        path = "/api/destinations/" + created["id"]
        gateway.track(events(range(2), visitors=1))
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["dead_letters_kept"] == 2)
        before = gateway.request("GET", path)[1]["dead_letters"]
        gateway.kill()
        gateway.start()
        _, state = gateway.request("GET", path)
        assert [(l["id"], l["events"]) for l in state["dead_letters"]] == [(l["id"], l["events"]) for l in before], state
        assert state["state"]["dead_letters_kept"] == 2
        assert oct(os.stat(os.path.join(data, "dead-letters", created["id"] + ".log")).st_mode & 0o777) == "0o600"

        down["on"] = False
        attempts = len(receiver.snapshot())
        status, queued = gateway.request("POST", path + "/replay", {"dead_letters": True})
        assert (status, queued) == (200, {"requeued_messages": 2, "requeued_events": 2}), queued
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["delivered"] == 2)
        resent = [{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in receiver.snapshot()[attempts:]]
        assert resent == [l["id"] for l in before]
        verified_deliveries(receiver, created["secret"])   # every resend is the body first built
        # Delivered letters stay gone after a restart.
        gateway.stop()
        gateway.start()
        assert gateway.request("GET", path)[1]["dead_letters"] == []
    finally:
        gateway.stop()
        receiver.close()


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def test_a_time_range_is_replayed_from_the_store_with_the_first_ids(data):
    down = {"on": False}

    def answer(*_):
        return (503, {"Retry-After": "60"}, b"later") if down["on"] else (200, {}, b"ok")
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["purchase", "signup"], "url": receiver.url})
        path = "/api/destinations/%s/replay" % created["id"]
        # Events with an event_id, and events without one (their id comes from their content).
        without_id = [{"event": "signup", "visitor_id": "v-%d" % n, "url": "https://%s/join" % SITE, "properties": {"n": n}}
                      for n in range(3)]
        gateway.track(events(range(5)) + without_id + events(range(100, 102), name="page_view"))
        wait_for(lambda: len(receiver.snapshot()) == 8)
        first = {{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in receiver.snapshot()}
        assert len(first) == 8

        for bad in [{"from": "yesterday", "to": iso(time.time())}, {"from": iso(time.time()), "to": iso(time.time() - 60)},
                    {"from": iso(time.time() - 40 * 86400), "to": iso(time.time())}, {"from": iso(time.time())}]:
            status, body = gateway.request("POST", path, bad)
            assert status == 400, (bad, body)
        status, nothing = gateway.request("POST", path, {"from": iso(time.time() - 7200), "to": iso(time.time() - 3600)})
        assert (status, nothing) == (200, {"replayed_events": 0}), nothing

        # After a crash and a restart, a replay of the hour sends the same 8 deliveries again, same ids, same bodies.
        gateway.kill()
        gateway.start()
        replay = subprocess.run([str(CLARM), "destinations", "replay", created["id"], "--url", gateway.url,
                                 "--from", iso(time.time() - 3600), "--to", iso(time.time() + 60)],
                                capture_output=True, text=True, check=True)
        assert "queued 8 events" in replay.stdout, replay.stdout

        def sent_ids():
            return [{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in receiver.snapshot()]
        # Every first id again (a restart may also resend what was not acknowledged: with the same ids too).
        wait_for(lambda: all(sent_ids().count(i) >= 2 for i in first))
        assert set(sent_ids()) == first
        delivered = verified_deliveries(receiver, created["secret"])   # a resent id carries the same body
        assert sorted(d["data"]["properties"]["n"] for d in delivered if d["type"] == "event.signup") == [0, 1, 2]

        # A replay the gateway is killed in the middle of goes on after the restart.
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["replay_pending"] == 0)
        down["on"] = True
        status, queued = gateway.request("POST", path, {"from": iso(time.time() - 3600), "to": iso(time.time() + 60)})
        assert (status, queued) == (200, {"replayed_events": 8}), queued
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["retrying"])
        _, state = gateway.request("GET", "/api/destinations/" + created["id"])
        assert state["state"]["replay_pending"] == 8, state
        status, busy = gateway.request("POST", path, {"from": iso(time.time() - 3600), "to": iso(time.time() + 60)})
        assert status == 409 and "still being sent" in busy["error"], busy
        assert (pathlib.Path(data) / "replays" / (created["id"] + ".replay")).exists()
        gateway.kill()
        down["on"] = False
        gateway.start()
        wait_for(lambda: all(sent_ids().count(i) >= 3 for i in first))
        assert set(sent_ids()) == first
        wait_for(lambda: not (pathlib.Path(data) / "replays" / (created["id"] + ".replay")).exists())
        assert gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["replay_pending"] == 0
    finally:
        gateway.stop()
        receiver.close()


def test_a_destination_keeps_its_connection(data):
    receiver = Receiver(ok, keep_alive=True)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["*"], "url": receiver.url})
        for n in range(6):
            gateway.track(events(range(n, n + 1)))
        wait_for(lambda: len(receiver.snapshot()) == 6)
        assert len(set(receiver.ports)) == 1, receiver.ports
    finally:
        gateway.stop()
        receiver.close()


def test_a_kill_while_dead_letters_are_written_loses_no_event(data):
    down = {"on": True}

    def answer(*_):
        return (500, {}, b"down") if down["on"] else (200, {}, b"ok")
    receiver = Receiver(answer)
    # One retry, at once: every event becomes a dead letter (one fsynced record each) as fast as the disk allows.
    gateway = Gateway(data, "--allow-private-destinations", "--destination-retry-delays", "0").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        path = "/api/destinations/" + created["id"]
        for start in range(0, 800, 100):
            gateway.track(events(range(start, start + 100), visitors=40))
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["dead_letters_kept"] >= 100)
        gateway.kill()
        down["on"] = False
        gateway.start()
        _, state = gateway.request("GET", path)
        kept = state["state"]["dead_letters_kept"]
        print("dead letters kept through the kill:", kept)
        assert 100 <= kept <= 800 and state["state"]["dead_letters_dropped"] == 0, state
        status, queued = gateway.request("POST", path + "/replay", {"dead_letters": True})
        assert status == 200 and queued["requeued_messages"] == kept, queued
        # What was dead-lettered comes back from the file; what was not yet is read from the log again.
        expected = {"e-%d" % n for n in range(800)}
        wait_for(lambda: {d["data"]["event_id"] for d in verified_deliveries(receiver, created["secret"])} == expected, seconds=60)
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["dead_letters_kept"] == 0)
    finally:
        gateway.stop()
        receiver.close()


def test_identical_events_of_one_batch_get_their_own_ids_kept_by_a_replay(data):
    receiver = Receiver(ok)
    gateway = Gateway(data, "--allow-private-destinations").start()
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        # No timestamp, no event_id: both take the batch's reception time, and are identical to the millisecond.
        twin = {"event": "purchase", "visitor_id": "v-twin", "url": "https://%s/checkout" % SITE, "properties": {"amount": 5}}
        gateway.track([twin, twin])
        wait_for(lambda: len(receiver.snapshot()) == 2)

        def sent_ids():
            return [{k.lower(): v for k, v in headers.items()}["webhook-id"] for _, headers, _ in receiver.snapshot()]
        first = sent_ids()
        assert len(set(first)) == 2, first
        wait_for(lambda: gateway.request("GET", "/api/destinations/" + created["id"])[1]["state"]["backlog_bytes"] == 0)
        gateway.stop()
        gateway.start()
        status, queued = gateway.request("POST", "/api/destinations/%s/replay" % created["id"],
                                         {"from": iso(time.time() - 3600), "to": iso(time.time() + 60)})
        assert (status, queued) == (200, {"replayed_events": 2}), queued
        wait_for(lambda: len(receiver.snapshot()) == 4)
        assert sorted(sent_ids()[2:]) == sorted(first)
    finally:
        gateway.stop()
        receiver.close()


def files_holding(root, text):
    needle = text.encode()
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(os.path.relpath(path, root))
    return found


def pending_erasures(gateway):
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as response:
        lines = [l for l in response.read().decode().splitlines() if l.startswith("clarm_shard_erasures_pending{")]
    return sum(int(float(l.rsplit(" ", 1)[1])) for l in lines)


def test_an_erased_visitor_leaves_the_dead_letters_and_is_not_replayed(data):
    down = {"on": True}

    def answer(*_):
        return (500, {}, b"down") if down["on"] else (200, {}, b"ok")
    receiver = Receiver(answer)
    gateway = Gateway(data, "--allow-private-destinations").start()
    gone, email = "erased-visitor-7d41c9", "erased-7d41c9@mail.example"
    try:
        _, created = gateway.request("POST", "/api/destinations",
                                     {"type": "webhook", "site": SITE, "events": ["purchase"], "url": receiver.url})
        path = "/api/destinations/" + created["id"]
        erased = [{"event": "purchase", "visitor_id": gone, "event_id": "g-%d" % n, "url": "https://%s/checkout" % SITE,
                   "properties": {"email": email, "n": n}} for n in range(2)]
        gateway.track(erased + events(range(2), visitors=2))
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["dead_letters_kept"] == 4)
        assert "dead-letters/%s.log" % created["id"] in files_holding(data, gone)

        status, body = gateway.request("DELETE", "/api/visitors/%s?site=%s" % (gone, SITE))
        assert status == 200, body
        assert gateway.request("GET", path)[1]["state"]["dead_letters_kept"] == 2
        # The store's purge deletes a log once the destination's feed has read past it: other visitors' events
        # carry it on.
        later = itertools.count(100)

        def purged():
            gateway.track(events([next(later)], visitors=2, name="page_view"))
            time.sleep(0.2)
            return pending_erasures(gateway) == 0
        wait_for(purged, seconds=120)
        assert files_holding(data, gone) == [] and files_holding(data, email) == []

        # A restart and a replay of the dead letters, and of the range, send the others alone.
        gateway.stop()
        gateway.start()
        down["on"] = False
        attempts = len(receiver.snapshot())
        assert gateway.request("POST", path + "/replay", {"dead_letters": True}) == \
            (200, {"requeued_messages": 2, "requeued_events": 2})
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["delivered"] == 2)
        status, queued = gateway.request("POST", path + "/replay", {"from": iso(time.time() - 3600), "to": iso(time.time() + 60)})
        assert (status, queued) == (200, {"replayed_events": 2}), queued
        wait_for(lambda: gateway.request("GET", path)[1]["state"]["delivered"] == 4)
        sent = b"".join(body for _, _, body in receiver.snapshot()[attempts:])
        assert gone.encode() not in sent and email.encode() not in sent
        assert files_holding(data, gone) == [] and files_holding(data, email) == []
    finally:
        gateway.stop()
        receiver.close()
