#include "highlights/hl_render.h"

#include "highlights/hl_json.h"
#include "util/utf8.h"

#include <math.h>
#include <string.h>

#define JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

static int dump_cb(const char *s, size_t n, void *data)
{
    return buf_append(data, s, n) == 0 ? 0 : -1;
}

static int dump_json(json_t *root, buf *dst, hark_err *err)
{
    if (!root)
        return err_set(err, HARK_ENOMEM, "cannot render highlights: out of memory");
    int rc = json_dump_callback(root, dump_cb, dst, JSON_FLAGS) == 0 ? 0 : HARK_ENOMEM;
    json_decref(root);
    if (!rc)
        rc = buf_puts(dst, "\n");
    if (rc)
        return err_set(err, HARK_ENOMEM, "cannot render highlights: output too large");
    return 0;
}

int hl_render_highlights(const hl_result *r, buf *dst, hark_err *err)
{
    return dump_json(hl_result_to_json_highlights(r), dst, err);
}

/* Whole seconds of a chapter start (chapters start on whole seconds; a
 * document from elsewhere is floored, as YouTube reads it). */
static long long whole_seconds(double t)
{
    if (!isfinite(t) || t <= 0)
        return 0;
    if (t > 1e9)
        t = 1e9;
    return (long long)floor(t + 1e-9);
}

/* Text on one line: control characters become spaces, invalid UTF-8 U+FFFD,
 * and (for the EDL) '|' a '/', cut to max bytes on a character boundary. */
static int put_line_text(buf *dst, const char *s, bool edl, size_t max)
{
    size_t n = s ? strlen(s) : 0, used = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_char_len(s + i, n - i, NULL);
        const char *piece = s + i;
        size_t plen = l;
        char one[1];
        if (l == 0) {
            piece = "\xEF\xBF\xBD";
            plen = 3;
            l = 1;
        } else if (l == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)) {
            one[0] = ' ';
            piece = one;
        } else if (l == 1 && edl && s[i] == '|') {
            one[0] = '/';
            piece = one;
        }
        if (used + plen > max)
            break;
        if (buf_append(dst, piece, plen) != 0)
            return HARK_ENOMEM;
        used += plen;
        i += l;
    }
    return 0;
}

int hl_render_chapters_txt(const hl_result *r, buf *dst, hark_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < r->n_chapters && rc == 0; i++) {
        long long s = whole_seconds(r->chapters[i].start);
        if (s >= 3600)
            rc = buf_printf(dst, "%lld:%02lld:%02lld ", s / 3600, s / 60 % 60, s % 60);
        else
            rc = buf_printf(dst, "%lld:%02lld ", s / 60, s % 60);
        if (!rc)
            rc = put_line_text(dst, r->chapters[i].title, false, 1000);
        if (!rc)
            rc = buf_puts(dst, "\n");
    }
    if (!rc && r->duration < HL_CHAPTERS_MIN_TOTAL)
        rc = buf_puts(dst, "# shorter than 30 s: YouTube shows chapters only for videos of 30 s "
                           "or more, with at least 3 chapters of 10 s\n");
    if (rc)
        return err_set(err, HARK_ENOMEM, "cannot render chapters: output too large");
    return 0;
}

int hl_render_chapters_json(const hl_result *r, buf *dst, hark_err *err)
{
    json_t *root = json_object(), *cs = json_array();
    if (!root || !cs || json_object_set_new(root, "version", json_string("1.2.0")) != 0 ||
        json_object_set(root, "chapters", cs) != 0) {
        json_decref(root);
        json_decref(cs);
        return err_set(err, HARK_ENOMEM, "cannot render chapters: out of memory");
    }
    json_decref(cs);
    for (size_t i = 0; i < r->n_chapters; i++) {
        buf t;
        buf_init(&t, 4096);
        json_t *o = json_object();
        int rc = put_line_text(&t, r->chapters[i].title, false, 1000);
        if (!o || rc || json_array_append_new(cs, o) != 0 ||
            json_object_set_new(o, "startTime",
                                json_integer(whole_seconds(r->chapters[i].start))) != 0 ||
            json_object_set_new(o, "title", json_stringn(t.data ? t.data : "", t.len)) != 0) {
            buf_release(&t);
            json_decref(root);
            return err_set(err, HARK_ENOMEM, "cannot render chapters: out of memory");
        }
        buf_release(&t);
    }
    return dump_json(root, dst, err);
}

/* --- EDL ----------------------------------------------------------------- */

static long long frames_of(double t)
{
    if (!isfinite(t) || t <= 0)
        return 0;
    if (t > 3600.0 * 22)
        t = 3600.0 * 22; /* record times add an hour; a timecode stops at 23:59:59:29 */
    return llround(t * HL_EDL_FPS);
}

static int put_tc(buf *dst, long long f)
{
    long long s = f / HL_EDL_FPS;
    return buf_printf(dst, "%02lld:%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60,
                      f % HL_EDL_FPS);
}

/* The name the EDL gives the source: its last path component. */
static const char *base_name(const char *s)
{
    if (!s || !*s)
        return "recording";
    const char *slash = strrchr(s, '/');
    return slash && slash[1] ? slash + 1 : s;
}

int hl_render_edl(const hl_result *r, buf *dst, hark_err *err)
{
    const char *name = base_name(r->source);
    const long long hour = 3600LL * HL_EDL_FPS;
    int rc = buf_puts(dst, "TITLE: ");
    if (!rc)
        rc = put_line_text(dst, name, true, 70); /* CMX: a title of up to 70 characters */
    if (!rc)
        rc = buf_puts(dst, "\nFCM: NON-DROP FRAME\n\n");
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        const hl_highlight *h = &r->h[i];
        long long a = frames_of(h->start), b = frames_of(h->end);
        if (b <= a)
            b = a + 1;
        rc = buf_printf(dst, "%03zu  001      V     C        ", (i + 1) % 1000);
        /* A marker event as Resolve writes one: source and record
         * timecodes are both the timeline's (which starts at 01:00:00:00),
         * the note before the marker fields, the duration in frames. */
        for (int pair = 0; pair < 2 && rc == 0; pair++) { /* source, then record */
            rc = put_tc(dst, hour + a);
            if (!rc)
                rc = buf_puts(dst, " ");
            if (!rc)
                rc = put_tc(dst, hour + b);
            if (!rc)
                rc = buf_puts(dst, pair ? "\n" : " ");
        }
        /* the note: the reasons */
        for (size_t k = 0; k < h->n_reasons && rc == 0; k++) {
            if (k)
                rc = buf_puts(dst, "; ");
            if (!rc)
                rc = put_line_text(dst, h->reasons[k], true, 256);
        }
        if (!rc)
            rc = buf_printf(dst, " |C:ResolveColorBlue |M:Highlight %d |D:%lld\n", h->rank, b - a);
        if (!rc)
            rc = buf_puts(dst, "* FROM CLIP NAME: ");
        if (!rc)
            rc = put_line_text(dst, name, true, 1000);
        if (!rc)
            rc = buf_puts(dst, "\n\n");
    }
    if (rc)
        return err_set(err, HARK_ENOMEM, "cannot render the EDL: output too large");
    return 0;
}

/* --- by name ------------------------------------------------------------- */

static const struct {
    const char *name, *ext, *mime;
    int (*render)(const hl_result *, buf *, hark_err *);
} formats[HL_FMT_COUNT] = {
    [HL_FMT_HIGHLIGHTS] = {"highlights", "highlights.json", "application/json",
                           hl_render_highlights},
    [HL_FMT_CHAPTERS] = {"chapters", "chapters.txt", "text/plain; charset=utf-8",
                         hl_render_chapters_txt},
    /* Podcasting 2.0 names this type for JSON chapters */
    [HL_FMT_CHAPTERS_JSON] = {"chapters_json", "chapters.json", "application/json+chapters",
                              hl_render_chapters_json},
    [HL_FMT_EDL] = {"edl", "edl", "text/plain; charset=utf-8", hl_render_edl},
};

int hl_format_parse(const char *name, hl_format *out)
{
    for (int f = 0; name && f < HL_FMT_COUNT; f++) {
        if (strcmp(name, formats[f].name) == 0) {
            *out = (hl_format)f;
            return 0;
        }
    }
    return HARK_EINVAL;
}

const char *hl_format_name(hl_format f)
{
    return (unsigned)f < HL_FMT_COUNT ? formats[f].name : "unknown";
}

const char *hl_format_ext(hl_format f)
{
    return (unsigned)f < HL_FMT_COUNT ? formats[f].ext : "out";
}

const char *hl_format_mime(hl_format f)
{
    return (unsigned)f < HL_FMT_COUNT ? formats[f].mime : "application/octet-stream";
}

int hl_render(const hl_result *r, hl_format f, buf *dst, hark_err *err)
{
    if ((unsigned)f >= HL_FMT_COUNT)
        return err_set(err, HARK_EINVAL, "cannot render highlights: unknown format %d", (int)f);
    return formats[f].render(r, dst, err);
}
