/* log.c - see log.h. */
#include "util/log.h"

#include "util/buf.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX 1024     /* bytes of a formatted message, with its NUL */
#define VALUE_MAX 1024   /* bytes of a field value kept before "..." */
#define KEY_MAX 64       /* bytes of a key kept */
#define FIELDS_MAX 32    /* fields written per event */
#define LINE_MAX_ 262144 /* above the longest line the caps allow (32 fields of 6 x 1 KiB) */

/* Atomics, so threads may log while another sets these (tests do). */
static atomic_int threshold = LOG_WARN;
static atomic_int format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    atomic_store(&threshold, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&threshold);
}

void log_set_format(enum log_format f)
{
    if (f == LOG_FORMAT_TEXT || f == LOG_FORMAT_JSON)
        atomic_store(&format, (int)f);
}

enum log_format log_get_format(void)
{
    return (enum log_format)atomic_load(&format);
}

void log_init_from_env(void)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    const char *v = getenv("HARK_LOG");
    for (int i = 0; v && i <= LOG_OFF; i++)
        if (strcmp(v, names[i]) == 0)
            log_set_level((enum log_level)i);
    const char *f = getenv("HARK_LOG_FORMAT");
    if (f && strcmp(f, "text") == 0)
        log_set_format(LOG_FORMAT_TEXT);
    else if (f && strcmp(f, "json") == 0)
        log_set_format(LOG_FORMAT_JSON);
}

static bool enabled(enum log_level level)
{
    return (int)level >= atomic_load(&threshold) && level >= LOG_DEBUG && level < LOG_OFF;
}

/* ---- escaping ---------------------------------------------------------- */

/* A JSON string (with its quotes) of the n bytes at s, plus "..." when
 * cut. Control characters (C0, DEL, C1) are \u-escaped so a terminal
 * showing the log is not driven by them; bytes that are not UTF-8 become
 * U+FFFD, one per byte, as jansson and every other parser demand. */
static int put_json(buf *b, const char *s, size_t n, bool cut)
{
    int rc = buf_puts(b, "\"");
    size_t i = 0;
    while (i < n && !rc) {
        uint32_t cp;
        size_t l = utf8_char_len(s + i, n - i, &cp);
        if (!l) {
            rc = buf_puts(b, "\\ufffd");
            i++;
            continue;
        }
        switch (cp) {
        case '"':
            rc = buf_puts(b, "\\\"");
            break;
        case '\\':
            rc = buf_puts(b, "\\\\");
            break;
        case '\n':
            rc = buf_puts(b, "\\n");
            break;
        case '\r':
            rc = buf_puts(b, "\\r");
            break;
        case '\t':
            rc = buf_puts(b, "\\t");
            break;
        default:
            if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                rc = buf_printf(b, "\\u%04x", (unsigned)cp);
            else
                rc = buf_append(b, s + i, l);
        }
        i += l;
    }
    if (!rc && cut)
        rc = buf_puts(b, "...");
    return rc ? rc : buf_puts(b, "\"");
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* A text-format value: bare when it is plain, else quoted and escaped
 * (see log.h). Bytes >= 0x80 pass through: the text format is for people
 * and their terminals, the JSON one for parsers. */
static int put_text_value(buf *b, const char *s, size_t n, bool cut)
{
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++) {
        unsigned char c = (unsigned char)s[i];
        quote = c == ' ' || c == '"' || c == '=' || c == '\\' || is_ctl(c);
    }
    if (!quote) {
        int rc = buf_append(b, s, n);
        return rc || !cut ? rc : buf_puts(b, "...");
    }
    int rc = buf_puts(b, "\"");
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = buf_puts(b, "\\n");
        else if (c == '\r')
            rc = buf_puts(b, "\\r");
        else if (c == '\t')
            rc = buf_puts(b, "\\t");
        else if (is_ctl(c))
            rc = buf_printf(b, "\\x%02x", c);
        else
            rc = buf_append(b, &s[i], 1);
    }
    if (!rc && cut)
        rc = buf_puts(b, "...");
    return rc ? rc : buf_puts(b, "\"");
}

static int put_text_key(buf *b, const char *key)
{
    size_t n = strnlen(key, KEY_MAX);
    if (n == 0)
        return buf_puts(b, "_");
    char k[KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        k[i] = ok ? c : '_';
    }
    return buf_append(b, k, n);
}

static int put_json_key(buf *b, const char *key)
{
    /* The line's own members come first; a field must not shadow them. */
    bool reserved = strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "msg") == 0;
    size_t n = strnlen(key, KEY_MAX + 1);
    n = n > KEY_MAX ? utf8_cut(key, KEY_MAX) : n;
    char k[KEY_MAX + 1];
    k[0] = '_';
    memcpy(k + reserved, key, n);
    return put_json(b, k, n + reserved, false);
}

static int put_timestamp(buf *b)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    return buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      (int)(now.tv_nsec / 1000000));
}

/* ---- lines ------------------------------------------------------------- */

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to complain */
        p += w;
        n -= (size_t)w;
    }
}

static int build(buf *b, enum log_level level, const char *msg, size_t msg_len,
                 const log_field *fields, size_t n)
{
    bool json = log_get_format() == LOG_FORMAT_JSON;
    int rc;
    if (json) {
        rc = buf_puts(b, "{\"ts\":");
        rc = rc ? rc : put_timestamp(b);
        rc = rc ? rc : buf_printf(b, ",\"level\":\"%s\",\"msg\":", level_names[level]);
        rc = rc ? rc : put_json(b, msg, msg_len, false);
    } else {
        /* The message goes as it is, as it always has in this format. */
        rc = buf_printf(b, "hark: %s: ", level_names[level]);
        rc = rc ? rc : buf_append(b, msg, msg_len);
    }
    for (size_t i = 0; i < n && i < FIELDS_MAX && !rc; i++) {
        const char *key = fields[i].key ? fields[i].key : "";
        const char *v = fields[i].value ? fields[i].value : "";
        size_t vn = strnlen(v, VALUE_MAX + 1);
        bool cut = vn > VALUE_MAX;
        if (cut)
            vn = utf8_cut(v, VALUE_MAX);
        if (json) {
            rc = buf_puts(b, ",");
            rc = rc ? rc : put_json_key(b, key);
            rc = rc ? rc : buf_puts(b, ":");
            rc = rc ? rc : put_json(b, v, vn, cut);
        } else {
            rc = buf_puts(b, " ");
            rc = rc ? rc : put_text_key(b, key);
            rc = rc ? rc : buf_puts(b, "=");
            rc = rc ? rc : put_text_value(b, v, vn, cut);
        }
    }
    if (!rc && json)
        rc = buf_puts(b, "}");
    return rc ? rc : buf_puts(b, "\n");
}

static void emit(enum log_level level, const char *msg, size_t msg_len, const log_field *fields,
                 size_t n)
{
    buf b;
    buf_init(&b, LINE_MAX_);
    if (build(&b, level, msg, msg_len, fields, n) == 0) {
        write_all(b.data, b.len);
    } else {
        /* Out of memory: say so rather than write half a line. */
        static const char text[] = "hark: error: a log line was lost (out of memory)\n";
        static const char json[] =
            "{\"level\":\"error\",\"msg\":\"a log line was lost (out of memory)\"}\n";
        if (log_get_format() == LOG_FORMAT_JSON)
            write_all(json, sizeof json - 1);
        else
            write_all(text, sizeof text - 1);
    }
    buf_release(&b);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!enabled(level))
        return;
    char line[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof line ? (size_t)n : utf8_cut(line, sizeof line - 1);
    emit(level, line, len, NULL, 0);
}

void log_eventv(enum log_level level, const char *event, const log_field *fields, size_t n)
{
    if (!enabled(level))
        return;
    const char *e = event ? event : "";
    size_t len = strnlen(e, MSG_MAX);
    if (len >= MSG_MAX)
        len = utf8_cut(e, MSG_MAX - 1);
    emit(level, e, len, fields, fields ? n : 0);
}
