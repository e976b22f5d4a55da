#!/usr/bin/env bash
# Shipping to ClickHouse at the gateway's full ingest rate and the query set on both engines over the same events
# (docs/SCALE.md, "Measured"): builds the release binaries (niced: only the build), then runs
# Tools/bench/clickhouse-shipping.py (the measured processes at normal priority).
# Usage: Tools/bench/clickhouse-shipping.sh [seconds of load, default 20] [rounds of queries, default 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
nice -n 19 swift build -c release --product clarm >/dev/null
nice -n 19 swift build -c release --product clarm-load >/dev/null
python3 Tools/bench/clickhouse-shipping.py "$(swift build -c release --show-bin-path)" "${1:-20}" "${2:-2}"
