/* pg_migrations.h - the PostgreSQL store's schema history (pg_migrations.c). */
#ifndef HARK_STORE_PG_MIGRATIONS_H
#define HARK_STORE_PG_MIGRATIONS_H

#include "store/pg_conn.h"

/* The version the migrations below reach. */
int pg_schema_version(void);

/* Bring the database of c to pg_schema_version(), each missing migration in
 * its own transaction under an advisory lock (two nodes opening at once
 * take turns: the second finds the work done). now_ms is recorded with
 * each. 0, HARK_EINVAL for a schema newer than this code (left untouched),
 * HARK_EIO. */
int pg_migrate(pg_conn *c, int64_t now_ms, hark_err *err);

#endif
