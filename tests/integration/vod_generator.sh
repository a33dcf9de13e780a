#!/usr/bin/env bash
# tests/tools/make_vod.sh, the highlights tests' recording generator, makes
# what its truth.json says: the length, six moments louder than the
# narration, a quiet minute of dead air, another recording for variant b,
# the same bytes for the same seed, and a video with a keyframe every 2 s.
. "$(dirname "$0")/../lib.sh"
GEN=$HARK_SOURCE_DIR/tests/tools/make_vod.sh
jqt() { jq -e "$@" >/dev/null; } # a jq test (the ok line stays visible)

"$GEN" "$T/a" --minutes 5 --seed 3
check "variant a: exit 0" [ $? -eq 0 ]
"$GEN" "$T/b" --minutes 5 --seed 3 --variant b
check "variant b: exit 0" [ $? -eq 0 ]
for v in a b; do
  check "$v: vod.wav and truth.json written" [ -s "$T/$v/vod.wav" -a -s "$T/$v/truth.json" ]
  check "$v: 300 s long, as truth.json says" \
    bash -c "[ \"\$(soxi -s '$T/$v/vod.wav')\" -eq 4800000 ] && [ \"\$(jq .duration '$T/$v/truth.json')\" = 300 ]"
  check "$v: at least six moments, in time order, 3-6 s long, inside the recording" jqt '
    (.moments | length >= 6) and (.moments | map(.start) == (map(.start) | sort))
    and all(.moments[]; .start >= 5 and .end <= 295 and (.end - .start) >= 3 and (.end - .start) <= 6
                        and (.phrase | length > 0))' "$T/$v/truth.json"
  check "$v: a minute of dead air, no moment within 10 s of it" jqt '
    .dead_air as $d | ($d.end - $d.start - 60 | fabs) < 0.001 and $d.start > 0 and $d.end < .duration
    and all(.moments[]; .end <= $d.start - 10 or .start >= $d.end + 10)' "$T/$v/truth.json"
done
check "variants a and b differ: dead air, positions and phrases" jqt -n --slurpfile a "$T/a/truth.json" \
  --slurpfile b "$T/b/truth.json" '$a[0] as $a | $b[0] as $b
  | ($a.dead_air.start - $b.dead_air.start | fabs) > 30
  # no more than two of b'"'"'s moments within 5 s of one of a'"'"'s
  and ([$b.moments[] | .start as $s | select(any($a.moments[]; (.start - $s | fabs) < 5))] | length) <= 2
  and ($a.moments | map(.phrase)) != ($b.moments | map(.phrase))'

"$GEN" "$T/a2" --minutes 5 --seed 3
check "the same seed gives the same bytes" \
  bash -c "cmp -s '$T/a/vod.wav' '$T/a2/vod.wav' && cmp -s '$T/a/truth.json' '$T/a2/truth.json'"
"$GEN" "$T/c" --minutes 5 --seed 4
check "another seed moves the moments" \
  bash -c "[ \"\$(jq -c '[.moments[].start]' '$T/a/truth.json')\" != \"\$(jq -c '[.moments[].start]' '$T/c/truth.json')\" ]"

# Loudness (EBU R128, 100 ms steps): "t M S" lines.
loudness() {
  ffmpeg -nostdin -hide_banner -v verbose -i "$1" -af ebur128=framelog=verbose -f null - 2>&1 |
    sed -n 's/.* t: *\([0-9.]*\) .* M: *\([-0-9.]*\) S: *\([-0-9.]*\) .*/\1 \2 \3/p'
}
for v in a b; do
  loudness "$T/$v/vod.wav" > "$T/$v.lu"
  # Windows as "start end" lines: the moments, and the dead air.
  jq -r '.moments[] | "\(.start) \(.end)"' "$T/$v/truth.json" > "$T/$v.moments"
  jq -r '"\(.dead_air.start) \(.dead_air.end)"' "$T/$v/truth.json" > "$T/$v.dead"
  # The narration's median short-term loudness: frames whose 3 s window
  # touches no moment and no dead air.
  median=$(awk 'FNR == NR { s[n] = $1; e[n++] = $2; next }
                { for (i = 0; i < n; i++) if ($1 > s[i] - 1 && $1 - 3 < e[i] + 1) next; print $3 }' \
             <(cat "$T/$v.moments" "$T/$v.dead") "$T/$v.lu" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  # Each moment: its loudest 3 s is at least 2 LU over that median (planted
  # 3-8 LU over the narration's integrated loudness).
  quiet=$(while read -r s e; do
            awk -v s="$s" -v e="$e" -v m="$median" '$1 >= s + 1 && $1 <= e + 1 && $3 > max { max = $3 }
              BEGIN { max = -200 } END { if (max < m + 2) printf "%s(%.1f) ", s, max - m }' "$T/$v.lu"
          done < "$T/$v.moments")
  check "$v: every moment's short-term loudness is 2+ LU over the narration's median ($median LUFS)${quiet:+; not: $quiet}" \
    [ -z "$quiet" ]
  read -r ds de < "$T/$v.dead"
  dead_max=$(awk -v s="$ds" -v e="$de" '$1 >= s + 0.5 && $1 <= e && $2 > max { max = $2 }
                BEGIN { max = -200 } END { print max }' "$T/$v.lu")
  check "$v: the dead air stays 25+ LU under the narration (loudest 400 ms: $dead_max LUFS)" \
    le "$dead_max" "$(awk -v m="$median" 'BEGIN { print m - 25 }')"
done

# Video: H.264 + AAC, the full length, a keyframe every 2 s.
"$GEN" "$T/v" --minutes 3 --video --seed 5
check "--video: exit 0, vod.mp4 and truth.json" [ $? -eq 0 -a -s "$T/v/vod.mp4" -a -s "$T/v/truth.json" ]
check "--video: an h264 and an aac stream, 180 s" bash -c "
  [ \"\$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '$T/v/vod.mp4' | sort | tr '\n' ' ')\" = 'aac h264 ' ] &&
  ffprobe -v error -show_entries format=duration -of csv=p=0 '$T/v/vod.mp4' | awk '{ exit !(\$1 > 179.9 && \$1 < 180.1) }'"
check "--video: keyframes every 2 s" bash -c "
  ffprobe -v error -select_streams v -skip_frame nokey -show_entries frame=pts_time -of csv=p=0 '$T/v/vod.mp4' |
    tr -d , | awk 'NF { if (\$1 + 0 != 2 * n++) exit 1 } END { exit !(n == 90) }'"

"$GEN" "$T/x" --minutes 2 2>/dev/null
check "--minutes under 3 is refused" [ $? -eq 2 ]
finish
