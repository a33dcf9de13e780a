#!/usr/bin/env bash
# make check: the whole suite, as CI runs it.
#  1. house rules (banned calls, signal timeouts, clang-format)
#  2. -Werror build, every test (unit + integration)
#  3. ASan+UBSan build (LeakSanitizer on), every test again (the heaviest
#     scenarios at a smaller scale)
#  4. bounded libFuzzer runs over the media decode path, the live input
#     reader, the worker framing, the serve config parser, the server's
#     request parsing, its Range header parsing and the PostgreSQL store's
#     location redaction
set -euo pipefail
cd "$(dirname "$0")/.."
NPROC=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${HARK_FUZZ_SECONDS:-60}
start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(( $(date +%s) - start )); }

step "house rules"
scripts/checksrc.sh

total=0 skipped=0
run_ctest() { # dir
  local log; log=$(mktemp)
  if ! (cd "$1" && ctest --output-on-failure -j"$NPROC" 2>&1 | tee "$log"); then rm -f "$log"; return 1; fi
  if ! grep -q '100% tests passed' "$log"; then rm -f "$log"; return 1; fi
  total=$(( total + $(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log") ))
  skipped=$(( skipped + $(grep -c '(Skipped)$' "$log" || true) ))
  rm -f "$log"
}

step "build with -Werror"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHARK_WERROR=ON >/dev/null
cmake --build build -j"$NPROC"
step "tests"
run_ctest build

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHARK_WERROR=ON -DHARK_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$NPROC"
step "tests under ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
# The same scenarios at a smaller scale (tests/lib.sh: scaled): this pass
# looks for memory errors, which the code paths show at any size.
# Skipped in this pass (tests/lib.sh: skip_under_sanitizers), as their code
# runs under the other tests: doc_commands (the documents' commands).
export HARK_TEST_QUICK=1
run_ctest build-asan
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS HARK_TEST_QUICK

# The seven fuzzers run two at a time (one per core): the two media ones in
# a row (decode, then live input, FUZZ_SECONDS between them) beside the
# other five in a row (frame 20 s, config and request 15 s each, the small
# Range parser and the PostgreSQL location redaction 10 s each: 70 s).
LIVE_SECONDS=$(( FUZZ_SECONDS / 2 ))
DECODE_SECONDS=$(( FUZZ_SECONDS - LIVE_SECONDS ))
step "libFuzzer: build"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHARK_FUZZ=ON -DHARK_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j"$NPROC" --target fuzz_decode fuzz_live_input fuzz_frame fuzz_config fuzz_request \
  fuzz_range fuzz_pg_redact
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp ASAN_OPTIONS=detect_leaks=1
# fuzz NAME SECONDS LOG [libFuzzer args...]: one bounded run, its log kept.
fuzz() {
  local name=$1 secs=$2 log=$3; shift 3
  build-fuzz/"$name" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "$@" > "$log" 2>&1
}

corpus=build-fuzz/corpus-decode
rm -rf "$corpus" && mkdir -p "$corpus"
tests/corpus/make-bad-inputs.sh build-fuzz/bad >/dev/null
tests/corpus/make-conversions.sh build-fuzz/conv >/dev/null
# Seeds: small files of every kind (large ones only slow the fuzzer down).
find build-fuzz/bad build-fuzz/conv -type f -size -200k -exec cp {} "$corpus"/ \;
# Live input: the live streams, behind the two bytes that pick the format
# and the piece size (tests/fuzz/fuzz_live_input.c; 0x63: pieces of 100 bytes).
rm -rf build-fuzz/corpus-live && mkdir -p build-fuzz/corpus-live
tests/corpus/make-live-streams.sh build-fuzz/live >/dev/null
for f in build-fuzz/live/*.webm build-fuzz/live/*.mkv build-fuzz/live/*.ogg build-fuzz/live/*.mp4; do
  case $f in *.ogg) b='\001' ;; *.mp4) b='\002' ;; *) b='\000' ;; esac
  { printf "$b\143"; cat "$f"; } > build-fuzz/corpus-live/"$(basename "$f")"
done
mkdir -p build-fuzz/corpus-frame build-fuzz/corpus-config build-fuzz/corpus-request build-fuzz/corpus-range \
  build-fuzz/corpus-pg
cp tests/fuzz/fuzz_config.seed build-fuzz/corpus-config/
printf '\000{"path": "/srv/a.wav", "priority": "low", "timeout": 60}' > build-fuzz/corpus-request/json
printf '\001model=whisper-1\nresponse_format=verbose_json\ntimestamp_granularities[]=word\ntimestamp_granularities[]=segment\nstream=true\ntemperature=0.5\nlanguage=en\npriority=high' > build-fuzz/corpus-request/form
printf '\001model=whisper-1\nlanguage=en-US\nlanguages[]=en\nlanguages[]=en_GB\ninclude[]=logprobs\nchunking_strategy[type]=server_vad\nchunking_strategy[threshold]=0.5\nchunking_strategy[prefix_padding_ms]=300\nkeywords[]=Marianne\nknown_speaker_names[]=agent' > build-fuzz/corpus-request/form-newer
printf '\001model=whisper-1\nresponse_format=json\nchunking_strategy={"type": "server_vad", "silence_duration_ms": 500, "threshold": 0.5}' > build-fuzz/corpus-request/form-vad
printf '\002Bearer hk-0123456789abcdef' > build-fuzz/corpus-request/bearer
printf '\003C:\\dir\\my talk.wav' > build-fuzz/corpus-request/name
printf '\004127.0.0.1:8090\nhttp://127.0.0.1:8090' > build-fuzz/corpus-request/origin
printf '\004hark.example\nhttps://app.example:8443' > build-fuzz/corpus-request/origin2
# Range: the first byte picks the body's size (tests/fuzz/fuzz_range.c).
printf '\003bytes=10-19' > build-fuzz/corpus-range/int
printf '\004bytes=-500' > build-fuzz/corpus-range/suffix
printf '\003bytes=0-1, 5-6' > build-fuzz/corpus-range/multi
printf '\007Bytes=99999999999999999999-' > build-fuzz/corpus-range/big
# PostgreSQL locations (tests/fuzz/fuzz_pg_redact.c): both forms, passwords in each place.
printf 'postgresql://alice:s3cret@db.example:5433/hark?sslmode=require' > build-fuzz/corpus-pg/uri
printf 'postgresql:///hark?host=/run/pg&password=s3cret' > build-fuzz/corpus-pg/query
printf '%s' "host=db password='a \\' b' dbname=hark user=alice" > build-fuzz/corpus-pg/quoted
printf '%s' 'host=db password=s3\ cret dbname=hark' > build-fuzz/corpus-pg/escaped

step "libFuzzer: media decode ${DECODE_SECONDS}s and live input ${LIVE_SECONDS}s, beside frame 20s, config 15s, request 15s, Range 10s, PostgreSQL locations 10s"
( rc=0
  fuzz fuzz_decode "$DECODE_SECONDS" build-fuzz/decode.log -timeout=20 "$corpus" || rc=1
  fuzz fuzz_live_input "$LIVE_SECONDS" build-fuzz/live.log -timeout=20 build-fuzz/corpus-live || rc=1
  exit $rc ) &
decode_pid=$!
fuzz_rc=0
fuzz fuzz_frame 20 build-fuzz/frame.log -timeout=10 build-fuzz/corpus-frame || fuzz_rc=1
fuzz fuzz_config 15 build-fuzz/config.log -timeout=10 -dict=tests/fuzz/fuzz_config.dict \
  build-fuzz/corpus-config || fuzz_rc=1
fuzz fuzz_request 15 build-fuzz/request.log -timeout=10 build-fuzz/corpus-request || fuzz_rc=1
fuzz fuzz_range 10 build-fuzz/range.log -timeout=10 build-fuzz/corpus-range || fuzz_rc=1
fuzz fuzz_pg_redact 10 build-fuzz/pg_redact.log -timeout=10 build-fuzz/corpus-pg || fuzz_rc=1
wait $decode_pid || fuzz_rc=1
for f in decode live frame config request range pg_redact; do
  echo "-- fuzz_$f"
  tail -n "$([ $fuzz_rc -eq 0 ] && echo 8 || echo 60)" build-fuzz/$f.log
done
unset LSAN_OPTIONS ASAN_OPTIONS
[ $fuzz_rc -eq 0 ] || { echo "a fuzzer found a failure (build-fuzz/*.log)"; exit 1; }
total=$(( total + 7 ))

step "done"
echo "$(( total - skipped )) passed, $skipped skipped, 0 failed"
