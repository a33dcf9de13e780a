#!/usr/bin/env bash
# `hark transcribe` when the disk fills (DESIGN.md invariant 11), with real
# failures: the file-size limit (ulimit -f: EFBIG, SIGXFSZ ignored) and
# ENOSPC from the test-only injection of src/util/fault.h
# (HARK_TEST_ENOSPC=SUFFIX, HARK_TEST_ENOSPC_WHILE=FILE).
#  - outputs that cannot be written: exit 1, the job is kept, and a rerun
#    writes the outputs from the store without decoding anything;
#  - a full disk under the PCM write is waited out (longer backoff) and the
#    file completes once there is space, instead of failing after 3 retries;
#  - past the file-size limit: a clear one-line error and exit 1, not a
#    silent death by SIGXFSZ (exit 153).
. "$(dirname "$0")/../lib.sh"
cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$T/clip.wav"   # 3 s
sox "$DATA"/*.wav "$T/long.wav"                                          # 25 s: an 800 KB PCM
S=$T/state
"$HARK" transcribe -q -o "$T/ref" -f txt,json,srt "$T/clip.wav"
q() { sqlite3 "$S/transcribe.db" "$1" 2>/dev/null; }
# Worker dispatches ("worker-1: job J task -1 (token 5)"), logged at debug.
dispatches() { grep -cE 'job j[0-9a-f]+ task -?[0-9]+ \(token' "$1"; }

# ---- outputs on a full disk ----
HARK_TEST_ENOSPC=.json "$HARK" transcribe -q --state-dir "$S" -o "$T/out" -f txt,json,srt \
  "$T/clip.wav" 2> "$T/full.err"; rc=$?
check "full disk for the .json: exit 1 ($rc)" [ $rc -eq 1 ]
check "the error names the file and the cause" \
  grep -qF "cannot write '$T/out/clip.json': No space left on device" "$T/full.err"
check "... and says the transcript is kept" grep -q "the transcript is kept: run the same command again" "$T/full.err"
check "no .json, no temporary file" [ ! -e "$T/out/clip.json" -a -z "$(ls -A "$T/out" | grep tmp)" ]
check "the job is kept in the store, every chunk committed" \
  [ "$(q "SELECT count(*) FROM jobs WHERE chunks_done = n_chunks AND n_chunks > 0 AND state = 'paused'")" = 1 ]
HARK_LOG=debug "$HARK" transcribe --state-dir "$S" -o "$T/out" -f txt,json,srt "$T/clip.wav" \
  2> "$T/rerun.err"; rc=$?
check "rerun with space: exit 0 ($rc)" [ $rc -eq 0 ]
check "rerun: resumes with every chunk done" grep -qE "resuming \(([0-9]+) of \1 chunks already done\)" "$T/rerun.err"
check "rerun: nothing decoded ($(dispatches "$T/rerun.err") tasks sent to workers)" [ "$(dispatches "$T/rerun.err")" = 0 ]
check "rerun: says the outputs came from the store" grep -q "from the store (nothing decoded)" "$T/rerun.err"
for ext in txt json srt; do
  check "rerun: $ext identical to a clean run" cmp -s "$T/ref/clip.$ext" "$T/out/clip.$ext"
done
check "rerun: the job is gone from the store" [ "$(q "SELECT count(*) FROM jobs")" = 0 ]

# ---- a full disk under the PCM write, for a while ----
touch "$T/full"
HARK_TEST_ENOSPC=audio.pcm.part HARK_TEST_ENOSPC_WHILE=$T/full \
  "$HARK" transcribe -q --state-dir "$S" -o "$T/pcm" -f txt "$T/clip.wav" 2> "$T/pcm.err" &
pid=$!
for _ in $(seq 1 600); do   # the first failed write (bounded: 30 s)
  grep -q "waiting for disk space" "$T/pcm.err" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
check "PCM write on a full disk: waits for space" grep -q "waiting for disk space, retry 2 in [4-5] s" "$T/pcm.err"
sleep 1
check "... still running, not failed, a second later" kill -0 $pid
rm -f "$T/full"   # space again
wait $pid; rc=$?
check "space again: the file completes, exit 0 ($rc)" [ $rc -eq 0 ]
check "... with the same text" cmp -s "$T/ref/clip.txt" "$T/pcm/clip.txt"
check "... and the failed writes were not counted as bad input" bash -c "! grep -q 'failed 3 times' '$T/pcm.err'"

# ---- the file-size limit ----
(ulimit -f 600; exec "$HARK" transcribe -q --state-dir "$T/state2" -o "$T/big" "$T/long.wav") 2> "$T/big.err"; rc=$?
check "ulimit -f 600 (KiB) and an 800 KB PCM: exit 1, not 153 ($rc)" [ $rc -eq 1 ]
check "one clear line naming the limit" \
  grep -qE "^hark: .*long.wav.*File too large: over the file-size limit \(ulimit -f\) of 614400 bytes" "$T/big.err"
cat "$T/big.err"
finish
