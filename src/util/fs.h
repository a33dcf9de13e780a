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

/* The running executable's absolute path (/proc/self/exe), for starting
 * workers from the same binary. Returns 0, or -1 with errno set. */
int fs_self_exe(char *out, size_t outlen);

#endif
