#!/usr/bin/env bash
# Who may do what, and what operators see: API tokens from a config file
# and HARK_TOKENS (401/403 in OpenAI's error shape, priority ceilings),
# tenants (a token sees and controls only its own jobs; an admin token all),
# loopback-only without tokens, server-side paths only under roots, request
# body limits, bounded queues (429 with Retry-After), /healthz, /readyz,
# /metrics in Prometheus text format, structured JSON logs with request and
# job ids.
. "$(dirname "$0")/../lib.sh"
clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip"
sox $(for i in 1 2 3; do echo "$DATA"/*.wav; done) "$T/mid.wav"   # ~75 s
mkdir -p "$T/media" && cp "$clip" "$T/media/clip.wav"
CI=hk-ci-0123456789abcdef0123      # max_priority normal
PTT=hk-ptt-fedcba9876543210fedc    # max_priority realtime
OPS=hk-ops-00112233445566778899    # admin = yes
cat > "$T/hark.conf" <<CONF
# test config
max_body = 200
root = $T/media
queue_limit.low = 2
log_format = json
[token ci]
secret = $CI
max_priority = normal
[token ptt]
secret = $PTT
max_priority = realtime
[token ops]
secret = $OPS
admin = yes
CONF
chmod 600 "$T/hark.conf"

# ---- refusals at start ----
"$HARK" serve --listen 0.0.0.0:0 --state-dir "$T/s0" > "$T/s0.out" 2>&1; rc=$?
check "no tokens: a non-loopback address is refused at start (exit $rc)" [ $rc -ne 0 ]
check "no tokens: the refusal says why" grep -q "no API tokens are configured" "$T/s0.out"
printf 'workers = 2\n[token x]\nsecret = short\n' > "$T/bad.conf"
"$HARK" serve --config "$T/bad.conf" --state-dir "$T/s0" > "$T/s0.out" 2>&1; rc=$?
check "bad config: usage exit 2 ($rc)" [ $rc -eq 2 ]
check "bad config: names file, line and cause" grep -q "bad.conf:3: secret" "$T/s0.out"

# ---- a server with tokens, on every address ----
HARK_TOKENS="env-bot:low:hk-env-aaaaaaaaaaaaaaaaaaaa" HARK_LOG=info \
  start_server "$T/s" --config "$T/hark.conf" --workers 1 --listen 0.0.0.0:0
check "with tokens: listens on 0.0.0.0" [ -n "${HARK_SERVER:-}" ]
code() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"; }
err_is() { # status type code
  [ "$1" = "$c" ] && [ "$(jq -r .error.type "$T/body")" = "$2" ] && [ "$(jq -r '.error.code // "null"' "$T/body")" = "$3" ]
}
c=$(code "$HARK_SERVER/v1/jobs")
check "no token: 401" err_is 401 authentication_error missing_api_key
c=$(code -H "Authorization: Bearer hk-wrong-000000000000000000" "$HARK_SERVER/v1/jobs")
check "wrong token: 401" err_is 401 authentication_error invalid_api_key
c=$(code -H "Authorization: Bearer ${CI}x" "$HARK_SERVER/v1/jobs")
check "a token with one more character: 401" err_is 401 authentication_error invalid_api_key
c=$(code -H "Authorization: Basic $CI" "$HARK_SERVER/v1/jobs")
check "not a bearer token: 401" err_is 401 authentication_error invalid_api_key
c=$(code -H "Authorization: bearer $CI" "$HARK_SERVER/v1/jobs")
check "a good token (scheme in any case): 200" [ "$c" = 200 ]
c=$(code -H "Authorization: Bearer hk-env-aaaaaaaaaaaaaaaaaaaa" "$HARK_SERVER/v1/models")
check "a token from HARK_TOKENS: 200" [ "$c" = 200 ]
c=$(code "$HARK_SERVER/healthz")
check "healthz needs no token" [ "$c" = 200 ]
for _ in $(seq 1 300); do   # the worker loads its model: at most 30 s
  c=$(code "$HARK_SERVER/readyz")
  [ "$c" = 200 ] && break
  sleep 0.1
done
check "readyz needs no token, and the worker gets ready" [ "$c" = 200 ]
check "readyz says ready" [ "$(jq -r .status "$T/body")" = ready ]
c=$(code -F file=@"$clip" -F model=whisper-1 "$HARK_SERVER/v1/audio/transcriptions")
check "OpenAI endpoint without a token: 401" err_is 401 authentication_error missing_api_key

# The client commands send $HARK_TOKEN.
job=$(HARK_TOKEN=$CI "$HARK" submit "$clip" 2> "$T/submit.err")
check "hark submit with HARK_TOKEN" [ -n "$job" ]
HARK_TOKEN=$CI "$HARK" wait "$job" > /dev/null 2>&1
check "its job succeeded" [ "$(HARK_TOKEN=$CI job_field "$job" state)" = succeeded ]
"$HARK" show "$job" > /dev/null 2> "$T/show.err"; rc=$?
check "hark show without HARK_TOKEN fails" [ $rc -eq 1 ]
check "... with the server's message" grep -q "API token" "$T/show.err"
export HARK_TOKEN=$CI # for the helpers of tests/lib.sh from here on

# ---- priority ceilings ----
AUTH_CI=(-H "Authorization: Bearer $CI")
AUTH_PTT=(-H "Authorization: Bearer $PTT")
AUTH_OPS=(-H "Authorization: Bearer $OPS")
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F priority=realtime "$HARK_SERVER/v1/jobs")
check "above the token's ceiling: 403" err_is 403 permission_error priority_not_allowed
check "403 names the token and both classes" grep -q "token 'ci' may submit at normal priority or below, not realtime" "$T/body"
c=$(code "${AUTH_PTT[@]}" -F file=@"$clip" -F priority=realtime "$HARK_SERVER/v1/jobs")
check "within the ceiling: 201" [ "$c" = 201 ]
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F model=whisper-1 "$HARK_SERVER/v1/audio/transcriptions")
id=$(curl -s "${AUTH_CI[@]}" "$HARK_SERVER/v1/jobs?limit=1000" | jq -r '.data[-1].id')
check "OpenAI request with a normal-ceiling token: 200 ($c)" [ "$c" = 200 ]
check "OpenAI default (high) is capped at the token's ceiling: normal" \
  [ "$(curl -s "${AUTH_CI[@]}" "$HARK_SERVER/v1/jobs/$id" | jq -r .priority)" = normal ]
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F model=whisper-1 -F priority=high "$HARK_SERVER/v1/audio/transcriptions")
check "OpenAI endpoint above the ceiling: 403" err_is 403 permission_error priority_not_allowed

# ---- paths and bodies ----
json() { code "${AUTH_CI[@]}" -H 'Content-Type: application/json' -d "$1" "$HARK_SERVER/v1/jobs"; }
c=$(json "{\"path\": \"$T/media/clip.wav\"}")
check "a path under a root: 201" [ "$c" = 201 ]
c=$(json "{\"path\": \"$T/clip.wav\"}")
check "a path outside the roots: 403" err_is 403 permission_error path_not_allowed
c=$(json "{\"path\": \"$T/media/../clip.wav\"}")
check "a path with ..: 403" err_is 403 permission_error path_not_allowed
ln -s "$T/clip.wav" "$T/media/link.wav"
c=$(json "{\"path\": \"$T/media/link.wav\"}")
check "a symlink out of the root: 403" err_is 403 permission_error path_not_allowed
c=$(json "{\"path\": \"$T/media/clip.wav\", \"priority\": \"low\", \"timeout\": 100000, \"x\": \"$(printf '%0200d' 0)\"}")
check "a JSON body over max_body: 413" [ "$c" = 413 ]
check "413 code body_too_large" [ "$(jq -r .error.code "$T/body")" = body_too_large ]

# ---- a bounded queue: 429 with Retry-After ----
blocker=$(HARK_TOKEN=$CI "$HARK" submit --priority normal "$T/mid.wav")
wait_state "$blocker" running 60
HARK_TOKEN=$CI "$HARK" submit --priority low "$clip" > /dev/null
HARK_TOKEN=$CI "$HARK" submit --priority low "$clip" > /dev/null
# The uploads now, by name: a job that ends meanwhile may take its upload
# away (retention), a refused submit must not add one.
LC_ALL=C ls "$T/s/uploads" > "$T/uploads.before"
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F priority=low "$HARK_SERVER/v1/jobs")
check "a full class: 429" err_is 429 rate_limit_error queue_full
check "429 says when to come back" grep -qi '^retry-after: [0-9]' "$T/headers"
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F model=whisper-1 -F priority=low "$HARK_SERVER/v1/audio/transcriptions")
check "a full class on the OpenAI endpoint: 429" err_is 429 rate_limit_error queue_full
c=$(code "${AUTH_CI[@]}" -F file=@"$clip" -F priority=normal "$HARK_SERVER/v1/jobs")
check "other classes are not affected: 201" [ "$c" = 201 ]
LC_ALL=C ls "$T/s/uploads" > "$T/uploads.after"
check "refused uploads leave no file behind" \
  [ "$(LC_ALL=C comm -13 "$T/uploads.before" "$T/uploads.after" | wc -l)" -eq 1 ]

# ---- metrics ----
c=$(code "$HARK_SERVER/metrics")
check "metrics need a token: 401" [ "$c" = 401 ]
c=$(code "${AUTH_CI[@]}" "$HARK_SERVER/metrics")
check "metrics count every token's jobs: a tenant's token gets 403" \
  err_is 403 permission_error admin_required
c=$(code "${AUTH_OPS[@]}" "$HARK_SERVER/metrics")
check "metrics with an admin token: 200" [ "$c" = 200 ]
check "metrics: Prometheus text format 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers"
m() { grep -E "^$1 " "$T/body" | awk '{print $2}'; }
check "queue depth by class: 2 low waiting" [ "$(m 'hark_queue_depth\{priority="low"\}')" = 2 ]
check "running chunks" [ "$(m hark_running_chunks)" -ge 1 ]
check "finished jobs by state" [ "$(m 'hark_jobs_finished_total\{state="succeeded"\}')" -ge 1 ]
check "chunk decode seconds histogram: count" [ "$(m hark_chunk_decode_seconds_count)" -ge 1 ]
check "chunk decode seconds histogram: +Inf bucket" grep -q '^hark_chunk_decode_seconds_bucket{le="+Inf"}' "$T/body"
check "job latency by class" grep -q '^hark_job_latency_seconds_count{priority="normal"} [1-9]' "$T/body"
check "HTTP answers by class of status" [ "$(m 'hark_http_requests_total\{code="4xx"\}')" -ge 10 ]
check "a dozen metrics or more" [ "$(grep -c '^# TYPE hark_' "$T/body")" -ge 12 ]
check "every metric has HELP and TYPE" [ "$(grep -c '^# HELP hark_' "$T/body")" = "$(grep -c '^# TYPE hark_' "$T/body")" ]

HARK_TOKEN=$CI "$HARK" cancel "$blocker" > /dev/null   # an API cancel counts too
code "${AUTH_OPS[@]}" "$HARK_SERVER/metrics" > /dev/null
check "cancelled through the API: counted" [ "$(m 'hark_jobs_finished_total\{state="cancelled"\}')" -ge 1 ]

# ---- structured logs ----
c=$(code "${AUTH_PTT[@]}" -H 'X-Request-Id: trace-42' -F file=@"$clip" -F priority=realtime "$HARK_SERVER/v1/jobs")
ptt_job=$(jq -r .id "$T/body")
HARK_TOKEN=$PTT "$HARK" wait "$ptt_job" > /dev/null 2>&1

# ---- tenants: a token sees and controls only its own jobs ----
# ptt_job is ptt's; ci ($HARK_TOKEN here) submitted $job. To ci, ptt's jobs
# do not exist: every command says "not found" (exit 1), as for a made-up id.
as_ci() { HARK_TOKEN=$CI "$HARK" "$@"; }
as_ptt() { HARK_TOKEN=$PTT "$HARK" "$@"; }
not_found() { "$@" > "$T/nf.out" 2> "$T/nf.err"; [ $? -eq 1 ] && grep -q "not found" "$T/nf.err"; }
as_ci ls > "$T/ls.ci" 2>&1
as_ptt ls > "$T/ls.ptt" 2>&1
check "hark ls: ci's own jobs are listed" grep -q "^$job " "$T/ls.ci"
check "hark ls: none of ptt's jobs are listed to ci" bash -c "! grep -q '$ptt_job' '$T/ls.ci'"
check "hark ls: ptt sees its job and none of ci's" \
  bash -c "grep -q '^$ptt_job ' '$T/ls.ptt' && ! grep -q '$job' '$T/ls.ptt'"
check "hark show of ptt's job as ci: not found" not_found as_ci show "$ptt_job"
check "hark result of ptt's job as ci: not found" not_found as_ci result "$ptt_job"
check "hark wait (the event stream) of ptt's job as ci: not found" not_found as_ci wait "$ptt_job"
check "hark result of its own job as ptt: works" as_ptt result -o "$T/ptt.txt" "$ptt_job"
c=$(code "${AUTH_CI[@]}" "$HARK_SERVER/v1/jobs/$ptt_job/events")
check "the event stream of ptt's job as ci: 404 job_not_found" err_is 404 not_found_error job_not_found
c=$(code "${AUTH_PTT[@]}" "$HARK_SERVER/v1/jobs/$ptt_job/events")
check "... and its owner's stream replays to its end" bash -c "[ $c = 200 ] && grep -q '^event: succeeded' '$T/body'"
c=$(code "${AUTH_CI[@]}" -X DELETE "$HARK_SERVER/v1/jobs/$ptt_job")
check "DELETE of ptt's job as ci: 404" err_is 404 not_found_error job_not_found
held=$(as_ptt submit "$T/mid.wav") # normal: low may still be full (queue_limit.low = 2)
as_ptt pause "$held" > /dev/null
check "hark resume of ptt's job as ci: not found" not_found as_ci resume "$held"
check "hark pause of ptt's job as ci: not found" not_found as_ci pause "$held"
check "hark cancel of ptt's job as ci: not found" not_found as_ci cancel "$held"
check "... and the job is as its owner left it" [ "$(HARK_TOKEN=$PTT job_field "$held" state)" = paused ]
# An admin token (admin = yes) sees and controls every job.
as_ops() { HARK_TOKEN=$OPS "$HARK" "$@"; }
as_ops ls > "$T/ls.ops" 2>&1
check "hark ls as admin: every token's jobs" \
  bash -c "grep -q '^$ptt_job ' '$T/ls.ops' && grep -q '^$job ' '$T/ls.ops' && grep -q '^$held ' '$T/ls.ops'"
check "hark show as admin: another token's job, with its owner" \
  bash -c "HARK_TOKEN=$OPS '$HARK' show '$ptt_job' | grep -q '^owner: *ptt$'"
check "hark result as admin: another token's job" as_ops result -o "$T/ops.txt" "$ptt_job"
check "... the same transcript its owner gets" cmp -s "$T/ops.txt" "$T/ptt.txt"
c=$(code "${AUTH_OPS[@]}" "$HARK_SERVER/v1/jobs/$ptt_job/events")
check "the event stream as admin" bash -c "[ $c = 200 ] && grep -q '^event: succeeded' '$T/body'"
check "hark cancel as admin: another token's job" as_ops cancel "$held"
check "... cancelled" [ "$(HARK_TOKEN=$PTT job_field "$held" state)" = cancelled ]

stop_server; rc=$?
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]
grep '^{' "$T/s.log" > "$T/log.json"
# logged FILTER: some JSON log line matches (jq's select), j = the ptt job.
logged() { [ -n "$(jq -c --arg j "$ptt_job" "select($1)" "$T/log.json" 2>/dev/null)" ]; }
parses() { jq -e -s 'length > 0' "$1" > /dev/null; }
check "JSON log lines all parse" parses "$T/log.json"
check "a request line with its id, status and token" \
  logged '.msg == "http.request" and .request == "trace-42" and .status == "201" and .token == "ptt"'
check "the job's submit line carries the request id" \
  logged '.msg == "job.submitted" and .job == $j and .request == "trace-42"'
check "the job's end is logged with its id" logged '.msg == "job.finished" and .job == $j and .state == "succeeded"' 
check "no secret in the logs" bash -c "! grep -q -e '$CI' -e '$PTT' '$T/s.log'"
finish
