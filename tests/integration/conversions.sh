#!/usr/bin/env bash
# The same speech in many containers, codecs, rates and channel layouts
# transcribes to the same text as the original 16 kHz WAV, within a small
# tolerance (lossy codecs and 8 kHz band-limiting change a few words).
. "$(dirname "$0")/../lib.sh"
"$HARK_SOURCE_DIR/tests/corpus/make-conversions.sh" "$T/conv" || { not_ok "conversions generated"; finish; exit 1; }
orig=$DATA/sense_and_sensibility_01_austen_64kb-0870.wav
"$HARK" transcribe -q -o "$T/ref" -f txt "$orig"
ref=$T/ref/sense_and_sensibility_01_austen_64kb-0870.txt
check "original transcribed" [ -s "$ref" ]

n=0
for f in "$T"/conv/*; do
  name=$(basename "$f"); n=$((n + 1))
  rm -rf "$T/out"
  "$HARK" transcribe -q --stdout "$f" > "$T/hyp.txt" 2> "$T/err"; rc=$?
  if [ $rc -ne 0 ]; then not_ok "$name: exit $rc: $(cat "$T/err")"; continue; fi
  w=$(wer_of "$ref" "$T/hyp.txt")
  # Lossless conversions (resampling, remixing, other sample formats) may
  # change a word at most; lossy codecs a few of this clip's 22 words;
  # band-limited 8 kHz audio loses what the 16 kHz model hears above 4 kHz.
  case $name in
    *8k*) limit=30 ;;
    *.wav|*.flac) limit=5 ;;
    *) limit=20 ;;
  esac
  check "$name: differs from the original by $w% of words (limit $limit%)" le "$w" "$limit"
done
check "at least 12 conversions tried ($n)" [ "$n" -ge 12 ]
finish
