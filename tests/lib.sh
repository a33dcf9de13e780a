# Shared helpers for tests/integration/*.sh (sourced, not run).
# Each script gets its own temporary directory and state directory, counts
# its checks, and ends with the plain "N passed, N failed" line.
set -uo pipefail
: "${HARK:?HARK must point at the hark binary (ctest sets it)}"
: "${HARK_BUILD_DIR:?}" "${HARK_SOURCE_DIR:?}"
DATA=${HARK_TESTDATA:-/usr/share/pocketsphinx/test/data/librivox}
WER=$HARK_BUILD_DIR/hark_wer
T=$(mktemp -d /tmp/hark-it-XXXXXX)
trap 'rm -rf "$T"' EXIT
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
