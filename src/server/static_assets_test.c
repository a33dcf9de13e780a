/* static_assets_test.c - the dashboard's files as compiled in
 * (static_assets.h): lookup by request path, media types, ETags derived
 * from the bytes alone, the table equal to web/, and the generator
 * (cmake/embed_assets.cmake) run on files of the test's own. */
#include "server/static_assets.h"

#include "util/test.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <sys/stat.h>

/* The tag the generator should give these bytes: the first 16 hex digits
 * of their SHA-256, quoted. */
static void expected_etag(const unsigned char *data, size_t n, char out[19])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    ASSERT(SHA256(data, n, d));
    out[0] = '"';
    for (int i = 0; i < 8; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", d[i]);
    out[17] = '"';
    out[18] = '\0';
}

static void test_lookup(void)
{
    const static_asset *index = static_asset_find("/");
    ASSERT(index);
    ASSERT_STREQ(index->name, "index.html");
    ASSERT(static_asset_find("/static/index.html") == index);
    const static_asset *js = static_asset_find("/static/app.js");
    ASSERT(js);
    ASSERT_STREQ(js->name, "app.js");
    ASSERT(static_asset_named("app.js") == js);
    ASSERT(static_asset_find("/static/app.css"));
    const char *none[] = {"",
                          "/index.html",
                          "/app.js",
                          "/static",
                          "/static/",
                          "/static/nope.js",
                          "/static/app.js/",
                          "/static//app.js",
                          "/static/../static/app.js",
                          "/static/./app.js",
                          "/static/APP.JS",
                          "/static/app.js?x=1",
                          "/static/%61pp.js",
                          "//",
                          "/v1/jobs",
                          NULL};
    for (int i = 0; none[i]; i++)
        if (static_asset_find(none[i]))
            TEST_FAIL_("'%s' found an asset", none[i]);
    ASSERT(!static_asset_find(NULL));
    ASSERT(!static_asset_named(NULL));
    ASSERT(!static_asset_named(""));
}

static void test_types(void)
{
    ASSERT_STREQ(static_asset_named("index.html")->type, "text/html; charset=utf-8");
    ASSERT_STREQ(static_asset_named("app.js")->type, "text/javascript; charset=utf-8");
    ASSERT_STREQ(static_asset_named("app.css")->type, "text/css; charset=utf-8");
    /* Text always says its charset; nothing is left for a browser to guess. */
    for (size_t i = 0; i < static_asset_count; i++) {
        const static_asset *a = &static_asset_table[i];
        ASSERT(a->type && *a->type);
        if (strncmp(a->type, "text/", 5) == 0 && !strstr(a->type, "; charset=utf-8"))
            TEST_FAIL_("%s: '%s' names no charset", a->name, a->type);
    }
}

static void test_etags_from_the_bytes(void)
{
    ASSERT(static_asset_count >= 3);
    for (size_t i = 0; i < static_asset_count; i++) {
        const static_asset *a = &static_asset_table[i];
        char want[19];
        expected_etag(a->data, a->size, want);
        ASSERT_STREQ(a->etag, want); /* strong (no W/), quoted, the bytes' */
        for (size_t j = 0; j < i; j++)
            if (strcmp(static_asset_table[j].etag, a->etag) == 0)
                TEST_FAIL_("%s and %s share the tag %s", static_asset_table[j].name, a->name,
                           a->etag);
        if (i > 0)
            ASSERT(strcmp(static_asset_table[i - 1].name, a->name) < 0); /* sorted, unique */
    }
}

/* Every file of web/ is in the table with its exact bytes, and nothing
 * else is. */
static void test_table_is_web_dir(void)
{
    const char *src = getenv("HARK_SOURCE_DIR");
    ASSERT(src);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/web", src);
    DIR *d = opendir(dir);
    ASSERT(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        const static_asset *a = static_asset_named(e->d_name);
        if (!a)
            TEST_FAIL_("web/%s is not compiled in", e->d_name);
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        ASSERT(f);
        unsigned char *buf = malloc(a->size + 1);
        ASSERT(buf);
        size_t n = fread(buf, 1, a->size + 1, f);
        fclose(f);
        ASSERT_EQ(n, a->size);
        ASSERT(memcmp(buf, a->data, n) == 0);
        free(buf);
    }
    closedir(d);
    ASSERT_EQ(files, static_asset_count);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT(fputs(text, f) >= 0);
    ASSERT(fclose(f) == 0);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* Run the generator on FILES ("|"-separated) into out.c: its exit status. */
static int generate(const char *files, const char *out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cmake -DOUT=%s '-DFILES=%s' -P '%s/cmake/embed_assets.cmake' 2>/dev/null", out, files,
             getenv("HARK_SOURCE_DIR"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The row of name in a generated file, from its '{"' to its end of line. */
static char *row_of(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "{\"%s\",", name);
    const char *p = strstr(text, key);
    ASSERT(p);
    return strndup(p, strcspn(p, "\n"));
}

/* The generator: the same bytes give the same row in every run, one
 * changed byte another tag; bytes come out exactly (an empty file too);
 * a type it does not know, or a bad name, stops the build. */
static void test_generator(void)
{
    ASSERT(getenv("HARK_SOURCE_DIR"));
    write_file("a.txt", "hello\n");
    write_file("b.css", "");
    ASSERT_EQ(generate("a.txt|b.css", "one.c"), 0);
    ASSERT_EQ(generate("b.css|a.txt", "two.c"), 0);
    char *one = read_all("one.c"), *two = read_all("two.c");
    ASSERT_STREQ(one, two); /* stable: the order given does not matter */
    char want[19];
    expected_etag((const unsigned char *)"hello\n", 6, want);
    char *row = row_of(one, "a.txt");
    ASSERT(strstr(row, "\"text/plain; charset=utf-8\""));
    ASSERT(strstr(row, ", 6, "));
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"\\\"%.16s\\\"\"", want + 1);
    ASSERT(strstr(row, quoted));
    ASSERT(strstr(one, "0x68,0x65,0x6c,0x6c,0x6f,0x0a,")); /* "hello\n" */
    char *empty = row_of(one, "b.css");
    ASSERT(strstr(empty, ", 0, "));

    write_file("a.txt", "hellO\n");
    ASSERT_EQ(generate("a.txt|b.css", "three.c"), 0);
    char *three = read_all("three.c");
    char *row3 = row_of(three, "a.txt");
    ASSERT(strcmp(row, row3) != 0); /* one byte: another tag */
    ASSERT(strstr(row3, quoted) == NULL);
    char *empty3 = row_of(three, "b.css");
    ASSERT_STREQ(empty3, empty); /* the other file's row unchanged */
    free(empty3);

    write_file("c.exe", "MZ");
    ASSERT(generate("a.txt|c.exe", "four.c") != 0);
    write_file("d e.js", "x");
    ASSERT(generate("a.txt|d e.js", "five.c") != 0);
    free(one);
    free(two);
    free(three);
    free(row);
    free(row3);
    free(empty);
}

int main(void)
{
    RUN(test_lookup);
    RUN(test_types);
    RUN(test_etags_from_the_bytes);
    RUN(test_table_is_web_dir);
    RUN(test_generator);
    TEST_DONE();
}
