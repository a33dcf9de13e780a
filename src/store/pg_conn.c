/* pg_conn.c - a libpq connection of the PostgreSQL store (pg_conn.h). */
#include "store/pg_conn.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- redaction --------------------------------------------------------------- */

/* Append s[0..len) to out (cap n) at *at, truncating. */
static void put(char *out, size_t n, size_t *at, const char *s, size_t len)
{
    while (len-- && *at + 1 < n)
        out[(*at)++] = *s++;
    out[*at < n ? *at : n - 1] = '\0';
}

/* libpq's keys are lower case; any spelling is dropped all the same (a
 * key libpq refuses is still the user's secret). */
static bool is_password_key(const char *k, size_t len)
{
    return len == 8 && strncasecmp(k, "password", 8) == 0;
}

/* postgresql://[user[:password]@][host][:port][/db][?k=v&...] */
static void redact_uri(const char *loc, char *out, size_t n)
{
    size_t at = 0;
    const char *p = strstr(loc, "://") + 3;
    put(out, n, &at, loc, (size_t)(p - loc));
    /* libpq looks for the user's credentials up to the first '/', past any
     * '?' ("postgresql://u:p?w@h" is user u, password "p?w"); the last '@'
     * before it ends them, so a password with a bare '@' in it goes too. */
    const char *auth_end = p + strcspn(p, "/");
    const char *atsign = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            atsign = q;
    if (atsign) {
        const char *colon = memchr(p, ':', (size_t)(atsign - p));
        put(out, n, &at, p, (size_t)((colon ? colon : atsign) - p));
        p = atsign;
    }
    const char *query = strchr(p, '?');
    if (!query) {
        put(out, n, &at, p, strlen(p));
        return;
    }
    put(out, n, &at, p, (size_t)(query - p));
    bool first = true;
    for (const char *q = query + 1; *q;) {
        size_t len = strcspn(q, "&");
        size_t klen = strcspn(q, "=&");
        if (!is_password_key(q, klen < len ? klen : len)) {
            put(out, n, &at, first ? "?" : "&", 1);
            put(out, n, &at, q, len);
            first = false;
        }
        q += len;
        if (*q == '&')
            q++;
    }
}

/* key = value pairs; a value may be 'quoted'; quoted or not, \ escapes
 * the next character (libpq's conninfo_parse: "pw\ x" is one value). */
static void redact_keywords(const char *loc, char *out, size_t n)
{
    size_t at = 0;
    const char *p = loc;
    put(out, n, &at, "", 0);
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - start);
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '=')
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else {
            for (; *p && !isspace((unsigned char)*p); p++)
                if (*p == '\\' && p[1])
                    p++;
        }
        if (!is_password_key(start, klen)) {
            /* One space where the input had some: a pair that followed a
             * closing quote directly stays joined (never longer). */
            if (at && start > loc && isspace((unsigned char)start[-1]))
                put(out, n, &at, " ", 1);
            put(out, n, &at, start, (size_t)(p - start));
        }
    }
}

/* libpq's password in loc ("" if none); *parsed: libpq could parse loc. */
static bool libpq_password(const char *loc, bool *parsed, PQconninfoOption **opts_out)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(loc, &errmsg);
    PQfreemem(errmsg);
    *parsed = opts != NULL;
    bool has = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        has |= strcmp(o->keyword, "password") == 0 && o->val && o->val[0];
    if (opts_out)
        *opts_out = opts;
    else
        PQconninfoFree(opts);
    return has;
}

/* The options libpq parsed, password left out, as key=value pairs (values
 * quoted when they must be). */
static void rebuild(const PQconninfoOption *opts, char *out, size_t n)
{
    size_t at = 0;
    put(out, n, &at, "", 0);
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || strcmp(o->keyword, "password") == 0)
            continue;
        if (at)
            put(out, n, &at, " ", 1);
        put(out, n, &at, o->keyword, strlen(o->keyword));
        put(out, n, &at, "='", 2);
        for (const char *v = o->val; *v; v++) {
            if (*v == '\\' || *v == '\'')
                put(out, n, &at, "\\", 1);
            put(out, n, &at, v, 1);
        }
        put(out, n, &at, "'", 1);
    }
}

void pg_redact(const char *location, char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    /* libpq's parser is the judge of what the password is. The text is
     * kept as the user spelled it, less what looks like a password; if
     * libpq still finds one in that (a spelling the scan above reads
     * differently from libpq), the options libpq parsed are shown instead,
     * rebuilt without it; a string libpq cannot parse is not shown at all
     * (it is never connected to, and any of it might be a secret). */
    bool parsed = false;
    PQconninfoOption *opts = NULL;
    bool secret = libpq_password(location, &parsed, &opts);
    if (!parsed) {
        size_t at = 0;
        put(out, n, &at, "(unparsable)", 12);
        return;
    }
    char *text = malloc(strlen(location) + 1);
    if (text) {
        if (strncmp(location, "postgresql://", 13) == 0 ||
            strncmp(location, "postgres://", 11) == 0)
            redact_uri(location, text, strlen(location) + 1);
        else
            redact_keywords(location, text, strlen(location) + 1);
    }
    bool text_ok = false;
    if (text && secret) {
        bool text_parsed = false;
        text_ok = !libpq_password(text, &text_parsed, NULL) && text_parsed;
    } else if (text) {
        text_ok = true; /* nothing secret to leave out */
    }
    if (text_ok) {
        size_t at = 0;
        put(out, n, &at, text, strlen(text));
    } else {
        rebuild(opts, out, n);
    }
    free(text);
    PQconninfoFree(opts);
}

/* ---- connection ----------------------------------------------------------------- */

/* The first line of a libpq or server message, without "ERROR:  ". */
static void first_line(const char *msg, char *out, size_t n)
{
    if (!msg || !msg[0])
        msg = "unknown error";
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    size_t len = strcspn(msg, "\n");
    snprintf(out, n, "%.*s", (int)len, msg);
}

/* The server's NOTICEs ("relation exists, skipping") are not hark's to
 * print: libpq would write them to stderr. Kept across PQreset. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_connect(pg_conn *c, const char *location, hark_err *err)
{
    char where[1024];
    memset(c, 0, sizeof *c);
    pg_redact(location, where, sizeof where);
    if (!(c->where = strdup(where)))
        return err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", where);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(location, &perr);
    PQconninfoFree(opts);
    if (!opts) {
        /* libpq's parse error may quote part of the string: not shown. */
        PQfreemem(perr);
        int rc = err_set(err, HARK_EINVAL,
                         "cannot open store: not a connection string libpq accepts (a URI "
                         "postgresql://[user@][host][:port][/db][?param=value&...] or "
                         "key=value pairs)");
        pg_disconnect(c);
        return rc;
    }
    PQfreemem(perr);
    /* Keywords are applied in order, the last one wins: the location's
     * own connect_timeout overrides this default; an empty value defers to
     * PGCONNECT_TIMEOUT. */
    const char *env = getenv("PGCONNECT_TIMEOUT");
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {env && env[0] ? "" : PG_CONNECT_TIMEOUT_S, location, NULL};
    c->db = PQconnectdbParams(keys, vals, 1);
    if (!c->db) {
        int rc = err_set(err, HARK_ENOMEM, "cannot open store '%s': out of memory", where);
        pg_disconnect(c);
        return rc;
    }
    if (PQstatus(c->db) != CONNECTION_OK) {
        char cause[512];
        first_line(PQerrorMessage(c->db), cause, sizeof cause);
        int rc = err_set(err, HARK_EIO, "cannot open store '%s': %s", where, cause);
        pg_disconnect(c);
        return rc;
    }
    PQsetNoticeProcessor(c->db, quiet, NULL);
    return 0;
}

void pg_disconnect(pg_conn *c)
{
    if (c->db)
        PQfinish(c->db);
    free(c->where);
    memset(c, 0, sizeof *c);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int pg_ensure(pg_conn *c, hark_err *err)
{
    if (PQstatus(c->db) == CONNECTION_OK) {
        /* Every call ends its transaction; one left open (a COMMIT whose
         * answer was lost) must not swallow the next call. */
        if (PQtransactionStatus(c->db) != PQTRANS_IDLE)
            pg_plain(c, "ROLLBACK", NULL);
        return 0;
    }
    int64_t now = mono_ms();
    if (c->retry_ms && now < c->retry_at)
        return err_set(err, HARK_EUNAVAIL, "store '%s' is unavailable: %s", c->where, c->down);
    PQreset(c->db);
    if (PQstatus(c->db) == CONNECTION_OK) {
        c->retry_ms = 0;
        return 0;
    }
    first_line(PQerrorMessage(c->db), c->down, sizeof c->down);
    c->retry_ms = !c->retry_ms                        ? PG_RETRY_MIN_MS
                  : c->retry_ms * 2 > PG_RETRY_MAX_MS ? PG_RETRY_MAX_MS
                                                      : c->retry_ms * 2;
    c->retry_at = mono_ms() + c->retry_ms;
    return err_set(err, HARK_EUNAVAIL, "store '%s' is unavailable: %s", c->where, c->down);
}

/* The server cannot be reached: the connection broke, or SQLSTATE class 08
 * (connection exception) or 57P01-57P03 (admin shutdown, crash shutdown,
 * cannot connect now). */
static bool unreachable(const pg_conn *c)
{
    return PQstatus(c->db) != CONNECTION_OK || strncmp(c->sqlstate, "08", 2) == 0 ||
           strcmp(c->sqlstate, "57P01") == 0 || strcmp(c->sqlstate, "57P02") == 0 ||
           strcmp(c->sqlstate, "57P03") == 0;
}

int pg_error(pg_conn *c, const PGresult *r, const char *what, hark_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    char cause[512];
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    first_line(msg && msg[0] ? msg : PQerrorMessage(c->db), cause, sizeof cause);
    if (unreachable(c))
        return err_set(err, HARK_EUNAVAIL, "store '%s' is unavailable: %s: %s", c->where, what,
                       cause);
    int code = strcmp(c->sqlstate, "53200") == 0   ? HARK_ENOMEM
               : strcmp(c->sqlstate, "53100") == 0 ? HARK_ENOSPC
                                                   : HARK_EIO;
    return err_set(err, code, "store '%s': %s: %s", c->where, what, cause);
}

bool pg_retryable(const pg_conn *c)
{
    return strcmp(c->sqlstate, "40P01") == 0 || strcmp(c->sqlstate, "40001") == 0;
}

/* ---- statements ----------------------------------------------------------------- */

enum { MAX_PARAMS = 16 };

static int vq(pg_conn *c, PGresult **out, int *changes, hark_err *err, const char *sql,
              const char *types, va_list ap)
{
    char num[MAX_PARAMS][32];
    const char *values[MAX_PARAMS];
    Oid oids[MAX_PARAMS];
    int n = 0;
    if (out)
        *out = NULL;
    c->sqlstate[0] = '\0';
    for (; types[n]; n++) {
        if (n == MAX_PARAMS)
            return err_set(err, HARK_EINVAL, "store '%s': too many parameters", c->where);
        switch (types[n]) {
        case 't':
            values[n] = va_arg(ap, const char *);
            oids[n] = 25; /* text */
            break;
        case 'i':
            snprintf(num[n], sizeof num[n], "%d", va_arg(ap, int));
            values[n] = num[n];
            oids[n] = 23; /* int4 */
            break;
        case 'I':
            snprintf(num[n], sizeof num[n], "%" PRId64, va_arg(ap, int64_t));
            values[n] = num[n];
            oids[n] = 20; /* int8 */
            break;
        case 'd':
            snprintf(num[n], sizeof num[n], "%.17g", va_arg(ap, double));
            values[n] = num[n];
            oids[n] = 701; /* float8 */
            break;
        default:
            return err_set(err, HARK_EINVAL, "store '%s': bad parameter type '%c'", c->where,
                           types[n]);
        }
    }
    PGresult *r = PQexecParams(c->db, sql, n, oids, values, NULL, NULL, 0);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        int rc = !r ? err_set(err, HARK_ENOMEM, "store '%s': out of memory", c->where)
                    : pg_error(c, r, "query", err);
        PQclear(r);
        return rc;
    }
    if (changes) {
        const char *t = PQcmdTuples(r);
        *changes = s == PGRES_TUPLES_OK && !(t && t[0]) ? PQntuples(r)
                                                        : (t ? (int)strtol(t, NULL, 10) : 0);
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

int pg_q(pg_conn *c, PGresult **out, int *changes, hark_err *err, const char *sql,
         const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = vq(c, out, changes, err, sql, types, ap);
    va_end(ap);
    return rc;
}

int pg_q_int64(pg_conn *c, int64_t *out, bool *found, hark_err *err, const char *sql,
               const char *types, ...)
{
    PGresult *r = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = vq(c, &r, NULL, err, sql, types, ap);
    va_end(ap);
    *out = 0;
    if (found)
        *found = false;
    if (rc == 0 && PQntuples(r) > 0) {
        *out = pg_i64(r, 0, 0);
        if (found)
            *found = true;
    }
    PQclear(r);
    return rc;
}

int pg_plain_int64(pg_conn *c, const char *sql, int64_t *out, hark_err *err)
{
    c->sqlstate[0] = '\0';
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
        rc = !r ? err_set(err, HARK_ENOMEM, "store '%s': out of memory", c->where)
                : pg_error(c, r, "statement", err);
    else if (out)
        *out = s == PGRES_TUPLES_OK && PQntuples(r) > 0 ? pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

int pg_plain(pg_conn *c, const char *sql, hark_err *err)
{
    return pg_plain_int64(c, sql, NULL, err);
}

/* ---- cells ------------------------------------------------------------------------ */

int64_t pg_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_int(const PGresult *r, int row, int col)
{
    return (int)pg_i64(r, row, col);
}

double pg_dbl(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0.0 : strtod(PQgetvalue(r, row, col), NULL);
}

bool pg_bool(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return false;
    const char *v = PQgetvalue(r, row, col);
    return v[0] == 't' || (v[0] != 'f' && strtoll(v, NULL, 10) != 0);
}

const char *pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

char *pg_dup(const PGresult *r, int row, int col)
{
    return strdup(pg_str(r, row, col));
}
