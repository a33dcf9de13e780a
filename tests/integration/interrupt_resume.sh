#!/usr/bin/env bash
# Ctrl-C, SIGTERM and kill -9 stop a transcription without partial output,
# and the same command then resumes from the committed chunks (the audio is
# not decoded again) and writes exactly what an uninterrupted run writes.
. "$(dirname "$0")/../lib.sh"
# A recording of ~10 chunks (quick: ~7): the clips, repeated.
sox $(for i in $(seq 1 "$(scaled 3 2)"); do echo "$DATA"/*.wav; done) "$T/long.wav"
DB=$XDG_STATE_HOME/hark/transcribe.db

# The reference: one uninterrupted run with its own state directory.
"$HARK" transcribe -q --state-dir "$T/ref-state" -o "$T/ref" -f txt,json,srt "$T/long.wav"
check "reference run succeeds" [ -s "$T/ref/long.json" ]

chunks_done() { sqlite3 "$DB" "SELECT COALESCE(SUM(chunks_done),0) FROM jobs" 2>/dev/null || echo 0; }
# Wait (bounded, 60 s) until at least N chunks are committed.
wait_chunks() {
  for _ in $(seq 1 600); do
    [ "$(chunks_done)" -ge "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# The sanitizer pass (HARK_TEST_QUICK) leaves out TERM: it takes the same
# path as INT (both arrive through the signalfd).
for sig in $(scaled "INT TERM KILL" "INT KILL"); do
  rm -rf "$T/out" "$XDG_STATE_HOME"
  "$HARK" transcribe -o "$T/out" -f txt,json,srt "$T/long.wav" 2> "$T/err" &
  pid=$!
  check "SIG$sig: chunks get committed" wait_chunks 3 $pid
  pcm=$(ls "$XDG_STATE_HOME"/hark/work/*/audio.pcm)
  ino=$(stat -c %i "$pcm")
  kids=$(children_of $pid)
  sent=$(date +%s%N)
  kill -$sig $pid
  wait $pid; rc=$?
  took_ms=$(( ($(date +%s%N) - sent) / 1000000 ))
  before=$(chunks_done)
  if [ $sig = KILL ]; then
    check "SIGKILL: killed (got $rc)" [ $rc -eq 137 ]
    check "SIGKILL: no worker ($kids) outlives the killed run" all_gone $kids
  else
    check "SIG$sig: exit 130 (got $rc)" [ $rc -eq 130 ]
    check "SIG$sig: says how to resume" grep -q "interrupted.*resume" "$T/err"
    echo "     (stopped ${took_ms} ms after the signal, $before chunks kept)"
  fi
  check "SIG$sig: no output files" [ -z "$(ls -A "$T/out" 2>/dev/null)" ]
  check "SIG$sig: decoded audio kept for the resume" [ -f "$pcm" ]
  check "SIG$sig: store is consistent" [ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ]

  # Resume: the same command.
  "$HARK" transcribe -o "$T/out" -f txt,json,srt "$T/long.wav" 2> "$T/err2" &
  pid=$!
  # The kept PCM is reused: same inode while the job runs.
  for _ in $(seq 1 100); do [ "$(chunks_done)" -gt "$before" ] && break; sleep 0.05; done
  same_ino=no
  [ -f "$pcm" ] && [ "$(stat -c %i "$pcm")" = "$ino" ] && same_ino=yes
  wait $pid; rc=$?
  check "SIG$sig: resumed run exits 0 (got $rc)" [ $rc -eq 0 ]
  check "SIG$sig: says it resumed from $before chunks" grep -q "resuming ($before of" "$T/err2"
  check "SIG$sig: the audio was not decoded again" [ $same_ino = yes ]
  for ext in txt json srt; do
    check "SIG$sig: $ext identical to an uninterrupted run" cmp -s "$T/ref/long.$ext" "$T/out/long.$ext"
  done
  check "SIG$sig: work directory removed once done" work_is_clean
done
finish
