#!/usr/bin/env bash
# OpenAI's transcription API on hark serve, end to end with real workers:
# every response_format and its content against `hark transcribe`, streamed
# deltas, the error statuses and shapes, priorities, a client that leaves
# (its job is cancelled unless it asked to keep it). Real clients (the
# `openai` npm package at 4.x, 5.x and 6.x, Python's libraries, a browser)
# are client_matrix.sh's.
. "$(dirname "$0")/../lib.sh"
clip=$T/clip.wav
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$clip"
sox "$DATA"/*.wav "$T/five.wav"                           # ~25 s: several chunks
sox $(for i in 1 2 3; do echo "$DATA"/*.wav; done) "$T/mid.wav"   # ~75 s, 2.4 MB
sox $(for i in 1 2 3 4 5 6; do echo "$DATA"/*.wav; done) "$T/long.wav"   # ~2.5 min, 4.8 MB
echo "not audio" > "$T/notes.txt"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt,vtt,verbose_json "$clip" "$T/five.wav"
# The OpenAI text: the transcript's segments joined by single spaces.
oneline() { tr '\n' ' ' < "$1" | sed 's/  */ /g; s/^ //; s/ $//'; }

start_server "$T/s" --workers 2 --max-upload 3000000
check "server starts" [ -n "${HARK_SERVER:-}" ]
API=$HARK_SERVER/v1/audio/transcriptions
post() { curl -s -o "$T/body" -w '%{http_code}' "$API" "$@"; }

# ---- formats ----
code=$(post -F file=@"$T/five.wav" -F model=whisper-1)
check "json: 200 ($code)" [ "$code" = 200 ]
check "json: {text} equals hark transcribe's text" \
  [ "$(jq -r .text "$T/body")" = "$(oneline "$T/ref/five.txt")" ]
check "json: only the text key" [ "$(jq -c 'keys' "$T/body")" = '["text"]' ]
post -F file=@"$T/five.wav" -F model=pocketsphinx-en-us -F response_format=text > /dev/null
check "text: the text and a newline" [ "$(cat "$T/body")" = "$(oneline "$T/ref/five.txt")" ]
code=$(post -F file=@"$T/five.wav" -F model=whisper-1 -F response_format=srt)
check "srt: byte-identical to hark transcribe ($code)" cmp -s "$T/body" "$T/ref/five.srt"
post -F file=@"$T/five.wav" -F model=whisper-1 -F response_format=vtt > /dev/null
check "vtt: byte-identical to hark transcribe" cmp -s "$T/body" "$T/ref/five.vtt"
post -F file=@"$T/five.wav" -F model=whisper-1 -F response_format=verbose_json > /dev/null
check "verbose_json: segments by default, no words" \
  [ "$(jq -c '[has("segments"), has("words")]' "$T/body")" = '[true,false]' ]
check "verbose_json: text and segments as hark transcribe's" \
  [ "$(jq -c '[.text, .segments]' "$T/body")" = "$(jq -c '[.text, .segments]' "$T/ref/five.verbose.json")" ]
post -F file=@"$T/five.wav" -F model=whisper-1 -F response_format=verbose_json \
  -F 'timestamp_granularities[]=word' > /dev/null
check "verbose_json: words only when only word is asked" \
  [ "$(jq -c '[has("segments"), (.words | length > 20)]' "$T/body")" = '[false,true]' ]
check "verbose_json: words as hark transcribe's" \
  [ "$(jq -c .words "$T/body")" = "$(jq -c .words "$T/ref/five.verbose.json")" ]
post -F file=@"$T/five.wav" -F model=whisper-1 -F response_format=verbose_json \
  -F 'timestamp_granularities[]=word' -F 'timestamp_granularities[]=segment' > /dev/null
check "verbose_json: both granularities repeated as name[]" \
  [ "$(jq -c '[has("segments"), has("words")]' "$T/body")" = '[true,true]' ]

# ---- stream=true ----
curl -sN -D "$T/headers" "$API" -F file=@"$T/five.wav" -F model=whisper-1 -F stream=true > "$T/stream"
check "stream: event-stream" grep -qi '^content-type: text/event-stream' "$T/headers"
sed -n 's/^data: //p' "$T/stream" > "$T/events"
ndelta=$(jq -s '[.[] | select(.type == "transcript.text.delta")] | length' "$T/events")
check "stream: one delta per chunk with speech, several here ($ndelta)" [ "$ndelta" -ge 2 ]
check "stream: ends with transcript.text.done" [ "$(jq -s -r '.[-1].type' "$T/events")" = transcript.text.done ]
check "stream: the deltas add up to the done text" \
  [ "$(jq -s -j '[.[] | select(.type == "transcript.text.delta") | .delta] | join("")' "$T/events")" = \
    "$(jq -s -r '.[-1].text' "$T/events")" ]
check "stream: the done text is hark transcribe's" \
  [ "$(jq -s -r '.[-1].text' "$T/events")" = "$(oneline "$T/ref/five.txt")" ]

# ---- errors: OpenAI's shape and statuses ----
err_is() { # status param code
  [ "$code" = "$1" ] && [ "$(jq -r '.error.param // "null"' "$T/body")" = "$2" ] &&
    [ "$(jq -r '.error.code // "null"' "$T/body")" = "$3" ] &&
    [ "$(jq -r '.error.type' "$T/body")" != null ] && [ -n "$(jq -r .error.message "$T/body")" ]
}
code=$(post -F file=@"$clip" -F model=gpt-4o-transcribe)
check "unknown model: 400 listing the models" err_is 400 model model_not_found
check "unknown model: message lists hark's" grep -q 'pocketsphinx-en-us, whisper-1' "$T/body"
code=$(post -F file=@"$clip")
check "missing model: 400" err_is 400 model missing_field
code=$(post -F model=whisper-1)
check "missing file: 400" err_is 400 file missing_field
code=$(post -F file=@"$clip" -F model=whisper-1 -F response_format=mp3)
check "unknown response_format: 400" err_is 400 response_format invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F 'timestamp_granularities[]=word')
check "granularities without verbose_json: 400" err_is 400 'timestamp_granularities[]' invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F response_format=verbose_json -F 'timestamp_granularities[]=char')
check "unknown granularity: 400" err_is 400 'timestamp_granularities[]' invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F language=fr)
check "a language hark cannot do: 400" err_is 400 language unsupported_language
code=$(post -F file=@"$clip" -F model=whisper-1 -F language=en -F prompt="Austen" -F temperature=0.2)
check "language en, prompt and temperature accepted ($code)" [ "$code" = 200 ]
code=$(post -F file=@"$clip" -F model=whisper-1 -F temperature=3)
check "temperature out of range: 400" err_is 400 temperature invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F stream=maybe)
check "stream not a boolean: 400" err_is 400 stream invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F colour=blue)
check "unknown field: 400" err_is 400 null invalid_multipart
code=$(post -F file=@"$clip" -F model=whisper-1 -F model=whisper-1)
check "repeated field: 400" err_is 400 null invalid_multipart
code=$(curl -s -o "$T/body" -w '%{http_code}' "$API" -H 'Content-Type: application/json' -d '{"model":"whisper-1"}')
check "JSON body: 400" err_is 400 null unsupported_content_type
code=$(curl -s -o "$T/body" -w '%{http_code}' "$API" -H 'Content-Type: multipart/form-data; boundary=x' \
  --data-binary $'--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--x')
check "truncated multipart: 400" err_is 400 null invalid_multipart
code=$(post -F file=@"$T/long.wav" -F model=whisper-1)
check "upload over --max-upload: 413" err_is 413 file file_too_large
code=$(post -F file=@"$T/notes.txt" -F model=whisper-1)
check "not audio: 400 naming the file" err_is 400 file invalid_file
check "not audio: the cause" grep -q "cannot decode 'notes.txt': not a media file" "$T/body"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$API")
check "GET: 405" [ "$code" = 405 ]
code=$(curl -s -o "$T/body" -w '%{http_code}' "$HARK_SERVER/v1/models")
check "models: 200" [ "$code" = 200 ]
check "models: a list with both ids" \
  [ "$(jq -r '[.object, (.data | map(.id) | join(","))] | join(" ")' "$T/body")" = "list pocketsphinx-en-us,whisper-1" ]

# ---- jobs like any other: priority, visible in the list ----
n_before=$(curl -s "$HARK_SERVER/v1/jobs?limit=1000" | jq '.data | length')
post -F file=@"$clip" -F model=whisper-1 -F priority=low > /dev/null
post -F file=@"$clip" -F model=whisper-1 -H 'X-Hark-Priority: realtime' > /dev/null
curl -s "$HARK_SERVER/v1/jobs?limit=1000" > "$T/list"
check "requests are jobs in the list" [ "$(jq '.data | length' "$T/list")" -eq $((n_before + 2)) ]
check "priority field and X-Hark-Priority header" \
  [ "$(jq -r '.data[-2:] | map(.priority) | join(",")' "$T/list")" = "low,realtime" ]
check "high priority by default" [ "$(jq -r '.data[0].priority' "$T/list")" = high ]
code=$(post -F file=@"$clip" -F model=whisper-1 -F priority=urgent)
check "unknown priority: 400" err_is 400 priority invalid_value

# ---- a client that leaves ----
newest() { curl -s "$HARK_SERVER/v1/jobs?limit=1000" | jq -r '.data[-1].id'; }
curl -s -m 2 "$API" -F file=@"$T/mid.wav" -F model=whisper-1 > /dev/null 2>&1
gone=$(newest)
wait_state "$gone" cancelled 10
check "client gone: its job is cancelled" [ "$(job_field "$gone" state)" = cancelled ]
curl -sN -m 2 "$API" -F file=@"$T/mid.wav" -F model=whisper-1 -F stream=true > /dev/null 2>&1
gone=$(newest)
wait_state "$gone" cancelled 10
check "stream client gone: its job is cancelled" [ "$(job_field "$gone" state)" = cancelled ]
curl -s -m 2 "$API" -F file=@"$T/mid.wav" -F model=whisper-1 -F keep_on_disconnect=true > /dev/null 2>&1
kept=$(newest)
check "keep_on_disconnect: the job goes on" [ "$(job_field "$kept" state)" != cancelled ]
"$HARK" cancel "$kept" > /dev/null

stop_server; rc=$?
check "SIGTERM: daemon exits 0 (got $rc)" [ $rc -eq 0 ]
finish
