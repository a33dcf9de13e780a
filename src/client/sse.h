/* sse.h - an incremental parser for server-sent events (text/event-stream).
 *
 * Bytes are fed as they arrive, in pieces of any size: a line, a CRLF or an
 * event may be split across feeds. Lines end with LF, CRLF or CR; a line
 * starting with ':' is a comment; "field: value" drops one space after the
 * colon; data lines are joined with '\n'; an empty line dispatches the event
 * (none when it had no data line, as the WHATWG spec says, though an id:
 * in it still counts). The last event ID survives events and reconnections:
 * it is what Last-Event-ID resends.
 * Lines and events are capped: an overlong one is HARK_ENOMEM.
 */
#ifndef HARK_CLIENT_SSE_H
#define HARK_CLIENT_SSE_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sse_event {
    const char *type; /* the event: field, "message" when there was none */
    const char *data; /* the data lines joined with '\n', NUL-terminated */
    size_t data_len;
    const char *id; /* the last event ID so far ("" if none was ever sent) */
} sse_event;

/* Called per dispatched event. Return 0 to go on; anything else stops the
 * feed at once and is returned by sse_feed. */
typedef int (*sse_event_fn)(void *ctx, const sse_event *ev);

typedef struct sse_parser {
    buf line;         /* the line being read */
    buf data;         /* the data of the event being read */
    char type[64];    /* event: of the event being read (truncated) */
    char id[128];     /* the last event ID: of the last dispatched event (what to resend) */
    char id_buf[128]; /* the id: read so far; becomes id when its event is dispatched */
    long retry_ms;    /* the last valid retry: field, -1 if none */
    bool after_cr;    /* the previous byte ended a line with CR; an LF next is part of it */
    bool seen_line;   /* a line was completed on this stream (for the BOM) */
    sse_event_fn fn;
    void *ctx;
} sse_parser;

/* Start a parser: lines of at most max_line bytes, event data of at most
 * max_data bytes; fn is called per event. */
void sse_init(sse_parser *p, size_t max_line, size_t max_data, sse_event_fn fn, void *ctx);

/* Feed n bytes. Returns 0, fn's nonzero return value, or HARK_ENOMEM when a
 * line or an event's data passes its cap. */
int sse_feed(sse_parser *p, const void *bytes, size_t n);

/* A new connection: forget the partial line and event (the spec drops an
 * event the stream ended in, and with it an id: it had), keep the last
 * event ID. */
void sse_reset(sse_parser *p);

void sse_release(sse_parser *p);

#endif
