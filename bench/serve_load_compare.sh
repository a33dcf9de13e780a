#!/usr/bin/env bash
# bench/serve_load_compare.sh OLD_HARK NEW_HARK [ROUNDS]
#
# bench/serve_load.sh against two builds of hark, alternating (old, new,
# old, new, ...) ROUNDS times each (default 2), so both see the same
# machine: a shared two-core box is noisy, and only a ratio measured in
# one run means anything. Prints each run's requests per second and p99 (of
# both halves of the run), then the medians and new/old ratios. Exit 1 when
# any run had a 5xx, a connection error or a lost job.
#
# Reproduce (old = the thread-per-connection server of commit 1288186):
#   git worktree add /tmp/hark-old 1288186 && make -C /tmp/hark-old build
#   make build && bench/serve_load_compare.sh /tmp/hark-old/build/hark build/hark
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROUNDS=${3:-2}
W=$(mktemp -d /tmp/hark-cmp-XXXXXX)
trap 'rm -rf "$W"' EXIT

# run NAME HARK N: one bench run; its two halves' figures to $W/NAME.N
run() {
  local out=$W/$1.$3
  if ! bench/serve_load.sh "$2" > "$out" 2>&1; then
    cat "$out"
    echo "FAIL: run $1 $3"
    exit 1
  fi
  sed -n 's/.* = \([0-9]*\) req\/s;.* p99 \([0-9.]*\) ms;.*/\1 \2/p' "$out" >> "$W/$1.all"
  echo "$1 run $3: $(sed -n 's/.* = \([0-9]*\) req\/s;.* p99 \([0-9.]*\) ms;.*/\1 req\/s p99 \2 ms/p' "$out" | paste -sd ';' -)"
}
for i in $(seq 1 "$ROUNDS"); do
  run old "$OLD" "$i"
  run new "$NEW" "$i"
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
old_rps=$(cut -d' ' -f1 "$W/old.all" | median)
new_rps=$(cut -d' ' -f1 "$W/new.all" | median)
old_p99=$(cut -d' ' -f2 "$W/old.all" | median)
new_p99=$(cut -d' ' -f2 "$W/new.all" | median)
echo "median over $((ROUNDS * 2)) halves: old $old_rps req/s, p99 $old_p99 ms; new $new_rps req/s, p99 $new_p99 ms"
awk -v a="$old_rps" -v b="$new_rps" -v c="$old_p99" -v d="$new_p99" \
  'BEGIN { printf "new/old: requests per second %.2f, p99 %.2f\n", b / a, d / c }'
echo "reproduce: make build && bench/serve_load_compare.sh OLD/build/hark build/hark $ROUNDS"
