#include "util/log.h"

#include "util/test.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>

/* ---- capturing fd 2 (each test runs in its own forked child and directory) ---- */

static int saved_stderr = -1;

static void capture_begin(void)
{
    int fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    ASSERT(fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    ASSERT(saved_stderr >= 0);
    ASSERT(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
}

/* Put fd 2 back (so failures are seen) and return what was written. */
static char *capture_end(void)
{
    ASSERT(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
    close(saved_stderr);
    FILE *f = fopen("stderr.txt", "rb");
    ASSERT(f);
    ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ASSERT(n >= 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ASSERT(s);
    ASSERT_EQ(fread(s, 1, (size_t)n, f), n);
    fclose(f);
    s[n] = '\0';
    return s;
}

/* The JSON line without its timestamp: checks that the line starts with
 * {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ", and returns what follows it. */
static const char *after_ts(const char *line)
{
    static const char head[] = "{\"ts\":\"";
    ASSERT(strncmp(line, head, sizeof head - 1) == 0);
    const char *ts = line + sizeof head - 1;
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd')
            ASSERT(ts[i] >= '0' && ts[i] <= '9');
        else
            ASSERT(ts[i] == shape[i]);
    }
    ASSERT(ts[sizeof shape - 1] == '"');
    return ts + sizeof shape;
}

/* Parse one line as JSON (jansson rejects invalid UTF-8 and bad escapes). */
static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        TEST_FAIL_("not JSON (%s): %s", e.text, line);
    return j;
}

static const char *member(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    ASSERT(json_is_string(v));
    return json_string_value(v);
}

/* ---- text ---- */

static void test_text_is_the_default(void)
{
    ASSERT_EQ(log_get_format(), LOG_FORMAT_TEXT);
    ASSERT_EQ(log_get_level(), LOG_WARN);
    capture_begin();
    log_warn("disk %s at %d%%", "full", 97);
    log_error("cannot open '%s'", "x.wav");
    char *out = capture_end();
    ASSERT_STREQ(out, "hark: warn: disk full at 97%\n"
                      "hark: error: cannot open 'x.wav'\n");
    free(out);
}

static void test_level_filtering(void)
{
    capture_begin();
    log_debug("dropped");
    log_info("dropped");
    log_event(LOG_INFO, "dropped.event", {"k", "v"});
    log_warn("kept");
    log_set_level(LOG_DEBUG);
    log_debug("now kept");
    log_event(LOG_DEBUG, "kept.event");
    log_set_level(LOG_ERROR);
    log_warn("dropped");
    log_error("kept");
    log_set_level(LOG_OFF);
    log_error("dropped");
    log_event(LOG_ERROR, "dropped.event");
    log_set_level(LOG_DEBUG);
    log_msg(LOG_OFF, "never a level of its own");
    log_msg((enum log_level)(LOG_DEBUG - 1), "nor this");
    char *out = capture_end();
    ASSERT_STREQ(out, "hark: warn: kept\n"
                      "hark: debug: now kept\n"
                      "hark: debug: kept.event\n"
                      "hark: error: kept\n");
    free(out);
}

static void test_text_event(void)
{
    log_set_level(LOG_INFO);
    capture_begin();
    const char *id = "j123";
    log_event(LOG_INFO, "job.succeeded", {"job", id}, {"request", "r9"}, {"ms", "12"});
    log_event(LOG_WARN, "server.started");
    char *out = capture_end();
    ASSERT_STREQ(out, "hark: info: job.succeeded job=j123 request=r9 ms=12\n"
                      "hark: warn: server.started\n");
    free(out);
}

static void test_text_quoting(void)
{
    capture_begin();
    log_event(LOG_WARN, "q", {"space", "a b"}, {"quote", "say \"hi\""}, {"eq", "k=v"},
              {"empty", ""}, {"null", NULL}, {"nl", "one\ntwo\r"}, {"bs", "C:\\x"},
              {"ctl", "\x01\x1f\x7f|\t"}, {"utf8", "caf\xc3\xa9"}, {"bad key=", "x"}, {"", "y"},
              {NULL, "z"});
    char *out = capture_end();
    ASSERT_STREQ(out, "hark: warn: q space=\"a b\" quote=\"say \\\"hi\\\"\" eq=\"k=v\" empty=\"\" "
                      "null=\"\" nl=\"one\\ntwo\\r\" bs=\"C:\\\\x\" ctl=\"\\x01\\x1f\\x7f|\\t\" "
                      "utf8=caf\xc3\xa9 bad_key_=x _=y _=z\n");
    free(out);
}

static void test_text_message_is_verbatim(void)
{
    /* The text format keeps messages as they always were. */
    capture_begin();
    log_warn("a \"quoted\" k=v message");
    char *out = capture_end();
    ASSERT_STREQ(out, "hark: warn: a \"quoted\" k=v message\n");
    free(out);
}

static void test_long_values_are_cut(void)
{
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* A two-byte character straddling the 1024-byte cut goes whole. */
    big[1023] = '\xc3';
    big[1024] = '\xa9';
    capture_begin();
    log_event(LOG_WARN, "big", {"v", big});
    char *out = capture_end();
    char want[1200];
    snprintf(want, sizeof want, "hark: warn: big v=%.*s...\n", 1023, big);
    ASSERT_STREQ(out, want);
    free(out);

    char msg[2000];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    capture_begin();
    log_warn("%s", msg);
    out = capture_end();
    ASSERT_EQ(strlen(out), strlen("hark: warn: ") + 1023 + 1);
    free(out);
}

/* ---- json ---- */

static void test_json_message(void)
{
    log_set_format(LOG_FORMAT_JSON);
    ASSERT_EQ(log_get_format(), LOG_FORMAT_JSON);
    capture_begin();
    time_t before = time(NULL);
    log_warn("disk %s", "full");
    time_t after = time(NULL);
    char *out = capture_end();
    ASSERT_STREQ(after_ts(out), ",\"level\":\"warn\",\"msg\":\"disk full\"}\n");

    json_t *j = parse_line(out);
    struct tm tm = {0};
    const char *ts = member(j, "ts");
    ASSERT(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t t = timegm(&tm);
    ASSERT(t >= before && t <= after);
    json_decref(j);
    free(out);
}

static void test_json_event(void)
{
    log_set_format(LOG_FORMAT_JSON);
    log_set_level(LOG_INFO);
    capture_begin();
    log_event(LOG_INFO, "job.succeeded", {"job", "j123"}, {"request", "r9"}, {"ms", "12"});
    log_event(LOG_ERROR, "worker.lost");
    log_event(LOG_WARN, "shadow", {"msg", "m"}, {"level", "l"}, {"ts", "t"}, {"msgs", "x"});
    char *out = capture_end();
    char *l2 = strchr(out, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    ASSERT_EQ(strncmp(after_ts(out),
                      ",\"level\":\"info\",\"msg\":\"job.succeeded\",\"job\":\"j123\","
                      "\"request\":\"r9\",\"ms\":\"12\"}\n",
                      (size_t)(l2 - after_ts(out))),
              0);
    ASSERT_EQ(strncmp(after_ts(l2), ",\"level\":\"error\",\"msg\":\"worker.lost\"}\n",
                      (size_t)(l3 - after_ts(l2))),
              0);
    ASSERT_STREQ(after_ts(l3), ",\"level\":\"warn\",\"msg\":\"shadow\",\"_msg\":\"m\","
                               "\"_level\":\"l\",\"_ts\":\"t\",\"msgs\":\"x\"}\n");
    json_decref(parse_line(l3)); /* no duplicate members */
    free(out);
}

/* Hostile bytes: the line is valid JSON and says what was given, with
 * U+FFFD for each byte that is not UTF-8. */
static void test_json_hostile_values(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"line\nbreak\r\n", "line\nbreak\r\n"},
        {"\"quoted\" \\ back", "\"quoted\" \\ back"},
        {"\x01\x02\x1b[31mred\x7f", "\x01\x02\x1b[31mred\x7f"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"\xff", "\xef\xbf\xbd"},
        {"a\xc3", "a\xef\xbf\xbd"},                                               /* cut off */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                                 /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc2\x85nel", "\xc2\x85nel"}, /* C1 control: escaped, still itself */
        {"</script>\xe2\x80\xa8", "</script>\xe2\x80\xa8"},
    };
    log_set_format(LOG_FORMAT_JSON);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        capture_begin();
        log_event(LOG_ERROR, cases[i].in, {cases[i].in, cases[i].in}, {"v", cases[i].in});
        log_error("%s", cases[i].in);
        char *out = capture_end();
        char *nl = strchr(out, '\n');
        ASSERT(nl && strchr(nl + 1, '\n') && strchr(nl + 1, '\n')[1] == '\0');
        *nl = '\0'; /* two lines, each one JSON object */
        for (int k = 0; k < 2; k++) {
            const char *line = k ? nl + 1 : out;
            for (const char *p = line; *p && *p != '\n'; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    TEST_FAIL_("case %zu: raw control byte 0x%02x in %s", i, *p, line);
            json_t *j = parse_line(line);
            ASSERT_STREQ(member(j, "msg"), cases[i].want);
            if (k == 0) {
                ASSERT_STREQ(member(j, "v"), cases[i].want);
                ASSERT_EQ(json_object_size(j), 5);
            }
            json_decref(j);
        }
        free(out);
    }
}

static void test_json_long_and_many(void)
{
    log_set_format(LOG_FORMAT_JSON);
    static char big[5000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i % 3 == 0 ? '\x01' : '"'); /* escapes to 6 and 2 bytes */
    log_field f[40];
    char keys[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        f[i].key = keys[i];
        f[i].value = big;
    }
    capture_begin();
    log_eventv(LOG_WARN, "many", f, 40);
    log_eventv(LOG_WARN, "none", NULL, 3);
    char *out = capture_end();
    char *nl = strchr(out, '\n');
    *nl = '\0';
    json_t *j = parse_line(out);
    ASSERT_EQ(json_object_size(j), 3 + 32);
    const char *v = member(j, "k31");
    ASSERT_EQ(strlen(v), 1024 + 3);
    ASSERT_EQ(memcmp(v, big, 1024), 0);
    ASSERT_STREQ(v + 1024, "...");
    json_decref(j);
    j = parse_line(nl + 1);
    ASSERT_STREQ(member(j, "msg"), "none");
    ASSERT_EQ(json_object_size(j), 3);
    json_decref(j);
    free(out);
}

static void test_env(void)
{
    setenv("HARK_LOG", "debug", 1);
    setenv("HARK_LOG_FORMAT", "json", 1);
    log_init_from_env();
    ASSERT_EQ(log_get_level(), LOG_DEBUG);
    ASSERT_EQ(log_get_format(), LOG_FORMAT_JSON);
    setenv("HARK_LOG", "loud", 1);
    setenv("HARK_LOG_FORMAT", "xml", 1);
    log_init_from_env();
    ASSERT_EQ(log_get_level(), LOG_DEBUG);
    ASSERT_EQ(log_get_format(), LOG_FORMAT_JSON);
    setenv("HARK_LOG", "off", 1);
    setenv("HARK_LOG_FORMAT", "text", 1);
    log_init_from_env();
    ASSERT_EQ(log_get_level(), LOG_OFF);
    ASSERT_EQ(log_get_format(), LOG_FORMAT_TEXT);
    log_set_format((enum log_format)7);
    ASSERT_EQ(log_get_format(), LOG_FORMAT_TEXT);
}

/* ---- threads and processes ---- */

#define N_THREADS 4
#define N_LINES 500

static void *logger(void *arg)
{
    long t = (long)arg;
    char id[16], pad[600];
    snprintf(id, sizeof id, "%ld", t);
    memset(pad, 'a' + (int)t, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < N_LINES; i++) {
        char n[16];
        snprintf(n, sizeof n, "%d", i);
        log_event(LOG_WARN, "tick", {"thread", id}, {"i", n}, {"pad", pad});
    }
    return NULL;
}

/* Lines of several threads and a forked process, all at once, come out
 * whole: every line is one object with this test's fields. */
static void test_concurrent_lines_stay_whole(void)
{
    log_set_format(LOG_FORMAT_JSON);
    capture_begin();
    pid_t child = fork();
    ASSERT(child >= 0);
    pthread_t th[N_THREADS];
    long base = child == 0 ? N_THREADS : 0;
    for (long t = 0; t < N_THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, logger, (void *)(base + t)), 0);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    if (child == 0)
        _exit(0);
    int st;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    char *out = capture_end();
    int seen[2 * N_THREADS] = {0};
    size_t lines = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        json_t *j = parse_line(line);
        long t = strtol(member(j, "thread"), NULL, 10);
        ASSERT(t >= 0 && t < 2 * N_THREADS);
        ASSERT_EQ(strtol(member(j, "i"), NULL, 10), seen[t]++); /* in order per thread */
        ASSERT_EQ(strlen(member(j, "pad")), 599);
        ASSERT_EQ(member(j, "pad")[598], 'a' + t);
        json_decref(j);
        lines++;
    }
    ASSERT_EQ(lines, 2 * N_THREADS * N_LINES);
    free(out);
}

int main(void)
{
    RUN(test_text_is_the_default);
    RUN(test_level_filtering);
    RUN(test_text_event);
    RUN(test_text_quoting);
    RUN(test_text_message_is_verbatim);
    RUN(test_long_values_are_cut);
    RUN(test_json_message);
    RUN(test_json_event);
    RUN(test_json_hostile_values);
    RUN(test_json_long_and_many);
    RUN(test_env);
    RUN(test_concurrent_lines_stay_whole);
    TEST_DONE();
}
