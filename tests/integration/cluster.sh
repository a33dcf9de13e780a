#!/usr/bin/env bash
# Several machines: three `hark serve` nodes (one worker each) on one
# PostgreSQL database and one shared directory. Run under
# tests/pg_fixture.sh (ctest integration.cluster), which starts the server
# and exports HARK_TEST_STORE; without it the test says so and passes.
#  - jobs submitted to node a are decoded by several nodes, byte-identical
#    to `hark transcribe`;
#  - an event stream opened on node a sees every event of a job the other
#    nodes decoded, in order, exactly once (they reach a through NOTIFY);
#  - a job running on node b paused through node a stops (no chunk
#    committed after its pause), and resumed through node c completes;
#  - a realtime clip submitted to node a while every worker of every node
#    is busy on low work: it succeeds while they run, and exactly one
#    worker in the cluster yielded for it;
#  - kill -9 of node b mid-chunk and as it commits: the others finish its
#    work after its lease expires, no chunk committed twice, outputs
#    byte-identical;
#  - an unreachable --store: a one-line error naming it, no password;
#  - PostgreSQL stopped and started again under load: a submit meanwhile
#    is answered 503 with a Retry-After, the nodes stay up, and after it
#    every job succeeds byte-identical, no chunk twice, no attempt counted;
#    a `hark submit` and a `hark show` made during the outage wait for it
#    and succeed;
#  - two nodes of one machine busy on low work: a realtime clip clears
#    both (exclusivity is the machine's), though the store asked one.
. "$(dirname "$0")/../lib.sh"
if [ -z "${HARK_TEST_STORE:-}" ]; then
  echo "skip: no PostgreSQL (run under tests/pg_fixture.sh)"; finish; exit
fi
PSQL=${HARK_PG_BIN:-/usr/lib/postgresql/15/bin}/psql
sql() { "$PSQL" -X -q -At "$HARK_TEST_STORE" -c "$1" 2>/dev/null; }
# One ~25 s file (3 chunks) for every job: three idle nodes take a chunk
# each, which is what is tested; longer files would only cost time.
sox "$DATA"/*.wav "$T/b.wav"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$T/b.wav"

SHARED=$T/shared
declare -A URL PID
# node NAME: start (or restart) node NAME; URL[NAME], PID[NAME].
node() {
  HARK_LOG=debug start_server "$T/$1" --workers 1 --lease 2 --store "$HARK_TEST_STORE" --machine "m-$1" \
    --shared-dir "$SHARED" --node "$1" || return 1
  URL[$1]=$HARK_SERVER PID[$1]=$SERVER_PID
}
on() { HARK_SERVER=${URL[$1]}; }
# same_output NAME ID: job ID's txt and srt are the reference's of NAME.
same_output() {
  curl -s "${URL[a]}/v1/jobs/$2/result?format=txt" > "$T/out.txt"
  curl -s "${URL[a]}/v1/jobs/$2/result?format=srt" > "$T/out.srt"
  cmp -s "$T/ref/$1.txt" "$T/out.txt" && cmp -s "$T/ref/$1.srt" "$T/out.srt"
}
# nodes_of ID: the nodes whose workers decoded chunks of job ID (their logs).
nodes_of() {
  for n in a b c; do grep -q "job $1 chunk [0-9]*: dispatch" "$T/$n.log" && echo "$n"; done
}
# Chunks of the job committed more than once.
twice() {
  sql "SELECT COUNT(*) FROM (SELECT job_id, data::jsonb->>'chunk' FROM events
       WHERE type = 'chunk_committed' GROUP BY 1, 2 HAVING COUNT(*) > 1) d"
}
# wait_leased_by NODE ID...: (bounded, 60 s) until NODE holds a lease of one
# of the jobs; that job's id goes to LEASED_JOB. Any of them: on a loaded
# machine the other nodes may take every chunk of the first job.
wait_leased_by() {
  local node=$1; shift
  local ids; ids=$(printf "'%s'," "$@"); ids=${ids%,}
  for _ in $(seq 1 1200); do
    LEASED_JOB=$(sql "SELECT job_id FROM tasks WHERE job_id IN ($ids)
                      AND state = 'leased' AND lease_node = '$node' LIMIT 1")
    [ -n "$LEASED_JOB" ] && return 0
    sleep 0.05
  done
  return 1
}
# wait_until SECS CMD...: (bounded) until CMD succeeds.
wait_until() {
  local n=$(( $1 * 20 )); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.05; done
  return 1
}
# ---- the cluster ----
mkdir -p "$SHARED"
for n in a b c; do
  check "node $n started" node $n
done
check "each node says who it is" \
  grep -q "^hark: node a (incarnation a-[0-9]*-[0-9a-f]*), store postgresql://" "$T/a.log"
curl -s "${URL[b]}/metrics" > "$T/metrics"
check "/metrics names the node" grep -q '^hark_node_info{node="b",incarnation="b-[0-9]*-[0-9a-f]*"} 1$' "$T/metrics"

# ---- jobs submitted to a, decoded by several nodes; SSE on a ----
on a
ja=$("$HARK" submit --priority low "$T/b.wav")
jb=$("$HARK" submit --priority low "$T/b.wav")
curl -sN --max-time 120 "${URL[a]}/v1/jobs/$jb/events" > "$T/sse" &
sse=$!
ok_all=yes
for j in "$ja:b" "$jb:b"; do
  "$HARK" wait "${j%%:*}" > /dev/null 2>&1 || ok_all=no
  same_output "${j##*:}" "${j%%:*}" || ok_all=no
done
check "jobs submitted to node a succeeded, byte-identical to hark transcribe" [ $ok_all = yes ]
check "their uploads were stored in the shared directory" \
  [ "$(sql "SELECT COUNT(*) FROM jobs WHERE id IN ('$ja', '$jb') AND input LIKE '$SHARED/uploads/%'")" = 2 ]
check "... not in node a's state directory" [ ! -e "$T/a/uploads" ]
ran=$( (nodes_of "$ja"; nodes_of "$jb") | sort -u | tr '\n' ' ')
check "their chunks were decoded by several nodes ($ran)" [ "$(echo $ran | wc -w)" -ge 2 ]
wait $sse
sed -n 's/^id: //p' "$T/sse" > "$T/sse.ids"
sql "SELECT id FROM events WHERE job_id = '$jb' ORDER BY id" > "$T/db.ids"
check "SSE on node a: every event of job b, in order, exactly once ($(wc -l < "$T/sse.ids") events)" \
  cmp -s "$T/sse.ids" "$T/db.ids"
check "... of which other nodes decoded some ($(nodes_of "$jb" | tr '\n' ' '))" \
  bash -c "[ -n \"\$(echo '$(nodes_of "$jb")' | grep -v '^a\$')\" ]"
check "... ending with succeeded" grep -q '^event: succeeded' "$T/sse"

# ---- a job running on b, paused through a, resumed through c ----
on a
jp=$("$HARK" submit --priority low "$T/b.wav")
check "pause: job running on node b" wait_leased_by b "$jp"
check "hark ls --json on node a says node b runs it" \
  bash -c "HARK_SERVER=${URL[a]} '$HARK' ls --json | jq -e '.[] | select(.id == \"$jp\") | .nodes | index(\"b\")' > /dev/null"
on a
t0=$(date +%s%N)
"$HARK" pause "$jp" > /dev/null
# Node b stops the chunk when a's commit wakes it (NOTIFY): its runtime
# says so. Without the wake it would only learn at its next heartbeat's
# refused renewal, and would not say this.
stop_ms=none
for _ in $(seq 1 300); do
  if grep -q "job $jp was paused or ended: stopping its task" "$T/b.log"; then
    stop_ms=$(( ($(date +%s%N) - t0) / 1000000 )); break
  fi
  sleep 0.01
done
check "node b stopped its chunk $stop_ms ms after the pause through a (woken, < 1000 ms)" \
  bash -c "[ $stop_ms != none ] && [ $stop_ms -lt 1000 ]"
check "paused through node a" wait_state "$jp" paused 10
sleep 1.5   # the stopped chunks would have committed by now
after=$(sql "SELECT COUNT(*) FROM events WHERE job_id = '$jp' AND type = 'chunk_committed'
             AND id > (SELECT MAX(id) FROM events WHERE job_id = '$jp' AND type = 'paused')")
check "no chunk committed after the pause" [ "$after" = 0 ]
check "no lease left on the paused job" \
  [ "$(sql "SELECT COUNT(*) FROM tasks WHERE job_id = '$jp' AND state = 'leased'")" = 0 ]
on c
"$HARK" resume "$jp" > /dev/null
check "resumed through node c, it completes" wait_state "$jp" succeeded 90
check "... byte-identical" same_output b "$jp"

# ---- a realtime clip while every worker of every node is busy ----
# Each node sees only its own worker busy; the store picks the one worker
# of the cluster that yields (the newest low lease), so exactly one does.
cp "$DATA"/*0880.wav "$T/clip.wav"
"$HARK" transcribe -q -o "$T/ref" -f txt,srt "$T/clip.wav"
on a
# One low job of three chunks keeps the three workers busy.
jl=$("$HARK" submit --priority low "$T/b.wav")
inlist="'$(echo $jl | sed "s/ /','/g")'"
busy_all() {
  [ "$(sql "SELECT COUNT(DISTINCT lease_node) FROM tasks WHERE state = 'leased'
            AND job_id IN ($inlist)")" = 3 ]
}
check "preempt: all three nodes busy on low work" wait_until 60 busy_all
yields() { cat "$T"/[abc].log | grep -c ": yield job .* for a " || true; }
before=$(yields)
jr=$("$HARK" submit --priority realtime "$T/clip.wav")
"$HARK" wait "$jr" > /dev/null 2>&1
check "preempt: the realtime clip submitted to node a succeeded" wait_state "$jr" succeeded 1
check "... byte-identical to hark transcribe" same_output clip "$jr"
check "... while the low job still ran" \
  [ "$(sql "SELECT COUNT(*) FROM jobs WHERE id IN ($inlist) AND state = 'succeeded'")" = 0 ]
n_yields=$(( $(yields) - before ))
[ $n_yields = 1 ] || grep -H "yield\|asked node\|task -\?[0-9]* (token" "$T"/[abc].log | tail -n 30
check "... and exactly one worker in the cluster yielded ($n_yields)" [ $n_yields = 1 ]
ok_all=yes
for j in $jl; do wait_state "$j" succeeded 120 && same_output b "$j" || ok_all=no; done
check "preempt: the low job completed byte-identical" [ $ok_all = yes ]

# ---- kill -9 of node b, at several points ----
#  chunk: while it decodes a chunk;
#  commit: as it commits a chunk (the result is in; the commit is in flight
#  or just done, the next claim may be under way).
for point in chunk commit; do
  # Every node's worker ready (b was restarted), so b takes its share.
  for n in a b c; do wait_until 60 curl -sf -o /dev/null "${URL[$n]}/readyz"; done
  on a
  jk=$(for _ in 1 2; do "$HARK" submit --priority low "$T/b.wav"; done | tr '\n' ' ')
  set -- $jk
  if [ $point = chunk ]; then
    LEASED_JOB=
    check "kill ($point): node b holds a lease" wait_leased_by b $jk
  else
    pat="job \($(echo $jk | sed 's/ /\\|/g')\) chunk [0-9]*: dispatch .* decode"
    b_result() { grep -q "$pat" "$T/b.log"; }
    check "kill ($point): node b has a chunk's result" wait_until 90 b_result
  fi
  kids=$(children_of ${PID[b]})
  kill -9 ${PID[b]}; wait ${PID[b]} 2>/dev/null
  check "kill ($point): its workers died with it" all_gone $kids
  ok_all=yes
  for j in $jk; do
    wait_state "$j" succeeded 120 || ok_all=no
    same_output b "$j" || ok_all=no
  done
  check "kill ($point): nodes a and c finished its jobs, byte-identical" [ $ok_all = yes ]
  check "kill ($point): no chunk committed twice" [ "$(twice)" = 0 ]
  [ $point = chunk ] && check "kill ($point): b's lease expired into a failed attempt, not lost" \
    [ "$(sql "SELECT COALESCE(SUM(attempts), 0) FROM tasks WHERE job_id = '$LEASED_JOB'")" -ge 1 ]
  [ $point = chunk ] && check "node b restarted" node b
done

# ---- node b back: its start-up sweep of the shared uploads ----
echo RIFF > "$SHARED/uploads/ffffffffffffffff.wav"   # another node's upload in flight
echo RIFF > "$SHARED/uploads/eeeeeeeeeeeeeeee.wav"   # a leftover of some kill -9
touch -d '2 hours ago' "$SHARED/uploads/eeeeeeeeeeeeeeee.wav"
check "node b restarted" node b
check "its sweep spared an upload no job names yet, written just now" \
  [ -e "$SHARED/uploads/ffffffffffffffff.wav" ]
check "... and removed an old leftover" [ ! -e "$SHARED/uploads/eeeeeeeeeeeeeeee.wav" ]

for n in a b c; do
  SERVER_PID=${PID[$n]}
  check "node $n stops cleanly" stop_server
done
check "no chunk committed twice in the whole run" [ "$(twice)" = 0 ]

# ---- an unreachable store ----
"$HARK" serve --listen 127.0.0.1:0 --state-dir "$T/x" \
  --store "postgresql://hark:s3cret@/hark?host=$T/nowhere" > "$T/x.out" 2>&1
rc=$?
check "unreachable store: serve exits non-zero ($rc)" [ $rc -ne 0 ]
check "... with one line" [ "$(wc -l < "$T/x.out")" = 1 ]
check "... naming the location" grep -q "cannot open store 'postgresql://hark@/hark?host=$T/nowhere'" "$T/x.out"
check "... without its password" bash -c "! grep -q s3cret '$T/x.out'"
# ---- PostgreSQL restarted under load ----
# Nodes a and c again (a 30 s lease, longer than the outage), a job's
# chunks running on both; PostgreSQL stops until a chunk finishes (a few
# seconds), and starts again. Meanwhile a submit is answered 503 with a
# Retry-After and the nodes stay up; after it, every job acknowledged
# before succeeds, byte-identical, with no chunk committed twice and no
# attempt counted, and a `hark submit` started during the outage gets its
# job in.
pgctl() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$HARK_PG_BIN/pg_ctl" "$@"
  else "$HARK_PG_BIN/pg_ctl" "$@"; fi
}
for n in a c; do
  HARK_LOG=debug start_server "$T/p$n" --workers 1 --lease 30 --store "$HARK_TEST_STORE" \
    --shared-dir "$SHARED" --node "$n" && URL[$n]=$HARK_SERVER PID[$n]=$SERVER_PID
  check "outage: node $n started" kill -0 "${PID[$n]}"
done
on a
jo1=$("$HARK" submit --priority low "$T/b.wav")
# both_leasing: (bounded, 60 s) until both nodes hold a lease of job jo1.
both_leasing() {
  for _ in $(seq 1 1200); do
    [ "$(sql "SELECT COUNT(DISTINCT lease_node) FROM tasks WHERE state = 'leased'
              AND job_id = '$jo1'")" = 2 ] 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
check "outage: nodes a and c both decode" both_leasing
# Nodes a and c name no --machine: both are this host's. A realtime clip
# (one chunk) sent to a: the store asks one worker to yield, and the
# other node of the machine clears its worker too (exclusivity is the
# machine's). Then both decode jo1 again.
yields_of() { grep -c "yield job $jo1 chunk" "$T/p$1.log"; }
ya=$(yields_of a) yc=$(yields_of c)
sox "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" \
  "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" "$T/clip6.wav"
jm=$("$HARK" submit --priority realtime "$T/clip6.wav")
check "machine: a realtime clip beside two busy nodes of one machine succeeded" \
  wait_state "$jm" succeeded 60
da=$(( $(yields_of a) - ya )) dc=$(( $(yields_of c) - yc ))
check "... and both nodes' workers yielded for it (a $da, c $dc)" [ $da -ge 1 -a $dc -ge 1 ]
check "machine: both decode again" both_leasing
pgctl -D "$HARK_PG_DIR/data" -m fast -w stop > /dev/null
curl -s -i -F "file=@$T/b.wav" "${URL[c]}/v1/jobs" > "$T/down.http"
check "outage: a submit is answered 503" grep -q '^HTTP/1.1 503' "$T/down.http"
check "... with a Retry-After" grep -qi '^Retry-After: [0-9]' "$T/down.http"
check "... store_unavailable, naming the store" \
  bash -c "sed -n '/^{/p' '$T/down.http' | jq -e '.error.code == \"store_unavailable\" and (.error.message | contains(\"host=$HARK_PG_DIR\"))' > /dev/null"
on c
# A 3 s clip: what is checked is that it gets in, not its decoding.
"$HARK" submit --priority low "$DATA/sense_and_sensibility_01_austen_64kb-0880.wav" \
  > "$T/late.id" 2> "$T/late.err" &
late=$!
"$HARK" show --json "$jo1" > "$T/late-show.json" 2> "$T/late-show.err" &
late_show=$!
for _ in $(seq 1 200); do grep -q 'trying again' "$T/late.err" && break; sleep 0.05; done
check "outage: hark submit waits for the store ($(head -c 200 "$T/late.err"))" grep -q 'store_unavailable\|unavailable' "$T/late.err"
check "outage: the nodes are alive" bash -c "kill -0 ${PID[a]} && kill -0 ${PID[c]} && \
  curl -sf '${URL[a]}/healthz' > /dev/null && curl -sf '${URL[c]}/healthz' > /dev/null"
# A chunk that ends meanwhile keeps its result until the store is back.
kept() { grep -q 'result kept until the store is back' "$T/pa.log" "$T/pc.log"; }
for _ in $(seq 1 600); do kept && break; sleep 0.05; done
check "outage: a chunk finished during it kept its result" kept
pgctl -D "$HARK_PG_DIR/data" -l "$HARK_PG_DIR/pg.log" -w \
  -o "-k $HARK_PG_DIR -c listen_addresses=''" start > /dev/null
wait $late
check "outage: hark submit started during it got its job in" \
  bash -c "[ \$(wc -w < '$T/late.id') = 1 ]"
wait $late_show; rc=$?
check "outage: hark show started during it waited and answered ($rc: $(head -c 120 "$T/late-show.err"))" \
  bash -c "[ $rc = 0 ] && jq -e '.id == \"$jo1\"' '$T/late-show.json' > /dev/null && grep -q 'trying again' '$T/late-show.err'"
jo3=$(cat "$T/late.id")
check "outage: the job acknowledged before it succeeded" wait_state "$jo1" succeeded 120
check "... byte-identical" same_output b "$jo1"
check "outage: the job submitted during it succeeded" wait_state "$jo3" succeeded 120
check "outage: no chunk committed twice" [ "$(twice)" = 0 ]
check "... the kept result was committed" grep -q 'kept result committed' "$T/pa.log" "$T/pc.log"
check "outage: no attempt counted against the jobs" \
  [ "$(sql "SELECT COALESCE(SUM(attempts), 0) FROM tasks WHERE job_id IN ('$jo1', '$jo3')")" = 0 ]
for n in a c; do
  SERVER_PID=${PID[$n]}
  check "outage: node $n stops cleanly" stop_server
done
finish
