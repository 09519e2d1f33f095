/* Live output clock, repeats, slate and output reconnection. */
#include "pipeline/live.h"

#include <libavcodec/codec_par.h>
#include <libavcodec/packet.h>
#include <libavutil/frame.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "render/render.h"

/* How long without input frames counts as an input outage (stats.stalled). */
#define STALL_S 0.5

struct ft_live_output {
    ft_live_output_params p;
    ft_writer *w;
    int64_t period_ns;
    int64_t t0_ns;  /* wall time of slot 0; 0 = no frame yet */
    int64_t n;      /* next slot */
    AVFrame *last;  /* copy of the last real frame */
    AVFrame *slate; /* made from `last` when a stall passes slate_after_s */
    bool have_last, slate_ready;
    int64_t stall_since_ns;     /* slot time of the first repeat of this stall; 0 = none */
    int failures;               /* reopen attempts since the output went down */
    double delay_s;             /* current backoff */
    int64_t retry_ns;           /* when to try reopening */
    AVCodecParameters *apar;    /* copy of the input's audio parameters; NULL = no audio */
    ft_writer_audio_copy audio; /* what p.writer.audio points to */
    bool anchored;              /* offset_s set by a frame */
    double offset_s;            /* output time - input time, for audio */
    int64_t audio_end;          /* end of the last audio packet written (audio tb) */
    pthread_mutex_t mu;         /* guards stats */
    ft_live_output_stats stats;
};

static ft_status alloc_like(AVFrame **f, int w, int h)
{
    *f = av_frame_alloc();
    if (!*f)
        return FT_ERR_NOMEM;
    (*f)->format = AV_PIX_FMT_YUV420P;
    (*f)->width = w;
    (*f)->height = h;
    return av_frame_get_buffer(*f, 0) < 0 ? FT_ERR_NOMEM : FT_OK;
}

ft_status ft_live_output_create(const ft_live_output_params *p, ft_live_output **out)
{
    *out = NULL;
    if (!(p->fps > 0) || p->fps > 240)
        return FT_ERR_CONFIG;
    ft_live_output *lo = calloc(1, sizeof *lo);
    if (!lo)
        return FT_ERR_NOMEM;
    pthread_mutex_init(&lo->mu, NULL);
    lo->p = *p;
    if (lo->p.reconnect_delay_s <= 0)
        lo->p.reconnect_delay_s = 1.0;
    if (lo->p.slate_after_s <= 0)
        lo->p.slate_after_s = 1.0;
    lo->period_ns = llrint(1e9 / p->fps);
    lo->audio_end = INT64_MIN;
    ft_status st = FT_OK;
    const ft_writer_audio_copy *a = p->writer.audio;
    lo->p.writer.audio = NULL;
    if (a && a->par && a->tb_num > 0 && a->tb_den > 0) {
        /* The reader's parameters change or go away with its reconnects;
         * an output reopen needs the ones the output started with. */
        lo->apar = avcodec_parameters_alloc();
        if (!lo->apar || avcodec_parameters_copy(lo->apar, a->par) < 0)
            st = FT_ERR_NOMEM;
        lo->audio = (ft_writer_audio_copy){lo->apar, a->tb_num, a->tb_den};
        lo->p.writer.audio = &lo->audio;
    }
    if (!st)
        st = alloc_like(&lo->last, p->writer.width, p->writer.height);
    if (!st)
        st = alloc_like(&lo->slate, p->writer.width, p->writer.height);
    if (!st)
        st = ft_writer_open(&lo->p.writer, &lo->w);
    if (st) {
        ft_live_output_destroy(&lo);
        return st;
    }
    lo->stats.output_up = true;
    *out = lo;
    return FT_OK;
}

int64_t ft_live_output_deadline_ns(const ft_live_output *lo)
{
    /* A frame one full period late counts as missing. */
    return lo->t0_ns ? lo->t0_ns + (lo->n + 1) * lo->period_ns : INT64_MAX;
}

/* Darkened last frame with a grey picture and the word in the middle. */
static void make_slate(ft_live_output *lo)
{
    AVFrame *s = lo->slate;
    if (lo->have_last)
        av_frame_copy(s, lo->last);
    for (int y = 0; y < s->height; y++) {
        uint8_t *row = s->data[0] + (ptrdiff_t)y * s->linesize[0];
        for (int x = 0; x < s->width; x++)
            row[x] = lo->have_last ? (uint8_t)(16 + row[x] / 4) : 16;
    }
    for (int pl = 1; pl < 3; pl++)
        for (int y = 0; y < (s->height + 1) / 2; y++)
            memset(s->data[pl] + (ptrdiff_t)y * s->linesize[pl], 128, (size_t)(s->width + 1) / 2);
    ft_image img = {.width = s->width, .height = s->height, .format = FT_PIX_YUV420P};
    for (int i = 0; i < 3; i++) {
        img.data[i] = s->data[i];
        img.stride[i] = s->linesize[i];
    }
    static const char text[] = "RECONNECTING...";
    int scale = s->height / 90 > 1 ? s->height / 90 : 1;
    int tw = (int)(sizeof text - 1) * 6 * scale;
    ft_render_text(&img, (s->width - tw) / 2, (s->height - 7 * scale) / 2, scale, 235, text);
    lo->slate_ready = true;
}

/* Reopens a failed output when its retry time has come. */
static ft_status try_reopen(ft_live_output *lo, int64_t now)
{
    if (now < lo->retry_ns)
        return FT_OK;
    lo->failures++;
    if (!ft_writer_open(&lo->p.writer, &lo->w)) {
        FT_LOGI("pipeline", "%s: output reconnected after %d attempt%s", lo->p.writer.url,
                lo->failures, lo->failures > 1 ? "s" : "");
        pthread_mutex_lock(&lo->mu);
        lo->stats.reconnects++;
        lo->stats.output_up = true;
        lo->stats.failures = 0;
        pthread_mutex_unlock(&lo->mu);
        lo->failures = 0;
        return FT_OK;
    }
    pthread_mutex_lock(&lo->mu);
    lo->stats.failures = lo->failures;
    pthread_mutex_unlock(&lo->mu);
    if (lo->failures >= lo->p.reconnect_attempts) {
        FT_LOGE("pipeline", "%s: output lost; gave up after %d reconnect attempts",
                lo->p.writer.url, lo->failures);
        return FT_ERR_OUTPUT;
    }
    if (lo->failures == 5)
        FT_LOGE("pipeline", "%s: output still down after 5 reconnect attempts", lo->p.writer.url);
    lo->delay_s = fmin(2 * lo->delay_s, 60.0);
    FT_LOGW("pipeline", "%s: output reconnect attempt %d of %d failed; next in %.2f s",
            lo->p.writer.url, lo->failures, lo->p.reconnect_attempts, lo->delay_s);
    lo->retry_ns = now + (int64_t)(lo->delay_s * 1e9);
    return FT_OK;
}

/* Drops a writer whose write failed and schedules its reopening. */
static ft_status output_lost(ft_live_output *lo, int64_t now)
{
    ft_writer_destroy(&lo->w);
    pthread_mutex_lock(&lo->mu);
    lo->stats.output_up = false;
    pthread_mutex_unlock(&lo->mu);
    if (lo->p.reconnect_attempts <= 0) {
        FT_LOGE("pipeline", "%s: output lost (reconnecting is off)", lo->p.writer.url);
        return FT_ERR_OUTPUT;
    }
    lo->failures = 0;
    lo->delay_s = lo->p.reconnect_delay_s;
    lo->retry_ns = now + (int64_t)(lo->delay_s * 1e9);
    FT_LOGW("pipeline", "%s: output lost; reconnecting in %.2f s", lo->p.writer.url, lo->delay_s);
    return FT_OK;
}

/* Fills the next slot with `f`. */
static ft_status emit(ft_live_output *lo, const AVFrame *f, int64_t now)
{
    ft_status st = FT_OK;
    if (!lo->w && (st = try_reopen(lo, now)))
        return st;
    double pts = (double)lo->n / lo->p.fps;
    lo->n++;
    if (!lo->w) {
        pthread_mutex_lock(&lo->mu);
        lo->stats.frames_lost++;
        pthread_mutex_unlock(&lo->mu);
        return FT_OK;
    }
    if (ft_writer_write_frame(lo->w, f, pts))
        return output_lost(lo, now);
    pthread_mutex_lock(&lo->mu);
    lo->stats.frames_sent++;
    pthread_mutex_unlock(&lo->mu);
    return FT_OK;
}

ft_status ft_live_output_frame(ft_live_output *lo, const AVFrame *f, double in_s, int64_t now,
                               bool *sent)
{
    *sent = false;
    if (!lo->t0_ns)
        lo->t0_ns = now;
    int64_t slot = lo->t0_ns + lo->n * lo->period_ns;
    if (now < slot - lo->period_ns / 2) {
        pthread_mutex_lock(&lo->mu);
        lo->stats.frames_early++;
        pthread_mutex_unlock(&lo->mu);
        return FT_OK;
    }
    if (av_frame_copy(lo->last, f) < 0)
        return FT_ERR_INVALID; /* not the output size: a pipeline bug */
    lo->have_last = true;
    if (lo->stall_since_ns) {
        lo->stall_since_ns = 0;
        lo->slate_ready = false;
        pthread_mutex_lock(&lo->mu);
        lo->stats.stalled = false;
        pthread_mutex_unlock(&lo->mu);
    }
    /* Re-anchored only beyond a period of drift: after a stall the output
     * clock has run on while the input's stood still, but re-anchoring on
     * every frame's jitter would cut or overlap the audio all the time. */
    double off = (double)lo->n / lo->p.fps - in_s;
    if (!lo->anchored || fabs(off - lo->offset_s) > 1.0 / lo->p.fps) {
        if (lo->anchored)
            FT_LOGD("pipeline", "audio re-anchored: offset %.3f s -> %.3f s", lo->offset_s, off);
        lo->offset_s = off;
        lo->anchored = true;
    }
    *sent = true;
    return emit(lo, lo->last, now);
}

static void count_audio(ft_live_output *lo, bool written)
{
    pthread_mutex_lock(&lo->mu);
    if (written)
        lo->stats.audio_packets++;
    else
        lo->stats.audio_dropped++;
    pthread_mutex_unlock(&lo->mu);
}

ft_status ft_live_output_audio(ft_live_output *lo, AVPacket *pkt, int64_t now)
{
    int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    /* No input audio reaches the output while it stalls: silence. */
    if (!lo->p.writer.audio || !lo->anchored || lo->stats.stalled || !lo->w ||
        ts == AV_NOPTS_VALUE) {
        count_audio(lo, false);
        return FT_OK;
    }
    AVRational tb = {lo->audio.tb_num, lo->audio.tb_den};
    int64_t shift = llrint(lo->offset_s / av_q2d(tb));
    if (ts + shift < lo->audio_end) { /* overlap after a re-anchor back in time */
        count_audio(lo, false);
        return FT_OK;
    }
    int64_t pts = pkt->pts, dts = pkt->dts;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += shift;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += shift;
    ft_status st = ft_writer_write_audio(lo->w, pkt);
    pkt->pts = pts;
    pkt->dts = dts;
    if (st)
        return output_lost(lo, now);
    lo->audio_end = ts + shift + (pkt->duration > 0 ? pkt->duration : 1);
    count_audio(lo, true);
    return FT_OK;
}

ft_status ft_live_output_tick(ft_live_output *lo, int64_t now)
{
    while (lo->t0_ns && now >= ft_live_output_deadline_ns(lo)) {
        int64_t slot = lo->t0_ns + lo->n * lo->period_ns;
        if (!lo->stall_since_ns)
            lo->stall_since_ns = slot;
        double stall_s = (double)(slot - lo->stall_since_ns) / 1e9;
        /* A frame or two of jitter is repeated but is not an outage. */
        if (stall_s >= STALL_S && !lo->stats.stalled) {
            pthread_mutex_lock(&lo->mu);
            lo->stats.stalled = true;
            pthread_mutex_unlock(&lo->mu);
        }
        bool slate = stall_s >= lo->p.slate_after_s;
        if (slate && !lo->slate_ready)
            make_slate(lo);
        pthread_mutex_lock(&lo->mu);
        lo->stats.frames_repeated++;
        lo->stats.frames_slate += slate;
        pthread_mutex_unlock(&lo->mu);
        ft_status st = emit(lo, slate ? lo->slate : lo->last, now);
        if (st)
            return st;
    }
    return FT_OK;
}

void ft_live_output_set_bitrate(ft_live_output *lo, int64_t bitrate)
{
    if (bitrate == lo->p.writer.bitrate)
        return;
    lo->p.writer.bitrate = bitrate;
    if (lo->w && ft_writer_set_bitrate(lo->w, bitrate))
        FT_LOGW("pipeline", "%s: the encoder keeps its bitrate until the output is reopened",
                lo->p.writer.url);
    else
        FT_LOGI("pipeline", "output bitrate now %lld bit/s", (long long)bitrate);
}

void ft_live_output_stats_get(ft_live_output *lo, ft_live_output_stats *out)
{
    pthread_mutex_lock(&lo->mu);
    *out = lo->stats;
    pthread_mutex_unlock(&lo->mu);
}

ft_status ft_live_output_close(ft_live_output *lo)
{
    if (lo->apar)
        FT_LOGI("pipeline", "%s: audio: %lld packets copied, %lld dropped", lo->p.writer.url,
                (long long)lo->stats.audio_packets, (long long)lo->stats.audio_dropped);
    ft_status st = lo->w ? ft_writer_close(lo->w) : FT_OK;
    ft_writer_destroy(&lo->w);
    return st;
}

void ft_live_output_destroy(ft_live_output **plo)
{
    if (!plo || !*plo)
        return;
    ft_live_output *lo = *plo;
    ft_writer_destroy(&lo->w);
    av_frame_free(&lo->last);
    av_frame_free(&lo->slate);
    avcodec_parameters_free(&lo->apar);
    pthread_mutex_destroy(&lo->mu);
    free(lo);
    *plo = NULL;
}
