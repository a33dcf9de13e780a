#!/usr/bin/env bash
# The daemon's state directory: one daemon owns it (a second one is refused,
# naming the holder's pid, before it touches the store, so the first one's
# running job keeps its leases), and uploads cut off by kill -9 are swept
# at the next start while those of committed jobs stay.
. "$(dirname "$0")/../lib.sh"
sox $(for i in $(seq 1 "$(scaled 2 1)"); do echo "$DATA"/*.wav; done) "$T/long.wav"   # ~50 s (quick: 25 s)
q() { sqlite3 "$T/s/hark.db" "$1" 2>/dev/null; }

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
kept=$(ls "$T/s/uploads")
check "the job's upload is in uploads/" [ "$(echo "$kept" | wc -w)" = 1 ]
curl -s --limit-rate 50k -F file=@"$T/long.wav" "$HARK_SERVER/v1/jobs" > /dev/null 2>&1 &
CURL_PID=$!
partial=
for _ in $(seq 1 200); do   # the upload has started (bounded: 10 s)
  partial=$(ls "$T/s/uploads" | grep -vxF "$kept" | head -n 1)
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
check "restart: the committed job's upload stays" [ "$(ls "$T/s/uploads")" = "$kept" ]
"$HARK" result "$job" > "$T/after.txt"
check "restart: the job's result is unchanged" cmp -s "$T/before.txt" "$T/after.txt"
stop_server; rc=$?
check "SIGTERM: exit 0 ($rc)" [ $rc -eq 0 ]
finish
