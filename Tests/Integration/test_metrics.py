"""GET /metrics read by the Prometheus client library's own parser, against a real gateway process."""
import json
import pathlib
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLARM = ROOT / ".build" / "debug" / "clarm"
SITE = "shop.example.com"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def gateway():
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen([str(CLARM), "serve", "--port", "0", "--data", data, "--loops", "1", "--shards", "2",
                                    "--api-key", "metrics-key-of-the-test"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = process.stdout.readline().decode()
        assert "listening on" in line, line
        yield "http://127.0.0.1:%s" % line.rsplit(":", 1)[1].strip()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def request(url, body=None, key=None, forwarded_for=None):
    headers = {"Content-Type": "text/plain"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    if key:
        headers["Authorization"] = "Bearer " + key
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def event(user_agent, **fields):
    return dict({"event": "page_view", "visitor_id": "v-1", "url": "https://%s/" % SITE, "user_agent": user_agent}, **fields)


def test_metrics_parse_and_count(gateway):
    batch = [event(BROWSER), event(BROWSER, event_id="e-1"), event(BROWSER, event_id="e-1"), event(CRAWLER),
             {"visitor_id": "v-2"}, {"event": "x", "visitor_id": "v-3", "url": "https://%s/" % SITE, "timestamp": "yesterday"}]
    status, _, body = request(gateway + "/api/track", json.dumps(batch).encode())
    assert status == 202
    assert json.loads(body) == {"accepted": 2, "duplicates": 1, "bots": 1, "rejected": [
        {"index": 4, "error": "event is required"},
        {"index": 5, "error": "timestamp must be an ISO 8601 UTC timestamp such as 2026-11-05T08:19:19.685Z"}]}
    query = json.dumps({"site": SITE, "metrics": ["visitors"], "date_range": "all"}).encode()
    assert request(gateway + "/api/query", query, key="metrics-key-of-the-test")[0] == 200
    assert request(gateway + "/nowhere")[0] == 404

    # A scraper on this machine needs no key; a request through a proxy (X-Forwarded-For) needs one.
    assert request(gateway + "/metrics")[0] == 200
    assert request(gateway + "/metrics", forwarded_for="203.0.113.9")[0] == 401
    status, headers, body = request(gateway + "/metrics", key="metrics-key-of-the-test")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}

    def value(family, sample_name=None, **labels):
        matches = [s.value for s in families[family].samples
                   if (sample_name is None or s.name == sample_name) and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(matches) == 1, (family, labels, families[family].samples)
        return matches[0]

    # prometheus_client names counter families without their _total suffix.
    assert families["clarm_events_accepted"].type == "counter"
    assert value("clarm_events_accepted") == 2
    assert value("clarm_events_duplicates") == 1
    assert value("clarm_events_bots") == 1
    assert value("clarm_events_rejected", reason="missing_field") == 1
    assert value("clarm_events_rejected", reason="bad_timestamp") == 1
    assert value("clarm_http_requests", route="track", code="202") == 1
    assert value("clarm_http_requests", route="query", code="200") == 1
    assert value("clarm_http_requests", route="other", code="404") == 1
    assert value("clarm_http_requests", route="metrics", code="401") == 1

    histogram = families["clarm_query_duration_seconds"]
    assert histogram.type == "histogram"
    assert value("clarm_query_duration_seconds", "clarm_query_duration_seconds_count") == 1
    buckets = [s for s in histogram.samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 1
    assert all(a.value <= b.value for a, b in zip(buckets, buckets[1:]))

    assert value("clarm_queries_running") == 0
    assert value("clarm_query_queue_length") == 0
    assert value("clarm_open_connections") >= 1
    assert sum(s.value for s in families["clarm_shard_memtable_events"].samples) == 2
    assert sum(s.value for s in families["clarm_shard_memtable_bytes"].samples) > 0
    assert len(families["clarm_shard_segments"].samples) == 2
    for name in ["clarm_wal_fsync_seconds", "clarm_wal_group_size", "clarm_seal_seconds", "clarm_compaction_seconds",
                 "clarm_dedup_window_seconds", "clarm_shard_segment_bytes", "clarm_queries_stopped"]:
        assert name in families, name
    # The store records its own work: the posts above were group commits, each fsynced.
    assert value("clarm_wal_fsync_seconds", "clarm_wal_fsync_seconds_count") >= 1
    assert value("clarm_wal_group_size", "clarm_wal_group_size_count") >= 1
