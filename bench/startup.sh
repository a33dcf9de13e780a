#!/usr/bin/env bash
# bench/startup.sh [BUILD_DIR]
#
# What a command costs before it does anything, averaged over N runs (20):
#  - a client command (`hark show` against a port nobody listens on) run by
#    the front end `hark` and, for comparison in the same run, by
#    `hark-engine`, which links FFmpeg, PocketSphinx, SQLite and
#    libmicrohttpd (the one binary of before the split);
#  - `hark transcribe` of a text file (fails in prepare: workers load their
#    model in the background and are told to stop before it is done) and of
#    a missing model (refused before any worker starts);
#  - `hark transcribe` of a 3-second clip, whole.
# Prints wall milliseconds per run and CPU (user+sys) milliseconds per run.
# Reproduce: make build && bench/startup.sh build
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
N=${N:-20}
CLIP=/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "not audio" > "$W/notes.txt"

# per_run LABEL N COMMAND...: wall and CPU milliseconds per run of COMMAND.
per_run() {
  local label=$1 n=$2; shift 2
  local t0 t1 c0 c1
  read -r c0 < <(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  t0=$(date +%s%N)
  for _ in $(seq "$n"); do "$@" > /dev/null 2>&1 || true; done
  t1=$(date +%s%N)
  read -r c1 < <(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  local tick; tick=$(getconf CLK_TCK)
  printf '%-46s %8.1f ms wall %8.1f ms CPU\n' "$label" \
    "$(echo "($t1 - $t0) / 1000000 / $n" | bc -l)" "$(echo "($c1 - $c0) * 1000 / $tick / $n" | bc -l)"
}

echo "bench/startup.sh: $N runs each (CPU includes the children's)"
per_run "hark show (front end, 35 libraries)" "$N" \
  "$B/hark" show j0000000000000000 --server http://127.0.0.1:9
per_run "hark-engine show (153 libraries)" "$N" \
  "$B/hark-engine" show j0000000000000000 --server http://127.0.0.1:9
per_run "hark transcribe notes.txt (bad input)" "$N" \
  "$B/hark" transcribe -q --state-dir "$W/s1" -o "$W/o" "$W/notes.txt"
HARK_MODEL_DIR=$W/none per_run "hark transcribe with no model" "$N" \
  "$B/hark" transcribe -q --state-dir "$W/s2" -o "$W/o" "$CLIP"
per_run "hark transcribe of a 3 s clip" "$((N / 4 > 0 ? N / 4 : 1))" \
  "$B/hark" transcribe -q --state-dir "$W/s3" -o "$W/o" "$CLIP"
echo "reproduce: make build && bench/startup.sh $B"
