/* submit.h - POST /v1/jobs: the fields of a submit request, from a JSON
 * body or a multipart form, checked before anything is committed.
 *
 * Every field is validated and an error names it (param): priority one of
 * realtime/high/normal/low; timeout a number of seconds > 0; path absolute,
 * under a root, existing and a regular file (submit_check_path); url an http(s) URL (downloaded by
 * a worker as the job's prepare; the job's source shows it without credentials or query); exactly
 * one of file, path and url; callback_url an http(s) URL of printable ASCII, at most
 * STORE_CALLBACK_URL_MAX bytes, accepted only when the server sends webhooks; url and
 * callback_url must not name a private, loopback or reserved address the server does not allow
 * (submit_check_destination); kind one of the job kinds (jobs/kind.h;
 * default transcribe) and options an object its kind accepts (in a form,
 * the object's JSON text); unknown fields are refused.
 */
#ifndef HARK_SERVER_SUBMIT_H
#define HARK_SERVER_SUBMIT_H

#include "server/reply.h"
#include "server/server_impl.h"
#include "server/upload.h"

#include <limits.h>
#include <stdbool.h>

/* The multipart fields: the file part and the text parts. */
#define SUBMIT_FILE_FIELD "file"
/* priority, timeout, path, url, callback_url, kind, options */
extern const char *const submit_text_fields[];
#define SUBMIT_OPTIONS_MAX 65536 /* bytes of a job's options (a keywords list fits) */
#define SUBMIT_URL_MAX 4000      /* bytes of a url: its redacted form fits a job's source */

typedef struct submit_fields {
    int priority;        /* enum store_priority; -1 when not given */
    bool has_timeout;    /* false: the server's default */
    double timeout_s;    /* > 0 when has_timeout */
    char path[PATH_MAX]; /* "" = not given */
    /* an http(s) URL to download instead, "" = not given */
    char url[SUBMIT_URL_MAX + 1];
    char callback_url[STORE_CALLBACK_URL_MAX + 1]; /* "" = not given */
    char kind[32];                                 /* "" = not given: transcribe */
    char options[SUBMIT_OPTIONS_MAX + 1];          /* a JSON object's text, "" = not given */
} submit_fields;

/* Parse a JSON body {"path": ..., "priority": ..., "timeout": ...}. 0, or
 * HARK_EINVAL with e filled (400). */
int submit_parse_json(const char *body, size_t len, submit_fields *f, api_error *e);

/* Take the text fields of a finished upload. 0, or HARK_EINVAL with e. */
int submit_parse_form(const upload *u, submit_fields *f, api_error *e);

/* Check a url or callback_url (param names which) against where the
 * server's requests may lead (net/dest.h, NULL: public addresses only):
 * 0, or HARK_EINVAL with e (403, code destination_not_allowed) when its
 * host is a numeric address that is not allowed, in any spelling
 * (2130706433, [::ffff:127.0.0.1], ...). A name passes: it is judged on
 * the address it resolves to when connected. */
int submit_check_destination(const net_dest_policy *dest, const char *param, const char *url,
                             api_error *e);

/* Check a client-given input path against the server's roots
 * (auth/path_root.h: absolute, no "..", spelled under a root, opened
 * beneath it following no symlink, a regular file). 0 with *in filled (the
 * job stores in->path and in->root; release it), or HARK_EINVAL with e:
 * 403 when no root admits it (or none is configured) or a symlink is on
 * its way, 400 when it does not exist or cannot be opened. */
int submit_check_path(const path_roots *roots, const char *path, path_input *in, api_error *e);

/* The whole request, once its body is in: json (NULL for multipart) or up
 * (finished here). Commits the job, wakes the runtime, replies 201 with the
 * job and its Location; any error is the response instead. */
enum MHD_Result handle_submit(server *s, struct MHD_Connection *c, const caller *who,
                              const buf *json, upload *up);

#endif
