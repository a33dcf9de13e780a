/* log.h - diagnostics on stderr, one line per event.
 *
 * Level is set once at start (HARK_LOG=debug|info|warn|error, or -v/-q).
 * Lines look like:  hark: warn: <message>
 */
#ifndef HARK_UTIL_LOG_H
#define HARK_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

/* Set the threshold; messages below it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Read HARK_LOG from the environment, if set and valid. */
void log_init_from_env(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
