#!/usr/bin/env bash
# Preemption through the daemon: a long low job on every worker, then
# push-to-talk clips. Each clip finishes while the low job is still running;
# after one clip and then 20 in a row, the low job completes with output
# byte-identical to an uninterrupted run.
. "$(dirname "$0")/../lib.sh"
clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip"   # 3 s
# The low job: ~50 s of speech, ~7 chunks. It outlasts 20
# clips in a row with room to spare: while a realtime clip waits or runs,
# the low job gets no worker (realtime_exclusive), and a low chunk started
# in the gap between two clips is dropped when the next one comes, so the
# clips barely move it (the test prints how far it got).
sox $(for i in 1 2; do echo "$DATA"/*.wav; done) "$T/low.wav"
"$HARK" transcribe -q -o "$T/ref" -f txt,json,srt "$clip" "$T/low.wav"

start_server "$T/s" --workers 2
check "server starts" [ -n "${HARK_SERVER:-}" ]

run_round() { # NAME CLIPS
  local name=$1 clips=$2
  local low; low=$("$HARK" submit --priority low "$T/low.wav")
  # Both workers are on the low job's chunks once two chunks have started.
  wait_state "$low" running 60
  for _ in $(seq 1 200); do [ "$(job_field "$low" chunks_done)" -ge 1 ] && break; sleep 0.05; done
  local all_same=yes while_running=yes
  for i in $(seq 1 "$clips"); do
    "$HARK" ptt "$clip" > "$T/ptt.txt" || all_same=no
    cmp -s "$T/ref/clip.txt" "$T/ptt.txt" || all_same=no
    [ "$(job_field "$low" state)" = running ] || while_running=no
  done
  check "$name: every clip's text is right" [ $all_same = yes ]
  check "$name: every clip finished while the low job was running" [ $while_running = yes ]
  echo "     (the low job had $(job_field "$low" chunks_done) of $(job_field "$low" chunks) chunks after the clips)"
  local preempted
  preempted=$(curl -s --max-time 400 "$HARK_SERVER/v1/jobs/$low/events" | grep -c '^event: preempted')
  check "$name: the low job was preempted ($preempted times)" [ "$preempted" -ge 1 ]
  check "$name: the low job succeeded" [ "$(job_field "$low" state)" = succeeded ]
  for f in txt json srt; do
    curl -s "$HARK_SERVER/v1/jobs/$low/result?format=$f" > "$T/low.$f"
  done
  check "$name: low txt identical to an uninterrupted run" cmp -s "$T/ref/low.txt" "$T/low.txt"
  check "$name: low srt identical to an uninterrupted run" cmp -s "$T/ref/low.srt" "$T/low.srt"
  # json: the same but for the source name (upload name vs the path given).
  check "$name: low json segments identical" \
    bash -c "cmp -s <(jq -S 'del(.source)' '$T/ref/low.json') <(jq -S 'del(.source)' '$T/low.json')"
}
run_round "one clip" 1
clips=$(scaled 20 4)
run_round "$clips clips in a row" "$clips"
stop_server
finish
