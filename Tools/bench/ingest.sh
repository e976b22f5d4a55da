#!/usr/bin/env bash
# Ingest throughput: Clarm's POST /api/track against nginx answering `return 204` to the same POSTs,
# driven by the same clarm-load, interleaved round by round so that machine drift hits both alike.
# Usage: Tools/bench/ingest.sh [rounds] [seconds] [connections]
# With BEFORE=/path/to/an/older/clarm, that binary runs as a third server in the same rounds (nginx, before,
# this build), so a change is measured against its base under the same machine drift.
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
before_pid=
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" serve --port 18092 --data "$work/before" --loops 2 --max-event-age 31 >/dev/null 2>&1 & before_pid=$!
fi
trap 'kill $nginx_pid $clarm_pid $before_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

seed=100
run() {  # port batch -> one JSON report
  seed=$((seed + 1))
  .build/release/clarm-load --url "http://127.0.0.1:$1" --connections "$connections" --batch "$2" --duration "$seconds" \
    --threads 1 --seed "$seed" --json
}

if [ -z "${BEFORE:-}" ]; then
  printf '| batch | round | nginx req/s | nginx p99 ms | clarm req/s | clarm events/s | clarm p99 ms | clarm non-2xx | clarm/nginx |\n'
  printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
else
  printf '| batch | round | nginx req/s | before req/s | clarm req/s | clarm p99 ms | non-2xx | before/nginx | clarm/nginx | clarm/before |\n'
  printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
fi
for batch in 1 20; do
  for r in $(seq 1 "$rounds"); do
    nginx_report=$(run 18090 "$batch")
    before_report=null
    [ -z "${BEFORE:-}" ] || before_report=$(run 18092 "$batch")
    clarm_report=$(run 18091 "$batch")
    python3 - "$batch" "$r" "$nginx_report" "$clarm_report" "$before_report" <<'PY'
import json, sys
batch, round_, n, c, b = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
def bad(report):
    return sum(v for k, v in report["statuses"].items() if not k.startswith("2")) + report["errors"]
if b is None:
    print("| %s | %s | %.0f | %.2f | %.0f | %.0f | %.2f | %d | %.2f |" % (
        batch, round_, n["requests_per_second"], n["latency_ms"]["p99"], c["requests_per_second"], c["events_per_second"],
        c["latency_ms"]["p99"], bad(c), c["requests_per_second"] / n["requests_per_second"]))
else:
    print("| %s | %s | %.0f | %.0f | %.0f | %.2f | %d | %.2f | %.2f | %.2f |" % (
        batch, round_, n["requests_per_second"], b["requests_per_second"], c["requests_per_second"], c["latency_ms"]["p99"],
        bad(c) + bad(b), b["requests_per_second"] / n["requests_per_second"], c["requests_per_second"] / n["requests_per_second"],
        c["requests_per_second"] / b["requests_per_second"]))
PY
  done
done
