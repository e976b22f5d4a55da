#!/usr/bin/env bash
# Peak memory under a flood of large events: a release `clarm serve` takes events with 30 KiB properties
# posted at full speed for SECONDS; its RSS is sampled from /proc every 0.5 s and the peak printed, next to
# the budget (--memory-limit) it must stay under, plus the fixed overhead documented in the README.
# Usage: Tools/bench/memory.sh [seconds] [memory-limit] [extra clarm serve options…]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}; limit=${2:-1G}; shift $(( $# < 2 ? $# : 2 ))
Tools/setup.sh
swift build -c release --product clarm >/dev/null

work=$(mktemp -d)
port=18093
.build/release/clarm serve --port "$port" --data "$work/data" --loops 2 --memory-limit "$limit" "$@" \
  >/dev/null 2>"$work/serve.log" & pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
peak=0
python3 Tools/bench/memory.py "$port" "$seconds" & poster=$!
while kill -0 "$poster" 2>/dev/null; do
  now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.5
done
wait "$poster"
echo "peak RSS $((peak / 1024)) MiB with --memory-limit $limit after ${seconds} s; data written $(du -sm "$work/data" | cut -f1) MiB"
