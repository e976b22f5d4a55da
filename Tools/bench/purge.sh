#!/usr/bin/env bash
# Time of one erasure's physical step: a release `clarm serve --shards 2` takes EVENTS events from
# clarm-load, stops cleanly (sealing them into segments) and starts again; one visitor is erased and the time
# from the DELETE to `clarm_shard_erasures_pending` reaching 0 on /metrics is printed, then every file of the
# data directory is searched for the visitor id.
# Usage: Tools/bench/purge.sh [events]
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-500000}
swift build -c release --product clarm --product clarm-load >/dev/null

work=$(mktemp -d)
port=18094
site=load-1.example.com
pid=
start() {
  .build/release/clarm serve --port "$port" --data "$work/data" --shards 2 --max-event-age 40 >/dev/null 2>>"$work/serve.log" &
  pid=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
}
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
start
.build/release/clarm-load --url "http://127.0.0.1:$port" --events "$events" --batch 20 --connections 8 --duration 300 >/dev/null
kill -TERM "$pid"; wait "$pid" || true
start
visitor=$(curl -s "http://127.0.0.1:$port/api/visitors?site=$site&date_range=30d&limit=1" \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["visitors"][0]["visitor_id"])')
.build/release/clarm inspect --data "$work/data" | grep -E '\.cseg:' | sed 's/,.*covers/ … covers/'
started=$(date +%s.%N)
curl -s -X DELETE "http://127.0.0.1:$port/api/visitors/$visitor?site=$site" >/dev/null
while curl -s "http://127.0.0.1:$port/metrics" | grep '^clarm_shard_erasures_pending' | grep -vq ' 0$'; do sleep 0.02; done
ended=$(date +%s.%N)
echo "purge of visitor $visitor: $(python3 -c "print(round($ended - $started, 2))") s"
curl -s "http://127.0.0.1:$port/metrics" | grep '^clarm_erasure'
if grep -rlF "$visitor" "$work/data"; then echo "FAIL: files above still hold $visitor"; exit 1; fi
echo "no file holds $visitor"
