#!/usr/bin/env bash
# Every side-by-side comparison in one go: ingest vs nginx, bytes per event vs NDJSON/LZ4/zstd, queries vs
# DuckDB. Usage: Tools/bench/all.sh [query-events]   (default 10,000,000; the data is kept in
# /tmp/clarm-bench-N for the next run)
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-10000000}
echo "## Ingest"; Tools/bench/ingest.sh 3 5 64
echo; echo "## Storage"; Tools/bench/storage.sh 1000000
echo; echo "## Queries"; CLARM_BENCH_DIR=${CLARM_BENCH_DIR:-/tmp/clarm-bench-$events} Tools/bench/queries.sh "$events"
