/* openai.h - OpenAI's audio transcription API on hark's job runtime:
 * POST /v1/audio/transcriptions, POST /v1/audio/translations, GET
 * /v1/models and GET /v1/models/{id} (docs/api.md).
 *
 * A transcription request is an ordinary job (durable, preemptible, in the
 * job list), submitted at `high` priority unless the request says
 * otherwise; the request then waits for it, parked (park.h), and answers in the format asked, or,
 * with stream=true, sends the text as server-sent events (transcript.text.delta per committed
 * chunk, in order, then transcript.text.done). A client that goes away cancels its job, unless it
 * sent keep_on_disconnect=true.
 *
 * A translation is the same request with fewer fields: hark's model hears
 * English, and the English translation of English speech is its
 * transcript, so the job and the answer are a transcription's.
 */
#ifndef HARK_SERVER_OPENAI_H
#define HARK_SERVER_OPENAI_H

#include "server/reply.h"
#include "server/server_impl.h"
#include "server/upload.h"

#include <stdbool.h>

#define OPENAI_FILE_FIELD "file"

/* The parts of a form besides the file, for upload_begin: the text fields
 * read (NULL-terminated) and those accepted but dropped unread (NULL or
 * NULL-terminated: known_speaker_references[], data URLs of audio). */
typedef struct openai_form {
    const char *const *fields;
    const char *const *discard;
} openai_form;

extern const openai_form openai_transcription_form; /* model, language, prompt, ... */
extern const openai_form openai_translation_form;   /* model, prompt, response_format, ... */

enum openai_format { OA_JSON, OA_TEXT, OA_SRT, OA_VTT, OA_VERBOSE_JSON };

typedef struct openai_request {
    int priority;              /* enum store_priority [high] */
    bool priority_given;       /* by the form or the header */
    enum openai_format format; /* [json] */
    bool words, segments;      /* timestamp granularities (verbose_json) [segments] */
    bool stream;               /* server-sent events */
    bool keep;                 /* keep_on_disconnect: the job outlives its request */
    bool logprobs;             /* include[]=logprobs: per-word log-probabilities (json) */
    bool translate;            /* /v1/audio/translations (set by its handler) */
    char model[64];
} openai_request;

/* Read a request's text fields through get (NULL when absent) and check
 * them: model one of hark's (the 400 lists them), response_format (not
 * diarized_json: hark finds no speakers), timestamp_granularities[] (word,
 * segment; verbose_json only), stream and keep_on_disconnect booleans,
 * temperature a number in [0, 1], language and every languages[] entry an
 * English tag (lang_tag.h), include[] logprobs (json, not streamed),
 * chunking_strategy "auto", null or a server_vad object (as JSON or as
 * chunking_strategy[...] fields), priority a class name; priority_header
 * (X-Hark-Priority, may be NULL) when the form has none. prompt,
 * keywords[], known_speaker_names[] are not read. 0, or HARK_EINVAL with e
 * filled (400). */
int openai_parse(const char *(*get)(void *ctx, const char *name), void *ctx,
                 const char *priority_header, openai_request *r, api_error *e);

/* The models hark serves, NULL-terminated; the first is the default. */
extern const char *const openai_models[];

/* POST /v1/audio/transcriptions, once the body is in (up is finished
 * here). Does not block: when the job has not ended the connection is
 * parked (park.h) and cont says how to go on when it is resumed; the
 * answer comes when the job ends (503 if the server stops first), and a
 * client that goes away cancels the job (unless keep_on_disconnect). */
enum MHD_Result handle_openai_transcription(server *s, struct MHD_Connection *c, const caller *who,
                                            upload *up, request_cont *cont);

/* POST /v1/audio/translations: the same for English speech into English. */
enum MHD_Result handle_openai_translation(server *s, struct MHD_Connection *c, const caller *who,
                                          upload *up, request_cont *cont);

/* GET /v1/models: {"object": "list", "data": [{"id", "object": "model", ...}]}. */
enum MHD_Result handle_openai_models(server *s, struct MHD_Connection *c);

/* GET /v1/models/{id}: the model object of one of hark's ids, else a 404
 * model_not_found. id is the path's id cleaned for a message; exact says
 * it is the id itself (not shortened or cleaned). */
enum MHD_Result handle_openai_model(server *s, struct MHD_Connection *c, const char *id,
                                    bool exact);

#endif
