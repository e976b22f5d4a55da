"""ClickHouse (chDB, in-process) as the second anchor of Tools/bench/queries.py: the events of the DuckDB table,
copied through Parquet into a MergeTree ordered by site, day, visitor, time (as Plausible orders its events),
and each dashboard query as a ClickHouse user writes it: exact distinct counts with uniqExact, visits as
(visitor, session) groups (every generated event carries a session id), a visit's first event by argMin.
Rates and means are rounded here, half away from zero, as Clarm rounds them."""
import math
import os
import tempfile
import time
import sys

import chdb
from chdb import session as chs


def one_decimal(value):
    return math.copysign(math.floor(abs(value) * 10 + 0.5) / 10, value)


class ClickHouse:
    def __init__(self, duck, threads):
        started = time.perf_counter()
        self.path = tempfile.mkdtemp(prefix="clarm-chdb-")
        self.session = chs.Session(self.path)
        self.threads = threads
        parquet = os.path.join(self.path, "events.parquet")
        duck.execute("COPY (SELECT seq, event, visitor_id, session_id, ts, site, path, source, country FROM events) TO '%s' (FORMAT parquet)" % parquet)
        self.session.query("CREATE DATABASE IF NOT EXISTS bench")
        self.session.query("""
            CREATE TABLE bench.events (site LowCardinality(String), day Date, visitor_id String, ts DateTime64(3, 'UTC'),
                                       seq UInt64, session_id String, event LowCardinality(String), path String,
                                       source LowCardinality(String), country LowCardinality(String))
            ENGINE = MergeTree ORDER BY (site, day, visitor_id, ts)""")
        self.session.query("""
            INSERT INTO bench.events SELECT site, toDate(ts), visitor_id, ts, seq, session_id, event, path, source, country
            FROM file('%s', Parquet)""" % parquet)
        self.session.query("OPTIMIZE TABLE bench.events FINAL")
        os.remove(parquet)
        count = self.session.query("SELECT count() FROM bench.events", "CSV").bytes().decode().strip()
        print("loaded %s events into ClickHouse (chDB %s) in %.1f s" % (count, chdb.__version__, time.perf_counter() - started),
              file=sys.stderr)

    def rows(self, sql):
        result = self.session.query(sql + " SETTINGS max_threads = %d" % self.threads, "TabSeparated").bytes().decode()
        return [line.split("\t") for line in result.splitlines() if line]

    def run(self, spec, site, start, end):
        """The answer as (rows, metric names), rows as dimension values then metric values."""
        where = "site = '%s' AND ts >= toDateTime64('%s', 3, 'UTC') AND ts < toDateTime64('%s', 3, 'UTC')" % (site, start, end)
        for op, dim, values in spec.get("filters", []):
            assert op == "is" and dim == "event:name"
            where += " AND event IN (%s)" % ",".join("'%s'" % v for v in values)
        dims = spec["dimensions"]
        metrics = spec["metrics"]
        event_dims = {"time:day": "toString(toDate(ts))", "event:page": "path"}
        visit_dims = {"visit:source": "argMin(source, (ts, seq))", "visit:entry_page": "argMin(path, (ts, seq))",
                      "visit:country": "argMin(country, (ts, seq))"}
        if any(d in visit_dims for d in dims) or any(m in ("bounce_rate", "visit_duration") for m in metrics):
            # Per visit, then per group of visits.
            keys = [visit_dims[d] if d in visit_dims else event_dims[d] for d in dims]
            per_visit = """SELECT visitor_id, session_id, {keys} count() AS n, min(event = 'page_view') AS only_pv,
                                  toUnixTimestamp64Milli(max(ts)) - toUnixTimestamp64Milli(min(ts)) AS span,
                                  countIf(event = 'page_view') AS pageviews, countIf(event IN ('purchase', 'goal_achieved')) AS conversions
                           FROM bench.events WHERE {where} GROUP BY visitor_id, session_id {event_keys}""".format(
                keys="".join("%s AS d%d, " % (k, i) for i, k in enumerate(keys)), where=where,
                event_keys="".join(", d%d" % i for i, d in enumerate(dims) if d in event_dims))
            columns = {"visitors": "uniqExact(visitor_id)", "visits": "count()", "pageviews": "sum(pageviews)",
                       "events": "sum(n)", "conversions": "sum(conversions)",
                       "bounce_rate": "100 * countIf(n = 1 AND only_pv) / count()", "visit_duration": "avg(span) / 1000"}
            sql = "SELECT {dims} {metrics} FROM ({per_visit}) {group}".format(
                dims="".join("d%d, " % i for i in range(len(dims))), metrics=", ".join(columns[m] for m in metrics),
                per_visit=per_visit, group=("GROUP BY " + ", ".join("d%d" % i for i in range(len(dims)))) if dims else "")
        else:
            columns = {"visitors": "uniqExact(visitor_id)", "pageviews": "countIf(event = 'page_view')", "events": "count()",
                       "conversions": "countIf(event IN ('purchase', 'goal_achieved'))"}
            sql = "SELECT {dims} {metrics} FROM bench.events WHERE {where} {group}".format(
                dims="".join("%s AS d%d, " % (event_dims[d], i) for i, d in enumerate(dims)),
                metrics=", ".join(columns[m] for m in metrics), where=where,
                group=("GROUP BY " + ", ".join("d%d" % i for i in range(len(dims)))) if dims else "")
        rows = []
        for row in self.rows(sql):
            values = [float(v) for v in row[len(dims):]]
            values = [one_decimal(v) if m in ("bounce_rate", "visit_duration") else v for m, v in zip(metrics, values)]
            rows.append(tuple(row[:len(dims)]) + tuple(values))
        return rows, metrics
