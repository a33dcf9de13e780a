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
# ~25 s: several chunks (the sanitizer pass: the first three clips, ~15 s,
# still several: the formats' paths are the same at any length)
sox $(ls "$DATA"/*.wav | head -n "$(scaled 5 3)") "$T/five.wav"
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

# ---- the newer fields of OpenAI's form ----
# A form without its file is refused for the file only once every other
# field has been read and accepted: no decode needed to see a field pass.
accepts() { code=$(post -F model=whisper-1 "$@"); err_is 400 file missing_field; }
# A known speaker's reference is a data URL of 2-10 s of audio: ~400 KB.
{ printf 'data:audio/wav;base64,'; head -c 300000 "$T/five.wav" | base64 -w0; } > "$T/ref.dataurl"
check "language=en-US accepted" accepts -F language=en-US
check "language=en_GB and eng accepted" eval 'accepts -F language=en_GB && accepts -F language=eng'
check "languages[] of English tags accepted" accepts -F 'languages[]=en' -F 'languages[]=en-US'
check "include[]=logprobs accepted" accepts -F 'include[]=logprobs'
check "chunking_strategy=auto accepted" accepts -F chunking_strategy=auto
check "chunking_strategy as a JSON server_vad object accepted" \
  accepts --form-string 'chunking_strategy={"type":"server_vad","silence_duration_ms":500}'
check "chunking_strategy[type]=server_vad and its bracketed options accepted" \
  accepts -F 'chunking_strategy[type]=server_vad' -F 'chunking_strategy[threshold]=0.5' \
    -F 'chunking_strategy[prefix_padding_ms]=300' -F 'chunking_strategy[silence_duration_ms]=500'
check "keywords[] accepted" accepts -F 'keywords[]=Marianne' -F 'keywords[]=Norland Park'
check "known_speaker_names[] and a ~400 KB known_speaker_references[] accepted" \
  accepts -F 'known_speaker_names[]=agent' -F "known_speaker_references[]=<$T/ref.dataurl"
code=$(post -F file=@"$clip" -F model=whisper-1 -F language=fr-CA)
check "language=fr-CA: 400 naming it" eval 'err_is 400 language unsupported_language && grep -q "fr-CA" "$T/body"'
code=$(post -F file=@"$clip" -F model=whisper-1 -F 'languages[]=en' -F 'languages[]=de')
check "languages[] with de: 400 naming it" eval "err_is 400 'languages[]' unsupported_language && grep -q \"'de'\" \"\$T/body\""
code=$(post -F file=@"$clip" -F model=whisper-1 -F 'include[]=tokens')
check "include[]=tokens: 400" err_is 400 'include[]' invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F chunking_strategy=sometimes)
check "chunking_strategy=sometimes: 400" err_is 400 chunking_strategy invalid_value
code=$(post -F file=@"$clip" -F model=whisper-1 -F response_format=diarized_json)
check "response_format=diarized_json: 400 unsupported_value" err_is 400 response_format unsupported_value
# All of them at once, end to end: the transcript is the same, with logprobs.
code=$(post -F file=@"$clip" -F model=whisper-1 -F language=en-US -F 'languages[]=en' \
  -F 'include[]=logprobs' -F 'chunking_strategy[type]=server_vad' -F 'keywords[]=Marianne' \
  -F prompt=Austen -F 'known_speaker_names[]=agent' -F "known_speaker_references[]=<$T/ref.dataurl")
check "every newer field at once: 200 ($code)" [ "$code" = 200 ]
check "every newer field at once: the text is hark transcribe's" \
  [ "$(jq -r .text "$T/body")" = "$(oneline "$T/ref/clip.txt")" ]
check "include[]=logprobs: tokens adding up to the text" \
  [ "$(jq -j '.logprobs | map(.token) | join("")' "$T/body")" = "$(jq -r .text "$T/body")" ]
check "include[]=logprobs: one per word" \
  [ "$(jq '.logprobs | length' "$T/body")" = "$(jq '.words | length' "$T/ref/clip.verbose.json")" ]
check "include[]=logprobs: log-probabilities (<= 0) and the token's bytes" \
  [ "$(jq '[.logprobs[] | (.logprob <= 0) and ((.bytes | implode) == .token)] | all' "$T/body")" = true ]

# ---- GET /v1/models/{id} ----
code=$(curl -s -o "$T/body" -w '%{http_code}' "$HARK_SERVER/v1/models/whisper-1")
check "models/whisper-1: 200 ($code)" [ "$code" = 200 ]
check "models/whisper-1: OpenAI's model object" \
  [ "$(jq -c . "$T/body")" = '{"id":"whisper-1","object":"model","created":0,"owned_by":"hark"}' ]
code=$(curl -s -o "$T/body" -w '%{http_code}' "$HARK_SERVER/v1/models/pocketsphinx-en-us")
check "models/pocketsphinx-en-us: 200 ($code)" [ "$code" = 200 ]
check "models/pocketsphinx-en-us: its id" [ "$(jq -r .id "$T/body")" = pocketsphinx-en-us ]
code=$(curl -s -o "$T/body" -w '%{http_code}' "$HARK_SERVER/v1/models/gpt-4o-transcribe")
check "models/gpt-4o-transcribe: 404 model_not_found" err_is 404 model model_not_found
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$HARK_SERVER/v1/models/whisper-1")
check "models/whisper-1 POST: 405" [ "$code" = 405 ]

# ---- POST /v1/audio/translations: English in, English out ----
TR=$HARK_SERVER/v1/audio/translations
tpost() { curl -s -o "$T/body" -w '%{http_code}' "$TR" "$@"; }
code=$(tpost -F file=@"$clip" -F model=whisper-1)
check "translations json: 200 ($code)" [ "$code" = 200 ]
check "translations json: {text}, the transcript of the English speech" \
  [ "$(jq -c . "$T/body")" = "$(jq -nc --arg t "$(oneline "$T/ref/clip.txt")" '{text: $t}')" ]
tpost -F file=@"$clip" -F model=whisper-1 -F response_format=srt -F prompt=Austen -F temperature=0 > /dev/null
check "translations srt: byte-identical to hark transcribe" cmp -s "$T/body" "$T/ref/clip.srt"
tpost -F file=@"$clip" -F model=pocketsphinx-en-us -F response_format=verbose_json > /dev/null
check "translations verbose_json: task translate, language english, segments, no words" \
  [ "$(jq -c '[.task, .language, has("words"), (.segments | length > 0)]' "$T/body")" = '["translate","english",false,true]' ]
code=$(tpost -F file=@"$clip" -F model=whisper-1 -F language=de)
check "translations from German: 400" err_is 400 language unsupported_language
code=$(tpost -F file=@"$clip" -F model=whisper-1 -F 'timestamp_granularities[]=word')
check "translations take no timestamp_granularities[]: 400" err_is 400 null invalid_multipart
code=$(tpost -F file=@"$clip" -F model=gpt-4o-transcribe)
check "translations, unknown model: 400" err_is 400 model model_not_found
code=$(tpost -F model=whisper-1)
check "translations, missing file: 400" err_is 400 file missing_field
code=$(curl -s -o "$T/body" -w '%{http_code}' "$TR")
check "translations GET: 405" [ "$code" = 405 ]

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

# ---- the official openai npm package (every pinned major): the newer routes and fields ----
js_deps || echo "FAIL npm install"
for pkg in $(scaled "openai4 openai5 openai6" openai6); do
  mkdir -p "$T/$pkg"
  node "$JS/openai_newer.mjs" "$pkg" "$HARK_SERVER" "$clip" "$T/$pkg" 2> "$T/$pkg.err"; rc=$?
  check "$pkg: every call succeeded (rc $rc)" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || cat "$T/$pkg.err"
  check "$pkg: models.retrieve('whisper-1')" \
    [ "$(jq -c . "$T/$pkg/model.json")" = '{"id":"whisper-1","object":"model","created":0,"owned_by":"hark"}' ]
  check "$pkg: models.retrieve of an unknown id is a NotFoundError" grep -q '^404 model_not_found' "$T/$pkg/model_error.txt"
  check "$pkg: translations json" [ "$(cat "$T/$pkg/translation.txt")" = "$(oneline "$T/ref/clip.txt")" ]
  check "$pkg: translations vtt byte-identical" cmp -s "$T/$pkg/translation.vtt" "$T/ref/clip.vtt"
  check "$pkg: every newer field (chunking_strategy object, include, keywords, languages, known speakers)" \
    [ "$(jq -r .text "$T/$pkg/newer.json")" = "$(oneline "$T/ref/clip.txt")" ]
  check "$pkg: logprobs add up to the text" \
    [ "$(jq -j '.logprobs | map(.token) | join("")' "$T/$pkg/newer.json")" = "$(oneline "$T/ref/clip.txt")" ]
done

stop_server; rc=$?
check "SIGTERM: daemon exits 0 (got $rc)" [ $rc -eq 0 ]
finish
