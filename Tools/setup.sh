#!/usr/bin/env bash
# Installs what Clarm needs when missing: liblz4, libcurl and libmaxminddb (headers) and pkg-config to build; pytest and prometheus_client
# for the integration tests; with --browser, also Chromium, its WebDriver, and Selenium for the browser tests,
# and what checks deploy/.
set -euo pipefail

packages=()
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
pkg-config --exists liblz4 2>/dev/null || packages+=(liblz4-dev)
# --geoip reads MaxMind-format databases through libmaxminddb; the tests write their own small one in Perl.
pkg-config --exists libmaxminddb 2>/dev/null || packages+=(libmaxminddb-dev)
perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1 || packages+=(libmaxmind-db-writer-perl)
# Site registrations name time zones of the system's tz database.
[ -f /usr/share/zoneinfo/Europe/Berlin ] || packages+=(tzdata)
# Destinations send through libcurl (its headers to build, OpenSSL for TLS).
pkg-config --exists libcurl 2>/dev/null || packages+=(libcurl4-openssl-dev)
# The ClickHouse tests start real servers (Debian's 18.16: about 17 MB to download, 106 MB installed, 15 s).
[ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse-server ] || packages+=(clickhouse-server clickhouse-client)
if [ "${1:-}" = "--browser" ]; then
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  [ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
  # deploy/'s check (Tests/Deploy/check.sh): systemd-analyze, nginx, openssl for a certificate, curl, strace.
  command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || packages+=(nginx)
  command -v openssl >/dev/null 2>&1 || packages+=(openssl)
  command -v curl >/dev/null 2>&1 || packages+=(curl)
  command -v strace >/dev/null 2>&1 || packages+=(strace)
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
  # The referrer list's own library, for the cross-check in Tests/Integration (skipped without it).
  python3 -c 'import referer_parser' 2>/dev/null || python3 -m pip install -q referer-parser ||
    echo "referer-parser could not be installed: Tests/Integration skips its cross-check" >&2
fi

# The API description's test (Tests/Integration/test_openapi.py): schemathesis, pinned, and an OpenAPI validator.
python3 -c 'import importlib.metadata as m; assert m.version("schemathesis") == "4.32.5"; import openapi_spec_validator' 2>/dev/null \
  || python3 -m pip install -q 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
# ClickHouseQueryEngineChDBTests runs the ClickHouse engine's SQL on a current ClickHouse too: chDB, in-process.
python3 -c 'import chdb' 2>/dev/null || python3 -m pip install -q 'chdb==4.4.0' ||
  echo "chdb could not be installed: ClickHouseQueryEngineChDBTests is skipped" >&2
# Tests/Integration reads /metrics with the Prometheus client library's parser.
python3 -c 'import prometheus_client, pytest' 2>/dev/null || python3 -m pip install -q prometheus_client pytest
# Tests/Integration/test_geoip_fixture.py reads the test GeoIP database with MaxMind's own reader.
python3 -c 'import maxminddb' 2>/dev/null || python3 -m pip install -q 'maxminddb==3.3.0'
# Tests/Integration/test_destinations.py verifies webhook signatures with the Standard Webhooks library.
python3 -c 'import standardwebhooks' 2>/dev/null || python3 -m pip install -q 'standardwebhooks==1.1.0'
