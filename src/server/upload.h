/* upload.h - a multipart/form-data request body, parsed by libmicrohttpd's
 * MHD_PostProcessor as it arrives.
 *
 * The file part is streamed to a new file in the uploads directory (never
 * held in memory): a random name, created with O_EXCL and mode 0600, at most
 * max_bytes long. The other parts are small text fields kept in capped
 * buffers. The file is made durable (fsync of the file and the directory) by
 * upload_finish, before the caller submits a job that refers to it, and is
 * removed by upload_free unless upload_keep was called, so an upload that
 * fails or is abandoned half way leaves nothing behind.
 */
#ifndef HARK_SERVER_UPLOAD_H
#define HARK_SERVER_UPLOAD_H

#include "metrics/hark_metrics.h"
#include "util/err.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#define UPLOAD_FIELD_MAX 4096     /* bytes in one text field (an array's values joined) */
#define UPLOAD_NAME_MAX 256       /* bytes of the cleaned client file name, with NUL */
#define UPLOAD_MAX_TEXT_FIELDS 32 /* names in text_fields */

typedef struct upload upload;

/* Start parsing the body of request c (its Content-Type names multipart).
 * file_field is the name of the file part; text_fields (NULL-terminated, at
 * most UPLOAD_MAX_TEXT_FIELDS names) the names of the accepted text parts:
 * any other part is an error, and so is a repeat, except of a name ending
 * in "[]", whose values are joined with commas. discard (NULL, or
 * NULL-terminated) names parts that are accepted, any number of times and
 * of any size, and dropped as they arrive: fields a caller takes but does
 * not use, whose bytes count only against the body's cap. dir is the
 * existing uploads directory. Every byte written to the file is counted
 * in metrics' hark_upload_bytes_total as it is written (metrics may be
 * NULL). Returns 0 with *out set, HARK_EINVAL (err
 * says why: no boundary, too many names), HARK_ENOMEM. */
int upload_begin(struct MHD_Connection *c, const char *dir, int64_t max_bytes,
                 hark_metrics *metrics, const char *file_field, const char *const *text_fields,
                 const char *const *discard, upload **out, hark_err *err);

/* Feed n body bytes. After the first failure the rest of the body is
 * ignored and upload_finish reports that failure. A file that grows past
 * max_bytes is removed at once. */
void upload_feed(upload *u, const char *data, size_t n);

/* The body is complete: check its framing, fsync the file and the
 * directory. 0, or HARK_EINVAL (malformed multipart, an unknown, repeated
 * or oversized field: err names it), HARK_ETOOLONG
 * (the file is larger than max_bytes), HARK_ENOSPC (the disk is full),
 * HARK_EIO (cannot write the file), HARK_ENOMEM. On error the
 * file is already gone. */
int upload_finish(upload *u, hark_err *err);

/* After upload_finish returned 0: a text field (NULL if absent or
 * discarded; it may hold any bytes but NUL-terminates), whether a file was
 * sent, its stored path and its cleaned client name (text_upload_name). */
const char *upload_field(const upload *u, const char *name);
bool upload_has_file(const upload *u);
const char *upload_path(const upload *u);
const char *upload_filename(const upload *u);

/* A job refers to the file now: upload_free must leave it. */
void upload_keep(upload *u);

/* Free (NULL is fine); removes the file unless it was kept. */
void upload_free(upload *u);

#endif
