#!/usr/bin/env bash
# Crashes: kill -9 of the daemon at several points of a multi-job workload,
# kill -9 of workers, and a zombie worker (SIGSTOP past its lease, then
# SIGCONT). Every acknowledged job completes, no chunk is committed twice,
# the zombie's late work is refused, and every output is byte-identical to
# a clean run.
. "$(dirname "$0")/../lib.sh"
# The kills, not the lengths, are what is tested: a small workload, five
# jobs (a b c a c) and three kills of each kind; the sanitizer pass, which
# looks for memory errors in the same recoveries, three jobs (a b c) and
# two kills of each kind.
WORKLOAD=$(scaled "a b c a c" "a b c")
DAEMON_KILLS=$(scaled "2 6 11" "2 6")
WORKER_KILLS=$(scaled "2 5 9" "2 5")
NJOBS=$(wc -w <<< "$WORKLOAD")
sox $(for i in 1 2; do echo "$DATA"/*.wav; done) "$T/a.wav"   # ~50 s, ~7 chunks
sox "$DATA"/*.wav "$T/b.wav"   # ~25 s
cp "$DATA/sense_and_sensibility_01_austen_64kb-0870.wav" "$T/c.wav"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$T/a.wav" "$T/b.wav" "$T/c.wav"

q() { sqlite3 "$1/hark.db" "$2" 2>/dev/null; }
committed() { q "$1" "SELECT COALESCE(SUM(chunks_done),0) FROM jobs" || echo 0; }
# Wait (bounded, 60 s) until the committed chunk count reaches N.
wait_committed() {
  for _ in $(seq 1 1200); do
    [ "$(committed "$1")" -ge "$2" ] && return 0
    kill -0 $SERVER_PID 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
submit_all() { # prints "name id" lines
  for f in $WORKLOAD; do echo "$f $("$HARK" submit --priority low "$T/$f.wav")"; done
}
# Every job done, each chunk committed exactly once, outputs as the reference.
verify() { # NAME DIR
  local name=$1 dir=$2 ok_all=yes
  while read -r f id; do
    "$HARK" wait "$id" > /dev/null 2>&1 || ok_all=no
    curl -s "$HARK_SERVER/v1/jobs/$id/result?format=txt" > "$T/out.txt"
    curl -s "$HARK_SERVER/v1/jobs/$id/result?format=srt" > "$T/out.srt"
    cmp -s "$T/ref/$f.txt" "$T/out.txt" && cmp -s "$T/ref/$f.srt" "$T/out.srt" || ok_all=no
  done < "$T/jobs"
  check "$name: every acknowledged job succeeded, outputs identical to a clean run" [ $ok_all = yes ]
  local dup
  dup=$(q "$dir" "SELECT COUNT(*) FROM (SELECT job_id, json_extract(data, '\$.chunk') c
        FROM events WHERE type = 'chunk_committed' GROUP BY 1, 2 HAVING COUNT(*) > 1)")
  check "$name: no chunk committed twice" [ "$dup" = 0 ]
  check "$name: store integrity" [ "$(q "$dir" 'PRAGMA integrity_check')" = ok ]
}

# ---- kill -9 of the daemon at several points ----
D=$T/s1
start_server "$D" --workers 2
submit_all > "$T/jobs"
check "daemon kill: $NJOBS jobs acknowledged" [ "$(wc -l < "$T/jobs")" = "$NJOBS" ]
n=0
# The workload (a b c a c) is ~19 chunks (a b c ~12): kills early, midway
# and late.
for at in $DAEMON_KILLS; do
  wait_committed "$D" $at
  kids=$(children_of $SERVER_PID)
  kill -9 $SERVER_PID; wait $SERVER_PID 2>/dev/null
  n=$((n + 1))
  check "daemon kill $n (at $at chunks): its workers ($kids) died with it" all_gone $kids
  start_server "$D" --workers 2
  check "daemon kill $n: restarted" [ -n "$HARK_SERVER" ]
done
verify "daemon kill" "$D"
stop_server

# ---- kill -9 of workers ----
D=$T/s2
start_server "$D" --workers 2
submit_all > "$T/jobs"
for at in $WORKER_KILLS; do
  wait_committed "$D" $at
  kill -9 $(children_of $SERVER_PID)
done
verify "worker kill" "$D"
restarts=$(grep -c "worker crash with signal 9\|lost: worker" "$D.log" || true)
check "worker kill: workers were killed and replaced ($restarts tasks lost)" [ "$restarts" -ge 1 ]
stop_server

# ---- a zombie worker: stopped past its lease, then continued ----
D=$T/s3
# A short lease, and attempts to spare: on a loaded machine (parallel
# tests) a lease can also lapse now and then, which costs an attempt.
start_server "$D" --workers 2 --lease 2 --max-attempts 20
echo "a $("$HARK" submit --priority low "$T/a.wav")" > "$T/jobs"
wait_committed "$D" 1
victim=$(pgrep -P $SERVER_PID | head -n 1)
kill -STOP "$victim"
# Its lease (2 s, renewed by heartbeats) runs out; the supervisor's
# heartbeat watchdog (5 s) has not fired yet. Wait for the expiry (bounded).
for _ in $(seq 1 80); do
  [ "$(q "$D" "SELECT value FROM meta WHERE key = 'expired_leases'")" -ge 1 ] && break
  sleep 0.05
done
check "zombie: its lease expired while it was stopped" \
  [ "$(q "$D" "SELECT value FROM meta WHERE key = 'expired_leases'")" -ge 1 ]
kill -CONT "$victim"
verify "zombie" "$D"
refused=$(q "$D" "SELECT SUM(value) FROM meta WHERE key IN ('refused_commits', 'refused_renewals')")
check "zombie: its late commit or renewal was refused ($refused)" [ "${refused:-0}" -ge 1 ]
metric=$(curl -s "$HARK_SERVER/metrics" | sed -n 's/^hark_refused_stale_commits_total //p')
check "zombie: /metrics counts every refusal, renewals too ($metric = $refused)" [ "$metric" = "$refused" ]
stop_server
finish
