/* artifacts_http.c - see artifacts_http.h. */
#include "server/artifacts_http.h"

#include "server/job_json.h"
#include "server/range.h"

#include "jobs/artifacts.h"
#include "util/beneath.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An artifact never changes once listed: a year, as for any immutable
 * resource; private, as it is one caller's. */
#define ARTIFACT_CACHE_CONTROL "private, max-age=31536000, immutable"

enum MHD_Result handle_artifacts(server *s, struct MHD_Connection *c, const caller *who,
                                 const char *id)
{
    artifact_list l;
    hark_err err = {0};
    int rc = artifacts_list(s->st, caller_scope(who), id, &l, &err);
    if (rc)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    json_t *data = json_array();
    for (size_t i = 0; data && i < l.n; i++) {
        const artifact *a = &l.items[i];
        char url[STORE_ID_SIZE + ARTIFACT_NAME_MAX + 32];
        snprintf(url, sizeof url, "/v1/jobs/%s/artifacts/%s", id, a->name);
        json_t *o =
            json_pack("{s:s, s:I, s:s, s:o, s:s}", "name", a->name, "bytes", (json_int_t)a->bytes,
                      "type", a->type, "duration", job_json_number(a->duration_s), "url", url);
        if (json_array_append_new(data, o) != 0) {
            json_decref(data);
            data = NULL;
        }
    }
    artifact_list_release(&l);
    return reply_json(c, MHD_HTTP_OK,
                      data ? json_pack("{s:s, s:o}", "object", "list", "data", data) : NULL, NULL);
}

/* The record of name among job id's, 1 found (*out), 0 not, or the
 * store's error. */
static int find_record(server *s, const caller *who, const char *id, const char *name,
                       artifact *out, hark_err *err)
{
    artifact_list l;
    int rc = artifacts_list(s->st, caller_scope(who), id, &l, err);
    if (rc)
        return rc;
    int found = 0;
    for (size_t i = 0; name && i < l.n && !found; i++)
        if (strcmp(l.items[i].name, name) == 0) {
            *out = l.items[i];
            found = 1;
        }
    artifact_list_release(&l);
    return found;
}

/* RFC 9110 IMF-fixdate, in English whatever the locale. */
static void http_date(time_t t, char *out, size_t n)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, n, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void add_validators(struct MHD_Response *r, const char *etag, const char *last_modified)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, last_modified);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, ARTIFACT_CACHE_CONTROL);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
}

static enum MHD_Result not_found(struct MHD_Connection *c, const char *id, const char *name)
{
    return reply_errorf(c, MHD_HTTP_NOT_FOUND, "name", "artifact_not_found",
                        "job %s has no artifact '%.128s'", id, name ? name : "");
}

enum MHD_Result handle_artifact(server *s, struct MHD_Connection *c, const caller *who,
                                const char *id, const char *name)
{
    artifact a;
    hark_err err = {0};
    int rc = find_record(s, who, id, name, &a, &err);
    if (rc < 0)
        return reply_store_error(c, rc == HARK_EINVAL ? HARK_EIO : rc, &err, id);
    if (rc == 0 || !s->artifact_root)
        return not_found(c, id, name);

    char rel[STORE_ID_SIZE + ARTIFACT_NAME_MAX + 2];
    snprintf(rel, sizeof rel, "%s/%s", id, a.name);
    int fd = -1;
    struct stat st;
    rc = beneath_open_file(s->artifact_root, rel, a.name, &fd, &err);
    if (rc == 0 && fstat(fd, &st) != 0)
        rc = err_set(&err, HARK_EIO, "cannot stat '%s': %s", a.name, strerror(errno));
    if (rc == 0 && st.st_size != a.bytes)
        rc = err_set(&err, HARK_EIO, "'%s' has %" PRId64 " bytes, %" PRId64 " were recorded",
                     a.name, (int64_t)st.st_size, a.bytes);
    if (rc) {
        /* Recorded but missing or changed: the directory was tampered
         * with (or lost); the record says what the job made. */
        if (fd >= 0)
            close(fd);
        log_warn("job %s: artifact %s cannot be served: %s", id, a.name, err.msg);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "name", "artifact_unavailable",
                            "artifact '%s' of job %s cannot be read: %s", a.name, id, err.msg);
    }

    int64_t size = st.st_size;
    char etag[80], last_modified[40];
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)size,
             (uint64_t)st.st_ino,
             (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
    http_date(st.st_mtim.tv_sec, last_modified, sizeof last_modified);

    if (http_none_match(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
        close(fd);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        add_validators(r, etag, last_modified);
        enum MHD_Result ret = reply_queue(c, MHD_HTTP_NOT_MODIFIED, r);
        MHD_destroy_response(r);
        return ret;
    }

    http_range part = {0, size - 1};
    int v = HTTP_RANGE_NONE;
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Range");
    if (http_range_if_range(if_range, etag, last_modified))
        v = http_range_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
                             size, &part);
    if (v == HTTP_RANGE_UNSATISFIABLE) {
        close(fd);
        char cr[HTTP_RANGE_CONTENT_RANGE_MAX];
        http_range_content_range(NULL, size, cr, sizeof cr);
        api_error e;
        api_error_set(&e, MHD_HTTP_RANGE_NOT_SATISFIABLE, "Range", "range_not_satisfiable",
                      "artifact '%s' has %" PRId64 " bytes: the range asked for is past its end",
                      a.name, size);
        e.content_range = cr;
        return reply_error(c, &e);
    }
    if (v != HTTP_RANGE_OK)
        part = (http_range){0, size - 1};
    /* libmicrohttpd owns fd from here: it closes it with the response. */
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(
        (uint64_t)(part.last - part.first + 1), fd, (uint64_t)part.first);
    if (!r) {
        close(fd);
        return reply_errorf(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory");
    }
    char disposition[ARTIFACT_NAME_MAX + 32], cr[HTTP_RANGE_CONTENT_RANGE_MAX];
    /* The name is [A-Za-z0-9._-] (artifact_name_ok): nothing to quote. */
    snprintf(disposition, sizeof disposition, "inline; filename=\"%s\"", a.name);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    add_validators(r, etag, last_modified);
    if (v == HTTP_RANGE_OK) {
        http_range_content_range(&part, size, cr, sizeof cr);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    enum MHD_Result ret =
        reply_queue(c, v == HTTP_RANGE_OK ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
