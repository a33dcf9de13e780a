#!/usr/bin/env bash
# Retry and retention (issue 10, items 13 and 16): a chunk whose worker is
# killed from outside three times fails its job; the failed job keeps its
# upload and decoded audio (across a restart too), `hark retry` puts it back
# in the queue with its committed chunks, and it succeeds with output
# byte-identical to `hark transcribe` without decoding the media or a
# committed chunk again. A job that failed in its prepare prepares again.
# Uploads go when their job succeeds (unless keep_inputs); ended jobs are
# pruned after job_retention, unfinished ones never; `hark delete` removes
# a job with its upload and work directory; `hark ls` is newest first.
. "$(dirname "$0")/../lib.sh"
# ~50 s (quick: ~25 s): several chunks, each long enough to be caught
# decoding.
sox $(for i in $(seq 1 "$(scaled 2 1)"); do echo "$DATA"/*.wav; done) "$T/a.wav"
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$T/c.wav" # 7.1 s
echo "not audio" > "$T/text.txt"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$T/a.wav" "$T/c.wav"

q() { sqlite3 "$1/hark.db" "$2" 2>/dev/null; }
# wait_sql DIR SQL VALUE [SECONDS]: poll the store (bounded) until SQL gives VALUE.
wait_sql() {
  local n=$(( ${4:-60} * 50 ))
  for _ in $(seq 1 $n); do
    [ "$(q "$1" "$2")" = "$3" ] && return 0
    sleep 0.02
  done
  return 1
}
# gone PATH [SECONDS]: wait (bounded) until PATH no longer exists.
gone() {
  for _ in $(seq 1 $(( ${2:-10} * 20 ))); do [ -e "$1" ] || return 0; sleep 0.05; done
  return 1
}
config() { printf '%s\n' "$@" > "$T/hark.conf"; }
hark_status() { "$@" > "$T/out" 2> "$T/err"; echo $?; }

# ---- a chunk's worker killed from outside three times ----
D=$T/s1
start_server "$D" --workers 1
a=$("$HARK" submit "$T/a.wav")
wait_decoded "$a" 300
chunks=$(job_field "$a" chunks)
check "the recording has several chunks ($chunks)" [ "$chunks" -ge 2 ]
task1="SELECT state || ':' || attempts FROM tasks WHERE job_id = '$a' AND idx = 1"
for k in 1 2 3; do
  # Chunk 1 is being decoded (again): kill its worker, the daemon's only child.
  wait_sql "$D" "$task1" "leased:$((k - 1))" 300 || break
  kill -9 $(pgrep -P $SERVER_PID)
  wait_sql "$D" "SELECT attempts FROM tasks WHERE job_id = '$a' AND idx = 1" $k 60 || break
done
wait_state "$a" failed 120
check "killed 3 times: the job failed" [ "$(job_field "$a" state)" = failed ]
check "its error names chunk 1 and the kills ($(job_field "$a" error))" \
  grep -q "chunk 1 (.*) failed 3 times: worker" <<< "$(job_field "$a" error)"
done_at_failure=$(job_field "$a" chunks_done)
check "chunks committed before the failure are kept ($done_at_failure)" [ "$done_at_failure" -ge 1 ]
upload=$(q "$D" "SELECT input FROM jobs WHERE id = '$a'")
check "the upload was stored under the state directory" \
  [ "$(dirname "$upload")" = "$(realpath "$D/uploads")" ]
stop_server
# A restart sweeps work directories and releases uploads: not a failed job's.
start_server "$D" --workers 1
sleep 2.5 # one housekeeping round (every 2 s) of the restarted daemon
check "the failed job keeps its upload (after a restart)" [ -f "$upload" ]
check "the failed job keeps its decoded audio (after a restart)" [ -s "$D/work/$a/audio.pcm" ]
events_before=$(q "$D" "SELECT MAX(id) FROM events WHERE job_id = '$a'")
st=$("$HARK" retry "$a")
check "hark retry prints the new state ($st: queued, or running once claimed)" \
  [ "$st" = queued -o "$st" = running ]
"$HARK" wait -q "$a" > "$T/wait.out" 2> "$T/wait.err"; rc=$?
check "hark wait follows the retried run to its success (exit $rc: $(cat "$T/wait.err"))" [ $rc -eq 0 ]
"$HARK" result "$a" > "$T/a.txt"
"$HARK" result -f srt "$a" > "$T/a.srt"
check "retried result txt identical to hark transcribe" cmp -s "$T/ref/a.txt" "$T/a.txt"
check "retried result srt identical to hark transcribe" cmp -s "$T/ref/a.srt" "$T/a.srt"
twice=$(q "$D" "SELECT COUNT(*) FROM (SELECT json_extract(data, '\$.chunk') c FROM events
                WHERE job_id = '$a' AND type = 'chunk_committed' GROUP BY c HAVING COUNT(*) > 1)")
check "no chunk committed twice" [ "$twice" = 0 ]
after=$(q "$D" "SELECT COUNT(*) FROM events WHERE job_id = '$a' AND type = 'chunk_committed'
               AND id > $events_before")
check "the retry decoded only the chunks not committed ($after = $chunks - $done_at_failure)" \
  [ "$after" -eq $((chunks - done_at_failure)) ]
check "the media was decoded once (one plan)" \
  [ "$(q "$D" "SELECT COUNT(*) FROM events WHERE job_id = '$a' AND type = 'progress'
              AND json_extract(data, '\$.prepared')")" = 1 ]
check "succeeded: its upload is removed" gone "$upload"
check "succeeded: its work directory is removed" gone "$D/work/$a"
check "retry of a job that did not fail: exit 1" [ "$(hark_status "$HARK" retry "$a")" = 1 ]
check "... with the server's reason" grep -q "cannot retry job $a: it is succeeded" "$T/err"
check "store integrity" [ "$(q "$D" 'PRAGMA integrity_check')" = ok ]

# ---- hark ls: newest first, --limit ----
b=$("$HARK" submit --priority low "$T/c.wav")
"$HARK" pause "$b" > /dev/null
"$HARK" ls > "$T/ls"
check "ls: the newest job first" [ "$(sed -n 2p "$T/ls" | cut -d' ' -f1)" = "$b" ]
check "ls: then the older one" [ "$(sed -n 3p "$T/ls" | cut -d' ' -f1)" = "$a" ]
"$HARK" ls --limit 1 > "$T/ls1"
check "ls --limit 1: one job" [ "$(wc -l < "$T/ls1")" = 2 ]
"$HARK" cancel "$b" > /dev/null
stop_server

# ---- a failed prepare is retried; keep_inputs; retention ----
D=$T/s2
start_server "$D" --workers 1 --max-duration 2
c=$("$HARK" submit "$T/c.wav")
wait_state "$c" failed 120
check "too long for this daemon: failed in its prepare ($(job_field "$c" error))" \
  [ "$(job_field "$c" chunks)" = null ]
upload=$(q "$D" "SELECT input FROM jobs WHERE id = '$c'")
check "failed before its plan: no work directory kept (nothing to continue from)" gone "$D/work/$c"
stop_server
config "keep_inputs = yes" "job_retention = 10"
start_server "$D" --workers 1 --config "$T/hark.conf"
check "its upload is still there" [ -f "$upload" ]
check "retry after the limit was lifted" [ "$("$HARK" retry "$c")" = queued ]
"$HARK" wait -q "$c" > /dev/null 2>&1
check "it prepared again and succeeded" [ "$(job_field "$c" state)" = succeeded ]
"$HARK" result "$c" > "$T/c.txt"
check "its result identical to hark transcribe" cmp -s "$T/ref/c.txt" "$T/c.txt"
p=$("$HARK" submit --priority low "$T/c.wav")
"$HARK" pause "$p" > /dev/null
sleep 2.5 # a housekeeping round
check "keep_inputs: the upload of a succeeded job stays" [ -f "$upload" ]
check "job_retention: pruned some seconds after it ended" gone "$upload" 30
code=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs/$c")
check "pruned: the job is gone ($code)" [ "$code" = 404 ]
check "pruned: its events and chunks too" \
  [ "$(q "$D" "SELECT (SELECT COUNT(*) FROM events WHERE job_id = '$c') +
                      (SELECT COUNT(*) FROM tasks WHERE job_id = '$c')")" = 0 ]
sleep 2.5
check "an unfinished (paused) job is never pruned" [ "$(job_field "$p" state)" = paused ]

# ---- hark delete ----
bad=$("$HARK" submit "$T/text.txt")
wait_state "$bad" failed 60
bad_upload=$(q "$D" "SELECT input FROM jobs WHERE id = '$bad'")
check "delete of an unfinished job: exit 1" [ "$(hark_status "$HARK" delete "$p")" = 1 ]
check "... with the server's reason" grep -q "cancel it before deleting it" "$T/err"
check "hark delete of a failed job" [ "$("$HARK" delete "$bad")" = deleted ]
code=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs/$bad")
check "deleted: the job is gone ($code)" [ "$code" = 404 ]
check "deleted: its upload is removed" [ ! -e "$bad_upload" ]
check "deleted: its work directory is removed" gone "$D/work/$bad"
"$HARK" cancel "$p" > /dev/null
check "store integrity" [ "$(q "$D" 'PRAGMA integrity_check')" = ok ]
stop_server
finish
