/* upload_sweep.h - removing uploads that no job refers to.
 *
 * An upload becomes a job's input when its job is committed
 * (server/submit.c). A file in the uploads directory that no job names as
 * its input is a leftover: a partial upload cut off by kill -9 or a crash,
 * or a whole one whose job was never committed (the client was never
 * answered 201). `hark serve` sweeps them at start, before it listens, so
 * no upload is in flight.
 */
#ifndef HARK_SERVER_UPLOAD_SWEEP_H
#define HARK_SERVER_UPLOAD_SWEEP_H

#include "store/store.h"
#include "util/err.h"

/* Remove every regular file directly in dir whose name is not the last
 * component of some job's input (any job, ended ones included: their
 * inputs stay until the job is deleted). Names that are not files
 * (directories, links) are left alone. A missing dir is fine. *removed
 * (may be NULL) gets the number of files removed. Returns 0, or the
 * store's error (nothing removed then) or HARK_EIO for an unreadable dir. */
int upload_sweep(const char *dir, store *st, int *removed, hark_err *err);

/* The same, sparing files modified less than min_age_s seconds ago.
 *
 * For an uploads directory several nodes share (hark serve --shared-dir):
 * a node starting must not remove another live node's upload in flight,
 * which no job names yet. An upload in flight is written to continually
 * (the server drops a body slower than body_min_rate), and its job is
 * committed right after its last write, so a file untouched for
 * UPLOAD_SWEEP_SHARED_AGE_S is nobody's upload in flight. (Per-node
 * subdirectories would not do: the node that runs a job's last chunk, any
 * of them, removes its upload when it ends, found by the one uploads
 * directory every node is configured with.) */
#define UPLOAD_SWEEP_SHARED_AGE_S 3600
int upload_sweep_older(const char *dir, store *st, double min_age_s, int *removed, hark_err *err);

#endif
