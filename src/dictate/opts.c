#include "dictate/opts.h"

#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const actions[] = {"start", "stop", "cancel"};

void dictate_usage(FILE *to)
{
    fprintf(to,
            "usage: hark dictate [options] [-]\n"
            "       hark dictate start [options]\n"
            "       hark dictate stop [--to WHERE] [--json]\n"
            "       hark dictate cancel\n"
            "\n"
            "Dictate: record from the microphone, stream it to hark serve while you\n"
            "speak (the partial text shows on a terminal), and deliver the final text.\n"
            "Recording stops on Enter, Ctrl-C (what was said is kept; a second Ctrl-C\n"
            "abandons), the end of standard input with -, or --max. For a desktop\n"
            "hotkey: `start` records in the background and returns with the job ID,\n"
            "`stop` ends it and delivers the text, `cancel` drops it. Every dictation\n"
            "is a job of kind live: `hark ls --kind live` is the history.\n"
            "\n"
            "  -                      read raw s16le 16 kHz mono audio from standard input\n"
            "                         instead of a microphone, as it arrives\n"
            "  -i, --input DEVICE     pulse:NAME, alsa:NAME (e.g. alsa:hw:0), or a PulseAudio\n"
            "                         source name (default: PulseAudio's default source,\n"
            "                         else alsa:default)\n"
            "  -t, --to WHERE         stdout (default), clipboard (wl-copy or xclip), type\n"
            "                         (wtype, xdotool or ydotool; clipboard-and-paste when\n"
            "                         typing fails) or paste (clipboard, then ctrl+v)\n"
            "  -m, --max SEC          stop recording after SEC seconds (default %d)\n"
            "  -w, --wait SEC         wait at most SEC seconds for the final text after\n"
            "                         recording stops (default %d)\n"
            "  -p, --priority P       realtime (default), high, normal or low\n"
            "      --name NAME        a label for the job, shown by hark ls\n"
            "      --json             print the final json result instead of the text\n"
            "  -q, --quiet            do not show the partial text\n"
            "      --server URL       the hark server (default: $HARK_SERVER or\n"
            "                         http://127.0.0.1:8090); $HARK_TOKEN is sent as its\n"
            "                         API token\n"
            "  -h, --help             this help\n"
            "\n"
            "The control socket of start/stop/cancel is $XDG_RUNTIME_DIR/hark/dictate.sock\n"
            "(/tmp/hark-UID/ without XDG_RUNTIME_DIR); the background recorder's messages\n"
            "go to dictate.log beside it.\n"
            "\n"
            "Exit status: 0 delivered, 1 failed (or stop/cancel with no dictation running),\n"
            "2 usage, 130 abandoned by a second Ctrl-C.\n",
            DICTATE_DEFAULT_MAX_S, DICTATE_DEFAULT_WAIT_S);
}

bool dictate_is_control(int argc, char **argv)
{
    return argc >= 2 && (strcmp(argv[1], "stop") == 0 || strcmp(argv[1], "cancel") == 0);
}

static int bad(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Seconds in (0, max]. */
static int seconds(const char *s, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int dictate_parse(int argc, char **argv, dictate_opts *o, char *msg, size_t n)
{
    enum { OPT_SERVER = 0x100, OPT_NAME, OPT_JSON };
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"to", required_argument, NULL, 't'},
        {"max", required_argument, NULL, 'm'},
        {"wait", required_argument, NULL, 'w'},
        {"priority", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, OPT_NAME},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->to = DELIVER_STDOUT;
    o->max_s = DICTATE_DEFAULT_MAX_S;
    o->wait_s = DICTATE_DEFAULT_WAIT_S;
    msg[0] = '\0';
    /* The action, if any, comes first. */
    int first = 1;
    if (argc >= 2)
        for (int i = 0; i < 3; i++)
            if (strcmp(argv[1], actions[i]) == 0) {
                o->action = (dictate_action)(DICTATE_START + i);
                first = 2;
            }
    const char *seen[16];
    int n_seen = 0;
    /* getopt_long over argv from the action on: argv[first - 1] plays argv[0]. */
    int sub_argc = argc - (first - 1);
    char **sub_argv = argv + (first - 1);
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(sub_argc, sub_argv, ":i:t:m:w:p:qh", longopts, NULL)) != -1) {
        const char *name = NULL;
        switch (opt) {
        case 'i':
            o->input = optarg;
            name = "--input";
            break;
        case 't':
            if (deliver_mode_parse(optarg, &o->to))
                return bad(msg, n, "--to wants stdout, clipboard, type or paste, not '%s'", optarg);
            o->to_given = true;
            name = "--to";
            break;
        case 'm':
            if (seconds(optarg, DICTATE_MAX_MAX_S, &o->max_s))
                return bad(msg, n, "--max wants seconds in (0, %d], not '%s'", DICTATE_MAX_MAX_S,
                           optarg);
            name = "--max";
            break;
        case 'w':
            if (seconds(optarg, 3600, &o->wait_s))
                return bad(msg, n, "--wait wants seconds in (0, 3600], not '%s'", optarg);
            name = "--wait";
            break;
        case 'p':
            if (strcmp(optarg, "realtime") && strcmp(optarg, "high") && strcmp(optarg, "normal") &&
                strcmp(optarg, "low"))
                return bad(msg, n, "bad priority '%s' (realtime, high, normal, low)", optarg);
            o->priority = optarg;
            name = "--priority";
            break;
        case OPT_NAME:
            if (!*optarg || strlen(optarg) > 200)
                return bad(msg, n, "--name wants a label of 1 to 200 bytes");
            o->name = optarg;
            name = "--name";
            break;
        case OPT_JSON:
            o->json = true;
            name = "--json";
            break;
        case 'q':
            o->quiet = true;
            name = "--quiet";
            break;
        case OPT_SERVER:
            o->server = optarg;
            name = "--server";
            break;
        case 'h':
            o->help = true;
            return 0;
        case ':':
            return bad(msg, n, "%s needs a value", sub_argv[optind - 1]);
        default:
            return bad(msg, n, "unknown option '%s'", sub_argv[optind - 1]);
        }
        if (name && n_seen < 16)
            seen[n_seen++] = name;
    }
    for (int i = optind; i < sub_argc; i++) {
        bool dash = strcmp(sub_argv[i], "-") == 0;
        if (dash && o->action == DICTATE_RUN && !o->from_stdin)
            o->from_stdin = true;
        else if (!dash && o->action == DICTATE_RUN)
            return bad(msg, n,
                       "unknown argument '%s' (start, stop, cancel, or - for standard input)",
                       sub_argv[i]);
        else
            return bad(msg, n, "'%s' is one argument too many", sub_argv[i]);
    }
    /* What each action accepts. */
    static const char *const stop_ok[] = {"--to", "--json", "--wait", NULL};
    static const char *const cancel_ok[] = {"--wait", NULL};
    const char *const *ok = o->action == DICTATE_STOP     ? stop_ok
                            : o->action == DICTATE_CANCEL ? cancel_ok
                                                          : NULL;
    for (int i = 0; ok && i < n_seen; i++) {
        bool fine = false;
        for (const char *const *k = ok; *k; k++)
            fine = fine || strcmp(*k, seen[i]) == 0;
        if (!fine)
            return bad(msg, n, "%s is not an option of `hark dictate %s`", seen[i],
                       actions[o->action - DICTATE_START]);
    }
    if (o->from_stdin && o->input)
        return bad(msg, n, "- (standard input) and --input are two sources; give one");
    if (o->json && o->to != DELIVER_STDOUT)
        return bad(msg, n, "--json prints the result; it goes with --to stdout only");
    return 0;
}

int dictate_parse_or_exit(int argc, char **argv, dictate_opts *o)
{
    char msg[256];
    if (dictate_parse(argc, argv, o, msg, sizeof msg) != 0) {
        fprintf(stderr, "hark: dictate: %s\n", msg);
        dictate_usage(stderr);
        return EXIT_USAGE;
    }
    if (o->help) {
        dictate_usage(stdout);
        return EXIT_ALL_OK;
    }
    return -1;
}
