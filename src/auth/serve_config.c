/* serve_config.c - see serve_config.h; the format is docs/config.md.
 *
 * One pass over the lines; each is checked as text (length, NUL, control
 * characters, UTF-8) before it is interpreted, so everything after that
 * works on a clean NUL-terminated copy. A [token] section is appended when
 * its header is read and checked for a secret when the next header or the
 * end of the file closes it. On any error the config is released: a caller
 * never sees half a file.
 */
#include "auth/serve_config.h"

#include "auth/quote.h"
#include "net/dest.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(STORE_PRIO_REALTIME == 0 && STORE_PRIO_LOW == SERVE_CONFIG_N_PRIOS - 1,
               "queue_limit is indexed by enum store_priority");

enum key_id {
    KEY_LISTEN,
    KEY_STATE_DIR,
    KEY_WORKERS,
    KEY_MAX_UPLOAD,
    KEY_MAX_BODY,
    KEY_TIMEOUT,
    KEY_MAX_DURATION,
    KEY_ROOT,
    KEY_QUEUE_LIMIT, /* + enum store_priority */
    KEY_LOG_FORMAT = KEY_QUEUE_LIMIT + SERVE_CONFIG_N_PRIOS,
    KEY_WEBHOOK_SECRET,
    KEY_URL_MAX_BYTES,
    KEY_URL_TIMEOUT,
    KEY_CORS_ORIGIN,
    KEY_ALLOWED_HOST,
    KEY_MAX_CONNECTIONS,
    KEY_MAX_CONNECTIONS_PER_ADDRESS,
    KEY_HEADER_TIMEOUT,
    KEY_BODY_MIN_RATE,
    KEY_URL_ALLOW,
    KEY_KEEP_INPUTS,
    KEY_JOB_RETENTION,
    KEY_LIVE_IDLE_TIMEOUT,
    KEY_STORE,
    KEY_SHARED_DIR,
    KEY_NODE,
    KEY_MACHINE,
    N_KEYS
};

static const char *const key_names[N_KEYS] = {
    [KEY_LISTEN] = "listen",
    [KEY_STATE_DIR] = "state_dir",
    [KEY_WORKERS] = "workers",
    [KEY_MAX_UPLOAD] = "max_upload",
    [KEY_MAX_BODY] = "max_body",
    [KEY_TIMEOUT] = "timeout",
    [KEY_MAX_DURATION] = "max_duration",
    [KEY_ROOT] = "root",
    [KEY_QUEUE_LIMIT + STORE_PRIO_REALTIME] = "queue_limit.realtime",
    [KEY_QUEUE_LIMIT + STORE_PRIO_HIGH] = "queue_limit.high",
    [KEY_QUEUE_LIMIT + STORE_PRIO_NORMAL] = "queue_limit.normal",
    [KEY_QUEUE_LIMIT + STORE_PRIO_LOW] = "queue_limit.low",
    [KEY_LOG_FORMAT] = "log_format",
    [KEY_WEBHOOK_SECRET] = "webhook_secret",
    [KEY_URL_MAX_BYTES] = "url_max_bytes",
    [KEY_URL_TIMEOUT] = "url_timeout",
    [KEY_CORS_ORIGIN] = "cors_origin",
    [KEY_ALLOWED_HOST] = "allowed_host",
    [KEY_MAX_CONNECTIONS] = "max_connections",
    [KEY_MAX_CONNECTIONS_PER_ADDRESS] = "max_connections_per_address",
    [KEY_HEADER_TIMEOUT] = "header_timeout",
    [KEY_BODY_MIN_RATE] = "body_min_rate",
    [KEY_URL_ALLOW] = "url_allow",
    [KEY_KEEP_INPUTS] = "keep_inputs",
    [KEY_JOB_RETENTION] = "job_retention",
    [KEY_LIVE_IDLE_TIMEOUT] = "live_idle_timeout",
    [KEY_STORE] = "store",
    [KEY_SHARED_DIR] = "shared_dir",
    [KEY_NODE] = "node",
    [KEY_MACHINE] = "machine",
};

/* Keys that may be given more than once: each adds a value. */
static bool key_repeats(int id)
{
    return id == KEY_ROOT || id == KEY_CORS_ORIGIN || id == KEY_ALLOWED_HOST || id == KEY_URL_ALLOW;
}

#define PRIO_CHOICES "realtime, high, normal, low"
#define NAME_RULE "1 to 64 of A-Z a-z 0-9 . _ -"
#define SHOW_SIZE 64 /* a value quoted in a message: at most 60 bytes */

typedef struct parser {
    const char *name; /* display name of the file */
    int line;         /* 1-based number of the line being read */
    serve_config *cfg;
    hark_err *err;
    int seen[N_KEYS]; /* line a scalar key was set on, 0 if not yet */
    long open;        /* index of the open [token] section's token, -1 at top level */
    int secret_line, prio_line, admin_line; /* where the open section set them, 0 if not yet */
} parser;

/* ---- small helpers ---------------------------------------------------- */

#define SHOW(s, buf) auth_quote((s), strlen(s), (buf), sizeof(buf))

/* err = "NAME:LINE: cause"; returns HARK_EINVAL. */
static int fail_at(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, int line, const char *fmt, ...)
{
    char cause[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    return err_set(p->err, HARK_EINVAL, "%.100s:%d: %s", p->name, line, cause);
}

#define FAIL(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static int nomem(hark_err *err)
{
    return err_set(err, HARK_ENOMEM, "out of memory reading the configuration");
}

/* Free a string that may hold a secret, wiping it first. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void token_free(serve_token *t)
{
    free(t->name);
    free_secret(t->secret);
    memset(t, 0, sizeof *t);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Strip blanks at both ends, in place. */
static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * it is not one: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* A line is text: no NUL, no control character but tab, valid UTF-8. */
static int check_text(parser *p, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (memchr(s, '\0', n))
        return FAIL(p, "NUL byte");
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
                return FAIL(p, "control character 0x%02x", u[i]);
            i++;
            continue;
        }
        size_t len = utf8_seq(u + i, n - i);
        if (!len)
            return FAIL(p, "invalid UTF-8");
        i += len;
    }
    return 0;
}

static bool valid_token_name(const char *s, size_t n)
{
    if (n < 1 || n > SERVE_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Why the n bytes at s cannot be a token secret, NULL if they can. A secret
 * travels in an Authorization header, so it is visible ASCII without
 * spaces; anything else could never be presented. */
static const char *secret_problem(const char *s, size_t n)
{
    if (n < SERVE_TOKEN_SECRET_MIN)
        return "too short (at least 16 characters)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return "only visible ASCII characters, no spaces (it is sent in an HTTP header)";
    return NULL;
}

/* Where token t was defined, for messages: "hark.conf:3" or "HARK_TOKENS entry 2". */
static void token_where(const serve_config *cfg, const serve_token *t, char *out, size_t n)
{
    if (t->from_env)
        snprintf(out, n, "HARK_TOKENS entry %d", t->where);
    else
        snprintf(out, n, "%.100s:%d", cfg->source ? cfg->source : "config", t->where);
}

static const serve_token *find_token_name(const serve_config *cfg, const char *name, size_t n,
                                          size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        if (strlen(cfg->tokens[i].name) == n && memcmp(cfg->tokens[i].name, name, n) == 0)
            return &cfg->tokens[i];
    return NULL;
}

/* Load-time only: an ordinary comparison is fine here (tokens.c does the
 * request-time one in constant time). */
static const serve_token *find_token_secret(const serve_config *cfg, const char *secret, size_t n,
                                            size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        const char *s = cfg->tokens[i].secret;
        if (s && strlen(s) == n && memcmp(s, secret, n) == 0)
            return &cfg->tokens[i];
    }
    return NULL;
}

/* Append a token named name (n bytes); *out points at it. */
static int append_token(serve_config *cfg, const char *name, size_t n, serve_token **out)
{
    serve_token *v = realloc(cfg->tokens, (cfg->n_tokens + 1) * sizeof *v); /* a handful */
    if (!v)
        return HARK_ENOMEM;
    cfg->tokens = v;
    serve_token *t = &cfg->tokens[cfg->n_tokens];
    memset(t, 0, sizeof *t);
    t->name = strndup(name, n);
    if (!t->name)
        return HARK_ENOMEM;
    t->max_priority = STORE_PRIO_NORMAL;
    cfg->n_tokens++;
    *out = t;
    return 0;
}

/* ---- values ------------------------------------------------------------ */

/* Leading decimal digits of s (no sign, no blanks) as *out; *end after
 * them. 0, -1 when s does not start with a digit, -2 past INT64_MAX. */
static int parse_digits(const char *s, char **end, int64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, end, 10);
    if (errno == ERANGE)
        return -2;
    *out = v;
    return 0;
}

static int set_int(parser *p, const char *key, const char *v, int64_t min, int64_t max, int *dst)
{
    char show[SHOW_SIZE];
    char *end = NULL;
    int64_t x = 0;
    int r = parse_digits(v, &end, &x);
    if (r == -1 || (r == 0 && *end))
        return FAIL(p, "%s: \"%s\" is not a whole number", key, SHOW(v, show));
    if (r == -2 || x < min || x > max)
        return FAIL(p, "%s: %s is out of range (%lld to %lld)", key, SHOW(v, show), (long long)min,
                    (long long)max);
    *dst = (int)x;
    return 0;
}

/* Bytes: digits with an optional K, M or G (powers of 1024), at least 1. */
static int set_bytes(parser *p, const char *key, const char *v, int64_t *dst)
{
    char show[SHOW_SIZE];
    char *end = NULL;
    int64_t x = 0, mult = 1;
    int r = parse_digits(v, &end, &x);
    if (r == 0) {
        switch (*end) {
        case 'K':
        case 'k':
            mult = 1ll << 10, end++;
            break;
        case 'M':
        case 'm':
            mult = 1ll << 20, end++;
            break;
        case 'G':
        case 'g':
            mult = 1ll << 30, end++;
            break;
        }
    }
    if (r == -1 || (r == 0 && *end))
        return FAIL(p, "%s: \"%s\" is not a size (a number of bytes, optionally with K, M or G)",
                    key, SHOW(v, show));
    if (r == -2 || x > INT64_MAX / mult)
        return FAIL(p, "%s: %s is too large", key, SHOW(v, show));
    if (x < 1)
        return FAIL(p, "%s: must be at least 1 byte", key);
    *dst = x * mult;
    return 0;
}

/* The length of the DIGITS or DIGITS.DIGITS that v starts with, 0 if it
 * does not start with one. */
static size_t decimal_length(const char *v)
{
    const char *digits = "0123456789";
    size_t i = strspn(v, digits);
    if (i == 0 || v[i] != '.')
        return i;
    size_t f = strspn(v + i + 1, digits);
    return f > 0 ? i + 1 + f : 0;
}

/* Seconds: DIGITS or DIGITS.DIGITS (no sign, exponent, inf or nan), so
 * strtod's only job is the conversion. It honours LC_NUMERIC; hark never
 * calls setlocale, and in a locale with a decimal comma the check below
 * would refuse "0.5" rather than misread it. */
static int set_seconds(parser *p, const char *key, const char *v, bool zero_ok, double *dst)
{
    char show[SHOW_SIZE];
    size_t i = decimal_length(v);
    bool ok = i > 0;
    if (!ok || v[i])
        return FAIL(p, "%s: \"%s\" is not a number of seconds", key, SHOW(v, show));
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !isfinite(x) || x > SERVE_CONFIG_MAX_SECONDS)
        return FAIL(p, "%s: %s is out of range (at most %.0f seconds)", key, SHOW(v, show),
                    SERVE_CONFIG_MAX_SECONDS);
    if (!zero_ok && x <= 0)
        return FAIL(p, "%s: must be more than 0 seconds", key);
    *dst = x;
    return 0;
}

/* A duration: DIGITS or DIGITS.DIGITS (as seconds above), then nothing or
 * one unit, s, m, h or d (lower case): "30d", "12h", "1.5h", "45". The
 * number and its unit are read separately, so set_seconds' rules (and its
 * range, in seconds) hold for the product. */
static int set_duration(parser *p, const char *key, const char *v, double *dst)
{
    char show[SHOW_SIZE];
    size_t i = decimal_length(v);
    bool ok = i > 0;
    double unit = 1;
    if (ok && v[i]) {
        unit = v[i] == 's' ? 1 : v[i] == 'm' ? 60 : v[i] == 'h' ? 3600 : v[i] == 'd' ? 86400 : 0;
        ok = unit > 0 && !v[i + 1];
    }
    if (!ok)
        return FAIL(p,
                    "%s: \"%s\" is not a duration (seconds, or a number with s, m, h or d, as "
                    "in 30d)",
                    key, SHOW(v, show));
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end) * unit;
    if (errno || end != v + i || !isfinite(x) || x > SERVE_CONFIG_MAX_SECONDS)
        return FAIL(p, "%s: %s is out of range (at most %.0f seconds)", key, SHOW(v, show),
                    SERVE_CONFIG_MAX_SECONDS);
    *dst = x;
    return 0;
}

/* HOST:PORT in shape only (which hosts may be bound is the server's call):
 * HOST a name or IPv4 address, or an IPv6 address in brackets; PORT 0..65535. */
static const char *listen_problem(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return "expected HOST:PORT";
    const char *port = colon + 1;
    size_t pl = strlen(port);
    if (pl < 1 || pl > 5 || strspn(port, "0123456789") != pl || strtol(port, NULL, 10) > 65535)
        return "the port must be 0 to 65535";
    size_t hl = (size_t)(colon - v);
    if (v[0] == '[') {
        if (hl < 3 || v[hl - 1] != ']' || strspn(v + 1, "0123456789abcdefABCDEF:.") != hl - 2)
            return "expected [IPV6]:PORT";
        return NULL;
    }
    if (hl > 253)
        return "the host name is too long";
    size_t ok = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
    if (ok != hl)
        return memchr(v, ':', hl) ? "an IPv6 address goes in brackets, as in [::1]:8090"
                                  : "the host must be a name or an IP address";
    return NULL;
}

static int set_string(parser *p, char **dst, const char *v)
{
    *dst = strdup(v);
    return *dst ? 0 : nomem(p->err);
}

static int add_root(parser *p, const char *v)
{
    char show[SHOW_SIZE];
    serve_config *cfg = p->cfg;
    if (v[0] != '/')
        return FAIL(p, "root: \"%s\" is not an absolute path", SHOW(v, show));
    char **roots = realloc(cfg->roots, (cfg->n_roots + 1) * sizeof *roots);
    if (!roots)
        return nomem(p->err);
    cfg->roots = roots;
    if (!(roots[cfg->n_roots] = strdup(v)))
        return nomem(p->err);
    cfg->n_roots++;
    return 0;
}

/* Append a copy of v to a list of strings. */
static int add_string(parser *p, char ***list, size_t *n, const char *v)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return nomem(p->err);
    *list = l;
    if (!(l[*n] = strdup(v)))
        return nomem(p->err);
    (*n)++;
    return 0;
}

/* cors_origin: "*" or scheme://host[:port] (the server checks it further). */
static int add_cors_origin(parser *p, const char *v)
{
    char show[SHOW_SIZE];
    if (strcmp(v, "*") != 0 && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return FAIL(p, "cors_origin: \"%s\" is not * or an http(s) origin", SHOW(v, show));
    return add_string(p, &p->cfg->cors_origins, &p->cfg->n_cors_origins, v);
}

/* HOST[:PORT] whose URLs may reach private addresses (net/dest.h). Kept
 * as written; the daemon parses it again into its allow list. */
static int add_url_allow(parser *p, const char *v)
{
    char show[SHOW_SIZE];
    serve_config *cfg = p->cfg;
    net_allow a;
    hark_err why = {0};
    if (net_allow_parse(v, &a, &why))
        return FAIL(p, "url_allow: \"%s\": %s", SHOW(v, show), why.msg);
    return add_string(p, &cfg->url_allow, &cfg->n_url_allow, v);
}

/* ---- lines ------------------------------------------------------------- */

static int find_key(const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(key, key_names[i]) == 0)
            return i;
    return -1;
}

static int set_key(parser *p, const char *key, const char *v)
{
    char show[SHOW_SIZE];
    serve_config *cfg = p->cfg;
    int id = find_key(key);
    if (id < 0) {
        if (strcmp(key, "secret") == 0 || strcmp(key, "max_priority") == 0 ||
            strcmp(key, "admin") == 0)
            return FAIL(p, "%s: only allowed in a [token NAME] section", key);
        return FAIL(p, "unknown key \"%s\"", SHOW(key, show));
    }
    if (!*v)
        return FAIL(p, "%s: no value", key);
    if (!key_repeats(id) && p->seen[id])
        return FAIL(p, "duplicate key \"%s\" (first set on line %d)", key, p->seen[id]);
    p->seen[id] = p->line;

    const char *why;
    switch (id) {
    case KEY_LISTEN:
        if ((why = listen_problem(v)))
            return FAIL(p, "listen: \"%s\": %s", SHOW(v, show), why);
        return set_string(p, &cfg->listen, v);
    case KEY_STATE_DIR:
        return set_string(p, &cfg->state_dir, v);
    case KEY_STORE:
        return set_string(p, &cfg->store, v);
    case KEY_SHARED_DIR:
        return set_string(p, &cfg->shared_dir, v);
    case KEY_NODE:
        if (!valid_token_name(v, strlen(v)))
            return FAIL(p, "node: bad name \"%s\" (" NAME_RULE ")", SHOW(v, show));
        return set_string(p, &cfg->node, v);
    case KEY_MACHINE:
        if (!valid_token_name(v, strlen(v)))
            return FAIL(p, "machine: bad name \"%s\" (" NAME_RULE ")", SHOW(v, show));
        return set_string(p, &cfg->machine, v);
    case KEY_WORKERS:
        return set_int(p, key, v, 1, SERVE_CONFIG_MAX_WORKERS, &cfg->workers);
    case KEY_MAX_UPLOAD:
        return set_bytes(p, key, v, &cfg->max_upload);
    case KEY_MAX_BODY:
        return set_bytes(p, key, v, &cfg->max_body);
    case KEY_URL_MAX_BYTES:
        return set_bytes(p, key, v, &cfg->url_max_bytes);
    case KEY_TIMEOUT:
        return set_seconds(p, key, v, true, &cfg->timeout_s);
    case KEY_MAX_DURATION:
        return set_seconds(p, key, v, false, &cfg->max_duration_s);
    case KEY_URL_TIMEOUT:
        return set_seconds(p, key, v, false, &cfg->url_timeout_s);
    case KEY_ROOT:
        return add_root(p, v);
    case KEY_CORS_ORIGIN:
        return add_cors_origin(p, v);
    case KEY_ALLOWED_HOST:
        return add_string(p, &cfg->allowed_hosts, &cfg->n_allowed_hosts, v);
    case KEY_MAX_CONNECTIONS:
        return set_int(p, key, v, 1, 1000000, &cfg->max_connections);
    case KEY_MAX_CONNECTIONS_PER_ADDRESS:
        return set_int(p, key, v, 0, 1000000, &cfg->max_connections_per_address);
    case KEY_HEADER_TIMEOUT:
        return set_seconds(p, key, v, false, &cfg->header_timeout_s);
    case KEY_BODY_MIN_RATE:
        if (strcmp(v, "0") == 0) { /* no minimum */
            cfg->body_min_rate = 0;
            return 0;
        }
        return set_bytes(p, key, v, &cfg->body_min_rate);
    case KEY_URL_ALLOW:
        return add_url_allow(p, v);
    case KEY_LOG_FORMAT:
        if (strcmp(v, "text") == 0)
            cfg->log_format = SERVE_LOG_TEXT;
        else if (strcmp(v, "json") == 0)
            cfg->log_format = SERVE_LOG_JSON;
        else
            return FAIL(p, "log_format: \"%s\" is not one of text, json", SHOW(v, show));
        return 0;
    case KEY_KEEP_INPUTS:
        if (strcmp(v, "yes") == 0)
            cfg->keep_inputs = 1;
        else if (strcmp(v, "no") == 0)
            cfg->keep_inputs = 0;
        else
            return FAIL(p, "keep_inputs: \"%s\" is not one of yes, no", SHOW(v, show));
        return 0;
    case KEY_JOB_RETENTION:
        return set_duration(p, key, v, &cfg->job_retention_s);
    case KEY_LIVE_IDLE_TIMEOUT: {
        int rc = set_duration(p, key, v, &cfg->live_idle_timeout_s);
        if (rc == 0 && !(cfg->live_idle_timeout_s > 0 && cfg->live_idle_timeout_s <= 3600))
            return FAIL(p, "live_idle_timeout: \"%s\" is not between 1s and 1h", SHOW(v, show));
        return rc;
    }
    case KEY_WEBHOOK_SECRET:
        if (strlen(v) < SERVE_TOKEN_SECRET_MIN)
            return FAIL(p, "webhook_secret: too short (at least 16 bytes)");
        return set_string(p, &cfg->webhook_secret, v);
    default: /* the queue limits */
        return set_int(p, key, v, 0, INT_MAX, &cfg->queue_limit[id - KEY_QUEUE_LIMIT]);
    }
}

static int set_token_key(parser *p, const char *key, const char *v)
{
    char show[SHOW_SIZE];
    serve_token *t = &p->cfg->tokens[p->open];
    int *seen;
    if (strcmp(key, "secret") == 0)
        seen = &p->secret_line;
    else if (strcmp(key, "max_priority") == 0)
        seen = &p->prio_line;
    else if (strcmp(key, "admin") == 0)
        seen = &p->admin_line;
    else if (find_key(key) >= 0)
        return FAIL(p, "%s: top-level keys go before the first [token] section", key);
    else
        return FAIL(p, "unknown key \"%s\" in [token %s]", SHOW(key, show), t->name);
    if (!*v)
        return FAIL(p, "%s: no value", key);
    if (*seen)
        return FAIL(p, "duplicate key \"%s\" in [token %s] (first set on line %d)", key, t->name,
                    *seen);
    *seen = p->line;

    if (seen == &p->prio_line) {
        if (store_priority_parse(v, &t->max_priority, NULL))
            return FAIL(p, "max_priority: \"%s\" is not one of " PRIO_CHOICES, SHOW(v, show));
        return 0;
    }
    if (seen == &p->admin_line) {
        /* Two spellings only: an admin token sees every tenant's jobs, so
         * "true", "1" or "Yes" are refused rather than guessed at. */
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            return FAIL(p, "admin: \"%s\" is not one of yes, no", SHOW(v, show));
        t->admin = strcmp(v, "yes") == 0;
        return 0;
    }
    size_t n = strlen(v);
    const char *why = secret_problem(v, n);
    if (why)
        return FAIL(p, "secret of token \"%s\": %s", t->name, why);
    const serve_token *dup = find_token_secret(p->cfg, v, n, (size_t)p->open);
    if (dup)
        return FAIL(p, "token \"%s\" has the same secret as token \"%s\" (line %d)", t->name,
                    dup->name, dup->where);
    return set_string(p, &t->secret, v);
}

/* End the open [token] section: it must have had a secret. */
static int close_section(parser *p)
{
    if (p->open < 0)
        return 0;
    const serve_token *t = &p->cfg->tokens[p->open];
    p->open = -1;
    if (!t->secret)
        return fail_at(p, t->where, "[token %s] has no secret", t->name);
    return 0;
}

/* s: a trimmed line starting with '['. */
static int open_section(parser *p, char *s)
{
    char show[SHOW_SIZE];
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != ']')
        return FAIL(p, "a section header ends with ']'");
    s[n - 1] = '\0';
    char *in = trim(s + 1);
    if (strncmp(in, "token", 5) != 0 || (in[5] && !is_blank(in[5]))) {
        return FAIL(p, "unknown section [%s] (the only kind is [token NAME])", SHOW(in, show));
    }
    char *name = trim(in + 5);
    if (!*name)
        return FAIL(p, "[token] needs a name: [token NAME]");
    if (!valid_token_name(name, strlen(name)))
        return FAIL(p, "bad token name \"%s\" (" NAME_RULE ")", SHOW(name, show));
    int rc = close_section(p);
    if (rc)
        return rc;
    const serve_token *dup = find_token_name(p->cfg, name, strlen(name), p->cfg->n_tokens);
    if (dup)
        return FAIL(p, "duplicate token name \"%s\" (first on line %d)", name, dup->where);
    serve_token *t;
    if (append_token(p->cfg, name, strlen(name), &t))
        return nomem(p->err);
    t->where = p->line;
    p->open = (long)(p->cfg->n_tokens - 1);
    p->secret_line = p->prio_line = p->admin_line = 0;
    return 0;
}

static int parse_line(parser *p, const char *raw, size_t n)
{
    if (n > 0 && raw[n - 1] == '\r') /* CRLF line endings */
        n--;
    if (n > SERVE_CONFIG_MAX_LINE)
        return FAIL(p, "line longer than %d bytes", SERVE_CONFIG_MAX_LINE);
    int rc = check_text(p, raw, n);
    if (rc)
        return rc;
    char line[SERVE_CONFIG_MAX_LINE + 1];
    memcpy(line, raw, n);
    line[n] = '\0';
    char *s = trim(line);
    if (!*s || *s == '#') {
        rc = 0;
    } else if (*s == '[') {
        rc = open_section(p, s);
    } else {
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = FAIL(p, "expected KEY = VALUE or [token NAME]");
        } else {
            *eq = '\0';
            char *key = trim(s), *value = trim(eq + 1);
            if (!*key)
                rc = FAIL(p, "no key before '='");
            else if (p->open >= 0)
                rc = set_token_key(p, key, value);
            else
                rc = set_key(p, key, value);
        }
    }
    explicit_bzero(line, n); /* it may have held a secret */
    return rc;
}

/* ---- API --------------------------------------------------------------- */

void serve_config_init(serve_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = -1;
    cfg->max_upload = cfg->max_body = cfg->url_max_bytes = -1;
    cfg->timeout_s = cfg->max_duration_s = cfg->url_timeout_s = cfg->header_timeout_s = -1;
    cfg->job_retention_s = -1;
    cfg->live_idle_timeout_s = -1;
    cfg->max_connections = cfg->max_connections_per_address = -1;
    cfg->body_min_rate = -1;
    cfg->keep_inputs = -1;
    for (int i = 0; i < SERVE_CONFIG_N_PRIOS; i++)
        cfg->queue_limit[i] = -1;
    cfg->log_format = SERVE_LOG_UNSET;
}

void serve_config_wipe_secrets(serve_config *cfg)
{
    for (size_t i = 0; i < cfg->n_tokens; i++) {
        free_secret(cfg->tokens[i].secret);
        cfg->tokens[i].secret = NULL;
    }
    free_secret(cfg->webhook_secret);
    cfg->webhook_secret = NULL;
}

void serve_config_release(serve_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->listen);
    free(cfg->state_dir);
    free(cfg->store);
    free(cfg->shared_dir);
    free(cfg->node);
    free(cfg->machine);
    for (size_t i = 0; i < cfg->n_roots; i++)
        free(cfg->roots[i]);
    free(cfg->roots);
    for (size_t i = 0; i < cfg->n_cors_origins; i++)
        free(cfg->cors_origins[i]);
    free(cfg->cors_origins);
    for (size_t i = 0; i < cfg->n_allowed_hosts; i++)
        free(cfg->allowed_hosts[i]);
    free(cfg->allowed_hosts);
    for (size_t i = 0; i < cfg->n_url_allow; i++)
        free(cfg->url_allow[i]);
    free(cfg->url_allow);
    free_secret(cfg->webhook_secret);
    for (size_t i = 0; i < cfg->n_tokens; i++)
        token_free(&cfg->tokens[i]);
    free(cfg->tokens);
    free(cfg->source);
    serve_config_init(cfg);
}

int serve_config_parse(const char *data, size_t len, const char *name, serve_config *cfg,
                       hark_err *err)
{
    parser p = {.name = name ? name : "config", .cfg = cfg, .err = err, .open = -1};
    int rc = 0;
    if (!(cfg->source = strdup(p.name)))
        return nomem(err);
    size_t off = 0;
    while (off < len && rc == 0) {
        p.line++;
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : len - off;
        rc = parse_line(&p, data + off, n);
        off += n + (nl ? 1 : 0);
    }
    if (rc == 0)
        rc = close_section(&p);
    if (rc)
        serve_config_release(cfg);
    return rc;
}

int serve_config_load(const char *path, serve_config *cfg, hark_err *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat refuses it next). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return err_set(err, e == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot read config '%.200s': %s",
                       path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, HARK_EIO, "cannot read config '%.200s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, HARK_EINVAL, "cannot read config '%.200s': not a regular file", path);
    }
    char *data = malloc(SERVE_CONFIG_MAX_FILE + 1);
    if (!data) {
        close(fd);
        return nomem(err);
    }
    size_t len = 0;
    int rc = 0;
    while (len <= SERVE_CONFIG_MAX_FILE) {
        ssize_t r = read(fd, data + len, SERVE_CONFIG_MAX_FILE + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_set(err, HARK_EIO, "cannot read config '%.200s': %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (rc == 0 && len > SERVE_CONFIG_MAX_FILE)
        rc = err_set(err, HARK_EINVAL, "config '%.200s' is larger than %u bytes", path,
                     SERVE_CONFIG_MAX_FILE);
    if (rc == 0)
        rc = serve_config_parse(data, len, path, cfg, err);
    explicit_bzero(data, len);
    free(data);
    if (rc == 0) {
        cfg->has_mode = true;
        cfg->file_mode = (unsigned)st.st_mode;
    }
    return rc;
}

/* One HARK_TOKENS entry: the n bytes at s, the index-th entry. */
static int add_env_entry(serve_config *cfg, const char *s, size_t n, int index, hark_err *err)
{
    char where[160];
    if (n == 0)
        return err_set(err, HARK_EINVAL, "HARK_TOKENS: entry %d is empty", index);
    const char *c1 = memchr(s, ':', n);
    const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s)) : NULL;
    if (!c2)
        return err_set(err, HARK_EINVAL, "HARK_TOKENS: entry %d: expected name:max_priority:secret",
                       index);
    size_t name_len = (size_t)(c1 - s), prio_len = (size_t)(c2 - c1 - 1);
    const char *secret = c2 + 1;
    size_t secret_len = n - (size_t)(secret - s);
    /* The name and priority fields are not quoted back: in an entry written
     * in the wrong order they would hold the secret. */
    if (!valid_token_name(s, name_len))
        return err_set(err, HARK_EINVAL, "HARK_TOKENS: entry %d: bad token name (" NAME_RULE ")",
                       index);
    char name[SERVE_TOKEN_NAME_MAX + 1], prio_name[16];
    memcpy(name, s, name_len);
    name[name_len] = '\0';
    int prio = -1;
    if (prio_len < sizeof prio_name) {
        memcpy(prio_name, c1 + 1, prio_len);
        prio_name[prio_len] = '\0';
        if (store_priority_parse(prio_name, &prio, NULL))
            prio = -1;
    }
    if (prio < 0)
        return err_set(err, HARK_EINVAL,
                       "HARK_TOKENS: entry %d (%s): max_priority is not one of " PRIO_CHOICES,
                       index, name);
    const char *why = secret_problem(secret, secret_len);
    if (why)
        return err_set(err, HARK_EINVAL, "HARK_TOKENS: entry %d (%s): secret: %s", index, name,
                       why);
    const serve_token *dup = find_token_name(cfg, name, name_len, cfg->n_tokens);
    if (dup) {
        token_where(cfg, dup, where, sizeof where);
        return err_set(err, HARK_EINVAL,
                       "HARK_TOKENS: entry %d: duplicate token name \"%s\" (first in %s)", index,
                       name, where);
    }
    dup = find_token_secret(cfg, secret, secret_len, cfg->n_tokens);
    if (dup) {
        token_where(cfg, dup, where, sizeof where);
        return err_set(err, HARK_EINVAL,
                       "HARK_TOKENS: entry %d (%s): same secret as token \"%s\" (%s)", index, name,
                       dup->name, where);
    }
    serve_token *t;
    if (append_token(cfg, name, name_len, &t))
        return nomem(err);
    t->max_priority = prio;
    t->from_env = true;
    t->where = index;
    if (!(t->secret = strndup(secret, secret_len)))
        return nomem(err);
    return 0;
}

int serve_config_add_env_tokens(serve_config *cfg, const char *value, hark_err *err)
{
    if (!value || !*value)
        return 0;
    size_t before = cfg->n_tokens;
    int rc = 0;
    const char *s = value;
    for (int index = 1;; index++) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if ((rc = add_env_entry(cfg, s, n, index, err)) || !comma)
            break;
        s = comma + 1;
    }
    if (rc) {
        /* All or nothing. append_token may have added a token whose secret
         * was not set (allocation failure): n_tokens counts it too. */
        while (cfg->n_tokens > before)
            token_free(&cfg->tokens[--cfg->n_tokens]);
    }
    return rc;
}

bool serve_config_mode_warning(const serve_config *cfg, char *msg, size_t n)
{
    if (msg && n)
        msg[0] = '\0';
    unsigned readable = cfg->file_mode & (S_IRGRP | S_IROTH);
    if (!cfg->has_mode || !readable)
        return false;
    bool secrets = cfg->webhook_secret != NULL;
    for (size_t i = 0; i < cfg->n_tokens && !secrets; i++)
        secrets = !cfg->tokens[i].from_env;
    if (!secrets && cfg->store && strncmp(cfg->store, "sqlite:", 7) != 0) {
        /* A connection string with a password: shown differs from it. */
        char shown[1024];
        store_location_shown(cfg->store, shown, sizeof shown);
        secrets = strcmp(shown, cfg->store) != 0;
    }
    if (!secrets)
        return false;
    if (msg && n)
        snprintf(msg, n,
                 "config '%.200s' holds secrets but is readable by %s (mode %04o); chmod 600 it",
                 cfg->source ? cfg->source : "?",
                 readable == (S_IRGRP | S_IROTH) ? "group and others"
                 : readable == S_IRGRP           ? "its group"
                                                 : "others",
                 cfg->file_mode & 07777);
    return true;
}

const char *serve_log_format_name(int format)
{
    return format == SERVE_LOG_TEXT ? "text" : format == SERVE_LOG_JSON ? "json" : NULL;
}
