/* live_framing.c - top-level structure of WebM, Ogg and MP4 streams, byte by byte (see
 * live_framing.h).
 *
 * One state machine per container, the same three states for each: gather
 * a header (element ID and size, page header and segment table, box size
 * and type), judge it against where it stands, then pass its payload
 * without looking (Ogg: through the CRC). Headers are a few bytes; payloads
 * are passed in bulk, so the cost is a pass over the bytes.
 */
#include "media/live_framing.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { ST_HEAD, ST_SIZE, ST_SEGS, ST_BODY, ST_BAD };

/* Mark the framing broken at `at`. Always returns false. */
static bool fail(live_framing *fr, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(live_framing *fr, int64_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fr->why, sizeof fr->why, fmt, ap);
    va_end(ap);
    fr->bad_at = at;
    fr->state = ST_BAD;
    return false;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Pass a payload of n bytes (0: the header ends the unit at once). */
static void start_body(live_framing *fr, int64_t n)
{
    fr->skip = n;
    fr->state = ST_BODY;
    fr->hn = 0;
}

/* ---- WebM (EBML) ---- */

#define ID_EBML 0x1A45DFA3u
#define ID_SEGMENT 0x18538067u
#define ID_CLUSTER 0x1F43B675u
#define ID_VOID 0xECu
#define ID_CRC32 0xBFu
#define ID_SIMPLEBLOCK 0xA3u
#define ID_BLOCKGROUP 0xA0u

static const struct {
    uint32_t id;
    const char *name;
    int level; /* 1: a child of Segment, 2: of Cluster, 0: either (Void, CRC-32) */
} webm_ids[] = {
    {0x114D9B74, "SeekHead", 1},
    {0x1549A966, "Info", 1},
    {0x1654AE6B, "Tracks", 1},
    {0x1C53BB6B, "Cues", 1},
    {0x1941A469, "Attachments", 1},
    {0x1043A770, "Chapters", 1},
    {0x1254C367, "Tags", 1},
    {ID_CLUSTER, "Cluster", 1},
    {ID_VOID, "Void", 0},
    {ID_CRC32, "CRC-32", 0},
    {0xE7, "Timestamp", 2},
    {0x5854, "SilentTracks", 2},
    {0xA7, "Position", 2},
    {0xAB, "PrevSize", 2},
    {ID_SIMPLEBLOCK, "SimpleBlock", 2},
    {ID_BLOCKGROUP, "BlockGroup", 2},
    {0xAF, "EncryptedBlock", 2},
};

/* The level an ID belongs at (1 or 2, 0 for both), -1 if not one we know. */
static int webm_level(uint32_t id)
{
    for (size_t i = 0; i < sizeof webm_ids / sizeof *webm_ids; i++)
        if (webm_ids[i].id == id)
            return webm_ids[i].level;
    return -1;
}

static const char *webm_name(uint32_t id, char *buf, size_t len)
{
    if (id == ID_EBML)
        return "EBML header";
    if (id == ID_SEGMENT)
        return "Segment";
    for (size_t i = 0; i < sizeof webm_ids / sizeof *webm_ids; i++)
        if (webm_ids[i].id == id)
            return webm_ids[i].name;
    snprintf(buf, len, "element 0x%X", id);
    return buf;
}

/* The nearest end an element may not cross: the closest known one among
 * the Segment and Cluster we are in; -1 if none is known. */
static int64_t webm_limit(const live_framing *fr)
{
    for (int d = fr->depth; d >= 1; d--)
        if (fr->end[d] >= 0)
            return fr->end[d];
    return -1;
}

/* At an element boundary `at`: leave the Segment or Cluster whose known size ends there. */
static void webm_pop_ended(live_framing *fr, int64_t at)
{
    for (int d = 1; d <= fr->depth; d++)
        if (fr->end[d] >= 0 && at >= fr->end[d]) {
            fr->depth = d - 1;
            return;
        }
}

static bool webm_second_stream(live_framing *fr, int64_t at)
{
    return fail(fr, at,
                "a second WebM stream starts here: a live job takes one stream (was the "
                "recorder restarted?)");
}

/* A complete element header: ID id, payload size (unknown: -1) from fr->off. */
static bool webm_element(live_framing *fr, uint32_t id, int64_t size)
{
    int64_t at = fr->unit_start, data = fr->off;
    char nb[32];
    const char *name = webm_name(id, nb, sizeof nb);
    int level = webm_level(id);
    bool descend = false;
    int64_t cap = LIVE_MAX_HEADER_ELEMENT;
    for (;;) {
        if (fr->depth == 0) {
            if (fr->units == 0 && id != ID_EBML)
                return fail(fr, at, "no EBML header: not a WebM stream");
            if (id == ID_EBML && fr->units > 0)
                return webm_second_stream(fr, at);
            if (id == ID_SEGMENT && fr->saw_segment)
                return webm_second_stream(fr, at);
            if (id == ID_EBML)
                cap = 4096;
            else if (id == ID_SEGMENT)
                descend = true, fr->saw_segment = true;
            else if (id != ID_VOID)
                return fail(fr, at, "unexpected %s at the top level", name);
            fr->units++;
            break;
        }
        if (fr->depth == 1) {
            if (id == ID_EBML || id == ID_SEGMENT)
                return webm_second_stream(fr, at);
            if (id == ID_CLUSTER)
                descend = true;
            else if (level != 1 && level != 0)
                return fail(fr, at, "unexpected %s in the Segment", name);
            break;
        }
        /* In a Cluster: its children; if its size is unknown, a level-1
         * element (or a new stream) ends it. */
        if (level == 2 || level == 0) {
            cap = LIVE_MAX_BLOCK;
            break;
        }
        if (fr->end[2] < 0 && (level == 1 || id == ID_EBML || id == ID_SEGMENT)) {
            fr->depth = 1;
            continue;
        }
        return fail(fr, at, "unexpected %s in a Cluster", name);
    }
    int64_t limit = webm_limit(fr);
    if (size < 0) {
        if (!descend)
            return fail(fr, at, "the %s has an unknown size", name);
        if (limit >= 0)
            return fail(fr, at, "the %s has an unknown size inside an element of known size", name);
    } else {
        if (limit >= 0 && data + size > limit)
            return fail(fr, at, "the %s of %lld bytes runs past the end of its parent", name,
                        (long long)size);
        if (!descend && size > cap)
            return fail(fr, at, "the %s of %lld bytes is over the limit of %lld", name,
                        (long long)size, (long long)cap);
    }
    if (descend) {
        fr->depth++;
        fr->end[fr->depth] = size < 0 ? -1 : data + size;
        fr->state = ST_HEAD;
        fr->hn = 0;
        return true;
    }
    start_body(fr, size);
    return true;
}

static bool webm_byte(live_framing *fr, uint8_t c)
{
    if (fr->state == ST_HEAD) {
        if (fr->hn == 0) {
            fr->unit_start = fr->off - 1;
            if (c == 0xFF || c < 0x10)
                return fail(fr, fr->unit_start, "0x%02X cannot start an element ID", c);
            fr->hneed = c >= 0x80 ? 1 : c >= 0x40 ? 2 : c >= 0x20 ? 3 : 4;
        }
        fr->hdr[fr->hn++] = c;
        if (fr->hn == fr->hneed) {
            fr->state = ST_SIZE;
            fr->hdr[8] = (uint8_t)fr->hn; /* the ID's length, kept past the ID */
            fr->hn = 0;
        }
        return true;
    }
    /* ST_SIZE: a variable-length integer; hdr[9..] holds it */
    if (fr->hn == 0) {
        if (c == 0)
            return fail(fr, fr->unit_start, "an element size longer than 8 bytes");
        int len = 1;
        while (!(c & (0x80 >> (len - 1))))
            len++;
        fr->hneed = len;
    }
    fr->hdr[9 + fr->hn++] = c;
    if (fr->hn < fr->hneed)
        return true;
    int len = fr->hneed;
    uint64_t v = fr->hdr[9] & (0xFFu >> len);
    bool all_ones = v == (0xFFu >> len);
    for (int i = 1; i < len; i++) {
        v = v << 8 | fr->hdr[9 + i];
        all_ones = all_ones && fr->hdr[9 + i] == 0xFF;
    }
    uint32_t id = 0;
    for (int i = 0; i < fr->hdr[8]; i++)
        id = id << 8 | fr->hdr[i];
    fr->hn = 0;
    if (!all_ones && v > (uint64_t)INT64_MAX / 2)
        return fail(fr, fr->unit_start, "an element size of %llu bytes", (unsigned long long)v);
    return webm_element(fr, id, all_ones ? -1 : (int64_t)v);
}

static void webm_body_done(live_framing *fr)
{
    fr->state = ST_HEAD;
    fr->hn = 0;
}

/* ---- Ogg ---- */

static uint32_t ogg_crc_table[256];
static pthread_once_t ogg_crc_once = PTHREAD_ONCE_INIT;

static void ogg_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++)
            r = r & 0x80000000u ? r << 1 ^ 0x04C11DB7u : r << 1;
        ogg_crc_table[i] = r;
    }
}

static uint32_t ogg_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = crc << 8 ^ ogg_crc_table[(crc >> 24 ^ p[i]) & 0xFF];
    return crc;
}

static bool ogg_page_done(live_framing *fr)
{
    if (fr->crc != fr->page_crc)
        return fail(fr, fr->unit_start, "the page's checksum does not match");
    fr->units++;
    fr->state = ST_HEAD;
    fr->hn = 0;
    return true;
}

static bool ogg_byte(live_framing *fr, uint8_t c)
{
    if (fr->state == ST_SEGS) {
        fr->lacing[fr->hn++] = c;
        fr->crc = ogg_crc(fr->crc, &c, 1);
        if (--fr->segs_left > 0)
            return true;
        int64_t body = 0;
        for (int i = 0; i < fr->hn; i++) {
            body += fr->lacing[i];
            fr->packet_len += fr->lacing[i];
            if (fr->packet_len > LIVE_MAX_OGG_PACKET)
                return fail(fr, fr->unit_start, "a packet over the limit of %d bytes",
                            LIVE_MAX_OGG_PACKET);
            if (fr->lacing[i] < 255)
                fr->packet_len = 0;
        }
        start_body(fr, body);
        if (body == 0)
            return ogg_page_done(fr);
        return true;
    }
    static const char capture[4] = {'O', 'g', 'g', 'S'};
    if (fr->hn == 0)
        fr->unit_start = fr->off - 1;
    if (fr->hn < 4 && c != (uint8_t)capture[fr->hn])
        return fail(fr, fr->unit_start, "no Ogg page starts here");
    if (fr->hn == 4 && c != 0)
        return fail(fr, fr->unit_start, "an Ogg page of version %d", c);
    if (fr->hn == 5 && c > 7)
        return fail(fr, fr->unit_start, "an Ogg page with flags 0x%02X", c);
    if (fr->hn == 5 && fr->units == 0 && (c & 3) != 2)
        return fail(fr, fr->unit_start, "the first page does not begin a logical stream");
    fr->hdr[fr->hn++] = c;
    if (fr->hn < 27)
        return true;
    fr->page_crc = le32(fr->hdr + 22);
    memset(fr->hdr + 22, 0, 4);
    fr->crc = ogg_crc(0, fr->hdr, 27);
    fr->segs_left = fr->hdr[26];
    fr->hn = 0;
    if (!(fr->hdr[5] & 1))
        fr->packet_len = 0; /* not a continuation: a packet left open was cut (FFmpeg drops it) */
    if (fr->segs_left == 0) {
        start_body(fr, 0);
        return ogg_page_done(fr);
    }
    fr->state = ST_SEGS;
    return true;
}

/* ---- MP4 (ISO BMFF) ---- */

static bool mp4_type_is(const uint8_t *t, const char *name)
{
    return memcmp(t, name, 4) == 0;
}

static bool mp4_box(live_framing *fr, const uint8_t *type, int64_t size, int hlen)
{
    int64_t at = fr->unit_start;
    char name[5];
    for (int i = 0; i < 4; i++)
        name[i] = type[i] >= 0x20 && type[i] < 0x7F ? (char)type[i] : '?';
    name[4] = '\0';
    if (size != 0 && size < hlen)
        return fail(fr, at, "an MP4 box of %lld bytes", (long long)size);
    int64_t cap = LIVE_MAX_HEADER_ELEMENT;
    if (fr->units == 0) {
        if (!mp4_type_is(type, "ftyp") || size > 4096 || size == 0)
            return fail(fr, at, "no 'ftyp' box: not an MP4 stream");
    } else if (mp4_type_is(type, "ftyp")) {
        return fail(fr, at,
                    "a second MP4 stream starts here: a live job takes one stream (was "
                    "the recorder restarted?)");
    } else if (mp4_type_is(type, "moov")) {
        if (fr->saw_moov)
            return fail(fr, at, "a second 'moov' box");
        fr->saw_moov = true;
        fr->init_end = at + size;
        cap = LIVE_MAX_MOOV;
    } else if (mp4_type_is(type, "moof") || mp4_type_is(type, "mdat")) {
        if (!fr->saw_moov)
            return fail(
                fr, at,
                "media data before the movie header: the MP4 is not fragmented "
                "(write it with -movflags frag_keyframe+empty_moov, as MediaRecorder does)");
        cap = -1;
        if (mp4_type_is(type, "moof")) {
            cap = LIVE_MAX_MOOF;
            fr->moofs[fr->n_moofs++ % 64] = at;
        }
    } else if (mp4_type_is(type, "free") || mp4_type_is(type, "skip") ||
               mp4_type_is(type, "wide")) {
        cap = -1; /* passed over by the demuxer, never held */
    } else {
        /* styp, sidx, ssix, prft, emsg, mfra, meta, udta, uuid, ... and
         * boxes of later revisions: any lowercase name, as a garbage byte
         * run is unlikely to spell one. */
        for (int i = 0; i < 4; i++)
            if (!((type[i] >= 'a' && type[i] <= 'z') || (type[i] >= '0' && type[i] <= '9')))
                return fail(fr, at, "no MP4 box starts here (type '%s')", name);
    }
    if (size == 0) {
        if (!mp4_type_is(type, "mdat"))
            return fail(fr, at, "a '%s' box of unknown size", name);
        fr->to_end = true;
    } else if (cap >= 0 && size > cap) {
        return fail(fr, at, "a '%s' box of %lld bytes is over the limit of %lld", name,
                    (long long)size, (long long)cap);
    }
    fr->units++;
    start_body(fr, size == 0 ? INT64_MAX : size - hlen);
    return true;
}

static bool mp4_byte(live_framing *fr, uint8_t c)
{
    if (fr->hn == 0) {
        fr->unit_start = fr->off - 1;
        fr->hneed = 8;
    }
    fr->hdr[fr->hn++] = c;
    if (fr->hn < fr->hneed)
        return true;
    uint32_t size32 = be32(fr->hdr);
    if (fr->hneed == 8 && size32 == 1) {
        fr->hneed = 16; /* a 64-bit size follows the type */
        return true;
    }
    int64_t size = size32;
    if (fr->hneed == 16) {
        uint64_t big = (uint64_t)be32(fr->hdr + 8) << 32 | be32(fr->hdr + 12);
        if (big > (uint64_t)INT64_MAX / 2)
            return fail(fr, fr->unit_start, "an MP4 box of %llu bytes", (unsigned long long)big);
        size = (int64_t)big;
        if (size == 0)
            return fail(fr, fr->unit_start, "an MP4 box of 0 bytes");
    }
    int hlen = fr->hneed;
    fr->hn = 0;
    return mp4_box(fr, fr->hdr + 4, size, hlen);
}

int64_t live_framing_fragment_of(const live_framing *fr, int64_t pos)
{
    unsigned kept = fr->n_moofs < 64 ? fr->n_moofs : 64;
    for (unsigned i = 1; i <= kept; i++) {
        int64_t m = fr->moofs[(fr->n_moofs - i) % 64];
        if (m <= pos)
            return m;
    }
    return -1;
}

/* ---- the common loop ---- */

void live_framing_init(live_framing *fr, enum live_format f)
{
    memset(fr, 0, sizeof *fr);
    fr->f = f;
    fr->bad_at = -1;
    fr->state = ST_HEAD;
    if (f == LIVE_OGG)
        pthread_once(&ogg_crc_once, ogg_crc_init);
}

size_t live_framing_feed(live_framing *fr, const uint8_t *p, size_t n)
{
    int64_t first = fr->off;
    size_t i = 0;
    while (i < n && fr->state != ST_BAD) {
        if (fr->state == ST_BODY) {
            size_t take = (uint64_t)fr->skip < n - i ? (size_t)fr->skip : n - i;
            if (fr->f == LIVE_OGG)
                fr->crc = ogg_crc(fr->crc, p + i, take);
            i += take;
            fr->off += (int64_t)take;
            if (!fr->to_end)
                fr->skip -= (int64_t)take;
            if (fr->skip > 0)
                continue;
            if (fr->f == LIVE_WEBM)
                webm_body_done(fr);
            else if (fr->f == LIVE_OGG)
                ogg_page_done(fr);
            else
                fr->state = ST_HEAD;
            continue;
        }
        uint8_t c = p[i++];
        fr->off++;
        if (fr->f == LIVE_WEBM) {
            if (fr->state == ST_HEAD && fr->hn == 0)
                webm_pop_ended(fr, fr->off - 1); /* the boundary is before this byte */
            webm_byte(fr, c);
        } else if (fr->f == LIVE_OGG) {
            ogg_byte(fr, c);
        } else if (fr->f == LIVE_MP4) {
            mp4_byte(fr, c);
        }
    }
    if (fr->state != ST_BAD)
        return n;
    return fr->bad_at > first ? (size_t)(fr->bad_at - first) : 0;
}

bool live_framing_ended_cleanly(live_framing *fr)
{
    if (fr->off == 0 || fr->state == ST_BAD)
        return fr->state != ST_BAD;
    char nb[32];
    if (fr->f == LIVE_MP4) {
        if (fr->to_end || (fr->state == ST_HEAD && fr->hn == 0)) {
            if (fr->saw_moov)
                return true;
            snprintf(fr->why, sizeof fr->why, "it ends before its movie header ('moov')");
            return false;
        }
        snprintf(fr->why, sizeof fr->why, "it ends inside the box that starts at byte %lld",
                 (long long)fr->unit_start);
        return false;
    }
    if (fr->f == LIVE_OGG) {
        if (fr->state == ST_HEAD && fr->hn == 0)
            return true;
        snprintf(fr->why, sizeof fr->why, "it ends inside the page that starts at byte %lld",
                 (long long)fr->unit_start);
        return false;
    }
    if (fr->state == ST_HEAD && fr->hn == 0) {
        webm_pop_ended(fr, fr->off);
        if (!fr->saw_segment) {
            snprintf(fr->why, sizeof fr->why, "it ends before its Segment");
            return false;
        }
        if (fr->depth == 0 || webm_limit(fr) < 0)
            return true;
        snprintf(fr->why, sizeof fr->why, "it ends inside the %s that ends at byte %lld",
                 fr->depth == 2 && fr->end[2] >= 0 ? "Cluster" : "Segment",
                 (long long)webm_limit(fr));
        return false;
    }
    uint32_t id = 0;
    for (int i = 0; fr->state == ST_BODY && i < fr->hdr[8]; i++)
        id = id << 8 | fr->hdr[i];
    snprintf(fr->why, sizeof fr->why, "it ends inside the %s that starts at byte %lld",
             fr->state == ST_BODY ? webm_name(id, nb, sizeof nb) : "element",
             (long long)fr->unit_start);
    return false;
}
