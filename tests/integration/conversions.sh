#!/usr/bin/env bash
# The same speech in many containers, codecs, rates and channel layouts
# transcribes as well as the original 16 kHz WAV. Lossless conversions
# (resampling, remixing, other sample formats) give the original's text, a
# word at most apart. Lossy codecs and 8 kHz band-limiting change a few
# words; for those what matters is accuracy, so their word error rate
# against the clip's true transcript may exceed the original's by a small
# margin only (a lossy copy is sometimes transcribed *better*, which a
# comparison with the original's own output would wrongly count as a
# difference).
. "$(dirname "$0")/../lib.sh"
"$HARK_SOURCE_DIR/tests/corpus/make-conversions.sh" "$T/conv" || { not_ok "conversions generated"; finish; exit 1; }
orig=$DATA/sense_and_sensibility_01_austen_64kb-0870.wav
"$HARK" transcribe -q -o "$T/ref" -f txt "$orig"
ref=$T/ref/sense_and_sensibility_01_austen_64kb-0870.txt
check "original transcribed" [ -s "$ref" ]
ref_text sense_and_sensibility_01_austen_64kb-0870 "$T/truth.txt"
orig_wer=$(wer_of "$T/truth.txt" "$ref")

# The sanitizer pass (HARK_TEST_QUICK) takes three: resampling with a
# downmix, a lossy codec, a video container. The compressed ones are also
# fuzz_decode's seeds, run through hark's decode path under ASan there.
files=$(scaled "$(echo "$T"/conv/*)" "$T/conv/speech-44k-stereo.wav $T/conv/speech.mp3 $T/conv/speech.mp4")
n=0
for f in $files; do
  name=$(basename "$f"); n=$((n + 1))
  rm -rf "$T/out"
  "$HARK" transcribe -q --stdout "$f" > "$T/hyp.txt" 2> "$T/err"; rc=$?
  if [ $rc -ne 0 ]; then not_ok "$name: exit $rc: $(cat "$T/err")"; continue; fi
  case $name in
    *8k*) mode=truth limit=25 ;;   # what the model hears above 4 kHz is gone
    *.wav|*.flac) mode=same limit=5 ;;
    *) mode=truth limit=15 ;;
  esac
  if [ $mode = same ]; then
    w=$(wer_of "$ref" "$T/hyp.txt")
    check "$name: differs from the original by $w% of words (limit $limit%)" le "$w" "$limit"
  else
    w=$(wer_of "$T/truth.txt" "$T/hyp.txt")
    check "$name: WER $w% against the original's $orig_wer% (margin $limit points)" \
      le "$w" "$(echo "$orig_wer + $limit" | bc -l)"
  fi
done
check "at least $(scaled 12 3) conversions tried ($n)" [ "$n" -ge "$(scaled 12 3)" ]
finish
