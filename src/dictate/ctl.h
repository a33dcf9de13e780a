/* ctl.h - the control socket between `hark dictate start` (the background
 * recorder) and `hark dictate stop` / `cancel`.
 *
 * Where: $XDG_RUNTIME_DIR/hark/ (made 0700), else /tmp/hark-<uid>/, which
 * must be a directory owned by us, not a symbolic link, and not open to
 * anyone else (made 0700 when absent; refused otherwise, since another
 * user could have made it to catch our dictation). In it:
 *
 *   dictate.lock   held (flock) by the running recorder: the one truth of
 *                  whether one runs. A recorder killed by kill -9 drops it
 *                  with its last descriptor, so a socket left behind is
 *                  stale exactly when the lock is free, and is replaced.
 *   dictate.sock   the recorder's listening socket (mode 0600); a peer of
 *                  another uid is refused (SO_PEERCRED).
 *   dictate.log    the background recorder's own messages.
 *
 * The protocol: one JSON object per line, at most CTL_LINE_MAX bytes. The
 * client sends a request {"op": "stop" | "cancel" | "status"}; the
 * recorder answers with one reply and closes:
 *   {"ok": true, "job": ID, "text": TEXT, "to": MODE}          stop
 *   {"ok": true, "job": ID, "state": "cancelled"}              cancel
 *   {"ok": true, "job": ID, "state": "recording", "seconds": S} status
 *   {"ok": false, "job": ID or null, "error": MESSAGE}          any failure
 */
#ifndef HARK_DICTATE_CTL_H
#define HARK_DICTATE_CTL_H

#include "util/clock.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_LINE_MAX (1u << 20) /* a reply carries the whole text */

typedef enum ctl_op { CTL_STOP, CTL_CANCEL, CTL_STATUS } ctl_op;

const char *ctl_op_name(ctl_op op);

/* The request line for op, without its newline, into out. */
void ctl_request_text(ctl_op op, char *out, size_t n);

/* Parse a request line (without its newline). Returns 0 with *op, or
 * HARK_EINVAL with the reason in err. */
int ctl_request_parse(const char *line, size_t len, ctl_op *op, hark_err *err);

/* The control directory: $XDG_RUNTIME_DIR/hark, or (without
 * XDG_RUNTIME_DIR) /tmp/hark-<uid>. Created 0700 when missing; checked to be
 * a directory of ours that nobody else can enter. Returns 0 with the path in
 * out, or HARK_EINVAL / HARK_EIO with the reason. */
int ctl_dir(char *out, size_t n, hark_err *err);

/* The listening side, held by the recorder. */
typedef struct ctl_server {
    int lock_fd;   /* dictate.lock, held */
    int listen_fd; /* dictate.sock, non-blocking, close-on-exec */
    char sock_path[256];
} ctl_server;

/* Take the lock in dir and listen on dir/dictate.sock (a stale socket file
 * is removed first). Returns 0; 1 when another recorder holds the lock
 * (holder, n bytes, says which: "hark dictate (pid 123)"); or an error. */
int ctl_listen(const char *dir, ctl_server *s, char *holder, size_t n, hark_err *err);

/* Accept one pending connection of our own uid: 0 with *fd (blocking,
 * close-on-exec), 1 when none is pending (or the peer was refused and
 * closed), or an error. */
int ctl_accept(ctl_server *s, int *fd, hark_err *err);

/* Stop listening: the socket file is removed, then the lock released (in
 * that order, so a new recorder never finds our socket while holding its
 * lock). */
void ctl_close(ctl_server *s);

/* Connect to the recorder of dir. Returns 0 with *fd; HARK_ENOENT when no
 * recorder runs (no socket, or a stale one whose lock is free); or an
 * error. */
int ctl_connect(const char *dir, int *fd, hark_err *err);

/* Send obj as one line on fd (blocking, under the deadline). */
int ctl_send(int fd, const json_t *obj, deadline dl, hark_err *err);

/* Read one line from fd and parse it as a JSON object into *out, under
 * the deadline (HARK_ETIMEDOUT). A peer that closes first is HARK_EIO. */
int ctl_recv(int fd, json_t **out, deadline dl, hark_err *err);

/* Read one line from fd into out (initialized here, capped at
 * CTL_LINE_MAX), without its newline, under the deadline. */
int ctl_recv_line(int fd, char **out, size_t *len, deadline dl, hark_err *err);

#endif
