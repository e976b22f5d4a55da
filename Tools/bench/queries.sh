#!/usr/bin/env bash
# Query times: Clarm's POST /api/query against DuckDB and ClickHouse (chDB) answering the same questions over the same events.
# With CLARM_BENCH_DASHBOARD=1, then the dashboard's Analytics view in Chromium over October against one DuckDB
# count(*) of those events (Tools/bench/dashboard.py). With CLARM_BENCH_GEO=1 the events carry client addresses and
# are posted over HTTP to a gateway with --geoip, so the country query measures real countries (slower to load);
# otherwise they are imported (`clarm import`) and every event's country is empty on all sides.
# Usage: Tools/bench/queries.sh [events]
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-1000000}
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb
python3 -c 'import chdb' 2>/dev/null || pip install -q chdb==4.4.0
if [ "${CLARM_BENCH_DASHBOARD:-}" = 1 ]; then Tools/setup.sh --browser; else Tools/setup.sh; fi
swift build -c release --product clarm >/dev/null

# CLARM_BENCH_DIR keeps the generated events and the loaded store for the next run with the same size; events
# put there beforehand with a generated-N marker (the first N lines of a larger run) are used as they are.
work=${CLARM_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
pid=
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; [ -n "${CLARM_BENCH_DIR:-}" ] || rm -rf "$work"' EXIT
if [ ! -f "$work/loaded-$events" ]; then
  rm -rf "$work/data" "$work"/loaded-*
  geo=; [ "${CLARM_BENCH_GEO:-}" = 1 ] && geo=--geo
  if [ ! -f "$work/generated-$events$geo" ]; then
    rm -f "$work"/generated-*
    python3 Tools/bench/events.py --events "$events" --seed 7 --days 31 $geo > "$work/events.ndjson"
    touch "$work/generated-$events$geo"
  fi
  SECONDS=0
  if [ -z "$geo" ]; then
    # Stored as POST /api/track would store them, without HTTP; the events are dated from 2026-10-01, so any age is taken.
    .build/release/clarm import "$work/events.ndjson" --data "$work/data" --shards 2 --max-event-age 36500
  else
    # Countries: the events' client addresses, sent as X-Forwarded-For, are located in a database of the networks
    # events.py draws them from (written by the tests' Perl writer); many clients share an address, so no rate
    # limit. Through HTTP, since an import has no client addresses.
    rm -f "$work"/part-*
    split -n l/2 "$work/events.ndjson" "$work/part-"
    perl Tests/GeoIP/make-mmdb.pl Tools/bench/geoip-networks.json "$work/geoip.mmdb"
    .build/release/clarm serve --port 18093 --data "$work/data" --shards 2 --loops 2 --durability os --max-event-age 36500 \
      --geoip "$work/geoip.mmdb" --rate-limit-per-ip 0 >/dev/null 2>&1 & pid=$!
    sleep 1
    posters=()
    for part in "$work"/part-*; do
      python3 Tools/bench/post.py "$part" --url http://127.0.0.1:18093/api/track --batch 1000 --forwarded-for >/dev/null & posters+=($!)
    done
    wait "${posters[@]}"
    kill -TERM $pid; wait $pid   # a clean stop seals everything into segments
  fi
  echo "loaded in $SECONDS s"
  touch "$work/loaded-$events"
fi
.build/release/clarm serve --port 18093 --data "$work/data" --loops 2 >/dev/null 2>&1 & pid=$!
sleep 1
idle=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
python3 Tools/bench/queries.py "$work/events.ndjson" --url http://127.0.0.1:18093
peak=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
echo "server RSS: idle $((idle / 1024)) MiB, peak (VmHWM) $((peak / 1024)) MiB after the query set: +$(((peak - idle) / 1024)) MiB"
if [ "${CLARM_BENCH_DASHBOARD:-}" = 1 ]; then
  python3 Tools/bench/dashboard.py "$work/events.ndjson" --url http://127.0.0.1:18093
fi
