#!/usr/bin/env python3
"""Runs the same aggregate queries on Clarm (POST /api/query), on DuckDB (NDJSON loaded into a table) and on
ClickHouse (chDB in-process, a MergeTree ordered by site, day, visitor, time) over the same events, checks
that the answers agree, and prints the times and Clarm's ratio to each.

Usage: queries.py EVENTS.ndjson --url http://127.0.0.1:18093 [--repeat 3] [--threads 2] [--no-clickhouse]
"""
import argparse
import http.client
import json
import pathlib
import sys
import time
from urllib.parse import urlparse, urlsplit

import duckdb

import clickhouse

SITE = "shop.example.com"
ROOT = pathlib.Path(__file__).resolve().parents[2]

# The events a query sees, with visits as docs/QUERIES.md defines them (session id, else 30-minute gaps).
BASE = """
WITH base AS (
  SELECT * FROM events WHERE site = '{site}' AND ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}'),
gaps AS (
  SELECT *, CASE WHEN session_id <> '' THEN 0
                 WHEN ts - lag(ts) OVER (PARTITION BY visitor_id, session_id = '' ORDER BY ts, seq) <= INTERVAL 30 MINUTE THEN 0
                 ELSE 1 END AS new_anonymous
  FROM base),
keyed AS (
  SELECT *, CASE WHEN session_id <> '' THEN 's:' || session_id
                 ELSE 'a:' || sum(new_anonymous) OVER (PARTITION BY visitor_id, session_id = '' ORDER BY ts, seq) END AS visit
  FROM gaps),
firsts AS (
  SELECT visitor_id, visit, arg_min(path, ts) AS entry_page, arg_min(source, ts) AS visit_source,
         arg_min(country, (ts, seq)) AS visit_country FROM keyed GROUP BY ALL),
ev AS (SELECT k.*, f.entry_page, f.visit_source, f.visit_country FROM keyed k JOIN firsts f USING (visitor_id, visit))
"""

METRICS_SQL = {
    "visitors": "count(DISTINCT visitor_id)",
    "visits": "count(DISTINCT (visitor_id, visit))",
    "pageviews": "count(*) FILTER (WHERE event = 'page_view')",
    "events": "count(*)",
    "conversions": "count(*) FILTER (WHERE event IN ('purchase', 'goal_achieved'))",
}

QUERIES = [
    ("all metrics, 30 days", {"metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration", "conversions"],
                              "dimensions": []}),
    ("visitors and pageviews by day", {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]}),
    ("top pages", {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}),
    ("sources with conversions", {"metrics": ["visitors", "visits", "conversions"], "dimensions": ["visit:source"]}),
    ("entry pages, bounce and duration", {"metrics": ["visits", "bounce_rate", "visit_duration"], "dimensions": ["visit:entry_page"]}),
    ("purchases by day", {"metrics": ["visitors", "events"], "dimensions": ["time:day"],
                          "filters": [["is", "event:name", ["purchase"]]]}),
    ("countries with conversions", {"metrics": ["visitors", "visits", "conversions"], "dimensions": ["visit:country"]}),
]

# Funnels (POST /api/funnel, docs/QUERIES.md "Funnels"): each step one event; DuckDB finds each visitor's greedy
# chain as the definition states it (entry at the first match of step 1, each next step the first later match
# within the window of the entry).
FUNNELS = [
    ("funnel pricing → widget message → purchase, 7 days",
     {"window": "7d", "steps": [{"filters": [["is", "event:page", ["/pricing"]]]},
                                {"filters": [["is", "event:name", ["widget_message"]]]},
                                {"filters": [["is", "event:name", ["purchase"]]]}]}),
]


def sql_for(query, start, end):
    dims = query["dimensions"]
    dim_sql = {"time:day": "strftime(ts, '%Y-%m-%d')", "event:page": "path", "visit:source": "visit_source",
               "visit:entry_page": "entry_page", "visit:country": "visit_country"}
    where = []
    for op, dim, values in query.get("filters", []):
        assert op == "is" and dim == "event:name"
        where.append("event IN (%s)" % ",".join("'%s'" % v for v in values))
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    group_cols = [dim_sql[d] for d in dims]
    group_sql = ", ".join(group_cols)
    select_dims = ", ".join("%s AS d%d" % (c, i) for i, c in enumerate(group_cols))
    needs_visit = any(m in ("bounce_rate", "visit_duration") for m in query["metrics"])
    if needs_visit:
        # Per (group, visit): its event count, whether that was one page view, its span; then per group.
        inner_keys = ", ".join(["visitor_id", "visit"] + group_cols)
        sql = BASE + """, filtered AS (SELECT * FROM ev {where}),
        per_visit AS (SELECT {dims_sel}{comma} count(*) AS n, bool_and(event = 'page_view') AS only_pv,
                      epoch_ms(max(ts)) - epoch_ms(min(ts)) AS span FROM filtered GROUP BY {inner_keys})
        SELECT {dims_out}{comma} count(*) AS visits,
               round(100.0 * count(*) FILTER (WHERE n = 1 AND only_pv) / count(*), 1) AS bounce_rate,
               round(avg(span) / 1000.0, 1) AS visit_duration
        FROM per_visit {group_by}""".format(
            where=where_sql, dims_sel=", ".join("%s AS d%d" % (c, i) for i, c in enumerate(group_cols)),
            comma="," if dims else "", inner_keys=inner_keys, dims_out=", ".join("d%d" % i for i in range(len(dims))),
            group_by=("GROUP BY " + ", ".join("d%d" % i for i in range(len(dims)))) if dims else "")
        columns = ["visits", "bounce_rate", "visit_duration"]
        sql_other = None
        simple = [m for m in query["metrics"] if m in METRICS_SQL]
        if simple:
            sql_other = BASE + "SELECT {dims}{comma} {metrics} FROM ev {where} {group_by}".format(
                dims=select_dims, comma="," if dims else "", metrics=", ".join(METRICS_SQL[m] for m in simple), where=where_sql,
                group_by=("GROUP BY " + group_sql) if dims else "")
        return [(sql.format(site=SITE, start=start, end=end), columns),
                ((sql_other or "").format(site=SITE, start=start, end=end), simple)]
    metrics = [m for m in query["metrics"]]
    if "visits" not in metrics and not any(d.startswith("visit:") for d in dims):
        # Nothing about visits: the plain table, with no window functions for DuckDB to evaluate.
        sql = """SELECT {dims}{comma} {metrics} FROM events
                 WHERE site = '{site}' AND ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}' {where} {group_by}""".format(
            dims=select_dims, comma="," if dims else "", metrics=", ".join(METRICS_SQL[m] for m in metrics),
            site=SITE, start=start, end=end, where=where_sql.replace("WHERE", "AND"),
            group_by=("GROUP BY " + group_sql) if dims else "")
        return [(sql, metrics)]
    sql = BASE + "SELECT {dims}{comma} {metrics} FROM ev {where} {group_by}".format(
        dims=select_dims, comma="," if dims else "", metrics=", ".join(METRICS_SQL[m] for m in metrics), where=where_sql,
        group_by=("GROUP BY " + group_sql) if dims else "")
    return [(sql.format(site=SITE, start=start, end=end), metrics)]


def load(con, path):
    con.execute("""
        CREATE TABLE events AS
        SELECT row_number() OVER () AS seq, event, visitor_id, coalesce(session_id, '') AS session_id,
               CAST(timestamp AS TIMESTAMP) AS ts, site,
               regexp_extract(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)', 1) AS path,
               url, coalesce(referrer, '') AS referrer, coalesce(country, '') AS country,
               coalesce(nullif(regexp_extract(url, '[?&]utm_source=([^&#]*)', 1), ''),
                        CASE WHEN coalesce(referrer, '') = '' OR lower(regexp_extract(referrer, '://([^/:?#]*)', 1)) = lower(regexp_extract(url, '://([^/:?#]*)', 1))
                             THEN 'Direct / None'
                             ELSE regexp_replace(lower(regexp_extract(referrer, '://([^/:?#]*)', 1)), '^www\\.', '') END) AS source
        FROM read_json('%s', format = 'newline_delimited', columns = {
            'event': 'VARCHAR', 'visitor_id': 'VARCHAR', 'session_id': 'VARCHAR', 'timestamp': 'VARCHAR',
            'url': 'VARCHAR', 'referrer': 'VARCHAR', 'site': 'VARCHAR', 'country': 'VARCHAR'})""" % path)
    # Referrers the list knows are named by it rather than by their host.
    keys = referrer_keys()
    named = [(r, name) for (r,) in con.execute("SELECT DISTINCT referrer FROM events WHERE referrer <> ''").fetchall()
             for name in [listed_name(keys, r)] if name]
    con.execute("CREATE TABLE referrer_names (referrer VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO referrer_names VALUES (?, ?)", named)
    con.execute("""
        UPDATE events SET source = n.name FROM referrer_names n
        WHERE events.referrer = n.referrer AND source <> 'Direct / None'
          AND nullif(regexp_extract(url, '[?&]utm_source=([^&#]*)', 1), '') IS NULL""")


def referrer_keys():
    """The referrer list as docs/QUERIES.md ("Referrer list and channels") reads it: lowercased key → name."""
    keys = {}
    for file in ("referers.json", "referers-clarm.json"):
        for names in json.loads((ROOT / "Sources/ClarmQuery/Assets" / file).read_text()).values():
            for name, entry in names.items():
                keys.update((key.lower(), name) for key in entry["domains"])
    return keys


def listed_name(keys, referrer):
    """The list's name for a referrer: host and parent domains with the path, then with its first segment, then alone."""
    parts = urlsplit(referrer)
    labels = (parts.hostname or "").split(".")
    domains = [".".join(labels[i:]) for i in range(len(labels)) if labels[i:] != [""]]
    segments = parts.path.split("/")
    for domain in domains:
        for key in ([domain + parts.path] if parts.path else []) + ([domain + "/" + segments[1]] if len(segments) > 1 else []):
            if key in keys:
                return keys[key]
    return next((keys[d] for d in domains if d in keys), None)


def funnel_sql(spec, start, end):
    """Visitors reaching each step, by the funnel's definition, in one pass of joins over the range's events."""
    def condition(step):
        column = {"event:page": "path", "event:name": "event"}
        return " AND ".join("%s IN (%s)" % (column[dim], ",".join("'%s'" % v for v in values))
                            for op, dim, values in step["filters"] if op == "is")
    window = int(spec["window"][:-1]) * {"m": 60, "h": 3600, "d": 86400}[spec["window"][-1]] * 1000
    sql = """WITH ordered AS (
      SELECT visitor_id, epoch_ms(ts) AS ms, row_number() OVER (PARTITION BY visitor_id ORDER BY ts, seq) AS pos, event, path
      FROM events WHERE site = '{site}' AND ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}'),
    s1 AS (SELECT visitor_id, min(pos) AS pos, arg_min(ms, pos) AS entry FROM ordered WHERE {c0} GROUP BY visitor_id)""".format(
        site=SITE, start=start, end=end, c0=condition(spec["steps"][0]))
    for i, step in enumerate(spec["steps"][1:], start=2):
        sql += """,
    s{i} AS (SELECT o.visitor_id, min(o.pos) AS pos, any_value(p.entry) AS entry FROM ordered o JOIN s{p} p USING (visitor_id)
             WHERE o.pos > p.pos AND o.ms - p.entry <= {window} AND {c} GROUP BY o.visitor_id)""".format(
            i=i, p=i - 1, window=window, c=condition(step))
    return sql + "\nSELECT " + ", ".join("(SELECT count(*) FROM s%d)" % i for i in range(1, len(spec["steps"]) + 1))


def clarm(url, query, path="/api/query"):
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port)
    body = json.dumps(query)
    started = time.perf_counter()
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if response.status != 200:
        sys.exit("clarm answered %d: %s" % (response.status, answer))
    return elapsed, answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("events")
    parser.add_argument("--url", default="http://127.0.0.1:18093")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="threads for DuckDB and ClickHouse (Clarm's --loops)")
    parser.add_argument("--no-clickhouse", action="store_true")
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute("SET threads TO %d" % args.threads)
    started = time.perf_counter()
    load(con, args.events)
    count, first, last = con.execute("SELECT count(*), min(ts), max(ts) FROM events").fetchone()
    print("loaded %d events into DuckDB %s in %.1f s (%s … %s)" % (count, duckdb.__version__, time.perf_counter() - started, first, last),
          file=sys.stderr)
    house = None if args.no_clickhouse else clickhouse.ClickHouse(con, args.threads)
    start = "2026-10-01 00:00:00"
    end = "2026-11-01 00:00:00"
    print("| query | clarm ms | DuckDB ms | ClickHouse ms | clarm/DuckDB | clarm/ClickHouse | answers agree |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, spec in QUERIES:
        query = dict(spec, site=SITE, date_range=["2026-10-01", "2026-11-01"], limit=10000)
        clarm_times, duck_times, house_times = [], [], []
        for _ in range(args.repeat):
            elapsed, answer = clarm(args.url, query)
            clarm_times.append(elapsed)
            duck_answers = []
            t = time.perf_counter()
            for sql, columns in sql_for(spec, start, end):
                if sql:
                    duck_answers.append((con.execute(sql).fetchall(), columns))
            duck_times.append(time.perf_counter() - t)
            if house:
                t = time.perf_counter()
                house_answer = house.run(spec, SITE, start, end)
                house_times.append(time.perf_counter() - t)
        agree = [compare(spec, answer, duck_answers)]
        if house:
            agree.append("ClickHouse " + compare(spec, answer, [house_answer]))
        best_clarm, best_duck = min(clarm_times) * 1000, min(duck_times) * 1000
        best_house = min(house_times) * 1000 if house else float("nan")
        print("| %s | %.1f | %.1f | %.1f | %.2f | %.2f | %s |" % (
            name, best_clarm, best_duck, best_house, best_clarm / best_duck, best_clarm / best_house, "; ".join(agree)))
        sys.stdout.flush()
    for name, spec in FUNNELS:
        query = dict(spec, site=SITE, date_range=["2026-10-01", "2026-11-01"])
        clarm_times, duck_times = [], []
        for _ in range(args.repeat):
            elapsed, answer = clarm(args.url, query, "/api/funnel")
            clarm_times.append(elapsed)
            t = time.perf_counter()
            expected = con.execute(funnel_sql(spec, start, end)).fetchone()
            duck_times.append(time.perf_counter() - t)
        got = tuple(step["visitors"] for step in answer["steps"])
        agree = "yes" if got == tuple(expected) else "no: Clarm %s, DuckDB %s" % (got, tuple(expected))
        best_clarm, best_duck = min(clarm_times) * 1000, min(duck_times) * 1000
        # chDB's windowFunnel counts a different chain (any order of equal times, no entry at the first match).
        print("| %s | %.1f | %.1f | n/a | %.2f | n/a | %s (steps %s) |" % (name, best_clarm, best_duck, best_clarm / best_duck, agree, got))
        sys.stdout.flush()


def compare(spec, answer, duck_answers):
    dims = len(spec["dimensions"])
    clarm_rows = {tuple(r["dimensions"]): dict(zip(spec["metrics"], r["metrics"])) for r in answer["results"]}
    for rows, columns in duck_answers:
        for row in rows:
            key = tuple(str(v) for v in row[:dims])
            values = row[dims:]
            got = clarm_rows.get(key)
            if got is None:
                return "no: missing group %s" % (key,)
            for column, value in zip(columns, values):
                if abs(float(got[column]) - float(value)) > 1e-6:
                    return "no: %s of %s is %s, DuckDB says %s" % (column, key, got[column], value)
        if len(rows) != len(clarm_rows):
            return "no: %d groups, DuckDB has %d" % (len(clarm_rows), len(rows))
    return "yes"


if __name__ == "__main__":
    main()
