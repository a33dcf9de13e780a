#!/usr/bin/env bash
# bench/live_latency.sh [HARK]
#
# Live dictation through `hark serve` (2 workers by default): dictations of
# 3, 12 and 31 s (LibriVox clips, raw s16le) streamed at real-time pace,
# 100 ms a request (tests/py/live_client.py), TRIES times each (default
# 20), idle (a 40-minute low job paused) and busy (that job resumed on
# every worker, so each dictation preempts it), alternating. For each:
#   - end-to-text: from the last audio sent to the final text in hand
#     (POST /end answered), p50 and p95;
#   - speech-to-first-partial: from the first audio sent to the first
#     transcript.partial event, p50;
#   - beside it, in the same run, `hark ptt` of the same clip (the whole
#     recording uploaded, then decoded: what a speaker waits after letting
#     go without live decoding), p50, and the ratio live / ptt.
# Targets (issue 12): end-to-text p50 <= 150 ms and p95 <= 300 ms at every
# length, idle and busy.
# Reproduce: make build && bench/live_latency.sh build/hark   (TRIES=3 for a quick look;
# LENGTHS="d3" for one length; SERIES=1 to print every try in order)
set -euo pipefail
cd "$(dirname "$0")/.."
HARK=$(realpath "${1:-build/hark}")
TRIES=${TRIES:-20}
WORKERS=${WORKERS:-$(nproc)}
DATA=/usr/share/pocketsphinx/test/data/librivox
LIVE="python3 $PWD/tests/py/live_client.py"
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

c() { echo "$DATA/sense_and_sensibility_01_austen_64kb-$1.wav"; }
sox -n -r 16000 -c 1 -b 16 "$W/gap.wav" trim 0 0.5
cp "$(c 0880)" "$W/d3.wav"                                    # 3.0 s
sox "$(c 0870)" "$W/gap.wav" "$(c 0890)" "$W/d12.wav"         # 12.9 s
sox "$(c 0870)" "$W/gap.wav" "$(c 0880)" "$W/gap.wav" "$(c 0890)" "$W/gap.wav" \
  "$(c 0920)" "$W/gap.wav" "$(c 0930)" "$W/gap.wav" "$(c 0880)" "$W/d30.wav"   # 31.3 s
for d in d3 d12 d30; do sox "$W/$d.wav" -t raw -e signed -b 16 -c 1 -r 16000 "$W/$d.raw"; done
sox $(for i in $(seq 1 96); do echo "$DATA"/*.wav; done) "$W/long.wav"   # ~40 min

"$HARK" serve --listen 127.0.0.1:0 --state-dir "$W/state" --workers "$WORKERS" 2> "$W/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 400); do
  HARK_SERVER=$(sed -n 's/^hark: serving \(http:[^ ]*\) .*/\1/p' "$W/serve.log")
  [ -n "$HARK_SERVER" ] && curl -sf "$HARK_SERVER/healthz" >/dev/null && break
  sleep 0.05
done
export HARK_SERVER
for _ in $(seq 1 400); do curl -sf "$HARK_SERVER/readyz" > /dev/null && break; sleep 0.05; done

DB=$W/state/hark.db
leased() { sqlite3 "$DB" "SELECT COUNT(*) FROM tasks WHERE state = 'leased'" 2>/dev/null || echo 0; }
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print v[i] }'; }
ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

low=$("$HARK" submit --priority low "$W/long.wav" | awk '{print $1}')
for _ in $(seq 1 1200); do [ "$(leased)" -ge "$WORKERS" ] && break; sleep 0.1; done

idle() {
  "$HARK" pause "$low" > /dev/null 2>&1 || true
  for _ in $(seq 1 100); do [ "$(leased)" = 0 ] && break; sleep 0.02; done
  sleep 0.3
}
busy() {
  "$HARK" resume "$low" > /dev/null 2>&1 || true
  for _ in $(seq 1 200); do [ "$(leased)" -ge "$WORKERS" ] && break; sleep 0.02; done
  sleep 0.2
}
one() { # one MODE LENGTH: a live dictation and a ptt of the same clip
  local mode=$1 d=$2
  $LIVE "$HARK_SERVER" "$W/$d.raw" --pace 1 > "$W/out.json"
  jq -r .end_ms "$W/out.json" >> "$W/$mode.$d.end"
  jq -r '.first_partial_s * 1000' "$W/out.json" >> "$W/$mode.$d.first"
  [ "$(jq -r .end_status "$W/out.json")" = 200 ] || { echo "a dictation failed: $(cat "$W/out.json")"; exit 1; }
  $mode
  local t0 t1
  t0=$(ms)
  "$HARK" ptt "$W/$d.wav" > /dev/null
  t1=$(ms)
  echo "$t1 $t0" | awk '{ print $1 - $2 }' >> "$W/$mode.$d.ptt"
}
# One of each first, not counted: the page cache, the workers' first decodes.
for d in d3 d12; do $LIVE "$HARK_SERVER" "$W/$d.raw" --pace 4 > /dev/null; "$HARK" ptt "$W/$d.wav" > /dev/null; done
LENGTHS=${LENGTHS:-d3 d12 d30}
for _ in $(seq 1 "$TRIES"); do
  for d in $LENGTHS; do
    idle; one idle $d
    busy; one busy $d
  done
done
"$HARK" cancel "$low" > /dev/null

echo "live dictation, end-to-text (ms from the last audio sent to the final text), $TRIES tries each, $WORKERS workers:"
printf '%-6s %-5s %8s %8s %12s %10s %12s\n' length mode p50 p95 first-p50 ptt-p50 live/ptt
for d in $LENGTHS; do
  for mode in idle busy; do
    p50=$(pct "$W/$mode.$d.end" 50)
    p95=$(pct "$W/$mode.$d.end" 95)
    fp=$(pct "$W/$mode.$d.first" 50)
    pt=$(pct "$W/$mode.$d.ptt" 50)
    printf '%-6s %-5s %8.1f %8.1f %12.0f %10.0f %12.3f\n' "${d#d}s" "$mode" "$p50" "$p95" "$fp" "$pt" \
      "$(echo "$p50 $pt" | awk '{ print $1 / $2 }')"
  done
done
if [ -n "${SERIES:-}" ]; then
  for d in $LENGTHS; do for mode in idle busy; do
    echo "$d $mode end-to-text in order: $(tr '\n' ' ' < "$W/$mode.$d.end")"
  done; done
fi
echo "reproduce: make build && bench/live_latency.sh build/hark"
