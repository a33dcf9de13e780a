#!/usr/bin/env bash
# make demo: transcribe Debian's LibriVox test clips and show the result.
set -euo pipefail
HARK=${1:-build/hark}
DATA=/usr/share/pocketsphinx/test/data/librivox
OUT=out/demo
mkdir -p "$OUT"
echo "== hark transcribe -o $OUT -f txt,json,srt,vtt,tsv,verbose_json $DATA/*.wav"
"$HARK" transcribe -o "$OUT" -f txt,json,srt,vtt,tsv,verbose_json "$DATA"/*.wav
echo
for f in "$DATA"/*.wav; do
  name=$(basename "$f" .wav)
  echo "== $name"
  echo "   text:     $(tr '\n' ' ' < "$OUT/$name.txt")"
  echo "   expected: $(grep "($name)" "$DATA/transcription" | sed -e 's/<[^>]*>//g' -e 's/([^)]*)//' -e 's/  */ /g' -e 's/^ //')"
done
echo
echo "Output files are in $(cd "$OUT" && pwd):"
ls "$OUT" | sed 's/^/  /' | head -12
echo "  ... ($(ls "$OUT" | wc -l) files: txt, json, srt, vtt, tsv, verbose.json for each clip)"
