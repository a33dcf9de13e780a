/* live_format.c - live input formats: names, and what the first bytes of a body look like.
 *
 * live_format_check_head is what the server runs on the first append of a
 * live job, before any decoding, so a client that sends the wrong thing
 * (a WAV file to an s16le job, an error page, JSON) hears it at once and
 * in words. Only whole magic numbers count: a body shorter than a magic
 * cannot be judged by it.
 */
#include "media/live_framing.h"
#include "media/live_input.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {"s16le", "webm", "ogg", "mp4"};

const char *live_format_name(enum live_format f)
{
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "unknown";
}

const char *live_format_label(enum live_format f)
{
    static const char *const labels[] = {"raw s16le", "WebM", "Ogg", "MP4"};
    return (unsigned)f < sizeof labels / sizeof *labels ? labels[f] : "unknown";
}

int live_format_parse(const char *name, enum live_format *out, hark_err *err)
{
    for (unsigned i = 0; name && i < sizeof names / sizeof *names; i++)
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum live_format)i;
            return 0;
        }
    if (name && (strcasecmp(name, "matroska") == 0 || strcasecmp(name, "mkv") == 0)) {
        *out = LIVE_WEBM;
        return 0;
    }
    return err_set(err, HARK_EINVAL,
                   "unknown live audio format '%.40s' (allowed: s16le, webm, ogg, mp4)",
                   name ? name : "");
}

/* ---- what bytes look like ---- */

static bool starts(const uint8_t *p, size_t n, const char *magic, size_t len)
{
    return n >= len && memcmp(p, magic, len) == 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An MPEG audio frame header (MP3, MP2) or an ADTS (AAC) one at p. */
static const char *mpeg_sync(const uint8_t *p, size_t n)
{
    if (n < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0)
        return NULL;
    int version = (p[1] >> 3) & 3, layer = (p[1] >> 1) & 3;
    if (layer == 0) /* ADTS: MPEG-4 or -2 AAC; version bit is ID, layer 0 */
        return (p[1] & 0xF6) == 0xF0 && ((p[2] >> 2) & 15) < 13 ? "an AAC (ADTS) stream" : NULL;
    int bitrate = p[2] >> 4, rate = (p[2] >> 2) & 3;
    if (version == 1 || bitrate == 15 || rate == 3)
        return NULL;
    return "an MP3 file";
}

/* Printable ASCII, tab, CR, LF, or well-formed UTF-8 (a sequence cut by the
 * end of the head counts). */
static bool is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        int more = c >= 0xC2 && c <= 0xDF   ? 1
                   : c >= 0xE0 && c <= 0xEF ? 2
                   : c >= 0xF0 && c <= 0xF4 ? 3
                                            : -1;
        if (more < 0)
            return false;
        for (int k = 1; k <= more; k++) {
            if (i + (size_t)k >= n)
                return true;
            if ((p[i + (size_t)k] & 0xC0) != 0x80)
                return false;
        }
        i += (size_t)more + 1;
    }
    return true;
}

/* Text: what kind (JSON, HTML, XML, a form, plain), given it is text. */
static const char *text_kind(const uint8_t *p, size_t n)
{
    size_t i = starts(p, n, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == n)
        return "blank text";
    if (p[i] == '{' || p[i] == '[')
        return "JSON text";
    if (p[i] == '<') {
        const char *s = (const char *)p + i;
        size_t m = n - i;
        if ((m >= 9 && strncasecmp(s, "<!doctype", 9) == 0) ||
            (m >= 5 && strncasecmp(s, "<html", 5) == 0) ||
            (m >= 5 && strncasecmp(s, "<head", 5) == 0) ||
            (m >= 5 && strncasecmp(s, "<body", 5) == 0))
            return "an HTML page";
        if (m >= 5 && strncmp(s, "<?xml", 5) == 0)
            return "an XML document";
        return "markup (HTML or XML)";
    }
    if (n - i >= 2 && p[i] == '-' && p[i + 1] == '-')
        return "a multipart form body";
    return "plain text";
}

/* What the head looks like, or NULL. strict (for s16le, where anything is
 * a sample): only magic numbers no recording plausibly starts with, and
 * text only when there are 8 bytes or more of it. */
static const char *looks_like(const uint8_t *p, size_t n, bool strict)
{
    if (starts(p, n, "RIFF", 4))
        return n >= 12 && memcmp(p + 8, "WAVE", 4) == 0 ? "a WAV file" : "a RIFF file";
    if (starts(p, n, "OggS", 4))
        return "an Ogg stream";
    if (starts(p, n, "\x1A\x45\xDF\xA3", 4))
        return "a WebM/Matroska stream";
    if (n >= 8 && (memcmp(p + 4, "ftyp", 4) == 0 || memcmp(p + 4, "styp", 4) == 0) &&
        be32(p) >= 8 && be32(p) <= 4096)
        return "an MP4 file";
    if (starts(p, n, "fLaC", 4))
        return "a FLAC file";
    if (n >= 5 && starts(p, n, "ID3", 3) && p[3] >= 2 && p[3] <= 4 && p[4] != 0xFF)
        return "an MP3 file (ID3 tag)";
    if (starts(p, n, "#!AMR", 5))
        return "an AMR file";
    if (starts(p, n, "\x30\x26\xB2\x75\x8E\x66\xCF\x11", 8))
        return "a WMA/ASF file";
    if (starts(p, n, "caff", 4))
        return "a CAF file";
    if (starts(p, n, "FORM", 4) && n >= 12 &&
        (memcmp(p + 8, "AIFF", 4) == 0 || memcmp(p + 8, "AIFC", 4) == 0))
        return "an AIFF file";
    if (!strict) {
        const char *m = mpeg_sync(p, n);
        if (m)
            return m;
    }
    size_t t = n < 256 ? n : 256;
    if (t >= (strict ? 8u : 1u) && is_text(p, t))
        return text_kind(p, t);
    return NULL;
}

/* Does the head begin the way a stream of format f must? Only the bytes
 * present are judged. */
static bool head_matches(enum live_format f, const uint8_t *p, size_t n)
{
    static const uint8_t ebml[4] = {0x1A, 0x45, 0xDF, 0xA3};
    size_t k;
    switch (f) {
    case LIVE_WEBM:
        k = n < 4 ? n : 4;
        return memcmp(p, ebml, k) == 0;
    case LIVE_OGG:
        k = n < 4 ? n : 4;
        return memcmp(p, "OggS", k) == 0 && (n < 5 || p[4] == 0);
    case LIVE_MP4:
        if (n >= 4 && (be32(p) < 8 || be32(p) > 4096))
            return false;
        if (n <= 4)
            return true;
        k = n < 8 ? n - 4 : 4;
        return memcmp(p + 4, "ftyp", k) == 0;
    case LIVE_S16LE:
        return true;
    }
    return false;
}

int live_format_check_head(enum live_format f, const void *head, size_t n, hark_err *err)
{
    const uint8_t *p = head;
    if (n == 0)
        return 0;
    if (f == LIVE_S16LE) {
        const char *like = looks_like(p, n, true);
        if (!like)
            return 0;
        return err_set(err, HARK_EMEDIA,
                       "the audio is not raw s16le samples (it starts like %s): send raw s16le "
                       "samples, or create the live job with format webm/ogg/mp4",
                       like);
    }
    if ((unsigned)f > LIVE_MP4)
        return err_set(err, HARK_EINVAL, "unknown live audio format %d", (int)f);
    if (head_matches(f, p, n))
        return 0;
    const char *like = looks_like(p, n, false);
    if (like)
        return err_set(err, HARK_EMEDIA, "the audio is not %s %s stream (it starts like %s)",
                       f == LIVE_WEBM ? "a" : "an", live_format_label(f), like);
    char hex[3 * 8 + 1] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02X", i ? " " : "", p[i]);
    return err_set(err, HARK_EMEDIA, "the audio is not %s %s stream (its first bytes are %s)",
                   f == LIVE_WEBM ? "a" : "an", live_format_label(f), hex);
}
