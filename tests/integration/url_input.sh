#!/usr/bin/env bash
# Inputs by URL on hark serve, end to end with real workers and a local
# HTTP server (tests/js/media_server.mjs, node:http): a downloaded job's
# transcript is byte-identical to `hark transcribe` of the same file (also
# behind basic auth, also after a 500 that is retried); every hostile
# server (404, a redirect to file://, a huge Content-Length, a trickle, a
# server that never answers, one that never ends, 500s, an unknown host)
# fails its job alone with a message naming the URL without credentials
# or query, within its limit plus a margin, retried only when it may pass;
# a realtime clip overtakes downloads that hang; a cancel stops a hung
# download at once; the submit API refuses bad URLs naming the field.
# Destinations: the media server is reachable only because the daemon's
# --url-allow names it; loopback in any other spelling (numeric forms at
# submit (403), `localhost` and redirects at the download), other private
# ranges, and a redirect from the allowed server to another local port
# are refused with "not allowed", without a request, with the same words
# for an open port (the daemon's own) and a closed one.
. "$(dirname "$0")/../lib.sh"
# libcurl honours these: the test's servers are local, the unknown host must not resolve.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
M=$T/media
mkdir -p "$M"
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$M/clip.wav"
sox $(for i in 1 2; do echo "$DATA"/*.wav; done) "$M/long.wav"   # ~50 s: several chunks
echo "not audio" > "$M/notes.wav"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$M/clip.wav" "$M/long.wav"

node "$HARK_SOURCE_DIR/tests/js/media_server.mjs" "$M" > "$T/media.log" 2>&1 &
MEDIA_PID=$!
trap 'kill $MEDIA_PID 2>/dev/null; [ -n "${SERVER_PID:-}" ] && kill $SERVER_PID 2>/dev/null; rm -rf "$T"' EXIT
PORT=
for _ in $(seq 1 200); do
  PORT=$(sed -n 's/^listening //p' "$T/media.log")
  [ -n "$PORT" ] && break
  sleep 0.05
done
check "media server listens" [ -n "$PORT" ] || { cat "$T/media.log"; finish; exit 1; }
BASE=http://127.0.0.1:$PORT
# What the job may show of a URL of ours: no user, no password, no query.
SECRET_BASE=http://alice:s3cret@127.0.0.1:$PORT
open_requests() { curl -s "$BASE/_open?tag=$1"; }
hits() { curl -s "$BASE/_hits?tag=$1"; }
# Seconds from the job's first start to its end, from its own timestamps
# (not its wait for a worker: the long job below keeps both busy, and a
# chunk's yield takes a moment on a loaded machine).
took() { "$HARK" show "$1" --json | jq '.finished_at - .started_at'; }
no_secrets() { ! grep -qE 's3cret|alice|hunter2' "$@"; }
# Requests of these tags open now, and made so far: "open_are 1 1 TAG1 TAG2".
open_are() { local want=$1; shift; for t in "$@"; do [ "$(open_requests "$t")" = "$want" ] || return 1; done; }
hits_are() { local want=$1; shift; for t in "$@"; do [ "$(hits "$t")" = "$want" ] || return 1; done; }
# until_true SECONDS COMMAND...: poll (bounded) until COMMAND succeeds (a
# command that looks each time, not an expanded $(...)).
until_true() {
  local n=$(( $1 * 20 )); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.05; done
  return 1
}

# ---- hark transcribe URL: the same runtime, embedded ----
"$HARK" transcribe -q -o "$T/tr" -f txt,srt "$SECRET_BASE/auth/clip.wav?token=hunter2" \
  "$BASE/missing.wav" 2> "$T/tr.err"; rc=$?
check "transcribe URL: exit 1 for the 404 ($rc)" [ $rc -eq 1 ]
check "transcribe URL: the 404 named" grep -qF "cannot download $BASE/missing.wav: server answered HTTP 404" "$T/tr.err"
check "transcribe URL: byte-identical to the file's" cmp -s "$T/ref/clip.txt" "$T/tr/clip.txt"
check "transcribe URL: srt too" cmp -s "$T/ref/clip.srt" "$T/tr/clip.srt"
check "transcribe URL: no secret said" no_secrets "$T/tr.err"

# ---- small limits: every failure mode, each job alone ----
start_server "$T/a" --workers 2 --url-timeout 4 --url-stall 2 --max-attempts 2 -v \
  --url-allow "127.0.0.1:$PORT"
check "server starts" [ -n "${HARK_SERVER:-}" ]

good=$("$HARK" submit "$BASE/clip.wav?tag=good")
"$HARK" wait "$good" > /dev/null 2>&1
check "a URL job succeeds" [ "$(job_field "$good" state)" = succeeded ]
"$HARK" result "$good" > "$T/good.txt"
"$HARK" result "$good" -f srt > "$T/good.srt"
check "its txt is byte-identical to hark transcribe of the file" cmp -s "$T/ref/clip.txt" "$T/good.txt"
check "its srt is byte-identical to hark transcribe of the file" cmp -s "$T/ref/clip.srt" "$T/good.srt"
check "its source is the URL without the query ($(job_field "$good" source))" \
  [ "$(job_field "$good" source)" = "$BASE/clip.wav?..." ]
check "its work directory is gone" [ ! -e "$T/a/work/$good" ]

# A long download runs through all the failures below, on one worker.
long=$("$HARK" submit --priority low --url "$BASE/long.wav")
check "a long URL job is decoded" wait_decoded "$long" 120
check "the download is deleted once the PCM is made" \
  eval '[ -f "$T/a/work/$long/audio.pcm" ] && [ ! -e "$T/a/work/$long/input.download" ]'

# expect_failure NAME PATH MAX_S TEXT: a job for $SECRET_BASE/PATH (with a
# credentialed query) fails with TEXT, naming the URL shown without
# secrets, within MAX_S seconds of its start.
expect_failure() {
  local name=$1 path=$2 max=$3 text=$4 id
  id=$("$HARK" submit "$SECRET_BASE/$path?tag=$name&token=hunter2")
  if ! wait_state "$id" failed 60; then
    not_ok "$name: the job fails (state $(job_field "$id" state))"; return
  fi
  "$HARK" show "$id" --json > "$T/$name.json"
  local err t
  err=$(jq -r .error "$T/$name.json")
  t=$(took "$id")
  check "$name: fails with '$text' ($err)" grep -qF -- "$text" <<< "$err"
  check "$name: the message names the URL" grep -qF -- "$BASE/$path?..." <<< "$err"
  check "$name: no user, password or query shown" no_secrets "$T/$name.json"
  check "$name: within ${max} s (took $t s)" le "$t" "$max"
  FAILED_ID=$id
}
# Input faults: failed at once, never retried (one request).
expect_failure missing missing.wav 3 "cannot download $BASE/missing.wav?...: server answered HTTP 404"
check "missing: not retried" [ "$(hits missing)" = 1 ]
check "missing: its error is not a retry count" \
  [ "$(job_field "$FAILED_ID" error)" = "cannot download $BASE/missing.wav?...: server answered HTTP 404" ]
expect_failure redirect to-file.wav 3 "refused a redirect to file:///etc/passwd: only http:// and https:// are allowed"
check "redirect: not retried" [ "$(hits redirect)" = 1 ]
expect_failure huge huge.wav 3 "the server announces 1099511627776 bytes, over the cap of 2147483648 bytes"
check "huge: not retried" [ "$(hits huge)" = 1 ]
expect_failure notmedia notes.wav 3 "cannot decode '$BASE/notes.wav?...': not a media file"
# Without the credentials the file is behind, the server says 401.
noauth=$("$HARK" submit "$BASE/auth/clip.wav")
wait_state "$noauth" failed 30
check "401: fails saying so" [ "$(job_field "$noauth" error)" = "cannot download $BASE/auth/clip.wav: server answered HTTP 401" ]
# An unknown host (.invalid never resolves): an input fault too. Where the
# resolver is slow to say so, the connect limit (4 s here) ends it.
dns=$("$HARK" submit "http://alice:s3cret@hark-test.invalid/x.wav?token=hunter2")
wait_state "$dns" failed 60
"$HARK" show "$dns" --json > "$T/dns.json"
check "unknown host: fails naming it ($(jq -r .error "$T/dns.json"))" \
  grep -qE "cannot download http://hark-test.invalid/x.wav\?\.\.\.: (cannot resolve host 'hark-test.invalid'|cannot connect)" "$T/dns.json"
check "unknown host: no secrets shown" no_secrets "$T/dns.json"
check "unknown host: within 7 s (took $(took "$dns") s)" le "$(took "$dns")" 7

# Faults that may pass: retried (--max-attempts 2, backoff 1 s), then failed.
expect_failure slow trickle.wav 9 "too slow (under 1024 bytes/s for 2 s)"
check "slow: tried twice" [ "$(hits slow)" = 2 ]
check "slow: the error counts the attempts" grep -q "failed 2 times" "$T/slow.json"
expect_failure silent silent.wav 9 "accepted the connection but sent no answer for 2 s"
check "silent: tried twice" [ "$(hits silent)" = 2 ]
expect_failure endless drip.wav 13 "not done within the time limit of 4 s"
check "endless: tried twice" [ "$(hits endless)" = 2 ]
expect_failure error error.wav 5 "server answered HTTP 500"
check "500: tried twice" [ "$(hits error)" = 2 ]
check "no download left behind by the failures" \
  [ -z "$(find "$T/a/work" -name '*download*' -not -path "*/$long/*" 2>/dev/null)" ]

# A 500 that passes: the retry succeeds, the same transcript.
flaky=$("$HARK" submit "$BASE/flaky/clip.wav?tag=flaky")
"$HARK" wait "$flaky" > /dev/null 2>&1
check "a 500 then 200: the job succeeds on its retry" [ "$(job_field "$flaky" state)" = succeeded ]
check "a 500 then 200: two requests" [ "$(hits flaky)" = 2 ]
"$HARK" result "$flaky" > "$T/flaky.txt"
check "a 500 then 200: the same transcript" cmp -s "$T/ref/clip.txt" "$T/flaky.txt"

# Credentials in the URL reach the server, never the job record.
auth=$("$HARK" submit "$SECRET_BASE/auth/clip.wav")
"$HARK" wait "$auth" > /dev/null 2>&1
"$HARK" show "$auth" --json > "$T/auth.json"
check "user:password@: the job succeeds" [ "$(jq -r .state "$T/auth.json")" = succeeded ]
check "user:password@: source without them" [ "$(jq -r .source "$T/auth.json")" = "$BASE/auth/clip.wav" ]
"$HARK" result "$auth" > "$T/auth.txt"
check "user:password@: the same transcript" cmp -s "$T/ref/clip.txt" "$T/auth.txt"

# ---- destinations: only what --url-allow opens ----
# An open local port (the daemon's own API) and a closed one.
OPEN=${HARK_SERVER##*:}
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
jpost() { curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$1" "$HARK_SERVER/v1/jobs"; }
# Numeric spellings of loopback (and other private ranges) are refused at submit.
for host in "127.0.0.1:$OPEN" "127.0.0.1:$CLOSED" "2130706433:$OPEN" "0x7f000001:$OPEN" \
  "0x7f.1:$OPEN" "017700000001:$OPEN" "127.1:$OPEN" "0.0.0.0:$OPEN" "0:$OPEN" "[::1]:$OPEN" \
  "[::ffff:127.0.0.1]:$OPEN" "[::ffff:7f00:1]:$OPEN" "[::]:$OPEN" "[0:0:0:0:0:0:0:1]:$OPEN" \
  10.1.2.3 172.16.0.1 192.168.0.1 169.254.169.254 100.64.0.1 224.0.0.1 255.255.255.255 \
  "[fe80::1]" "[fc00::1]" "[64:ff9b::7f00:1]" "[2002:7f00:1::]"; do
  u="http://alice:s3cret@$host/v1/jobs?token=hunter2"
  c=$(jpost "$(jq -nc --arg u "$u" '{url: $u}')")
  check "url $host: 403 not allowed ($c $(jq -r .error.message "$T/body"))" \
    eval '[ "$c" = 403 ] && jq -e ".error.param == \"url\" and .error.code == \"destination_not_allowed\" and (.error.message | test(\"not allowed\"))" "$T/body" > /dev/null'
  check "url $host: no secret in the answer" no_secrets "$T/body"
done
open_msg=$(jpost "{\"url\":\"http://127.0.0.1:$OPEN/x.wav\"}" > /dev/null; jq -r .error.message "$T/body" | sed "s/$OPEN/PORT/g")
closed_msg=$(jpost "{\"url\":\"http://127.0.0.1:$CLOSED/x.wav\"}" > /dev/null; jq -r .error.message "$T/body" | sed "s/$CLOSED/PORT/g")
check "submit: an open and a closed port get the same answer ($open_msg)" \
  eval '[ "$open_msg" = "$closed_msg" ] && grep -q "is not allowed" <<< "$open_msg"'
check "submit: the allowed media server is accepted" \
  [ "$(jpost "{\"url\":\"$BASE/missing.wav?tag=allowed\"}")" = 201 ]
# refused_job NAME URL: the job fails at once saying "not allowed", never
# retried; prints its error with the port numbers as PORT.
refused_job() {
  local id err
  id=$("$HARK" submit --url "$2")
  wait_state "$id" failed 30
  err=$(job_field "$id" error)
  check "$1: fails with 'not allowed' ($err)" grep -q "is not allowed" <<< "$err"
  check "$1: at once, not retried (took $(took "$id") s)" \
    eval 'le "$(took "$id")" 3 && ! grep -q "failed [0-9]* time" <<< "$err"'
  check "$1: no secret shown" no_secrets <<< "$err"
  sed -e "s/$OPEN/PORT/g" -e "s/$CLOSED/PORT/g" -e "s/$PORT/PORT/g" <<< "$err" > "$T/$1.err"
}
# Names are judged by the address they resolve to, when connecting.
refused_job localhost-open "http://alice:s3cret@localhost:$OPEN/x.wav?token=hunter2"
refused_job localhost-closed "http://alice:s3cret@localhost:$CLOSED/x.wav?token=hunter2"
check "localhost: an open and a closed port fail the same way" cmp -s "$T/localhost-open.err" "$T/localhost-closed.err"
refused_job localhost-media "http://LOCALHOST:$PORT/clip.wav?tag=byname"
check "localhost: the allow list names 127.0.0.1, not localhost: no request made" [ "$(hits byname)" = 0 ]
# Redirects from the allowed server are judged again, hop by hop.
refused_job redirect-open "$BASE/redirect/127.0.0.1:$OPEN/v1/jobs?tag=r-open"
refused_job redirect-closed "$BASE/redirect/127.0.0.1:$CLOSED/v1/jobs?tag=r-closed"
check "redirect: an open and a closed port fail the same way" cmp -s "$T/redirect-open.err" "$T/redirect-closed.err"
check "redirect: the message names where it was sent" grep -q "redirected to http://127.0.0.1:PORT/v1/jobs" "$T/redirect-open.err"
refused_job redirect-name "$BASE/redirect/localhost:$PORT/clip.wav?tag=r-name"
refused_job redirect-mapped "$BASE/redirect/[::ffff:127.0.0.1]:$PORT/clip.wav?tag=r-mapped"
refused_job redirect-numeric "$BASE/redirect/2130706433:$OPEN/v1/jobs?tag=r-numeric"
check "redirects: the media server saw only the first hop" \
  [ "$(hits r-open):$(hits r-closed):$(hits r-name):$(hits r-mapped)" = 1:1:1:1 ]

# The long download went on through all of that.
"$HARK" wait "$long" > /dev/null 2>&1
check "the long URL job succeeded beside the failures" [ "$(job_field "$long" state)" = succeeded ]
"$HARK" result "$long" > "$T/long.txt"
check "the long URL job's transcript is hark transcribe's" cmp -s "$T/ref/long.txt" "$T/long.txt"
"$HARK" ls --json > "$T/a-jobs.json"
check "no job record shows a secret" no_secrets "$T/a-jobs.json"
stop_server
check "the daemon's log shows no secret" no_secrets "$T/a.log"

# ---- default limits: downloads that hang, realtime and cancel ----
start_server "$T/b" --workers 2 -v --url-allow "127.0.0.1:$PORT"
"$HARK" ptt "$M/clip.wav" > /dev/null 2>&1   # warm up
t0=$(date +%s%N)
"$HARK" ptt "$M/clip.wav" > "$T/ptt-idle.txt"
idle_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "realtime on an idle server: the transcript" cmp -s "$T/ref/clip.txt" "$T/ptt-idle.txt"

# Both workers hang on servers that never answer.
h1=$("$HARK" submit --priority low "$BASE/silent.wav?tag=h1")
h2=$("$HARK" submit --priority low "$BASE/silent.wav?tag=h2")
check "hung downloads: both running" eval 'wait_state "$h1" running 30 && wait_state "$h2" running 30'
check "hung downloads: both connected" until_true 30 open_are 1 h1 h2
part=$(ls "$T/b/work/$h1"/.input.download.part.* 2>/dev/null | head -n 1)
check "the download goes to the job's work directory, mode 0600 ($part)" \
  eval '[ -n "$part" ] && [ "$(stat -c %a "$part")" = 600 ]'

t0=$(date +%s%N)
"$HARK" ptt "$M/clip.wav" > "$T/ptt-busy.txt"
busy_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "realtime beside hung downloads: the transcript" cmp -s "$T/ref/clip.txt" "$T/ptt-busy.txt"
# A download checks in at least once a second: the yield costs about that.
check "realtime beside hung downloads: prompt (${busy_ms} ms, idle ${idle_ms} ms)" \
  [ "$busy_ms" -le $(( idle_ms * 3 / 2 + 2500 )) ]
# They gave way (their connections closed) and took up again after it.
check "hung downloads: resumed after the realtime clip" \
  until_true 30 eval 'hits_are 2 h1 h2 && open_are 1 h1 h2'
check "hung downloads: still running" [ "$(job_field "$h1" state):$(job_field "$h2" state)" = running:running ]

t0=$(date +%s%N)
"$HARK" cancel "$h1" > /dev/null
check "cancel: the hung download stops" until_true 10 open_are 0 h1
cancel_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "cancel: promptly (${cancel_ms} ms)" [ "$cancel_ms" -le 2500 ]
check "cancel: its work directory goes" until_true 10 test ! -e "$T/b/work/$h1"
check "cancel: the other download goes on" [ "$(job_field "$h2" state):$(open_requests h2)" = running:1 ]
# The freed worker takes new work at once.
quick=$("$HARK" submit --url "$BASE/clip.wav")
"$HARK" wait "$quick" > /dev/null 2>&1
check "a freed worker takes the next URL job" [ "$(job_field "$quick" state)" = succeeded ]
"$HARK" cancel "$h2" > /dev/null
check "cancel: the second hung download stops" until_true 10 open_are 0 h2

# ---- the submit API ----
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
post() { code -H 'Content-Type: application/json' -d "$1" "$HARK_SERVER/v1/jobs"; }
check "url: not http(s): 400" [ "$(post '{"url":"ftp://alice:s3cret@example.com/x.wav"}')" = 400 ]
check "url: the error names the field" [ "$(jq -r .error.param "$T/body")" = url ]
check "url: the error shows no password" no_secrets "$T/body"
check "url: file:// refused" [ "$(post '{"url":"file:///etc/passwd"}')" = 400 ]
check "url: a space: 400" [ "$(post '{"url":"http://example.com/a b.wav"}')" = 400 ]
check "url: malformed: 400" [ "$(post '{"url":"http://[::1/x.wav"}')" = 400 ]
check "url: not a string: 400" [ "$(post '{"url":5}')" = 400 ]
check "url: empty: 400" [ "$(post '{"url":""}')" = 400 ]
long_url="http://example.com/$(head -c 5000 /dev/zero | tr '\0' a)"
check "url: over 4000 bytes: 400" [ "$(post "{\"url\":\"$long_url\"}")" = 400 ]
check "url and path: 400" [ "$(post "{\"url\":\"$BASE/clip.wav\",\"path\":\"$M/clip.wav\"}")" = 400 ]
check "url and path: names url" [ "$(jq -r .error.param "$T/body")" = url ]
check "url and a file: 400" [ "$(code -F file=@"$M/clip.wav" -F url="$BASE/clip.wav" "$HARK_SERVER/v1/jobs")" = 400 ]
check "url in a form: 201" [ "$(code -F url="$BASE/clip.wav" -F priority=low "$HARK_SERVER/v1/jobs")" = 201 ]
check "url in a form: the job shows it" [ "$(jq -r .source "$T/body")" = "$BASE/clip.wav" ]
"$HARK" serve --url-allow "http://media.lan/" --state-dir "$T/never" 2> "$T/allow.err"; rc=$?
check "serve --url-allow with a URL: usage error naming it ($(cat "$T/allow.err"))" \
  eval '[ $rc -eq 2 ] && grep -q "url-allow .http://media.lan/.: expected HOST or HOST:PORT" "$T/allow.err"'
"$HARK" submit --url ftp://example.com/x.wav > /dev/null 2>&1; rc=$?
check "hark submit --url ftp://...: usage error" [ $rc -eq 2 ]
"$HARK" submit "http://alice:s3cret@example.com/a b.wav" 2> "$T/submit.err"; rc=$?
check "hark submit of a bad URL: exit 1, the server's reason ($(cat "$T/submit.err"))" \
  eval '[ $rc -eq 1 ] && grep -q "contains a space" "$T/submit.err"'
check "hark submit of a bad URL: no password shown" no_secrets "$T/submit.err"
stop_server
check "the daemon's log shows no secret" no_secrets "$T/b.log"
finish
