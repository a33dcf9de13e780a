#!/usr/bin/env bash
# Bad input gets one clear line naming the file and the cause, exit 1, no
# output file; it fails alone in a batch; silence succeeds with empty text
# and says so. The corpus is generated, not committed.
. "$(dirname "$0")/../lib.sh"
"$HARK_SOURCE_DIR/tests/corpus/make-bad-inputs.sh" "$T/bad" || { not_ok "corpus generated"; finish; exit 1; }
cd "$T/bad"

# expect_fail FILE CAUSE-REGEX [extra hark args]
expect_fail() {
  local f=$1 cause=$2; shift 2
  rm -rf "$T/out"
  "$HARK" transcribe -q -o "$T/out" "$@" "$f" > "$T/stdout" 2> "$T/stderr"; local rc=$?
  local lines; lines=$(wc -l < "$T/stderr")
  if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF "'$f'" "$T/stderr" && grep -qE "$cause" "$T/stderr" \
     && [ -z "$(ls -A "$T/out" 2>/dev/null)" ] && [ ! -s "$T/stdout" ]; then
    ok "$f: $(cat "$T/stderr")"
  else
    not_ok "$f: rc=$rc lines=$lines: $(cat "$T/stderr"); outputs: $(ls "$T/out" 2>/dev/null | tr '\n' ' ')"
  fi
}

expect_fail /nonexistent/talk.wav "No such file or directory"
expect_fail adir "is a directory"
expect_fail empty.wav "empty file"
expect_fail random.bin "not a media file|no audio|no decodable"
expect_fail random.mp3 "not a media file|no audio|no decodable"
expect_fail text.txt "not a media file"
expect_fail truncated.wav "truncated"
expect_fail truncated.mp3 "truncated"
expect_fail truncated-faststart.mp4 "truncated"
expect_fail truncated.mp4 "not a media file|truncated"
expect_fail silent-video.mp4 "no audio stream"
expect_fail header-only.wav "no decodable audio"
expect_fail zero-channels.wav "channels|not a media file"
expect_fail huge-channels.wav "channels|not a media file"
expect_fail absurd-rate.wav "not a media file|rate"
expect_fail playlist.m3u8 "not a media file|playlist"
expect_fail list.ffconcat "not a media file|playlist"
expect_fail long.flac "longer than the maximum of 60 s" --max-duration 60

# An unreadable file (only meaningful when not root: root reads anything).
if [ "$(id -u)" -ne 0 ]; then
  cp silence.wav locked.wav && chmod 000 locked.wav
  expect_fail locked.wav "Permission denied"
fi

# All silence: success, empty text, and it says so even with -q.
rm -rf "$T/out"
"$HARK" transcribe -q -o "$T/out" silence.wav 2> "$T/stderr"; rc=$?
check "silence.wav: exit 0" [ $rc -eq 0 ]
check "silence.wav: says no speech found" grep -q "silence.wav: no speech found" "$T/stderr"
check "silence.wav: empty txt written" [ -f "$T/out/silence.txt" -a ! -s "$T/out/silence.txt" ]
check "silence.wav: json with empty text and no segments" \
  jq -e '.text == "" and (.segments | length) == 0' "$T/out/silence.json" >/dev/null

# A batch: bad files fail alone; the good ones are transcribed.
rm -rf "$T/out"
good=$DATA/sense_and_sensibility_01_austen_64kb-0880.wav
"$HARK" transcribe -q -o "$T/out" -f txt truncated.wav "$good" text.txt 2> "$T/stderr"; rc=$?
check "batch with bad files: exit 1" [ $rc -eq 1 ]
check "batch: the good file is transcribed" [ -s "$T/out/sense_and_sensibility_01_austen_64kb-0880.txt" ]
check "batch: no output for the bad ones" [ ! -e "$T/out/truncated.txt" -a ! -e "$T/out/text.txt" ]
check "batch: one line per bad file and a summary" \
  [ "$(grep -c "cannot decode" "$T/stderr")" -eq 2 ] && grep -q "2 of 3 files failed" "$T/stderr"

# A file that cannot be opened fails once, before the run: it is not also
# submitted to fail a second time beside the others.
rm -rf "$T/out"
"$HARK" transcribe -q -o "$T/out" -f txt /nonexistent/first.wav "$good" 2> "$T/stderr"; rc=$?
check "unopenable file in a batch: exit 1" [ $rc -eq 1 ]
check "unopenable file in a batch: said once ($(grep -c first.wav "$T/stderr"))" \
  [ "$(grep -c /nonexistent/first.wav "$T/stderr")" -eq 1 ]
check "unopenable file in a batch: counted once" grep -q "1 of 2 files failed" "$T/stderr"
check "unopenable file in a batch: the good file is transcribed" \
  [ -s "$T/out/sense_and_sensibility_01_austen_64kb-0880.txt" ]

# Valid but unusual inputs decode.
for f in multichannel.mp4 multichannel.mov corrupt-middle.mp3; do
  rm -rf "$T/out"
  "$HARK" transcribe -q -o "$T/out" -f txt "$f" 2> "$T/stderr"; rc=$?
  check "$f: transcribed (exit 0)" [ $rc -eq 0 ]
done
check "corrupt-middle.mp3: speech survives the damage" [ -s "$T/out/corrupt-middle.txt" ]
check "no work directories left behind" work_is_clean

# A missing speech model: one line at once (bounded: a worker that fails to
# start again and again must not pass for a slow start), for both commands.
nomodel=$T/no-model
HARK_MODEL_DIR=$nomodel timeout 60 "$HARK" transcribe -q -o "$T/out" "$good" 2> "$T/stderr"; rc=$?
check "missing model: transcribe exits 1 (got $rc)" [ $rc -eq 1 ]
check "missing model: transcribe names the missing part" \
  grep -qF "hark: cannot load the speech model: '$nomodel/en-us' is missing" "$T/stderr"
HARK_MODEL_DIR=$nomodel timeout 60 "$HARK" serve --listen 127.0.0.1:0 --state-dir "$T/nm" \
  > /dev/null 2> "$T/stderr"; rc=$?
check "missing model: serve refuses to start (got $rc)" [ $rc -eq 1 ]
check "missing model: serve names the missing part" \
  grep -qF "hark: cannot load the speech model: '$nomodel/en-us' is missing" "$T/stderr"
# The front end without hark-engine beside it: one line saying what is
# missing and where, not a crash or a silent exit.
mkdir -p "$T/lone" && cp "$HARK" "$T/lone/hark"
"$T/lone/hark" transcribe -q -o "$T/out" "$good" 2> "$T/stderr"; rc=$?
check "no hark-engine: exit 1 (got $rc)" [ $rc -eq 1 ]
check "no hark-engine: says where it belongs" \
  grep -qF "hark: cannot run '$T/lone/hark-engine' (it belongs beside hark)" "$T/stderr"
check "no hark-engine: client commands still run" "$T/lone/hark" --version
finish
