#!/usr/bin/env bash
# Ingest throughput: Clarm's POST /api/track against nginx answering `return 204` to the same POSTs,
# interleaved round by round so that machine drift hits both alike.
# Usage: Tools/bench/ingest.sh [rounds] [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}; seconds=${2:-5}; connections=${3:-64}
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
Tools/setup.sh
swift build -c release --product clarm >/dev/null

work=$(mktemp -d)
event='{"event":"page_view","visitor_id":"4f1c2a9e-7b3d-4e21-9c55-0d8e6f1a2b3c","session_id":"s-8d2f","timestamp":"2026-11-05T08:19:19.685Z","url":"https://shop.example.com/products/blue-widget?utm_source=newsletter&utm_campaign=nov","referrer":"https://www.google.com/","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","event_id":"e-1a2b3c4d","properties":{"plan":"pro"}}'
echo "$event" > "$work/single.json"
{ printf '['; for i in $(seq 1 19); do printf '%s,' "$event"; done; printf '%s]' "$event"; } > "$work/batch.json"

nginx -c "$PWD/Tools/bench/nginx.conf" & nginx_pid=$!
.build/release/clarm serve --port 18091 --data "$work/data" --loops 2 >/dev/null 2>&1 & clarm_pid=$!
trap 'kill $nginx_pid $clarm_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

run() {  # port body-file -> "requests/s p99_ms non2xx"
  CLARM_BODY_FILE="$2" wrk -t1 -c"$connections" -d"${seconds}s" --latency -s Tools/bench/post.lua "http://127.0.0.1:$1" 2>&1 |
    awk '/Requests\/sec/ {rps=$2} / 99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
         /Non-2xx/ {bad=$4} END {printf "%s %s %s\n", rps, p99, bad+0}'
}

printf '| body | round | nginx req/s | nginx p99 ms | clarm req/s | clarm events/s | clarm p99 ms | clarm non-2xx | clarm/nginx |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for body in single batch; do
  per=1; [ "$body" = batch ] && per=20
  for r in $(seq 1 "$rounds"); do
    read -r n_rps n_p99 _ < <(run 18090 "$work/$body.json")
    read -r c_rps c_p99 c_bad < <(run 18091 "$work/$body.json")
    awk -v b="$body" -v r="$r" -v nr="$n_rps" -v np="$n_p99" -v cr="$c_rps" -v cp="$c_p99" -v cb="$c_bad" -v per="$per" \
      'BEGIN {printf "| %s | %d | %.0f | %.2f | %.0f | %.0f | %.2f | %d | %.2f |\n", b, r, nr, np, cr, cr*per, cp, cb, cr/nr}'
  done
done
