#!/usr/bin/env bash
# bench/cluster.sh [BUILD_DIR]
#
# Several machines, one queue (issue: several machines). Three parts, run
# in this order; PARTS="claims ptt long" (the default) or any of them.
#
# claims: the shared store against the embedded one. Claim-and-commit
#   throughput of empty chunk tasks, one worker's loop (store_claim then
#   store_commit_chunk, tests/tools/store_bench.c), on SQLite (a file in
#   /tmp) and on PostgreSQL 15 (a server of its own from
#   tests/pg_fixture.sh, Unix socket, durable defaults: fsync and
#   synchronous_commit on), in the same run, with 1 000, 10 000 and
#   100 000 chunks waiting (DEPTHS). Prints chunks per second and the mean
#   claim and commit times for each, PostgreSQL / SQLite as a ratio, and
#   how each backend's rate at 100 000 compares to its rate at 1 000 (flat:
#   near 1). MEASURED (1000) rounds each.
#
# The other two parts run `hark serve` nodes on one PostgreSQL 15 server
# (tests/pg_fixture.sh, durable defaults, a fresh database for each set-up)
# and a shared directory. A set-up is STORE:NODESxWORKERS, e.g. pg:2x1 is
# two nodes of one worker each on PostgreSQL, sqlite:1x2 one node of two
# workers on its SQLite file. By default the nodes of a set-up have as many
# workers between them as bench/serve_latency.sh gives its one node (the
# number of cores): NODE_WORKERS = cores / 2 each, at least 1.
#
# ptt: push-to-talk busy/idle latency across two nodes, by
#   bench/serve_latency.sh's method: a 3-second clip submitted at realtime
#   priority over HTTP (tests/tools/hark_ptt_probe: upload, follow the
#   event stream, fetch the text), idle (a 40-minute low job paused, its
#   workers given 0.3 s to stop) and busy (that job resumed, a chunk of it
#   on every worker of every node, so each clip preempts it), alternating,
#   TRIES (20) times each; try i goes to node i mod NODES (a, b, a, b...)
#   and its events are followed on that node. PTT_SETUPS (default
#   "sqlite:1x2 pg:2x1" on two cores: serve_latency.sh's one node, then
#   the cluster). Prints p50, p95 and mean submit-to-text per mode, the
#   ratios busy/idle (target <= 1.10), and medians of where the time went:
#   queued->started (the wait for a worker to yield) and the engine's decode
#   of the clip (longer when a neighbour decodes beside it); and on how
#   many tries another node than the one submitted to decoded the clip.
#
# long: one long file, the tests' LibriVox clips repeated and cut to LONG_S
#   (240) seconds, submitted (normal priority) to each of LONG_SETUPS
#   (default "pg:2x1 pg:1x2 sqlite:1x2" on two cores: two nodes of one
#   worker, one node of two on the same PostgreSQL, so only the split
#   differs, and one node of two on SQLite), every worker ready before;
#   wall time from submit to succeeded (`hark wait`), LONG_ROUNDS (2)
#   rounds, every other one in reverse order so the machine's drift hits
#   the set-ups alike. Prints each run, the means and each mean over
#   LONG_REF's (pg:1x2: the pg:2x1 row is the figure, target <= 1.10),
#   the chunks each node decoded, and whether every run's output (txt and
#   srt) is byte-identical to the first's (exit 1 if not, or if a job did
#   not succeed).
#
# Sized to take under 10 minutes on two cores; it prints how long it took.
# Reproduce: make build && bench/cluster.sh build
#   (PARTS=ptt for one part; TRIES, LONG_S, LONG_ROUNDS, PTT_SETUPS,
#   LONG_SETUPS, MEASURED, DEPTHS to size it; KEEP=1 keeps the nodes' logs)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
PARTS=${PARTS:-claims ptt long}
MEASURED=${MEASURED:-1000}
DEPTHS=${DEPTHS:-1000 10000 100000}
TRIES=${TRIES:-20}
LONG_S=${LONG_S:-240}
LONG_ROUNDS=${LONG_ROUNDS:-2}
NODE_WORKERS=${NODE_WORKERS:-$(($(nproc) / 2 > 0 ? $(nproc) / 2 : 1))}
PTT_SETUPS=${PTT_SETUPS:-sqlite:1x$((2 * NODE_WORKERS)) pg:2x$NODE_WORKERS}
LONG_SETUPS=${LONG_SETUPS:-pg:2x$NODE_WORKERS pg:1x$((2 * NODE_WORKERS)) sqlite:1x$((2 * NODE_WORKERS))}
LONG_REF=${LONG_REF:-pg:1x$((2 * NODE_WORKERS))}
DATA=${HARK_TESTDATA:-/usr/share/pocketsphinx/test/data/librivox}
HARK=$BUILD/hark
PROBE=$BUILD/hark_ptt_probe
has() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---- ptt and long: run by this script again, under tests/pg_fixture.sh ----
if [ -n "${CLUSTER_INNER:-}" ]; then
  W=$CLUSTER_INNER
  NAMES=(a b c d e f g h)
  PSQL=$HARK_PG_BIN/psql
  RUNNING=()
  down() {
    local p
    for p in "${RUNNING[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${RUNNING[@]}"; do wait "$p" 2>/dev/null || true; done
    RUNNING=()
  }
  trap down EXIT
  DBN=0
  # up SETUP DIR: start SETUP's nodes (state and logs in DIR) and wait until
  # each has loaded its workers' models. Sets URLS, LOGS, LEASES (the number
  # of workers in all) and STORE.
  up() {
    local kind=${1%%:*} shape=${1#*:} dir=$2 i nm url
    local n=${shape%x*} w=${shape#*x}
    local opts=()
    mkdir -p "$dir"
    URLS=() LOGS=() LEASES=$((n * w))
    if [ "$kind" = pg ]; then
      DBN=$((DBN + 1))
      "$HARK_PG_BIN/createdb" -h "$HARK_PG_DIR" -U postgres "bench$DBN"
      STORE="postgresql:///bench$DBN?host=$HARK_PG_DIR&user=postgres"
      opts=(--store "$STORE" --shared-dir "$dir/shared")
      mkdir -p "$dir/shared"
    else
      STORE=$dir/a/hark.db
    fi
    for i in $(seq 0 $((n - 1))); do
      nm=${NAMES[i]}
      HARK_LOG=debug "$HARK" serve --listen 127.0.0.1:0 --state-dir "$dir/$nm" --workers "$w" \
        --node "$nm" "${opts[@]}" 2> "$dir/$nm.log" &
      RUNNING+=($!)
      LOGS+=("$dir/$nm.log")
    done
    for i in $(seq 0 $((n - 1))); do
      url=
      for _ in $(seq 1 400); do
        url=$(sed -n 's/^hark: serving \(http:[^ ]*\) .*/\1/p' "${LOGS[i]}")
        [ -n "$url" ] && curl -sf "$url/healthz" > /dev/null && break
        sleep 0.05
      done
      [ -n "$url" ] || { echo "node ${NAMES[i]} of $1 did not start:" >&2; cat "${LOGS[i]}" >&2; exit 1; }
      URLS+=("$url")
      for _ in $(seq 1 400); do
        [ "$(grep -c ': ready (' "${LOGS[i]}")" -ge "$w" ] && break
        sleep 0.05
      done
    done
  }
  q() {
    if [ "${STORE#postgresql:}" != "$STORE" ]; then
      "$PSQL" -X -q -At "$STORE" -c "$1" 2> /dev/null || echo 0
    else
      sqlite3 "$STORE" "$1" 2> /dev/null || echo 0
    fi
  }
  leased() { q "SELECT COUNT(*) FROM tasks WHERE state = 'leased'"; }
  # decoded_by ID: the node names whose workers decoded a chunk of job ID.
  decoded_by() {
    local i
    for i in "${!LOGS[@]}"; do
      grep -q "job $1 chunk [0-9]*: dispatch" "${LOGS[i]}" && echo "${NAMES[i]}"
    done
    return 0
  }
  # queued_started URL ID: ms from the job's queued event to its started one.
  queued_started() {
    curl -s -m 5 "$1/v1/jobs/$2/events" | awk '
      /^event: / { ev = $2 }
      /^data:/ { if (match($0, /"time":[0-9.]+/)) t[ev] = substr($0, RSTART + 7, RLENGTH - 7) }
      END { printf "%.1f\n", (t["started"] - t["queued"]) * 1000 }'
  }
  pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print v[i] }'; }
  mean() { awk '{ s += $1 } END { printf "%.1f", s / NR }' "$1"; }

  # ---- ptt ----
  ptt_setup() { # SETUP
    local d=$W/ptt-${1/:/-} low i u n state
    up "$1" "$d"
    n=${#URLS[@]}
    for u in "${URLS[@]}"; do "$PROBE" "$u" "$W/clip.wav" 3 > /dev/null; done   # warm every node
    low=$(HARK_SERVER=${URLS[0]} "$HARK" submit --priority low "$W/low.wav")
    for _ in $(seq 1 1200); do   # the low job is decoded and on every worker
      [ "$(leased)" -ge "$LEASES" ] && break
      sleep 0.1
    done
    : > "$d/idle.txt"; : > "$d/busy.txt"
    for i in $(seq 0 $((TRIES - 1))); do
      u=${URLS[i % n]}
      HARK_SERVER=${URLS[0]} "$HARK" pause "$low" > /dev/null
      for _ in $(seq 1 100); do [ "$(leased)" = 0 ] && break; sleep 0.02; done
      sleep 0.3   # the workers finish yielding (serve_latency.sh)
      echo "$i $("$PROBE" "$u" "$W/clip.wav" 1)" >> "$d/idle.txt"
      HARK_SERVER=${URLS[0]} "$HARK" resume "$low" > /dev/null
      for _ in $(seq 1 200); do [ "$(leased)" -ge "$LEASES" ] && break; sleep 0.02; done
      sleep 0.2   # every worker gets into its chunk
      echo "$i $("$PROBE" "$u" "$W/clip.wav" 1)" >> "$d/busy.txt"
    done
    state=$(curl -s "${URLS[0]}/v1/jobs/$low" | jq -r .state)
    HARK_SERVER=${URLS[0]} "$HARK" cancel "$low" > /dev/null
    local m other f
    for m in idle busy; do
      cut -d' ' -f2 "$d/$m.txt" > "$d/$m.ms"
      other=0
      : > "$d/$m.qs"; : > "$d/$m.dec"
      while read -r i _ id _; do
        queued_started "${URLS[i % n]}" "$id" >> "$d/$m.qs"
        cat "${LOGS[@]}" | sed -n "s/.*job $id chunk 0: dispatch.* decode \([0-9.]*\) ms/\1/p" >> "$d/$m.dec"
        [ "$(decoded_by "$id")" = "${NAMES[i % n]}" ] || other=$((other + 1))
      done < "$d/$m.txt"
      f+=" $(pct "$d/$m.ms" 50) $(pct "$d/$m.ms" 95) $(mean "$d/$m.ms") $(pct "$d/$m.qs" 50) $(pct "$d/$m.dec" 50) $other"
    done
    local yields=
    for i in "${!LOGS[@]}"; do yields+="${NAMES[i]}:$(grep -c "yield job $low chunk" "${LOGS[i]}") "; done
    echo "$1$f $state $yields" >> "$W/ptt.txt"
    down
  }

  # ---- long ----
  long_run() { # SETUP ROUND
    local d=$W/long-${1/:/-}-$2 id t0 t1 state by='' i f
    up "$1" "$d"
    t0=$(date +%s%N)
    id=$(HARK_SERVER=${URLS[0]} "$HARK" submit "$W/long.wav")
    HARK_SERVER=${URLS[0]} timeout $((120 + LONG_S * 4)) "$HARK" wait -q "$id" > /dev/null || true
    t1=$(date +%s%N)
    state=$(curl -s "${URLS[0]}/v1/jobs/$id" | jq -r .state)
    for f in txt srt; do
      curl -s "${URLS[0]}/v1/jobs/$id/result?format=$f" > "$W/out/$2-${1/:/-}.$f"
    done
    for i in "${!LOGS[@]}"; do by+="${NAMES[i]}:$(grep -c "job $id chunk [0-9]*: dispatch" "${LOGS[i]}"),"; done
    echo "$1 $2 $(( (t1 - t0) / 1000000 )) $state ${by%,}" >> "$W/long.txt"
    down
  }

  if has ptt; then
    cp "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$W/clip.wav"
    sox $(for _ in $(seq 1 96); do echo "$DATA"/*.wav; done) "$W/low.wav"   # ~40 min
    : > "$W/ptt.txt"
    for s in $PTT_SETUPS; do ptt_setup "$s"; done
    echo "push-to-talk, a 3.0 s clip at realtime priority over HTTP; $TRIES tries each, idle and busy alternating"
    echo "(busy: a low job on every worker of every node; $(nproc) cores; PostgreSQL durable)"
    printf '%-11s %-5s %9s %9s %9s %16s %13s %11s\n' set-up mode "p50 ms" "p95 ms" "mean ms" \
      "queued->started" "clip decode" "other node"
    while read -r s i50 i95 im iq id io b50 b95 bm bq bd bo state yields; do
      printf '%-11s %-5s %9s %9s %9s %13s ms %10s ms %11s\n' "$s" idle "$i50" "$i95" "$im" "$iq" "$id" "$io/$TRIES"
      printf '%-11s %-5s %9s %9s %9s %13s ms %10s ms %11s\n' "$s" busy "$b50" "$b95" "$bm" "$bq" "$bd" "$bo/$TRIES"
      printf '%-11s ratio busy/idle: p50 %.3f  p95 %.3f  mean %.3f  (target <= 1.10); low job was %s, its yields by node %s\n' \
        "$s" "$(echo "$b50 / $i50" | bc -l)" "$(echo "$b95 / $i95" | bc -l)" "$(echo "$bm / $im" | bc -l)" "$state" "$yields"
    done < "$W/ptt.txt"
    echo "one node alone, in full (overhead, resume cost): bench/serve_latency.sh $HARK"
  fi

  if has long; then
    n=$(awk -v s="$LONG_S" 'BEGIN { printf "%d", s / 23 + 1 }')   # the clips last 23.7 s
    sox $(for _ in $(seq 1 "$n"); do echo "$DATA"/*.wav; done) "$W/long.wav" trim 0 "$LONG_S"
    mkdir -p "$W/out"
    : > "$W/long.txt"
    order=$LONG_SETUPS
    for r in $(seq 1 "$LONG_ROUNDS"); do
      for s in $order; do long_run "$s" "$r"; done
      order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
    done
    echo "one file of $(soxi -D "$W/long.wav") s, wall time from submit to succeeded (every worker ready), $LONG_ROUNDS rounds"
    printf '%-11s %s %9s %9s  %s\n' set-up "$(for r in $(seq 1 "$LONG_ROUNDS"); do printf '%9s ' "round $r"; done)" \
      mean "/ $LONG_REF" "chunks decoded by node (each round)"
    mref=$(awk -v s="$LONG_REF" '$1 == s { t += $3; n++ } END { if (n) printf "%.6f", t / n / 1000 }' "$W/long.txt")
    bad=0
    first=$(head -n 1 "$W/long.txt" | awk '{ print $2 "-" $1 }' | tr : -)
    for s in $LONG_SETUPS; do
      awk -v s="$s" '$1 == s { printf "%.2f\n", $3 / 1000 }' "$W/long.txt" > "$W/t"
      m=$(awk -v s="$s" '$1 == s { t += $3; n++ } END { printf "%.2f", t / n / 1000 }' "$W/long.txt")
      printf '%-11s %s %8ss %9s  %s\n' "$s" "$(while read -r t; do printf '%8ss ' "$t"; done < "$W/t")" "$m" \
        "$(awk -v s="$s" -v r="$mref" '$1 == s { t += $3; n++ } END { if (r) printf "%.3f", t / n / 1000 / r }' "$W/long.txt")" \
        "$(awk -v s="$s" '$1 == s { printf "%s ", $5 }' "$W/long.txt")"
      awk -v s="$s" '$1 == s && $4 != "succeeded" { exit 1 }' "$W/long.txt" || { echo "  (a job of $s did not succeed)"; bad=1; }
    done
    same=yes
    for o in "$W"/out/*.txt "$W"/out/*.srt; do
      cmp -s "$o" "$W/out/$first.${o##*.}" || { same=no; echo "  output differs: $(basename "$o") from $first.${o##*.}"; }
    done
    echo "outputs (txt, srt) of all $(wc -l < "$W/long.txt") runs byte-identical: $same ($(wc -l < "$W/out/$first.txt") lines of text)"
    [ $same = yes ] && [ $bad = 0 ] || exit 1
  fi
  exit 0
fi

W=$(mktemp -d /tmp/hark-bench-XXXXXX)
START=$(date +%s) rc=0
if [ -n "${KEEP:-}" ]; then trap 'echo "kept $W"' EXIT; else trap 'rm -rf "$W"' EXIT; fi
if has claims; then
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
fi
if has ptt || has long; then
  for x in "$HARK" "$PROBE"; do [ -x "$x" ] || { echo "no $x: make build first" >&2; exit 2; }; done
  CLUSTER_INNER=$W HARK_PG_DURABLE=1 bash tests/pg_fixture.sh bash bench/cluster.sh "$BUILD" || rc=$?
fi
echo "this run took $(( $(date +%s) - START )) s"
echo "reproduce: make build && bench/cluster.sh build   (PARTS=\"$PARTS\" TRIES=$TRIES LONG_S=$LONG_S LONG_ROUNDS=$LONG_ROUNDS)"
exit $rc
