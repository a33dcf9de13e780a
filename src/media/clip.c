/* clip.c - clip export: the input, the atomic output, check-ins (see clip.h).
 *
 * The input is read through our own AVIOContext over the caller's fd with
 * pread at our own offset, never by URL, and io_open refuses nested opens,
 * as media/decode.c does (a hostile playlist cannot make FFmpeg read other
 * files or the network). The output is an AVIOContext over a temporary file
 * whose write callback keeps the errno of a failed write: FFmpeg turns it
 * into an AVERROR, and we turn it back into HARK_ENOSPC or HARK_EIO naming
 * the clip. The engines are clip_audio.c and clip_copy.c.
 */
#include "media/clip_impl.h"
#include "util/log.h"

#include "media/decode.h"
#include "util/fault.h"
#include "util/fs.h"

#include <libavutil/avutil.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUFFER_SIZE 65536
#define MAX_TIME_S 1e9 /* about 32 years: beyond, a range is not a number we can use */

static const char *const format_names[] = {"wav", "flac", "mp3", "opus", "copy"};

int clip_format_parse(const char *name, clip_format *out, hark_err *err)
{
    for (size_t i = 0; name && i < sizeof format_names / sizeof *format_names; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (clip_format)i;
            return 0;
        }
    return err_set(err, HARK_EINVAL,
                   "unknown clip format '%s' (choose wav, flac, mp3, opus or copy)",
                   name ? name : "");
}

const char *clip_format_name(clip_format f)
{
    if ((unsigned)f < sizeof format_names / sizeof *format_names)
        return format_names[f];
    return "?";
}

/* ---- deadline, check-ins, errors ---- */

bool clip_should_stop(clip_ctx *c)
{
    if (!c->stop && deadline_passed(c->dl))
        c->stop = HARK_ETIMEDOUT;
    return c->stop != 0;
}

bool clip_checkin(clip_ctx *c, double media_s, double done_s, bool force)
{
    if (clip_should_stop(c))
        return true;
    if (!c->o->checkin || (!force && media_s < c->next_checkin && media_s > c->next_checkin - 1))
        return false;
    c->next_checkin = media_s + CLIP_CHECKIN_S;
    int r = c->o->checkin(c->o->ctx, done_s);
    if (r != 0) {
        c->stop = r < 0 && r >= HARK_ENOSPC ? r : HARK_ECANCELED;
        c->stopped_by_checkin = true;
    }
    return clip_should_stop(c);
}

static const char *clip_name(const clip_ctx *c)
{
    return c->out_path ? c->out_path : c->name;
}

int clip_stop_error(clip_ctx *c)
{
    if (c->stopped_by_checkin && c->stop != HARK_ECANCELED)
        return err_set(c->err, c->stop, "cannot export clip '%s' of '%s': stopped (%s)",
                       clip_name(c), c->name, err_code_name(c->stop));
    if (c->stop == HARK_ETIMEDOUT)
        return err_set(c->err, HARK_ETIMEDOUT,
                       "cannot export clip '%s' of '%s': timed out after %g s", clip_name(c),
                       c->name, c->o->timeout_s);
    return err_set(c->err, c->stop, "cannot export clip '%s' of '%s': cancelled", clip_name(c),
                   c->name);
}

/* An FFmpeg error code as a cause: its text with a lowercase first letter. */
static void av_cause(int averr, char *out, size_t outlen)
{
    if (av_strerror(averr, out, outlen) < 0)
        snprintf(out, outlen, "error %d", averr);
    if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
        out[0] = (char)(out[0] - 'A' + 'a');
}

static int write_error(clip_ctx *c, int e)
{
    char cause[200];
    fs_write_cause(e, cause, sizeof cause);
    if (e == ENOSPC || e == EDQUOT)
        return err_set(c->err, HARK_ENOSPC, "cannot write clip '%s': the disk is full (%s)",
                       clip_name(c), cause);
    return err_set(c->err, fs_write_code(e), "cannot write clip '%s': %s", clip_name(c), cause);
}

int clip_in_error(clip_ctx *c, int averr, const char *what)
{
    if (c->stop)
        return clip_stop_error(c);
    if (c->io_errno)
        return err_set(c->err, HARK_EIO, "cannot read '%s': %s", c->name, strerror(c->io_errno));
    if (averr == AVERROR(ENOMEM))
        return err_set(c->err, HARK_ENOMEM, "cannot cut a clip of '%s': out of memory", c->name);
    if (c->refused_open)
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': a playlist or list of other files, which are "
                       "not followed",
                       c->name);
    char cause[AV_ERROR_MAX_STRING_SIZE];
    av_cause(averr, cause, sizeof cause);
    return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': %s%s%s", c->name,
                   what ? what : "", what ? ": " : "", cause);
}

int clip_out_error(clip_ctx *c, int averr, const char *what)
{
    if (c->stop)
        return clip_stop_error(c);
    if (c->write_errno)
        return write_error(c, c->write_errno);
    if (averr == AVERROR(ENOMEM))
        return err_set(c->err, HARK_ENOMEM, "cannot write clip '%s': out of memory", clip_name(c));
    char cause[AV_ERROR_MAX_STRING_SIZE];
    av_cause(averr, cause, sizeof cause);
    return err_set(c->err, HARK_EIO, "cannot write clip '%s': %s%s%s", clip_name(c),
                   what ? what : "", what ? ": " : "", cause);
}

double clip_stream_s(const AVStream *st, int64_t t)
{
    if (t == AV_NOPTS_VALUE)
        return NAN;
    int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    return ((double)t - (double)origin) * av_q2d(st->time_base); /* no int64 overflow */
}

int64_t clip_stream_ts(const AVStream *st, double s)
{
    int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    double ts = (double)origin + s / av_q2d(st->time_base);
    if (!(ts > -9e18))
        return INT64_MIN + 1; /* hostile time bases: saturate rather than overflow */
    if (ts > 9e18)
        return INT64_MAX - 1;
    return llround(ts);
}

/* ---- the input ---- */

static int interrupt_cb(void *opaque)
{
    return clip_should_stop(opaque);
}

static int in_read(void *opaque, uint8_t *buf, int n)
{
    clip_ctx *c = opaque;
    if (clip_should_stop(c))
        return AVERROR_EXIT;
    if (c->pos >= c->size)
        return AVERROR_EOF;
    if (n > c->size - c->pos)
        n = (int)(c->size - c->pos);
    for (;;) {
        ssize_t r = pread(c->fd, buf, (size_t)n, (off_t)c->pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            c->io_errno = errno;
            return AVERROR(errno);
        }
        if (r == 0)
            return AVERROR_EOF; /* the file shrank */
        c->pos += r;
        return (int)r;
    }
}

static int64_t in_seek(void *opaque, int64_t offset, int whence)
{
    clip_ctx *c = opaque;
    int64_t to;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return c->size;
    case SEEK_SET:
        to = offset;
        break;
    case SEEK_CUR:
        to = c->pos + offset;
        break;
    case SEEK_END:
        to = c->size + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (to < 0)
        return AVERROR(EINVAL);
    c->pos = to;
    return to;
}

static int io_open_refuse(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
    clip_ctx *c = s->opaque;
    if (c)
        c->refused_open = 1;
    (void)pb;
    (void)url;
    (void)flags;
    (void)options;
    return AVERROR(EPERM);
}

/* Demuxers whose input names other files or network streams. */
static bool refers_to_others(const char *name)
{
    static const char *const list[] = {"concat", "hls", "dash", "imf", "sdp", "rtp", "rtsp"};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static int open_input(clip_ctx *c)
{
    struct stat sb;
    if (fstat(c->fd, &sb) != 0)
        return err_set(c->err, HARK_EIO, "cannot read '%s': %s", c->name, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return err_set(c->err, HARK_EINVAL, "cannot cut a clip of '%s': is a directory", c->name);
    if (!S_ISREG(sb.st_mode))
        return err_set(c->err, HARK_EINVAL, "cannot cut a clip of '%s': not a regular file",
                       c->name);
    if (sb.st_size == 0)
        return err_set(c->err, HARK_EMEDIA, "cannot cut a clip of '%s': empty file", c->name);
    c->size = sb.st_size;

    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    c->in = avformat_alloc_context();
    if (iobuf)
        c->in_avio = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, c, in_read, NULL, in_seek);
    if (!c->in_avio || !c->in) {
        if (!c->in_avio)
            av_free(iobuf);
        return err_set(c->err, HARK_ENOMEM, "cannot cut a clip of '%s': out of memory", c->name);
    }
    c->in->pb = c->in_avio;
    c->in->flags |= AVFMT_FLAG_CUSTOM_IO;
    c->in->interrupt_callback.callback = interrupt_cb;
    c->in->interrupt_callback.opaque = c;
    c->in->io_open = io_open_refuse;
    c->in->opaque = c;

    const AVInputFormat *ifmt = NULL;
    int ret = av_probe_input_buffer2(c->in_avio, &ifmt, c->name, c->in, 0, 0);
    if (ret >= 0 && ifmt && refers_to_others(ifmt->name)) {
        c->refused_open = 1;
        return clip_in_error(c, AVERROR(EPERM), NULL);
    }
    if (ret >= 0) {
        AVDictionary *opts = NULL;
        av_dict_set(&opts, "protocol_whitelist", "none", 0);
        ret = avformat_open_input(&c->in, c->name, ifmt, &opts); /* frees in on failure */
        av_dict_free(&opts);
    }
    if (ret < 0) {
        if (c->stop || c->io_errno || c->refused_open || ret == AVERROR(ENOMEM))
            return clip_in_error(c, ret, NULL);
        return err_set(c->err, HARK_EMEDIA,
                       "cannot cut a clip of '%s': not a media file FFmpeg can read", c->name);
    }
    ret = avformat_find_stream_info(c->in, NULL);
    if (ret < 0)
        return clip_in_error(c, ret, "cannot read stream information");
    if (clip_should_stop(c))
        return clip_stop_error(c);
    if (c->in->duration != AV_NOPTS_VALUE && c->in->duration > 0)
        c->input_s = (double)c->in->duration / AV_TIME_BASE;
    return 0;
}

/* ---- the output: a temporary file beside out_path ---- */

static int out_write(void *opaque, uint8_t *buf, int n)
{
    clip_ctx *c = opaque;
    if (c->write_errno)
        return AVERROR(c->write_errno);
    int injected = fault_write_errno(c->out_path); /* test-only (util/fault.h) */
    if (injected) {
        c->write_errno = injected;
        return AVERROR(injected);
    }
    int done = 0;
    while (done < n) {
        ssize_t w = pwrite(c->out_fd, buf + done, (size_t)(n - done), (off_t)(c->out_pos + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->write_errno = w < 0 ? errno : EIO;
            return AVERROR(c->write_errno);
        }
        done += (int)w;
    }
    c->out_pos += n;
    if (c->out_pos > c->out_size)
        c->out_size = c->out_pos;
    return n;
}

static int64_t out_seek(void *opaque, int64_t offset, int whence)
{
    clip_ctx *c = opaque;
    int64_t to;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return c->out_size;
    case SEEK_SET:
        to = offset;
        break;
    case SEEK_CUR:
        to = c->out_pos + offset;
        break;
    case SEEK_END:
        to = c->out_size + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (to < 0)
        return AVERROR(EINVAL);
    c->out_pos = to;
    return to;
}

int clip_open_output(clip_ctx *c, const char *muxer)
{
    const char *slash = strrchr(c->out_path, '/');
    const char *base = slash ? slash + 1 : c->out_path;
    int dirlen = slash ? (int)(slash - c->out_path + 1) : 0;
    if (!*base)
        return err_set(c->err, HARK_EINVAL, "cannot write clip '%s': %s", c->out_path,
                       strerror(EISDIR));
    int n = snprintf(c->tmp, sizeof c->tmp, "%.*s.%s.part.XXXXXX", dirlen, c->out_path, base);
    if (n < 0 || (size_t)n >= sizeof c->tmp)
        return err_set(c->err, HARK_EINVAL, "cannot write clip '%s': path too long", c->out_path);
    c->out_fd = mkostemp(c->tmp, O_CLOEXEC);
    if (c->out_fd < 0) {
        int e = errno;
        c->tmp[0] = '\0';
        return write_error(c, e);
    }
    if (fchmod(c->out_fd, 0644) != 0)
        return write_error(c, errno);

    int ret = avformat_alloc_output_context2(&c->out, NULL, muxer, NULL);
    if (ret < 0 || !c->out)
        return clip_out_error(c, ret < 0 ? ret : AVERROR(ENOMEM), "no muxer");
    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    if (iobuf)
        c->out_avio = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 1, c, NULL, out_write, out_seek);
    if (!c->out_avio) {
        av_free(iobuf);
        return clip_out_error(c, AVERROR(ENOMEM), NULL);
    }
    c->out->pb = c->out_avio;
    c->out->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    c->out->interrupt_callback.callback = interrupt_cb;
    c->out->interrupt_callback.opaque = c;
    return 0;
}

/* The written temporary becomes the clip: flush, fsync, rename, fsync the
 * directory. */
static int commit_output(clip_ctx *c, clip_info *info)
{
    avio_flush(c->out_avio);
    if (c->write_errno || c->out_avio->error < 0)
        return clip_out_error(c, c->out_avio->error, NULL);
    if (fsync(c->out_fd) != 0)
        return write_error(c, errno);
    int fd = c->out_fd;
    c->out_fd = -1;
    if (close(fd) != 0 && errno != EINTR)
        return write_error(c, errno);
    if (rename(c->tmp, c->out_path) != 0)
        return write_error(c, errno);
    c->tmp[0] = '\0';
    char dir[PATH_MAX];
    fs_dirname(c->out_path, dir, sizeof dir);
    errno = 0;
    if (fs_fsync_dir(dir) != 0 && errno != EINVAL)
        return write_error(c, errno ? errno : EIO);
    info->bytes = c->out_size;
    return 0;
}

static void ctx_release(clip_ctx *c)
{
    if (c->out) {
        avformat_free_context(c->out);
        c->out = NULL;
    }
    if (c->out_avio) {
        av_freep(&c->out_avio->buffer);
        avio_context_free(&c->out_avio);
    }
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = -1;
    if (c->tmp[0])
        unlink(c->tmp); /* never a partial clip */
    c->tmp[0] = '\0';
    avformat_close_input(&c->in);
    if (c->in_avio) {
        av_freep(&c->in_avio->buffer);
        avio_context_free(&c->in_avio);
    }
}

static void ctx_init(clip_ctx *c, int fd, const char *name, const char *out_path,
                     const clip_opts *o, const clip_opts *none, hark_err *err)
{
    media_av_log_init();
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->name = name ? name : "(input)";
    c->out_path = out_path;
    c->o = o ? o : none;
    c->err = err;
    c->out_fd = -1;
    c->dl = deadline_in(c->o->timeout_s);
    err_clear(err);
}

static int describe(clip_ctx *c, clip_format f, clip_info *info, const char **muxer)
{
    if ((unsigned)f > CLIP_COPY)
        return err_set(c->err, HARK_EINVAL, "cannot cut a clip of '%s': unknown clip format",
                       c->name);
    return f == CLIP_COPY ? clip_copy_describe(c, info, muxer)
                          : clip_audio_describe(c, f, info, muxer);
}

int clip_probe(int fd, const char *name, clip_format f, clip_info *out, hark_err *err)
{
    clip_opts none = {0};
    clip_ctx c;
    clip_info info = {0};
    ctx_init(&c, fd, name, NULL, NULL, &none, err);
    const char *muxer = NULL;
    int rc = open_input(&c);
    if (!rc)
        rc = describe(&c, f, &info, &muxer);
    ctx_release(&c);
    if (!rc && out)
        *out = info;
    return rc;
}

int clip_export(int fd, const char *name, double start_s, double end_s, clip_format f,
                const char *out_path, const clip_opts *o, clip_info *out, hark_err *err)
{
    clip_opts none = {0};
    clip_ctx c;
    clip_info info = {0};
    ctx_init(&c, fd, name, out_path, o, &none, err);
    if (out)
        memset(out, 0, sizeof *out);
    if (!out_path || !*out_path)
        return err_set(err, HARK_EINVAL, "cannot cut a clip of '%s': no output path", c.name);
    if (!isfinite(start_s) || !isfinite(end_s) || start_s > MAX_TIME_S || end_s < -MAX_TIME_S)
        return err_set(err, HARK_EINVAL, "cannot cut a clip of '%s': the range is not a number",
                       c.name);
    const char *muxer = NULL;
    int rc = open_input(&c);
    if (!rc)
        rc = describe(&c, f, &info, &muxer);
    if (!rc) {
        c.start_s = start_s < 0 ? 0 : start_s;
        c.end_s = c.input_s > 0 && end_s > c.input_s ? c.input_s : end_s;
        if (c.end_s > MAX_TIME_S)
            c.end_s = MAX_TIME_S;
        if (c.end_s <= c.start_s)
            rc = err_set(err, HARK_EINVAL,
                         "cannot cut a clip of '%s': empty range %.3f-%.3f s (the input is %.3f s "
                         "long)",
                         c.name, start_s, end_s, c.input_s);
    }
    if (!rc && clip_checkin(&c, 0, 0, true))
        rc = clip_stop_error(&c);
    if (!rc)
        rc = clip_open_output(&c, muxer);
    if (!rc)
        rc = f == CLIP_COPY ? clip_copy_run(&c, &info) : clip_audio_run(&c, f, &info);
    if (!rc && clip_checkin(&c, 0, info.duration_s, true))
        rc = clip_stop_error(&c);
    if (!rc)
        rc = commit_output(&c, &info);
    ctx_release(&c);
    if (!rc && out)
        *out = info;
    return rc;
}

int clip_read_packet(clip_ctx *c, AVPacket *pkt)
{
    for (;;) {
        if (clip_should_stop(c))
            return clip_stop_error(c);
        int ret = av_read_frame(c->in, pkt);
        if (ret >= 0)
            return 1;
        if (ret == AVERROR_EOF)
            return 0;
        if (c->stop || c->io_errno || ret == AVERROR(ENOMEM))
            return clip_in_error(c, ret, NULL);
        if (ret != AVERROR(EAGAIN)) {
            log_debug("clip %s: demuxer stopped: %s", c->name, av_err2str(ret));
            return 0;
        }
    }
}
