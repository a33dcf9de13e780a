/* procstat.h - this process's own resource use, read from /proc/self: the
 * standard process_* metrics of Prometheus's client libraries.
 *
 * Linux only (hark is). Reads only: /proc/self/stat for CPU time, memory,
 * start time; /proc/stat for the boot time; /proc/self/fd for the open
 * descriptors; getrlimit for their limit.
 */
#ifndef HARK_METRICS_PROCSTAT_H
#define HARK_METRICS_PROCSTAT_H

#include "util/err.h"

#include <stdint.h>

typedef struct procstat {
    double cpu_seconds;     /* user + system CPU time of every thread, seconds */
    int64_t resident_bytes; /* resident set size */
    int64_t virtual_bytes;  /* address space size */
    double start_time_s;    /* when the process started, seconds since the epoch */
    int64_t open_fds;       /* descriptors open now */
    int64_t max_fds;        /* RLIMIT_NOFILE's soft limit, -1 if unlimited */
} procstat;

/* Read them. Returns 0 with *out filled, or HARK_EIO (err names the file
 * that could not be read or parsed; *out is zeroed). */
int procstat_read(procstat *out, hark_err *err);

/* Parse the text of a /proc/PID/stat file (one line; the command name in
 * parentheses may hold spaces and parentheses) into the fields procstat
 * keeps from it: utime + stime and starttime (clock ticks), vsize (bytes),
 * rss (pages). 0, or HARK_EINVAL if the text is not such a line. */
int procstat_parse_stat(const char *text, int64_t *cpu_ticks, int64_t *start_ticks, int64_t *vsize,
                        int64_t *rss_pages);

#endif
