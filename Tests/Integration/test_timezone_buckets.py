"""Time buckets and date ranges of a real gateway against Python's zoneinfo (an independent reading of the tz
database), on the days around 2026's DST changes in both hemispheres and in a +05:30 zone."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLARM = ROOT / ".build" / "debug" / "clarm"
SITE = "zones.example.com"
ZONES = ["Europe/Berlin", "America/Los_Angeles", "Australia/Sydney", "Asia/Kolkata", "UTC"]
# Two days either side of each change: Los Angeles March 8 and November 1, Berlin March 29 and October 25,
# Sydney April 5 and October 4 (southern hemisphere: DST ends in April), and the month ends between.
WINDOWS = [("2026-03-06", "2026-03-10"), ("2026-03-27", "2026-04-07"), ("2026-10-02", "2026-10-06"),
           ("2026-10-23", "2026-11-03")]
STEP = timedelta(minutes=17)


def instants():
    for start, end in WINDOWS:
        t = datetime.fromisoformat(start + "T00:00:00+00:00")
        while t < datetime.fromisoformat(end + "T00:00:00+00:00"):
            yield t
            t += STEP


@pytest.fixture(scope="module")
def gateway():
    work = tempfile.mkdtemp(prefix="clarm-zones-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([str(CLARM), "serve", "--port", str(port), "--data", os.path.join(work, "data"), "--loops", "1",
                                "--max-event-age", "3650"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert b"listening on" in process.stdout.readline()
        events = [{"event": "page_view", "visitor_id": "v%d" % (i % 41), "session_id": "s%d" % i, "site": SITE,
                   "timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": "https://%s/" % SITE} for i, t in enumerate(instants())]
        for begin in range(0, len(events), 500):
            assert post(port, "/api/track", events[begin:begin + 500])["accepted"] == len(events[begin:begin + 500])
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        subprocess.run(["rm", "-rf", work])


def post(port, path, body):
    # A browser's user agent: Python's own is on the crawler list, and the gateway drops crawlers' events.
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(), method="POST",
                                     headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def label(t, zone, bucket):
    local = t.astimezone(ZoneInfo(zone))
    if bucket == "hour":
        return local.replace(minute=0, second=0).isoformat().replace("+00:00", "Z")
    if bucket == "day":
        return local.date().isoformat()
    if bucket == "week":
        return (local.date() - timedelta(days=local.weekday())).isoformat()
    return local.strftime("%Y-%m")


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_buckets_match_zoneinfo(gateway, zone, bucket):
    expected = {}
    for t in instants():
        key = label(t, zone, bucket)
        expected[key] = expected.get(key, 0) + 1
    answer = post(gateway, "/api/query", {"site": SITE, "timezone": zone, "date_range": "all", "metrics": ["events"],
                                          "dimensions": ["time:" + bucket], "limit": 10000})
    assert answer["query"]["timezone"] == zone
    actual = {row["dimensions"][0]: row["metrics"][0] for row in answer["results"]}
    assert actual == expected
    # Rows come in time order, the repeated hour of a fall-back included.
    order = [row["dimensions"][0] for row in answer["results"]]
    if bucket == "hour":
        starts = [datetime.fromisoformat(text.replace("Z", "+00:00")) for text in order]
        assert starts == sorted(starts)
    else:
        assert order == sorted(order)


@pytest.mark.parametrize("zone, day, hours", [("Europe/Berlin", "2026-10-25", 25), ("Europe/Berlin", "2026-03-29", 23),
                                              ("Australia/Sydney", "2026-04-05", 25), ("Australia/Sydney", "2026-10-04", 23),
                                              ("America/Los_Angeles", "2026-11-01", 25), ("Asia/Kolkata", "2026-10-25", 24)])
def test_a_date_range_is_the_local_day(gateway, zone, day, hours):
    local_day = datetime.fromisoformat(day).date()
    next_day = (local_day + timedelta(days=1)).isoformat()
    wanted = [t for t in instants() if t.astimezone(ZoneInfo(zone)).date() == local_day]
    answer = post(gateway, "/api/query", {"site": SITE, "timezone": zone, "date_range": [day, next_day],
                                          "metrics": ["events", "visitors"], "dimensions": ["time:hour"]})
    assert len(answer["results"]) == hours
    assert sum(row["metrics"][0] for row in answer["results"]) == len(wanted)
    midnight = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    assert answer["query"]["date_range"][0] == midnight.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # The list routes read the same range in the same zone.
    query = urllib.parse.urlencode({"site": SITE, "date_range": day + "," + next_day, "timezone": zone, "limit": 1000})
    with urllib.request.urlopen("http://127.0.0.1:%d/api/visitors?%s" % (gateway, query), timeout=30) as response:
        listed = json.load(response)["meta"]["total"]
    assert listed == len({i % 41 for i, t in enumerate(instants()) if t.astimezone(ZoneInfo(zone)).date() == local_day})


def test_an_unknown_zone_is_refused(gateway):
    for zone in ["Mars/Olympus", "../../etc/passwd", "right/UTC"]:
        request = urllib.request.Request("http://127.0.0.1:%d/api/query" % gateway, method="POST",
                                         data=json.dumps({"site": SITE, "timezone": zone, "metrics": ["events"]}).encode())
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=10)
        assert failure.value.code == 400
        assert json.load(failure.value)["error"].startswith("timezone: ")
