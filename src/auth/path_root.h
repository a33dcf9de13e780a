/* path_root.h - confining server-side paths (a job submitted by `path`) to
 * the directories the configuration allows (`root = DIR`, serve_config.h).
 *
 * A path is refused, before anything touches the filesystem, when it is
 * not absolute, has a ".." component, or is not spelled under a root (as
 * configured or as resolved; "." and repeated slashes do not matter), so a
 * client cannot probe what exists outside the roots. What follows the root
 * in its spelling is then opened beneath the root's directory without
 * following any symbolic link (util/beneath.h: openat2 with RESOLVE_BENEATH
 * | RESOLVE_NO_SYMLINKS), and must be a regular file. A symlink anywhere
 * under a root is refused, even one that stays inside it. No roots: every
 * path is refused.
 *
 * The check at submit answers the client at once; it is not what keeps the
 * worker inside the root. The job stores the root (resolved) and the path
 * beneath it (path_input), and the worker opens the file again the same way
 * (beneath_open_file) and decodes that very descriptor. A file or a
 * directory swapped for a symlink between submit and the worker's open
 * fails the job ("a symbolic link"); nothing outside the root is read.
 */
#ifndef HARK_AUTH_PATH_ROOT_H
#define HARK_AUTH_PATH_ROOT_H

#include "util/err.h"

#include <stddef.h>

typedef struct path_roots {
    char **resolved; /* realpath() of each root */
    char **spelled;  /* each root as configured, normalised; NULL if it had ".." */
    size_t n;
} path_roots;

/* Resolve the n configured roots (call it when the configuration is loaded).
 * Each must be an absolute path to an existing directory. Returns 0, or
 * HARK_EINVAL (relative, not a directory), HARK_ENOENT (missing), HARK_EIO
 * (cannot be resolved), HARK_ENOMEM, with err naming the root and *r empty. */
int path_roots_init(path_roots *r, char *const *roots, size_t n, hark_err *err);

/* Free what r holds; it is empty afterwards. NULL is fine. */
void path_roots_release(path_roots *r);

/* An accepted path: the resolved root it is beneath, and root + "/" + the
 * path's part after the root as the client spelled it (normalised), so
 * beneath_rel(root, path) gives what to open beneath the root. Both
 * malloc'ed. */
typedef struct path_input {
    char *root;
    char *path;
} path_input;

/* Free what p holds; both NULL afterwards. NULL is fine. */
void path_input_release(path_input *p);

/* Check path as above, opening it (and closing it again) beneath the root
 * whose spelling is the longest prefix of it. Returns 0 with *out filled
 * (release it), or, with *out empty and err saying "cannot read 'PATH':
 * cause":
 *   HARK_EINVAL  not absolute, a ".." component, too long, outside the
 *                roots (or no roots), a symbolic link on the way or at
 *                the end, not a regular file
 *   HARK_ENOENT  not found (a missing file or directory under a root)
 *   HARK_EIO     cannot be opened (permission denied)
 *   HARK_ENOMEM
 * The path is quoted with non-printable bytes escaped (auth/quote.h). */
int path_roots_check(const path_roots *r, const char *path, path_input *out, hark_err *err);

#endif
