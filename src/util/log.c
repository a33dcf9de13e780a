#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level threshold = LOG_WARN;

void log_set_level(enum log_level level)
{
    threshold = level;
}

enum log_level log_get_level(void)
{
    return threshold;
}

void log_init_from_env(void)
{
    const char *v = getenv("HARK_LOG");
    if (!v)
        return;
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(v, names[i]) == 0)
            threshold = (enum log_level)i;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < threshold || level >= LOG_OFF)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line so concurrent processes do not interleave mid-line. */
    fprintf(stderr, "hark: %s: %s\n", names[level], line);
}
