#include "dictate/ctl.h"

#include "util/buf.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const op_names[] = {"stop", "cancel", "status"};

const char *ctl_op_name(ctl_op op)
{
    return (unsigned)op < 3 ? op_names[op] : "?";
}

void ctl_request_text(ctl_op op, char *out, size_t n)
{
    snprintf(out, n, "{\"op\":\"%s\"}", ctl_op_name(op));
}

int ctl_request_parse(const char *line, size_t len, ctl_op *op, hark_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(line, len, 0, &je);
    const char *name = json_string_value(json_object_get(j, "op"));
    int rc = HARK_EINVAL;
    if (!j || !json_is_object(j))
        err_set(err, HARK_EINVAL, "a request must be a JSON object");
    else if (!name)
        err_set(err, HARK_EINVAL, "a request needs an \"op\"");
    else
        for (int i = 0; i < 3 && rc; i++)
            if (strcmp(name, op_names[i]) == 0) {
                *op = (ctl_op)i;
                rc = 0;
            }
    if (rc && j && json_is_object(j) && name)
        err_set(err, HARK_EINVAL, "unknown op '%.40s' (stop, cancel, status)", name);
    json_decref(j);
    return rc;
}

/* ---- the directory -------------------------------------------------- */

/* dir exists (made 0700 if it did not), is a directory (not a link), is
 * ours and lets nobody else in. */
static int private_dir(const char *dir, hark_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(err, HARK_EIO, "cannot create '%s': %s", dir, strerror(errno));
    struct stat sb;
    if (lstat(dir, &sb) != 0)
        return err_set(err, HARK_EIO, "cannot use '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return err_set(err, HARK_EINVAL, "cannot use '%s': not a directory%s", dir,
                       S_ISLNK(sb.st_mode) ? " (a symbolic link)" : "");
    if (sb.st_uid != geteuid())
        return err_set(err, HARK_EINVAL, "cannot use '%s': it belongs to uid %u, not to us", dir,
                       (unsigned)sb.st_uid);
    if (sb.st_mode & 077)
        return err_set(err, HARK_EINVAL,
                       "cannot use '%s': others may enter it (mode %03o; it must be 0700)", dir,
                       (unsigned)(sb.st_mode & 0777));
    return 0;
}

int ctl_dir(char *out, size_t n, hark_err *err)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    int w;
    if (rt && rt[0] == '/') {
        w = snprintf(out, n, "%s/hark", rt);
    } else {
        /* No session runtime directory (a bare ssh or cron session): a
         * private one of our own under /tmp, checked like the other. */
        w = snprintf(out, n, "/tmp/hark-%u", (unsigned)geteuid());
    }
    if (w < 0 || (size_t)w >= n ||
        (size_t)w + sizeof "/dictate.sock" > sizeof(((struct sockaddr_un *)0)->sun_path))
        return err_set(err, HARK_EINVAL, "the control directory '%s' is too long a path", out);
    return private_dir(out, err);
}

/* ---- the server ----------------------------------------------------- */

static int sock_addr(const char *dir, struct sockaddr_un *a, char *path, size_t n, hark_err *err)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int w = snprintf(a->sun_path, sizeof a->sun_path, "%s/dictate.sock", dir);
    if (w < 0 || (size_t)w >= sizeof a->sun_path)
        return err_set(err, HARK_EINVAL, "'%s/dictate.sock' is too long a socket path", dir);
    if (path)
        snprintf(path, n, "%s", a->sun_path);
    return 0;
}

int ctl_listen(const char *dir, ctl_server *s, char *holder, size_t n, hark_err *err)
{
    s->lock_fd = s->listen_fd = -1;
    s->sock_path[0] = '\0';
    char lock[300];
    snprintf(lock, sizeof lock, "%s/dictate.lock", dir);
    struct sockaddr_un a;
    int rc = sock_addr(dir, &a, s->sock_path, sizeof s->sock_path, err);
    if (rc)
        return rc;
    rc = fs_lock_file(lock, "hark dictate", &s->lock_fd, holder, n, err);
    if (rc)
        return rc;
    /* The lock is ours: any socket file here is a dead recorder's. */
    if (unlink(s->sock_path) != 0 && errno != ENOENT) {
        rc = err_set(err, HARK_EIO, "cannot remove the stale '%s': %s", s->sock_path,
                     strerror(errno));
        goto fail;
    }
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0) {
        rc = err_set(err, HARK_EIO, "cannot make a socket: %s", strerror(errno));
        goto fail;
    }
    /* 0600 from the start: umask while binding, then chmod to be sure. */
    mode_t old = umask(0177);
    int b = bind(s->listen_fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    umask(old);
    if (b != 0 || chmod(s->sock_path, 0600) != 0 || listen(s->listen_fd, 8) != 0) {
        rc = err_set(err, HARK_EIO, "cannot listen on '%s': %s", s->sock_path,
                     strerror(b != 0 ? e : errno));
        goto fail;
    }
    return 0;
fail:
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    close(s->lock_fd);
    s->lock_fd = -1;
    return rc;
}

int ctl_accept(ctl_server *s, int *fd, hark_err *err)
{
    *fd = -1;
    int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return 1;
        return err_set(err, HARK_EIO, "cannot accept on '%s': %s", s->sock_path, strerror(errno));
    }
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || cr.uid != geteuid()) {
        close(c); /* the directory is ours alone; this cannot be a friend */
        return 1;
    }
    *fd = c;
    return 0;
}

void ctl_close(ctl_server *s)
{
    if (s->listen_fd >= 0) {
        unlink(s->sock_path);
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
    }
}

/* ---- the client ----------------------------------------------------- */

int ctl_connect(const char *dir, int *fd, hark_err *err)
{
    *fd = -1;
    struct sockaddr_un a;
    int rc = sock_addr(dir, &a, NULL, 0, err);
    if (rc)
        return rc;
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0)
        return err_set(err, HARK_EIO, "cannot make a socket: %s", strerror(errno));
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(c);
        if (e == ENOENT || e == ECONNREFUSED) /* none, or a dead one's socket */
            return err_set(err, HARK_ENOENT, "no dictation is running");
        return err_set(err, HARK_EIO, "cannot connect to '%s': %s", a.sun_path, strerror(e));
    }
    *fd = c;
    return 0;
}

/* Wait until fd is ready for events, under the deadline. */
static int wait_fd(int fd, short events, deadline dl, hark_err *err)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int ms = deadline_remaining_ms(dl);
        if (ms == 0)
            return err_set(err, HARK_ETIMEDOUT, "the dictation did not answer in time");
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return err_set(err, HARK_EIO, "cannot wait on the control socket: %s", strerror(errno));
    }
}

int ctl_send(int fd, const json_t *obj, deadline dl, hark_err *err)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        return err_set(err, HARK_ENOMEM, "out of memory");
    size_t len = strlen(text), done = 0;
    int rc = 0;
    if (len + 1 > CTL_LINE_MAX)
        rc = err_set(err, HARK_ENOMEM, "a control message over %u bytes", CTL_LINE_MAX);
    text[len] = '\0';
    while (rc == 0 && done <= len) {
        /* The line and its newline; MSG_NOSIGNAL: a peer gone is EPIPE, not a signal. */
        const char *p = done < len ? text + done : "\n";
        size_t want = done < len ? len - done : 1;
        if ((rc = wait_fd(fd, POLLOUT, dl, err)) != 0)
            break;
        ssize_t w = send(fd, p, want, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            rc = err_set(err, HARK_EIO, "cannot write to the control socket: %s", strerror(errno));
        else
            done += (size_t)w;
    }
    free(text);
    return rc;
}

int ctl_recv_line(int fd, char **out, size_t *len, deadline dl, hark_err *err)
{
    *out = NULL;
    *len = 0;
    buf b;
    buf_init(&b, CTL_LINE_MAX);
    int rc = 0;
    for (;;) {
        char chunk[4096];
        if ((rc = wait_fd(fd, POLLIN, dl, err)) != 0)
            break;
        ssize_t r = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            rc = err_set(err, HARK_EIO, "cannot read the control socket: %s", strerror(errno));
            break;
        }
        if (r == 0) {
            rc = err_set(err, HARK_EIO, "the dictation closed the control socket without a word");
            break;
        }
        char *nl = memchr(chunk, '\n', (size_t)r);
        if (buf_append(&b, chunk, nl ? (size_t)(nl - chunk) : (size_t)r)) {
            rc = err_set(err, HARK_ENOMEM, "a control message over %u bytes", CTL_LINE_MAX);
            break;
        }
        if (nl)
            break; /* one line per connection: anything after it is not read */
    }
    if (rc) {
        buf_release(&b);
        return rc;
    }
    *len = b.len;
    *out = buf_steal(&b);
    return *out ? 0 : err_set(err, HARK_ENOMEM, "out of memory");
}

int ctl_recv(int fd, json_t **out, deadline dl, hark_err *err)
{
    *out = NULL;
    char *line;
    size_t len;
    int rc = ctl_recv_line(fd, &line, &len, dl, err);
    if (rc)
        return rc;
    json_t *j = json_loadb(line, len, 0, NULL);
    free(line);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return err_set(err, HARK_EIO, "the dictation sent a malformed control message");
    }
    *out = j;
    return 0;
}
