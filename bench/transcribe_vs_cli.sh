#!/usr/bin/env bash
# bench/transcribe_vs_cli.sh [HARK]
#
# A 6-minute recording built from the pocketsphinx-testdata LibriVox clips
# (repeated, 0.5 s pauses), transcribed by `hark transcribe` and by Debian's
# `pocketsphinx_continuous -infile` in the same run, same model. Prints wall
# time, the ratio, both word error rates and peak memory (max RSS). hark
# decodes without PocketSphinx's second (flat-lexicon) pass; the CLI runs
# at its defaults (the peer as users run it) and, for a like-for-like
# search, once more with -fwdflat no.
# Reproduce: make build && bench/transcribe_vs_cli.sh build/hark
set -euo pipefail
cd "$(dirname "$0")/.."
HARK=${1:-build/hark}
WER=$(dirname "$HARK")/hark_wer
DATA=/usr/share/pocketsphinx/test/data/librivox
REPS=${REPS:-14}
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_STATE_HOME=$W/state

sox -n -r 16000 -c 1 -b 16 "$W/gap.wav" trim 0 0.5
inputs=(); : > "$W/ref.txt"
for _ in $(seq "$REPS"); do
  for f in "$DATA"/*.wav; do
    inputs+=("$f" "$W/gap.wav")
    grep "($(basename "$f" .wav))" "$DATA/transcription" >> "$W/ref.txt"
  done
done
sox "${inputs[@]}" "$W/long.wav"
dur=$(soxi -D "$W/long.wav")

# run NAME CMD...: wall seconds and max RSS (KiB) into $W/NAME.time
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/$name.time" "$@" > "$W/$name.txt" 2> "$W/$name.err"
}
run hark "$HARK" transcribe -q --stdout "$W/long.wav"
run cli pocketsphinx_continuous -infile "$W/long.wav"
run cli1 pocketsphinx_continuous -infile "$W/long.wav" -fwdflat no

read -r hark_s hark_kb < "$W/hark.time"
read -r cli_s cli_kb < "$W/cli.time"
read -r cli1_s cli1_kb < "$W/cli1.time"
hark_wer=$("$WER" "$W/ref.txt" "$W/hark.txt" | sed 's/.*wer=//')
cli_wer=$("$WER" "$W/ref.txt" "$W/cli.txt" | sed 's/.*wer=//')
cli1_wer=$("$WER" "$W/ref.txt" "$W/cli1.txt" | sed 's/.*wer=//')
printf 'recording: %.1f s (%d x the 5 LibriVox clips), %s cores\n' "$dur" "$REPS" "$(nproc)"
printf '%-26s %8s %8s %10s %8s\n' "" "wall s" "x rt" "peak MiB" "WER"
printf '%-26s %8.2f %8.1f %10.1f %8s\n' "hark transcribe" "$hark_s" "$(echo "$dur / $hark_s" | bc -l)" "$(echo "$hark_kb / 1024" | bc -l)" "$hark_wer"
printf '%-26s %8.2f %8.1f %10.1f %8s\n' "pocketsphinx_continuous" "$cli_s" "$(echo "$dur / $cli_s" | bc -l)" "$(echo "$cli_kb / 1024" | bc -l)" "$cli_wer"
printf '%-26s %8.2f %8.1f %10.1f %8s\n' "  the same, -fwdflat no" "$cli1_s" "$(echo "$dur / $cli1_s" | bc -l)" "$(echo "$cli1_kb / 1024" | bc -l)" "$cli1_wer"
printf 'speed ratio (cli wall / hark wall): %.2f  (>= 1.00 means hark is not slower)\n' "$(echo "$cli_s / $hark_s" | bc -l)"
printf 'speed ratio against the CLI with -fwdflat no: %.2f\n' "$(echo "$cli1_s / $hark_s" | bc -l)"
echo "reproduce: make build && bench/transcribe_vs_cli.sh build/hark"
