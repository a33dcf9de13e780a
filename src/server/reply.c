/* reply.c - see reply.h. */
#include "server/reply.h"

#include "server/job_json.h"
#include "server/text.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is sent when not even the error body can be built. */
static const char oom_body[] = "{\"error\": {\"message\": \"out of memory\", \"type\": "
                               "\"server_error\", \"param\": null, \"code\": null}}";

static void vset(api_error *e, unsigned status, const char *param, const char *code,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void vset(api_error *e, unsigned status, const char *param, const char *code,
                 const char *fmt, va_list ap)
{
    e->status = status;
    e->param = param;
    e->code = code;
    e->allow = NULL;
    e->retry_after = NULL;
    e->content_range = NULL;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

int api_error_set(api_error *e, unsigned status, const char *param, const char *code,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, status, param, code, fmt, ap);
    va_end(ap);
    return status >= 500 ? HARK_EIO : HARK_EINVAL;
}

const char *api_error_type(unsigned status)
{
    switch (status) {
    case MHD_HTTP_NOT_FOUND:
        return "not_found_error";
    case MHD_HTTP_CONFLICT:
        return "conflict_error";
    case MHD_HTTP_UNAUTHORIZED:
        return "authentication_error";
    case MHD_HTTP_FORBIDDEN:
        return "permission_error";
    case MHD_HTTP_TOO_MANY_REQUESTS:
        return "rate_limit_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static _Thread_local reply_decorator decorate_fn;
static _Thread_local void *decorate_ctx;

void reply_decorate_begin(reply_decorator fn, void *ctx)
{
    decorate_fn = fn;
    decorate_ctx = ctx;
}

void reply_decorate_end(void)
{
    decorate_fn = NULL;
    decorate_ctx = NULL;
}

enum MHD_Result reply_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (decorate_fn)
        decorate_fn(decorate_ctx, r);
    return MHD_queue_response(c, status, r);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                             const char *content_type, const char *location, const char *allow)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = reply_queue(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_oom(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof oom_body - 1, (void *)oom_body,
                                                             MHD_RESPMEM_PERSISTENT);
    return queue(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r, "application/json", NULL, NULL);
}

enum MHD_Result reply_bytes(struct MHD_Connection *c, unsigned status, const char *content_type,
                            char *text, size_t len, const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    return queue(c, status, r, content_type, location, NULL);
}

enum MHD_Result reply_no_content(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = reply_queue(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *body,
                           const char *location)
{
    char *text = body ? json_dumps(body, JOB_JSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    if (!text)
        return reply_oom(c);
    return reply_bytes(c, status, "application/json", text, strlen(text), location);
}

enum MHD_Result reply_error(struct MHD_Connection *c, const api_error *e)
{
    char msg[sizeof e->message];
    text_clean(e->message, strnlen(e->message, sizeof e->message), '?', msg, sizeof msg);
    json_t *body = json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", msg, "type",
                             api_error_type(e->status), "param", string_or_null(e->param), "code",
                             string_or_null(e->code));
    char *text = body ? json_dumps(body, JOB_JSON_DUMP_FLAGS) : NULL;
    json_decref(body);
    if (!text)
        return reply_oom(c);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (e->retry_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, e->retry_after);
    if (e->content_range)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, e->content_range);
    return queue(c, e->status, r, "application/json", NULL, e->allow);
}

enum MHD_Result reply_errorf(struct MHD_Connection *c, unsigned status, const char *param,
                             const char *code, const char *fmt, ...)
{
    api_error e;
    va_list ap;
    va_start(ap, fmt);
    vset(&e, status, param, code, fmt, ap);
    va_end(ap);
    return reply_error(c, &e);
}
