/* pg_conn.h - one libpq connection of the PostgreSQL store backend: connect
 * and reconnect, run a statement with typed parameters, read the result,
 * and say what failed. Only pg_store.c and pg_migrations.c include this.
 *
 * Every value reaches the server as a parameter (PQexecParams): the SQL
 * text is always one of our constants. Messages name the location with its
 * password stripped (pg_redact), then the cause: the first line of the
 * server's or libpq's message. */
#ifndef HARK_STORE_PG_CONN_H
#define HARK_STORE_PG_CONN_H

#include "util/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_conn {
    PGconn *db;
    char *where;      /* the location, password stripped: for messages */
    char sqlstate[6]; /* SQLSTATE of the last failed statement, "" if none */
    /* Reconnect backoff (pg_ensure): after a failed reset, no new attempt
     * before retry_at (monotonic ms); the wait doubles from
     * PG_RETRY_MIN_MS to PG_RETRY_MAX_MS, and is forgotten on success. */
    int64_t retry_at, retry_ms;
    char down[256]; /* why the last reset failed */
} pg_conn;

enum { PG_RETRY_MIN_MS = 250, PG_RETRY_MAX_MS = 5000 };

/* The connect timeout (seconds) used when neither the location nor
 * PGCONNECT_TIMEOUT sets one: a host that does not answer cannot hold a
 * call (and the handle's lock) for longer. */
#define PG_CONNECT_TIMEOUT_S "5"

/* Copy location into out (n bytes) without any password: the ":secret" of
 * a URI's user info, and every "password" parameter of a URI query or of
 * libpq's key=value form, as libpq's own parser reads them (the spelling
 * is kept when libpq finds no password left in it; otherwise the options
 * libpq parsed are rebuilt as key='value' pairs without it). A string
 * libpq cannot parse gives "(unparsable)". Always NUL-terminated
 * (truncated if it must). */
void pg_redact(const char *location, char *out, size_t n);

/* Connect to location (a libpq connection string of any form), with a
 * connect_timeout of PG_CONNECT_TIMEOUT_S unless the location or the
 * environment sets one. 0, or HARK_EIO / HARK_ENOMEM naming the redacted
 * location and the cause, with nothing left open. */
int pg_connect(pg_conn *c, const char *location, hark_err *err);
void pg_disconnect(pg_conn *c);

/* Before each call: a connection that was lost is reset once (PQreset);
 * 0 when it is usable, HARK_EUNAVAIL naming the location if not. After a
 * failed reset, calls fail at once with HARK_EUNAVAIL (no connect
 * attempt) until the backoff has passed: a server that is down is not
 * hammered, and callers (the runtime's loop, HTTP threads) never wait on
 * it for longer than one connect timeout. */
int pg_ensure(pg_conn *c, hark_err *err);

/* The code and message of a failure: r (may be NULL: the connection's own
 * message) while doing what. Out of memory is HARK_ENOMEM, a full disk
 * (SQLSTATE 53100) HARK_ENOSPC; a server that cannot be reached is
 * HARK_EUNAVAIL (the connection broke, SQLSTATE class 08, or 57P01-57P03:
 * shut down by its administrator, crashed, cannot connect now); anything
 * else HARK_EIO. */
int pg_error(pg_conn *c, const PGresult *r, const char *what, hark_err *err);

/* Run sql with the parameters described by types, one character per
 * parameter $1, $2 ...: 't' const char * (NULL binds NULL), 'i' int,
 * 'I' int64_t, 'd' double. At most 16. *out (may be NULL: the result is
 * dropped) gets the result of a statement that returns rows (release it
 * with PQclear); *changes (may be NULL) the rows it changed or returned.
 * 0 or an error (pg_error). */
int pg_q(pg_conn *c, PGresult **out, int *changes, hark_err *err, const char *sql,
         const char *types, ...);

/* Run a statement that yields one integer (first column of the first row):
 * *found (may be NULL) says whether there was a row; *out is 0 if not. */
int pg_q_int64(pg_conn *c, int64_t *out, bool *found, hark_err *err, const char *sql,
               const char *types, ...);

/* Run parameterless SQL text (several statements allowed: BEGIN; ...).
 * pg_plain_int64 also reads the integer the last statement yields. */
int pg_plain(pg_conn *c, const char *sql, hark_err *err);
int pg_plain_int64(pg_conn *c, const char *sql, int64_t *out, hark_err *err);

/* Result cells: NULL reads as 0, 0.0 and "". */
int64_t pg_i64(const PGresult *r, int row, int col);
int pg_int(const PGresult *r, int row, int col);
double pg_dbl(const PGresult *r, int row, int col);
bool pg_bool(const PGresult *r, int row, int col); /* 't' or a non-zero number */
const char *pg_str(const PGresult *r, int row, int col);
char *pg_dup(const PGresult *r, int row, int col); /* malloc'ed, NULL when out of memory */

/* Whether the last failure was one a retry may cure: a deadlock or a
 * serialization failure (SQLSTATE 40P01, 40001). */
bool pg_retryable(const pg_conn *c);

#endif
