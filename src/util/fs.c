#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *dir, unsigned mode, hark_err *err)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof tmp)
        return err_set(err, HARK_EINVAL, "cannot create directory '%s': path too long", dir);
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return err_set(err, HARK_EIO, "cannot create directory '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return err_set(err, HARK_EIO, "cannot create directory '%s': %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, HARK_EIO, "cannot create directory '%s': not a directory", tmp);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int fs_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : HARK_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : HARK_EIO;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : HARK_EIO;
}

int fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return HARK_EIO;
    int rc = fsync(fd) == 0 ? 0 : HARK_EIO;
    close(fd);
    return rc;
}

void fs_stem(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

void fs_dirname(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, outlen, ".");
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

bool fs_is_entry_of(const char *dir, const char *path)
{
    if (!dir || !path || !dir[0])
        return false;
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/')
        return false;
    const char *name = path + n + 1;
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int fs_default_state_dir(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg == '/')
        n = snprintf(out, outlen, "%s/hark", xdg);
    else if (home && *home == '/')
        n = snprintf(out, outlen, "%s/.local/state/hark", home);
    else
        n = snprintf(out, outlen, "/tmp/hark-%u", (unsigned)getuid());
    return n > 0 && (size_t)n < outlen ? 0 : HARK_EINVAL;
}

int fs_self_exe(char *out, size_t outlen)
{
    if (outlen < 2) {
        errno = ENAMETOOLONG;
        return -1;
    }
    ssize_t len = readlink("/proc/self/exe", out, outlen - 1);
    if (len <= 0)
        return -1;
    if ((size_t)len >= outlen - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    out[len] = '\0';
    return 0;
}

int fs_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO; /* no progress and no error: do not spin */
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
