/* path_root.c - see path_root.h. */
#include "auth/path_root.h"

#include "auth/quote.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Is path (normalised or resolved) root itself or inside it? Both have no
 * trailing slash unless they are "/". */
static bool under(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1) /* "/" */
        return path[0] == '/';
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
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

/* Is the normalised path spelled under some root? */
static bool spelled_under(const path_roots *r, const char *norm)
{
    for (size_t i = 0; i < r->n; i++)
        if ((r->spelled[i] && under(norm, r->spelled[i])) || under(norm, r->resolved[i]))
            return true;
    return false;
}

static bool resolved_under(const path_roots *r, const char *real)
{
    for (size_t i = 0; i < r->n; i++)
        if (under(real, r->resolved[i]))
            return true;
    return false;
}

int path_roots_resolve(const path_roots *r, const char *path, char **resolved, hark_err *err)
{
    char q[QUOTED];
    *resolved = NULL;
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
    bool inside = spelled_under(r, norm);
    free(norm);
    if (!inside)
        return err_set(err, HARK_EINVAL, "cannot read '%s': outside the allowed roots", shown);

    char *real = realpath(path, NULL);
    if (!real) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return err_set(err, HARK_ENOENT, "cannot read '%s': not found", shown);
        if (e == ENOMEM)
            return err_set(err, HARK_ENOMEM, "out of memory checking a path");
        return err_set(err, HARK_EIO, "cannot read '%s': %s", shown, strerror(e));
    }
    if (!resolved_under(r, real)) {
        free(real);
        return err_set(err, HARK_EINVAL,
                       "cannot read '%s': outside the allowed roots (a symlink leads out)", shown);
    }
    struct stat st;
    if (stat(real, &st) != 0) {
        int e = errno;
        free(real);
        return err_set(err, e == ENOENT ? HARK_ENOENT : HARK_EIO, "cannot read '%s': %s", shown,
                       e == ENOENT ? "not found" : strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        free(real);
        return err_set(err, HARK_EINVAL, "cannot read '%s': not a regular file", shown);
    }
    *resolved = real;
    return 0;
}
