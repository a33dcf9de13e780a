#!/usr/bin/env bash
# Slowloris against the real daemon: 1000 connections from 127.0.0.1 that
# trickle header lines and never finish them. The daemon keeps serving
# everyone else in normal time, holds no thread per idle connection, turns
# away what one address holds past its limit, and cuts tricklers at the
# header deadline (docs/operations.md, "Connections").
. "$(dirname "$0")/../lib.sh"
LORIS=$HARK_SOURCE_DIR/tests/tools/slowloris.py
N=$(scaled 1000 400)

threads_of() { ls "/proc/$1/task" | wc -l; }
port_of() { echo "${HARK_SERVER##*:}"; }
# served_in FROM URL: seconds a plain request from address FROM takes (999
# if it fails), as curl measures it.
served_in() {
  local t
  t=$(curl -s -o /dev/null -m 10 --interface "$1" -w '%{http_code} %{time_total}' "$2") || { echo 999; return; }
  [ "${t%% *}" = 200 ] && echo "${t#* }" || echo 999
}
# normal_client FROM: ten plain requests while the attack runs, each within
# 3 s (they take milliseconds; the bound only ends a failure).
normal_client() {
  local worst=0 t
  for _ in $(seq 1 10); do
    t=$(served_in "$1" "$HARK_SERVER/v1/jobs")
    le "$worst" "$t" && worst=$t
    sleep 0.2
  done
  echo "$worst"
}

# attack OUT FROM: 8 s of N tricklers from 127.0.0.1 against the running
# daemon (their figures to OUT), while a plain client asks from FROM; sets
# base and during (the daemon's threads before and 2.5 s in) and worst.
attack() {
  base=$(threads_of $SERVER_PID)
  /usr/bin/python3 "$LORIS" 127.0.0.1 "$(port_of)" "$N" 8 1 > "$1" &
  local loris=$!
  sleep 2.5
  during=$(threads_of $SERVER_PID)
  worst=$(normal_client "$2")
  wait $loris
  echo "attack: $(cat "$1"); daemon threads $base -> $during; $2 served in at most ${worst}s"
}

# ---- defaults: 256 connections per address, 15 s header deadline ----
start_server "$T/s"
attack "$T/loris1" 127.0.0.2
check "another address is served in normal time during the attack (${worst}s)" le "$worst" 3
check "the daemon holds no thread per connection ($base -> $during threads)" [ "$during" -le $((base + 2)) ]
check "one address holds at most its limit of 256 connections ($(jq .open_at_2s "$T/loris1"))" \
  [ "$(jq .open_at_2s "$T/loris1")" -le 256 ]
check "the rest were turned away at once" [ "$(jq ".closed_by_server + .refused" "$T/loris1")" -ge $((N - 256)) ]
stop_server; rc=$?
check "SIGTERM with trickling connections: exit 0 ($rc)" [ $rc -eq 0 ]

# ---- no per-address limit: every trickler is held, at no thread each ----
cat > "$T/nolimit.conf" <<EOF
max_connections_per_address = 0
header_timeout = 4
EOF
start_server "$T/s2" --config "$T/nolimit.conf"
attack "$T/loris2" 127.0.0.1
check "all $N tricklers held at once ($(jq .open_at_2s "$T/loris2"))" \
  [ "$(jq .open_at_2s "$T/loris2")" -ge $((N * 9 / 10)) ]
check "no thread per connection ($base -> $during threads)" [ "$during" -le $((base + 2)) ]
check "the same address is still served in normal time (${worst}s)" le "$worst" 3
check "the header deadline (4 s) cut every trickler before the 8 s attack ended" \
  [ "$(jq .held_to_the_end "$T/loris2")" -eq 0 ]
stop_server
finish
