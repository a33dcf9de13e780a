#!/usr/bin/env bash
# hark serve + the client commands, end to end with real workers: priority
# order and FIFO within a class, bad input failing alone with its error,
# results identical to `hark transcribe`, pause/resume, cancel, push-to-talk
# from a file and from raw PCM on stdin, and the API's error statuses.
. "$(dirname "$0")/../lib.sh"
clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$clip"
# ~75 s (quick: ~50 s): on one worker, long enough to block the queue
# while the others are submitted; on two, to outlast a 2 s timeout.
sox $(for i in $(seq 1 "$(scaled 3 2)"); do echo "$DATA"/*.wav; done) "$T/long.wav"
echo "not audio" > "$T/text.txt"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$clip" "$T/long.wav"

# ---- one worker: the order is observable ----
start_server "$T/s1" --workers 1
check "server starts" [ -n "${HARK_SERVER:-}" ]
# The blocker is high, so nothing submitted below preempts it (that is
# serve_preempt.sh): the others wait and start in class order.
blocker=$("$HARK" submit --priority high "$T/long.wav")
wait_state "$blocker" running 60
low=$("$HARK" submit --priority low "$clip")
n1=$("$HARK" submit --priority normal "$clip")
hi=$("$HARK" submit --priority high "$clip")
n2=$("$HARK" submit --priority normal "$clip")
bad=$("$HARK" submit --priority high "$T/text.txt")
check "submit prints job ids" [ -n "$low" ] && [ -n "$bad" ]
for id in $blocker $low $n1 $hi $n2; do "$HARK" wait "$id" > /dev/null 2>&1; done
"$HARK" wait "$bad" 2> "$T/bad.err"; rc=$?
check "bad input: wait exits 1" [ $rc -eq 1 ]
check "bad input: error names the file as uploaded and the cause" \
  grep -q "cannot decode 'text.txt': not a media file" "$T/bad.err"
# Started order from the event log: high first, then normal FIFO, then low.
order=$(for id in $low $n1 $hi $n2; do
  echo "$(curl -s "$HARK_SERVER/v1/jobs/$id" | jq -r .started_at) $id"; done | sort -n | cut -d' ' -f2 | tr '\n' ' ')
check "priority order, FIFO within a class ($order)" [ "$order" = "$hi $n1 $n2 $low " ]
for id in $low $n1 $hi $n2; do
  check "job $id succeeded" [ "$(job_field $id state)" = succeeded ]
done
"$HARK" result "$n1" > "$T/n1.txt"
"$HARK" result "$n1" -f srt > "$T/n1.srt"
check "result txt identical to hark transcribe" cmp -s "$T/ref/clip.txt" "$T/n1.txt"
check "result srt identical to hark transcribe" cmp -s "$T/ref/clip.srt" "$T/n1.srt"
"$HARK" result "$blocker" > "$T/long.txt"
check "a long job's result identical to hark transcribe" cmp -s "$T/ref/long.txt" "$T/long.txt"
stop_server; rc=$?
check "SIGTERM: daemon exits 0 (got $rc)" [ $rc -eq 0 ]

# ---- two workers: control ----
start_server "$T/s2" --workers 2 --root "$T"
job=$("$HARK" submit --priority low "$T/long.wav")
# Pause after the decode, so the test can see that the PCM file is kept
# (a pause during the decode stops it; resume decodes again).
wait_decoded "$job" 60
"$HARK" pause "$job" > /dev/null
check "pause: paused" [ "$(job_field $job state)" = paused ]
done_at_pause=$(job_field $job chunks_done)
# Nothing runs while paused: the count stays put (bounded look, 1 s).
sleep 1
check "pause: no chunk committed while paused" [ "$(job_field $job chunks_done)" = "$done_at_pause" ]
check "pause: decoded audio kept" [ -f "$T/s2/work/$job/audio.pcm" ]
"$HARK" resume "$job" > /dev/null
"$HARK" wait "$job" > /dev/null 2>&1
check "resume: the job completes" [ "$(job_field $job state)" = succeeded ]
"$HARK" result "$job" > "$T/resumed.txt"
check "resume: result identical to an uninterrupted run" cmp -s "$T/ref/long.txt" "$T/resumed.txt"

job=$("$HARK" submit --priority low "$T/long.wav")
wait_state "$job" running 60
t0=$(date +%s%N)
"$HARK" cancel "$job" > /dev/null
check "cancel: cancelled" [ "$(job_field $job state)" = cancelled ]
gone=no
for _ in $(seq 1 100); do [ ! -e "$T/s2/work/$job" ] && { gone=yes; break; }; sleep 0.05; done
check "cancel: work directory removed" [ $gone = yes ]
"$HARK" wait "$job" > /dev/null 2>&1; rc=$?
check "wait on a cancelled job exits 1" [ $rc -eq 1 ]

# A job timeout (wall clock from submit) fails the job with its cause and
# stops its chunks; no signal is involved.
tj=$("$HARK" submit --priority low --timeout 2 "$T/long.wav")
"$HARK" wait "$tj" 2> "$T/timeout.err"; rc=$?
check "timeout: wait exits 1" [ $rc -eq 1 ]
check "timeout: the job failed saying so" grep -q "timed out after 2 s" "$T/timeout.err"
# A failed job keeps its decoded audio, if it got that far, for `hark retry`
# (serve_retry.sh) until it is deleted or pruned; nothing else.
if [ "$(job_field $tj chunks)" = null ]; then
  gone=no
  for _ in $(seq 1 100); do [ ! -e "$T/s2/work/$tj" ] && { gone=yes; break; }; sleep 0.05; done
  check "timeout before its audio was decoded: work directory removed" [ $gone = yes ]
else
  check "timeout: its decoded audio is kept for a retry" [ -f "$T/s2/work/$tj/audio.pcm" ]
fi
"$HARK" delete "$tj" > /dev/null
gone=no
for _ in $(seq 1 100); do [ ! -e "$T/s2/work/$tj" ] && { gone=yes; break; }; sleep 0.05; done
check "timeout: its work directory removed with the job" [ $gone = yes ]

# Push-to-talk: a file, then raw s16le 16 kHz mono on stdin.
"$HARK" ptt "$clip" > "$T/ptt.txt"
check "ptt FILE prints the text" cmp -s "$T/ref/clip.txt" "$T/ptt.txt"
sox "$clip" -t raw -r 16000 -c 1 -b 16 -e signed-integer - | "$HARK" ptt - > "$T/ptt-stdin.txt"
check "ptt - (raw PCM on stdin) prints the text" cmp -s "$T/ref/clip.txt" "$T/ptt-stdin.txt"

# Server-side path instead of an upload.
pj=$("$HARK" submit --path "$clip")
"$HARK" wait "$pj" > /dev/null 2>&1
check "submit --path works" [ "$(job_field $pj state)" = succeeded ]
check "show --json prints the API's job object" \
  bash -c "cmp -s <('$HARK' show $pj --json | jq -S .) <(curl -s '$HARK_SERVER/v1/jobs/$pj' | jq -S .)"

# API statuses and error shape.
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
check "unknown job: 404" [ "$(code "$HARK_SERVER/v1/jobs/j0000000000000000")" = 404 ]
check "404 in OpenAI's error shape" jq -e '.error.message and .error.type' "$T/body"
check "result of a cancelled job: 409" [ "$(code "$HARK_SERVER/v1/jobs/$job/result")" = 409 ]
check "pause a finished job: 409" [ "$(code -X POST "$HARK_SERVER/v1/jobs/$pj/pause")" = 409 ]
check "unknown format: 400" [ "$(code "$HARK_SERVER/v1/jobs/$pj/result?format=doc")" = 400 ]
check "missing path under the root: 400" [ "$(code -H 'Content-Type: application/json' -d "{\"path\":\"$T/nonexistent.wav\"}" "$HARK_SERVER/v1/jobs")" = 400 ]
check "path outside the roots: 403" [ "$(code -H 'Content-Type: application/json' -d '{"path":"/etc/hostname"}' "$HARK_SERVER/v1/jobs")" = 403 ]
check "path escaping with ..: 403" [ "$(code -H 'Content-Type: application/json' -d "{\"path\":\"$T/../../etc/hostname\"}" "$HARK_SERVER/v1/jobs")" = 403 ]
check "unknown priority: 400" [ "$(code -F file=@"$clip" -F priority=urgent "$HARK_SERVER/v1/jobs")" = 400 ]
kids=$(children_of $SERVER_PID)
stop_server
check "no worker outlives the daemon ($kids)" all_gone $kids
finish
