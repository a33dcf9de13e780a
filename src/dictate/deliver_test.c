/* deliver_test.c - which desktop tools deliver the text, in which order,
 * for each display (pure: deliver_plan over a table of installed tools),
 * and running a command for real: text on its standard input, its exit
 * status and error line, a time limit that kills it, and a command that
 * leaves a child behind (as xclip does) not holding us. The tools
 * themselves are driven under Xvfb in tests/integration/dictate.sh. */
#include "dictate/deliver.h"
#include "util/clock.h"
#include "util/test.h"

/* An environment whose installed tools are a space-separated list. */
typedef struct fake_path {
    const char *tools;
} fake_path;

static bool listed(void *ctx, const char *tool)
{
    const fake_path *f = ctx;
    size_t n = strlen(tool);
    for (const char *p = f->tools; (p = strstr(p, tool)) != NULL; p += n)
        if ((p == f->tools || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* The plan as "what|what|..." */
static const char *plan(deliver_mode m, bool wayland, bool x11, const char *tools)
{
    static char out[512];
    fake_path fp = {tools};
    deliver_env env = {.wayland = wayland, .x11 = x11, .has = listed, .ctx = &fp};
    deliver_way ways[DELIVER_MAX_WAYS];
    size_t n = deliver_plan(m, &env, ways, DELIVER_MAX_WAYS);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof out; i++)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", i ? "|" : "", ways[i].what);
    return out;
}

static const char *all = "wl-copy xclip wtype xdotool ydotool";

static void test_clipboard_plan(void)
{
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, false, true, all), "xclip");
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, true, false, all), "wl-copy");
    /* XWayland: both displays; Wayland's own tool first. */
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, true, true, all), "wl-copy|xclip");
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, true, true, "xclip"), "xclip");
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, false, true, "wl-copy"), "");
    ASSERT_STREQ(plan(DELIVER_CLIPBOARD, false, false, all), "");
    ASSERT_STREQ(plan(DELIVER_STDOUT, false, true, all), "");
}

static void test_type_plan(void)
{
    /* X11: xdotool types; ydotool too; then each pastes after xclip. */
    ASSERT_STREQ(plan(DELIVER_TYPE, false, true, all),
                 "xdotool type|ydotool type|xclip + xdotool ctrl+v|xclip + ydotool ctrl+v");
    ASSERT_STREQ(plan(DELIVER_TYPE, true, false, all),
                 "wtype type|ydotool type|wl-copy + wtype ctrl+v|wl-copy + ydotool ctrl+v");
    ASSERT_STREQ(plan(DELIVER_TYPE, false, true, "xdotool"), "xdotool type");
    ASSERT_STREQ(plan(DELIVER_TYPE, false, true, "xdotool xclip"),
                 "xdotool type|xclip + xdotool ctrl+v");
    /* wtype cannot press keys in an X11 session, xdotool not in Wayland's. */
    ASSERT_STREQ(plan(DELIVER_TYPE, false, true, "wtype wl-copy"), "");
    ASSERT_STREQ(plan(DELIVER_TYPE, true, false, "xdotool xclip"), "");
    ASSERT_STREQ(plan(DELIVER_PASTE, false, true, all),
                 "xclip + xdotool ctrl+v|xclip + ydotool ctrl+v");
    ASSERT_STREQ(plan(DELIVER_PASTE, false, true, "xdotool"), "");
    /* A console: nothing to type into. */
    ASSERT_STREQ(plan(DELIVER_TYPE, false, false, all), "");
}

static void test_plan_commands(void)
{
    fake_path fp = {all};
    deliver_env env = {.x11 = true, .has = listed, .ctx = &fp};
    deliver_way w[DELIVER_MAX_WAYS];
    ASSERT_EQ(deliver_plan(DELIVER_TYPE, &env, w, DELIVER_MAX_WAYS), 4);
    /* xdotool reads the text from stdin (a leading '-' is never an option). */
    ASSERT_STREQ(w[0].cmd[0].argv[0], "xdotool");
    ASSERT_STREQ(w[0].cmd[0].argv[3], "--file");
    ASSERT_STREQ(w[0].cmd[0].argv[4], "-");
    ASSERT(w[0].cmd[0].text_on_stdin);
    /* ydotool takes it as an argument after "--". */
    ASSERT_STREQ(w[1].cmd[0].argv[2], "--");
    ASSERT(w[1].cmd[0].argv[3] == deliver_text_arg);
    ASSERT(!w[1].cmd[0].text_on_stdin);
    ASSERT_EQ(w[2].n_cmd, 2);
    ASSERT_STREQ(w[2].cmd[0].argv[0], "xclip");
    ASSERT_STREQ(w[2].cmd[1].argv[2], "--clearmodifiers");
    ASSERT_STREQ(w[2].cmd[1].argv[3], "ctrl+v");
    /* A short list is cut, never overrun. */
    ASSERT_EQ(deliver_plan(DELIVER_TYPE, &env, w, 1), 1);
}

static void test_no_tool_message(void)
{
    fake_path fp = {""};
    deliver_env env = {.x11 = true, .has = listed, .ctx = &fp};
    hark_err err = {0};
    ASSERT_EQ(deliver_text_with(DELIVER_TYPE, &env, "hi", 1, &err), HARK_ENOENT);
    ASSERT(strstr(err.msg, "install xdotool"));
    ASSERT_EQ(deliver_text_with(DELIVER_CLIPBOARD, &env, "hi", 1, &err), HARK_ENOENT);
    ASSERT(strstr(err.msg, "install xclip"));
    env.x11 = false;
    ASSERT_EQ(deliver_text_with(DELIVER_CLIPBOARD, &env, "hi", 1, &err), HARK_ENOENT);
    ASSERT(strstr(err.msg, "neither $WAYLAND_DISPLAY nor $DISPLAY"));
}

/* ---- running commands (real ones: sh, cat, sleep) --------------------- */

static void test_run_text_on_stdin(void)
{
    deliver_cmd cmd = {{"sh", "-c", "cat > got.txt", NULL}, true};
    hark_err err = {0};
    /* More than a pipe holds: the text is fed while the command reads. */
    size_t n = 200000;
    char *text = malloc(n + 1);
    ASSERT(text);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    text[n] = '\0';
    ASSERT_EQ(deliver_run(&cmd, text, 5, &err), 0);
    FILE *f = fopen("got.txt", "rb");
    ASSERT(f);
    char *got = malloc(n + 1);
    ASSERT_EQ(fread(got, 1, n + 1, f), n);
    fclose(f);
    ASSERT(memcmp(got, text, n) == 0);
    free(got);
    free(text);
}

static void test_run_text_as_argument(void)
{
    deliver_cmd cmd = {{"sh", "-c", "printf '%s' \"$1\" > arg.txt", "sh", deliver_text_arg, NULL},
                       false};
    hark_err err = {0};
    ASSERT_EQ(deliver_run(&cmd, "-n hello world", 5, &err), 0);
    FILE *f = fopen("arg.txt", "r");
    char got[64] = "";
    ASSERT(f && fgets(got, sizeof got, f));
    fclose(f);
    ASSERT_STREQ(got, "-n hello world");
}

static void test_run_failures(void)
{
    hark_err err = {0};
    deliver_cmd bad = {{"sh", "-c", "echo 'Error: Can'\\''t open display' >&2; exit 3", NULL},
                       false};
    ASSERT_EQ(deliver_run(&bad, "x", 5, &err), HARK_EIO);
    ASSERT_STREQ(err.msg, "sh exited with status 3: Error: Can't open display");
    deliver_cmd missing = {{"no-such-tool-hark", NULL}, true};
    ASSERT_EQ(deliver_run(&missing, "x", 5, &err), HARK_EIO);
    ASSERT(strstr(err.msg, "no-such-tool-hark"));
    /* A command that hangs is killed at its time limit, with what it started. */
    deliver_cmd hang = {{"sh", "-c", "sleep 30 & sleep 30", NULL}, false};
    double t0 = clock_now_s();
    ASSERT_EQ(deliver_run(&hang, "x", 0.3, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    ASSERT(strstr(err.msg, "sh did not finish within"));
    /* One that does not read its input does not block us either. */
    deliver_cmd deaf = {{"sh", "-c", "exec sleep 30", NULL}, true};
    char *big = malloc(1 << 20);
    ASSERT(big);
    memset(big, 'x', 1 << 20);
    big[(1 << 20) - 1] = '\0';
    t0 = clock_now_s();
    ASSERT_EQ(deliver_run(&deaf, big, 0.3, &err), HARK_ETIMEDOUT);
    ASSERT_LE(clock_now_s() - t0, 2.0);
    free(big);
}

/* xclip and wl-copy read the text, fork a child that serves the selection
 * and exit: we return when the tool exits, and the child holds none of our
 * descriptors (a pipe reader of our output would otherwise wait for it). */
static void test_run_forking_tool(void)
{
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The "hark" whose stdout is a pipe. */
        close(p[0]);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[1]);
        deliver_cmd serve = {{"sh", "-c", "cat > sel.txt; (sleep 3 <&- &) ; exit 0", NULL}, true};
        hark_err err = {0};
        _exit(deliver_run(&serve, "selection", 5, &err) == 0 ? 0 : 1);
    }
    close(p[1]);
    double t0 = clock_now_s();
    /* EOF on the pipe comes when "hark" exits: the server child holds nothing. */
    char b[64];
    while (read(p[0], b, sizeof b) > 0)
        ;
    ASSERT_LE(clock_now_s() - t0, 3.0);
    int st;
    waitpid(pid, &st, 0);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
}

int main(void)
{
    RUN(test_clipboard_plan);
    RUN(test_type_plan);
    RUN(test_plan_commands);
    RUN(test_no_tool_message);
    RUN(test_run_text_on_stdin);
    RUN(test_run_text_as_argument);
    RUN(test_run_failures);
    RUN(test_run_forking_tool);
    TEST_DONE();
}
