/* opts_test.c - the command line of `hark dictate`: actions, defaults, each
 * option's checks, and what each action refuses. */
#include "dictate/opts.h"
#include "util/test.h"

#include <stdarg.h>

/* Parse a NULL-terminated list of words (the first is "dictate"). */
static int parse(dictate_opts *o, char *msg, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, msg);
    for (char *w; (w = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = w;
    va_end(ap);
    argv[argc] = NULL;
    return dictate_parse(argc, argv, o, msg, 256);
}

static void test_defaults(void)
{
    dictate_opts o;
    char msg[256];
    ASSERT_EQ(parse(&o, msg, "dictate", NULL), 0);
    ASSERT_EQ(o.action, DICTATE_RUN);
    ASSERT_EQ(o.to, DELIVER_STDOUT);
    ASSERT(!o.to_given);
    ASSERT_NEAR(o.max_s, 300, 0);
    ASSERT_NEAR(o.wait_s, 30, 0);
    ASSERT(!o.from_stdin && !o.input && !o.priority && !o.name && !o.server);
    ASSERT(!o.json && !o.quiet && !o.help);
}

static void test_run_options(void)
{
    dictate_opts o;
    char msg[256];
    ASSERT_EQ(parse(&o, msg, "dictate", "-", "--max", "12.5", "-w", "5", "--to", "clipboard", "-p",
                    "high", "--name", "memo", "-q", "--server", "127.0.0.1:9", NULL),
              0);
    ASSERT(o.from_stdin);
    ASSERT_NEAR(o.max_s, 12.5, 1e-9);
    ASSERT_NEAR(o.wait_s, 5, 0);
    ASSERT_EQ(o.to, DELIVER_CLIPBOARD);
    ASSERT(o.to_given);
    ASSERT_STREQ(o.priority, "high");
    ASSERT_STREQ(o.name, "memo");
    ASSERT(o.quiet);
    ASSERT_STREQ(o.server, "127.0.0.1:9");
    ASSERT_EQ(parse(&o, msg, "dictate", "--input", "alsa:hw:0", "-t", "type", NULL), 0);
    ASSERT_STREQ(o.input, "alsa:hw:0");
    ASSERT_EQ(o.to, DELIVER_TYPE);
    /* Options may follow the argument. */
    ASSERT_EQ(parse(&o, msg, "dictate", "-", "--json", NULL), 0);
    ASSERT(o.from_stdin && o.json);
    ASSERT_EQ(parse(&o, msg, "dictate", "--help", NULL), 0);
    ASSERT(o.help);
}

static void test_bad_values(void)
{
    dictate_opts o;
    char msg[256];
    ASSERT_EQ(parse(&o, msg, "dictate", "--max", "0", NULL), -1);
    ASSERT(strstr(msg, "--max wants seconds"));
    ASSERT_EQ(parse(&o, msg, "dictate", "--max", "3601", NULL), -1);
    ASSERT_EQ(parse(&o, msg, "dictate", "--max", "ten", NULL), -1);
    ASSERT_EQ(parse(&o, msg, "dictate", "--max", "nan", NULL), -1);
    ASSERT_EQ(parse(&o, msg, "dictate", "--wait", "-1", NULL), -1);
    ASSERT(strstr(msg, "--wait"));
    ASSERT_EQ(parse(&o, msg, "dictate", "--to", "printer", NULL), -1);
    ASSERT(strstr(msg, "stdout, clipboard, type or paste, not 'printer'"));
    ASSERT_EQ(parse(&o, msg, "dictate", "-p", "urgent", NULL), -1);
    ASSERT(strstr(msg, "bad priority 'urgent'"));
    ASSERT_EQ(parse(&o, msg, "dictate", "--name", "", NULL), -1);
    ASSERT_EQ(parse(&o, msg, "dictate", "--max", NULL), -1);
    ASSERT(strstr(msg, "needs a value"));
    ASSERT_EQ(parse(&o, msg, "dictate", "--frobnicate", NULL), -1);
    ASSERT(strstr(msg, "unknown option '--frobnicate'"));
    ASSERT_EQ(parse(&o, msg, "dictate", "file.wav", NULL), -1);
    ASSERT(strstr(msg, "unknown argument 'file.wav'"));
    ASSERT_EQ(parse(&o, msg, "dictate", "-", "-", NULL), -1);
    ASSERT(strstr(msg, "one argument too many"));
    ASSERT_EQ(parse(&o, msg, "dictate", "-", "--input", "pulse", NULL), -1);
    ASSERT(strstr(msg, "two sources"));
    ASSERT_EQ(parse(&o, msg, "dictate", "--json", "--to", "clipboard", NULL), -1);
    ASSERT(strstr(msg, "--json"));
}

static void test_actions(void)
{
    dictate_opts o;
    char msg[256];
    ASSERT_EQ(parse(&o, msg, "dictate", "start", "--to", "type", "--max", "60", NULL), 0);
    ASSERT_EQ(o.action, DICTATE_START);
    ASSERT_EQ(o.to, DELIVER_TYPE);
    ASSERT_NEAR(o.max_s, 60, 0);
    ASSERT_EQ(parse(&o, msg, "dictate", "stop", NULL), 0);
    ASSERT_EQ(o.action, DICTATE_STOP);
    ASSERT(!o.to_given);
    ASSERT_EQ(parse(&o, msg, "dictate", "stop", "--to", "clipboard", NULL), 0);
    ASSERT(o.to_given && o.to == DELIVER_CLIPBOARD);
    ASSERT_EQ(parse(&o, msg, "dictate", "stop", "--json", NULL), 0);
    ASSERT(o.json);
    ASSERT_EQ(parse(&o, msg, "dictate", "cancel", NULL), 0);
    ASSERT_EQ(o.action, DICTATE_CANCEL);
    /* What each action refuses. */
    ASSERT_EQ(parse(&o, msg, "dictate", "start", "-", NULL), -1);
    ASSERT(strstr(msg, "one argument too many"));
    ASSERT_EQ(parse(&o, msg, "dictate", "stop", "--max", "3", NULL), -1);
    ASSERT(strstr(msg, "--max is not an option of `hark dictate stop`"));
    ASSERT_EQ(parse(&o, msg, "dictate", "cancel", "--to", "type", NULL), -1);
    ASSERT(strstr(msg, "--to is not an option of `hark dictate cancel`"));
    ASSERT_EQ(parse(&o, msg, "dictate", "stop", "now", NULL), -1);
    /* An action is the first word only. */
    ASSERT_EQ(parse(&o, msg, "dictate", "-q", "stop", NULL), -1);
}

static void test_is_control(void)
{
    char *stop[] = {"dictate", "stop", NULL}, *cancel[] = {"dictate", "cancel", "--help", NULL},
         *start[] = {"dictate", "start", NULL}, *run[] = {"dictate", NULL},
         *stdin_run[] = {"dictate", "-", NULL};
    ASSERT(dictate_is_control(2, stop));
    ASSERT(dictate_is_control(3, cancel));
    ASSERT(!dictate_is_control(2, start));
    ASSERT(!dictate_is_control(1, run));
    ASSERT(!dictate_is_control(2, stdin_run));
}

static void test_modes(void)
{
    deliver_mode m;
    ASSERT_EQ(deliver_mode_parse("paste", &m), 0);
    ASSERT_EQ(m, DELIVER_PASTE);
    ASSERT_STREQ(deliver_mode_name(DELIVER_CLIPBOARD), "clipboard");
    ASSERT_EQ(deliver_mode_parse("Clipboard", &m), -1);
    ASSERT_EQ(deliver_mode_parse(NULL, &m), -1);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_run_options);
    RUN(test_bad_values);
    RUN(test_actions);
    RUN(test_is_control);
    RUN(test_modes);
    TEST_DONE();
}
