#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
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

int fs_lock_file(const char *path, const char *who, int *fd_out, char *holder, size_t n,
                 hark_err *err)
{
    *fd_out = -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return err_set(err, HARK_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        char line[256];
        int len = snprintf(line, sizeof line, "%d %s\n", (int)getpid(), who);
        /* Only a hint for the next one refused: a failure here changes nothing. */
        bool said = ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)len, 0) == len;
        (void)said;
        *fd_out = fd;
        return 0;
    }
    int e = errno;
    if (e != EWOULDBLOCK) {
        close(fd);
        return err_set(err, HARK_EIO, "cannot lock '%s': %s", path, strerror(e));
    }
    /* "PID WHO\n", written by the holder once it had the lock. */
    char text[256];
    ssize_t r = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    text[r > 0 ? r : 0] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    if (holder && n) {
        if (pid > 0 && end && *end == ' ' && end[1]) {
            end[1 + strcspn(end + 1, "\n")] = '\0';
            snprintf(holder, n, "%.100s (pid %ld)", end + 1, pid);
        } else {
            snprintf(holder, n, "another process");
        }
    }
    return 1;
}

int fs_write_code(int e)
{
    if (e == ENOSPC || e == EDQUOT)
        return HARK_ENOSPC;
    return e == EFBIG ? HARK_EINVAL : HARK_EIO;
}

const char *fs_write_cause(int e, char *buf, size_t n)
{
    struct rlimit rl;
    if (e == EFBIG && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(buf, n, "%s: over the file-size limit (ulimit -f) of %llu bytes", strerror(e),
                 (unsigned long long)rl.rlim_cur);
    else
        snprintf(buf, n, "%s", strerror(e));
    return buf;
}
