#!/usr/bin/env bash
# The five LibriVox clips of pocketsphinx-testdata, transcribed in one batch,
# scored against the transcription file shipped beside them. Debian's
# pocketsphinx_continuous -infile scores 35.2% WER on them with this model;
# hark must be no worse than 36%.
. "$(dirname "$0")/../lib.sh"

"$HARK" transcribe -q -o "$T/out" "$DATA"/*.wav 2> "$T/err"
check "batch of five clips exits 0" [ $? -eq 0 ]
check "nothing on stderr with -q" [ ! -s "$T/err" ]

pairs=()
for f in "$DATA"/*.wav; do
  id=$(basename "$f" .wav)
  ref_text "$id" "$T/$id.ref"
  pairs+=("$T/$id.ref" "$T/out/$id.txt")
  check "$id: txt and json written" [ -s "$T/out/$id.txt" -a -s "$T/out/$id.json" ]
  dur=$(soxi -D "$f")
  check "$id: json is valid, words timed inside the recording with confidences in [0,1]" \
    jq -e --argjson d "$dur" '
      (.segments | length) > 0 and
      ([.segments[].words[]] | length) > 0 and
      all(.segments[].words[]; .start >= 0 and .start < .end and .end <= $d + 0.001
                              and .confidence >= 0 and .confidence <= 1) and
      (.text | length) > 0 and .duration > 0' "$T/out/$id.json" >/dev/null
done

"$WER" "${pairs[@]}"
wer=$(wer_of "${pairs[@]}")
check "WER $wer% is at most 36%" le "$wer" 36
check "no work directories left behind" work_is_clean
finish
