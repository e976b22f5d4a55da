#!/usr/bin/env bash
# Bytes per event on disk: Clarm's sealed segments against the same events as NDJSON, raw, LZ4 and zstd.
# Usage: Tools/bench/storage.sh [events]
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-1000000}
command -v zstd >/dev/null && command -v lz4 >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd lz4 >/dev/null; }
Tools/setup.sh
swift build -c release --product clarm >/dev/null

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
python3 Tools/bench/events.py --events "$events" --seed 7 > "$work/events.ndjson"
# The events are dated from 2026-10-01, so the gateway must take events of any age.
.build/release/clarm serve --port 18092 --data "$work/data" --shards 2 --durability os --max-event-age 36500 >/dev/null 2>&1 & pid=$!
sleep 1
python3 Tools/bench/post.py "$work/events.ndjson" --url http://127.0.0.1:18092/api/track --batch 500 >/dev/null
kill -TERM $pid; wait $pid   # graceful stop seals every buffered event into segments

raw=$(stat -c %s "$work/events.ndjson")
lz4 -q -1 -c "$work/events.ndjson" > "$work/events.lz4"
zstd -q -3 -c "$work/events.ndjson" > "$work/events.zst"
segments=$(find "$work/data" -name '*.cseg' -printf '%s\n' | awk '{s+=$1} END {print s}')
leftover=$(find "$work/data" -name 'wal-*' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
printf '| form | bytes | bytes/event |\n| --- | --- | --- |\n'
for row in "NDJSON raw:$raw" "NDJSON + LZ4 (lz4 -1):$(stat -c %s "$work/events.lz4")" \
           "NDJSON + zstd (zstd -3):$(stat -c %s "$work/events.zst")" "Clarm segments:$segments"; do
  awk -v name="${row%%:*}" -v b="${row##*:}" -v n="$events" 'BEGIN {printf "| %s | %d | %.2f |\n", name, b, b/n}'
done
echo "WAL bytes left after a clean stop: $leftover"
.build/release/clarm inspect --data "$work/data" --summary
