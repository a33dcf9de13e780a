#!/usr/bin/env bash
# `hark highlights` on generated stream VODs (tests/tools/make_vod.sh): six
# excited moments over crowd noise, a minute of dead air, LibriVox narration
# under a noise floor. Two recordings, so the method is not tuned to one:
#   a  15 minutes, judged on the audio alone (--no-transcript), audio clips
#      (mp3): the top 10 cover at least 5 of the 6 moments (a clip contains
#      the moment's start, within 3 s), none falls in the dead air, the
#      dead air is reported; the clips decode with the expected duration
#      (within 0.1 s)
#   b  another variant and seed, 6 minutes of video (H.264 + AAC mp4), with
#      the transcript (the recognizer is what costs: 6 minutes keep the
#      test cheap), clips by stream copy: same coverage; each clip keeps its
#      video and audio streams, is not re-encoded, and lasts the highlight
#      within one GOP (2 s)
# and, for both, chapters by YouTube's rules and an EDL by its grammar.
# The sanitizer pass makes 5- and 3-minute recordings (the same six moments).
. "$(dirname "$0")/../lib.sh"
TOOLS=$HARK_SOURCE_DIR/tests/tools
MIN_A=$(scaled 15 5)
MIN_B=$(scaled 6 3)
GOP=2

# probe FILE ENTRY: one ffprobe value (format or first stream of a type).
duration_of() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }
streams_of() { ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$1" | sort | tr '\n' ' '; }
codec_of() { ffprobe -v error -select_streams "$2" -show_entries stream=codec_name -of csv=p=0 "$1" | head -n1; }

# check_outputs CASE OUTDIR TRUTH STEM
check_outputs() {
  local c=$1 out=$2 truth=$3 stem=$4
  check "$c: highlights cover >= 5 of 6 moments, none in dead air, dead air reported" \
    python3 "$TOOLS/check_highlights.py" "$out/$stem.highlights.json" "$truth" --top 10 --need 5 --tolerance 3
  check "$c: chapters follow YouTube's rules, Podcasting 2.0 JSON agrees" \
    python3 "$TOOLS/check_chapters.py" "$out/$stem.chapters.txt" "$out/$stem.chapters.json" \
    --duration "$(jq -r .duration "$truth")"
  local n; n=$(jq '.highlights | length' "$out/$stem.highlights.json")
  check "$c: EDL parses, one marker per highlight ($n)" python3 "$TOOLS/check_edl.py" "$out/$stem.edl" --events "$n"
  check "$c: highlights in time order, ranks 1..$n" \
    jq -e '(.highlights | length) as $n | [.highlights[].start] == ([.highlights[].start] | sort) and ([.highlights[].rank] | sort) == [range(1; $n + 1)]' \
    "$out/$stem.highlights.json"
  check "$c: one clip per highlight" [ "$(ls "$out/$stem.clips" | wc -l)" -eq "$n" ]
  check "$c: no partial clip left" [ -z "$(ls -A "$out/$stem.clips" | grep '^\.')" ]
}

# ---- a: 15 minutes, the audio alone, mp3 clips ----
bash "$TOOLS/make_vod.sh" "$T/a" --minutes "$MIN_A" --variant a --seed 1 || not_ok "recording a made"
"$HARK" highlights -q -o "$T/out-a" --no-transcript --clips --clip-format mp3 "$T/a/vod.wav" 2> "$T/err-a"; rc=$?
check "a: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/err-a"
check_outputs a "$T/out-a" "$T/a/truth.json" vod
check "a: no transcript without one" [ ! -e "$T/out-a/vod.txt" -a ! -e "$T/out-a/vod.json" ]
bad=0
while read -r rank start end; do
  f=$(ls "$T/out-a/vod.clips/" | grep "^$(printf %02d "$rank")-")
  d=$(duration_of "$T/out-a/vod.clips/$f")
  want=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
  if ! awk -v d="$d" -v w="$want" 'BEGIN { exit !(d - w < 0.1 && w - d < 0.1) }' ||
     [ "$(codec_of "$T/out-a/vod.clips/$f" a)" != mp3 ]; then
    echo "clip $f: $d s, want $want s, codec $(codec_of "$T/out-a/vod.clips/$f" a)"; bad=$((bad + 1))
  fi
  s=$(printf %.0f "$(awk -v s="$start" 'BEGIN { print int(s) }')")
  name=$(printf '%02d-%02dh%02dm%02ds.mp3' "$rank" $((s / 3600)) $((s / 60 % 60)) $((s % 60)))
  [ "$f" = "$name" ] || { echo "clip $f: want the name $name"; bad=$((bad + 1)); }
done < <(jq -r '.highlights[] | "\(.rank) \(.start) \(.end)"' "$T/out-a/vod.highlights.json")
check "a: every clip is mp3, named NN-HHhMMmSSs.mp3, its length within 0.1 s" [ $bad -eq 0 ]

# ---- b: another recording, video, with the transcript, stream copy ----
bash "$TOOLS/make_vod.sh" "$T/b" --minutes "$MIN_B" --variant b --seed 7 --video || not_ok "recording b made"
"$HARK" highlights -q -o "$T/out-b" --clips --clip-format copy "$T/b/vod.mp4" 2> "$T/err-b"; rc=$?
check "b: exit 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/err-b"
check_outputs b "$T/out-b" "$T/b/truth.json" vod
check "b: the transcript is written too" [ -s "$T/out-b/vod.txt" -a -s "$T/out-b/vod.json" ]
check "b: highlight texts come from the transcript" \
  jq -e '[.highlights[] | select(.text != "")] | length > 0' "$T/out-b/vod.highlights.json"
bad=0
while read -r rank start end; do
  f=$(ls "$T/out-b/vod.clips/" | grep "^$(printf %02d "$rank")-")
  d=$(duration_of "$T/out-b/vod.clips/$f")
  want=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
  if ! awk -v d="$d" -v w="$want" -v g=$GOP 'BEGIN { exit !(d > w - 0.1 && d < w + g + 0.1) }' ||
     [ "$(streams_of "$T/out-b/vod.clips/$f")" != "audio video " ] ||
     [ "$(codec_of "$T/out-b/vod.clips/$f" v)" != h264 ] || [ "${f##*.}" != mp4 ]; then
    echo "clip $f: $d s (want $want s + at most one GOP), streams $(streams_of "$T/out-b/vod.clips/$f")"
    bad=$((bad + 1))
  fi
done < <(jq -r '.highlights[] | "\(.rank) \(.start) \(.end)"' "$T/out-b/vod.highlights.json")
check "b: every clip is an mp4 with its video and audio, copied, within one GOP" [ $bad -eq 0 ]
# Stream copy: the packets are the input's (no re-encode): the clip's
# video bitrate is the input's, not an encoder's default.
f=$(ls "$T/out-b/vod.clips/" | head -n1)
check "b: the video is copied, not re-encoded (same codec profile and size)" [ \
  "$(ffprobe -v error -select_streams v -show_entries stream=profile,width,height -of csv=p=0 "$T/out-b/vod.clips/$f")" = \
  "$(ffprobe -v error -select_streams v -show_entries stream=profile,width,height -of csv=p=0 "$T/b/vod.mp4")" ]
check "work area clean after both" work_is_clean
check "no artifacts left in the state directory" [ -z "$(ls -A "$XDG_STATE_HOME/hark/artifacts" 2>/dev/null)" ]
finish
