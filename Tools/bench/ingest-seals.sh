#!/usr/bin/env bash
# Ingest across seals: a release `clarm serve` with small seals (--seal-bytes) is driven by clarm-load in
# back-to-back chunks of SECONDS, closed loop or at RATE requests/s; after each chunk it prints the chunk's
# rate and p99, the seals completed so far (`clarm_seal_seconds_count`), and the server's RSS (now, and the
# peak sampled every 0.2 s during the chunk) with its anonymous part (heap: what the memory limit bounds; the
# rest is mapped segment files, page cache the kernel can drop), so chunks that overlap a seal can be told
# from those that do not; and what of the heap is live: the memtables (active and waiting to be sealed,
# `clarm_shard_memtable_bytes`) and the events accepted so far (each event id takes about 28 bytes of the
# deduplication window). A last row, IDLE seconds (default 10) after the load stopped, shows what the heap
# keeps once the seals have caught up.
# Usage: Tools/bench/ingest-seals.sh [chunks] [seconds] [seal-bytes] [batch] [rate|closed] [extra serve options…]
# CLARM=path/to/clarm runs another build of the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
chunks=${1:-20}; seconds=${2:-2}; seal_bytes=${3:-16M}; batch=${4:-1}; rate=${5:-closed}; shift $(( $# < 5 ? $# : 5 ))
clarm=${CLARM:-.build/release/clarm}
if [ -z "${CLARM:-}" ]; then Tools/setup.sh; swift build -c release --product clarm >/dev/null; fi
swift build -c release --product clarm-load >/dev/null

work=$(mktemp -d)
port=18094
"$clarm" serve --port "$port" --data "$work/data" --loops 2 --max-event-age 31 --seal-bytes "$seal_bytes" "$@" \
  >/dev/null 2>"$work/serve.log" & pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

rss() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$pid/status"; }
anon() { awk '/^RssAnon:/ { print int($2 / 1024) }' "/proc/$pid/status"; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { printf "%d", sum }'; }
load_rate=(); [ "$rate" != closed ] && load_rate=(--rate "$rate")
printf '| chunk | req/s | events/s | p99 ms | non-2xx | seals done | RSS MiB | anon MiB | peak RSS MiB | peak anon MiB | memtables MiB | accepted |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for chunk in $(seq 1 "$chunks"); do
  .build/release/clarm-load --url "http://127.0.0.1:$port" --connections 64 --batch "$batch" --duration "$seconds" \
    --threads 1 --seed "$((200 + chunk))" "${load_rate[@]}" --json >"$work/report.json" & load=$!
  peak=0; peak_anon=0
  while kill -0 "$load" 2>/dev/null; do
    now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    now=$(anon); [ "$now" -gt "$peak_anon" ] && peak_anon=$now
    sleep 0.2
  done
  wait "$load"
  python3 - "$chunk" "$work/report.json" "$(metric clarm_seal_seconds_count)" "$(rss)" "$(anon)" "$peak" "$peak_anon" \
    "$(( $(metric clarm_shard_memtable_bytes) >> 20 ))" "$(metric clarm_events_accepted_total)" <<'PY'
import json, sys
chunk, path, seals, rss, anon, peak, peak_anon, memtables, accepted = sys.argv[1:10]
r = json.load(open(path))
bad = sum(v for k, v in r["statuses"].items() if not k.startswith("2")) + r["errors"]
print("| %s | %.0f | %.0f | %.2f | %d | %s | %s | %s | %s | %s | %s | %s |" % (chunk, r["requests_per_second"], r["events_per_second"],
      r["latency_ms"]["p99"], bad, seals, rss, anon, peak, peak_anon, memtables, accepted))
PY
done
sleep "${IDLE:-10}"
printf '| idle %s s | | | | | %s | %s | %s | | | %s | %s |\n' "${IDLE:-10}" "$(metric clarm_seal_seconds_count)" "$(rss)" "$(anon)" \
  "$(( $(metric clarm_shard_memtable_bytes) >> 20 ))" "$(metric clarm_events_accepted_total)"
