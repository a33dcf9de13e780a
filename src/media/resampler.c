/* resampler.c - see resampler.h. */
#include "media/resampler.h"

#include "media/pcm.h"

#include <stdio.h>

/* The layout f's channels are read as, into *out. 0 or HARK_ENOMEM. */
static int layout_of(const AVFrame *f, AVChannelLayout *out)
{
    *out = (AVChannelLayout){0};
    if (f->ch_layout.order == AV_CHANNEL_ORDER_NATIVE ||
        f->ch_layout.order == AV_CHANNEL_ORDER_AMBISONIC)
        return av_channel_layout_copy(out, &f->ch_layout) < 0 ? HARK_ENOMEM : 0;
    av_channel_layout_default(out, f->ch_layout.nb_channels); /* unknown order: the usual one */
    return 0;
}

bool media_resampler_fits(const media_resampler *r, const AVFrame *f)
{
    if (!r->swr || r->format != f->format || r->rate != f->sample_rate)
        return false;
    AVChannelLayout lay;
    if (layout_of(f, &lay))
        return false;
    bool same = av_channel_layout_compare(&r->layout, &lay) == 0;
    av_channel_layout_uninit(&lay);
    return same;
}

int media_resampler_setup(media_resampler *r, const AVFrame *f, const char *name, hark_err *err)
{
    media_resampler_free(r);
    int channels = f->ch_layout.nb_channels;
    AVChannelLayout lay;
    if (channels <= 0 || channels > MEDIA_MAX_CHANNELS)
        return err_set(err, HARK_EMEDIA, "cannot decode '%s': unsupported channel count %d", name,
                       channels);
    if (layout_of(f, &lay))
        return err_set(err, HARK_ENOMEM, "cannot decode '%s': out of memory", name);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int ret = swr_alloc_set_opts2(&r->swr, &mono, AV_SAMPLE_FMT_S16, PCM_RATE, &lay,
                                  (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    if (ret >= 0 && lay.order != AV_CHANNEL_ORDER_NATIVE) {
        double matrix[MEDIA_MAX_CHANNELS]; /* no layout to downmix from: average the channels */
        for (int i = 0; i < channels; i++)
            matrix[i] = 1.0 / channels;
        ret = swr_set_matrix(r->swr, matrix, channels);
    }
    if (ret >= 0)
        ret = swr_init(r->swr);
    if (ret < 0) {
        swr_free(&r->swr);
        av_channel_layout_uninit(&lay);
        char cause[AV_ERROR_MAX_STRING_SIZE];
        media_av_cause(ret, cause, sizeof cause);
        return err_set(err, ret == AVERROR(ENOMEM) ? HARK_ENOMEM : HARK_EMEDIA,
                       "cannot decode '%s': cannot resample %d channels at %d Hz: %s", name,
                       channels, f->sample_rate, cause);
    }
    r->layout = lay;
    r->format = f->format;
    r->rate = f->sample_rate;
    return 0;
}

void media_resampler_free(media_resampler *r)
{
    swr_free(&r->swr);
    av_channel_layout_uninit(&r->layout);
    r->format = -1;
    r->rate = 0;
}

void media_av_cause(int averr, char *out, size_t len)
{
    if (av_strerror(averr, out, len) < 0)
        snprintf(out, len, "error %d", averr);
    if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
        out[0] = (char)(out[0] - 'A' + 'a');
}
