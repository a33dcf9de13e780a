#!/usr/bin/env bash
# A highlights job on the daemon is work like any other:
#  - a push-to-talk clip overtakes it during its analysis and during its
#    clip export (the clip finishes while the job runs; the job was
#    preempted), and its outputs and clips are byte-identical to an
#    uninterrupted `hark highlights` of the same file;
#  - kill -9 of the daemon during the export leaves no partial clip under
#    a clip's name (a file there is whole), and after a restart the job
#    completes with the same outputs and no leftovers;
#  - a recording already transcribed is not recognized again: the
#    highlights job's analysis reuses the committed chunks of the same audio
#    (the recording's first minute).
# HARK_FAULT=slow (matching the recording only) holds the job's tasks open
# long enough to act in the middle of each stage.
. "$(dirname "$0")/../lib.sh"
TOOLS=$HARK_SOURCE_DIR/tests/tools
clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip" # 3 s
bash "$TOOLS/make_vod.sh" "$T/v" --minutes 3 --seed 3 > /dev/null || not_ok "recording made"
vod=$T/v/vod.wav
# Judged on the audio alone (the analysis tasks are the same tasks, and the
# test's time goes to the stages, not to the recognizer).
OPTS='{"clips": true, "clip_format": "mp3", "top": 4, "transcript": false}'

# The reference: uninterrupted, on the embedded runtime, made meanwhile
# while the daemon's slowed stages below wait (at the lowest priority: nice
# ranks it below this test's daemon, in the same session and autogroup).
(
  nice -n 19 "$HARK" highlights -q --state-dir "$T/ref-state" -o "$T/ref" --top 4 --clips --clip-format mp3 \
    --no-transcript "$vod" &&
  nice -n 19 "$HARK" transcribe -q --state-dir "$T/ref-state" -o "$T/ref" -f txt "$clip"
) &
ref_pid=$!

submit_hl() { # PRIORITY: a highlights job of the recording (a path under the server's root), its id
  curl -s -H 'Content-Type: application/json' \
    -d "{\"path\": \"$vod\", \"kind\": \"highlights\", \"options\": $OPTS, \"priority\": \"$1\"}" \
    "$HARK_SERVER/v1/jobs" | jq -r .id
}
# wait_for ID JQ-CONDITION [SECONDS]: poll the job object until it holds.
wait_for() {
  local n=$(( ${3:-120} * 20 ))
  for _ in $(seq 1 $n); do
    curl -s "$HARK_SERVER/v1/jobs/$1" | jq -e "$2" > /dev/null && return 0
    sleep 0.05
  done
  return 1
}
ptt_while_running() { # ID NAME OUT: the text to OUT (checked against the reference once made)
  "$HARK" ptt "$clip" > "$3"
  check "$2: it finished while the highlights job was running" [ "$(job_field "$1" state)" = running ]
}
# same_outputs ID NAME: every format and clip as the reference's.
same_outputs() {
  local id=$1 name=$2 state=$3
  curl -s "$HARK_SERVER/v1/jobs/$id/result?format=highlights" | jq -S 'del(.source)' > "$T/got.json"
  check "$name: highlights identical to an uninterrupted run" \
    cmp -s <(jq -S 'del(.source)' "$T/ref/vod.highlights.json") "$T/got.json"
  for f in chapters:chapters.txt chapters_json:chapters.json edl:edl; do
    curl -s "$HARK_SERVER/v1/jobs/$id/result?format=${f%%:*}" > "$T/got.${f#*:}"
    check "$name: ${f%%:*} identical" cmp -s "$T/ref/vod.${f#*:}" "$T/got.${f#*:}"
  done
  local dir=$state/artifacts/$id bad=0
  for c in "$T/ref/vod.clips/"*; do
    cmp -s "$c" "$dir/$(basename "$c")" || { echo "clip $(basename "$c") differs"; bad=1; }
  done
  check "$name: every clip byte-identical ($(ls "$T/ref/vod.clips" | wc -l))" [ $bad -eq 0 ]
  check "$name: no partial clip left" [ -z "$(ls -A "$dir" | grep '^\.')" ]
}

# ---- preemption during the analysis and during the export ----
# Only the recording's tasks are slowed (its path has /v/vod.wav; the
# push-to-talk clip is an upload).
HARK_FAULT=slow HARK_FAULT_MATCH=/v/vod.wav start_server "$T/s" --workers 2 --root "$T/v"
check "server starts" [ -n "${HARK_SERVER:-}" ]
job=$(submit_hl low)
check "submitted" [ -n "$job" ] && [ "$job" != null ]
check "analysis under way" wait_for "$job" '.chunks != null and .chunks_done >= 1'
n_analysis=$(job_field "$job" chunks)
ptt_while_running "$job" "during the analysis" "$T/ptt-analysis.txt"
check "export under way" wait_for "$job" ".chunks > $n_analysis and .chunks_done >= $n_analysis" 300
ptt_while_running "$job" "during the export" "$T/ptt-export.txt"
check "the job succeeds" wait_state "$job" succeeded 300
wait $ref_pid
check "reference run" [ -s "$T/ref/vod.highlights.json" -a -s "$T/ref/clip.txt" ]
check "during the analysis: the push-to-talk text is right" cmp -s "$T/ref/clip.txt" "$T/ptt-analysis.txt"
check "during the export: the push-to-talk text is right" cmp -s "$T/ref/clip.txt" "$T/ptt-export.txt"
pre=$(curl -s --max-time 60 "$HARK_SERVER/v1/jobs/$job/events" | grep -c '^event: preempted')
check "it was preempted ($pre times)" [ "$pre" -ge 2 ]
same_outputs "$job" preempted "$T/s"

# ---- the cache: the same audio transcribed first ----
# The recording's first minute: several chunks (the recognizer, not the
# length, is what this costs).
sox "$vod" "$T/minute.wav" trim 0 60
tj=$(curl -s -F "file=@$T/minute.wav" "$HARK_SERVER/v1/jobs" | jq -r .id)
check "transcription of the recording succeeds" wait_state "$tj" succeeded 300
hj=$(curl -s -F "file=@$T/minute.wav" -F kind=highlights -F 'options={"top": 4}' "$HARK_SERVER/v1/jobs" | jq -r .id)
check "highlights of the same audio succeed" wait_state "$hj" succeeded 300
reused=$(sqlite3 "$T/s/hark.db" "SELECT count(*) FROM tasks WHERE job_id = '$hj' AND idx >= 0 AND result LIKE '%\"reused\":true%'")
total=$(job_field "$hj" chunks)
check "every analysis task reused the transcription's words ($reused of $total)" [ "$reused" -eq "$total" ]
curl -s "$HARK_SERVER/v1/jobs/$hj/result?format=txt" > "$T/hj.txt"
curl -s "$HARK_SERVER/v1/jobs/$tj/result?format=txt" > "$T/tj.txt"
check "its transcript is the transcription's" cmp -s "$T/tj.txt" "$T/hj.txt"
stop_server

# ---- kill -9 of the daemon during the export ----
HARK_FAULT=slow HARK_FAULT_MATCH=/v/vod.wav start_server "$T/k" --root "$T/v"
job=$(submit_hl normal)
check "kill: prepared" wait_for "$job" '.chunks != null' 120
n_analysis=$(job_field "$job" chunks)
# Kill while a clip is being written, one already done.
check "kill: export under way, a clip done" wait_for "$job" ".chunks > $n_analysis and .chunks_done > $n_analysis" 300
sleep 0.5
stop_server KILL
sleep 0.5
dir=$T/k/artifacts/$job bad=0
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  want=$(basename "$f")
  cmp -s "$f" "$T/ref/vod.clips/$want" || { echo "after kill: $want is not whole"; bad=1; }
done
n_whole=$(ls "$dir" 2>/dev/null | wc -l)
check "after kill -9: every clip under its name is whole ($n_whole so far)" [ $bad -eq 0 ] && [ "$n_whole" -ge 1 ]
start_server "$T/k" --root "$T/v"
check "after restart: the job succeeds" wait_state "$job" succeeded 300
same_outputs "$job" "after kill -9" "$T/k"
stop_server

# ---- an encoder that crashes: killed, retried, then the job fails naming the clip ----
# The first export task is chunk index n_analysis (the plan of this audio).
HARK_FAULT=crash HARK_FAULT_CHUNK=$n_analysis HARK_FAULT_MATCH=/v/vod.wav start_server "$T/c" --root "$T/v"
job=$(submit_hl normal)
check "crash: the job fails" wait_state "$job" failed 300
err=$(job_field "$job" error)
echo "     ($err)"
check "crash: its error names the clip and says it failed 3 times" \
  bash -c "grep -qE 'failed 3 times: clip 0[1-4]-[0-9]{2}h[0-9]{2}m[0-9]{2}s' <<< \"\$1\"" _ "$err"
check "crash: no partial clip left" [ -z "$(ls -A "$T/c/artifacts/$job" 2>/dev/null | grep '^\.')" ]
stop_server
finish
