#!/usr/bin/env bash
# Installs what Clarm needs when missing: liblz4 (headers) and pkg-config to build; with --browser, also
# Chromium, its WebDriver, and Selenium and pytest for the loader's browser test.
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

# The API description's test (Tests/Integration/test_openapi.py): schemathesis, pinned, and an OpenAPI validator.
python3 -c 'import importlib.metadata as m; assert m.version("schemathesis") == "4.32.5"; import openapi_spec_validator' 2>/dev/null \
  || python3 -m pip install -q 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
