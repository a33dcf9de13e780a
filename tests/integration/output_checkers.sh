#!/usr/bin/env bash
# The highlights tests' output checkers (tests/tools/check_edl.py,
# check_chapters.py, check_highlights.py) pass the good samples in
# tests/tools/samples and refuse each broken variant made from them here,
# naming the rule it breaks.
. "$(dirname "$0")/../lib.sh"
TOOLS=$HARK_SOURCE_DIR/tests/tools
S=$TOOLS/samples
PY=/usr/bin/python3

# accepts DESC CHECKER ARGS...: exit 0.
accepts() {
  local desc=$1; shift
  if "$PY" "$TOOLS/$@" > "$T/out" 2>&1; then ok "$desc"; else not_ok "$desc: $(cat "$T/out")"; fi
}
# rejects RULE DESC CHECKER ARGS...: exit 1, a line naming RULE.
rejects() {
  local rule=$1 desc=$2; shift 2
  "$PY" "$TOOLS/$@" > "$T/out" 2>&1
  local rc=$?
  if [ $rc -eq 1 ] && grep -qF ": $rule: " "$T/out"; then ok "$desc ($rule)"
  else not_ok "$desc: expected exit 1 naming \"$rule\", got $rc: $(head -c 400 "$T/out")"; fi
}

# ---- check_edl.py ----
E=$S/good.edl
accepts "edl: the good sample" check_edl.py "$E" --events 3
sed 's/$/\r/' "$E" > "$T/crlf.edl"
accepts "edl: CRLF line ends (as Resolve writes them)" check_edl.py "$T/crlf.edl" --events 3
grep -v '^TITLE:' "$E" > "$T/notitle.edl"
accepts "edl: no TITLE but a FROM CLIP NAME" check_edl.py "$T/notitle.edl"
# edl_with NAME SED-SCRIPT: a variant of the good sample.
edl_with() { sed "$2" "$E" > "$T/$1.edl"; echo "$T/$1.edl"; }
rejects events "edl: --events counts" check_edl.py "$E" --events 4
rejects title "edl: TITLE not first" check_edl.py "$(edl_with t1 '1{h;d};2{G}')"
rejects title "edl: empty TITLE" check_edl.py "$(edl_with t2 's/^TITLE: vod/TITLE:   /')"
rejects fcm "edl: unknown FCM" check_edl.py "$(edl_with f1 's/^FCM: NON-DROP FRAME/FCM: 29.97/')"
rejects fcm "edl: FCM after the first event" check_edl.py "$(edl_with f2 '2d;/^002 /i FCM: NON-DROP FRAME')"
rejects "event number" "edl: events not numbered 001, 002, ..." check_edl.py "$(edl_with n1 's/^002 /004 /')"
rejects "event number" "edl: event numbers of four digits" check_edl.py "$(edl_with n2 's/^001 /0001/')"
rejects timecode "edl: frame 30 at 30 fps" check_edl.py "$(edl_with tc1 's/00:01:43:20 00:01:43:19 00:01:43:20/00:01:43:30 00:01:43:19 00:01:43:30/')"
rejects timecode "edl: hour 24" check_edl.py "$(edl_with tc2 's/00:06:20:2\([01]\)/24:06:20:2\1/g')"
accepts "edl: 25 fps with --fps 25" check_edl.py "$E" --fps 25
rejects timecode "edl: frame 29 with --fps 25" check_edl.py "$(edl_with tc3 's/00:03:01:1\([67]\)/00:03:01:2\1/g')" --fps 25
rejects timecode "edl: drop frame has no 00:01:00:00" check_edl.py \
  "$(edl_with tc4 's/NON-DROP FRAME/DROP FRAME/;s/00:01:43:19/00:01:00:00/g;s/00:01:43:20/00:01:00:01/g')"
accepts "edl: drop frame at 00:10:00:00" check_edl.py \
  "$(edl_with tc5 's/NON-DROP FRAME/DROP FRAME/;s/00:01:43:19/00:00:59:29/g;s/00:01:43:20/00:01:00:02/g')"
rejects "in < out" "edl: in == out" check_edl.py "$(edl_with io 's/00:01:43:20/00:01:43:19/g')"
rejects duration "edl: source and record lengths differ" check_edl.py \
  "$(edl_with du 's/00:01:43:19 00:01:43:20 00:01:43:19 00:01:43:20/00:01:43:19 00:01:43:20 00:01:43:19 00:01:43:25/')"
rejects "record overlap" "edl: record times overlap" check_edl.py \
  "$(edl_with ov 's/00:03:01:16 00:03:01:17 00:03:01:16 00:03:01:17/00:01:43:19 00:01:43:20 00:01:43:19 00:01:43:20/')"
rejects "record order" "edl: record times not ascending" check_edl.py \
  "$(edl_with ro 's/00:03:01:1\([67]\)/00:00:01:1\1/g')"
rejects "marker timecodes" "edl: a marker event's source differs from its record" check_edl.py \
  "$(edl_with st 's/00:03:01:16 00:03:01:17 00:03:01:16/00:00:01:16 00:00:01:17 00:03:01:16/')"
rejects reel "edl: a reel of 9 characters" check_edl.py "$(edl_with re 's/^001  001 /001  REEL12345 /')"
rejects track "edl: an unknown track" check_edl.py "$(edl_with tr 's/^002  001      V /002  001      X /')"
rejects transition "edl: an unknown transition" check_edl.py "$(edl_with tx 's/^002  001      V     C /002  001      V     Q /')"
rejects transition "edl: a dissolve without its duration" check_edl.py "$(edl_with td 's/^002  001      V     C /002  001      V     D /')"
rejects "one marker per event" "edl: an event without its marker" check_edl.py "$(edl_with m0 '/ResolveColorYellow/d')"
rejects "one marker per event" "edl: an event with two markers" check_edl.py "$(edl_with m2 '/ResolveColorRed/p')"
rejects "marker colour" "edl: a colour Resolve does not have" check_edl.py "$(edl_with mc 's/ResolveColorRed/ResolveColorOrange/')"
rejects "marker colour" "edl: a colour without the ResolveColor prefix" check_edl.py "$(edl_with mp 's/|C:ResolveColorRed/|C:Red/')"
rejects "marker name" "edl: an empty marker name" check_edl.py "$(edl_with mn 's/|M:#1 unbelievable |D/|M: |D/')"
rejects "marker duration" "edl: a marker of 0 frames" check_edl.py "$(edl_with md 's/|D:390/|D:0/')"
rejects marker "edl: a marker line without |D:" check_edl.py "$(edl_with mf 's/ |D:390//')"
rejects marker "edl: note text with no marker line after it" check_edl.py "$(edl_with mt '/ResolveColorGreen/d')"
rejects grammar "edl: a stray line after a marker" check_edl.py "$(edl_with g1 '/ResolveColorRed/a this is not EDL')"
rejects grammar "edl: a stray line before the first event" check_edl.py "$(edl_with g2 '2a hello')"
rejects "clip name" "edl: no TITLE and no FROM CLIP NAME" check_edl.py "$(edl_with cn '/^TITLE:/d;/FROM CLIP NAME/d')"
rejects "clip name" "edl: an empty FROM CLIP NAME" check_edl.py "$(edl_with ce '/^TITLE:/d;s/FROM CLIP NAME: vod.wav/FROM CLIP NAME:/')"
: > "$T/empty.edl"
rejects events "edl: an empty file" check_edl.py "$T/empty.edl"
printf 'TITLE: \xff\xfe\n' > "$T/latin.edl"
rejects encoding "edl: not UTF-8" check_edl.py "$T/latin.edl"
"$PY" "$TOOLS/check_edl.py" "$T/missing.edl" >/dev/null 2>&1
check "edl: a missing file is exit 2" [ $? -eq 2 ]

# ---- check_chapters.py ----
C=$S/good.chapters.txt J=$S/good.chapters.json
accepts "chapters: the good samples" check_chapters.py "$C" "$J" --duration 900
accepts "chapters: the txt alone" check_chapters.py "$C"
printf '00:00 Intro\n1:02:03 Later\n1:05:00 Last\n' > "$T/hms.txt"
accepts "chapters: MM:SS and H:MM:SS" check_chapters.py "$T/hms.txt" --duration 4000
chap_with() { sed "$2" "$C" > "$T/$1.txt"; echo "$T/$1.txt"; }
rejects "first at 0:00" "chapters: the first not at 0:00" check_chapters.py "$(chap_with c1 's/^0:00/0:05/')"
rejects "at least 3 chapters" "chapters: two chapters" check_chapters.py "$(chap_with c2 '3,$d')"
rejects ascending "chapters: not ascending" check_chapters.py "$(chap_with c3 's/^7:12/2:00/')"
rejects ascending "chapters: the same time twice" check_chapters.py "$(chap_with c4 's/^7:12/2:35/')"
rejects "at least 10 s" "chapters: a chapter of 9 s" check_chapters.py "$(chap_with c5 's/^7:12/2:44/')"
rejects "at least 10 s" "chapters: the last chapter 5 s before the end" check_chapters.py "$C" --duration 765
rejects "inside the recording" "chapters: a start past the end" check_chapters.py "$C" --duration 700
rejects format "chapters: M:S" check_chapters.py "$(chap_with c6 's/^2:35/2:5/')"
rejects format "chapters: no title" check_chapters.py "$(chap_with c7 's/^2:35 .*/2:35/')"
rejects format "chapters: 75 minutes as MM:SS" check_chapters.py "$(chap_with c8 's/^12:40/75:00/')"
rejects format "chapters: another line among them" check_chapters.py "$(chap_with c9 '2i Chapters:')"
json_with() { jq "$2" "$J" > "$T/$1.json"; echo "$T/$1.json"; }
rejects version "chapters json: no version" check_chapters.py "$C" "$(json_with j1 'del(.version)')"
rejects version "chapters json: version a number" check_chapters.py "$C" "$(json_with j2 '.version = 1.2')"
rejects chapters "chapters json: no chapters array" check_chapters.py "$C" "$(json_with j3 '.chapters = {}')"
rejects startTime "chapters json: startTime a string" check_chapters.py "$C" "$(json_with j4 '.chapters[1].startTime = "2:35"')"
rejects startTime "chapters json: startTime negative" check_chapters.py "$C" "$(json_with j5 '.chapters[0].startTime = -1')"
rejects title "chapters json: no title" check_chapters.py "$C" "$(json_with j6 'del(.chapters[2].title)')"
rejects ascending "chapters json: not ascending" check_chapters.py "$C" "$(json_with j7 '.chapters[2].startTime = 100')"
rejects "match the txt" "chapters json: a chapter fewer than the txt" check_chapters.py "$C" "$(json_with j8 'del(.chapters[3])')"
rejects "match the txt" "chapters json: a start 1 s off the txt" check_chapters.py "$C" "$(json_with j9 '.chapters[1].startTime = 156')"
rejects "match the txt" "chapters json: another title" check_chapters.py "$C" "$(json_with j10 '.chapters[1].title = "Other"')"
rejects types "chapters json: toc not a boolean" check_chapters.py "$C" "$(json_with j11 '.chapters[0].toc = "yes"')"
rejects endTime "chapters json: endTime before startTime" check_chapters.py "$C" "$(json_with j12 '.chapters[2].endTime = 400')"
echo '{"version": "1.2.0", "chapters": [' > "$T/j13.json"
rejects json "chapters json: not JSON" check_chapters.py "$C" "$T/j13.json"

# ---- check_highlights.py ----
H=$S/good.highlights.json TR=$S/truth.json
accepts "highlights: the good sample" check_highlights.py "$H" "$TR" --top 10 --need 5 --tolerance 3
"$PY" "$TOOLS/check_highlights.py" "$H" "$TR" > "$T/summary"
check "highlights: a one-line summary naming the coverage" \
  bash -c "[ \$(wc -l < '$T/summary') -eq 1 ] && grep -q 'covered 6 of 6 moments in the top 10' '$T/summary'"
hl_with() { jq "$2" "$H" > "$T/$1.json"; echo "$T/$1.json"; }
# The sample's rank-6 clip starts 2.02 s after "let's go baby": covered
# within 3 s, not within 2.
accepts "highlights: a clip starting 2 s after the moment covers it (tolerance 3)" check_highlights.py "$H" "$TR" --need 6
rejects coverage "highlights: ... but not with --tolerance 2" check_highlights.py "$H" "$TR" --need 6 --tolerance 2
rejects coverage "highlights: only the top 3 judged" check_highlights.py "$H" "$TR" --top 3 --need 5
rejects coverage "highlights: a clip ending before the moment does not cover it" check_highlights.py \
  "$(hl_with k1 '.highlights[1].end = 181.0 | .highlights[1].peak = 180')" "$TR" --need 6
"$PY" "$TOOLS/check_highlights.py" "$(hl_with k2 '.highlights |= map(select(.rank != 3 and .rank != 4)) | .highlights |= map(.rank = (if .rank > 4 then .rank - 2 else .rank end))')" "$TR" > "$T/out"
check "highlights: two moments missed: exit 1, named in the summary" \
  bash -c "grep -q 'covered 4 of 6' '$T/out' && grep -q 'missed: 103.6 s \"unbelievable\", 181.5 s \"what a play\"' '$T/out' && grep -q ': coverage: ' '$T/out'"
rejects "dead air" "highlights: a clip 2 s into the dead air" check_highlights.py \
  "$(hl_with d1 '.highlights[5].end = 625.32 | .highlights[5].peak = 590')" "$TR"
accepts "highlights: a clip 1 s into the dead air is tolerated" check_highlights.py \
  "$(hl_with d2 '.highlights[5].end = 624.3')" "$TR"
rejects "dead air reported" "highlights: no dead air reported" check_highlights.py "$(hl_with d3 '.dead_air = []')" "$TR"
rejects "dead air reported" "highlights: a third of the dead air reported" check_highlights.py \
  "$(hl_with d4 '.dead_air = [{"start": 660, "end": 680}]')" "$TR"
rejects schema "highlights: no source" check_highlights.py "$(hl_with s1 'del(.source)')" "$TR"
rejects schema "highlights: duration a string" check_highlights.py "$(hl_with s2 '.duration = "900"')" "$TR"
rejects schema "highlights: rank a boolean" check_highlights.py "$(hl_with s3 '.highlights[0].rank = true')" "$TR"
rejects schema "highlights: rank 1.5" check_highlights.py "$(hl_with s4 '.highlights[0].rank = 1.5')" "$TR"
rejects schema "highlights: no reasons" check_highlights.py "$(hl_with s5 '.highlights[0].reasons = []')" "$TR"
rejects schema "highlights: an empty reason" check_highlights.py "$(hl_with s6 '.highlights[0].reasons = [" "]')" "$TR"
rejects schema "highlights: text null" check_highlights.py "$(hl_with s7 '.highlights[0].text = null')" "$TR"
rejects schema "highlights: score missing" check_highlights.py "$(hl_with s8 'del(.highlights[2].score)')" "$TR"
rejects schema "highlights: dead_air missing" check_highlights.py "$(hl_with s9 'del(.dead_air)')" "$TR"
rejects schema "highlights: a dead_air span without end" check_highlights.py "$(hl_with s10 '.dead_air[0] |= del(.end)')" "$TR"
sed 's/"score": 0.2/"score": NaN/' "$H" > "$T/nan.json"
rejects schema "highlights: NaN" check_highlights.py "$T/nan.json" "$TR"
rejects bounds "highlights: peak after end" check_highlights.py "$(hl_with b1 '.highlights[0].peak = 110')" "$TR"
rejects bounds "highlights: start == end" check_highlights.py "$(hl_with b2 '.highlights[2] |= (.end = .start | .peak = .start)')" "$TR"
rejects bounds "highlights: past the duration" check_highlights.py "$(hl_with b3 '.duration = 840')" "$TR"
rejects bounds "highlights: a dead_air span reversed" check_highlights.py "$(hl_with b4 '.dead_air[0] = {"start": 660, "end": 623.5}')" "$TR"
rejects "time order" "highlights: not in time order" check_highlights.py "$(hl_with o1 '.highlights |= reverse')" "$TR"
rejects overlap "highlights: two clips overlap" check_highlights.py "$(hl_with o2 '.highlights[1].start = 100')" "$TR"
rejects ranks "highlights: a rank twice" check_highlights.py "$(hl_with r1 '.highlights[0].rank = 1')" "$TR"
rejects ranks "highlights: ranks from 0" check_highlights.py "$(hl_with r2 '.highlights |= map(.rank -= 1)')" "$TR"
rejects ranks "highlights: rank 2 scores more than rank 1" check_highlights.py "$(hl_with r3 '.highlights[5].score = 0.99')" "$TR"
echo '{' > "$T/bad.json"
rejects json "highlights: not JSON" check_highlights.py "$T/bad.json" "$TR"
finish
