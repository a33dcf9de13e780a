#!/usr/bin/env bash
# Completion webhooks end to end, against a receiver the test starts
# (tests/js/webhook_receiver.mjs, Node.js without packages) that verifies
# every signature: callback_url refused without a secret and when it is not
# http(s); a succeeded, a failed and a cancelled job each deliver their
# summary, signed (checked again here with openssl); a receiver that fails
# twice gets exactly one accepted delivery and the job shows 3 attempts; a
# receiver that never answers is retried while another job's delivery goes
# out at once; a delivery in flight when the daemon is killed with -9 is
# delivered after the restart; SIGTERM does not wait for a silent receiver.
# Destinations: the receiver on loopback is reached only because the
# config's url_allow names it; a loopback callback_url in another spelling
# is refused at submit (numeric forms) or fails its delivery at once
# (`localhost`) with "not allowed" and no request, the same for an open and
# a closed port; last_error never repeats what a receiver answered.
. "$(dirname "$0")/../lib.sh"
for v in http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY; do unset $v; done
unset HARK_WEBHOOK_SECRET
RECV_PID=
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill -9 "$SERVER_PID" 2>/dev/null
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$clip"
sox $(for i in 1 2 3; do echo "$DATA"/*.wav; done) "$T/long.wav"
echo "not audio" > "$T/text.txt"
secret='whsec-integration-0123456789abcdef'
printf '%s\n' "$secret" > "$T/secret"
chmod 600 "$T/secret"

# ---- the receiver ----
hooks=$T/hooks.jsonl
: > "$hooks"
node "$HARK_SOURCE_DIR/tests/js/webhook_receiver.mjs" --secret-file "$T/secret" --log "$hooks" \
  --port-file "$T/rport" > "$T/receiver.log" 2>&1 &
RECV_PID=$!
for _ in $(seq 1 200); do [ -s "$T/rport" ] && break; sleep 0.05; done
check "receiver listens" [ -s "$T/rport" ]
RPORT=$(cat "$T/rport")
R=http://127.0.0.1:$RPORT
# The receiver is local: the daemon reaches it because the config allows it.
printf 'url_allow = 127.0.0.1:%s\n' "$RPORT" > "$T/hark.conf"

# submit_json PATH CALLBACK [PRIORITY]: a JSON submit; prints the job id.
submit_json() {
  jq -nc --arg p "$1" --arg u "$2" --arg pr "${3:-normal}" \
    '{path: $p, callback_url: $u, priority: $pr}' |
    curl -s -H 'Content-Type: application/json' --data-binary @- "$HARK_SERVER/v1/jobs" | jq -r .id
}
# cancelled_job CALLBACK: a job cancelled at once, while queued or running.
cancelled_job() {
  local id
  id=$(submit_json "$T/long.wav" "$1" low)
  curl -s -X POST "$HARK_SERVER/v1/jobs/$id/cancel" > /dev/null
  echo "$id"
}
# ended_job CALLBACK: a job that fails within moments (its input is not
# media), so its delivery is due without a transcription and no worker
# stays busy; returns once it has failed.
ended_job() {
  local id
  id=$(submit_json "$T/text.txt" "$1")
  wait_state "$id" failed 60
  echo "$id"
}
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
# jqe ARGS...: jq -e, quiet.
jqe() { jq -e "$@" > /dev/null; }
# wait_hook ID STATE [SECONDS]: poll (bounded) until the job's webhook is in STATE.
wait_hook() {
  local n=$(( ${3:-30} * 20 ))
  for _ in $(seq 1 $n); do
    [ "$(job_field "$1" webhook.state)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# requests PATH: the receiver's log lines for PATH.
requests() { jq -c --arg p "$1" 'select(.path == $p)' "$hooks"; }
# wait_requests PATH N [SECONDS]: until the receiver has seen N requests on PATH.
wait_requests() {
  local n=$(( ${3:-30} * 20 ))
  for _ in $(seq 1 $n); do
    [ "$(requests "$1" | wc -l)" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# openssl_verifies LINE: the logged request's signature, checked as
# docs/operations.md does by hand.
openssl_verifies() {
  local ts sig want
  ts=$(jq -r '.headers["x-hark-timestamp"]' <<< "$1")
  sig=$(jq -r '.headers["x-hark-signature"]' <<< "$1")
  jq -j .body <<< "$1" > "$T/raw.json"
  want="sha256=$( { printf '%s.' "$ts"; cat "$T/raw.json"; } |
    openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1 )"
  [ "$want" = "$sig" ]
}

# ---- no secret: callback_url is refused, saying why ----
start_server "$T/s0" --workers 1 --root "$T"
check "no secret: callback_url refused with 400" \
  [ "$(code -H 'Content-Type: application/json' \
    -d "{\"path\":\"$clip\",\"callback_url\":\"$R/ok/0/x\"}" "$HARK_SERVER/v1/jobs")" = 400 ]
check "no secret: the error names the field and the missing secret" \
  jqe '.error.param == "callback_url" and (.error.message | test("no webhook secret"))' "$T/body"
stop_server

# ---- a daemon that signs: fast retries, 5 s attempts ----
export HARK_WEBHOOK_BACKOFF_MS=200 HARK_WEBHOOK_TIMEOUT=5
start_server "$T/s1" --workers 2 --root "$T" --webhook-secret-file "$T/secret" --config "$T/hark.conf"
check "daemon with a secret starts" [ -n "${HARK_SERVER:-}" ]
for bad in "ftp://example.com/hook" "garbage" "http://" "http://exa mple.com/" "javascript:alert(1)"; do
  check "callback_url '$bad': 400" \
    [ "$(code -H 'Content-Type: application/json' \
      -d "$(jq -nc --arg p "$clip" --arg u "$bad" '{path: $p, callback_url: $u}')" \
      "$HARK_SERVER/v1/jobs")" = 400 ]
done
check "a bad callback_url names the field" jqe '.error.param == "callback_url"' "$T/body"
check "callback_url in a form: ftp:// is 400" \
  [ "$(code -F file=@"$clip" -F callback_url=ftp://example.com/x "$HARK_SERVER/v1/jobs")" = 400 ]
check "callback_url of a number: 400" \
  [ "$(code -H 'Content-Type: application/json' -d "{\"path\":\"$clip\",\"callback_url\":7}" \
    "$HARK_SERVER/v1/jobs")" = 400 ]
check "nothing was queued by the refused submits" \
  [ "$(curl -s "$HARK_SERVER/v1/jobs" | jq '.data | length')" = 0 ]

# A success: the job object shows the hook, the receiver gets the summary.
a=$(submit_json "$clip" "$R/ok/0/a?token=s3cret")
check "the job shows its webhook waiting" [ "$(job_field "$a" webhook.state)" = waiting ]
check "the job shows the callback URL without its query" \
  [ "$(job_field "$a" webhook.url)" = "$R/ok/0/a?..." ]
wait_state "$a" succeeded 60
check "success: delivered" wait_hook "$a" delivered 20
check "success: 1 attempt, HTTP 200" \
  [ "$(job_field "$a" webhook.attempts) $(job_field "$a" webhook.last_status)" = "1 200" ]
check "success: delivered_at set, no error" \
  [ "$(curl -s "$HARK_SERVER/v1/jobs/$a" | jq '.webhook.delivered_at > 0 and .webhook.last_error == null')" = true ]
line=$(requests "/ok/0/a?token=s3cret")
check "success: the receiver got one request" [ "$(wc -l <<< "$line")" = 1 ]
check "success: the receiver verified the signature" [ "$(jq .verified <<< "$line")" = true ]
check "success: openssl verifies it too" openssl_verifies "$line"
check "success: headers (event, delivery id, content type, user agent)" \
  jqe --arg a "$a" '.headers["x-hark-event"] == "job.succeeded"
    and (.headers["x-hark-delivery"] | startswith($a + "-"))
    and .headers["content-type"] == "application/json"
    and (.headers["user-agent"] | startswith("hark/"))' <<< "$line"
jq -r .body <<< "$line" > "$T/a.json"
check "success: the body is the job's summary" \
  jqe --arg a "$a" --arg c "$clip" '.event == "job.succeeded" and .id == $a and .state == "succeeded"
    and .source == $c and .priority == "normal" and .duration > 0 and .error == null
    and .finished_at > 0 and .result_url == "/v1/jobs/\($a)/result"' "$T/a.json"
"$HARK" result "$a" > "$T/a-direct.txt"
curl -s "$HARK_SERVER$(jq -r .result_url "$T/a.json")" > "$T/a-by-url.txt"
check "success: result_url serves the transcript" cmp -s "$T/a-direct.txt" "$T/a-by-url.txt"

# ---- destinations: only what url_allow opens ----
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# (url_allow = 127.0.0.1:RPORT admits the receiver's port in any IPv4
# spelling, which libcurl reads as 127.0.0.1; other ports and hosts are not.)
for u in "http://127.0.0.1:$CLOSED/ok/0/x" "http://2130706433:$CLOSED/ok/0/x" "http://0x7f.1:$CLOSED/ok/0/x" \
  "http://[::1]:$RPORT/ok/0/x" "http://[::ffff:127.0.0.1]:$RPORT/ok/0/x" "http://0.0.0.0:$RPORT/ok/0/x" \
  "http://169.254.169.254/latest/meta-data" "http://10.0.0.1/hook"; do
  check "callback_url $u: 403 not allowed" \
    [ "$(code -H 'Content-Type: application/json' \
      -d "$(jq -nc --arg p "$clip" --arg u "$u" '{path: $p, callback_url: $u}')" "$HARK_SERVER/v1/jobs")" = 403 ]
  check "callback_url $u: the error says so" \
    jqe '.error.param == "callback_url" and .error.code == "destination_not_allowed" and (.error.message | test("not allowed"))' "$T/body"
done
# A name that resolves to loopback: the delivery fails at once, unsent.
lo_open=$(ended_job "http://localhost:$RPORT/ok/0/lo")
lo_closed=$(ended_job "http://localhost:$CLOSED/ok/0/lo")
check "localhost: the delivery fails" eval 'wait_hook "$lo_open" failed 20 && wait_hook "$lo_closed" failed 20'
check "localhost: after one attempt" \
  [ "$(job_field "$lo_open" webhook.attempts):$(job_field "$lo_closed" webhook.attempts)" = 1:1 ]
err_open=$(job_field "$lo_open" webhook.last_error)
err_closed=$(job_field "$lo_closed" webhook.last_error)
check "localhost: last_error says not allowed ($err_open)" grep -q "is not allowed" <<< "$err_open"
check "localhost: an open and a closed port fail the same way" \
  [ "${err_open//$RPORT/PORT}:$(job_field "$lo_open" webhook.last_status)" = "${err_closed//$CLOSED/PORT}:$(job_field "$lo_closed" webhook.last_status)" ]
check "localhost: the receiver got no request" [ -z "$(requests /ok/0/lo)" ]
# What a receiver answers is not repeated in last_error.
l=$(ended_job "$R/leak/0/l")
check "a 403: the delivery fails" wait_hook "$l" failed 20
check "a 403: last_error gives the status ($(job_field "$l" webhook.last_error))" \
  grep -q "HTTP 403" <<< "$(job_field "$l" webhook.last_error)"
check "a 403: last_error does not repeat the answer" \
  eval '! curl -s "$HARK_SERVER/v1/jobs/$l" | grep -q LEAKED-ANSWER'

# A receiver that fails twice, then accepts: exactly one accepted delivery.
b=$(ended_job "$R/fail/2/b")
check "fail twice: delivered" wait_hook "$b" delivered 30
check "fail twice: the job shows 3 attempts, the last HTTP 200" \
  [ "$(job_field "$b" webhook.attempts) $(job_field "$b" webhook.last_status)" = "3 200" ]
check "fail twice: 3 requests" [ "$(requests /fail/2/b | wc -l)" = 3 ]
check "fail twice: exactly one accepted" [ "$(requests /fail/2/b | jq -s 'map(select(.status == 200)) | length')" = 1 ]
check "fail twice: one delivery id and one body on every attempt" \
  [ "$(requests /fail/2/b | jq -s 'map(.headers["x-hark-delivery"]) | unique | length') $(requests /fail/2/b | jq -s 'map(.body) | unique | length')" = "1 1" ]

# A receiver that never answers holds one sender thread per attempt; a
# later job's delivery goes out at once meanwhile.
h=$(ended_job "$R/hang/1000/h")
check "silent receiver: its first attempt is under way" wait_requests /hang/1000/h 1 10
g=$(ended_job "$R/ok/0/g")
check "silent receiver: another job is delivered meanwhile" wait_hook "$g" delivered 5
lag=$(curl -s "$HARK_SERVER/v1/jobs/$g" | jq '.webhook.delivered_at - .finished_at')
check "silent receiver: ... within 1 s of its job's end (took $lag s)" le "$lag" 1
check "silent receiver: still pending" [ "$(job_field "$h" webhook.state)" = pending ]
for _ in $(seq 1 400); do [ "$(job_field "$h" webhook.attempts)" -ge 2 ] && break; sleep 0.05; done
check "silent receiver: retried (attempts $(job_field "$h" webhook.attempts))" \
  [ "$(job_field "$h" webhook.attempts)" -ge 2 ]
check "silent receiver: the error says it did not answer" \
  grep -q "no answer within 5 s" <<< "$(job_field "$h" webhook.last_error)"

# A failed job (uploaded, not media) and a cancelled one deliver too.
f=$(curl -s -F file=@"$T/text.txt" -F callback_url="$R/ok/0/f" "$HARK_SERVER/v1/jobs" | jq -r .id)
wait_state "$f" failed 60
check "failed job: delivered" wait_hook "$f" delivered 20
check "failed job: event job.failed, state and error in the body" \
  jqe '.headers["x-hark-event"] == "job.failed" and (.body | fromjson |
    .state == "failed" and (.error | test("not a media file")) and .result_url == null)' \
  <<< "$(requests /ok/0/f)"
c=$(cancelled_job "$R/ok/0/c")
check "cancelled job: cancelled" [ "$(job_field "$c" state)" = cancelled ]
check "cancelled job: delivered" wait_hook "$c" delivered 20
check "cancelled job: event job.cancelled" \
  jqe '.headers["x-hark-event"] == "job.cancelled" and (.body | fromjson | .state == "cancelled")' \
  <<< "$(requests /ok/0/c)"

# kill -9 while an attempt is in flight: delivered after the restart.
k=$(ended_job "$R/hang/1/k")
check "kill -9: the first attempt is under way" wait_requests /hang/1/k 1 10
check "kill -9: not delivered yet" [ "$(job_field "$k" webhook.state)" = pending ]
kill -9 $SERVER_PID
wait $SERVER_PID 2>/dev/null
start_server "$T/s1" --workers 2 --root "$T" --webhook-secret-file "$T/secret" --config "$T/hark.conf"
check "restart: the daemon is back" [ -n "${HARK_SERVER:-}" ]
check "restart: the pending delivery is delivered" wait_hook "$k" delivered 20
check "restart: exactly one accepted, the lost attempt not counted" \
  [ "$(requests /hang/1/k | jq -s 'map(select(.status == 200)) | length') $(job_field "$k" webhook.attempts)" = "1 1" ]
check "restart: what was delivered before is not sent again" [ "$(requests "/ok/0/a?token=s3cret" | wc -l)" = 1 ]

# SIGTERM with silent receivers in flight: no wait for their timeouts.
s=$(ended_job "$R/hang/1000/s")
check "stop: an attempt is under way" wait_requests /hang/1000/s 1 10
t0=$(date +%s%N)
stop_server; rc=$?
took=$(( ($(date +%s%N) - t0) / 1000000 ))
check "stop: exit 0 (got $rc)" [ $rc -eq 0 ]
check "stop: before the 5 s attempt timeout (took $took ms)" [ $took -lt 4000 ]
SERVER_PID=

check "every request the receiver got was signed right" \
  [ "$(jq -s 'all(.verified)' "$hooks")" = true ]
finish
