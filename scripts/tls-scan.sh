#!/usr/bin/env bash
# TLS scan of a real Strongroom listener with testssl, inside a private network namespace that
# has only loopback (no traffic can leave the machine). Fails on any protocol below TLS 1.2 or
# any accepted suite that is not an AEAD. Usage: scripts/tls-scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--inside" ]; then
  exec unshare --net "$0" --inside
fi
ip link set lo up
work=$(mktemp -d)
port=18443
STRONGROOM_HOME="$work/data" STRONGROOM_HTTPS_PORT=$port STRONGROOM_HTTP_PORT=off STRONGROOM_METRICS_PORT=off \
  node bin/strongroom.js serve >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  grep -q '"strongroom ready"' "$work/serve.log" && break
  sleep 0.5
done
grep -q '"strongroom ready"' "$work/serve.log" || { echo "server did not start:"; cat "$work/serve.log"; exit 1; }
echo "scanning 127.0.0.1:$port with testssl (protocols and each cipher)…"
testssl --quiet --color 0 --warnings off --protocols --each-cipher --jsonfile "$work/testssl.json" "127.0.0.1:$port" >"$work/testssl.txt" 2>&1 || true
node scripts/check-testssl.mjs "$work/testssl.json"
