#!/usr/bin/env bash
# Installs what Clarm needs when missing: liblz4 (headers) and pkg-config to build; pytest and prometheus_client
# for the integration tests; with --browser, also Chromium, its WebDriver, and Selenium for the browser tests.
set -euo pipefail

packages=()
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
pkg-config --exists liblz4 2>/dev/null || packages+=(liblz4-dev)
if [ "${1:-}" = "--browser" ]; then
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  [ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
fi

if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ "${1:-}" = "--browser" ]; then
  python3 -c 'import selenium, pytest' 2>/dev/null || python3 -m pip install -q selenium pytest
fi

# Tests/Integration reads /metrics with the Prometheus client library's parser.
python3 -c 'import prometheus_client, pytest' 2>/dev/null || python3 -m pip install -q prometheus_client pytest
