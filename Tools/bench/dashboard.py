#!/usr/bin/env python3
"""The dashboard's Analytics view in headless Chromium over a running gateway, from navigation to its last
answer, against one DuckDB count(*) of the same events (the NDJSON loaded as queries.py loads it) in the same run.

Every fetch of the page is timed by a wrapper installed before the page's own script runs; the view's time is the
end of the last answer body it read (the five-minute "live" count, which repeats every 5 s, is left out).

Usage: dashboard.py EVENTS.ndjson --url http://127.0.0.1:18093 [--from 2026-10-01] [--to 2026-10-31] [--repeat 3]
"""
import argparse
import pathlib
import sys
import time

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "Browser"))
from conftest import chromium, wait_for  # noqa: E402
from queries import SITE, load  # noqa: E402

RECORDER = """
window.__answers = []; window.__pending = 0;
const original = window.fetch;
window.fetch = function (path, init) {
  const started = performance.now(), body = (init && init.body) || '';
  window.__pending += 1;
  return original.apply(this, arguments).then(function (response) {
    response.clone().text().then(function () {
      window.__answers.push({ path: String(path), live: body.indexOf('"filters"') < 0, started: started, ended: performance.now() });
      window.__pending -= 1;
    });
    return response;
  }, function (error) { window.__pending -= 1; throw error; });
};
"""


def view_time(driver, url, quiet=1.5):
    """Loads `url` and returns (ms from navigation to the last answer, answers) once nothing is pending for `quiet` s."""
    driver.get("about:blank")
    driver.get(url)
    settled = [None]

    def done():
        pending, answers = driver.execute_script("return [window.__pending, window.__answers.filter(a => !a.live).length]")
        if pending or not answers:
            settled[0] = None
            return False
        settled[0] = settled[0] or time.monotonic()
        return time.monotonic() - settled[0] >= quiet

    wait_for(done, timeout=600, what="the view's answers")
    answers = driver.execute_script("return window.__answers.filter(a => !a.live)")
    return max(a["ended"] for a in answers), len(answers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("events")
    parser.add_argument("--url", default="http://127.0.0.1:18093")
    parser.add_argument("--from", dest="start", default="2026-10-01")
    parser.add_argument("--to", dest="last", default="2026-10-31", help="the range's last day, included")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute("SET threads TO %d" % args.threads)
    load(con, args.events)
    count_sql = ("SELECT count(*) FROM events WHERE site = '%s' AND ts >= TIMESTAMP '%s' AND ts < TIMESTAMP '%s' + INTERVAL 1 DAY"
                 % (SITE, args.start, args.last))
    counts = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        (events,) = con.execute(count_sql).fetchone()
        counts.append((time.perf_counter() - t) * 1000)

    driver = chromium()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    url = "%s/#/analytics?site=%s&range=custom&from=%s&to=%s" % (args.url, SITE, args.start, args.last)
    views = []
    try:
        for _ in range(args.repeat):
            views.append(view_time(driver, url))
    finally:
        driver.quit()
    best_view = min(ms for ms, _ in views)
    print("%d events of %s from %s to %s (last day included)" % (events, SITE, args.start, args.last))
    print("Analytics view, navigation to last answer: %s ms (%d answers); best %.0f ms" % (
        ", ".join("%.0f" % ms for ms, _ in views), views[0][1], best_view))
    print("DuckDB count(*): %s ms; best %.1f ms" % (", ".join("%.1f" % ms for ms in counts), min(counts)))
    print("view / count(*): %.1f" % (best_view / min(counts)))


if __name__ == "__main__":
    main()
