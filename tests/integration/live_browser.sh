#!/usr/bin/env bash
# What a browser sends for live dictation, read as it grows (media/live_input):
# Debian's headless Chromium records the LibriVox clip from its fake
# microphone with MediaRecorder.start(100), in every audio type it can
# (tests/js/media_recorder.mjs), and each recording's blobs are appended
# in order to a growing file that live_input decodes between appends
# (tests/tools/live_feed). For each type Chromium records:
#   - every blob decodes as it arrives, to the end, with no error;
#   - the samples are exactly those of a one-shot ffmpeg decode of the
#     whole recording, and the same when the bytes come 1 or 997 at a time
#     (the sanitizer pass: 1 at a time for the first 16 KB, then the rest);
#   - they are the clip (correlated with it), of the length recorded;
#   - the decoded audio is never far behind the blobs' arrival.
. "$(dirname "$0")/../lib.sh"
FEED=$HARK_BUILD_DIR/live_feed
clip=$DATA/sense_and_sensibility_01_austen_64kb-0870.wav # 7.1 s
secs=$(scaled 5 3)
ffmpeg -nostdin -v error -y -i "$clip" -f s16le -ac 1 -ar 16000 "$T/clip.raw"

js_deps || echo "FAIL npm install"
check "chromium" [ -x /usr/bin/chromium ] || { finish; exit 1; }
check "chromium recorded (rc 0)" \
  timeout 300 node "$JS/media_recorder.mjs" "$T/rec" "$clip" "$secs" 100 \
    'audio/webm;codecs=opus' 'audio/mp4;codecs=opus' 'audio/mp4;codecs=mp4a.40.2' \
    'audio/webm;codecs=pcm' 'audio/ogg;codecs=opus'
while read -r mime; do
  [ -n "$mime" ] && echo "note: this Chromium does not record $mime"
done < "$T/rec/unsupported.txt"
check "chromium recorded audio/webm;codecs=opus" [ -d "$T/rec/audio_webm_codecs_opus" ]
check "chromium recorded audio/mp4;codecs=opus" [ -d "$T/rec/audio_mp4_codecs_opus" ]

# field LINE KEY: a key=value of live_feed's line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p; s/^$2=\([^ ]*\).*/\1/p" <<< "$1" | head -n 1; }

for dir in "$T"/rec/audio_*/; do
  tag=$(basename "$dir")
  case $tag in
    audio_webm*) fmt=webm ;;
    audio_mp4*) fmt=mp4 ;;
    audio_ogg*) fmt=ogg ;;
    *) not_ok "$tag: unknown type"; continue ;;
  esac
  pieces=("$dir"/*.bin)
  cat "${pieces[@]}" > "$T/$tag.whole"
  line=$("$FEED" -o "$T/$tag.raw" -r "$T/clip.raw" -t "$dir/times.txt" "$fmt" "${pieces[@]}")
  rc=$?
  echo "     $tag ($(cat "$dir/mime.txt")): ${#pieces[@]} blobs: $line"
  check "$tag: every blob decoded as it came, to the end (rc $rc)" [ "$rc" -eq 0 ]
  ffmpeg -nostdin -v error -y -i "$T/$tag.whole" -f s16le -ac 1 -ar 16000 "$T/$tag.ref.raw"
  check "$tag: the samples of a one-shot ffmpeg decode" cmp -s "$T/$tag.raw" "$T/$tag.ref.raw"
  for b in 1 997; do
    [ "$b" = 1 ] && [ "$(stat -c %s "$T/$tag.whole")" -gt 300000 ] && continue # PCM: 1.5 MB
    # The sanitizer pass appends 1 byte at a time up to byte 16384 (the
    # header and the first clusters, fragments or pages: every kind of
    # structure split at every byte), then the rest at once.
    "$FEED" -o "$T/$tag.b$b.raw" -b "$b" $([ "$b" = 1 ] && scaled "" "-u 16384") "$fmt" "$T/$tag.whole" > /dev/null
    check "$tag: the same samples from $b-byte appends" cmp -s "$T/$tag.b$b.raw" "$T/$tag.raw"
  done
  samples=$(field "$line" samples)
  check "$tag: $samples samples: the $secs s recorded" le "$((secs * 16000 - 16000))" "${samples:-0}"
  check "$tag: correlated with the clip ($(field "$line" ref_correlation))" \
    le 0.9 "$(field "$line" ref_correlation)"
  check "$tag: at most 250 ms behind the blobs ($(field "$line" lag_max_ms) ms)" \
    le "$(field "$line" lag_max_ms)" 250
done
finish
