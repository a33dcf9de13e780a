/* beneath.h - opening a file beneath a directory, following no symbolic link.
 *
 * What is checked is what is used (DESIGN.md invariant 10): a server-side
 * input path is not checked by name and opened by name later, when a client
 * who can write under the root may have swapped the file, or a directory on
 * its way, for a symlink that leads out. It is opened in one step, relative
 * to a descriptor of its root, with openat2(2)'s RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, and the descriptor that was
 * checked (a regular file) is the one the decoder reads.
 *
 * Every symbolic link under the root is refused, even one that would stay
 * inside it: simplest to state and to check, and a link is then never a
 * question of when it is resolved. The root itself is opened as configured
 * (following links: it is the operator's). Mount points under a root are
 * crossed; a hard link is a file like any other (keep roots on filesystems
 * where fs.protected_hardlinks stops clients linking what they cannot read).
 */
#ifndef HARK_UTIL_BENEATH_H
#define HARK_UTIL_BENEATH_H

#include "util/err.h"

#include <stdbool.h>

/* Open rel beneath the directory dirfd with flags (O_CLOEXEC and O_NOFOLLOW
 * are added), following no symbolic link on the way or at the end. rel is
 * relative, without ".." components; empty and "." components are skipped.
 * Where the kernel has no openat2 (before 5.6, or a seccomp filter answering
 * ENOSYS or EPERM), the same walk is done one component at a time, each
 * directory opened O_PATH | O_DIRECTORY | O_NOFOLLOW relative to the one
 * before. Returns the new descriptor, or -1 with errno: ELOOP a symbolic
 * link on the way or at the end, EXDEV rel is absolute or has "..", ENOENT
 * (also for an empty rel), ENOTDIR, EACCES, ... */
int beneath_openat(int dirfd, const char *rel, int flags);

/* Tests: take the component walk even where openat2 exists. */
extern bool beneath_walk_only;

/* Where path (as root + "/" + rel) goes on below root: a pointer into path
 * after root and its slash ("" when path is root itself), or NULL when path
 * is not spelled under root. No normalisation: both as stored. */
const char *beneath_rel(const char *root, const char *path);

/* Open rel beneath the directory root (opened as given) for reading, as
 * beneath_openat does, and check it is a regular file (a FIFO is opened
 * without blocking, then refused). name is how messages call the file
 * (shown as is: quote it first if it is untrusted). Returns 0 with *fd
 * (O_RDONLY, blocking, close-on-exec; the caller closes it), or -1 in *fd
 * and err "cannot read 'NAME': cause":
 *   HARK_EINVAL  a symbolic link on the way or at the end ("a symbolic
 *                link: links are not followed under a root"), rel leads
 *                out ("outside the allowed roots"), not a regular file
 *   HARK_ENOENT  not found (a missing file or directory, a file used as a
 *                directory)
 *   HARK_EIO     the root cannot be opened, permission denied, ...
 *   HARK_ENOMEM */
int beneath_open_file(const char *root, const char *rel, const char *name, int *fd, hark_err *err);

#endif
