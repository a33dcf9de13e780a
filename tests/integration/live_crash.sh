#!/usr/bin/env bash
# Live dictation against the hard cases: the daemon killed (-9) in the
# middle of a dictation (what was received is transcribed after the
# restart, exactly as an uninterrupted session of the same audio would,
# nothing committed twice, and the client's next append is told why), and
# a dictation while both workers are busy on a long low-priority job (it
# decodes as it arrives; the low job resumes after it and its result is
# byte-identical to `hark transcribe`'s).
. "$(dirname "$0")/../lib.sh"
LIVE="python3 $HARK_SOURCE_DIR/tests/py/live_client.py"
jqe() { jq -e "$2" "$1" > /dev/null; }

# ~27 s of speech: the five clips with 0.8 s pauses (several live chunks).
sox -n -r 16000 -c 1 -b 16 "$T/gap.wav" trim 0 0.8
l=()
for f in "$DATA"/*.wav; do l+=("$f" "$T/gap.wav"); done
sox "${l[@]}" "$T/five.wav"
sox "$T/five.wav" -t raw -e signed -b 16 -c 1 -r 16000 "$T/five.raw"
# The long low job of the second part, and its reference (`hark transcribe`,
# one worker at the lowest priority: nice ranks it below this test's daemon,
# which is in the same session and so the same autogroup), transcribed
# meanwhile: the dictation at real-time pace below leaves the CPU idle.
reps=$(scaled 3 2)
long=()
for _ in $(seq 1 "$reps"); do long+=("$T/five.wav"); done
sox "${long[@]}" "$T/long.wav"
nice -n 19 "$HARK" transcribe -q -j 1 -f txt,json -o "$T/file" "$T/long.wav" 2> "$T/file.err" &
file_pid=$!

printf 'keep_inputs = yes\n' > "$T/hark.conf"
start_server "$T/st" --workers 2 --config "$T/hark.conf" || { echo "no server"; exit 1; }

# ---- kill -9 in the middle of a dictation ----
$LIVE "$HARK_SERVER" "$T/five.raw" --stop-after 19 --no-end > "$T/half.json"
j=$(jq -r .id "$T/half.json")
# Its first chunks are committed by now (they close at pauses as it goes).
for _ in $(seq 1 50); do
  [ "$(job_field "$j" chunks_done)" -ge 2 ] 2>/dev/null && break
  sleep 0.1
done
done_before=$(job_field "$j" chunks_done)
check "chunks were committed while the dictation went on ($done_before)" [ "$done_before" -ge 2 ]
stop_server KILL
start_server "$T/st" --workers 2 --config "$T/hark.conf" || { echo "no server after restart"; exit 1; }
for _ in $(seq 1 200); do
  [ "$(job_field "$j" state)" = succeeded ] && break
  sleep 0.1
done
check "after the restart, the audio received was transcribed" [ "$(job_field "$j" state)" = succeeded ]
code=$(curl -s -o "$T/resp" -w '%{http_code}' -XPOST "$HARK_SERVER/v1/live/$j/audio" \
  -H 'content-type: application/octet-stream' --data-binary @"$T/five.raw" --max-time 10)
check "the client's next append: 409 saying the audio ended (got $code)" \
  eval '[ "$code" = 409 ] && jq -r .error.message "$T/resp" | grep -q "audio has ended\|succeeded"'
curl -s "$HARK_SERVER/v1/jobs/$j/events?after=0" --max-time 5 > "$T/events"
check "the restart closed its input (input_ended, reason restart)" grep -q '"reason":"restart"' "$T/events"
idx=$(grep -A2 '^event: chunk_committed' "$T/events" | sed -n 's/.*"chunk":\([0-9]*\).*/\1/p')
n=$(echo "$idx" | wc -l)
check "no chunk committed twice ($n commits, $(echo "$idx" | sort -u | wc -l) distinct)" \
  [ "$(echo "$idx" | sort -u | wc -l)" = "$n" ]
check "... and they are 0..n-1, as many as the job has" \
  eval '[ "$(echo "$idx" | sort -n | tr "\n" " ")" = "$(seq 0 $((n - 1)) | tr "\n" " ")" ] && [ "$(job_field "$j" chunks)" = "$n" ]'
"$HARK" result "$j" -f txt > "$T/resumed.txt"
# The same audio in one uninterrupted session: the same text.
input=$(ls "$T/st/uploads/"live-* | head -1)
cp "$input" "$T/received.raw"
check "what was received is about what was sent (19 s)" \
  eval '[ "$(stat -c %s "$T/received.raw")" -ge $((32000 * 18)) ]'
$LIVE "$HARK_SERVER" "$T/received.raw" --pace 10 --result-format txt > "$T/again.json"
check "the resumed dictation's text equals an uninterrupted one's of the same audio" \
  [ "$(jq -r .text "$T/again.json")" = "$(cat "$T/resumed.txt")" ]
check "its text is the speech's (non-empty)" [ "$(wc -w < "$T/resumed.txt")" -ge 20 ]

# ---- a dictation while both workers are busy on low work ----
lj=$("$HARK" submit --priority low "$T/long.wav" | awk '{print $1}')
for _ in $(seq 1 300); do
  busy=$(curl -s "$HARK_SERVER/metrics" | awk '/^hark_running_chunks /{print $2}')
  [ "${busy:-0}" = 2 ] && break
  sleep 0.1
done
check "both workers are busy on the low job" [ "${busy:-0}" = 2 ]
sox "$(ls "$DATA"/*.wav | head -1)" -t raw -e signed -b 16 -c 1 -r 16000 "$T/clip.raw"
$LIVE "$HARK_SERVER" "$T/clip.raw" --pace 1 > "$T/busy.json"
check "the dictation decoded as it arrived (partials while streaming)" \
  jqe "$T/busy.json" '.partials_before_end >= 2 and .end_status == 200 and (.text | length) > 20'
echo "end-to-text with both workers busy on low work: $(jq -r .end_ms "$T/busy.json") ms"
"$HARK" wait "$lj" > /dev/null 2>&1
check "the low job finished after it" [ "$(job_field "$lj" state)" = succeeded ]
preempted=$(curl -s --max-time 10 "$HARK_SERVER/v1/jobs/$lj/events" | grep -c '^event: preempted')
check "the low job was preempted for it ($preempted times)" [ "$preempted" -ge 1 ]
"$HARK" result "$lj" -f txt > "$T/low.txt"
"$HARK" result "$lj" -f json > "$T/low.json"
wait $file_pid; rc=$?
[ $rc -eq 0 ] || cat "$T/file.err"
check "hark transcribe of the long recording (rc $rc)" [ $rc -eq 0 ]
check "the low job's text is byte-identical to hark transcribe's" cmp -s "$T/low.txt" "$T/file/long.txt"
check "... and its words and times" \
  bash -c "cmp -s <(jq -S 'del(.source)' '$T/file/long.json') <(jq -S 'del(.source)' '$T/low.json')"
stop_server
finish
