#!/usr/bin/env bash
# The daemon's state directory: one daemon owns it (a second one is refused,
# naming the holder's pid, before it touches the store, so the first one's
# running job keeps its leases); uploads cut off by kill -9 are swept at
# the next start while those of unfinished jobs stay; a full disk under a
# job's decode (ENOSPC injected: src/util/fault.h) makes /readyz say not
# ready with the cause while the job waits, and the job completes once
# there is space (DESIGN.md invariant 11).
. "$(dirname "$0")/../lib.sh"
sox "$DATA"/*.wav "$T/long.wav"   # 25 s: several chunks, long enough to outlast two refused starts
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$T/clip.wav"   # 3 s
q() { sqlite3 "$T/s/hark.db" "$1" 2>/dev/null; }
readyz() { curl -s -o "$T/ready.json" -w '%{http_code}' "$HARK_SERVER/readyz"; }
# until_code CODE SECONDS: poll /readyz (bounded) until it answers CODE.
until_code() {
  for _ in $(seq 1 $(( $2 * 20 ))); do [ "$(readyz)" = "$1" ] && return 0; sleep 0.05; done
  return 1
}

# ---- a second daemon on the same state directory ----
start_server "$T/s" --workers 1
check "first daemon starts" [ -n "${HARK_SERVER:-}" ]
job=$("$HARK" submit "$T/long.wav")
for _ in $(seq 1 1200); do   # a chunk lease is held (bounded: 60 s)
  [ "$(job_field "$job" chunks_done)" -ge 1 ] 2>/dev/null && break
  sleep 0.05
done
check "its job is decoding chunks" [ "$(job_field "$job" state)" = running ]
port=${HARK_SERVER##*:}
for listen in "127.0.0.1:$port" "127.0.0.1:0"; do   # its own address, and a free one
  timeout 60 "$HARK" serve --listen "$listen" --state-dir "$T/s" --workers 1 > "$T/second.log" 2>&1; rc=$?
  check "second daemon on $listen: exit 1 ($rc)" [ $rc -eq 1 ]
  check "second daemon on $listen: names the holder" \
    grep -qF "hark: state directory '$T/s' is in use by hark serve (pid $SERVER_PID)" "$T/second.log"
done
check "the first daemon's job succeeds" wait_state "$job" succeeded 120
check "its leases were never revoked: nothing recovered" [ "$(q "SELECT value FROM meta WHERE key = 'recovered_tasks'")" = 0 ]
check "... no chunk preempted" [ "$(q "SELECT count(*) FROM events WHERE type = 'preempted'")" = 0 ]
check "... no work refused" \
  [ "$(q "SELECT SUM(value) FROM meta WHERE key IN ('refused_commits', 'refused_renewals')")" = 0 ]
"$HARK" result "$job" > "$T/before.txt"

# ---- an upload cut off by kill -9 ----
# A job that has not ended keeps its upload across restarts (one that
# succeeded lets it go: retention, docs/operations.md).
held=$("$HARK" submit --priority low "$T/clip.wav")
"$HARK" pause "$held" > /dev/null
kept=$(basename "$(q "SELECT input FROM jobs WHERE id = '$held'")")
check "the paused job's upload is in uploads/ ($kept)" [ -n "$kept" -a -e "$T/s/uploads/$kept" ]
ls "$T/s/uploads" > "$T/uploads.before"
curl -s --limit-rate 50k -F file=@"$T/long.wav" "$HARK_SERVER/v1/jobs" > /dev/null 2>&1 &
CURL_PID=$!
partial=
for _ in $(seq 1 200); do   # the upload has started (bounded: 10 s)
  partial=$(ls "$T/s/uploads" | grep -vxF -f "$T/uploads.before" | head -n 1)
  [ -n "$partial" ] && [ -s "$T/s/uploads/$partial" ] && break
  sleep 0.05
done
kill -9 $SERVER_PID; wait $SERVER_PID 2>/dev/null
kill $CURL_PID 2>/dev/null; wait $CURL_PID 2>/dev/null
size=$(stat -c %s "$T/s/uploads/$partial" 2>/dev/null || echo 0)
check "kill -9 mid-upload leaves a partial file ($partial, $size bytes)" \
  [ -n "$partial" -a "$size" -gt 0 -a "$size" -lt "$(stat -c %s "$T/long.wav")" ]
start_server "$T/s" --workers 1
check "restart: the partial upload is removed" [ ! -e "$T/s/uploads/$partial" ]
check "restart: the paused job's upload stays" [ -e "$T/s/uploads/$kept" ]
"$HARK" result "$job" > "$T/after.txt"
check "restart: the job's result is unchanged" cmp -s "$T/before.txt" "$T/after.txt"
stop_server; rc=$?
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]

# ---- a full disk under a job's decode ----
touch "$T/full"
HARK_TEST_ENOSPC=audio.pcm.part HARK_TEST_ENOSPC_WHILE=$T/full start_server "$T/s2" --workers 1
check "readyz: ready once the worker is" until_code 200 60
job=$("$HARK" submit "$T/clip.wav")
check "readyz: 503 while the disk is full" until_code 503 30
check "... saying why" grep -q "not ready: out of disk space: cannot write '.*audio.pcm.part': No space left on device" "$T/ready.json"
sleep 1
check "the job waits, it has not failed ($(job_field "$job" state))" [ "$(job_field "$job" state)" = running ]
waits=$(curl -s "$HARK_SERVER/metrics" | sed -n 's/^hark_resource_waits_total //p')
check "hark_resource_waits_total counts the wait ($waits)" [ "${waits:-0}" -ge 1 ]
check "not counted as a failed attempt" \
  [ "$(sqlite3 "$T/s2/hark.db" "SELECT attempts FROM tasks WHERE job_id = '$job' AND idx = -1")" = 0 ]
rm -f "$T/full"   # space again
check "space again: the job succeeds" wait_state "$job" succeeded 60
check "readyz: ready again" until_code 200 10
stop_server; rc=$?
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]
finish
