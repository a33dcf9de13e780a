#!/usr/bin/env bash
# bench/cluster.sh [BUILD_DIR]
#
# The shared store against the embedded one (issue: several machines, one
# queue). Claim-and-commit throughput of empty chunk tasks, one worker's
# loop (store_claim then store_commit_chunk, tests/tools/store_bench.c), on
# SQLite (a file in /tmp) and on PostgreSQL 15 (a server of its own from
# tests/pg_fixture.sh, Unix socket, durable defaults: fsync and
# synchronous_commit on), in the same run, with 1 000, 10 000 and 100 000
# chunks waiting. Prints chunks per second and the mean claim and commit
# times for each, PostgreSQL / SQLite as a ratio, and how each backend's
# rate at 100 000 compares to its rate at 1 000 (flat: near 1).
# Reproduce: make build && bench/cluster.sh build   (MEASURED=2000 for more rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
MEASURED=${MEASURED:-1000}
DEPTHS=${DEPTHS:-1000 10000 100000}
W=$(mktemp -d /tmp/hark-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
[ -x "$BUILD/store_bench" ] || { echo "no $BUILD/store_bench: make build first" >&2; exit 2; }

for q in $DEPTHS; do
  rm -f "$W"/sq.db*
  "$BUILD/store_bench" "$W/sq.db" "$q" "$MEASURED" >> "$W/sqlite.txt"
  # A fresh database for each depth: the store must start empty.
  HARK_PG_DURABLE=1 bash tests/pg_fixture.sh \
    sh -c "\"$BUILD/store_bench\" \"\$HARK_TEST_STORE\" $q $MEASURED" >> "$W/pg.txt"
done

field() { sed -n "s/.*queued=$2 .*$3=\([0-9.]*\).*/\1/p" "$1"; }
echo "claim + commit of empty chunk tasks, one loop, $MEASURED rounds each:"
printf '%-9s %12s %12s %10s %10s %10s %10s\n' waiting sqlite/s postgres/s ratio sq-claim pg-claim pg-commit
for q in $DEPTHS; do
  s=$(field "$W/sqlite.txt" "$q" chunks_per_s) p=$(field "$W/pg.txt" "$q" chunks_per_s)
  printf '%-9s %12s %12s %10.2f %9sms %9sms %9sms\n' "$q" "$s" "$p" "$(echo "$p $s" | awk '{ print $1 / $2 }')" \
    "$(field "$W/sqlite.txt" "$q" claim_ms)" "$(field "$W/pg.txt" "$q" claim_ms)" "$(field "$W/pg.txt" "$q" commit_ms)"
done
first=${DEPTHS%% *} last=${DEPTHS##* }
for b in sqlite pg; do
  echo "$b: the rate at $last waiting / at $first: $(echo "$(field "$W/$b.txt" "$last" chunks_per_s) $(field "$W/$b.txt" "$first" chunks_per_s)" | awk '{ printf "%.2f", $1 / $2 }')"
done
echo "reproduce: make build && bench/cluster.sh build"
