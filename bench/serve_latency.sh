#!/usr/bin/env bash
# bench/serve_latency.sh [HARK]
#
# Push-to-talk through `hark serve` (2 workers by default), in one run:
#  1. a 3-second clip's submit-to-text time over HTTP (tests/tools/
#     hark_ptt_probe: upload at realtime priority, follow the event stream,
#     fetch the text), idle (a 40-minute low job paused) and busy (that job
#     resumed on every worker, so each clip preempts it), alternating, TRIES
#     times each; p50/p95 and the ratio busy/idle;
#  2. overhead: idle submit-to-text minus the engine's decode time of the
#     clip (HTTP, upload, store commits, FFmpeg decode, planning, dispatch);
#     and what the `hark ptt` command adds (process start, libraries);
#  3. resume cost: each time the low job takes back a chunk it had yielded,
#     what that costs before recognition starts (claim + dispatch in the
#     daemon, PCM open in the worker), against decoding its input again.
# Reproduce: make build && bench/serve_latency.sh build/hark
set -euo pipefail
cd "$(dirname "$0")/.."
HARK=$(realpath "${1:-build/hark}")
TRIES=${TRIES:-20}
WORKERS=${WORKERS:-$(nproc)}
DATA=/usr/share/pocketsphinx/test/data/librivox
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
[ -n "${KEEP_LOG:-}" ] && trap 'cp "$W/serve.log" "$KEEP_LOG"; cleanup' EXIT

clip=$W/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip"
sox $(for i in $(seq 1 96); do echo "$DATA"/*.wav; done) "$W/long.wav"   # ~40 min

HARK_LOG=debug "$HARK" serve --listen 127.0.0.1:0 --state-dir "$W/state" --workers "$WORKERS" \
  2> "$W/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 400); do
  HARK_SERVER=$(sed -n 's/^hark: serving \(http:[^ ]*\) .*/\1/p' "$W/serve.log")
  [ -n "$HARK_SERVER" ] && curl -sf "$HARK_SERVER/healthz" >/dev/null && break
  sleep 0.05
done
export HARK_SERVER
# Every worker has loaded its model.
for _ in $(seq 1 400); do
  [ "$(grep -c ': ready (' "$W/serve.log")" -ge "$WORKERS" ] && break
  sleep 0.05
done

PROBE=$(dirname "$HARK")/hark_ptt_probe
DB=$W/state/hark.db
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print v[i] }'; }
leased() { sqlite3 "$DB" "SELECT COUNT(*) FROM tasks WHERE state = 'leased'" 2>/dev/null || echo 0; }

"$PROBE" "$HARK_SERVER" "$clip" 3 > /dev/null   # warm the page cache
low=$("$HARK" submit --priority low "$W/long.wav")
for _ in $(seq 1 1200); do   # the low job is decoded and on every worker
  [ "$(leased)" -ge "$WORKERS" ] && break
  sleep 0.1
done
# Idle and busy tries alternate, so the machine's drift (it is shared)
# affects both alike: idle = the low job paused (no work at all), busy =
# the low job resumed and running on every worker.
: > "$W/idle.txt"; : > "$W/busy.txt"
for _ in $(seq 1 "$TRIES"); do
  "$HARK" pause "$low" > /dev/null
  for _ in $(seq 1 100); do [ "$(leased)" = 0 ] && break; sleep 0.02; done
  # The pause revokes the leases at once, but each worker stops at its next
  # block and may first finish the recognizer's end-of-utterance pass: give
  # them time, so an idle try really finds idle workers.
  sleep 0.3
  "$PROBE" "$HARK_SERVER" "$clip" 1 >> "$W/idle.txt"
  "$HARK" resume "$low" > /dev/null
  for _ in $(seq 1 200); do [ "$(leased)" -ge "$WORKERS" ] && break; sleep 0.02; done
  sleep 0.2   # let both workers get into their chunks
  "$PROBE" "$HARK_SERVER" "$clip" 1 >> "$W/busy.txt"
done
state=$(curl -s "$HARK_SERVER/v1/jobs/$low" | jq -r .state)
"$HARK" pause "$low" > /dev/null
# The command-line client, idle: what a user of `hark ptt` waits, and what
# starting the hark binary alone costs on this machine.
: > "$W/cli.ms"; : > "$W/start.ms"
for _ in $(seq 1 10); do
  t0=$(date +%s%N); "$HARK" ptt "$clip" > /dev/null
  echo "$(( ($(date +%s%N) - t0) / 1000 ))" | awk '{ printf "%.1f\n", $1 / 1000 }' >> "$W/cli.ms"
  t0=$(date +%s%N); "$HARK" --version > /dev/null
  echo "$(( ($(date +%s%N) - t0) / 1000 ))" | awk '{ printf "%.1f\n", $1 / 1000 }' >> "$W/start.ms"
done
"$HARK" cancel "$low" > /dev/null   # its event stream ends
cut -d' ' -f1 "$W/idle.txt" > "$W/idle.ms"
cut -d' ' -f1 "$W/busy.txt" > "$W/busy.ms"
# Overhead: each idle try minus its clip's engine decode time (daemon log).
while read -r ms id _; do
  d=$(grep "job $id chunk 0: dispatch" "$W/serve.log" | sed 's/.*decode \([0-9.]*\) ms/\1/')
  echo "$ms $d" | awk '{ printf "%.1f %.1f\n", $1 - $2, $2 }'
done < "$W/idle.txt" > "$W/overhead.txt"
cut -d' ' -f1 "$W/overhead.txt" > "$W/overhead.ms"
cut -d' ' -f2 "$W/overhead.txt" > "$W/decode.ms"
# Where the time goes, from the daemon's event times (ms resolution): the
# median of each phase over the tries.
phases() { # FILE of "ms id ..." lines
  while read -r _ id _; do
    curl -s -m 5 "$HARK_SERVER/v1/jobs/$id/events" |
      jq -Rr 'select(startswith("data:")) | .[5:] | fromjson | .time' | tr '\n' ' '; echo
  done < "$1" > "$W/phases.txt"
  local q p c
  q=$(awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' "$W/phases.txt" > "$W/ph"; pct "$W/ph" 50)
  p=$(awk '{ printf "%.1f\n", ($3 - $2) * 1000 }' "$W/phases.txt" > "$W/ph"; pct "$W/ph" 50)
  c=$(awk '{ printf "%.1f\n", ($4 - $3) * 1000 }' "$W/phases.txt" > "$W/ph"; pct "$W/ph" 50)
  echo "queued->started $q ms, started->prepared $p ms, prepared->committed $c ms (medians)"
}
idle_phases=$(phases "$W/idle.txt")
busy_phases=$(phases "$W/busy.txt")

# Resume cost: each time the low job takes back a chunk it yielded, what
# that costs before recognition starts (logged when the chunk is yielded
# again or committed).
awk -v job="$low" '
  index($0, "yield job " job " chunk ") { split($0, a, "yield job " job " chunk "); split(a[2], b, " "); want[b[1]] = 1; next }
  index($0, "job " job " chunk ") && /dispatch/ {
    split($0, a, "job " job " chunk "); split(a[2], b, /[: ]/); c = b[1]
    if (seen[c]++ && (c in want)) {
      match($0, /dispatch [0-9.]+/); d = substr($0, RSTART + 9, RLENGTH - 9)
      match($0, /setup [0-9.]+/); s = substr($0, RSTART + 6, RLENGTH - 6)
      printf "%.3f\n", d + s
    }
  }' "$W/serve.log" > "$W/resume.ms"
# The low job's prepare (FFmpeg decode + plan of 40 min): started -> prepared.
prep_s=$(curl -s "$HARK_SERVER/v1/jobs/$low/events" --max-time 5 | awk '
  /^event: started/ { s = 1 } /^event: progress/ { p = 1 }
  /^data:/ { if (s == 1) { match($0, /"time":[0-9.]+/); t0 = substr($0, RSTART + 7, RLENGTH - 7); s = 2 }
             if (p == 1) { match($0, /"time":[0-9.]+/); t1 = substr($0, RSTART + 7, RLENGTH - 7); p = 2 } }
  END { printf "%.2f", t1 - t0 }')

i50=$(pct "$W/idle.ms" 50); i95=$(pct "$W/idle.ms" 95)
b50=$(pct "$W/busy.ms" 50); b95=$(pct "$W/busy.ms" 95)
echo "hark serve, $WORKERS workers, $(nproc) cores; clip 3.0 s; $TRIES tries each"
printf '%-44s %8s %8s\n' "" "p50 ms" "p95 ms"
printf '%-44s %8s %8s\n' "submit-to-text over HTTP, idle daemon" "$i50" "$i95"
printf '%-44s %8s %8s\n' "submit-to-text over HTTP, workers busy" "$b50" "$b95"
printf 'ratio busy/idle: p50 %.3f  p95 %.3f  (target <= 1.10); low job was %s\n' \
  "$(echo "$b50 / $i50" | bc -l)" "$(echo "$b95 / $i95" | bc -l)" "$state"
echo "idle phases: $idle_phases"
echo "busy phases: $busy_phases"
printf '%-44s %8s %8s\n' "engine decode of the clip" "$(pct "$W/decode.ms" 50)" "$(pct "$W/decode.ms" 95)"
printf '%-44s %8s %8s   (target < 20 ms)\n' "overhead (HTTP submit-to-text - decode)" "$(pct "$W/overhead.ms" 50)" "$(pct "$W/overhead.ms" 95)"
printf '%-44s %8s %8s\n' "hark ptt (CLI process), idle daemon" "$(pct "$W/cli.ms" 50)" "$(pct "$W/cli.ms" 95)"
printf '%-44s %8s %8s\n' "hark --version (process start alone)" "$(pct "$W/start.ms" 50)" "$(pct "$W/start.ms" 95)"
printf '%-44s %8s %8s   (%d resumes; target < 5 ms)\n' "resume cost after preemption" \
  "$(pct "$W/resume.ms" 50)" "$(pct "$W/resume.ms" 95)" "$(wc -l < "$W/resume.ms")"
printf 're-decoding the 40-minute input instead would cost %s s (its prepare)\n' "$prep_s"
echo "reproduce: make build && bench/serve_latency.sh build/hark"
