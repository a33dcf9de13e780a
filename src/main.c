/* main.c - hark's command-line entry: dispatch to one file per subcommand. */
#include "cli/cli.h"
#include "client/client.h"
#include "net/net.h"
#include "runtime/protocol.h"
#include "runtime/worker.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *to)
{
    fprintf(to, "usage: hark <command> [options]\n"
                "\n"
                "commands:\n"
                "  transcribe FILE...   transcribe audio/video files to timed text\n"
                "  serve                run the daemon: job queue, workers, HTTP API\n");
    client_print_commands(to);
    fprintf(to, "\n"
                "Run 'hark <command> --help' for a command's options.\n");
}

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
    /* libcurl's global setup, once per process and before any thread: the
     * daemon starts its threads in cli_serve, and a worker (fork+exec'd,
     * so a process of its own) downloads URL inputs. */
    hark_err err = {0};
    if (net_global_init(&err) != 0) {
        fprintf(stderr, "hark: %s\n", err.msg);
        return EXIT_SOME_FAILED;
    }
    if (strcmp(cmd, "transcribe") == 0)
        return cli_transcribe(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (client_is_command(cmd))
        return client_main(argc - 1, argv + 1);
    /* Not for people: the supervisor starts workers with fork+exec. */
    if (strcmp(cmd, "worker") == 0)
        return worker_main(WORKER_FD, argc > 2 && strcmp(argv[2], "--background-load") == 0);
    fprintf(stderr, "hark: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
