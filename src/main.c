/* main.c - hark's command-line entry: dispatch to one file per subcommand.
 *
 * Built twice. hark-engine runs every command. hark (HARK_FRONT) is the
 * front end people type: it runs the client commands itself and execs
 * hark-engine, found beside it, for transcribe, highlights, serve and worker. The
 * split is for start-up time: the engine links FFmpeg (with its codecs),
 * PocketSphinx, SQLite and libmicrohttpd, 150 shared libraries that cost a
 * process 80 ms of CPU to map and relocate; the front end links libcurl
 * and jansson (--as-needed) and starts in about 20 ms, which `hark ptt`, a
 * script's `hark submit` and every poll of `hark show` feel. */
#include "cli/cli.h"
#include "client/client.h"
#include "dictate/dictate.h"
#include "net/net.h"
#include "runtime/protocol.h"
#include "runtime/worker.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
            "usage: hark <command> [options]\n"
            "\n"
            "commands:\n"
            "  transcribe FILE...   transcribe audio/video files to timed text\n"
            "  highlights FILE...   find highlights, chapters and clips in recordings\n"
            "  serve                run the daemon: job queue, workers, HTTP API\n"
            "  dictate [-]          dictate: text while you speak (start|stop|cancel: hotkeys)\n");
    client_print_commands(to);
    fprintf(to, "\n"
                "  --version            print the version and exit\n"
                "  --help               print this and exit\n"
                "\n"
                "Run 'hark <command> --help' for a command's options.\n");
}

#ifdef HARK_FRONT
/* Replace this process with hark-engine (same pid, same argv but argv[0]):
 * signals, the terminal and a supervisor's pidfd reach it unchanged. */
static int exec_engine(char **argv)
{
    char self[4096], path[4200];
    if (fs_self_exe(self, sizeof self) != 0) {
        fprintf(stderr, "hark: cannot find the hark executable: %s\n", strerror(errno));
        return EXIT_SOME_FAILED;
    }
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(path, sizeof path, "%s/hark-engine", self);
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr, "hark: cannot run '%s' (it belongs beside hark): %s\n", path, strerror(errno));
    return EXIT_SOME_FAILED;
}
#endif

int main(int argc, char **argv)
{
    log_init_from_env();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("hark %s\n", HARK_VERSION);
        return EXIT_ALL_OK;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_ALL_OK;
    }
#ifdef HARK_FRONT
    if (strcmp(cmd, "transcribe") == 0 || strcmp(cmd, "highlights") == 0 ||
        strcmp(cmd, "serve") == 0 || strcmp(cmd, "worker") == 0)
        return exec_engine(argv);
    /* dictate records with libavdevice: the engine's. stop and cancel only
     * talk to the recorder's socket: here, for a hotkey's quick release. */
    if (strcmp(cmd, "dictate") == 0) {
        if (!dictate_is_control(argc - 1, argv + 1))
            return exec_engine(argv);
        return dictate_control_main(argc - 1, argv + 1);
    }
#endif
    /* libcurl's global setup, once per process and before any thread: the
     * daemon starts its threads in cli_serve, and a worker (fork+exec'd,
     * so a process of its own) downloads URL inputs. */
    hark_err err = {0};
    if (net_global_init(&err) != 0) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    if (client_is_command(cmd))
        return client_main(argc - 1, argv + 1);
#ifndef HARK_FRONT
    /* A file-size limit (ulimit -f) is an error like a full disk: the write
     * fails with EFBIG and its caller says so, where SIGXFSZ's default
     * would kill the process without a word (exit 153). Workers get this
     * too: they run this main. */
    signal(SIGXFSZ, SIG_IGN);
    if (strcmp(cmd, "transcribe") == 0)
        return cli_transcribe(argc - 1, argv + 1);
    if (strcmp(cmd, "highlights") == 0)
        return cli_highlights(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "dictate") == 0)
        return dictate_main(argc - 1, argv + 1);
    /* Not for people: the supervisor starts workers with fork+exec. */
    if (strcmp(cmd, "worker") == 0)
        return worker_main(WORKER_FD, argc > 2 && strcmp(argv[2], "--no-model") == 0
                                          ? WORKER_NO_MODEL
                                      : argc > 2 && strcmp(argv[2], "--background-load") == 0
                                          ? WORKER_BACKGROUND_LOAD
                                          : WORKER_LOAD_FIRST);
#endif
    fprintf(stderr, "hark: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
