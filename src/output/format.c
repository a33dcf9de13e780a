#include "output/format.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* Indexed by out_format; the order is also the order in error messages. */
static const char *const format_names[FMT_COUNT] = {"txt", "json", "srt",
                                                    "vtt", "tsv",  "verbose_json"};
static const char *const format_exts[FMT_COUNT] = {"txt", "json", "srt",
                                                   "vtt", "tsv",  "verbose.json"};
#define FORMAT_CHOICES "txt, json, srt, vtt, tsv, verbose_json"

int out_format_parse(const char *name, out_format *out)
{
    if (!name)
        return HARK_EINVAL;
    for (int f = 0; f < FMT_COUNT; f++) {
        if (strcmp(name, format_names[f]) == 0) {
            *out = (out_format)f;
            return 0;
        }
    }
    /* whisper and OpenAI call plain text "text". */
    if (strcmp(name, "text") == 0) {
        *out = FMT_TXT;
        return 0;
    }
    return HARK_EINVAL;
}

const char *out_format_name(out_format f)
{
    return (unsigned)f < FMT_COUNT ? format_names[f] : "unknown";
}

const char *out_format_ext(out_format f)
{
    return (unsigned)f < FMT_COUNT ? format_exts[f] : "out";
}

/* Items are trimmed of surrounding spaces ("txt, srt" is what people type);
 * an empty list or an empty item is an error rather than silently ignored,
 * since "txt,,srt" is more likely a typo than an intent. */
int out_format_parse_list(const char *list, unsigned *set, hark_err *err)
{
    unsigned acc = 0;
    if (!list)
        list = "";
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n > 0 && *s == ' ') {
            s++;
            n--;
        }
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (n == 0) {
            if (!comma && p == list)
                return err_set(err, HARK_EINVAL, "no output format given (choose from %s)",
                               FORMAT_CHOICES);
            return err_set(err, HARK_EINVAL, "empty output format in '%.200s' (choose from %s)",
                           list, FORMAT_CHOICES);
        }
        char name[32];
        out_format f;
        if (n >= sizeof name) {
            return err_set(err, HARK_EINVAL, "unknown output format '%.*s' (choose from %s)",
                           (int)(n > 64 ? 64 : n), s, FORMAT_CHOICES);
        }
        memcpy(name, s, n);
        name[n] = '\0';
        if (out_format_parse(name, &f) != 0)
            return err_set(err, HARK_EINVAL, "unknown output format '%s' (choose from %s)", name,
                           FORMAT_CHOICES);
        acc |= 1u << f;
        if (!comma)
            break;
        p = comma + 1;
    }
    *set = acc;
    return 0;
}

/* ---- times ---------------------------------------------------------------
 *
 * One rounding rule everywhere: a time is rounded to the nearest millisecond,
 * halves away from zero, computed as llround(t * 1000) in double precision.
 * So 59.9995 s prints as 00:01:00,000 and 1.0005 s (whose product with 1000
 * is exactly 1000.5 in double) as 00:00:01,001. JSON uses the same rule, so
 * every format agrees on every timestamp. Negative or non-finite times (which
 * a correct engine never produces) print as 0; absurdly large ones are
 * clamped so llround stays defined. */

#define MAX_SECONDS 1e12

static long long time_ms(double t)
{
    if (!isfinite(t) || t <= 0.0)
        return 0;
    if (t > MAX_SECONDS)
        t = MAX_SECONDS;
    return llround(t * 1000.0);
}

/* HH:MM:SS<sep>mmm; hours take as many digits as needed, at least two. */
static int put_timestamp(buf *dst, long long ms, char sep)
{
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
    return buf_printf(dst, "%02lld:%02lld:%02lld%c%03lld", h, m, s, sep, r);
}

/* A segment's cue start and end in ms; the end never precedes the start. */
static void cue_times(const tr_segment *s, long long *start, long long *end)
{
    *start = time_ms(s->start);
    *end = time_ms(s->end);
    if (*end < *start)
        *end = *start;
}

/* ---- plain-text escaping --------------------------------------------------- */

enum {
    ESC_LINE = 1, /* CR and LF become spaces: one line per segment / cue */
    ESC_TAB = 2,  /* TAB becomes a space too (tsv columns) */
    ESC_HTML = 4, /* & < > as entities (WebVTT cue text) */
};

static int put_text(buf *dst, const char *s, int how)
{
    const char *run = s;
    for (const char *p = s;; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '\r':
        case '\n':
            rep = (how & ESC_LINE) ? " " : NULL;
            break;
        case '\t':
            rep = (how & ESC_TAB) ? " " : NULL;
            break;
        case '&':
            rep = (how & ESC_HTML) ? "&amp;" : NULL;
            break;
        case '<':
            rep = (how & ESC_HTML) ? "&lt;" : NULL;
            break;
        case '>':
            rep = (how & ESC_HTML) ? "&gt;" : NULL;
            break;
        default:
            break;
        }
        if (!rep && *p != '\0')
            continue;
        int rc = buf_append(dst, run, (size_t)(p - run));
        if (rc)
            return rc;
        if (*p == '\0')
            return 0;
        if ((rc = buf_puts(dst, rep)) != 0)
            return rc;
        run = p + 1;
    }
}

/* ---- txt, srt, vtt, tsv ---------------------------------------------------- */

static int render_txt(const transcript *t, buf *dst)
{
    int rc = 0;
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        rc = put_text(dst, t->segments[i].text, ESC_LINE);
        if (!rc)
            rc = buf_puts(dst, "\n");
    }
    return rc;
}

/* A cue with no text would end in a blank line right after its timing line,
 * which players read as an empty or broken cue; such segments get no cue. */
static int has_text(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 1;
    return 0;
}

/* One subtitle cue's timing line and text: "A --> B\ntext\n\n", with sep
 * before the milliseconds (',' for srt, '.' for vtt). */
static int put_cue(buf *dst, const tr_segment *s, char sep, int esc)
{
    long long a, b;
    cue_times(s, &a, &b);
    int rc = put_timestamp(dst, a, sep);
    if (!rc)
        rc = buf_puts(dst, " --> ");
    if (!rc)
        rc = put_timestamp(dst, b, sep);
    if (!rc)
        rc = buf_puts(dst, "\n");
    if (!rc)
        rc = put_text(dst, s->text, esc);
    if (!rc)
        rc = buf_puts(dst, "\n\n");
    return rc;
}

static int render_srt(const transcript *t, buf *dst)
{
    int rc = 0;
    long long cue = 0;
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const tr_segment *s = &t->segments[i];
        if (!has_text(s->text))
            continue;
        rc = buf_printf(dst, "%lld\n", ++cue);
        if (!rc)
            rc = put_cue(dst, s, ',', ESC_LINE);
    }
    return rc;
}

/* Escaping '>' also guarantees "-->" never appears in cue text, where it
 * would be read as a timing line. */
static int render_vtt(const transcript *t, buf *dst)
{
    int rc = buf_puts(dst, "WEBVTT\n\n");
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const tr_segment *s = &t->segments[i];
        if (has_text(s->text))
            rc = put_cue(dst, s, '.', ESC_LINE | ESC_HTML);
    }
    return rc;
}

static int render_tsv(const transcript *t, buf *dst)
{
    int rc = buf_puts(dst, "start\tend\ttext\n");
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const tr_segment *s = &t->segments[i];
        long long a, b;
        cue_times(s, &a, &b);
        rc = buf_printf(dst, "%lld\t%lld\t", a, b);
        if (!rc)
            rc = put_text(dst, s->text, ESC_LINE | ESC_TAB);
        if (!rc)
            rc = buf_puts(dst, "\n");
    }
    return rc;
}

/* ---- JSON ------------------------------------------------------------------
 *
 * Built with jansson and dumped with JSON_REAL_PRECISION(15) after rounding:
 * a value rounded to 3 decimals has at most 15 significant digits for any
 * time below 10^12 s, and "%.15g" prints such a value exactly as its decimal
 * form (0.1 -> 0.1, not 0.10000000000000001), while jansson keeps a ".0" on
 * integral reals (3 -> 3.0). Keys are emitted in insertion order. */

#define JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

static json_t *jreal3(double x)
{
    if (!isfinite(x))
        x = 0.0;
    if (x > MAX_SECONDS)
        x = MAX_SECONDS;
    if (x < -MAX_SECONDS)
        x = -MAX_SECONDS;
    x = round(x * 1000.0) / 1000.0;
    if (x == 0.0)
        x = 0.0; /* no "-0.0" */
    return json_real(x);
}

/* A time in seconds, by the same rule as the subtitle formats. */
static json_t *jtime(double t)
{
    return jreal3((double)time_ms(t) / 1000.0);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one.
 * Same rules as jansson: no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string for s. jansson refuses invalid UTF-8 (a file name can be any
 * bytes), so each byte that does not start a valid sequence becomes U+FFFD
 * rather than failing the whole render. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    buf b;
    buf_init(&b, 4 * strlen(s) + 1);
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc;) {
        size_t n = utf8_seq(p);
        if (n) {
            rc = buf_append(&b, p, n);
            p += n;
        } else {
            rc = buf_puts(&b, "\xEF\xBF\xBD");
            p++;
        }
    }
    j = rc ? NULL : json_stringn(b.data ? b.data : "", b.len);
    buf_release(&b);
    return j;
}

/* Set o[key] = v (v consumed). Any earlier failure, or a NULL v from a failed
 * allocation, makes the result nonzero, so a whole object can be built with
 * `rc |= set(...)` and checked once. */
static int set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

static int append(json_t *a, json_t *v)
{
    return v && json_array_append_new(a, v) == 0 ? 0 : -1;
}

static json_t *build_json(const transcript *t)
{
    json_t *root = json_object();
    json_t *segs = json_array();
    int rc = root && segs ? 0 : -1;
    if (!rc) {
        rc |= set(root, "source", jstr(t->source ? t->source : ""));
        rc |= set(root, "duration", jtime(t->duration));
        rc |= set(root, "language", jstr(t->language ? t->language : "en"));
        rc |= set(root, "text", jstr(t->text ? t->text : ""));
        rc |= set(root, "segments", json_incref(segs));
    }
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const tr_segment *s = &t->segments[i];
        json_t *seg = json_object();
        json_t *words = json_array();
        rc |= seg && words ? 0 : -1;
        if (!rc) {
            rc |= set(seg, "id", json_integer((json_int_t)i));
            rc |= set(seg, "start", jtime(s->start));
            rc |= set(seg, "end", jtime(s->end));
            rc |= set(seg, "text", jstr(s->text));
            rc |= set(seg, "confidence", jreal3(s->avg_confidence));
            rc |= set(seg, "words", json_incref(words));
        }
        for (size_t k = 0; k < s->n_words && !rc; k++) {
            const tr_word *w = &t->words[s->first_word + k];
            json_t *jw = json_object();
            rc |= jw ? 0 : -1;
            if (!rc) {
                rc |= set(jw, "word", jstr(w->text));
                rc |= set(jw, "start", jtime(w->start));
                rc |= set(jw, "end", jtime(w->end));
                rc |= set(jw, "confidence", jreal3(w->confidence));
            }
            rc |= jw ? append(words, json_incref(jw)) : -1;
            json_decref(jw);
        }
        rc |= seg ? append(segs, json_incref(seg)) : -1;
        json_decref(words);
        json_decref(seg);
    }
    json_decref(segs);
    if (rc) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* OpenAI names the language in full ("english"), not by code. */
static const char *language_name(const char *code)
{
    static const char *const names[][2] = {
        {"en", "english"}, {"de", "german"},  {"fr", "french"},
        {"es", "spanish"}, {"it", "italian"}, {"nl", "dutch"},
    };
    if (!code)
        return "english";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(code, names[i][0]) == 0)
            return names[i][1];
    return code;
}

double out_confidence_logprob(float confidence)
{
    const double floor_lp = -10.0;
    if (!(confidence > 0.0f))
        return floor_lp;
    double lp = log((double)confidence);
    return lp < floor_lp ? floor_lp : lp;
}

/* OpenAI's verbose_json. Fields whisper has and hark does not are given
 * neutral values so clients that read them keep working: seek 0, tokens [],
 * temperature 0.0, no_speech_prob 0.0, and compression_ratio 1.0 (whisper's
 * is the gzip ratio of the text, used to spot repetition loops; hark links no
 * compressor and its recognizer does not loop that way). Segment texts start
 * with a space as whisper's do; the top-level text does not. */
static json_t *build_verbose_json(const transcript *t)
{
    json_t *root = json_object();
    json_t *segs = json_array();
    json_t *words = json_array();
    int rc = root && segs && words ? 0 : -1;
    if (!rc) {
        rc |= set(root, "task", json_string("transcribe"));
        rc |= set(root, "language", jstr(language_name(t->language)));
        rc |= set(root, "duration", jtime(t->duration));
        rc |= set(root, "text", jstr(t->text ? t->text : ""));
        rc |= set(root, "segments", json_incref(segs));
        rc |= set(root, "words", json_incref(words));
    }
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const tr_segment *s = &t->segments[i];
        json_t *seg = json_object();
        buf text;
        buf_init(&text, strlen(s->text) + 2);
        rc |= seg ? 0 : -1;
        if (buf_puts(&text, " ") != 0 || buf_puts(&text, s->text) != 0)
            rc = -1;
        if (!rc) {
            rc |= set(seg, "id", json_integer((json_int_t)i));
            rc |= set(seg, "seek", json_integer(0));
            rc |= set(seg, "start", jtime(s->start));
            rc |= set(seg, "end", jtime(s->end));
            rc |= set(seg, "text", jstr(text.data));
            rc |= set(seg, "tokens", json_array());
            rc |= set(seg, "temperature", json_real(0.0));
            rc |= set(seg, "avg_logprob", jreal3(out_confidence_logprob(s->avg_confidence)));
            rc |= set(seg, "compression_ratio", json_real(1.0));
            rc |= set(seg, "no_speech_prob", json_real(0.0));
        }
        buf_release(&text);
        rc |= seg ? append(segs, json_incref(seg)) : -1;
        json_decref(seg);
    }
    for (size_t i = 0; i < t->n_words && !rc; i++) {
        const tr_word *w = &t->words[i];
        json_t *jw = json_object();
        rc |= jw ? 0 : -1;
        if (!rc) {
            rc |= set(jw, "word", jstr(w->text));
            rc |= set(jw, "start", jtime(w->start));
            rc |= set(jw, "end", jtime(w->end));
        }
        rc |= jw ? append(words, json_incref(jw)) : -1;
        json_decref(jw);
    }
    json_decref(segs);
    json_decref(words);
    if (rc) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static int dump_cb(const char *s, size_t n, void *data)
{
    return buf_append(data, s, n) == 0 ? 0 : -1;
}

static int dump_json(json_t *root, buf *dst)
{
    if (!root)
        return HARK_ENOMEM;
    int rc = json_dump_callback(root, dump_cb, dst, JSON_FLAGS) == 0 ? 0 : HARK_ENOMEM;
    json_decref(root);
    if (!rc)
        rc = buf_puts(dst, "\n");
    return rc;
}

int out_render(const transcript *t, out_format f, buf *dst, hark_err *err)
{
    size_t mark = dst->len;
    int rc;
    switch (f) {
    case FMT_TXT:
        rc = render_txt(t, dst);
        break;
    case FMT_JSON:
        rc = dump_json(build_json(t), dst);
        break;
    case FMT_SRT:
        rc = render_srt(t, dst);
        break;
    case FMT_VTT:
        rc = render_vtt(t, dst);
        break;
    case FMT_TSV:
        rc = render_tsv(t, dst);
        break;
    case FMT_VERBOSE_JSON:
        rc = dump_json(build_verbose_json(t), dst);
        break;
    default:
        return err_set(err, HARK_EINVAL, "cannot render: unknown output format %d", (int)f);
    }
    if (rc) {
        /* Leave dst as it was: never a half rendering. */
        dst->len = mark;
        if (dst->data)
            dst->data[mark] = '\0';
        return err_set(err, HARK_ENOMEM, "cannot render %s: output too large or out of memory",
                       out_format_name(f));
    }
    return 0;
}

const char *out_format_mime(out_format f)
{
    switch (f) {
    case FMT_TXT:
        return "text/plain; charset=utf-8";
    case FMT_SRT:
        return "application/x-subrip; charset=utf-8";
    case FMT_VTT:
        return "text/vtt; charset=utf-8";
    case FMT_TSV:
        return "text/tab-separated-values; charset=utf-8";
    default:
        return "application/json";
    }
}
