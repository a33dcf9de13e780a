#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM stop a transcription promptly, leave no
# partial output and no work directory, and exit 130.
. "$(dirname "$0")/../lib.sh"
# A 2-minute recording: the clips, repeated.
sox $(for i in 1 2 3 4 5; do echo "$DATA"/*.wav; done) "$T/long.wav"

for sig in INT TERM; do
  rm -rf "$T/out" "$XDG_STATE_HOME"
  "$HARK" transcribe -q -o "$T/out" "$T/long.wav" 2> "$T/err" &
  pid=$!
  # Wait (bounded) until it is transcribing: the decoded PCM exists.
  for _ in $(seq 1 300); do
    ls "$XDG_STATE_HOME"/hark/work/*/audio.pcm >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  sent=$(date +%s%N)
  kill -$sig $pid
  wait $pid; rc=$?
  took_ms=$(( ($(date +%s%N) - sent) / 1000000 ))
  check "SIG$sig: exit 130 (got $rc)" [ $rc -eq 130 ]
  check "SIG$sig: says it was interrupted" grep -q "interrupted" "$T/err"
  check "SIG$sig: no output files" [ -z "$(ls -A "$T/out" 2>/dev/null)" ]
  check "SIG$sig: work directory removed" work_is_clean
  echo "     (stopped ${took_ms} ms after the signal)"
done
finish
