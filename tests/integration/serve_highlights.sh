#!/usr/bin/env bash
# Highlights through the daemon (issue 11): POST /v1/jobs with "kind":
# "highlights" and its options (JSON API, server-side path) and `hark
# submit --kind highlights` (upload); the result formats highlights,
# chapters, chapters_json and edl; the clips as artifacts (a browser's
# <audio> and <video> elements seek in them): listed with
# their sizes and durations, served with Range, ETag and If-Range (what a
# browser's <audio>/<video> seeks with), never a file without a record,
# never a path out of the job's directory, never another token's, gone
# with their job; bad options are 400 naming the field.
. "$(dirname "$0")/../lib.sh"
A=hk-alice-0123456789abcdef0123
B=hk-bob-fedcba9876543210fedcba
cat > "$T/hark.conf" <<CONF
root = $T/media
[token alice]
secret = $A
[token bob]
secret = $B
CONF
chmod 600 "$T/hark.conf"
mkdir -p "$T/media"
bash "$HARK_SOURCE_DIR/tests/tools/make_vod.sh" "$T/a" --minutes 3 >/dev/null 2>&1
bash "$HARK_SOURCE_DIR/tests/tools/make_vod.sh" "$T/v" --minutes 3 --video >/dev/null 2>&1
cp "$T/a/vod.wav" "$T/media/vod.wav"
check "make_vod: a wav and an mp4" [ -s "$T/media/vod.wav" ] && [ -s "$T/v/vod.mp4" ]
TOOLS=$HARK_SOURCE_DIR/tests/tools
start_server "$T/s" --config "$T/hark.conf" --workers 2 || { echo "server did not start"; exit 1; }
export HARK_TOKEN=$A
AUTH=(-H "Authorization: Bearer $A")
api() { curl -s "${AUTH[@]}" "$@"; }
# code METHOD URL [CURL ARGS...]: the status of a request as alice.
code() { local m=$1 u=$2; shift 2; curl -s -o "$T/body" -w '%{http_code}' -X "$m" "${AUTH[@]}" "$@" "$u"; }
post_job() { code POST "$HARK_SERVER/v1/jobs" -H 'Content-Type: application/json' -d "$1"; }

# ---- bad options: 400 naming the field ----
for o in '{"tpo": 3}:tpo' '{"top": 0}:top' '{"clip_format": "avi"}:avi' '{"keywords": 7}:keywords'; do
  body=${o%:*} word=${o##*:}
  c=$(post_job "{\"path\": \"$T/media/vod.wav\", \"kind\": \"highlights\", \"options\": $body}")
  check "options $body: 400 ($c) naming $word" \
    bash -c "[ $c = 400 ] && jq -r .error.message '$T/body' | grep -q -- '$word' && [ \"\$(jq -r .error.param '$T/body')\" = options ]"
done
c=$(post_job "{\"path\": \"$T/media/vod.wav\", \"kind\": \"teaser\"}")
check "an unknown kind: 400 naming the kinds ($c)" bash -c "[ $c = 400 ] && grep -q 'highlights' '$T/body'"
"$HARK" submit --top 3 "$T/media/vod.wav" > /dev/null 2> "$T/usage.err"; rc=$?
check "hark submit --top without --kind highlights: usage (exit $rc)" [ $rc = 2 ]

# ---- submit both ways ----
# Audio analysis only (no transcript): the ranking, the clips and the
# routes are what this test is about, and it keeps the test short.
c=$(post_job "{\"path\": \"$T/media/vod.wav\", \"kind\": \"highlights\", \"options\": {\"clips\": true, \"clip_format\": \"mp3\", \"transcript\": false}}")
J1=$(jq -r .id "$T/body")
check "JSON submit of a highlights job: 201 ($c)" [ "$c" = 201 ]
check "its job object: kind, options with defaults, artifacts_url" \
  jq -e --arg u "/v1/jobs/$J1/artifacts" '.kind == "highlights" and .options.top == 10 and .options.pre == 8 and .options.clip_format == "mp3" and (.options | has("key") | not) and .artifacts_url == $u' "$T/body"
printf 'what a play\t2\nlet'"'"'s go\n' > "$T/kw.txt"
J2=$("$HARK" submit --kind highlights --clips --clip-format copy --no-transcript --top 8 \
     --keywords "$T/kw.txt" "$T/v/vod.mp4" 2> "$T/submit.err")
check "hark submit --kind highlights prints the job id" [ -n "$J2" ]
api "$HARK_SERVER/v1/jobs/$J2" > "$T/j2.json"
check "... its options as given (keywords shown as a count)" \
  jq -e '.kind == "highlights" and .options.top == 8 and .options.clips == true and .options.clip_format == "copy" and .options.transcript == false and .options.keywords == 2' "$T/j2.json"
"$HARK" ls --kind highlights --json > "$T/ls.json"
check "hark ls --kind highlights lists both" jq -e 'length == 2 and all(.kind == "highlights")' "$T/ls.json"
"$HARK" ls --kind transcribe --json > "$T/ls2.json"
check "hark ls --kind transcribe lists none" jq -e 'length == 0' "$T/ls2.json"
check "job 1 succeeds" wait_state "$J1" succeeded "$(scaled 150 300)"
check "job 2 succeeds" wait_state "$J2" succeeded "$(scaled 150 300)"

# ---- result formats ----
for J in "$J1" "$J2"; do
  for f in highlights chapters chapters_json edl; do
    c=$(code GET "$HARK_SERVER/v1/jobs/$J/result?format=$f"); cp "$T/body" "$T/$J.$f"
    check "$J result format $f: 200 ($c)" [ "$c" = 200 ]
  done
  check "$J highlights cover the planted moments" \
    python3 "$TOOLS/check_highlights.py" --need 4 "$T/$J.highlights" "$T/a/truth.json"
  check "$J chapters obey YouTube's rules" \
    python3 "$TOOLS/check_chapters.py" --duration 180 "$T/$J.chapters" "$T/$J.chapters_json"
  check "$J EDL parses" python3 "$TOOLS/check_edl.py" "$T/$J.edl"
done
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/result?format=docx")
check "an unknown format: 400 naming the job's formats ($c)" \
  bash -c "[ $c = 400 ] && grep -q 'chapters_json, edl' '$T/body'"
"$HARK" result -f chapters "$J2" > "$T/cli.chapters"
check "hark result -f chapters: the same as the API" cmp -s "$T/cli.chapters" "$T/$J2.chapters"
"$HARK" result -f docx "$J2" > /dev/null 2>&1; rc=$?
check "hark result -f docx: usage (exit $rc)" [ $rc = 2 ]

# ---- artifacts ----
api "$HARK_SERVER/v1/jobs/$J1/artifacts" > "$T/l1.json"
api "$HARK_SERVER/v1/jobs/$J2/artifacts" > "$T/l2.json"
n_hl=$(jq '.highlights | length' "$T/$J1.highlights")
check "job 1 lists one mp3 clip per highlight ($n_hl)" \
  jq -e --argjson n "$n_hl" '.object == "list" and (.data | length) == $n and $n > 0 and all(.data[]; .type == "audio/mpeg" and (.name | test("^[0-9]{2}-[0-9]{2}h[0-9]{2}m[0-9]{2}s\\.mp3$")))' "$T/l1.json"
check "job 2 lists mp4 clips" \
  jq -e '(.data | length) > 0 and all(.data[]; .type == "video/mp4" and (.name | test("^[0-9]{2}-[0-9]{2}h[0-9]{2}m[0-9]{2}s\\.mp4$")))' "$T/l2.json"
dl_ok=yes dur_ok=yes
for i in $(seq 0 $(( $(jq '.data | length' "$T/l1.json") - 1 ))); do
  name=$(jq -r ".data[$i].name" "$T/l1.json"); url=$(jq -r ".data[$i].url" "$T/l1.json")
  api -o "$T/$name" "$HARK_SERVER$url"
  [ "$(stat -c %s "$T/$name")" = "$(jq -r ".data[$i].bytes" "$T/l1.json")" ] || dl_ok=no
  d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/$name")
  awk -v a="$d" -v b="$(jq -r ".data[$i].duration" "$T/l1.json")" 'BEGIN { exit !(a - b < 0.1 && b - a < 0.1) }' || { dur_ok=no; echo "  $name: ffprobe $d"; }
done
check "every mp3 clip downloads with its listed size" [ $dl_ok = yes ]
check "every mp3 clip's duration is the listed one within 0.1 s" [ $dur_ok = yes ]
V=$(jq -r '.data[0].name' "$T/l2.json")
"$HARK" artifacts "$J2" "$V" -o "$T/cli-$V"
check "hark artifacts ID NAME -o FILE downloads it whole" \
  [ "$(stat -c %s "$T/cli-$V")" = "$(jq -r '.data[0].bytes' "$T/l2.json")" ]
streams=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$T/cli-$V" | sort | tr '\n' ' ')
check "the mp4 clip has a video and an audio stream ($streams)" [ "$streams" = "audio video " ]
"$HARK" artifacts "$J2" > "$T/cli-list"
check "hark artifacts ID lists the clips" grep -q "$V" "$T/cli-list"

# ---- Range, ETag, If-Range ----
N=$(jq -r '.data[0].name' "$T/l1.json"); U=$HARK_SERVER/v1/jobs/$J1/artifacts/$N
SIZE=$(stat -c %s "$T/$N")
c=$(code GET "$U" -D "$T/h0")
check "the whole clip: 200 with Accept-Ranges, ETag, Last-Modified, Cache-Control, Content-Disposition" \
  bash -c "[ $c = 200 ] && grep -qi '^accept-ranges: bytes' '$T/h0' && grep -qi '^etag: \"' '$T/h0' && grep -qi '^last-modified: ' '$T/h0' && grep -qi '^cache-control: private, max-age=[0-9]*, immutable' '$T/h0' && grep -qi '^content-disposition: inline; filename=\"$N\"' '$T/h0' && grep -qi '^content-type: audio/mpeg' '$T/h0'"
ETAG=$(sed -n 's/^[Ee][Tt]ag: *\(.*\)\r$/\1/p' "$T/h0")
c=$(code GET "$U" -H 'Range: bytes=0-99' -D "$T/h1")
check "Range bytes=0-99: 206 ($c) with those 100 bytes" \
  bash -c "[ $c = 206 ] && [ \$(stat -c %s '$T/body') = 100 ] && cmp -s '$T/body' <(head -c 100 '$T/$N') && grep -qi '^content-range: bytes 0-99/$SIZE' '$T/h1'"
c=$(code GET "$U" -H 'Range: bytes=-100' -D "$T/h2")
check "Range bytes=-100: 206 ($c) with the last 100 bytes" \
  bash -c "[ $c = 206 ] && cmp -s '$T/body' <(tail -c 100 '$T/$N') && grep -qi '^content-range: bytes $((SIZE - 100))-$((SIZE - 1))/$SIZE' '$T/h2'"
c=$(code GET "$U" -H "Range: bytes=$SIZE-" -D "$T/h3")
check "Range past the end: 416 ($c) with Content-Range bytes */$SIZE" \
  bash -c "[ $c = 416 ] && grep -qi '^content-range: bytes \*/$SIZE' '$T/h3'"
c=$(code GET "$U" -H 'Range: bytes=0-1,5-6')
check "several ranges: 200 with the whole clip ($c)" bash -c "[ $c = 200 ] && cmp -s '$T/body' '$T/$N'"
c=$(code GET "$U" -H 'Range: bytes=0-99' -H 'If-Range: "not-it"')
check "If-Range with another ETag: 200 with the whole clip ($c)" bash -c "[ $c = 200 ] && cmp -s '$T/body' '$T/$N'"
c=$(code GET "$U" -H 'Range: bytes=0-99' -H "If-Range: $ETAG")
check "If-Range with its ETag: 206 ($c)" [ "$c" = 206 ]
c=$(code GET "$U" -H "If-None-Match: $ETAG")
check "If-None-Match with its ETag: 304 ($c)" [ "$c" = 304 ]
c=$(code HEAD "$U" -I)
check "HEAD: 200 ($c)" [ "$c" = 200 ]

# ---- a browser's media elements seek in the clips (Chromium, Range requests) ----
if js_deps; then
  for pair in "audio:$HARK_SERVER/v1/jobs/$J1/artifacts/$N" "video:$HARK_SERVER/v1/jobs/$J2/artifacts/$V"; do
    kind=${pair%%:*} url=${pair#*:}
    timeout 120 node "$JS/browser_seek.mjs" "$HARK_SERVER" "${url#"$HARK_SERVER"}" "$kind" 5 > "$T/seek.json" 2> "$T/seek.err"
    echo "     ($kind: $(cat "$T/seek.json" "$T/seek.err"))"
    check "chromium: a <$kind> element finds the whole clip seekable and seeks to 5 s" \
      jq -e '.error == null and .duration > 5 and (.seekable_end - .duration | fabs) < 0.5 and (.seeked_to - 5 | fabs) < 0.5' "$T/seek.json"
  done
else
  not_ok "npm packages for the browser (tests/js) installed"
fi

# ---- what is never served ----
ADIR=$T/s/artifacts/$J1
check "the clips are in <state>/artifacts/<id>" [ -f "$ADIR/$N" ]
echo junk > "$ADIR/junk.mp3"
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/artifacts/junk.mp3")
check "a file without a record: 404 ($c)" [ "$c" = 404 ]
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/artifacts/../result" --path-as-is)
check "../ in the name: 404 ($c)" [ "$c" = 404 ]
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/artifacts/%2e%2e%2f%2e%2e%2fhark.db" --path-as-is)
check "%2e%2e in the name: 404 ($c)" [ "$c" = 404 ]
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/artifacts/.hidden")
check "a dot name: 404 ($c)" [ "$c" = 404 ]
for u in "artifacts" "artifacts/$N"; do
  c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $B" "$HARK_SERVER/v1/jobs/$J1/$u")
  check "another token's job's $u: 404 ($c)" [ "$c" = 404 ]
done
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' "${AUTH[@]}" "$HARK_SERVER/v1/jobs/$J1/artifacts/$N")
check "a page from another origin gets no CORS grant ($c)" \
  bash -c "! curl -s -D - -o /dev/null -H 'Origin: http://evil.example' -H 'Authorization: Bearer $A' '$U' | grep -qi '^access-control-allow-origin'"

# ---- deletion ----
c=$(code DELETE "$HARK_SERVER/v1/jobs/$J1")
check "DELETE the job: 200 ($c)" [ "$c" = 200 ]
check "its artifact directory is gone" [ ! -e "$ADIR" ]
c=$(code GET "$HARK_SERVER/v1/jobs/$J1/artifacts")
check "its artifacts route: 404 ($c)" [ "$c" = 404 ]
c=$(code GET "$U")
check "its clip: 404 ($c)" [ "$c" = 404 ]
# An orphan (a crash between the store's delete and the removal) is swept.
mkdir -p "$T/s/artifacts/j0123456789abcdef" && echo x > "$T/s/artifacts/j0123456789abcdef/01-00h00m00s.mp3"
for _ in $(seq 1 100); do [ -e "$T/s/artifacts/j0123456789abcdef" ] || break; sleep 0.1; done
check "an artifact directory of no job is swept" [ ! -e "$T/s/artifacts/j0123456789abcdef" ]
check "job 2's artifacts stay" [ -d "$T/s/artifacts/$J2" ]
"$HARK" delete "$J2" > /dev/null
check "hark delete removes job 2's artifacts" [ ! -e "$T/s/artifacts/$J2" ]

stop_server
finish
