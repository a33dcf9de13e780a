#!/usr/bin/env bash
# pg_fixture.sh CMD [ARGS...] - run CMD beside a PostgreSQL 15 server of its
# own: a new cluster in a temporary directory, reachable only through a Unix
# socket in that directory (no TCP port, so parallel runs never collide),
# with a database "hark". CMD sees
#   HARK_TEST_STORE   postgresql:///hark?host=DIR&user=postgres
#   HARK_PG_DIR       DIR (the socket directory; the cluster is DIR/data)
#   HARK_PG_BIN       the server's programs (pg_ctl, psql ...)
# The server is stopped and the directory removed on every way out, and
# the script exits with CMD's status.
#
# initdb refuses to run as root (CI runs as root): then the cluster belongs
# to the unprivileged `postgres` user (runuser); otherwise to the caller.
# fsync is off: the contract suite checks the store's logic, not the
# server's durability (HARK_PG_DURABLE=1 keeps it on).
set -euo pipefail

PG_BIN=${HARK_PG_BIN:-/usr/lib/postgresql/15/bin}
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
[ -x "$PG_BIN/initdb" ] || { echo "pg_fixture: no PostgreSQL 15 in $PG_BIN (scripts/install-deps.sh)" >&2; exit 2; }

D=$(mktemp -d /tmp/hark-pg-XXXXXX)
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$D"
  as_owner() { runuser -u postgres -- "$@"; }
fi

stop() {
  as_owner "$PG_BIN/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap stop EXIT
trap 'exit 130' INT TERM

if ! as_owner "$PG_BIN/initdb" -D "$D/data" -A trust -U postgres --no-sync -E UTF8 \
     >"$D/initdb.log" 2>&1; then
  cat "$D/initdb.log" >&2
  exit 2
fi
# HARK_PG_DURABLE=1 keeps the server's durable defaults (fsync,
# synchronous_commit): for benchmarks and crash tests.
opts="-k $D -c listen_addresses=''"
[ "${HARK_PG_DURABLE:-0}" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if ! as_owner "$PG_BIN/pg_ctl" -D "$D/data" -l "$D/pg.log" -w -o "$opts" start >/dev/null; then
  cat "$D/pg.log" >&2
  exit 2
fi
as_owner "$PG_BIN/createdb" -h "$D" -U postgres hark

export HARK_TEST_STORE="postgresql:///hark?host=$D&user=postgres"
export HARK_PG_DIR=$D HARK_PG_BIN=$PG_BIN
set +e
"$@"
rc=$?
set -e
exit $rc
