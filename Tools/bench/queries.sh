#!/usr/bin/env bash
# Query times: Clarm's POST /api/query against DuckDB and ClickHouse (chDB) answering the same questions over the same events.
# Usage: Tools/bench/queries.sh [events]
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-1000000}
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb
python3 -c 'import chdb' 2>/dev/null || pip install -q chdb==4.4.0
Tools/setup.sh
swift build -c release --product clarm >/dev/null

# CLARM_BENCH_DIR keeps the generated events and the loaded store for the next run with the same size.
work=${CLARM_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
pid=
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; [ -n "${CLARM_BENCH_DIR:-}" ] || rm -rf "$work"' EXIT
if [ ! -f "$work/loaded-$events" ]; then
  rm -rf "$work/data" "$work"/part-*
  python3 Tools/bench/events.py --events "$events" --seed 7 --days 31 --geo > "$work/events.ndjson"
  split -n l/2 "$work/events.ndjson" "$work/part-"
  # Countries: the events' client addresses, sent as X-Forwarded-For, are located in a database of the networks
  # events.py draws them from (written by the tests' Perl writer); many clients share an address, so no rate limit.
  perl Tests/GeoIP/make-mmdb.pl Tools/bench/geoip-networks.json "$work/geoip.mmdb"
  # The events are dated from 2026-10-01, so the gateway must take events of any age.
  .build/release/clarm serve --port 18093 --data "$work/data" --shards 2 --loops 2 --durability os --max-event-age 36500 \
    --geoip "$work/geoip.mmdb" --rate-limit-per-ip 0 >/dev/null 2>&1 & pid=$!
  sleep 1
  posters=()
  for part in "$work"/part-*; do
    python3 Tools/bench/post.py "$part" --url http://127.0.0.1:18093/api/track --batch 1000 --forwarded-for >/dev/null & posters+=($!)
  done
  wait "${posters[@]}"
  kill -TERM $pid; wait $pid   # a clean stop seals everything into segments
  touch "$work/loaded-$events"
fi
.build/release/clarm serve --port 18093 --data "$work/data" --loops 2 >/dev/null 2>&1 & pid=$!
sleep 1
python3 Tools/bench/queries.py "$work/events.ndjson" --url http://127.0.0.1:18093
