/* openai.h - OpenAI's audio transcription API on hark's job runtime:
 * POST /v1/audio/transcriptions and GET /v1/models (docs/api.md).
 *
 * A transcription request is an ordinary job (durable, preemptible, in the
 * job list), submitted at `high` priority unless the request says
 * otherwise; the request then waits for it, parked (park.h), and answers in the format asked, or,
 * with stream=true, sends the text as server-sent events (transcript.text.delta per committed
 * chunk, in order, then transcript.text.done). A client that goes away cancels its job, unless it
 * sent keep_on_disconnect=true.
 */
#ifndef HARK_SERVER_OPENAI_H
#define HARK_SERVER_OPENAI_H

#include "server/reply.h"
#include "server/server_impl.h"
#include "server/upload.h"

#include <stdbool.h>

#define OPENAI_FILE_FIELD "file"
extern const char *const openai_text_fields[]; /* model, language, prompt, ... */

enum openai_format { OA_JSON, OA_TEXT, OA_SRT, OA_VTT, OA_VERBOSE_JSON };

typedef struct openai_request {
    int priority;              /* enum store_priority [high] */
    bool priority_given;       /* by the form or the header */
    enum openai_format format; /* [json] */
    bool words, segments;      /* timestamp granularities (verbose_json) [segments] */
    bool stream;               /* server-sent events */
    bool keep;                 /* keep_on_disconnect: the job outlives its request */
    char model[64];
} openai_request;

/* Read a request's text fields through get (NULL when absent) and check
 * them: model one of hark's (the 400 lists them), response_format,
 * timestamp_granularities[] (word, segment; verbose_json only), stream and
 * keep_on_disconnect booleans, temperature a number in [0, 1], language
 * English, priority a class name; priority_header (X-Hark-Priority, may be
 * NULL) when the form has none. 0, or HARK_EINVAL with e filled (400). */
int openai_parse(const char *(*get)(void *ctx, const char *name), void *ctx,
                 const char *priority_header, openai_request *r, api_error *e);

/* The models hark serves, NULL-terminated; the first is the default. */
extern const char *const openai_models[];

/* POST /v1/audio/transcriptions, once the body is in (up is finished
 * here). Blocks until the job ends, the client goes away or the server
 * stops. */
enum MHD_Result handle_openai_transcription(server *s, struct MHD_Connection *c, const caller *who,
                                            upload *up, request_cont *cont);

/* GET /v1/models: {"object": "list", "data": [{"id", "object": "model", ...}]}. */
enum MHD_Result handle_openai_models(server *s, struct MHD_Connection *c);

#endif
