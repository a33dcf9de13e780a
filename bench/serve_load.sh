#!/usr/bin/env bash
# bench/serve_load.sh [HARK]
#
# A bounded load on hark serve over loopback: CLIENTS (100) concurrent
# clients send REQUESTS (3000) requests, one in five a multipart submit of a
# short clip at low priority, the rest reads (a job, the list, /healthz,
# /metrics, /v1/models). Prints requests per second, latency percentiles,
# answers by status, and the daemon's RSS before, halfway and after; then
# checks every acknowledged job is there. Exit 1 on any 5xx, connection
# error or lost job. Reproduce: make build && bench/serve_load.sh build/hark
set -euo pipefail
cd "$(dirname "$0")/.."
HARK=$(realpath "${1:-build/hark}")
CLIENTS=${CLIENTS:-100}
REQUESTS=${REQUESTS:-3000}
W=$(mktemp -d /tmp/hark-load-XXXXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
JS=${HARK_BUILD_DIR:-build}/js
mkdir -p "$JS" && cp tests/js/package.json tests/js/package-lock.json tests/js/*.mjs "$JS"/
[ -d "$JS/node_modules/openai6" ] || (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error)

sox -n -r 16000 -c 1 -b 16 "$W/clip.wav" synth 0.5 sine 440   # 16 KB
"$HARK" serve --listen 127.0.0.1:0 --state-dir "$W/state" --workers 2 2> "$W/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 400); do
  URL=$(sed -n 's/^hark: serving \(http:[^ ]*\) .*/\1/p' "$W/serve.log")
  [ -n "$URL" ] && curl -sf "$URL/healthz" >/dev/null && break
  sleep 0.05
done
rss() { awk '/^VmRSS/ {print $2}' /proc/$SERVER_PID/status; }   # KiB, the daemon alone
rss0=$(rss)
node "$JS/load.mjs" "$URL" "$W/clip.wav" "$CLIENTS" $((REQUESTS / 2)) "$W/half1.json"
rss1=$(rss)
node "$JS/load.mjs" "$URL" "$W/clip.wav" "$CLIENTS" $((REQUESTS / 2)) "$W/half2.json"
rss2=$(rss)
for h in half1 half2; do
  jq -r --arg h "$h" '"\($h): \(.requests) requests by \(.clients) clients in \(.seconds * 100 | round / 100) s = \(.rps | round) req/s; p50 \(.p50_ms * 10 | round / 10) ms, p95 \(.p95_ms * 10 | round / 10) ms, p99 \(.p99_ms * 10 | round / 10) ms; status \(.status | tostring); connection errors \(.errors); submitted \(.submitted), lost \(.lost)"' "$W/$h.json"
done
echo "daemon RSS: start $((rss0 / 1024)) MiB, after half 1 $((rss1 / 1024)) MiB, after half 2 $((rss2 / 1024)) MiB (growth in half 2: $(( (rss2 - rss1) / 1024 )) MiB)"
echo "reproduce: make build && bench/serve_load.sh build/hark"
bad=$(jq -s '[.[] | (.status | to_entries | map(select(.key | startswith("5"))) | map(.value) | add // 0) + .errors + .lost] | add' "$W/half1.json" "$W/half2.json")
[ "$bad" -eq 0 ] || { echo "FAIL: $bad 5xx answers, connection errors or lost jobs"; exit 1; }
