/* path_root.c - see path_root.h. */
#include "auth/path_root.h"

#include "auth/quote.h"
#include "util/beneath.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTED 256 /* a path quoted in a message: at most 252 bytes */

/* The absolute path with empty and "." components dropped ("/a//./b/" ->
 * "/a/b", "/" -> "/"), malloc'ed into *out. HARK_EINVAL if a component is
 * "..", which only the filesystem can interpret (it may follow a symlink). */
static int normalize(const char *path, char **out)
{
    *out = NULL;
    char *n = malloc(strlen(path) + 2);
    if (!n)
        return HARK_ENOMEM;
    size_t o = 0;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        if (len == 0 || (len == 1 && s[0] == '.')) {
            s += len;
            continue;
        }
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            free(n);
            return HARK_EINVAL;
        }
        n[o++] = '/';
        memcpy(n + o, s, len);
        o += len;
        s += len;
    }
    if (o == 0)
        n[o++] = '/';
    n[o] = '\0';
    *out = n;
    return 0;
}

void path_roots_release(path_roots *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->resolved[i]);
        free(r->spelled[i]);
    }
    free(r->resolved);
    free(r->spelled);
    r->resolved = r->spelled = NULL;
    r->n = 0;
}

static int init_root(path_roots *r, const char *root, hark_err *err)
{
    char q[QUOTED];
    size_t i = r->n;
    if (root[0] != '/')
        return err_set(err, HARK_EINVAL, "root '%s' is not an absolute path",
                       auth_quote(root, strlen(root), q, sizeof q));
    int rc = normalize(root, &r->spelled[i]);
    if (rc == HARK_ENOMEM)
        return err_set(err, rc, "out of memory resolving the roots");
    r->resolved[i] = realpath(root, NULL);
    r->n++; /* both slots are owned by r now, whatever follows */
    if (!r->resolved[i]) {
        int e = errno;
        return err_set(err, e == ENOENT ? HARK_ENOENT : HARK_EIO, "root '%s': %s",
                       auth_quote(root, strlen(root), q, sizeof q), strerror(e));
    }
    struct stat st;
    if (stat(r->resolved[i], &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, HARK_EINVAL, "root '%s' is not a directory",
                       auth_quote(root, strlen(root), q, sizeof q));
    return 0;
}

int path_roots_init(path_roots *r, char *const *roots, size_t n, hark_err *err)
{
    r->n = 0;
    r->resolved = calloc(n ? n : 1, sizeof *r->resolved);
    r->spelled = calloc(n ? n : 1, sizeof *r->spelled);
    if (!r->resolved || !r->spelled) {
        path_roots_release(r);
        return err_set(err, HARK_ENOMEM, "out of memory resolving the roots");
    }
    for (size_t i = 0; i < n; i++) {
        int rc = init_root(r, roots[i], err);
        if (rc) {
            path_roots_release(r);
            return rc;
        }
    }
    return 0;
}

void path_input_release(path_input *p)
{
    if (!p)
        return;
    free(p->root);
    free(p->path);
    p->root = p->path = NULL;
}

/* Where norm goes on below root i, as spelled (configured or resolved):
 * the longer spelling that matches, NULL if neither does. *matched gets its
 * length, to try the most specific root first. */
static const char *rel_under(const path_roots *r, size_t i, const char *norm, size_t *matched)
{
    const char *best = NULL;
    const char *spellings[2] = {r->spelled[i], r->resolved[i]};
    *matched = 0;
    for (int k = 0; k < 2; k++) {
        const char *rel = spellings[k] ? beneath_rel(spellings[k], norm) : NULL;
        if (rel && (!best || strlen(spellings[k]) > *matched)) {
            best = rel;
            *matched = strlen(spellings[k]);
        }
    }
    return best;
}

/* root + "/" + rel, malloc'ed ("/" + rel for the root "/"). */
static char *join(const char *root, const char *rel)
{
    size_t n = strlen(root), m = strlen(rel);
    bool slash = n == 0 || root[n - 1] != '/';
    char *p = malloc(n + slash + m + 1);
    if (p) {
        memcpy(p, root, n);
        if (slash)
            p[n] = '/';
        memcpy(p + n + slash, rel, m + 1);
    }
    return p;
}

/* Open norm beneath root i (whose spelling matched) and fill out. */
static int try_root(const path_roots *r, size_t i, const char *rel, const char *shown,
                    path_input *out, hark_err *err)
{
    int fd;
    int rc = beneath_open_file(r->resolved[i], rel, shown, &fd, err);
    if (rc)
        return rc;
    close(fd);
    out->root = strdup(r->resolved[i]);
    out->path = join(r->resolved[i], rel);
    if (!out->root || !out->path) {
        path_input_release(out);
        return err_set(err, HARK_ENOMEM, "out of memory checking a path");
    }
    return 0;
}

int path_roots_check(const path_roots *r, const char *path, path_input *out, hark_err *err)
{
    char q[QUOTED];
    out->root = out->path = NULL;
    if (!path)
        return err_set(err, HARK_EINVAL, "no path");
    size_t len = strlen(path);
    const char *shown = auth_quote(path, len, q, sizeof q);
    if (path[0] != '/')
        return err_set(err, HARK_EINVAL, "cannot read '%s': not an absolute path", shown);
    if (len >= PATH_MAX)
        return err_set(err, HARK_EINVAL, "cannot read '%s': path too long", shown);
    char *norm;
    int rc = normalize(path, &norm);
    if (rc == HARK_ENOMEM)
        return err_set(err, rc, "out of memory checking a path");
    if (rc)
        return err_set(err, HARK_EINVAL, "cannot read '%s': '..' is not allowed in a path", shown);

    /* The most specific root that spells it: a shorter one could only
     * reach the file through the longer one's directory, or through a
     * link where the longer one's spelling goes on (refused either way). */
    size_t best = r->n, best_len = 0;
    const char *best_rel = NULL;
    for (size_t i = 0; i < r->n; i++) {
        size_t m;
        const char *rel = rel_under(r, i, norm, &m);
        if (rel && (best == r->n || m > best_len)) {
            best = i;
            best_len = m;
            best_rel = rel;
        }
    }
    rc = best == r->n
             ? err_set(err, HARK_EINVAL, "cannot read '%s': outside the allowed roots", shown)
             : try_root(r, best, best_rel, shown, out, err);
    free(norm);
    return rc;
}
