#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite: the Swift tests, then the loader's
# and dashboard tests in headless Chromium against a real gateway, then the integration tests (Tests/Integration)
# and the deploy/ configurations.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh --browser
swift build --build-tests
swift test --skip-build "$@"
python3 -m pytest -q Tests/Browser
python3 -m pytest -q Tests/Integration
bash Tests/Deploy/check.sh
