/* err.h - one error convention for all of hark.
 *
 * Functions that can fail return int: 0 on success, a negative HARK_E* code
 * on failure, and (when the caller passed one) fill a hark_err with a one-line
 * human message that says what failed first, then the file, then the cause:
 *     cannot decode 'talk.mp3': no audio stream
 * No capital letter, no full stop (git's style). The message is what a user
 * sees after "hark: ", so it must stand on its own.
 */
#ifndef HARK_UTIL_ERR_H
#define HARK_UTIL_ERR_H

#include <stddef.h>

enum {
    HARK_OK = 0,
    HARK_EIO = -1,       /* read/write/fsync failed */
    HARK_ENOMEM = -2,    /* allocation failed or a cap was hit */
    HARK_EINVAL = -3,    /* bad argument or bad configuration */
    HARK_EMEDIA = -4,    /* input is not decodable audio (bad, truncated, no stream) */
    HARK_ETOOLONG = -5,  /* input longer than the configured maximum */
    HARK_ETIMEDOUT = -6, /* a deadline passed */
    HARK_ECANCELED = -7, /* the caller asked to stop (check-in said so) */
    HARK_EENGINE = -8,   /* the recognizer failed */
    HARK_ENOENT = -9,    /* a path does not exist */
    HARK_ESTALE = -10,   /* a lease token that no longer holds its lease (fencing) */
    HARK_EFULL = -11,    /* a bounded queue is full: try again later */
    HARK_ENOSPC = -12,   /* out of disk space (or quota): a resource condition, retry later */
    HARK_EUNAVAIL = -13, /* the store cannot be reached (down, restarting): retry later */
};

typedef struct hark_err {
    int code;      /* the HARK_E* code of the last error, 0 if none */
    char msg[512]; /* one line, NUL-terminated, empty if none */
} hark_err;

/* Record code and a printf-style message in err (which may be NULL).
 * Returns code, so callers can write `return err_set(err, HARK_EIO, ...)`. */
int err_set(hark_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clear err to "no error". */
void err_clear(hark_err *err);

/* A short name for a HARK_E* code ("io", "timeout", ...). Never NULL. */
const char *err_code_name(int code);

#endif
