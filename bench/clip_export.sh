#!/usr/bin/env bash
# bench/clip_export.sh [BUILD_DIR]
#
# Stream-copy clip export (media/clip.h, CLIP_COPY): 10 clips of 15 s spread
# over a 1-hour 320x240 h264 + aac mp4 (GOP 2 s), timed one by one inside
# one process (clip_test --bench: open, seek, copy, fsync, rename per clip).
# The target (issue 11) is well under 1 s for the 10. For comparison, the
# same on a 10-minute cut of it (the time per clip should not grow with the
# input's length: the demuxer's index is read once per clip, the rest is a
# seek), and on a 1-hour matroska (h264 + aac) remuxed from it. The peer,
# in the same run: the ffmpeg CLI making the same 10 clips
# (`ffmpeg -ss START -i IN -t 15 -c copy`), a process each.
#
# The inputs are generated once with the ffmpeg CLI into $CACHE
# (/tmp/hark-bench-clips by default; about 2 minutes and 200 MB the first
# time) and reused.
# Reproduce: cmake --build build --target clip_test && bench/clip_export.sh build
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
CACHE=${CACHE:-/tmp/hark-bench-clips}
N=${N:-10}
mkdir -p "$CACHE"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

if [ ! -s "$CACHE/1h.mp4" ]; then
    echo "generating $CACHE/1h.mp4 (once)..." >&2
    ff -f lavfi -i testsrc=size=320x240:rate=30 -f lavfi -i "sine=frequency=440:sample_rate=44100" \
        -t 3600 -c:v libx264 -preset ultrafast -g 60 -c:a aac -b:a 96k -f mp4 "$CACHE/1h.mp4.part"
    mv "$CACHE/1h.mp4.part" "$CACHE/1h.mp4"
fi
if [ ! -s "$CACHE/10m.mp4" ]; then
    ff -i "$CACHE/1h.mp4" -t 600 -c copy -f mp4 "$CACHE/10m.mp4.part"
    mv "$CACHE/10m.mp4.part" "$CACHE/10m.mp4"
fi
if [ ! -s "$CACHE/1h.mkv" ]; then
    ff -i "$CACHE/1h.mp4" -c copy -f matroska "$CACHE/1h.mkv.part"
    mv "$CACHE/1h.mkv.part" "$CACHE/1h.mkv"
fi

echo "clip export by stream copy, $N clips of 15 s each ($(nproc) cores, $(date -u +%F))"
for f in 1h.mp4 10m.mp4 1h.mkv; do
    # Warm the page cache first: the figure is the export, not the disk.
    cat "$CACHE/$f" >/dev/null
    "$BUILD/clip_test" --bench "$CACHE/$f" "$N"
done
# The peer: the same starts as clip_test --bench ((dur - 30) * (i + 0.5) / N).
peer() {
    local in=$1 dur ext=${1##*.} out t0 t1
    dur=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$in")
    out=$(mktemp -d /tmp/hark-clip-peer-XXXXXX)
    t0=$(date +%s.%N)
    for i in $(seq 0 $((N - 1))); do
        ff -ss "$(echo "($dur - 30) * ($i + 0.5) / $N" | bc -l)" -i "$in" -t 15 -c copy "$out/$i.$ext"
    done
    t1=$(date +%s.%N)
    echo "peer: ffmpeg CLI, $N copies of 15 s from $in: $(printf "%.3f" "$(echo "$t1 - $t0" | bc -l)") s total"
    rm -rf "$out"
}
peer "$CACHE/1h.mp4"
echo "reproduce: cmake --build build --target clip_test && bench/clip_export.sh build"
