#!/usr/bin/env bash
# Ingest throughput: Clarm's POST /api/track against nginx answering `return 204` to the same POSTs,
# driven by the same clarm-load, interleaved round by round so that machine drift hits both alike.
# Usage: Tools/bench/ingest.sh [rounds] [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}; seconds=${2:-5}; connections=${3:-64}
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
Tools/setup.sh
swift build -c release --product clarm >/dev/null
swift build -c release --product clarm-load >/dev/null

work=$(mktemp -d)
nginx -c "$PWD/Tools/bench/nginx.conf" & nginx_pid=$!
# clarm-load dates events over the last 30 days as it starts; a day more keeps the oldest in the window all run long.
.build/release/clarm serve --port 18091 --data "$work/data" --loops 2 --max-event-age 31 >/dev/null 2>&1 & clarm_pid=$!
trap 'kill $nginx_pid $clarm_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

seed=100
run() {  # port batch -> one JSON report
  seed=$((seed + 1))
  .build/release/clarm-load --url "http://127.0.0.1:$1" --connections "$connections" --batch "$2" --duration "$seconds" \
    --threads 1 --seed "$seed" --json
}

printf '| batch | round | nginx req/s | nginx p99 ms | clarm req/s | clarm events/s | clarm p99 ms | clarm non-2xx | clarm/nginx |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for batch in 1 20; do
  for r in $(seq 1 "$rounds"); do
    nginx_report=$(run 18090 "$batch")
    clarm_report=$(run 18091 "$batch")
    python3 - "$batch" "$r" "$nginx_report" "$clarm_report" <<'PY'
import json, sys
batch, round_, n, c = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
bad = sum(v for k, v in c["statuses"].items() if not k.startswith("2")) + c["errors"]
print("| %s | %s | %.0f | %.2f | %.0f | %.0f | %.2f | %d | %.2f |" % (
    batch, round_, n["requests_per_second"], n["latency_ms"]["p99"], c["requests_per_second"], c["events_per_second"],
    c["latency_ms"]["p99"], bad, c["requests_per_second"] / n["requests_per_second"]))
PY
  done
done
