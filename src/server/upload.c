/* upload.c - see upload.h. */
#include "server/upload.h"

#include "server/text.h"
#include "util/buf.h"
#include "util/fault.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PP_BUFFER_SIZE (16 * 1024) /* libmicrohttpd's buffer for part headers */
#define EXT_MAX 10                 /* longest file extension kept in the stored name */

/* The close delimiter "\r\n--BOUNDARY--" is searched for in the stream
 * (Knuth-Morris-Pratt, across the pieces the body arrives in): what
 * follows it is the epilogue, which RFC 2046 says to ignore and which
 * libmicrohttpd's post processor refuses (the openai npm package 4.x ends
 * every body with an extra CRLF). The post processor already skips a
 * preamble. */
#define BOUNDARY_MAX 200 /* RFC 2046 allows 70; some clients send longer ones */
#define CLOSE_MAX (BOUNDARY_MAX + 6)

struct upload {
    struct MHD_PostProcessor *pp;
    char close[CLOSE_MAX]; /* "\r\n--" boundary "--" */
    size_t close_len;
    unsigned char kmp[CLOSE_MAX]; /* failure function of close */
    size_t matched;               /* bytes of close matched at the end of what was fed */
    bool closed;                  /* the close delimiter went by: the rest is epilogue */
    char *dir;
    int64_t max_bytes;
    hark_metrics *metrics; /* counts the bytes written; may be NULL */
    const char *file_field;
    const char *const *names; /* accepted text fields */
    size_t n_names;
    const char *const *discard; /* accepted and dropped, NULL-terminated or NULL */
    int empty_start;            /* the text field whose part began with an empty call, or -1 */
    buf values[UPLOAD_MAX_TEXT_FIELDS];
    bool seen[UPLOAD_MAX_TEXT_FIELDS];
    bool any_part; /* the iterator was called at least once */
    bool any_body; /* some body bytes arrived */
    int fd;
    char *path; /* the stored file, NULL until created */
    char name[UPLOAD_NAME_MAX];
    bool has_file, kept;
    int64_t bytes;
    int rc; /* first failure, 0 if none */
    hark_err err;
};

/* A client-supplied part name made printable for a message. */
static const char *show(const char *s, char *out, size_t outlen)
{
    text_clean(s ? s : "", s ? strlen(s) : 0, '?', out, outlen);
    return out;
}

static void drop_file(upload *u)
{
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (u->path && !u->kept)
        unlink(u->path);
    free(u->path);
    u->path = NULL;
}

static int fail(upload *u, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record the first failure and remove the file: nothing of a failed upload
 * stays on disk, not even until the request ends. */
static int fail(upload *u, int code, const char *fmt, ...)
{
    if (u->rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(u->err.msg, sizeof u->err.msg, fmt, ap);
        va_end(ap);
        u->err.code = code;
        u->rc = code;
    }
    drop_file(u);
    return code;
}

/* The stored name keeps a short alphanumeric extension of the client's name
 * (FFmpeg probes some formats more easily with it); the rest is random. */
static void extension_of(const char *name, char *ext, size_t extlen)
{
    const char *dot = strrchr(name, '.');
    ext[0] = '\0';
    if (!dot || dot == name)
        return;
    size_t n = strlen(dot + 1);
    if (n == 0 || n > EXT_MAX || n + 2 > extlen)
        return;
    ext[0] = '.';
    for (size_t i = 0; i < n; i++) {
        char c = dot[1 + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            ext[0] = '\0';
            return;
        }
        ext[1 + i] = c;
    }
    ext[1 + n] = '\0';
}

static int create_file(upload *u, const char *filename)
{
    char ext[EXT_MAX + 2];
    text_upload_name(filename, u->name, sizeof u->name);
    extension_of(u->name, ext, sizeof ext);
    for (int tries = 0; tries < 8; tries++) {
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return fail(u, HARK_EIO, "cannot name an upload: getrandom: %s", strerror(errno));
        char hex[sizeof r * 2 + 1];
        for (size_t i = 0; i < sizeof r; i++)
            snprintf(hex + 2 * i, 3, "%02x", r[i]);
        size_t len = strlen(u->dir) + 1 + sizeof hex + sizeof ext;
        char *path = malloc(len);
        if (!path)
            return fail(u, HARK_ENOMEM, "out of memory storing an upload");
        snprintf(path, len, "%s/%s%s", u->dir, hex, ext);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            /* The umask may only take bits away; make the mode exact anyway. */
            fchmod(fd, 0600);
            u->fd = fd;
            u->path = path;
            u->has_file = true;
            return 0;
        }
        int e = errno;
        free(path);
        if (e != EEXIST)
            return fail(u, HARK_EIO, "cannot create an upload in '%s': %s", u->dir, strerror(e));
    }
    return fail(u, HARK_EIO, "cannot create an upload in '%s': no free name", u->dir);
}

static int write_file(upload *u, const char *data, size_t n)
{
    if ((int64_t)n > u->max_bytes - u->bytes)
        return fail(u, HARK_ETOOLONG, "the file is larger than the limit of %lld bytes",
                    (long long)u->max_bytes);
    int injected = fault_write_errno(u->path); /* test-only (util/fault.h) */
    while (n > 0) {
        ssize_t w = injected ? (errno = injected, -1) : write(u->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            char cause[200];
            /* A full disk is HARK_ENOSPC: the client is told to come back.
             * Anything else (the file-size limit too) is the server's fault. */
            return fail(u, fs_write_code(e) == HARK_ENOSPC ? HARK_ENOSPC : HARK_EIO,
                        "cannot write upload '%s': %s", u->path,
                        fs_write_cause(e, cause, sizeof cause));
        }
        data += w;
        n -= (size_t)w;
        u->bytes += w;
        if (u->metrics)
            hark_metrics_upload_bytes(u->metrics, w);
    }
    return 0;
}

static int on_file_part(upload *u, const char *filename, const char *data, uint64_t off,
                        size_t size)
{
    char shown[64];
    if (!filename)
        return fail(u, HARK_EINVAL, "field '%s' must be a file upload",
                    show(u->file_field, shown, sizeof shown));
    /* A new part starts at offset 0; the first call for the first one has
     * created the file. */
    if (off == 0 && u->has_file && (u->bytes > 0 || size == 0))
        return fail(u, HARK_EINVAL, "field '%s' given twice",
                    show(u->file_field, shown, sizeof shown));
    if (!u->has_file && create_file(u, filename))
        return u->rc;
    return size ? write_file(u, data, size) : 0;
}

static int on_text_part(upload *u, const char *key, const char *data, uint64_t off, size_t size)
{
    char shown[64];
    size_t i = 0;
    while (i < u->n_names && strcmp(u->names[i], key) != 0)
        i++;
    if (i == u->n_names)
        return fail(u, HARK_EINVAL, "unknown field '%s'", show(key, shown, sizeof shown));
    /* A part starts at offset 0. libmicrohttpd calls at least once per part:
     * with no data when none of the value is in yet (a client that sends a
     * part's headers and its value apart, as the npm SDK does), and then
     * again from offset 0. So a call with data at offset 0 right after an
     * empty one for the same field goes on with that part. (An empty part
     * followed by a repeat whose value is in at once reads as one part: an
     * empty array entry is lost, a repeat of a single field not noticed.) */
    bool starts = off == 0 && !(u->empty_start == (int)i && size > 0);
    u->empty_start = off == 0 && size == 0 ? (int)i : -1;
    /* A name ending in "[]" is an array (OpenAI's timestamp_granularities[]):
     * each repeat adds a comma-separated value. Any other is given once. */
    size_t klen = strlen(key);
    bool array = klen > 2 && strcmp(key + klen - 2, "[]") == 0;
    if (starts && u->seen[i] && array) {
        if (buf_append(&u->values[i], ",", 1))
            return fail(u, HARK_EINVAL, "field '%s' is longer than %d bytes",
                        show(key, shown, sizeof shown), UPLOAD_FIELD_MAX);
    } else if (starts && u->seen[i]) {
        return fail(u, HARK_EINVAL, "field '%s' given twice", show(key, shown, sizeof shown));
    }
    u->seen[i] = true;
    if (size && memchr(data, '\0', size))
        return fail(u, HARK_EINVAL, "field '%s' contains a NUL byte",
                    show(key, shown, sizeof shown));
    if (size && buf_append(&u->values[i], data, size))
        return fail(u, HARK_EINVAL, "field '%s' is longer than %d bytes",
                    show(key, shown, sizeof shown), UPLOAD_FIELD_MAX);
    return 0;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    upload *u = cls;
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (u->rc)
        return MHD_NO;
    u->any_part = true;
    if (!key) {
        fail(u, HARK_EINVAL, "malformed multipart body: a part has no name");
        return MHD_NO;
    }
    for (const char *const *d = u->discard; d && *d; d++)
        if (strcmp(key, *d) == 0) {
            u->empty_start = -1;
            return MHD_YES;
        }
    if (strcmp(key, u->file_field) == 0)
        u->empty_start = -1;
    int rc = strcmp(key, u->file_field) == 0 ? on_file_part(u, filename, data, off, size)
                                             : on_text_part(u, key, data, off, size);
    return rc ? MHD_NO : MHD_YES;
}

/* The boundary parameter of a multipart Content-Type (quoted or not) into
 * out; false when there is none or it is too long. */
static bool boundary_of(const char *ct, char *out, size_t outlen)
{
    const char *p = ct ? strchr(ct, ';') : NULL;
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            p += 9;
            size_t n;
            if (*p == '"') {
                p++;
                const char *q = strchr(p, '"');
                if (!q)
                    return false;
                n = (size_t)(q - p);
            } else {
                n = strcspn(p, "; \t");
            }
            if (n == 0 || n >= outlen)
                return false;
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
        p = strchr(p, ';');
    }
    return false;
}

static void close_init(upload *u, const char *boundary)
{
    int n = snprintf(u->close, sizeof u->close, "\r\n--%s--", boundary);
    u->close_len = n > 0 && (size_t)n < sizeof u->close ? (size_t)n : 0;
    u->kmp[0] = 0;
    for (size_t i = 1, k = 0; i < u->close_len; i++) {
        while (k > 0 && u->close[i] != u->close[k])
            k = u->kmp[k - 1];
        if (u->close[i] == u->close[k])
            k++;
        u->kmp[i] = (unsigned char)k;
    }
}

/* How many of data's n bytes come before the epilogue: n when the close
 * delimiter does not end inside them. */
static size_t before_epilogue(upload *u, const char *data, size_t n)
{
    if (u->close_len == 0)
        return n;
    size_t k = u->matched;
    for (size_t i = 0; i < n; i++) {
        while (k > 0 && data[i] != u->close[k])
            k = u->kmp[k - 1];
        if (data[i] == u->close[k])
            k++;
        if (k == u->close_len) {
            u->closed = true;
            u->matched = 0;
            return i + 1;
        }
    }
    u->matched = k;
    return n;
}

int upload_begin(struct MHD_Connection *c, const char *dir, int64_t max_bytes,
                 hark_metrics *metrics, const char *file_field, const char *const *text_fields,
                 const char *const *discard, upload **out, hark_err *err)
{
    *out = NULL;
    size_t n_names = 0;
    while (text_fields[n_names])
        n_names++;
    if (n_names > UPLOAD_MAX_TEXT_FIELDS)
        return err_set(err, HARK_EINVAL, "an upload takes at most %d text fields, not %zu",
                       UPLOAD_MAX_TEXT_FIELDS, n_names);
    upload *u = calloc(1, sizeof *u);
    if (!u)
        return err_set(err, HARK_ENOMEM, "out of memory receiving an upload");
    u->fd = -1;
    u->max_bytes = max_bytes;
    u->metrics = metrics;
    u->file_field = file_field;
    u->names = text_fields;
    u->n_names = n_names;
    u->discard = discard;
    u->empty_start = -1;
    for (size_t i = 0; i < UPLOAD_MAX_TEXT_FIELDS; i++)
        buf_init(&u->values[i], UPLOAD_FIELD_MAX);
    u->dir = strdup(dir);
    if (!u->dir) {
        upload_free(u);
        return err_set(err, HARK_ENOMEM, "out of memory receiving an upload");
    }
    char boundary[BOUNDARY_MAX + 1];
    if (boundary_of(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                    boundary, sizeof boundary))
        close_init(u, boundary);
    u->pp = MHD_create_post_processor(c, PP_BUFFER_SIZE, on_part, u);
    if (!u->pp) {
        upload_free(u);
        return err_set(err, HARK_EINVAL,
                       "malformed multipart body: the Content-Type has no usable boundary");
    }
    *out = u;
    return 0;
}

void upload_feed(upload *u, const char *data, size_t n)
{
    if (u->rc || n == 0 || u->closed)
        return;
    u->any_body = true;
    n = before_epilogue(u, data, n);
    if (MHD_post_process(u->pp, data, n) != MHD_YES)
        fail(u, HARK_EINVAL, "malformed multipart body");
}

int upload_finish(upload *u, hark_err *err)
{
    if (u->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(u->pp);
        u->pp = NULL;
        if (ok != MHD_YES)
            fail(u, HARK_EINVAL, "malformed multipart body: it ends inside a part");
    }
    if (u->rc == 0 && u->any_body && !u->any_part)
        fail(u, HARK_EINVAL, "malformed multipart body: no parts");
    if (u->rc == 0 && u->has_file) {
        if (fsync(u->fd) != 0)
            fail(u, HARK_EIO, "cannot write upload '%s': fsync: %s", u->path, strerror(errno));
        else if (close(u->fd) != 0)
            fail(u, HARK_EIO, "cannot write upload '%s': close: %s", u->path, strerror(errno));
        else if ((u->fd = -1, fs_fsync_dir(u->dir) != 0))
            fail(u, HARK_EIO, "cannot write upload '%s': fsync of the directory failed", u->path);
    }
    if (u->rc)
        return err_set(err, u->rc, "%s", u->err.msg);
    return 0;
}

const char *upload_field(const upload *u, const char *name)
{
    for (size_t i = 0; i < u->n_names; i++)
        if (strcmp(u->names[i], name) == 0)
            return u->seen[i] ? (u->values[i].data ? u->values[i].data : "") : NULL;
    return NULL;
}

bool upload_has_file(const upload *u)
{
    return u->has_file && u->rc == 0;
}

const char *upload_path(const upload *u)
{
    return u->path;
}

const char *upload_filename(const upload *u)
{
    return u->name;
}

void upload_keep(upload *u)
{
    u->kept = true;
}

void upload_free(upload *u)
{
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    drop_file(u);
    for (size_t i = 0; i < UPLOAD_MAX_TEXT_FIELDS; i++)
        buf_release(&u->values[i]);
    free(u->dir);
    free(u);
}
