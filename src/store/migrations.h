/* migrations.h - the SQLite store's schema history (migrations.c). */
#ifndef HARK_STORE_MIGRATIONS_H
#define HARK_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct store_migration {
    int version;      /* 1, 2, 3 ... in order; PRAGMA user_version after it runs */
    const char *name; /* one line, kept in schema_migrations */
    const char *sql;  /* statements run in one transaction */
} store_migration;

/* All migrations, oldest first; *n gets the count (= the latest version). */
const store_migration *store_migrations(size_t *n);

#endif
