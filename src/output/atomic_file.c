#include "output/atomic_file.h"

#include "util/buf.h"
#include "util/fault.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_write_file(const char *path, const void *data, size_t n, unsigned mode, hark_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (*name == '\0')
        return err_set(err, HARK_EIO, "cannot write '%s': %s", path, strerror(EISDIR));

    /* The directory part, kept as given ("" for a bare name, "/" for "/x"),
     * so the temporary lands on the same filesystem and rename is atomic. */
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    buf dir, tmp;
    buf_init(&dir, 8192);
    buf_init(&tmp, 8192);
    int rc = slash ? buf_append(&dir, path, dirlen == 0 ? 1 : dirlen) : buf_puts(&dir, ".");
    if (!rc)
        rc = slash ? buf_append(&tmp, path, dirlen + 1) : 0;
    if (!rc)
        rc = buf_printf(&tmp, ".%s.tmp.XXXXXX", name);
    if (rc) {
        buf_release(&dir);
        buf_release(&tmp);
        return err_set(err, HARK_EIO, "cannot write '%s': %s", path, strerror(ENAMETOOLONG));
    }

    int fd = mkostemp(tmp.data, O_CLOEXEC);
    int e = 0;
    if (fd < 0) {
        e = errno;
        goto out; /* nothing was created */
    }
    int injected = fault_write_errno(path); /* test-only (util/fault.h) */
    if (injected || fs_write_all(fd, data, n) != 0 || fchmod(fd, (mode_t)(mode & 07777)) != 0 ||
        fsync(fd) != 0) {
        e = injected ? injected : errno;
        close(fd);
        unlink(tmp.data);
        goto out;
    }
    /* close can report a deferred write error (NFS); the data is not safe then. */
    if (close(fd) != 0 && errno != EINTR) {
        e = errno;
        unlink(tmp.data);
        goto out;
    }
    if (rename(tmp.data, path) != 0) {
        e = errno;
        unlink(tmp.data);
        goto out;
    }
    /* The new name is in place; make the rename itself durable. Some
     * filesystems cannot fsync a directory (EINVAL); that is not a failure of
     * this write. */
    errno = 0;
    if (fs_fsync_dir(dir.data) != 0 && errno != EINVAL)
        e = errno ? errno : EIO;

out:
    buf_release(&dir);
    buf_release(&tmp);
    if (e) {
        char cause[200];
        return err_set(err, fs_write_code(e), "cannot write '%s': %s", path,
                       fs_write_cause(e, cause, sizeof cause));
    }
    return 0;
}
