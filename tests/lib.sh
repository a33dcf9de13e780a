# Shared helpers for tests/integration/*.sh (sourced, not run).
# Each script gets its own temporary directory and state directory, counts
# its checks, and ends with the plain "N passed, N failed" line.
set -uo pipefail
: "${HARK:?HARK must point at the hark binary (ctest sets it)}"
: "${HARK_BUILD_DIR:?}" "${HARK_SOURCE_DIR:?}"
DATA=${HARK_TESTDATA:-/usr/share/pocketsphinx/test/data/librivox}
WER=$HARK_BUILD_DIR/hark_wer
T=$(mktemp -d /tmp/hark-it-XXXXXX)
trap '[ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT
export XDG_STATE_HOME=$T/state
passed=0
failed=0

ok() { echo "ok   $*"; passed=$((passed + 1)); }
not_ok() { echo "FAIL $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: run COMMAND, count it as a pass if it succeeds.
check() {
  local desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
# The WER percentage (a number) of HYP against REF.
wer_of() { "$WER" "$@" | sed -n 's/.*wer=\([0-9.]*\)%.*/\1/p'; }
# Float comparison: le A B
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
# The reference text of a testdata clip, from the shipped transcription file.
ref_text() { grep "($1)" "$DATA/transcription" > "$2"; }
# True when two files differ.
differ() { ! cmp -s "$1" "$2"; }
# Nothing left in the work area.
work_is_clean() { [ -z "$(ls -A "$XDG_STATE_HOME/hark/work" 2>/dev/null)" ]; }

# ---- hark serve helpers ----
# start_server DIR [ARGS...]: start `hark serve` on a free loopback port with
# state in DIR; sets SERVER_PID and exports HARK_SERVER. Waits (bounded) for
# /healthz. Logs go to DIR.log.
start_server() {
  local dir=$1; shift
  : > "$dir.log"
  # Port 0: the server picks a free port and says which.
  "$HARK" serve --listen "127.0.0.1:0" --state-dir "$dir" "$@" >> "$dir.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 400); do
    HARK_SERVER=$(sed -n 's/^hark: serving \(http:[^ ]*\) .*/\1/p' "$dir.log" | tail -n 1)
    if [ -n "$HARK_SERVER" ] && curl -sf "$HARK_SERVER/healthz" >/dev/null 2>&1; then
      export HARK_SERVER; return 0
    fi
    kill -0 $SERVER_PID 2>/dev/null || { cat "$dir.log"; return 1; }
    sleep 0.05
  done
  return 1
}
# stop_server [SIG]: stop it (TERM by default) and wait; returns its status.
stop_server() {
  kill -"${1:-TERM}" $SERVER_PID 2>/dev/null
  wait $SERVER_PID
}
# scaled FULL QUICK: a scenario's size; QUICK when HARK_TEST_QUICK=1. make
# check sets it for the sanitizer pass, which re-runs every scenario for
# memory errors: the same code paths, at a smaller scale (the normal pass
# runs the full sizes the issues ask for).
scaled() { if [ "${HARK_TEST_QUICK:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# skip_under_sanitizers WHY: in the ASan+UBSan build, end the test here,
# reported by ctest as skipped (exit 77, SKIP_RETURN_CODE in CMakeLists.txt).
# Only for a test whose hark code the other tests already run under the
# sanitizers: say so in its header and in scripts/check.sh.
skip_under_sanitizers() {
  grep -qx 'HARK_SANITIZE:BOOL=ON' "$HARK_BUILD_DIR/CMakeCache.txt" 2>/dev/null || return 0
  echo "skipped in the sanitizer build: $*"
  exit 77
}
# job_field ID FIELD: one field of the job object.
# The job object of GET /v1/jobs/ID, as `hark show ID --json` prints it
# (serve_api.sh checks that they agree), fetched with curl: the polling
# loops below run it 20 times a second, and a hark process costs 80 ms of
# CPU to start (150 shared libraries; 240 ms under ASan) where curl costs 10.
job_field() {
  curl -s ${HARK_TOKEN:+-H "Authorization: Bearer $HARK_TOKEN"} "$HARK_SERVER/v1/jobs/$1" | jq -r ".$2"
}
# wait_state ID STATE [SECONDS]: poll (bounded) until the job is in STATE.
wait_state() {
  local n=$(( ${3:-60} * 20 ))
  for _ in $(seq 1 $n); do
    [ "$(job_field "$1" state)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# wait_decoded ID [SECONDS]: poll (bounded) until the job's media is decoded
# and planned (its chunk count is known), so its PCM file is on disk.
wait_decoded() {
  local n=$(( ${2:-60} * 20 ))
  for _ in $(seq 1 $n); do
    [ "$(job_field "$1" chunks)" != null ] && return 0
    sleep 0.05
  done
  return 1
}
# children_of PID: its worker processes (record them before killing it).
children_of() { pgrep -P "$1" | tr '\n' ' '; }
# all_gone PIDS...: none of them is alive anymore (bounded wait, 5 s).
all_gone() {
  for _ in $(seq 1 50); do
    local alive=no
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=yes; done
    [ $alive = no ] && return 0
    sleep 0.1
  done
  return 1
}

# js_deps: the npm packages of tests/js (pinned by its package-lock.json:
# eventsource, the openai package at 4.x, 5.x and 6.x as openai4, openai5,
# openai6, puppeteer-core, which drives Debian's /usr/bin/chromium and
# downloads no browser) installed once per build directory, again when the
# lock file changes; sets JS to where they are. Tests running at once take
# turns (flock), so one installs and the others wait for it.
js_deps() {
  JS=$HARK_BUILD_DIR/js
  mkdir -p "$JS" || return 1
  (
    flock 9
    cp "$HARK_SOURCE_DIR"/tests/js/package.json "$HARK_SOURCE_DIR"/tests/js/package-lock.json \
      "$HARK_SOURCE_DIR"/tests/js/*.mjs "$JS"/ || exit 1
    cmp -s "$JS/package-lock.json" "$JS/node_modules/.hark-installed-lock" && exit 0
    (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error > "$T/npm.log" 2>&1) || { cat "$T/npm.log"; exit 1; }
    cp "$JS/package-lock.json" "$JS/node_modules/.hark-installed-lock"
  ) 9> "$JS/.install-lock"
}
