#!/usr/bin/env bash
# `hark highlights` as a command, like `hark transcribe`:
#  - Ctrl-C and kill -9 keep what was done, and the same command resumes and
#    writes exactly what an uninterrupted run writes (clips included);
#  - every broken file of the corpus fails alone with the same one-line
#    error `hark transcribe` gives it, and a good file in the batch succeeds;
#  - a URL input is downloaded once and kept for its clips (stream copy);
#  - a keywords file marks its phrases; bad options are usage errors.
. "$(dirname "$0")/../lib.sh"
TOOLS=$HARK_SOURCE_DIR/tests/tools
# One recording, as a WAV and as a video (the URL input below).
bash "$TOOLS/make_vod.sh" "$T/v" --minutes 3 --seed 5 --video --wav-too > /dev/null || not_ok "recording made"
vod=$T/v/vod.wav
DB=$XDG_STATE_HOME/hark/transcribe.db
# A keywords file: its phrases are marked (and the runs below use it too).
printf '# phrases that matter here\namiable\t3\nsense and sensibility\n' > "$T/kw.txt"
OPTS=(--clips --keywords "$T/kw.txt")

"$HARK" highlights -q --state-dir "$T/ref-state" -o "$T/ref" "${OPTS[@]}" "$vod"
check "reference run" [ -s "$T/ref/vod.highlights.json" ]
check "keywords: a highlight says it holds \"amiable\"" \
  jq -e '[.highlights[].reasons[] | select(test("keyword \"amiable\""))] | length > 0' "$T/ref/vod.highlights.json"

chunks_done() { sqlite3 "$DB" "SELECT COALESCE(SUM(chunks_done),0) FROM jobs" 2>/dev/null || echo 0; }
wait_chunks() { # N PID
  for _ in $(seq 1 600); do
    [ "$(chunks_done)" -ge "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
same_as_ref() { # DIR NAME
  local bad=0
  for f in highlights.json chapters.txt chapters.json edl txt json; do
    cmp -s "$T/ref/vod.$f" "$1/vod.$f" || { echo "vod.$f differs"; bad=1; }
  done
  for c in "$T/ref/vod.clips/"*; do
    cmp -s "$c" "$1/vod.clips/$(basename "$c")" || { echo "clip $(basename "$c") differs"; bad=1; }
  done
  check "$2: outputs and clips identical to an uninterrupted run" [ $bad -eq 0 ]
}

# The sanitizer pass leaves out INT (the same path as for transcribe,
# which interrupt_resume.sh tests both ways).
for sig in $(scaled "INT KILL" KILL); do
  rm -rf "$T/out" "$XDG_STATE_HOME"
  "$HARK" highlights -o "$T/out" "${OPTS[@]}" "$vod" 2> "$T/err" &
  pid=$!
  check "SIG$sig: analysis chunks get committed" wait_chunks 2 $pid
  kill -$sig $pid
  wait $pid; rc=$?
  [ $sig = KILL ] || check "SIG$sig: exit 130" [ $rc -eq 130 ]
  check "SIG$sig: no output written" [ -z "$(ls -A "$T/out" 2>/dev/null)" ]
  for _ in $(seq 1 100); do [ -z "$(pgrep -f "hark-engine worker" -P $pid 2>/dev/null)" ] && break; sleep 0.05; done
  "$HARK" highlights -o "$T/out" "${OPTS[@]}" "$vod" 2> "$T/err2"; rc=$?
  check "SIG$sig: the rerun succeeds" [ $rc -eq 0 ]
  check "SIG$sig: it resumed" grep -q "resuming" "$T/err2"
  same_as_ref "$T/out" "SIG$sig"
done

# ---- broken files: the same error as transcribe, alone ----
"$HARK_SOURCE_DIR/tests/corpus/make-bad-inputs.sh" "$T/bad" > /dev/null || not_ok "corpus generated"
cd "$T/bad"
bad=0 n=0
for f in adir empty.wav random.bin random.mp3 text.txt truncated.wav truncated.mp3 \
         truncated-faststart.mp4 truncated.mp4 silent-video.mp4 header-only.wav zero-channels.wav \
         huge-channels.wav absurd-rate.wav playlist.m3u8 list.ffconcat; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  "$HARK" transcribe -q -o "$T/o1" "$f" 2> "$T/e1"; r1=$?
  "$HARK" highlights -q -o "$T/o2" "$f" 2> "$T/e2"; r2=$?
  if [ $r1 -ne 1 ] || [ $r2 -ne 1 ] || ! cmp -s "$T/e1" "$T/e2" || [ "$(wc -l < "$T/e2")" -ne 1 ] ||
     [ -n "$(ls -A "$T/o2" 2>/dev/null)" ]; then
    echo "$f: transcribe rc=$r1 '$(cat "$T/e1")'; highlights rc=$r2 '$(cat "$T/e2")'"; bad=$((bad + 1))
  fi
done
check "every broken file ($n) fails with transcribe's error, one line, no output" [ $bad -eq 0 ]
cd "$T"
"$HARK" highlights -q -o "$T/batch" --top 3 --no-transcript "$T/bad/truncated.wav" "$vod" "$T/bad/text.txt" 2> "$T/err"; rc=$?
check "batch: exit 1" [ $rc -eq 1 ]
check "batch: the good file's highlights are written" [ -s "$T/batch/vod.highlights.json" ]
check "batch: two failures said, one line each" [ "$(grep -c "truncated.wav\|text.txt" "$T/err")" -eq 2 ]

# ---- a URL input: its download is kept for the clips, cut from the original ----
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
node "$HARK_SOURCE_DIR/tests/js/media_server.mjs" "$T/v" > "$T/media.log" 2>&1 &
MEDIA_PID=$!
trap 'kill $MEDIA_PID 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 1 200); do PORT=$(sed -n 's/^listening //p' "$T/media.log"); [ -n "$PORT" ] && break; sleep 0.05; done
"$HARK" highlights -q -o "$T/url" --no-transcript --top 3 --clips --clip-format copy \
  "http://127.0.0.1:$PORT/vod.mp4" 2> "$T/err"; rc=$?
check "URL: exit 0" [ $rc -eq 0 ] || cat "$T/err"
f=$(ls "$T/url/vod.clips/" 2>/dev/null | head -n 1)
check "URL: clips cut by stream copy from the download keep the video ($f)" [ -n "$f" ] &&
  [ "$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$T/url/vod.clips/$f" | sort | tr '\n' ' ')" = "audio video " ]
check "URL: the work area is clean (the kept download went with the job)" work_is_clean
kill $MEDIA_PID 2> /dev/null

# ---- bad options ----
usage_error() { # MESSAGE-REGEX ARGS...
  local re=$1; shift
  "$HARK" "$@" > /dev/null 2> "$T/err"; local rc=$?
  check "usage: $* -> exit 2, says '$re'" [ $rc -eq 2 ] && grep -qE "$re" "$T/err"
}
usage_error "top wants 1..100" highlights --top 0 "$vod"
usage_error "clip-format" highlights --clip-format avi "$vod"
usage_error "cannot open keywords file" highlights --keywords "$T/none.txt" "$vod"
printf 'ok\t1\nbad\tweight\n' > "$T/kw-bad.txt"
usage_error "kw-bad.txt.*line 2" highlights --keywords "$T/kw-bad.txt" "$vod"
usage_error "option of hark highlights" transcribe --top 3 "$vod"
usage_error "no-transcript makes none" highlights --no-transcript -f srt "$vod"
finish
