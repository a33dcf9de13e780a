#!/usr/bin/env bash
# bench/highlights.sh [HARK]
#
# The highlights kind's costs (issue 11), each against its peer in the same
# run, as ratios (the machine is shared and noisy):
#  1. audio alone: `hark highlights --no-transcript` of a 1-hour recording
#     (decode, plan, loudness + spectral features, ranking, chapters)
#     against one loudness pass, `ffmpeg -i FILE -af ebur128 -f null -`;
#     target: hark / ffmpeg <= 1;
#  2. with the transcript: `hark highlights` against `hark transcribe` of the
#     same 10-minute recording, alternating, twice each; target: <= 1.05;
#  3. peak memory (max RSS, GNU time) of `hark highlights --no-transcript`
#     of the 1-hour recording against a 10-minute one; target: <= 1.10;
#  4. 10 clips by stream copy from a 1-hour video, in the worker's code
#     (bench/clip_export.sh: clip_test --bench); target: under 1 s in total.
# Recordings come from tests/tools/make_vod.sh (LibriVox narration, planted
# moments, dead air), made once into $CACHE.
# Reproduce: make build && bench/highlights.sh build/hark
set -euo pipefail
cd "$(dirname "$0")/.."
HARK=$(realpath "${1:-build/hark}")
BUILD=$(dirname "$HARK")
CACHE=${CACHE:-/tmp/hark-bench-highlights}
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$CACHE"
[ -s "$CACHE/60/vod.wav" ] || bash tests/tools/make_vod.sh "$CACHE/60" --minutes 60 > /dev/null
[ -s "$CACHE/10/vod.wav" ] || bash tests/tools/make_vod.sh "$CACHE/10" --minutes 10 > /dev/null
cat "$CACHE/60/vod.wav" "$CACHE/10/vod.wav" > /dev/null # warm the page cache

secs() { # COMMAND...: wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
rss_kb() { # COMMAND...: max RSS in KiB of the command and its descendants
  /usr/bin/time -f %M "$@" 2>&1 > /dev/null | tail -n 1
}
hl() { rm -rf "$W/state" "$W/out"; "$HARK" highlights -q --state-dir "$W/state" -o "$W/out" "$@"; }
tr() { rm -rf "$W/state" "$W/out"; "$HARK" transcribe -q --state-dir "$W/state" -o "$W/out" "$@"; }

echo "hark highlights ($(nproc) cores, $(date -u +%F), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"

# 1. audio alone vs one ebur128 pass, alternating
h1=0 f1=0
for _ in 1 2; do
  f=$(secs ffmpeg -nostdin -hide_banner -i "$CACHE/60/vod.wav" -af ebur128 -f null -)
  h=$(secs hl --no-transcript "$CACHE/60/vod.wav")
  f1=$(awk -v a="$f1" -v b="$f" 'BEGIN { print a + b }')
  h1=$(awk -v a="$h1" -v b="$h" 'BEGIN { print a + b }')
done
echo "1. 1 h, audio alone: hark highlights --no-transcript $(ratio "$h1" 2) s," \
  "ffmpeg -af ebur128 $(ratio "$f1" 2) s: ratio $(ratio "$h1" "$f1") (target <= 1)"

# 2. with the transcript vs transcribe, 10 min, alternating
t2=0 h2=0
for _ in 1 2; do
  t=$(secs tr "$CACHE/10/vod.wav")
  h=$(secs hl "$CACHE/10/vod.wav")
  t2=$(awk -v a="$t2" -v b="$t" 'BEGIN { print a + b }')
  h2=$(awk -v a="$h2" -v b="$h" 'BEGIN { print a + b }')
done
echo "2. 10 min, with the transcript: hark highlights $(ratio "$h2" 2) s, hark transcribe" \
  "$(ratio "$t2" 2) s: ratio $(ratio "$h2" "$t2") (target <= 1.05)"

# 3. peak memory, 1 h vs 10 min
m60=$(rss_kb bash -c "rm -rf '$W/state' '$W/out'; '$HARK' highlights -q --no-transcript --state-dir '$W/state' -o '$W/out' '$CACHE/60/vod.wav'")
m10=$(rss_kb bash -c "rm -rf '$W/state' '$W/out'; '$HARK' highlights -q --no-transcript --state-dir '$W/state' -o '$W/out' '$CACHE/10/vod.wav'")
echo "3. peak memory: 1 h $((m60 / 1024)) MiB, 10 min $((m10 / 1024)) MiB: ratio $(ratio "$m60" "$m10") (target <= 1.10)"

# 4. stream copy of 10 clips from a 1-hour video
if [ -x "$BUILD/clip_test" ]; then
  echo "4. clip export by stream copy:"
  bash bench/clip_export.sh "$BUILD" | sed 's/^/   /'
fi
echo "reproduce: bench/highlights.sh $HARK"
