#!/usr/bin/env bash
# A bounded load on loopback (bench/serve_load.sh at its full size, 100
# concurrent clients, 3000 requests): no 5xx, no connection error, no lost
# job, and the daemon's memory flat over the second half.
. "$(dirname "$0")/../lib.sh"
js_deps || { echo "FAIL npm install"; exit 1; }
HARK_BUILD_DIR=$HARK_BUILD_DIR bash "$HARK_SOURCE_DIR/bench/serve_load.sh" "$HARK" > "$T/load.out" 2>&1; rc=$?
cat "$T/load.out"
check "no 5xx, no connection error, no lost job (exit $rc)" [ $rc -eq 0 ]
growth=$(sed -n 's/.*growth in half 2: \(-\{0,1\}[0-9]*\) MiB.*/\1/p' "$T/load.out")
# Under AddressSanitizer (make check's second pass) freed memory sits in its
# quarantine, so RSS says nothing about leaks there; LeakSanitizer does.
if [ "${HARK_TEST_QUICK:-0}" != 1 ]; then
  check "memory flat: the second half grew the daemon by at most 8 MiB (${growth:-?} MiB)" \
    [ "${growth:-99}" -le 8 ]
fi
check "every request answered" [ "$(grep -c 'status {"200"' "$T/load.out")" -eq 2 ]
finish
