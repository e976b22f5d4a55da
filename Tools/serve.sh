#!/usr/bin/env bash
# Installs what is missing, builds Clarm in release mode and starts the gateway.
# Arguments go to `clarm serve`, e.g. Tools/serve.sh --host 0.0.0.0 --port 8080 --data ./data
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
swift build -c release --product clarm
exec .build/release/clarm serve "$@"
