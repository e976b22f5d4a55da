"""Shipping to ClickHouse at the gateway's full ingest rate, and the query set on both engines over the same events
(docs/SCALE.md, "Measured"). Run by Tools/bench/clickhouse-shipping.sh, which builds the release binaries.

1. A clickhouse-server (Debian's 18.16) on loopback ports in a temporary directory, `clarm clickhouse init`.
2. `clarm serve --shards 2 --clickhouse …` takes `clarm-load --batch 20` closed-loop traffic for SECONDS; `/api/cluster`
   is read every 0.5 s: rows shipped, backlog, lag. After the load: the time until ClickHouse has everything.
3. The gateway is restarted with the embedded engine and with `--query-engine clickhouse`, alternately, ROUNDS
   times; each query of the set runs 3 times per start and the median wall time is kept; the answers of the two
   engines are compared.
Usage: python3 Tools/bench/clickhouse-shipping.py BIN_DIR [seconds] [rounds]"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
SITE = "load-1.example.com"

QUERIES = {
    "totals": {"metrics": ["visitors", "pageviews", "events"]},
    "by day": {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
    "top pages": {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "limit": 10},
    "events by name": {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
    "conversions by day": {"metrics": ["conversions", "conversion_rate", "total_revenue"], "dimensions": ["time:day"]},
    "pages of purchases": {"metrics": ["visitors", "events"], "dimensions": ["event:page"], "limit": 10,
                           "filters": [["is", "event:name", ["purchase"]]]},
    "hostnames by week": {"metrics": ["visitors", "events"], "dimensions": ["time:week", "event:hostname"]},
    "visits, bounce, duration": {"metrics": ["visitors", "visits", "bounce_rate", "visit_duration"]},
    "sources": {"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:source"], "limit": 10},
    "entry pages by day": {"metrics": ["visits", "visit_duration"], "dimensions": ["time:day", "visit:entry_page"], "limit": 20},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit("%s %s %s: %d %s" % (method, url, (body or b"").decode(), error.code, error.read().decode()))


def wait_for(url, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            http("GET", url)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit("no answer from " + url)


def start_clickhouse(work):
    http_port, tcp_port = free_port(), free_port()
    directory = os.path.join(work, "clickhouse")
    os.makedirs(directory)
    with open(os.path.join(directory, "config.xml"), "w") as f:
        f.write("""<?xml version="1.0"?><yandex>
<logger><level>error</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>
<listen_host>127.0.0.1</listen_host><http_port>{h}</http_port><tcp_port>{t}</tcp_port>
<path>{d}/data/</path><tmp_path>{d}/data/tmp/</tmp_path><user_files_path>{d}/data/user_files/</user_files_path>
<format_schema_path>{d}/data/format_schemas/</format_schema_path>
<mark_cache_size>268435456</mark_cache_size><uncompressed_cache_size>268435456</uncompressed_cache_size>
<users_config>users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<timezone>UTC</timezone></yandex>""".format(d=directory, h=http_port, t=tcp_port))
    with open(os.path.join(directory, "users.xml"), "w") as f:
        f.write("""<?xml version="1.0"?><yandex><profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>""")
    binary = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
    process = subprocess.Popen([binary, "--config-file=" + os.path.join(directory, "config.xml")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % http_port
    wait_for(url + "/ping")
    return process, url


def serve(data, port, clickhouse, engine):
    arguments = [os.path.join(BIN, "clarm"), "serve", "--port", str(port), "--data", data, "--shards", "2",
                 "--max-event-age", "40", "--clickhouse", clickhouse, "--query-engine", engine,
                 # Visits over all events need more than the default 1 GiB on 18.16 (the server's profile allows 4 GB).
                 "--clickhouse-query-memory", "3G"]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=open(data + ".log", "a"))
    wait_for("http://127.0.0.1:%d/healthz" % port)
    return process


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait()


def cluster(port):
    return json.loads(http("GET", "http://127.0.0.1:%d/api/cluster" % port))


def main():
    work = tempfile.mkdtemp(prefix="clarm-ch-bench-")
    clickhouse, url = start_clickhouse(work)
    try:
        subprocess.run([os.path.join(BIN, "clarm"), "clickhouse", "init", "--clickhouse", url], check=True, stdout=subprocess.DEVNULL)
        data, port = os.path.join(work, "data"), free_port()
        gateway = serve(data, port, url, "embedded")

        def run_load(extra, seed):
            """Runs clarm-load with `extra` while sampling /api/cluster; returns its report, the samples taken
            during it, and the seconds ClickHouse needed after it to hold every event sent so far."""
            samples, done = [], threading.Event()

            def sample():
                while not done.is_set():
                    status = cluster(port)
                    samples.append((time.time(), status["shipped"], status["backlog_bytes"], status["lag_ms"]))
                    time.sleep(0.5)

            before = cluster(port)["shipped"]
            sampler = threading.Thread(target=sample)
            sampler.start()
            load = subprocess.run([os.path.join(BIN, "clarm-load"), "--url", "http://127.0.0.1:%d" % port, "--batch", "20",
                                   "--connections", "64", "--seed", str(seed), "--site", SITE, "--json"] + extra,
                                  check=True, capture_output=True, text=True)
            ended = time.time()
            report = json.loads(load.stdout)
            while True:
                status = cluster(port)
                if status["shipped"] - before >= report["accepted"] and status["backlog_bytes"] == 0:
                    break
                time.sleep(0.1)
            drained = time.time() - ended
            done.set()
            sampler.join()
            return report, [s for s in samples if s[0] <= ended], drained

        report, during, drained = run_load(["--duration", str(SECONDS)], 1)
        shipped_rate = (during[-1][1] - during[0][1]) / (during[-1][0] - during[0][0]) if len(during) > 1 else 0
        print("load: %s" % json.dumps({k: report[k] for k in report if not isinstance(report[k], (dict, list))}))
        print("full rate: %d events accepted in %.1f s (%.0f events/s)" % (report["accepted"], report["seconds"], report["accepted"] / report["seconds"]))
        print("  shipping during the load: %.0f rows/s; lag_ms median %d, max %d; backlog_bytes max %d"
              % (shipped_rate, statistics.median(s[3] for s in during), max(s[3] for s in during), max(s[2] for s in during)))
        print("  after the load: ClickHouse had every event %.2f s later" % drained)
        # A steady rate below what shipping takes: the lag a site sees in normal operation.
        report, during, drained = run_load(["--rate", "250", "--duration", "15"], 2)
        print("steady %.0f events/s for %.0f s: lag_ms median %d, max %d; backlog_bytes max %d; all in ClickHouse %.2f s after the last"
              % (report["accepted"] / report["seconds"], report["seconds"], statistics.median(s[3] for s in during),
                 max(s[3] for s in during), max(s[2] for s in during), drained))
        count = http("POST", url + "/", b"SELECT count() FROM clarm.events FINAL").decode().strip()
        parts = http("POST", url + "/", b"SELECT count(), sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'events'").decode().split()
        print("ClickHouse: %s rows (FINAL), %s active parts, %.1f MB on disk" % (count, parts[0], int(parts[1]) / 1e6))
        for sql in ("SELECT count() FROM clarm.events", "SELECT count() FROM clarm.events FINAL",
                    "SELECT uniqExact(visitor_id) FROM clarm.events FINAL",
                    "SELECT page, uniqExact(visitor_id), count() FROM clarm.events FINAL GROUP BY page ORDER BY 2 DESC LIMIT 10"):
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                http("POST", url + "/", sql.encode())
                runs.append((time.perf_counter() - started) * 1000)
            print("  %s: %.0f ms" % (sql, statistics.median(runs)))
        stop(gateway)

        times = {engine: {name: [] for name in QUERIES} for engine in ("embedded", "clickhouse")}
        answers = {}
        for _ in range(ROUNDS):
            for engine in ("embedded", "clickhouse"):
                gateway = serve(data, port, url, engine)
                for name, spec in QUERIES.items():
                    body = json.dumps(dict(spec, site=SITE, date_range="all")).encode()
                    for _ in range(3):
                        started = time.perf_counter()
                        answer = json.loads(http("POST", "http://127.0.0.1:%d/api/query" % port, body))
                        times[engine][name].append((time.perf_counter() - started) * 1000)
                    answers[(engine, name)] = answer["results"]
                stop(gateway)
        print("\n| query | embedded ms | ClickHouse ms | ClickHouse/embedded | answers agree |")
        print("| --- | --- | --- | --- | --- |")
        for name in QUERIES if ROUNDS else []:
            e, c = statistics.median(times["embedded"][name]), statistics.median(times["clickhouse"][name])
            agree = answers[("embedded", name)] == answers[("clickhouse", name)]
            print("| %s | %.0f | %.0f | %.2f | %s |" % (name, e, c, c / e, "yes" if agree else "NO"))
    finally:
        clickhouse.send_signal(signal.SIGTERM)
        clickhouse.wait()
        shutil.rmtree(work, ignore_errors=True)


main()
