/* upload_sweep.c - see upload_sweep.h. */
#include "server/upload_sweep.h"

#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct candidate {
    char *name;
    bool used; /* some job's input */
} candidate;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const candidate *)a)->name, ((const candidate *)b)->name);
}

static void free_candidates(candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].name);
    free(c);
}

/* The regular files in dir, sorted by name. */
static int list_files(const char *dir, candidate **out, size_t *n, hark_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : err_set(err, HARK_EIO, "cannot read '%s': %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            candidate *p = realloc(*out, ncap * sizeof *p);
            if (!p) {
                rc = err_set(err, HARK_ENOMEM, "out of memory listing '%s'", dir);
                break;
            }
            *out = p;
            cap = ncap;
        }
        if (!((*out)[*n].name = strdup(e->d_name))) {
            rc = err_set(err, HARK_ENOMEM, "out of memory listing '%s'", dir);
            break;
        }
        (*out)[(*n)++].used = false;
    }
    closedir(d);
    if (rc) {
        free_candidates(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, by_name);
    return 0;
}

/* Mark the candidates some job names as its input: one pass over every
 * job, a page at a time. */
static int mark_used(store *st, candidate *c, size_t n, hark_err *err)
{
    store_job_filter f;
    store_job_filter_init(&f);
    f.limit = 1000;
    for (;;) {
        store_job_list l;
        int rc = store_list_jobs(st, STORE_SCOPE_ALL, &f, &l, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < l.n; i++) {
            const char *slash = strrchr(l.jobs[i].input, '/');
            candidate key = {.name = (char *)(slash ? slash + 1 : l.jobs[i].input)};
            candidate *hit = bsearch(&key, c, n, sizeof *c, by_name);
            if (hit)
                hit->used = true;
        }
        f.after_seq = l.next_after;
        store_job_list_release(&l);
        if (!f.after_seq)
            return 0;
    }
}

/* Whether dir/name was modified within the last min_age_s seconds (or
 * cannot be read: then it is spared too). */
static bool too_young(const char *dir, const char *name, double min_age_s)
{
    if (min_age_s <= 0)
        return false;
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (lstat(path, &sb) != 0)
        return true;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double age =
        (double)(now.tv_sec - sb.st_mtim.tv_sec) + (double)(now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9;
    return age < min_age_s;
}

int upload_sweep(const char *dir, store *st, int *removed, hark_err *err)
{
    return upload_sweep_older(dir, st, 0, removed, err);
}

int upload_sweep_older(const char *dir, store *st, double min_age_s, int *removed, hark_err *err)
{
    if (removed)
        *removed = 0;
    candidate *c;
    size_t n;
    int rc = list_files(dir, &c, &n, err);
    if (rc || n == 0)
        return rc;
    rc = mark_used(st, c, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (c[i].used || too_young(dir, c[i].name, min_age_s))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, c[i].name);
        if (unlink(path) != 0) {
            log_warn("cannot remove the leftover upload '%s': %s", path, strerror(errno));
            continue;
        }
        log_info("removed a leftover upload no job refers to: %s", path);
        if (removed)
            (*removed)++;
    }
    free_candidates(c, n);
    return rc;
}
