#!/usr/bin/env bash
# House rules no compiler checks (curl's checksrc idea): banned calls and
# signal-based timeouts (DESIGN.md invariant 1), and clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
if grep -rnE '\b(alarm|setitimer|ualarm)[[:space:]]*\(|SIGALRM' src tests bench 2>/dev/null; then
  echo "checksrc: signal-based timeouts are banned (DESIGN.md invariant 1)" >&2; fail=1
fi
if grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)[[:space:]]*\(' src tests 2>/dev/null; then
  echo "checksrc: use snprintf / strtol with checks instead" >&2; fail=1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')
if [ -n "$files" ] && ! clang-format --dry-run -Werror $files 2>/dev/null; then
  echo "checksrc: clang-format would change files above; run 'make format'" >&2; fail=1
fi
exit $fail
