#include "util/progress.h"

#include "util/clock.h"

#include <stdio.h>
#include <string.h>

void progress_begin(progress *p, const char *label, const char *phase, bool tty, bool quiet)
{
    memset(p, 0, sizeof *p);
    const char *base = strrchr(label, '/');
    snprintf(p->label, sizeof p->label, "%s", base && base[1] ? base + 1 : label);
    snprintf(p->phase, sizeof p->phase, "%s", phase);
    p->tty = tty;
    p->quiet = quiet;
    p->started = clock_now_s();
    p->last_tenth = -1;
}

static void format_eta(char *out, size_t n, double seconds)
{
    if (seconds < 0 || seconds > 360000) {
        snprintf(out, n, "--:--");
        return;
    }
    int s = (int)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, n, "%d:%02d", s / 60, s % 60);
}

void progress_update(progress *p, double fraction)
{
    if (p->quiet)
        return;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    double now = clock_now_s();
    if (!p->tty) {
        /* Logs want a few lines for long work, none for a short clip. */
        int tenth = (int)(fraction * 10);
        if (now - p->started >= 2.0 && tenth > p->last_tenth) {
            p->last_tenth = tenth;
            fprintf(stderr, "hark: %s: %s %d%%\n", p->label, p->phase, tenth * 10);
        }
        return;
    }
    if (now - p->last_draw < 0.1 && fraction < 1)
        return;
    p->last_draw = now;
    double elapsed = now - p->started;
    char eta[32];
    format_eta(eta, sizeof eta, fraction > 0.01 ? elapsed * (1 - fraction) / fraction : -1);
    enum { BAR = 30 };
    char bar[BAR + 1];
    int filled = (int)(fraction * BAR);
    for (int i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR] = '\0';
    p->width = fprintf(stderr, "\r%-.40s %-12s [%s] %3d%%  ETA %s ", p->label, p->phase, bar,
                       (int)(fraction * 100), eta);
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->quiet || !p->tty || p->width <= 0)
        return;
    fprintf(stderr, "\r%*s\r", p->width, "");
    fflush(stderr);
    p->width = 0;
}
