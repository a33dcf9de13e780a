/* fs.h - small filesystem helpers: directories, removal, durability. */
#ifndef HARK_UTIL_FS_H
#define HARK_UTIL_FS_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Create dir and any missing parents with the given mode (like mkdir -p).
 * Existing directories are fine. Returns 0 or HARK_EIO with err set. */
int fs_mkdir_p(const char *dir, unsigned mode, hark_err *err);

/* Remove path recursively (a file or a directory tree). Missing is fine.
 * Does not follow symlinks. Returns 0 or HARK_EIO. */
int fs_rmtree(const char *path);

/* write(2) until all n bytes are written: a write may be interrupted by a
 * signal or write less than asked (a nearly full disk, a pipe-like
 * filesystem). 0, or -1 with errno (EIO when a write made no progress). */
int fs_write_all(int fd, const void *p, size_t n);

/* The HARK_E* code for a write that failed with errno e: HARK_ENOSPC when
 * the disk or a quota is full (ENOSPC, EDQUOT: a resource condition, worth
 * retrying later), HARK_EINVAL for EFBIG (the process's file-size limit,
 * ulimit -f: retrying cannot help), HARK_EIO otherwise. */
int fs_write_code(int e);

/* errno e as the cause in a write's error message, into buf (n bytes):
 * strerror(e), and for EFBIG the limit that was hit ("File too large:
 * over the file-size limit (ulimit -f) of 409600 bytes"). Returns buf. */
const char *fs_write_cause(int e, char *buf, size_t n);

/* fsync a directory so a rename or create inside it is durable. */
int fs_fsync_dir(const char *dir);

/* The final component of path without its last extension, into out
 * ("/a/b/talk.en.mp3" -> "talk.en"). Truncates to outlen. */
void fs_stem(const char *path, char *out, size_t outlen);

/* The directory part of path into out ("a/b.txt" -> "a", "b.txt" -> "."). */
void fs_dirname(const char *path, char *out, size_t outlen);

/* True when path names an entry directly inside dir: dir, a '/', then one
 * name (not "." or ".."). Spelling only, nothing is looked up: "/s/up/x"
 * is in "/s/up", "/s/up/a/x" and "/s/upx" are not. */
bool fs_is_entry_of(const char *dir, const char *path);

/* A per-user state directory: $XDG_STATE_HOME/hark, else $HOME/.local/state/hark,
 * else /tmp/hark-<uid>. Written to out; returns 0 or HARK_EINVAL if it does not fit. */
int fs_default_state_dir(char *out, size_t outlen);

/* Lock the file at path (created mode 0600 if missing) for this process:
 * an exclusive, non-blocking flock(2), released when the descriptor is
 * closed or the process ends (kill -9 too: nothing stale is left). who
 * names the locker ("hark serve"): it is written into the file with the
 * pid, so a refused locker can say who holds it. Returns 0 with *fd_out
 * (close-on-exec; keep it open to keep the lock), 1 when another process
 * holds the lock (holder, n bytes, gets "hark serve (pid 123)", or
 * "another process" when the file does not say), or HARK_EIO. */
int fs_lock_file(const char *path, const char *who, int *fd_out, char *holder, size_t n,
                 hark_err *err);

/* The running executable's absolute path (/proc/self/exe), for starting
 * workers from the same binary. Returns 0, or -1 with errno set. */
int fs_self_exe(char *out, size_t outlen);

#endif
