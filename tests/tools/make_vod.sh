#!/usr/bin/env bash
# make_vod.sh OUT_DIR [--seed N] [--minutes M] [--video [--wav-too]] [--variant a|b]
#
# Writes a synthetic stream VOD with planted highlights at known times, for
# the highlights tests (issue 11):
#   OUT_DIR/vod.wav   (16 kHz mono), or OUT_DIR/vod.mp4 with --video
#                     (320x240 flat colour at 15 fps, H.264 ultrafast, a
#                     keyframe every 2 s exactly; the same audio as AAC
#                     16 kHz mono 48 kb/s); with --wav-too, vod.wav as well
#   OUT_DIR/truth.json {"duration", "moments": [{"start", "end", "phrase",
#                     "level_lu", "voice"}], "dead_air": {"start", "end"},
#                     "seed", "variant", "minutes", "narration_lufs"}
#
# Content, in order of the timeline:
#   - LibriVox narration (the five pocketsphinx-testdata clips, each set to
#     the same RMS level, in a seeded order with 0.25-1.0 s pauses between);
#   - six moments: the narrator stops and an excited phrase spoken by
#     espeak-ng (its voice, pitch and speed seeded) plays over a crowd-like
#     burst (pink noise, band-passed, with a tremolo and a 0.25 s attack),
#     3-6 s long, the whole burst's loudness LEVEL LU (3-8, seeded) over the
#     narration's (EBU R128 integrated loudness, what a listener hears, not
#     RMS: the crowd's highs weigh more); the phrase begins 0.4 s in, 5 dB
#     over the crowd; a moment's "start" is the burst's first sample;
#   - one minute of dead air (nothing but the noise floor);
#   - a pink-noise floor 33 dB (RMS) below the narration under all of it.
# Moments sit one per sixth of the non-dead-air timeline, with at least 10 s
# of narration between them and the dead air, 10 s from the start and 5 s
# from the end. Variant b puts the dead air in the first half
# instead of the second and draws from another random stream, so positions,
# levels and phrases all change; so does another --seed. The output is the
# same for the same arguments (awk srand(seed), sox -R, bit-exact ffmpeg).
# Needs sox, espeak-ng, jq, awk and ffmpeg (loudness, and the video).
set -euo pipefail

usage() { echo "usage: make_vod.sh OUT_DIR [--seed N] [--minutes M] [--video [--wav-too]] [--variant a|b]" >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1; shift
SEED=1 MINUTES=15 VIDEO=0 WAV_TOO=0 VARIANT=a
while [ $# -gt 0 ]; do
  case $1 in
    --seed) [ $# -ge 2 ] || usage; SEED=$2; shift 2 ;;
    --minutes) [ $# -ge 2 ] || usage; MINUTES=$2; shift 2 ;;
    --video) VIDEO=1; shift ;;
    --wav-too) WAV_TOO=1; shift ;;
    --variant) [ $# -ge 2 ] || usage; VARIANT=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $SEED =~ ^[0-9]+$ ]] || { echo "make_vod.sh: --seed must be a non-negative integer" >&2; exit 2; }
[[ $MINUTES =~ ^[0-9]+$ ]] && [ "$MINUTES" -ge 3 ] && [ "$MINUTES" -le 180 ] ||
  { echo "make_vod.sh: --minutes must be an integer from 3 to 180 (a minute of dead air and six moments need room)" >&2; exit 2; }
case $VARIANT in a|b) ;; *) echo "make_vod.sh: --variant must be a or b" >&2; exit 2 ;; esac
for t in sox espeak-ng jq awk ffmpeg; do command -v $t >/dev/null || { echo "make_vod.sh: $t is missing" >&2; exit 1; }; done

DATA=${HARK_TESTDATA:-/usr/share/pocketsphinx/test/data/librivox}
RATE=16000
NARRATION_DB=-27 # RMS of each narration clip, dBFS
FLOOR_DB=-60     # RMS of the noise floor: 33 dB below the narration

mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/make_vod-XXXXXX")
trap 'rm -rf "$W"' EXIT

# sox, repeatable (-R: fixed seeds for noise and dither), errors only (a
# few clipped samples in a crowd burst are no news).
sx() { sox -V1 -R "$@"; }
rms_db() { sox "$1" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }'; }
# EBU R128 integrated loudness, LUFS.
lufs() { ffmpeg -nostdin -hide_banner -i "$1" -af ebur128 -f null - 2>&1 | awk '$1 == "I:" { v = $2 } END { print v }'; }
# to_level IN OUT DB: IN (any rate) as 16 kHz mono 16-bit at RMS DB dBFS.
to_level() {
  local tmp=$W/lvl.wav rms
  sx "$1" -r $RATE -c 1 -b 16 "$tmp"
  rms=$(rms_db "$tmp")
  sx "$tmp" "$2" gain "$(awk -v t="$3" -v r="$rms" 'BEGIN { printf "%.2f", t - r }')"
}

# The narration clips at one level; their lengths in samples.
clips=() lens=()
for f in "$DATA"/*.wav; do
  n=${#clips[@]}
  to_level "$f" "$W/n$n.wav" $NARRATION_DB
  clips+=("$W/n$n.wav")
  lens+=("$(soxi -s "$W/n$n.wav")")
done
[ ${#clips[@]} -ge 2 ] || { echo "make_vod.sh: no LibriVox clips in $DATA" >&2; exit 1; }
sx "${clips[@]}" "$W/all.wav"
NARRATION_LUFS=$(lufs "$W/all.wav")

# The plan, from awk's seeded generator: "M start_target len level voice
# pitch speed phrase", "D start_target len", then the narration walk emits
# the timeline ("C i", "P samples", "E index") and the actual start of each
# event in samples.
PHRASES="let's go|oh my god what a shot|no way|unbelievable|what a play|are you kidding me|that was insane|let's go baby|what a save|incredible|oh my god|get in there|clutch|absolutely massive"
VOICES="en-us|en-us+m3|en+m5|en-us+f3|en+Alex|en-us+Andy|en+f2|en-us+david"
awk -v seed="$SEED" -v variant="$VARIANT" -v minutes="$MINUTES" -v rate=$RATE \
    -v lens="${lens[*]}" -v phrases="$PHRASES" -v voices="$VOICES" '
function rnd(a, b) { return a + (b - a) * rand() }
function irnd(n) { return int(n * rand()) }
BEGIN {
  srand(seed * 2 + (variant == "b") + 7919)
  D = minutes * 60
  nclip = split(lens, len, " ")
  np = split(phrases, ph, "|"); nv = split(voices, vo, "|")
  # The dead air: variant a in the second half, b in the first.
  if (variant == "a") ds = rnd(0.55, 0.75) * D; else ds = rnd(0.2, 0.4) * D
  de = ds + 60
  # Six moments, one per sixth of the time outside the dead air (10 s
  # margins), each 3-6 s long.
  L1 = ds - 10 - 10; L2 = D - 25 - (de + 10); L = L1 + L2
  for (i = 0; i < np; i++) perm[i] = i
  for (i = np - 1; i > 0; i--) { j = irnd(i + 1); t = perm[i]; perm[i] = perm[j]; perm[j] = t }
  for (k = 0; k < 6; k++) {
    mlen = int(rnd(300, 600)) * rate / 100
    u = (k + rnd(0.2, 0.8)) * L / 6
    t = (u < L1) ? 10 + u : de + 10 + (u - L1)
    printf "M %d %d %.1f %s %d %d %s\n", t * rate, mlen, rnd(3, 8), vo[irnd(nv) + 1],
      int(rnd(55, 90)), int(rnd(150, 190)), ph[perm[k] + 1]
    ev[k] = int(t * rate); evlen[k] = mlen
  }
  printf "D %d %d\n", ds * rate, 60 * rate
  ev[6] = int(ds * rate); evlen[6] = 60 * rate
  # The walk: narration clips and pauses; an event starts at the first
  # clip boundary at or after its target (the narrator stops for it) with
  # at least 10 s of narration since the last event ended (so a moment is
  # never right against the dead air).
  pos = 0; last = -1; nev = 7; evend = -10 * rate
  while (pos < D * rate) {
    best = -1
    if (pos - evend >= 10 * rate)
      for (e = 0; e < nev; e++) if (!done[e] && ev[e] <= pos && (best < 0 || ev[e] < ev[best])) best = e
    if (best >= 0) {
      printf "E %d %d\n", best, pos
      pos += evlen[best]; done[best] = 1; evend = pos
      p = int(rnd(30, 80)) * rate / 100; printf "P %d\n", p; pos += p
      continue
    }
    do { c = irnd(nclip) } while (c == last); last = c
    printf "C %d\n", c; pos += len[c + 1]
    p = int(rnd(25, 100)) * rate / 100; printf "P %d\n", p; pos += p
  }
}' > "$W/plan"

# The moments' sounds: a crowd burst with the phrase over it, at its level.
mapfile -t moments < <(grep '^M ' "$W/plan")
for k in "${!moments[@]}"; do
  read -r _ _ mlen level voice pitch speed phrase <<< "${moments[$k]}"
  espeak-ng -w "$W/say$k.wav" -v "$voice" -p "$pitch" -s "$speed" -a 180 "$phrase!"
  sx "$W/say$k.wav" -r $RATE -c 1 -b 16 "$W/say$k-16.wav" pad 0.4
  # Crowd: pink noise in the voice band, pulsing, sharp attack, long decay.
  sx -r $RATE -c 1 -n -b 16 "$W/crowd$k.wav" synth "${mlen}s" pinknoise \
    sinc 300-3500 tremolo "$(awk -v k=$k 'BEGIN { print 4 + k % 4 }')" 50 \
    fade t 0.25 -0 1.2 gain -n -6
  # The voice 5 dB over the crowd (PocketSphinx still misses most phrases
  # there: a keyword is a clue, the loudness and the crowd are the signal).
  to_level "$W/say$k-16.wav" "$W/sayl$k.wav" -20
  to_level "$W/crowd$k.wav" "$W/crowdl$k.wav" -25
  sx -m "$W/crowdl$k.wav" "$W/sayl$k.wav" "$W/mix$k.wav" trim 0 "${mlen}s"
  # Exactly mlen samples: the crowd is that long, a longer phrase is cut.
  [ "$(soxi -s "$W/mix$k.wav")" -eq "$mlen" ] || { echo "make_vod.sh: moment $k is not $mlen samples" >&2; exit 1; }
  sx "$W/mix$k.wav" "$W/ev$k.wav" gain "$(awk -v l="$level" -v n="$NARRATION_LUFS" -v m="$(lufs "$W/mix$k.wav")" \
    'BEGIN { printf "%.2f", n + l - m }')"
done
read -r _ _ dlen < <(grep '^D ' "$W/plan")
sx -r $RATE -c 1 -n -b 16 "$W/ev6.wav" trim 0 "${dlen}s"

# The timeline as one list of files (pauses of the same length share one).
: > "$W/list"
while read -r kind a _; do
  case $kind in
    C) echo "${clips[$a]}" >> "$W/list" ;;
    P) [ -f "$W/p$a.wav" ] || sx -r $RATE -c 1 -n -b 16 "$W/p$a.wav" trim 0 "${a}s"
       echo "$W/p$a.wav" >> "$W/list" ;;
    E) echo "$W/ev$a.wav" >> "$W/list" ;;
  esac
done < <(grep -E '^[CPE] ' "$W/plan")
DUR_SAMPLES=$((MINUTES * 60 * RATE))
mapfile -t files < "$W/list"
sx "${files[@]}" "$W/bed.wav" trim 0 "${DUR_SAMPLES}s"
sx -r $RATE -c 1 -n -b 16 "$W/floor.wav" synth "${DUR_SAMPLES}s" pinknoise gain -n -20
to_level "$W/floor.wav" "$W/floorl.wav" $FLOOR_DB
sx -m -v 1 "$W/bed.wav" -v 1 "$W/floorl.wav" "$W/vod.wav"
[ "$(soxi -s "$W/vod.wav")" -eq "$DUR_SAMPLES" ] || { echo "make_vod.sh: the timeline came out the wrong length" >&2; exit 1; }

# truth.json from the plan and the walk's actual starts.
{
  grep '^M ' "$W/plan" | awk -v r=$RATE '{ ph = $0; for (i = 0; i < 7; i++) sub(/^[^ ]+ /, "", ph)
    printf "M\t%d\t%.4f\t%s\t%s\t%s\n", NR - 1, $3 / r, $4, $5, ph }'
  grep '^E ' "$W/plan" | awk -v r=$RATE '{ printf "E\t%d\t%.4f\n", $2, $3 / r }'
} | jq -R -s --argjson dur "$MINUTES" --argjson seed "$SEED" --arg variant "$VARIANT" \
      --argjson nlufs "$NARRATION_LUFS" '
  [split("\n")[] | select(length > 0) | split("\t")] as $rows
  | ($rows | map(select(.[0] == "E")) | map({key: .[1], value: (.[2] | tonumber)}) | from_entries) as $at
  | {duration: ($dur * 60), seed: $seed, variant: $variant, minutes: $dur, narration_lufs: $nlufs,
     moments: [$rows[] | select(.[0] == "M")
               | {start: $at[.[1]], end: (($at[.[1]] + (.[2] | tonumber)) * 10000 | round / 10000), phrase: .[5],
                  level_lu: (.[3] | tonumber), voice: .[4]}] | sort_by(.start),
     dead_air: {start: $at["6"], end: (($at["6"] + 60) * 10000 | round / 10000)}}' > "$W/truth.json"
[ "$(jq '.moments | length' "$W/truth.json")" -eq 6 ] || { echo "make_vod.sh: a moment fell off the end" >&2; exit 1; }

if [ $VIDEO = 1 ]; then
  # A flat colour at 15 frames a second keeps a long file cheap; -g 30 with
  # no scene cuts: a keyframe every 2 s exactly. AAC with the fast coder
  # (the default one costs 4 s for 15 minutes). Video and audio encode at
  # once, then one remux. Bit-exact flags and one x264 thread: the same
  # bytes for the same seed.
  bitexact=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact)
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "color=c=0x3060a0:size=320x240:rate=15" \
    -t "$((MINUTES * 60))" -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
    -g 30 -keyint_min 30 -sc_threshold 0 -threads 1 "${bitexact[@]}" "$W/v.mp4" &
  vpid=$!
  ffmpeg -nostdin -loglevel error -y -i "$W/vod.wav" -c:a aac -aac_coder fast -b:a 48k \
    "${bitexact[@]}" "$W/a.m4a"
  wait $vpid
  ffmpeg -nostdin -loglevel error -y -i "$W/v.mp4" -i "$W/a.m4a" -map 0:v -map 1:a -c copy \
    "${bitexact[@]}" -movflags +faststart "$W/vod.mp4"
  mv "$W/vod.mp4" "$OUT/vod.mp4"
  [ $WAV_TOO = 0 ] || mv "$W/vod.wav" "$OUT/vod.wav"
else
  mv "$W/vod.wav" "$OUT/vod.wav"
fi
mv "$W/truth.json" "$OUT/truth.json"
