#!/usr/bin/env bash
# The commands of README.md and docs/, taken from the documents themselves
# and run as a new user would type them, in order, so a doc cannot describe
# a command that does not work. (The Quick start's `make demo` and `make
# check` are what CI runs; docs/config.md's example is serve_config.sh's.)
#
# - README, "Transcribe files": each line, on a talk.mp3, a movie.mkv with a
#   video stream, a memo.m4a and two .flac files.
# - README, "Run the daemon": each line, `ID` standing for the job ID the
#   last `submit` printed; `build/hark serve &` listens on its default
#   127.0.0.1:8090, so the block runs in a network namespace of its own
#   (unshare) when it can, and on the machine's loopback otherwise.
# - README, "Find highlights": each line, on a generated stream VOD
#   stream.mp4 (the LibriVox clips with a test picture), podcast.mp3 and a
#   keywords file.
# - README, "Dictate": each line, against a daemon on 127.0.0.1:8090 (a
#   network namespace of its own again), a PulseAudio daemon of the test's
#   whose default source is a null sink's monitor, into which a clip is
#   played once a dictation hears its first audio, and Xvfb for the
#   clipboard.
# - docs/operations.md: both `hark serve` lines, and the webhook signature
#   check (which must say "signature valid").
# - docs/config.md: the HARK_TOKENS example gives a daemon those tokens.
# Not run here: README's "Install as a service" block (it builds, and
# installs as root) is what tests/integration/packaging.sh does into
# temporary trees; operations.md's unit drop-in and rule_files are not
# commands (text and yaml blocks).
# Skipped in the ASan+UBSan build: the commands are hark's transcribe,
# submit/wait/result/ls, serve, highlights and dictate, which their own
# tests (interrupt_resume, serve_api, highlights_cli, dictate...) run under
# the sanitizers; what this test adds is that the documents are true.
. "$(dirname "$0")/../lib.sh"
skip_under_sanitizers "the documents' commands, which other tests run under the sanitizers"
SRC=$HARK_SOURCE_DIR
# block FILE N: the Nth ```sh block of FILE (1-based).
block() { awk -v want="$2" '/^```(sh|bash)$/ { n++; on = (n == want); next } /^```/ { on = 0 } on' "$1"; }
# The commands as typed: comments and blank lines dropped.
commands() { sed -e 's/[[:space:]]\+#.*$//' -e '/^[[:space:]]*$/d'; }

W=$T/user
mkdir -p "$W/build"
ln -s "$HARK" "$W/build/hark"   # hark finds hark-engine beside its real path
cd "$W"
clip=$DATA/sense_and_sensibility_01_austen_64kb-0880.wav
ffmpeg -v error -i "$clip" talk.mp3
ffmpeg -v error -f lavfi -i testsrc=size=160x120:rate=10 -i "$clip" -shortest -c:v mpeg4 -c:a aac movie.mkv
ffmpeg -v error -i "$DATA/sense_and_sensibility_01_austen_64kb-0890.wav" memo.m4a
ffmpeg -v error -i "$clip" a.flac
ffmpeg -v error -i "$DATA/sense_and_sensibility_01_austen_64kb-0920.wav" b.flac
cp "$clip" clip.wav
sox $(for i in 1 2 3; do echo "$DATA"/*.wav; done) meeting.wav && ffmpeg -v error -i meeting.wav meeting.mp3

# ---- README: Transcribe files ----
block "$SRC/README.md" 2 | commands > "$T/transcribe.cmds"
check "README has the transcribe block ($(wc -l < "$T/transcribe.cmds") commands)" \
  [ "$(wc -l < "$T/transcribe.cmds")" -ge 4 ]
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  bash -c "$cmd" > "$T/out.$n" 2> "$T/err.$n"; rc=$?
  check "README: \`$cmd\` exits 0 ($rc)" [ $rc -eq 0 ] || tail -n 3 "$T/err.$n"
done < "$T/transcribe.cmds"
check "README: talk.txt and talk.json written" [ -s talk.txt -a -s talk.json ]
check "README: subtitles of the video in subs/" [ -s subs/movie.srt -a -s subs/movie.vtt ]
check "README: --stdout printed the memo's text" grep -q '[a-z]' "$T/out.3"
check "README: the batch wrote out/a.txt and out/b.txt" [ -s out/a.txt -a -s out/b.txt ]

# ---- README: Run the daemon (in a network namespace of its own when possible) ----
block "$SRC/README.md" 3 | commands > "$T/daemon.cmds"
check "README has the daemon block ($(wc -l < "$T/daemon.cmds") commands)" \
  [ "$(wc -l < "$T/daemon.cmds")" -ge 10 ]
cat > "$T/daemon.sh" <<'EOF'
# Run each command of $1 as typed; ID is the last submit's output.
ip link set lo up 2> /dev/null
ID= n=0 SERVE=
while IFS= read -r cmd; do
  n=$((n + 1))
  line=${cmd//ID/$ID}
  case $line in
    *'&')
      bash -c "${line%&}" >> "$T/serve.log" 2>&1 &
      SERVE=$!
      for _ in $(seq 1 400); do curl -sf http://127.0.0.1:8090/healthz > /dev/null 2>&1 && break; sleep 0.05; done
      curl -sf http://127.0.0.1:8090/healthz > /dev/null && echo "ok serve" || echo "FAILED serve"
      continue ;;
  esac
  out=$(bash -c "$line" 2> "$T/d.err.$n"); rc=$?
  printf '%s\n' "$out" > "$T/d.out.$n"
  case $line in *' submit '*) ID=$(printf '%s\n' "$out" | tail -n 1) ;; esac
  echo "rc $rc $n $line"
done < "$1"
kill -TERM $SERVE 2> /dev/null
wait $SERVE
echo "serve exit $?"
EOF
export T
if unshare -n true 2> /dev/null; then
  where="a network namespace of its own"
  unshare -n bash "$T/daemon.sh" "$T/daemon.cmds" > "$T/daemon.log" 2>&1
else
  where="the machine's loopback"
  bash "$T/daemon.sh" "$T/daemon.cmds" > "$T/daemon.log" 2>&1
fi
echo "the daemon block ran in $where"
check "README: build/hark serve & answers on 127.0.0.1:8090" grep -q '^ok serve' "$T/daemon.log"
while read -r _ rc n line; do
  check "README: \`$line\` exits 0 ($rc)" [ "$rc" -eq 0 ] || tail -n 3 "$T/d.err.$n"
done < <(grep '^rc ' "$T/daemon.log")
out_of() { grep -F " $1" "$T/daemon.log" | head -n 1 | cut -d' ' -f3; } # the line number of a command
check "README: wait says succeeded" grep -q succeeded "$T/d.out.$(out_of 'build/hark wait')"
check "README: result -f srt is subtitles" grep -q -- '-->' "$T/d.out.$(out_of 'build/hark result')"
check "README: ptt printed the text" grep -q '[a-z]' "$T/d.out.$(out_of 'build/hark ptt')"
check "README: pause paused the long job" grep -q paused "$T/d.out.$(out_of 'build/hark pause')"
check "README: cancel cancelled it" grep -q cancelled "$T/d.out.$(out_of 'build/hark cancel')"
check "README: SIGTERM stops the daemon with 0" grep -q '^serve exit 0' "$T/daemon.log"

# ---- README: Find highlights ----
sox "$DATA"/*.wav "$T/stream.wav"
ffmpeg -v error -f lavfi -i testsrc=size=160x120:rate=10 -i "$T/stream.wav" -shortest \
  -c:v libx264 -preset ultrafast -g 20 -c:a aac stream.mp4
cp meeting.mp3 podcast.mp3
printf 'amiable\t2\nlet'"'"'s go\n' > words.txt
block "$SRC/README.md" 4 | commands > "$T/highlights.cmds"
check "README has the highlights block ($(wc -l < "$T/highlights.cmds") commands)" \
  [ "$(wc -l < "$T/highlights.cmds")" -eq 4 ]
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  bash -c "$cmd" > "$T/hl.out.$n" 2> "$T/hl.err.$n"; rc=$?
  check "README: \`$cmd\` exits 0 ($rc)" [ $rc -eq 0 ] || tail -n 3 "$T/hl.err.$n"
done < "$T/highlights.cmds"
check "README: stream.highlights.json, chapters, EDL and transcript written" \
  [ -s stream.highlights.json -a -s stream.chapters.txt -a -s stream.chapters.json -a -s stream.edl -a -s stream.txt ]
check "README: wav clips in hl/stream.clips/" bash -c 'ls hl/stream.clips/01-*.wav > /dev/null'
check "README: copied mp4 clips in cut/stream.clips/" bash -c 'ls cut/stream.clips/01-*.mp4 > /dev/null'
check "README: at most five highlights of the podcast" jq -e '(.highlights | length) <= 5' podcast.highlights.json

# ---- README: Dictate (daemon, PulseAudio and X of the test's own) ----
block "$SRC/README.md" 5 | commands > "$T/dictate.cmds"
check "README has the dictate block ($(wc -l < "$T/dictate.cmds") commands)" \
  [ "$(wc -l < "$T/dictate.cmds")" -eq 5 ]
cat > "$T/dictate.sh" <<'EOF'
# Run each command of $1 as typed, with a clip spoken into the microphone
# whenever a dictation records.
ip link set lo up 2> /dev/null
mkdir -m 700 "$T/dpa" "$T/drt"
printf 'load-module module-native-protocol-unix auth-anonymous=1 socket=%s\nload-module module-null-sink sink_name=mic rate=16000 channels=1\n' \
  "$T/dpa/native" > "$T/dpa/pa.conf"
HOME=$T/dpa XDG_RUNTIME_DIR=$T/dpa XDG_CONFIG_HOME=$T/dpa pulseaudio -n -F "$T/dpa/pa.conf" \
  --daemonize=no --exit-idle-time=-1 --use-pid-file=no --disable-shm=yes > "$T/dpa.log" 2>&1 &
PA=$!
exec 3> "$T/dxdisplay"
Xvfb -displayfd 3 -nolisten tcp > "$T/dxvfb.log" 2>&1 &
XV=$!
exec 3>&-
"$HARK" serve --state-dir "$T/dserve" > "$T/dserve.log" 2>&1 &
SERVE=$!
for _ in $(seq 1 400); do
  [ -S "$T/dpa/native" ] && [ -s "$T/dxdisplay" ] && curl -sf http://127.0.0.1:8090/healthz > /dev/null 2>&1 && break
  sleep 0.05
done
export PULSE_SERVER=unix:$T/dpa/native XDG_RUNTIME_DIR=$T/drt HARK_LOG=debug DISPLAY=:$(head -n 1 "$T/dxdisplay")
unset WAYLAND_DISPLAY
CLIP=$DATA/sense_and_sensibility_01_austen_64kb-0880.wav
# speak FILE: play the clip once FILE says the first audio came.
speak() {
  for _ in $(seq 1 100); do grep -q "first audio from" "$1" 2> /dev/null && break; sleep 0.05; done
  paplay -d mic "$CLIP"
}
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  case $cmd in
    *'dictate start'*)
      bash -c "$cmd" < /dev/null > "$T/dd.out.$n" 2> "$T/dd.err.$n"; rc=$?
      speak "$XDG_RUNTIME_DIR/hark/dictate.log" ;;
    *'dictate --max'*)
      bash -c "$cmd" < /dev/null > "$T/dd.out.$n" 2> "$T/dd.err.$n" &
      speak "$T/dd.err.$n"
      wait $!; rc=$? ;;
    *) # (ffmpeg would read the commands as its keys)
      bash -c "$cmd" < /dev/null > "$T/dd.out.$n" 2> "$T/dd.err.$n"; rc=$? ;;
  esac
  echo "rc $rc $n $cmd"
done < "$1"
timeout 5 xclip -o -selection clipboard > "$T/dd.clipboard" 2> /dev/null
kill $SERVE $XV $PA 2> /dev/null
wait $SERVE
EOF
export DATA
if unshare -n true 2> /dev/null; then
  unshare -n bash "$T/dictate.sh" "$T/dictate.cmds" > "$T/dictate.log" 2>&1
else
  bash "$T/dictate.sh" "$T/dictate.cmds" > "$T/dictate.log" 2>&1
fi
while read -r _ rc n line; do
  check "README: \`$line\` exits 0 ($rc)" [ "$rc" -eq 0 ] || tail -n 3 "$T/dd.err.$n"
done < <(grep '^rc ' "$T/dictate.log")
d_out() { echo "$T/dd.out.$(grep -F " $1" "$T/dictate.log" | head -n 1 | cut -d' ' -f3)"; }
check "README: dictate --max printed what the microphone heard" grep -q '[a-z] [a-z]' "$(d_out 'build/hark dictate --max')"
check "README: dictate - printed the talk's text" grep -q '[a-z] [a-z]' "$(d_out 'ffmpeg')"
check "README: dictate start printed the job ID" grep -q '^j[0-9a-f]' "$(d_out 'build/hark dictate start')"
check "README: dictate stop put the text on the clipboard" grep -q '[a-z] [a-z]' "$T/dd.clipboard"
check "README: ls --kind live lists the three dictations" \
  [ "$(grep -c ' realtime ' "$(d_out 'build/hark ls')")" -ge 3 ]

# ---- docs/operations.md: the two serve lines, the signature check ----
block "$SRC/docs/operations.md" 1 | commands > "$T/ops.cmds"
check "operations.md has its serve lines" [ "$(wc -l < "$T/ops.cmds")" -eq 2 ]
# The first is README's `build/hark serve &` (run above); the second:
line=$(sed -n 2p "$T/ops.cmds")
mkdir -p "$W/bin" && ln -sf "$HARK" "$W/bin/hark"
PATH=$W/bin:$PATH XDG_STATE_HOME=$T/ops bash -c "exec $line" > "$T/ops.log" 2>&1 &
ops=$!
for _ in $(seq 1 200); do grep -q '^hark: serving' "$T/ops.log" && break; sleep 0.05; done
check "operations.md: \`$line\` serves on a free port with 4 workers" \
  grep -q '^hark: serving http://127.0.0.1:[0-9]* (.*4 workers' "$T/ops.log"
kill -TERM $ops 2> /dev/null
wait $ops
block "$SRC/docs/operations.md" 2 > "$T/verify.sh"
(cd "$T" && bash verify.sh > verify.out 2>&1)
check "operations.md: the webhook signature check says valid" grep -qx 'signature valid' "$T/verify.out"

# ---- docs/config.md: HARK_TOKENS ----
tokens_line=$(block "$SRC/docs/config.md" 1 | grep '^HARK_TOKENS=')
check "config.md has a HARK_TOKENS example" [ -n "$tokens_line" ]
eval "export $tokens_line"
start_server "$T/tk" --workers 1
secret=$(printf '%s' "$HARK_TOKENS" | cut -d, -f1 | cut -d: -f3-)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $secret" "$HARK_SERVER/v1/jobs")
check "config.md: a token of HARK_TOKENS is accepted ($code)" [ "$code" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "$HARK_SERVER/v1/jobs")
check "config.md: and a request without one is refused ($code)" [ "$code" = 401 ]
stop_server
unset HARK_TOKENS
finish
