/* reply.h - the responses of the HTTP API: JSON bodies, and errors in
 * OpenAI's shape (docs/api.md "Errors"):
 *     {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
 * The type follows from the status, so a handler only says what went wrong.
 */
#ifndef HARK_SERVER_REPLY_H
#define HARK_SERVER_REPLY_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

/* An error decided by a handler, sent by reply_error. param, code, allow,
 * retry_after and content_range are static strings (or the caller's, alive
 * until reply_error returns) or NULL (param and code: JSON null);
 * allow is the Allow header of a 405. */
typedef struct api_error {
    unsigned status;
    const char *param;
    const char *code;
    const char *allow;
    const char *retry_after;   /* Retry-After header (seconds) of a 429 or 503 */
    const char *content_range; /* Content-Range header of a 416 ("bytes * /SIZE", no space) */
    char message[512];
} api_error;

/* Fill e. The message is cleaned (text.h) when sent, so it may quote client
 * input. Returns a negative HARK_E* code (HARK_EIO for 5xx, HARK_EINVAL
 * otherwise) so parsers can `return api_error_set(...)`. */
int api_error_set(api_error *e, unsigned status, const char *param, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "invalid_request_error", "not_found_error", ... for a status. */
const char *api_error_type(unsigned status);

/* Queue e as the response. */
enum MHD_Result reply_error(struct MHD_Connection *c, const api_error *e);

/* Shorthand for reply_error with a fresh api_error. */
enum MHD_Result reply_errorf(struct MHD_Connection *c, unsigned status, const char *param,
                             const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Queue body (stolen; NULL means it could not be built: a 500) as JSON.
 * location, if not NULL, becomes the Location header. */
enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body,
                           const char *location);

/* Queue len bytes of text (malloc'ed, stolen: freed by MHD or here) with
 * the given Content-Type. */
enum MHD_Result reply_bytes(struct MHD_Connection *c, unsigned status, const char *content_type,
                            char *text, size_t len, const char *location);

/* 204 No Content. */
enum MHD_Result reply_no_content(struct MHD_Connection *c);

/* Queue r (the caller still destroys it) with the headers every answer of
 * the current request carries (see reply_decorate_begin). Every response
 * goes out through here. */
enum MHD_Result reply_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);

/* Headers that depend on the request rather than the handler (CORS): the
 * server sets a decorator on the thread that runs a request's handler, for
 * the time of that call; reply_queue applies it to every response queued
 * meanwhile. ctx belongs to the caller. */
typedef void (*reply_decorator)(void *ctx, struct MHD_Response *r);
void reply_decorate_begin(reply_decorator fn, void *ctx);
void reply_decorate_end(void);

#endif
