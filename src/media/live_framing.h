/* live_framing.h - the top-level structure of a live container stream, checked as its bytes go by.
 *
 * Internal to media/live_input. The bytes FFmpeg reads pass through here
 * first (in order, each once), and a small state machine follows the
 * container's framing without buffering any of it:
 *   webm: the EBML header, one Segment, its level-1 elements (Info, Tracks,
 *         Cluster, ...) and each Cluster's children (SimpleBlock, ...), with
 *         the unknown sizes MediaRecorder writes for Segment and Cluster;
 *   ogg:  pages (capture pattern, version, segment table, CRC-32) and the
 *         size of packets that continue across pages;
 *   mp4:  top-level boxes (ftyp first, moov before any fragment, then
 *         moof/mdat pairs and the boxes that may sit beside them).
 * Whatever breaks that structure is placed at a byte offset with a cause,
 * and elements that FFmpeg would hold in memory have caps, so no input can
 * make the demuxer buffer without bound. It says nothing about what is
 * inside a block or a sample: FFmpeg's demuxer and decoder judge those.
 */
#ifndef HARK_MEDIA_LIVE_FRAMING_H
#define HARK_MEDIA_LIVE_FRAMING_H

#include "media/live_input.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on what a demuxer would keep in memory at once. */
#define LIVE_MAX_HEADER_ELEMENT                                                                    \
    (1 << 20)                         /* webm Info, Tracks, Tags...; mp4 boxes but moov/moof       \
                                       */
#define LIVE_MAX_BLOCK (16 << 20)     /* webm SimpleBlock/BlockGroup */
#define LIVE_MAX_MOOV (8 << 20)       /* mp4 movie header */
#define LIVE_MAX_MOOF (4 << 20)       /* mp4 fragment header */
#define LIVE_MAX_OGG_PACKET (4 << 20) /* an Ogg packet across pages */

typedef struct live_framing {
    enum live_format f;
    int64_t off;    /* bytes fed so far */
    int64_t bad_at; /* offset where the framing breaks, -1 if it holds so far */
    char why[160];  /* what is wrong at bad_at */

    int state;
    uint8_t hdr[32]; /* the header being gathered */
    int hn, hneed;
    int64_t unit_start; /* where the element, page or box being read starts */
    int64_t skip;       /* payload bytes left to pass */
    int64_t units;      /* elements/pages/boxes completed at the top level */

    /* webm: depth 0 file, 1 Segment, 2 Cluster; end[d] = -1 when unknown */
    int depth;
    int64_t end[3];
    bool saw_segment;

    /* ogg */
    uint32_t crc, page_crc;
    int segs_left;
    int64_t packet_len;
    uint8_t lacing[255];

    /* mp4 */
    bool saw_moov, to_end;
    int64_t init_end;  /* where the movie header ends: [0, init_end) is the init segment */
    int64_t moofs[64]; /* where the latest fragments start (a ring) */
    unsigned n_moofs;  /* fragments seen */
} live_framing;

void live_framing_init(live_framing *fr, enum live_format f);

/* The next n bytes of the stream. Returns how many of them keep the
 * framing: n, or fewer when it breaks inside them (bad_at and why are set;
 * later calls return 0). An Ogg page whose checksum does not match is found
 * at its last byte, so bad_at (its first byte) may lie before the bytes
 * just fed. */
size_t live_framing_feed(live_framing *fr, const uint8_t *p, size_t n);

/* After the stream ended: true when it ended between elements, pages or
 * boxes (or was empty), false when cut short (why says where). */
bool live_framing_ended_cleanly(live_framing *fr);

/* MP4: where the fragment holding byte `pos` starts (its 'moof' box), if
 * among the last 64 seen; -1 otherwise. */
int64_t live_framing_fragment_of(const live_framing *fr, int64_t pos);

/* "WebM", "Ogg", "MP4", "raw s16le": how messages name a format. */
const char *live_format_label(enum live_format f);

#endif
