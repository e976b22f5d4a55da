#!/usr/bin/env bash
# Checks deploy/: the systemd unit passes `systemd-analyze verify` without a warning, and the nginx front passes
# `nginx -t` and then really serves the gateway over TLS and HTTP/2 with a self-signed certificate made here:
# tracking, the query API under the public name, the dashboard's headers, /metrics kept from the outside; every
# system call of that run must pass the unit's SystemCallFilter=.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$PATH:/usr/sbin:/sbin"  # nginx
clarm="$PWD/.build/debug/clarm"
work="$(mktemp -d)"
pids=()
cleanup() {
  # The traced gateway first (strace would wait for it), then everything started here, without waiting forever.
  for pid in "${pids[@]}"; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deploy check failed: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The unit, with the binary at the path this checkout built.
sed "s|/usr/local/bin/clarm|$clarm|" deploy/clarm.service > "$work/clarm.service"
if ! out="$(systemd-analyze verify "$work/clarm.service" 2>&1)" || [ -n "$out" ]; then
  fail "systemd-analyze verify deploy/clarm.service: $out"
fi

# nginx: certificate, ports, logs and pid file moved into $work.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=analytics.example.com \
  -keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null
https_port="$(free_port)"
http_port="$(free_port)"
gateway_port="$(free_port)"
sed -e "s|/etc/letsencrypt/live/analytics.example.com/|$work/|" \
    -e "s|/var/log/nginx/|$work/|" -e "s|/run/nginx.pid|$work/nginx.pid|" \
    -e "s|listen 443 |listen 127.0.0.1:$https_port |; s|listen \[::\]:443 |listen [::1]:$https_port |" \
    -e "s|listen 80;|listen 127.0.0.1:$http_port;|; s|listen \[::\]:80;|listen [::1]:$http_port;|" \
    -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$gateway_port;|" \
    -e "/^user /d" \
    deploy/nginx.conf > "$work/nginx.conf"
nginx -t -q -p "$work" -c "$work/nginx.conf" -e "$work/error.log" || fail "nginx -t deploy/nginx.conf: $(cat "$work/error.log")"

# The gateway as the unit starts it, then nginx in front.
key="$(openssl rand -hex 32)"
echo "$key" > "$work/api-keys"
# Traced, so that every system call it makes can be checked against the unit's SystemCallFilter= below.
strace -f -qq -o "$work/syscalls" \
  "$clarm" serve --host 127.0.0.1 --port "$gateway_port" --data "$work/data" --loops 1 --api-key-file "$work/api-keys" \
  --public-host analytics.example.com > "$work/clarm.out" 2> "$work/clarm.log" &
strace_pid=$!
pids+=($strace_pid)
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -g "daemon off;" &
pids+=($!)
for _ in $(seq 50); do
  grep -q listening "$work/clarm.out" 2>/dev/null && [ -s "$work/nginx.pid" ] && break
  sleep 0.1
done

# A browser's user agent: curl's own is on the crawler list, and the gateway drops crawlers' events.
https() {
  curl -sS -k --http2 --max-time 10 -A 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' \
    --resolve "analytics.example.com:$https_port:127.0.0.1" "$@"
}
base="https://analytics.example.com:$https_port"
event='{"event":"page_view","visitor_id":"v1","url":"https://shop.example.com/","site":"shop.example.com"}'
[ "$(https -o /dev/null -w '%{http_code} %{http_version}' -H 'Origin: https://shop.example.com' -d "$event" "$base/api/track")" = "202 2" ] \
  || fail "POST /api/track through nginx over HTTP/2"
[ "$(https -o /dev/null -w '%{http_code}' "$base/api/visitors?site=shop.example.com")" = "401" ] || fail "the query API without a key"
visitors="$(https -H "Authorization: Bearer $key" "$base/api/visitors?site=shop.example.com")"
grep -q '"visitor_id":"v1"' <<<"$visitors" || fail "the query API under the public name: $visitors"
headers="$(https -D - -o /dev/null "$base/")"
grep -qi "^content-security-policy: default-src 'none'" <<<"$headers" || fail "the dashboard's CSP: $headers"
grep -qi "^strict-transport-security:" <<<"$headers" || fail "HSTS: $headers"
[ "$(https -o /dev/null -w '%{http_code}' "$base/metrics")" = "404" ] || fail "/metrics must not be reachable through nginx"
[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$http_port/api/track")" = "301" ] || fail "plain HTTP must redirect"
# A graceful stop (seals segments, syncs), then the system calls of the whole run.
kill -TERM "$(pgrep -P "$strace_pid")"
wait "$strace_pid" || fail "the gateway did not stop cleanly: $(cat "$work/clarm.log")"
python3 Tests/Deploy/syscalls-allowed.py "$work/syscalls" deploy/clarm.service || fail "the unit's system call filter"
echo "deploy/: clarm.service verified; nginx.conf verified and serving the gateway over TLS"
