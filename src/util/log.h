/* log.h - diagnostics on stderr, one line per event.
 *
 * Level and format are set once at start (HARK_LOG=debug|info|warn|error|off
 * or -v/-q; HARK_LOG_FORMAT=text|json). Two formats:
 *
 *   text (default, for people):
 *     hark: warn: <message>
 *     hark: info: job.succeeded job=j123 request=r9 ms=12
 *   json (for log collectors), one object per line:
 *     {"ts":"2026-11-23T10:00:00.123Z","level":"warn","msg":"<message>"}
 *     {"ts":"...","level":"info","msg":"job.succeeded","job":"j123","request":"r9","ms":"12"}
 *
 * Every line is built in the caller's memory and written with one write(2)
 * on fd 2, so lines from threads and processes never interleave (on a pipe,
 * for lines up to PIPE_BUF, 4096 bytes; a file opened O_APPEND always).
 * There is no lock: level and format are atomics, and the clock is read
 * with clock_gettime and gmtime_r. Every function here is thread-safe.
 *
 * Bounds: a message is cut at 1023 bytes, a field value at 1024 bytes (at a
 * UTF-8 boundary, "..." appended), a key at 64; at most 32 fields.
 */
#ifndef HARK_UTIL_LOG_H
#define HARK_UTIL_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Set the threshold; messages below it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Choose the line format (LOG_FORMAT_TEXT until told otherwise). */
void log_set_format(enum log_format format);
enum log_format log_get_format(void);

/* Read HARK_LOG and HARK_LOG_FORMAT from the environment. Unset or
 * unknown values leave the setting as it was. */
void log_init_from_env(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* ---- events: a name and key=value fields ------------------------------- */

/* One field. Both are strings: callers format numbers themselves, so what
 * a field holds is exactly what is written. A NULL value is written as
 * an empty string. */
typedef struct log_field {
    const char *key;
    const char *value;
} log_field;

/* An event: a short dotted name ("job.succeeded") and fields, as
 *
 *     log_event(LOG_INFO, "job.succeeded", {"job", id}, {"request", rid}, {"ms", ms});
 *
 * The fields become a compound literal of log_field, so every key and value
 * is type-checked as a const char * (an int is a compile error under
 * -Werror), a pair cannot lose its partner, and there is no terminator to
 * forget. The leading {NULL, NULL} keeps the array non-empty for events
 * without fields and is skipped.
 *
 * Text: the name, then key=value separated by spaces. A value is quoted
 * when it is empty or holds a space, '"', '=', '\' or a control character;
 * inside quotes '"' and '\' are backslash-escaped, newline, CR and tab are
 * \n \r \t, other control bytes \xHH. Keys are written with every byte
 * outside [A-Za-z0-9_.-] replaced by '_'.
 * JSON: "msg" is the name and each field is a string member, JSON-escaped;
 * bytes that are not valid UTF-8 become U+FFFD, so the line is always
 * valid JSON. A key equal to "ts", "level" or "msg" gets a leading '_'. */
#define log_event(level, event, ...)                                                               \
    log_eventv((level), (event), (const log_field[]){{NULL, NULL}, __VA_ARGS__} + 1,               \
               sizeof((const log_field[]){{NULL, NULL}, __VA_ARGS__}) / sizeof(log_field) - 1)

/* The same with an array of n fields (fields may be NULL when n is 0). */
void log_eventv(enum log_level level, const char *event, const log_field *fields, size_t n);

#endif
