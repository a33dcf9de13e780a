#!/usr/bin/env bash
# Real clients of OpenAI's transcription API on hark serve, each building
# its multipart body and reading the answer its own way: the official
# `openai` npm package at its latest 4.x, 5.x and 6.x (tests/js/
# openai_matrix.mjs), Python's requests, httpx and aiohttp (Debian's
# python3-*, tests/py/http_clients.py), curl, and fetch + FormData in
# headless Chromium (puppeteer-core, tests/js/browser_fetch.mjs).
#
# Each client: every response_format against `hark transcribe` of the same
# file, timestamp granularities word, segment and both, stream=true, and
# the errors a server answers before it has read a body over 64 KiB (wrong
# token 401, unknown route 404, upload over --max-upload 413; and 403 for a
# priority over the token's ceiling), each with its real status and
# OpenAI's error shape (the SDKs: their typed error, not a connection
# error). Then multipart bodies with a preamble and an epilogue (RFC 2046:
# to be ignored) sent raw, and the browser from another origin (CORS:
# cors_origin in the config file).
#
# One daemon per configuration: plain (transcriptions), tokens with a small
# upload limit (errors), tokens with cors_origin (cross-origin). A failing
# check prints what the client got instead (and every try of an error case).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-requests/httpx/aiohttp (not a pyenv one)
clip=$T/clip.wav # what is transcribed: 3 s, one chunk
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip"
# The early errors: a body over 64 KiB (what the server drops unread) and
# under the token server's --max-upload (300000), and one over it.
body=$DATA/sense_and_sensibility_01_austen_64kb-0870.wav # 227 KB
sox "$body" "$DATA/sense_and_sensibility_01_austen_64kb-0920.wav" "$T/over.wav" # 421 KB
over=$T/over.wav
"$HARK" transcribe -q -o "$T/ref" -f txt,srt,vtt,verbose_json "$clip"
ref=$T/ref/clip
oneline() { tr '\n' ' ' < "$1" | sed 's/  */ /g; s/^ //; s/ $//'; }
text=$(oneline "$ref.txt" 2> /dev/null)
check "reference: hark transcribe has text" [ -n "$text" ] || finish || exit 1
# The sanitizer pass runs the cases where clients differ (how each frames
# its body, reads an answer and a stream; the formats' server paths are
# openai_api.sh's); the normal pass all.
export MATRIX_CASES
MATRIX_CASES=$(scaled "" "json stream bad_model models")
want() { [ -z "$MATRIX_CASES" ] || [[ " $MATRIX_CASES " == *" $1 "* ]]; }

js_deps || echo "FAIL npm install"
check "python3-requests, python3-httpx, python3-aiohttp" "$PY" -c 'import requests, httpx, aiohttp'
check "chromium" [ -x /usr/bin/chromium ]

CI=hk-ci-0123456789abcdef0123 # max_priority normal
printf '[token ci]\nsecret = %s\nmax_priority = normal\n' $CI > "$T/tokens.conf"
chmod 600 "$T/tokens.conf"

# ---- what a client got: CASE.out, or CASE.err.json describing the failure ----
# shown DIR CASE: one line saying what the client got instead, for the log.
shown() {
  if [ -f "$1/$2.err.json" ]; then
    echo "     got: $(jq -c '{status, class, error: (.error.message // null), exception, cause, connection_error} | with_entries(select(.value != null))' "$1/$2.err.json")"
    [ -f "$1/$2.tries" ] && sed 's/^/     try: /' "$1/$2.tries"
  elif [ ! -f "$1/$2.out" ]; then
    echo "     got: nothing (the client did not run this case)"
  fi
  return 0
}
# expect NAME DIR CASE COMMAND...: a check that shows what the client got when it fails.
expect() {
  local name=$1 dir=$2 case=$3; shift 3
  if "$@"; then ok "$name"; else not_ok "$name"; shown "$dir" "$case"; fi
}
out_is() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
jq_is() { [ -f "$1" ] && [ "$(jq -c "$2" "$1" 2> /dev/null)" = "$3" ]; }

# transcripts_ok CLIENT DIR: the transcription cases against hark transcribe.
transcripts_ok() {
  local c=$1 d=$2
  want json && expect "$c: json text is hark transcribe's" "$d" json out_is "$d/json.out" "$text"
  want text && expect "$c: text" "$d" text out_is "$d/text.out" "$text"
  want srt && expect "$c: srt byte-identical" "$d" srt cmp -s "$d/srt.out" "$ref.srt"
  want vtt && expect "$c: vtt byte-identical" "$d" vtt cmp -s "$d/vtt.out" "$ref.vtt"
  want segments && expect "$c: verbose_json segment: text and segments, no words" "$d" segments \
    jq_is "$d/segments.out" '[.text, .segments, has("words")]' "$(jq -c '[.text, .segments, false]' "$ref.verbose.json")"
  want words && expect "$c: verbose_json word: words, no segments" "$d" words \
    jq_is "$d/words.out" '[.words, has("segments")]' "$(jq -c '[.words, false]' "$ref.verbose.json")"
  want both && expect "$c: verbose_json word+segment: both" "$d" both \
    jq_is "$d/both.out" '[.text, .segments, .words]' "$(jq -c '[.text, .segments, .words]' "$ref.verbose.json")"
  want stream && expect "$c: stream: deltas add up to the done text, hark transcribe's" "$d" stream \
    jq_is "$d/stream.out" '[([.[] | select(.type == "transcript.text.delta") | .delta] | join("")), .[-1].type, .[-1].text]' \
    "$(jq -nc --arg t "$text" '[$t, "transcript.text.done", $t]')"
  want bad_model && expect "$c: unknown model: 400 model_not_found" "$d" bad_model \
    jq_is "$d/bad_model.err.json" '[.status, .error.code]' '[400,"model_not_found"]'
  return 0
}
# errors_ok CLIENT DIR [sdk]: the early errors, their status and OpenAI's
# shape; an SDK's typed error, not its connection error.
errors_ok() {
  local c=$1 d=$2 sdk=${3:-}
  local -a cases=("wrong_token 401 authentication_error invalid_api_key authentication_error"
    "priority 403 permission_error priority_not_allowed permission_denied_error"
    "unknown_route 404 not_found_error unknown_route not_found_error"
    "too_large 413 invalid_request_error file_too_large api_error")
  local line name status type code flag shape
  shape='(.error | type == "object" and has("message") and has("type") and has("param") and has("code"))'
  for line in "${cases[@]}"; do
    read -r name status type code flag <<< "$line"
    local want_json="[$status,\"$type\",\"$code\",true]" got='[.status, .error.type, .error.code, '"$shape"']'
    if [ -n "$sdk" ]; then
      got='[.status, .error.type, .error.code, '"$shape"', .'"$flag"', .connection_error]'
      want_json="[$status,\"$type\",\"$code\",true,true,false]"
    fi
    expect "$c: $name: $status $code in OpenAI's shape${sdk:+ ($flag, not a connection error)}" "$d" "$name" \
      jq_is "$d/$name.err.json" "$got" "$want_json"
  done
}

# ---- the servers ----
start_server "$T/s" --workers 2
check "plain server starts" [ -n "${HARK_SERVER:-}" ]
MAIN=$HARK_SERVER MAIN_PID=$SERVER_PID
start_server "$T/e" --config "$T/tokens.conf" --workers 1 --max-upload 300000
check "token server with --max-upload 300000 starts" [ "$HARK_SERVER" != "$MAIN" ]
ERRS=$HARK_SERVER ERRS_PID=$SERVER_PID

# curl, case by case as the scripts do: CASE.out or CASE.err.json.
curl_case() { # DIR NAME URL [curl args...]
  local d=$1 name=$2 url=$3; shift 3
  local code rc
  code=$(curl -sN -m 300 -o "$d/$name.body" -w '%{http_code}' "$url" "$@"); rc=$?
  if [ "$code" = 200 ]; then
    mv "$d/$name.body" "$d/$name.out"
  elif [ $rc -ne 0 ] && [ "$code" = 000 ]; then
    local why=([7]="could not connect" [28]="timed out" [52]="empty reply from server"
      [55]="failed sending the body" [56]="failed receiving the answer")
    jq -n --arg e "curl exit $rc${why[$rc]:+: ${why[$rc]}}" '{status: null, error: null, exception: $e}' > "$d/$name.err.json"
  else
    jq -n --argjson s "$code" --rawfile b "$d/$name.body" \
      '{status: $s, error: (try ($b | fromjson | .error) catch null), exception: null}' > "$d/$name.err.json"
  fi
}
curl_matrix() {
  local d=$T/t-curl API=$MAIN/v1/audio/transcriptions g='timestamp_granularities[]'
  local -a f=(-F "file=@$clip" -F model=whisper-1) vj=(-F "file=@$clip" -F model=whisper-1 -F response_format=verbose_json)
  mkdir -p "$d"
  want json && curl_case "$d" json "$API" "${f[@]}" && [ -f "$d/json.out" ] && jq -r .text "$d/json.out" > "$d/j" && mv "$d/j" "$d/json.out"
  want text && curl_case "$d" text "$API" "${f[@]}" -F response_format=text
  want srt && curl_case "$d" srt "$API" -F "file=@$clip" -F model=pocketsphinx-en-us -F response_format=srt
  want vtt && curl_case "$d" vtt "$API" "${f[@]}" -F response_format=vtt
  want segments && curl_case "$d" segments "$API" "${vj[@]}" -F "$g=segment"
  want words && curl_case "$d" words "$API" "${vj[@]}" -F "$g=word"
  want both && curl_case "$d" both "$API" "${vj[@]}" -F "$g=word" -F "$g=segment"
  if want stream; then
    curl_case "$d" stream "$API" "${f[@]}" -F stream=true
    [ -f "$d/stream.out" ] && sed -n 's/^data: //p' "$d/stream.out" | jq -sc . > "$d/s" && mv "$d/s" "$d/stream.out"
  fi
  want bad_model && curl_case "$d" bad_model "$API" -F "file=@$clip" -F model=gpt-4o-transcribe
  return 0
}
curl_errors() { # DIR [CURL ARGS...]: the early errors, each tried 3 times
  local d=$1 API=$ERRS/v1/audio/transcriptions; shift
  mkdir -p "$d"
  for i in 1 2 3; do
    curl_case "$d" wrong_token "$API" "$@" -F "file=@$body" -F model=whisper-1 -H "Authorization: Bearer hk-wrong-000000000000000000"
    curl_case "$d" priority "$API" "$@" -F "file=@$body" -F model=whisper-1 -H "Authorization: Bearer $CI" -H 'X-Hark-Priority: realtime'
    curl_case "$d" unknown_route "$ERRS/v1/audio/nonexistent" "$@" -F "file=@$body" -F model=whisper-1 -H "Authorization: Bearer $CI"
    curl_case "$d" too_large "$API" "$@" -F "file=@$over" -F model=whisper-1 -H "Authorization: Bearer $CI"
    for n in wrong_token priority unknown_route too_large; do
      [ -f "$d/$n.err.json" ] || { echo "200 answer" >> "$d/$n.tries"; continue; }
      jq -r '"\(.status // "-") \(.exception // "answer")"' "$d/$n.err.json" >> "$d/$n.tries"
      [ "$(jq .status "$d/$n.err.json")" = null ] && cp "$d/$n.err.json" "$d/$n.kept"
    done
  done
  for n in wrong_token priority unknown_route too_large; do
    [ -f "$d/$n.kept" ] && mv "$d/$n.kept" "$d/$n.err.json"
  done
  return 0
}

# ---- every client: its transcriptions on the plain server, then the early
# errors on the token server. Two lanes of clients side by side keep the
# two workers busy; more would only queue (a request's wait is the queue
# ahead of it).
client() { # NAME: one client's two sets; what it printed in $T/NAME.log
  local c=$1 py=$HARK_SOURCE_DIR/tests/py/http_clients.py
  local -a cmd
  mkdir -p "$T/t-$c" "$T/e-$c"
  case $c in
    openai*) cmd=(node "$JS/openai_matrix.mjs" "$c") ;;
    requests | httpx | aiohttp) cmd=("$PY" "$py" "$c") ;;
    curl) # and its body sent chunked, as openai 6.x sends it (no Content-Length)
      { curl_matrix; curl_errors "$T/e-curl"; curl_errors "$T/e-curl-chunked" -H 'Transfer-Encoding: chunked'; } \
        > "$T/$c.log" 2>&1
      return ;;
    chromium)
      timeout 600 node "$JS/browser_fetch.mjs" "$MAIN" "$MAIN/healthz" "$T/t-$c" transcribe "$clip" > "$T/$c.log" 2>&1
      HARK_TOKEN=$CI timeout 600 node "$JS/browser_fetch.mjs" "$ERRS" "$ERRS/healthz" "$T/e-$c" errors "$body" "$over" >> "$T/$c.log" 2>&1
      return ;;
  esac
  timeout 600 "${cmd[@]}" "$MAIN" "$T/t-$c" transcribe "$clip" > "$T/$c.log" 2>&1
  HARK_TOKEN=$CI timeout 600 "${cmd[@]}" "$ERRS" "$T/e-$c" errors "$body" "$over" >> "$T/$c.log" 2>&1
}
( for c in openai4 openai5 openai6 chromium; do client $c; done ) &
lane=$!
for c in requests httpx aiohttp curl; do client $c; done
wait $lane

for c in openai4 openai5 openai6; do
  [ -s "$T/$c.log" ] && sed "s/^/     $c: /" "$T/$c.log"
  transcripts_ok "$c" "$T/t-$c"
  want models && expect "$c: models" "$T/t-$c" models out_is "$T/t-$c/models.out" $'pocketsphinx-en-us\nwhisper-1'
  errors_ok "$c" "$T/e-$c" sdk
done
for c in requests httpx aiohttp curl chromium; do
  [ -s "$T/$c.log" ] && sed "s/^/     $c: /" "$T/$c.log"
  transcripts_ok "$c" "$T/t-$c"
  errors_ok "$c" "$T/e-$c"
done
errors_ok "curl, chunked" "$T/e-curl-chunked"
check "chromium (same origin): the browser ran" [ -s "$T/t-chromium/console.txt" ]

# ---- preambles and epilogues (RFC 2046 5.1.1: ignored), sent raw ----
# raw PREAMBLE EPILOGUE MODEL: a multipart body around $clip, framed by hand.
raw() {
  printf '%b' "$1"
  printf -- '--hark-raw\r\nContent-Disposition: form-data; name="model"\r\n\r\n%s\r\n' "$3"
  printf -- '--hark-raw\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
  printf 'Content-Type: audio/wav\r\n\r\n'
  cat "$clip"
  printf -- '\r\n--hark-raw--'
  printf '%b' "$2"
}
raw_post() { # PREAMBLE EPILOGUE MODEL: the status; the body in $T/body
  raw "$@" > "$T/raw.bin"
  curl -s -o "$T/body" -w '%{http_code}' "$MAIN/v1/audio/transcriptions" \
    -H 'Content-Type: multipart/form-data; boundary=hark-raw' --data-binary @"$T/raw.bin"
}
code=$(raw_post 'This is a preamble: clients ignore it.\r\n' '\r\nThis is an epilogue.\r\n' whisper-1)
check "raw: preamble and epilogue: 200 and the text ($code $(head -c 100 "$T/body"))" \
  [ "$code" = 200 ] && [ "$(jq -r .text "$T/body")" = "$text" ]
# The others end at the model check (400 model_not_found): the body was read whole.
code=$(raw_post '' '\r\n\r\n' gpt-x)
check "raw: the epilogue openai 4.x sends (one more CRLF): read ($code $(jq -r .error.code "$T/body"))" \
  [ "$(jq -r .error.code "$T/body")" = model_not_found ]
code=$(raw_post 'preamble\r\n' '\r\n' gpt-x)
check "raw: a preamble: read ($code $(jq -r .error.code "$T/body"))" [ "$(jq -r .error.code "$T/body")" = model_not_found ]
code=$(raw_post '' '\r\nepilogue' gpt-x)
check "raw: an epilogue without a final CRLF: read ($code $(jq -r .error.code "$T/body"))" \
  [ "$(jq -r .error.code "$T/body")" = model_not_found ]
code=$(raw_post '' '' gpt-x)
check "raw: no CRLF after the close delimiter: read ($code $(jq -r .error.code "$T/body"))" \
  [ "$(jq -r .error.code "$T/body")" = model_not_found ]

stop_server; rc=$?
check "token server: SIGTERM exits 0 (got $rc)" [ $rc -eq 0 ]
SERVER_PID=$MAIN_PID
stop_server; rc=$?
check "plain server: SIGTERM exits 0 (got $rc)" [ $rc -eq 0 ]

# ---- the browser from another origin: CORS (cors_origin in the config) ----
mkdir -p "$T/pages"
node "$JS/media_server.mjs" "$T/pages" > "$T/pages.log" 2>&1 &
PAGES_PID=$!
for _ in $(seq 1 100); do grep -q '^listening' "$T/pages.log" && break; sleep 0.05; done
pport=$(sed -n 's/^listening //p' "$T/pages.log")
origin=http://127.0.0.1:$pport # allowed; http://localhost:$pport is another origin, not allowed
printf 'cors_origin = %s\n[token ci]\nsecret = %s\nmax_priority = normal\n' "$origin" $CI > "$T/cors.conf"
chmod 600 "$T/cors.conf"
HARK_SERVER=
start_server "$T/c" --config "$T/cors.conf" --workers 1
check "cors server (cors_origin = $origin) starts" [ -n "${HARK_SERVER:-}" ] || tail -n 3 "$T/c.log"
if [ -n "${HARK_SERVER:-}" ]; then
  code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X OPTIONS "$HARK_SERVER/v1/audio/transcriptions" \
    -H "Origin: $origin" -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization')
  check "cors: a preflight from the allowed origin is answered 2xx ($code)" [ "${code:0:1}" = 2 ]
  check "cors: ... with Access-Control-Allow-Origin: $origin" \
    grep -qix "access-control-allow-origin: $origin"$'\r' "$T/headers"
  curl -s -o /dev/null -D "$T/headers" -X OPTIONS "$HARK_SERVER/v1/audio/transcriptions" \
    -H "Origin: http://localhost:$pport" -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization'
  check "cors: another origin is not allowed" \
    bash -c "! grep -qi 'access-control-allow-origin: \(http://localhost:$pport\|\*\)' '$T/headers'"
  d=$T/cors
  mkdir -p "$d"
  HARK_TOKEN=$CI HARK_REFUSED_PAGE="http://localhost:$pport/_hits?tag=refused" timeout 300 \
    node "$JS/browser_fetch.mjs" "$HARK_SERVER" "$origin/_hits?tag=page" "$d" cors "$clip" > "$T/cors.log" 2>&1
  check "cors: the browser ran (rc $?)" [ -s "$d/console.txt" ] || cat "$T/cors.log"
  expect "cors: chromium from $origin: json text is hark transcribe's" "$d" json out_is "$d/json.out" "$text"
  expect "cors: chromium from $origin: stream deltas add up to the text" "$d" stream \
    jq_is "$d/stream.out" '[([.[] | select(.type == "transcript.text.delta") | .delta] | join("")), .[-1].text]' \
    "$(jq -nc --arg t "$text" '[$t, $t]')"
  expect "cors: chromium from another origin: fetch refused" "$d" refused \
    jq_is "$d/refused.err.json" '[.status, (.exception | startswith("TypeError"))]' '[null,true]'
  [ -f "$d/json.out" ] || sed 's/^/     console: /' "$d/console.txt"
  stop_server; rc=$?
  check "cors server: SIGTERM exits 0 (got $rc)" [ $rc -eq 0 ]
fi
kill $PAGES_PID 2> /dev/null
wait $PAGES_PID 2> /dev/null
finish
