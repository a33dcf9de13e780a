/* path_root.h - confining server-side paths (a job submitted by `path`) to
 * the directories the configuration allows (`root = DIR`, serve_config.h).
 *
 * A path is refused, before anything touches the filesystem, when it is
 * not absolute, has a ".." component, or is not spelled under a root (as
 * configured or as resolved; "." and repeated slashes do not matter), so a
 * client cannot probe what exists outside the roots. Then it is resolved
 * with realpath() and accepted only if the result is under a resolved root
 * at a component boundary (root /srv/a admits /srv/a/x, never /srv/ab), and
 * is a regular file. A symlink inside a root that leads out of every root is
 * thus refused. No roots: every path is refused.
 *
 * What is returned is the resolved path, to be opened as is. A process that
 * can change the directories under a root between the check and the open
 * (swap a directory for a symlink) could still redirect it: roots should be
 * directories that clients cannot write to.
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

/* Check path as above. Returns 0 with *resolved set to the malloc'ed
 * resolved path (free it), or, with *resolved NULL and err saying
 * "cannot read 'PATH': cause":
 *   HARK_EINVAL  not absolute, a ".." component, too long, outside the
 *                roots (or no roots), not a regular file
 *   HARK_ENOENT  not found (a missing file or directory under a root)
 *   HARK_EIO     cannot be resolved (permission denied, a symlink loop)
 *   HARK_ENOMEM
 * The path is quoted with non-printable bytes escaped (auth/quote.h). */
int path_roots_resolve(const path_roots *r, const char *path, char **resolved, hark_err *err);

#endif
