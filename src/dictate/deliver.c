#include "dictate/deliver.h"

#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char deliver_text_arg[] = "<the text>";

static const char *const mode_names[] = {"stdout", "clipboard", "type", "paste"};

int deliver_mode_parse(const char *s, deliver_mode *out)
{
    for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
        if (s && strcmp(s, mode_names[i]) == 0) {
            *out = (deliver_mode)i;
            return 0;
        }
    return -1;
}

const char *deliver_mode_name(deliver_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "?";
}

/* ---- the environment ------------------------------------------------ */

static bool in_path(void *ctx, const char *tool)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        char full[4096];
        if (len > 0 &&
            snprintf(full, sizeof full, "%.*s/%s", (int)len, path, tool) < (int)sizeof full) {
            if (access(full, X_OK) == 0)
                return true;
        }
        path += len + (colon ? 1 : 0);
    }
    return false;
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

void deliver_env_current(deliver_env *env)
{
    env->wayland = env_set("WAYLAND_DISPLAY");
    env->x11 = env_set("DISPLAY");
    env->has = in_path;
    env->ctx = NULL;
}

/* ---- the plan ------------------------------------------------------- */

/* A clipboard tool of a display. */
typedef struct clip_tool {
    const char *tool;
    bool wayland; /* else X11 */
    deliver_cmd cmd;
} clip_tool;

static const clip_tool clip_tools[] = {
    {"wl-copy", true, {{"wl-copy", NULL}, true}},
    {"xclip", false, {{"xclip", "-selection", "clipboard", "-in", NULL}, true}},
};

/* A typing tool: how it types the text and how it presses ctrl+v. */
typedef struct type_tool {
    const char *tool;
    int display; /* 1 Wayland, 2 X11, 3 either (ydotool: the kernel's uinput) */
    deliver_cmd type;
    deliver_cmd paste;
} type_tool;

static const type_tool type_tools[] = {
    {"wtype",
     1,
     {{"wtype", "-", NULL}, true},
     {{"wtype", "-M", "ctrl", "v", "-m", "ctrl", NULL}, false}},
    {"xdotool",
     2,
     {{"xdotool", "type", "--clearmodifiers", "--file", "-", NULL}, true},
     {{"xdotool", "key", "--clearmodifiers", "ctrl+v", NULL}, false}},
    {"ydotool",
     3,
     {{"ydotool", "type", "--", deliver_text_arg, NULL}, false},
     {{"ydotool", "key", "ctrl+v", NULL}, false}},
};

#define N_CLIP (sizeof clip_tools / sizeof clip_tools[0])
#define N_TYPE (sizeof type_tools / sizeof type_tools[0])

static bool display_ok(const deliver_env *env, int display)
{
    return ((display & 1) && env->wayland) || ((display & 2) && env->x11);
}

static bool has(const deliver_env *env, const char *tool)
{
    return env->has && env->has(env->ctx, tool);
}

size_t deliver_plan(deliver_mode mode, const deliver_env *env, deliver_way *ways, size_t max)
{
    size_t n = 0;
    if (mode == DELIVER_CLIPBOARD) {
        for (size_t i = 0; i < N_CLIP && n < max; i++) {
            const clip_tool *c = &clip_tools[i];
            if (!display_ok(env, c->wayland ? 1 : 2) || !has(env, c->tool))
                continue;
            deliver_way *w = &ways[n++];
            memset(w, 0, sizeof *w);
            snprintf(w->what, sizeof w->what, "%s", c->tool);
            w->cmd[0] = c->cmd;
            w->n_cmd = 1;
        }
        return n;
    }
    if (mode != DELIVER_TYPE && mode != DELIVER_PASTE)
        return 0;
    if (mode == DELIVER_TYPE) {
        for (size_t i = 0; i < N_TYPE && n < max; i++) {
            const type_tool *t = &type_tools[i];
            /* ydotool needs no display, but a desktop with neither is a console. */
            if (!display_ok(env, t->display) || !has(env, t->tool))
                continue;
            deliver_way *w = &ways[n++];
            memset(w, 0, sizeof *w);
            snprintf(w->what, sizeof w->what, "%s type", t->tool);
            w->cmd[0] = t->type;
            w->n_cmd = 1;
        }
    }
    /* Clipboard-and-paste: a clipboard tool and a typing tool of the same
     * display (ydotool presses keys whichever display it is). */
    for (size_t i = 0; i < N_TYPE; i++) {
        const type_tool *t = &type_tools[i];
        if (!display_ok(env, t->display) || !has(env, t->tool))
            continue;
        for (size_t j = 0; j < N_CLIP && n < max; j++) {
            const clip_tool *c = &clip_tools[j];
            int cd = c->wayland ? 1 : 2;
            if (!display_ok(env, cd) || !(t->display & cd) || !has(env, c->tool))
                continue;
            deliver_way *w = &ways[n++];
            memset(w, 0, sizeof *w);
            snprintf(w->what, sizeof w->what, "%s + %s ctrl+v", c->tool, t->tool);
            w->cmd[0] = c->cmd;
            w->cmd[1] = t->paste;
            w->n_cmd = 2;
        }
    }
    return n;
}

/* ---- running a command ---------------------------------------------- */

/* The first line of what the command wrote to its error output. */
static void first_line(int fd, char *out, size_t n)
{
    out[0] = '\0';
    ssize_t got = pread(fd, out, n - 1, 0);
    if (got <= 0)
        return;
    out[got] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < ' ')
            *p = ' ';
}

/* Write what is left of text to fd (non-blocking); close it when all is
 * written. */
static void feed(int *fd, const char *text, size_t len, size_t *done)
{
    while (*fd >= 0 && *done < len) {
        ssize_t w = write(*fd, text + *done, len - *done);
        if (w > 0) {
            *done += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            if (w < 0 && errno == EAGAIN)
                return;
            *done = len; /* EPIPE: it does not want the rest */
        }
    }
    if (*fd >= 0 && *done >= len) {
        close(*fd);
        *fd = -1;
    }
}

int deliver_run(const deliver_cmd *cmd, const char *text, double timeout_s, hark_err *err)
{
    const char *tool = cmd->argv[0];
    char *argv[DELIVER_MAX_ARGS];
    size_t argc = 0;
    for (; cmd->argv[argc] && argc + 1 < DELIVER_MAX_ARGS; argc++)
        argv[argc] = (char *)(cmd->argv[argc] == deliver_text_arg ? text : cmd->argv[argc]);
    argv[argc] = NULL;

    int in[2] = {-1, -1}, errfd = memfd_create("deliver-stderr", MFD_CLOEXEC);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (errfd < 0 || devnull < 0 || (cmd->text_on_stdin && pipe2(in, O_CLOEXEC) != 0)) {
        int e = errno;
        if (errfd >= 0)
            close(errfd);
        if (devnull >= 0)
            close(devnull);
        return err_set(err, HARK_EIO, "cannot run %s: %s", tool, strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, cmd->text_on_stdin ? in[0] : devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    posix_spawnattr_init(&attr);
    /* A session of its own (Ctrl-C on our terminal is not for it; xclip's
     * server outlives us), no signal blocked as ours may be, default
     * dispositions. */
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int src = posix_spawnp(&pid, tool, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(devnull);
    if (in[0] >= 0)
        close(in[0]);
    if (src != 0) {
        if (in[1] >= 0)
            close(in[1]);
        close(errfd);
        return err_set(err, HARK_EIO, "cannot run %s: %s", tool, strerror(src));
    }
    size_t len = strlen(text), done = 0;
    int wfd = in[1];
    if (wfd >= 0)
        fcntl(wfd, F_SETFL, O_NONBLOCK);
    deadline dl = deadline_in(timeout_s);
    int status = 0;
    bool exited = false;
    /* A SIGPIPE from a tool that quits early must not kill us. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    while (!deadline_passed(dl)) {
        feed(&wfd, text, len, &done);
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            exited = r == pid;
            break;
        }
        struct pollfd p = {.fd = wfd, .events = POLLOUT};
        poll(&p, wfd >= 0 ? 1 : 0, 5);
    }
    if (wfd >= 0)
        close(wfd);
    /* Drop a SIGPIPE that came while it was blocked. */
    struct timespec zero = {0};
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int rc = 0;
    char why[200];
    first_line(errfd, why, sizeof why);
    if (!exited) {
        kill(-pid, SIGKILL); /* its session's process group: what it started too */
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        rc = err_set(err, HARK_ETIMEDOUT, "%s did not finish within %.0f s", tool, timeout_s);
    } else if (WIFSIGNALED(status)) {
        rc = err_set(err, HARK_EIO, "%s was killed by signal %d", tool, WTERMSIG(status));
    } else if (WEXITSTATUS(status) == 127 && !why[0]) {
        rc = err_set(err, HARK_EIO, "cannot run %s", tool);
    } else if (WEXITSTATUS(status) != 0) {
        rc = err_set(err, HARK_EIO, "%s exited with status %d%s%s", tool, WEXITSTATUS(status),
                     why[0] ? ": " : "", why);
    }
    close(errfd);
    return rc;
}

/* ---- delivering ----------------------------------------------------- */

static const char *missing_tools(deliver_mode mode, const deliver_env *env)
{
    if (mode == DELIVER_CLIPBOARD) {
        if (!env->wayland && !env->x11)
            return "no desktop session here (neither $WAYLAND_DISPLAY nor $DISPLAY is set)";
        return env->wayland ? "no clipboard tool: install wl-clipboard (wl-copy)"
                            : "no clipboard tool: install xclip";
    }
    if (!env->wayland && !env->x11)
        return "no desktop session here (neither $WAYLAND_DISPLAY nor $DISPLAY is set)";
    if (mode == DELIVER_PASTE)
        return env->wayland ? "cannot paste: install wl-clipboard and wtype (or ydotool)"
                            : "cannot paste: install xclip and xdotool";
    return env->wayland ? "no tool to type with: install wtype (or ydotool)"
                        : "no tool to type with: install xdotool (or ydotool)";
}

int deliver_text_with(deliver_mode mode, const deliver_env *env, const char *text, double timeout_s,
                      hark_err *err)
{
    if (mode == DELIVER_STDOUT)
        return err_set(err, HARK_EINVAL, "standard output is the caller's to write");
    deliver_way ways[DELIVER_MAX_WAYS];
    size_t n = deliver_plan(mode, env, ways, DELIVER_MAX_WAYS);
    if (n == 0)
        return err_set(err, HARK_ENOENT, "%s", missing_tools(mode, env));
    char tried[400] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        hark_err why = {0};
        int rc = 0;
        for (size_t k = 0; k < ways[i].n_cmd && rc == 0; k++) {
            bool typing = ways[i].cmd[k].argv[1] && strcmp(ways[i].cmd[k].argv[1], "type") == 0;
            double t = timeout_s > 0 ? timeout_s : 5.0;
            if (timeout_s <= 0 && (typing || strcmp(ways[i].cmd[k].argv[0], "wtype") == 0))
                t = 5.0 + 0.03 * (double)strlen(text) > 60 ? 60 : 5.0 + 0.03 * (double)strlen(text);
            rc = deliver_run(&ways[i].cmd[k], text, t, &why);
        }
        if (rc == 0)
            return 0;
        int w = snprintf(tried + used, sizeof tried - used, "%s%s: %s", used ? "; " : "",
                         ways[i].what, why.msg);
        if (w > 0)
            used = used + (size_t)w < sizeof tried ? used + (size_t)w : sizeof tried - 1;
    }
    return err_set(err, HARK_EIO, "cannot %s the text: %s",
                   mode == DELIVER_CLIPBOARD ? "copy"
                   : mode == DELIVER_PASTE   ? "paste"
                                             : "type",
                   tried);
}

int deliver_text(deliver_mode mode, const char *text, hark_err *err)
{
    deliver_env env;
    deliver_env_current(&env);
    return deliver_text_with(mode, &env, text, 0, err);
}
