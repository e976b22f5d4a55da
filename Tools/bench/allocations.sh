#!/usr/bin/env bash
# Heap allocations per request of a release `clarm serve --loops 2`: Tools/bench/malloc-count.c is preloaded
# into the server, which reports its counts on SIGWINCH before and after REQUESTS requests of BATCH events
# (after a warm-up of 1000 requests, so that buffers have grown). The default sizes stay under a seal
# (250,000 events per shard), whose work would otherwise count too.
# Usage: Tools/bench/allocations.sh [batch] [requests]
# CLARM=path/to/clarm measures another build of the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
batch=${1:-1}; requests=${2:-$(( batch == 1 ? 50000 : 5000 ))}
clarm=${CLARM:-.build/release/clarm}
if [ -z "${CLARM:-}" ]; then Tools/setup.sh; swift build -c release --product clarm >/dev/null; fi
swift build -c release --product clarm-load >/dev/null

work=$(mktemp -d)
cc -O2 -shared -fPIC -o "$work/malloc-count.so" Tools/bench/malloc-count.c
port=18095
MALLOC_COUNT_FILE="$work/counts" LD_PRELOAD="$work/malloc-count.so" \
  "$clarm" serve --port "$port" --data "$work/data" --loops 2 --max-event-age 31 >/dev/null 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 1

load() {  # requests seed -> JSON report
  .build/release/clarm-load --url "http://127.0.0.1:$port" --connections 16 --batch "$batch" --events $(( $1 * batch )) \
    --duration 120 --threads 1 --seed "$2" --json
}
load 1000 1 >/dev/null
kill -WINCH "$pid"; sleep 0.3
load "$requests" 2 >"$work/report.json"
kill -WINCH "$pid"; sleep 0.3
python3 - "$work/counts" "$work/report.json" "$batch" <<'PY'
import json, sys
(a0, f0), (a1, f1) = [map(int, line.split()) for line in open(sys.argv[1])]
report = json.load(open(sys.argv[2]))
n = report["requests"]
print("batch %s: %d requests, %.2f allocations and %.2f frees per request" % (sys.argv[3], n, (a1 - a0) / n, (f1 - f0) / n))
PY
