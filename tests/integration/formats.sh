#!/usr/bin/env bash
# Every output format from the real binary, --stdout, name clashes, bad flags.
. "$(dirname "$0")/../lib.sh"
clip=$DATA/sense_and_sensibility_01_austen_64kb-0880.wav
name=sense_and_sensibility_01_austen_64kb-0880

"$HARK" transcribe -q -o "$T/out" -f txt,json,srt,vtt,tsv,verbose_json "$clip"
check "all formats: exit 0" [ $? -eq 0 ]
for ext in txt json srt vtt tsv verbose.json; do
  check "$ext written" [ -s "$T/out/$name.$ext" ]
done
check "no temporary files left in the output directory" \
  [ "$(ls -A "$T/out" | wc -l)" -eq 6 ]
check "srt: numbered cues with HH:MM:SS,mmm times" \
  grep -qE '^00:00:0[0-9],[0-9]{3} --> 00:00:0[0-9],[0-9]{3}$' "$T/out/$name.srt"
check "srt starts with cue 1" [ "$(head -n1 "$T/out/$name.srt")" = "1" ]
check "vtt: WEBVTT header and HH:MM:SS.mmm times" \
  bash -c "head -n1 '$T/out/$name.vtt' | grep -qx WEBVTT && grep -qE '^00:00:0[0-9]\.[0-9]{3} --> ' '$T/out/$name.vtt'"
check "tsv: header and integer milliseconds" \
  bash -c "head -n1 '$T/out/$name.tsv' | grep -qxP 'start\tend\ttext' && sed -n 2p '$T/out/$name.tsv' | grep -qP '^[0-9]+\t[0-9]+\t\S'"
check "verbose_json has OpenAI's shape" jq -e '
  .task == "transcribe" and .language == "english" and (.duration > 2.9) and
  (.text | length > 0) and (.segments | length > 0) and
  (.segments[0] | has("id") and has("seek") and has("start") and has("end") and has("tokens")
                  and has("avg_logprob") and has("no_speech_prob") and (.text | startswith(" "))) and
  (.words | length > 0) and all(.words[]; has("word") and has("start") and has("end"))' \
  "$T/out/$name.verbose.json" >/dev/null
check "txt and json agree on the text" \
  [ "$(tr '\n' ' ' < "$T/out/$name.txt" | sed 's/ *$//')" = "$(jq -r .text "$T/out/$name.json")" ]

# --stdout prints the text and writes nothing.
mkdir -p "$T/so" && cd "$T/so"
"$HARK" transcribe -q --stdout "$clip" > "$T/stdout.txt"
check "--stdout exits 0" [ $? -eq 0 ]
check "--stdout prints the same text as the txt file" cmp -s "$T/stdout.txt" "$T/out/$name.txt"
check "--stdout writes no files" [ -z "$(ls -A "$T/so")" ]
"$HARK" transcribe -q --stdout -f srt "$clip" | head -n1 > "$T/first"
check "--stdout -f srt prints subtitles" [ "$(cat "$T/first")" = "1" ]
cd "$T"

# Two inputs with the same name get distinct outputs.
mkdir -p "$T/a" "$T/b"
cp "$clip" "$T/a/talk.wav"; cp "$DATA/sense_and_sensibility_01_austen_64kb-0930.wav" "$T/b/talk.wav"
"$HARK" transcribe -q -o "$T/dup" -f txt "$T/a/talk.wav" "$T/b/talk.wav"
check "same-named inputs: talk.txt and talk-2.txt" [ -s "$T/dup/talk.txt" -a -s "$T/dup/talk-2.txt" ]
check "same-named inputs: different texts" differ "$T/dup/talk.txt" "$T/dup/talk-2.txt"

# Bad command lines: exit 2 with a message.
"$HARK" transcribe -f txt,docx "$clip" 2> "$T/e1"; rc=$?
check "unknown format: exit 2" [ $rc -eq 2 ]
check "unknown format: says which" grep -q "unknown output format 'docx'" "$T/e1"
"$HARK" transcribe 2> /dev/null; rc=$?
check "no FILE: exit 2" [ $rc -eq 2 ]
"$HARK" transcribe --max-duration abc "$clip" 2> "$T/e2"; rc=$?
check "bad --max-duration: exit 2 with message" [ $rc -eq 2 ] && grep -q "max-duration" "$T/e2"
"$HARK" frobnicate 2> /dev/null; rc=$?
check "unknown command: exit 2" [ $rc -eq 2 ]
"$HARK" transcribe --help > "$T/help"
check "--help lists the formats" grep -q verbose_json "$T/help"
check "no work directories left behind" work_is_clean
finish
