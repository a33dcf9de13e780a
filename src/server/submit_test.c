/* submit_test.c - the callback_url field of POST /v1/jobs (JSON and form
 * parsing, without a server) and the job object's "webhook" member. */
#include "server/job_json.h"
#include "server/submit.h"
#include "util/test.h"

static submit_fields *parse(const char *json, int want_rc, api_error *e)
{
    static submit_fields f;
    memset(e, 0, sizeof *e);
    ASSERT_EQ(submit_parse_json(json, strlen(json), &f, e), want_rc);
    return &f;
}

static void callback_url_accepted(void)
{
    api_error e;
    submit_fields *f = parse(
        "{\"path\": \"/a.wav\", \"callback_url\": \"https://h.example:8443/hook?k=v\"}", 0, &e);
    ASSERT_STREQ(f->callback_url, "https://h.example:8443/hook?k=v");
    f = parse("{\"path\": \"/a.wav\", \"callback_url\": \"HTTP://127.0.0.1/x\"}", 0, &e);
    ASSERT_STREQ(f->callback_url, "HTTP://127.0.0.1/x");
    f = parse("{\"path\": \"/a.wav\", \"callback_url\": null}", 0, &e);
    ASSERT_STREQ(f->callback_url, "");
    f = parse("{\"path\": \"/a.wav\"}", 0, &e);
    ASSERT_STREQ(f->callback_url, "");
}

static void callback_url_refused(void)
{
    static const char *const bad[] = {
        "ftp://example.com/x",
        "garbage",
        "",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "https://example.com/\\u00e9",
        "http://example.com/\\n",
        "file:///etc/passwd",
    };
    api_error e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"path\": \"/a.wav\", \"callback_url\": \"%s\"}", bad[i]);
        parse(json, HARK_EINVAL, &e);
        ASSERT_EQ(e.status, 400);
        ASSERT_STREQ(e.param, "callback_url");
        ASSERT_STREQ(e.code, "invalid_value");
    }
    parse("{\"path\": \"/a.wav\", \"callback_url\": 7}", HARK_EINVAL, &e);
    ASSERT_STREQ(e.code, "invalid_type");
    /* A refused URL's credentials are not echoed. */
    parse("{\"path\": \"/a.wav\", \"callback_url\": \"ftp://user:pa55@example.com/x?sig=abc\"}",
          HARK_EINVAL, &e);
    ASSERT(strstr(e.message, "pa55") == NULL && strstr(e.message, "abc") == NULL);
    ASSERT(strstr(e.message, "ftp://example.com/x?...") != NULL);
    /* Too long. */
    size_t n = STORE_CALLBACK_URL_MAX + 1;
    char *json = malloc(n + 64), *url = malloc(n + 1);
    memcpy(url, "http://example.com/", 19);
    memset(url + 19, 'a', n - 19);
    url[n] = '\0';
    snprintf(json, n + 64, "{\"path\": \"/a.wav\", \"callback_url\": \"%s\"}", url);
    parse(json, HARK_EINVAL, &e);
    ASSERT(strstr(e.message, "longer than 2048 bytes") != NULL);
    url[n - 1] = '\0'; /* exactly at the cap: fine */
    snprintf(json, n + 64, "{\"path\": \"/a.wav\", \"callback_url\": \"%s\"}", url);
    parse(json, 0, &e);
    free(json);
    free(url);
    /* Unknown fields list it. */
    parse("{\"path\": \"/a.wav\", \"callback\": \"http://x/\"}", HARK_EINVAL, &e);
    ASSERT(strstr(e.message, "callback_url") != NULL);
}

static void form_field_listed(void)
{
    bool found = false;
    for (const char *const *p = submit_text_fields; *p; p++)
        found |= strcmp(*p, "callback_url") == 0;
    ASSERT(found);
}

static json_t *webhook_of(const store_job *j)
{
    json_t *o = job_json(j);
    ASSERT(o != NULL);
    json_t *w = json_incref(json_object_get(o, "webhook"));
    json_decref(o);
    ASSERT(w != NULL);
    return w;
}

static void job_object_webhook(void)
{
    store_job j = {.id = "j0123456789abcdef",
                   .kind = "transcribe",
                   .source = "a.wav",
                   .error = "",
                   .callback_url = "",
                   .webhook_state = -1,
                   .webhook_last_error = ""};
    json_t *w = webhook_of(&j);
    ASSERT(json_is_null(w));
    json_decref(w);

    j.callback_url = "https://user:pw@hooks.example/h?token=t0k";
    w = webhook_of(&j);
    ASSERT_STREQ(json_string_value(json_object_get(w, "url")), "https://hooks.example/h?...");
    ASSERT_STREQ(json_string_value(json_object_get(w, "state")), "waiting");
    ASSERT_EQ(json_integer_value(json_object_get(w, "attempts")), 0);
    ASSERT(json_is_null(json_object_get(w, "last_status")));
    ASSERT(json_is_null(json_object_get(w, "last_error")));
    ASSERT(json_is_null(json_object_get(w, "delivered_at")));
    json_decref(w);

    j.webhook_state = STORE_WEBHOOK_PENDING;
    j.webhook_attempts = 2;
    j.webhook_last_status = 503;
    j.webhook_last_error = "receiver answered HTTP 503";
    w = webhook_of(&j);
    ASSERT_STREQ(json_string_value(json_object_get(w, "state")), "pending");
    ASSERT_EQ(json_integer_value(json_object_get(w, "attempts")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(w, "last_status")), 503);
    ASSERT_STREQ(json_string_value(json_object_get(w, "last_error")), "receiver answered HTTP 503");
    json_decref(w);

    j.webhook_state = STORE_WEBHOOK_DELIVERED;
    j.webhook_attempts = 3;
    j.webhook_last_status = 200;
    j.webhook_last_error = "";
    j.webhook_delivered_ms = 1700000000123;
    w = webhook_of(&j);
    ASSERT_STREQ(json_string_value(json_object_get(w, "state")), "delivered");
    ASSERT_NEAR(json_real_value(json_object_get(w, "delivered_at")), 1700000000.123, 1e-6);
    json_decref(w);
}

int main(void)
{
    RUN(callback_url_accepted);
    RUN(callback_url_refused);
    RUN(form_field_listed);
    RUN(job_object_webhook);
    TEST_DONE();
}
