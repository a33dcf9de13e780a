/* procstat.c - see procstat.h. */
#include "metrics/procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Read a small /proc file whole into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t n, hark_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, HARK_EIO, "cannot read '%s': %s", path, strerror(errno));
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return err_set(err, HARK_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

int procstat_parse_stat(const char *text, int64_t *cpu_ticks, int64_t *start_ticks, int64_t *vsize,
                        int64_t *rss_pages)
{
    /* "pid (comm) state ppid ...": comm may hold anything but ends at the
     * last ')'; fields are counted from 1, state is field 3. */
    const char *p = strrchr(text, ')');
    if (!p)
        return HARK_EINVAL;
    p++;
    int64_t utime = 0, stime = 0;
    bool have[5] = {false};
    for (int field = 3; field <= 24; field++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return HARK_EINVAL;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\n')
            end++;
        if (field == 14 || field == 15 || field == 22 || field == 23 || field == 24) {
            char *stop = NULL;
            errno = 0;
            long long v = strtoll(p, &stop, 10);
            if (errno || stop != end || v < 0)
                return HARK_EINVAL;
            switch (field) {
            case 14:
                utime = v, have[0] = true;
                break;
            case 15:
                stime = v, have[1] = true;
                break;
            case 22:
                *start_ticks = v, have[2] = true;
                break;
            case 23:
                *vsize = v, have[3] = true;
                break;
            default:
                *rss_pages = v, have[4] = true;
                break;
            }
        }
        p = end;
    }
    for (int i = 0; i < 5; i++)
        if (!have[i])
            return HARK_EINVAL;
    *cpu_ticks = utime + stime;
    return 0;
}

/* The boot time (seconds since the epoch), from /proc/stat's btime line.
 * Read line by line: the file grows with the cores and interrupts (its
 * intr line alone can be kilobytes; fgets splits it into pieces of digits,
 * none of which starts with "btime "). */
static int boot_time(int64_t *out, hark_err *err)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return err_set(err, HARK_EIO, "cannot read '/proc/stat': %s", strerror(errno));
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, "btime ", 6) == 0 && sscanf(line + 6, "%" SCNd64, out) == 1;
    fclose(f);
    return found ? 0 : err_set(err, HARK_EIO, "cannot read '/proc/stat': no btime line");
}

static int count_fds(int64_t *out, hark_err *err)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return err_set(err, HARK_EIO, "cannot read '/proc/self/fd': %s", strerror(errno));
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    *out = n - 1; /* the directory's own descriptor */
    return 0;
}

int procstat_read(procstat *out, hark_err *err)
{
    memset(out, 0, sizeof *out);
    char text[2048];
    int64_t cpu = 0, start = 0, vsize = 0, rss = 0, btime = 0;
    int rc = read_small("/proc/self/stat", text, sizeof text, err);
    if (rc == 0 && procstat_parse_stat(text, &cpu, &start, &vsize, &rss) != 0)
        rc = err_set(err, HARK_EIO, "cannot read '/proc/self/stat': unexpected format");
    if (rc == 0)
        rc = boot_time(&btime, err);
    if (rc == 0)
        rc = count_fds(&out->open_fds, err);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (tick <= 0)
        tick = 100;
    if (page <= 0)
        page = 4096;
    out->cpu_seconds = (double)cpu / (double)tick;
    out->start_time_s = (double)btime + (double)start / (double)tick;
    out->virtual_bytes = vsize;
    out->resident_bytes = rss * page;
    struct rlimit rl;
    out->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? (int64_t)rl.rlim_cur
                       : -1;
    return 0;
}
