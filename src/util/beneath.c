/* beneath.c - see beneath.h. */
#include "util/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

bool beneath_walk_only;

/* rel must not climb: absolute, or a ".." component (RESOLVE_BENEATH would
 * admit one that stays inside; the component walk could not tell). */
static bool climbs(const char *rel)
{
    if (rel[0] == '/')
        return true;
    for (const char *s = rel; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return true;
        s += len;
        while (*s == '/')
            s++;
    }
    return false;
}

/* The component walk, for kernels without openat2. Every step is relative
 * to the descriptor of the directory before and follows no link, so a
 * rename or a swap elsewhere cannot redirect it: the same guarantee. */
static int walk(int dirfd, const char *rel, int flags)
{
    char name[NAME_MAX + 1];
    int cur = dirfd;
    const char *s = rel;
    for (;;) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        const char *next = s + len;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        if (len == 0 || (len == 1 && s[0] == '.')) {
            if (last) /* "a/." or "a/": the directory itself */
                break;
            s = next;
            continue;
        }
        if (len > NAME_MAX) {
            errno = ENAMETOOLONG;
            goto fail;
        }
        memcpy(name, s, len);
        name[len] = '\0';
        if (last) {
            int fd = openat(cur, name, flags);
            int e = errno;
            if (cur != dirfd)
                close(cur);
            errno = e;
            return fd;
        }
        int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            struct stat st; /* a link to a directory says ENOTDIR here: say ELOOP */
            if (e == ENOTDIR && fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                e = ELOOP;
            errno = e;
            goto fail;
        }
        if (cur != dirfd)
            close(cur);
        cur = fd;
        s = next;
    }
    /* rel named a directory through a trailing "." or slash: open it (never
     * a link: the walk did not follow one to get here). */
    {
        int fd = openat(cur, ".", flags);
        int e = errno;
        if (cur != dirfd)
            close(cur);
        errno = e;
        return fd;
    }
fail:;
    int e = errno;
    if (cur != dirfd)
        close(cur);
    errno = e;
    return -1;
}

int beneath_openat(int dirfd, const char *rel, int flags)
{
    if (climbs(rel)) {
        errno = EXDEV;
        return -1;
    }
    if (rel[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    flags |= O_CLOEXEC | O_NOFOLLOW;
    if (!beneath_walk_only) {
        struct open_how how = {
            .flags = (uint64_t)(unsigned)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        for (int tries = 0; tries < 8; tries++) {
            long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
            if (fd >= 0)
                return (int)fd;
            if (errno == EAGAIN || errno == EINTR) /* a concurrent rename: try again */
                continue;
            if (errno != ENOSYS && errno != EPERM)
                return -1;
            break; /* no openat2 here */
        }
        if (errno != ENOSYS && errno != EPERM)
            return -1;
    }
    return walk(dirfd, rel, flags);
}

const char *beneath_rel(const char *root, const char *path)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/')
        return path[0] == '/' ? path + 1 : NULL;
    if (n == 0 || strncmp(path, root, n) != 0)
        return NULL;
    if (path[n] == '\0')
        return path + n;
    return path[n] == '/' ? path + n + 1 : NULL;
}

int beneath_open_file(const char *root, const char *rel, const char *name, int *fd, hark_err *err)
{
    *fd = -1;
    if (!*rel) /* the root itself */
        return err_set(err, HARK_EINVAL, "cannot read '%s': not a regular file", name);
    int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return err_set(err, HARK_EIO, "cannot read '%s': cannot open its root '%s': %s", name, root,
                       strerror(errno));
    int f = beneath_openat(dir, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    close(dir);
    if (f < 0) {
        switch (e) {
        case ELOOP:
            return err_set(err, HARK_EINVAL,
                           "cannot read '%s': a symbolic link (links are not followed under a "
                           "root)",
                           name);
        case EXDEV:
            return err_set(err, HARK_EINVAL, "cannot read '%s': outside the allowed roots", name);
        case ENOENT:
        case ENOTDIR:
            return err_set(err, HARK_ENOENT, "cannot read '%s': not found", name);
        case ENXIO: /* a socket */
            return err_set(err, HARK_EINVAL, "cannot read '%s': not a regular file", name);
        case ENOMEM:
            return err_set(err, HARK_ENOMEM, "cannot read '%s': out of memory", name);
        default:
            return err_set(err, HARK_EIO, "cannot read '%s': %s", name, strerror(e));
        }
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        e = errno;
        close(f);
        return err_set(err, HARK_EIO, "cannot read '%s': %s", name, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return err_set(err, HARK_EINVAL, "cannot read '%s': not a regular file", name);
    }
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0)
        fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    return 0;
}
