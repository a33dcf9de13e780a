#include "dictate/status.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void status_fit(const char *text, int width, char *out, size_t n)
{
    if (n == 0)
        return;
    out[0] = '\0';
    if (width < 2)
        return;
    size_t len = strlen(text);
    /* Count characters (UTF-8 lead bytes) from the end until width is used. */
    size_t start = len;
    int cols = 0;
    bool cut = false;
    while (start > 0) {
        size_t k = start - 1;
        while (k > 0 && ((unsigned char)text[k] & 0xC0) == 0x80)
            k--;
        if (cols + 1 > width) {
            cut = true;
            break;
        }
        cols++;
        start = k;
    }
    if (cut) { /* room for the ellipsis: drop one more character */
        size_t k = start;
        k++;
        while (k < len && ((unsigned char)text[k] & 0xC0) == 0x80)
            k++;
        start = k;
    }
    size_t o = 0;
    if (cut && n > 4) {
        memcpy(out, "\xe2\x80\xa6", 3); /* … */
        o = 3;
    }
    for (size_t i = start; i < len && o + 1 < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch >= 0x80 && (ch & 0xC0) != 0x80) { /* a lead byte: copy the character whole */
            size_t need = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
            if (o + need >= n)
                break;
        }
        out[o++] = ch < ' ' || ch == 0x7f ? ' ' : (char)ch;
    }
    out[o] = '\0';
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool s_tty, s_quiet, s_shown;
static char s_last[4096];

void status_init(bool tty, bool quiet)
{
    pthread_mutex_lock(&mu);
    s_tty = tty;
    s_quiet = quiet;
    s_shown = false;
    s_last[0] = '\0';
    pthread_mutex_unlock(&mu);
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* With mu held. */
static void draw(void)
{
    if (!s_tty || s_quiet)
        return;
    char line[4096];
    status_fit(s_last, term_width() - 1, line, sizeof line);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    s_shown = true;
}

void status_text(const char *text)
{
    pthread_mutex_lock(&mu);
    if (!s_quiet && strncmp(text, s_last, sizeof s_last - 1) != 0) {
        snprintf(s_last, sizeof s_last, "%s", text);
        if (s_tty) {
            draw();
        } else {
            char line[sizeof s_last];
            status_fit(text, (int)sizeof line, line, sizeof line); /* control characters out */
            fprintf(stderr, "partial: %s\n", line);
            fflush(stderr);
        }
    }
    pthread_mutex_unlock(&mu);
}

void status_say(const char *fmt, ...)
{
    pthread_mutex_lock(&mu);
    if (s_tty && s_shown)
        fputs("\r\033[K", stderr);
    fputs("hark: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (s_tty && s_shown)
        draw();
    fflush(stderr);
    pthread_mutex_unlock(&mu);
}

void status_end(void)
{
    pthread_mutex_lock(&mu);
    if (s_tty && s_shown)
        fputs("\r\033[K", stderr);
    fflush(stderr);
    s_shown = false;
    s_quiet = true; /* nothing after the end */
    pthread_mutex_unlock(&mu);
}
