"""Cross-checks visit:source and visit:channel of a real gateway against the Python `referer_parser` package,
the list's own library: every key of the vendored list, with `www.` and another subdomain before it, and a few
hosts the list does not know, are sent as referrers, one visitor each; the gateway's source must be the
library's name for the referrer (else the host without `www.`) and its channel must follow the library's medium.
Skipped when the package is not installed (Tools/setup.sh --browser installs it)."""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime, timezone

import pytest

referer_parser = pytest.importorskip("referer_parser")

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "Browser"))
from conftest import Gateway  # noqa: E402

SITE = "crosscheck.example.com"
CHANNEL_OF_MEDIUM = {"search": "Organic Search", "social": "Organic Social", "email": "Email"}


def referrers():
    """Referrer URLs built from every key of the vendored list, in the forms a browser sends."""
    vendored = json.loads((ROOT / "Sources/ClarmQuery/Assets/referers.json").read_text())
    additions = json.loads((ROOT / "Sources/ClarmQuery/Assets/referers-clarm.json").read_text())
    replaced = {d for names in additions.values() for entry in names.values() for d in entry["domains"]}
    urls = set()
    for names in vendored.values():
        for entry in names.values():
            for key in entry["domains"]:
                # Keys with capitals can never match the library's lowercased hosts; Clarm's additions differ on purpose.
                if key != key.lower() or key in replaced:
                    continue
                host, _, path = key.partition("/")
                for prefix in ("", "www.", "m.") if not host.startswith("www.") else ("",):
                    urls.add("https://%s%s/%s" % (prefix, host, path))
    urls.update(["https://someblog.example.net/post/1", "https://www.unknown-shop.example.org/", "https://news.example.co.uk/a"])
    return sorted(urls)


def post(gateway, path, body):
    # A browser's user agent: Python's own is on the crawler list, and the gateway drops crawlers' events.
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (gateway.port, path), data=json.dumps(body).encode(), method="POST",
                                     headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_sources_and_channels_follow_referer_parser():
    work = tempfile.mkdtemp(prefix="clarm-referrers-")
    gateway = Gateway(os.path.join(work, "data"))
    gateway.start()
    try:
        urls = referrers()
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        events = [{"event": "page_view", "visitor_id": "v%d" % i, "session_id": "s%d" % i, "site": SITE, "timestamp": now,
                   "url": "https://%s/" % SITE, "referrer": url} for i, url in enumerate(urls)]
        for start in range(0, len(events), 1000):
            assert post(gateway, "/api/track", events[start:start + 1000])["accepted"] == len(events[start:start + 1000])
        answer = post(gateway, "/api/query", {"site": SITE, "date_range": "day", "metrics": ["visitors"], "limit": 10000,
                                              "dimensions": ["visit:referrer", "visit:source", "visit:channel"]})
        got = {row["dimensions"][0]: (row["dimensions"][1], row["dimensions"][2]) for row in answer["results"]}
        assert len(got) == len(urls)
        mismatches = []
        for url in urls:
            parsed = referer_parser.Referer(url, "https://%s/" % SITE)
            host = urllib.parse.urlsplit(url).hostname
            expected = (parsed.referer or (host[4:] if host.startswith("www.") else host), CHANNEL_OF_MEDIUM.get(parsed.medium, "Referral"))
            if got[url] != expected:
                mismatches.append((url, got[url], expected))
        assert not mismatches, "%d of %d differ, such as %s" % (len(mismatches), len(urls), mismatches[:5])
    finally:
        gateway.stop()
        subprocess.run(["rm", "-rf", work])
