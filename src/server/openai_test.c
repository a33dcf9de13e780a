/* openai_test.c - the fields of an OpenAI transcription or translation form
 * (openai_parse), without a server: what each accepted field means to hark
 * and the 400 of each value hark cannot honour (docs/api.md). */
#include "server/openai.h"
#include "util/test.h"

#include <string.h>

/* "name=value" lines; a repeated name ending in "[]" is comma-joined, as
 * the upload joins it. */
typedef struct form {
    char names[24][48];
    char values[24][256];
    size_t n;
} form;

static const char *form_get(void *ctx, const char *name)
{
    form *f = ctx;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    return NULL;
}

static void form_add(form *f, const char *line)
{
    const char *eq = strchr(line, '=');
    ASSERT(eq != NULL);
    char name[48];
    snprintf(name, sizeof name, "%.*s", (int)(eq - line), line);
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            size_t len = strlen(f->values[i]);
            snprintf(f->values[i] + len, sizeof f->values[i] - len, ",%s", eq + 1);
            return;
        }
    ASSERT(f->n < 24);
    snprintf(f->names[f->n], sizeof f->names[f->n], "%s", name);
    snprintf(f->values[f->n], sizeof f->values[f->n], "%s", eq + 1);
    f->n++;
}

/* Parse model=whisper-1 plus the given lines (NULL-terminated). */
static int parse_lines(openai_request *r, api_error *e, const char *const *lines)
{
    form f = {0};
    form_add(&f, "model=whisper-1");
    for (size_t i = 0; lines[i]; i++)
        form_add(&f, lines[i]);
    memset(e, 0, sizeof *e);
    return openai_parse(form_get, &f, NULL, r, e);
}

#define PARSE(r, e, ...) parse_lines(r, e, (const char *const[]){__VA_ARGS__, NULL})

static void accepted(const char *line)
{
    openai_request r;
    api_error e;
    int rc = PARSE(&r, &e, line);
    if (rc != 0)
        fprintf(stderr, "refused '%s': %s\n", line, e.message);
    ASSERT_EQ(rc, 0);
}

static void refused(const char *line, const char *param, const char *code)
{
    openai_request r;
    api_error e;
    int rc = PARSE(&r, &e, line);
    if (rc == 0)
        fprintf(stderr, "accepted '%s'\n", line);
    ASSERT_EQ(rc, HARK_EINVAL);
    ASSERT_EQ(e.status, 400);
    ASSERT_STREQ(e.param, param);
    ASSERT_STREQ(e.code, code);
    ASSERT(e.message[0] != '\0');
}

/* BCP 47 tags whose primary language is English; ISO 639-2/3's eng; the
 * name english as before; an absent or empty language. */
static void language_english_tags(void)
{
    static const char *const ok[] = {
        "language=en",      "language=EN",         "language=en-US",     "language=en-GB",
        "language=en_US",   "language=en-us",      "language=eng",       "language=ENG",
        "language=english", "language=English",    "language=",          "language=en-Latn-US",
        "language=en-150",  "language=en-x-hark1", "language=en-GB-oed",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        accepted(ok[i]);
}

static void language_other_refused(void)
{
    static const char *const other[] = {
        "language=fr",  "language=fr-CA",     "language=de_DE", "language=zh-Hans-CN",
        "language=deu", "language=x-klingon", "language=und",   "language=enx",
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        refused(other[i], "language", "unsupported_language");
    /* The message names the value. */
    openai_request r;
    api_error e;
    PARSE(&r, &e, "language=fr-CA");
    ASSERT(strstr(e.message, "'fr-CA'") != NULL);
    /* Not a language tag at all. */
    static const char *const bad[] = {
        "language=e n", "language=en-",   "language=en--US",
        "language=-en", "language=en.US", "language=en-US-abcdefghi",
        "language=3n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(bad[i], "language", "invalid_value");
}

/* languages[]: every entry English (gpt-transcribe's hint of the possible
 * languages of the audio). */
static void languages_array(void)
{
    openai_request r;
    api_error e;
    ASSERT_EQ(PARSE(&r, &e, "languages[]=en", "languages[]=en-GB", "languages[]=eng"), 0);
    ASSERT_EQ(PARSE(&r, &e, "languages[]=en", "languages[]=de"), HARK_EINVAL);
    ASSERT_STREQ(e.param, "languages[]");
    ASSERT_STREQ(e.code, "unsupported_language");
    ASSERT(strstr(e.message, "'de'") != NULL);
    refused("languages[]=en US", "languages[]", "invalid_value");
    refused("languages[]=", "languages[]", "invalid_value");
}

/* include[]: logprobs (with json, not streamed) or a 400. */
static void include_values(void)
{
    openai_request r;
    api_error e;
    ASSERT_EQ(PARSE(&r, &e, "response_format=json"), 0);
    ASSERT(!r.logprobs);
    ASSERT_EQ(PARSE(&r, &e, "include[]=logprobs"), 0);
    ASSERT(r.logprobs);
    ASSERT(!r.translate); /* set by the translation handler, not the form */
    ASSERT_EQ(PARSE(&r, &e, "include[]=logprobs", "include[]=logprobs"), 0);
    ASSERT(r.logprobs);
    refused("include[]=tokens", "include[]", "invalid_value");
    refused("include[]=", "include[]", "invalid_value");
    ASSERT_EQ(PARSE(&r, &e, "include[]=logprobs", "response_format=srt"), HARK_EINVAL);
    ASSERT_STREQ(e.param, "include[]");
    ASSERT_STREQ(e.code, "unsupported_value");
    ASSERT_EQ(PARSE(&r, &e, "include[]=logprobs", "stream=true"), HARK_EINVAL);
    ASSERT_STREQ(e.param, "include[]");
    ASSERT_STREQ(e.code, "unsupported_value");
}

/* chunking_strategy: "auto", null, or a server_vad object given as JSON or
 * as the SDKs' bracketed keys; accepted and not used (hark cuts at
 * silences itself). */
static void chunking_strategy(void)
{
    accepted("chunking_strategy=auto");
    accepted("chunking_strategy=null");
    accepted("chunking_strategy={\"type\": \"server_vad\"}");
    accepted("chunking_strategy={\"type\":\"server_vad\",\"prefix_padding_ms\":300,"
             "\"silence_duration_ms\":500,\"threshold\":0.5}");
    openai_request r;
    api_error e;
    ASSERT_EQ(PARSE(&r, &e, "chunking_strategy[type]=server_vad",
                    "chunking_strategy[prefix_padding_ms]=300",
                    "chunking_strategy[silence_duration_ms]=500",
                    "chunking_strategy[threshold]=0.5"),
              0);
    ASSERT_EQ(PARSE(&r, &e, "chunking_strategy[type]=server_vad"), 0);

    refused("chunking_strategy=sometimes", "chunking_strategy", "invalid_value");
    refused("chunking_strategy=", "chunking_strategy", "invalid_value");
    refused("chunking_strategy={\"type\": \"client_vad\"}", "chunking_strategy", "invalid_value");
    refused("chunking_strategy={\"prefix_padding_ms\": 300}", "chunking_strategy", "invalid_value");
    refused("chunking_strategy={\"type\": \"server_vad\", \"threshold\": 2}", "chunking_strategy",
            "invalid_value");
    refused("chunking_strategy={\"type\": \"server_vad\", \"silence_duration_ms\": -1}",
            "chunking_strategy", "invalid_value");
    refused("chunking_strategy={\"type\": \"server_vad\", \"colour\": 1}", "chunking_strategy",
            "invalid_value");
    refused("chunking_strategy={\"type\": \"server_vad\"", "chunking_strategy", "invalid_value");
    refused("chunking_strategy=[1]", "chunking_strategy", "invalid_value");
    refused("chunking_strategy[type]=auto", "chunking_strategy[type]", "invalid_value");
    refused("chunking_strategy[threshold]=0.5", "chunking_strategy[type]", "missing_field");
    ASSERT_EQ(PARSE(&r, &e, "chunking_strategy[type]=server_vad", "chunking_strategy[threshold]=x"),
              HARK_EINVAL);
    ASSERT_STREQ(e.param, "chunking_strategy[threshold]");
    ASSERT_EQ(PARSE(&r, &e, "chunking_strategy[type]=server_vad",
                    "chunking_strategy[prefix_padding_ms]=1.5"),
              HARK_EINVAL);
    ASSERT_STREQ(e.param, "chunking_strategy[prefix_padding_ms]");
    ASSERT_EQ(PARSE(&r, &e, "chunking_strategy=auto", "chunking_strategy[type]=server_vad"),
              HARK_EINVAL);
    ASSERT_STREQ(e.param, "chunking_strategy");
}

/* keywords[], known_speaker_names[], prompt: accepted and not used. */
static void hints_accepted(void)
{
    openai_request r;
    api_error e;
    ASSERT_EQ(PARSE(&r, &e, "keywords[]=Marianne", "keywords[]=Norland Park", "prompt=Austen",
                    "known_speaker_names[]=agent", "known_speaker_names[]=customer"),
              0);
}

/* diarized_json needs speakers hark does not find. */
static void diarized_json_refused(void)
{
    refused("response_format=diarized_json", "response_format", "unsupported_value");
    refused("response_format=mp3", "response_format", "invalid_value");
}

int main(void)
{
    RUN(language_english_tags);
    RUN(language_other_refused);
    RUN(languages_array);
    RUN(include_values);
    RUN(chunking_strategy);
    RUN(hints_accepted);
    RUN(diarized_json_refused);
    TEST_DONE();
}
