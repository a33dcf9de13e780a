/* deliver.h - where `hark dictate` puts the final text: standard output
 * (the caller's), the clipboard, or typed into the focused window.
 *
 * The desktop tools are found, not assumed: wl-copy on Wayland and xclip
 * on X11 for the clipboard; wtype (Wayland), xdotool (X11) or ydotool
 * (either: it writes to /dev/uinput) to type. Typing drops or changes
 * characters on some keyboard layouts, so each typing tool has a second
 * way, clipboard-and-paste (the text on the clipboard, then ctrl+v pressed
 * by the same tool), tried when typing fails, or asked for with `paste`.
 *
 * deliver_plan is the pure part: which commands, in which order, for a
 * mode and an environment. deliver_text runs them: each command in a new
 * session (Ctrl-C on our terminal does not reach it), its standard output
 * on /dev/null and its error output in memory, with a timeout after which
 * it is killed; a clipboard tool that forks to serve the selection (xclip,
 * wl-copy) keeps nothing of ours open, so it never holds our exit.
 */
#ifndef HARK_DICTATE_DELIVER_H
#define HARK_DICTATE_DELIVER_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum deliver_mode {
    DELIVER_STDOUT,
    DELIVER_CLIPBOARD,
    DELIVER_TYPE,  /* type it; clipboard-and-paste when typing fails */
    DELIVER_PASTE, /* clipboard-and-paste only */
} deliver_mode;

/* "stdout", "clipboard", "type", "paste". Returns 0, or -1 for another word. */
int deliver_mode_parse(const char *s, deliver_mode *out);
const char *deliver_mode_name(deliver_mode m);

/* What the choice of tools depends on. */
typedef struct deliver_env {
    bool wayland; /* $WAYLAND_DISPLAY is set */
    bool x11;     /* $DISPLAY is set */
    /* Whether the tool (a command name) can be run: found in $PATH. */
    bool (*has)(void *ctx, const char *tool);
    void *ctx;
} deliver_env;

/* The environment of this process. */
void deliver_env_current(deliver_env *env);

#define DELIVER_MAX_ARGS 8

/* In a command's argv: the place of the text itself (ydotool takes it as an
 * argument; the others read it from standard input). */
extern const char deliver_text_arg[];

typedef struct deliver_cmd {
    const char *argv[DELIVER_MAX_ARGS]; /* NULL-terminated; static strings or deliver_text_arg */
    bool text_on_stdin;                 /* the text is written to its standard input */
} deliver_cmd;

/* One way to deliver: one command, or two in turn (clipboard, then paste). */
typedef struct deliver_way {
    char what[48]; /* "xdotool type", "xclip + xdotool ctrl+v" */
    deliver_cmd cmd[2];
    size_t n_cmd;
} deliver_way;

#define DELIVER_MAX_WAYS 8

/* The ways to deliver in mode (not DELIVER_STDOUT) under env, in the order
 * to try them; returns how many were written to ways (at most max; 0: no
 * tool for it here). Typing: wtype (Wayland), xdotool (X11), ydotool, then
 * each of them pasting after a clipboard tool of the same display.
 * Clipboard: wl-copy (Wayland), xclip (X11). */
size_t deliver_plan(deliver_mode mode, const deliver_env *env, deliver_way *ways, size_t max);

/* Run one command with text (on its standard input, or as its
 * deliver_text_arg) in a session of its own, under a time limit after which
 * its process group is killed. Returns 0 when it exited 0 in time; else
 * HARK_ETIMEDOUT or HARK_EIO naming the tool and the cause (its exit status
 * and the first line of its error output). It returns when the command
 * itself exits: children it leaves running (xclip's selection server) hold
 * nothing of ours. */
int deliver_run(const deliver_cmd *cmd, const char *text, double timeout_s, hark_err *err);

/* Deliver text as mode says in this process's environment: the ways of the
 * plan in turn until one works (every command exits 0 in time). Returns 0,
 * or HARK_ENOENT when no tool is there (the message says which to
 * install), or HARK_EIO naming each way tried and why it failed. */
int deliver_text(deliver_mode mode, const char *text, hark_err *err);

/* The same with the environment and a time limit per command given: for
 * tests. timeout_s <= 0: the defaults (5 s; typing 5 s + 30 ms a character,
 * at most 60 s). */
int deliver_text_with(deliver_mode mode, const deliver_env *env, const char *text, double timeout_s,
                      hark_err *err);

#endif
