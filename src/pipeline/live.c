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
/* Time constant of the smoothed buffer delay: long enough to average out
 * frame jitter, short enough to follow a clock drift of a few per cent. */
#define SMOOTH_S 1.0
/* The output clock's phase is slewed by at most this share of a period per
 * frame (1 % of the rate: far below what a player or an ingest notices). */
#define SLEW 0.01

struct ft_live_output {
    ft_live_output_params p;
    ft_writer *w;
    int64_t period_ns;
    int64_t delay_ns;       /* jitter buffer: a frame's slot is due this long after its arrival */
    int64_t hiccup_ns;      /* 2 max(delay, 2 periods): lateness past a frame's slot up to
                               this is a hiccup (its burst fits the buffer), more a stall */
    int64_t jump_ns;        /* a frame due further ahead than this re-anchors */
    double low_ns, high_ns; /* smoothed delay outside these: one slot repeated / one frame
                               dropped */
    double deadzone_ns;     /* smoothed delay within delay_ns +- this: no slewing */
    bool anchored;          /* a frame has set the mapping (t0_ns, offset_s) */
    int64_t t0_ns;          /* wall time of slot 0 (slewed) */
    int64_t n;              /* next slot to send */
    double offset_s;        /* output time - input time: frames and audio */
    double smooth_ns;       /* smoothed delay from arrival to slot */
    AVFrame **ring;         /* buffered frames, one per slot, slots increasing */
    int64_t *ring_slot;
    int cap, head, count;
    AVFrame *last;  /* the last real frame sent (swapped out of the ring) */
    AVFrame *slate; /* made from `last` when a stall passes slate_after_s */
    bool have_last, slate_ready;
    int64_t stall_since_ns;     /* slot time of the first repeat of this stall; 0 = none */
    int failures;               /* reopen attempts since the output went down */
    double delay_s;             /* current backoff */
    int64_t retry_ns;           /* when to try reopening */
    AVCodecParameters *apar;    /* copy of the input's audio parameters; NULL = no audio */
    ft_writer_audio_copy audio; /* what p.writer.audio points to */
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
    if (!(p->fps > 0) || p->fps > 240 || !(p->jitter_buffer_s >= 0) || p->jitter_buffer_s > 1)
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
    lo->delay_ns = llrint(p->jitter_buffer_s * 1e9);
    lo->hiccup_ns = 2 * (lo->delay_ns > 2 * lo->period_ns ? lo->delay_ns : 2 * lo->period_ns);
    lo->low_ns = (double)lo->delay_ns - fmax((double)lo->delay_ns / 2, (double)lo->period_ns);
    lo->high_ns = (double)(lo->delay_ns + lo->hiccup_ns - lo->period_ns);
    lo->jump_ns = lo->delay_ns + lo->hiccup_ns + lo->period_ns;
    lo->deadzone_ns = (double)lo->period_ns / 4;
    /* One frame per slot up to the jump limit ahead, the slot being sent and
     * rounding: the buffer never holds more. */
    lo->cap = (int)(lo->jump_ns / lo->period_ns) + 3;
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
    lo->ring = calloc((size_t)lo->cap, sizeof *lo->ring);
    lo->ring_slot = calloc((size_t)lo->cap, sizeof *lo->ring_slot);
    if (!lo->ring || !lo->ring_slot)
        st = FT_ERR_NOMEM;
    for (int i = 0; i < lo->cap && !st; i++)
        st = alloc_like(&lo->ring[i], p->writer.width, p->writer.height);
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
    return lo->anchored ? lo->t0_ns + lo->n * lo->period_ns : INT64_MAX;
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

static void count_drop(ft_live_output *lo)
{
    pthread_mutex_lock(&lo->mu);
    lo->stats.frames_early++;
    pthread_mutex_unlock(&lo->mu);
}

/* Time (ns, may be negative) from now until output time out_s is due. */
static double lead_ns(const ft_live_output *lo, double out_s, int64_t now)
{
    return (double)(lo->t0_ns - now) + out_s * 1e9;
}

static void set_smooth(ft_live_output *lo, double ns)
{
    lo->smooth_ns = ns;
    pthread_mutex_lock(&lo->mu);
    lo->stats.buffer_s = ns / 1e9;
    pthread_mutex_unlock(&lo->mu);
}

/* Maps input time in_s onto the first slot due at or after wall time
 * due_ns (and not sent yet) and returns it. Frames buffered before it keep
 * their slots; any due after it are older pictures than it, a burst the
 * buffer cannot hold: dropped. */
static int64_t remap(ft_live_output *lo, double in_s, int64_t due_ns)
{
    int64_t k = llround((double)(due_ns - lo->t0_ns) / 1e9 * lo->p.fps);
    if (k < lo->n)
        k = lo->n;
    while (lo->count && lo->ring_slot[(lo->head + lo->count - 1) % lo->cap] >= k) {
        lo->count--;
        count_drop(lo);
    }
    double off = (double)k / lo->p.fps - in_s;
    FT_LOGD("pipeline", "input time %.3f s mapped to output slot %lld (offset %.3f s -> %.3f s)",
            in_s, (long long)k, lo->offset_s, off);
    lo->offset_s = off;
    return k;
}

/* Follows the input's clock with one frame's delay `lead` (arrival to due
 * time): the smoothed delay is held near the buffer delay by slewing the
 * output clock's phase a little per frame (a drift of up to SLEW vanishes
 * there, and so does the extra delay a hiccup leaves); outside low..high
 * the mapping moves by a whole slot: the next frame leaves a slot to repeat
 * (too little delay) or displaces the last buffered one (too much). */
static void follow(ft_live_output *lo, double lead)
{
    double s = lo->smooth_ns + (lead - lo->smooth_ns) / (SMOOTH_S * lo->p.fps);
    double err = s - (double)lo->delay_ns;
    if (s < lo->low_ns || s > lo->high_ns) {
        double dir = s > lo->high_ns ? -1 : 1;
        lo->offset_s += dir / lo->p.fps;
        s += dir * (double)lo->period_ns;
        pthread_mutex_lock(&lo->mu);
        lo->stats.corrections++;
        pthread_mutex_unlock(&lo->mu);
        FT_LOGD("pipeline", "clock drift: one frame %s (buffer %.1f ms)",
                dir < 0 ? "dropped" : "repeated", (s - dir * (double)lo->period_ns) / 1e6);
    } else if (fabs(err) > lo->deadzone_ns) {
        int64_t step = llround(copysign(fmin(fabs(err), SLEW * (double)lo->period_ns), err));
        lo->t0_ns -= step;
        s -= (double)step;
    }
    set_smooth(lo, s);
}

/* Sends slot n: its buffered frame, else the last frame again (the buffer
 * ran dry, or the input has no frame for this slot), then the slate. */
static ft_status send_slot(ft_live_output *lo, int64_t now)
{
    if (lo->count && lo->ring_slot[lo->head] == lo->n) {
        /* The ring frame becomes `last`; `last`'s storage goes back to the ring. */
        AVFrame *t = lo->last;
        lo->last = lo->ring[lo->head];
        lo->ring[lo->head] = t;
        lo->head = (lo->head + 1) % lo->cap;
        lo->count--;
        lo->have_last = true;
        lo->stall_since_ns = 0;
        lo->slate_ready = false;
        return emit(lo, lo->last, now);
    }
    int64_t slot = lo->t0_ns + lo->n * lo->period_ns;
    if (!lo->count && !lo->stall_since_ns)
        lo->stall_since_ns = slot;
    double stall_s = lo->stall_since_ns ? (double)(slot - lo->stall_since_ns) / 1e9 : 0;
    /* A frame or two of jitter is repeated but is not an outage; nor is a
     * slot skipped while frames are buffered. */
    if (!lo->count && stall_s >= STALL_S && !lo->stats.stalled) {
        pthread_mutex_lock(&lo->mu);
        lo->stats.stalled = true;
        pthread_mutex_unlock(&lo->mu);
    }
    bool slate = lo->stall_since_ns && stall_s >= lo->p.slate_after_s;
    if (slate && !lo->slate_ready)
        make_slate(lo);
    pthread_mutex_lock(&lo->mu);
    lo->stats.frames_repeated++;
    lo->stats.frames_slate += slate;
    pthread_mutex_unlock(&lo->mu);
    return emit(lo, slate ? lo->slate : lo->last, now);
}

ft_status ft_live_output_tick(ft_live_output *lo, int64_t now)
{
    ft_status st = FT_OK;
    while (!st && lo->anchored && now >= ft_live_output_deadline_ns(lo))
        st = send_slot(lo, now);
    return st;
}

static void count_reanchor(ft_live_output *lo)
{
    pthread_mutex_lock(&lo->mu);
    lo->stats.reanchors++;
    pthread_mutex_unlock(&lo->mu);
}

/* The slot of frame in_s arriving at `now`. */
static int64_t place(ft_live_output *lo, double in_s, int64_t now)
{
    if (!lo->anchored) {
        lo->t0_ns = now + lo->delay_ns;
        lo->anchored = true;
        set_smooth(lo, (double)lo->delay_ns);
        return remap(lo, in_s, lo->t0_ns);
    }
    double lead = lead_ns(lo, in_s + lo->offset_s, now);
    bool passed = llround((in_s + lo->offset_s) * lo->p.fps) < lo->n;
    if ((passed && lead < (double)-lo->hiccup_ns) || lead > (double)lo->jump_ns) {
        /* A stall, a reconnect or a timestamp jump: afresh, one buffer delay
         * from now (after a stall, more of the freeze or slate). */
        count_reanchor(lo);
        int64_t k = remap(lo, in_s, now + lo->delay_ns);
        set_smooth(lo, lead_ns(lo, (double)k / lo->p.fps, now));
        return k;
    }
    if (passed) {
        /* A hiccup beyond the buffer: its slot went out as a repeat, so it
         * takes the next one rather than being dropped; the frames behind
         * it (a burst, usually) refill the buffer, and the slew takes the
         * extra delay back. */
        count_reanchor(lo);
        return remap(lo, in_s, now);
    }
    follow(lo, lead);
    int64_t k = llround((in_s + lo->offset_s) * lo->p.fps);
    return k < lo->n ? lo->n : k;
}

ft_status ft_live_output_frame(ft_live_output *lo, const AVFrame *f, double in_s, int64_t now)
{
    if (f->width != lo->last->width || f->height != lo->last->height ||
        f->format != lo->last->format)
        return FT_ERR_INVALID; /* not the output picture: a pipeline bug */
    if (lo->stats.stalled) {
        pthread_mutex_lock(&lo->mu);
        lo->stats.stalled = false;
        pthread_mutex_unlock(&lo->mu);
    }
    int64_t k = place(lo, in_s, now);
    if (k >= 0) {
        int newest = (lo->head + lo->count - 1) % lo->cap;
        int i;
        if (lo->count && k <= lo->ring_slot[newest]) {
            /* Its slot is taken (input faster than the output, or a drift
             * correction): the newer frame wins; one older than the newest
             * buffered (timestamps going back) loses. */
            count_drop(lo);
            i = k == lo->ring_slot[newest] ? newest : -1;
        } else {
            if (lo->count == lo->cap) { /* never with steady input: keep the latency */
                lo->head = (lo->head + 1) % lo->cap;
                lo->count--;
                count_drop(lo);
            }
            i = (lo->head + lo->count) % lo->cap;
            lo->ring_slot[i] = k;
            lo->count++;
        }
        if (i >= 0 && av_frame_copy(lo->ring[i], f) < 0)
            return FT_ERR_INVALID;
    }
    return ft_live_output_tick(lo, now);
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
    ft_status st = FT_OK;
    /* The buffered frames are the end of the input: send them on their
     * slots now rather than lose them. */
    while (!st && lo->count && lo->w)
        st = send_slot(lo, lo->t0_ns + lo->n * lo->period_ns);
    if (lo->apar)
        FT_LOGI("pipeline", "%s: audio: %lld packets copied, %lld dropped", lo->p.writer.url,
                (long long)lo->stats.audio_packets, (long long)lo->stats.audio_dropped);
    ft_status cs = lo->w ? ft_writer_close(lo->w) : FT_OK;
    ft_writer_destroy(&lo->w);
    return st ? st : cs;
}

void ft_live_output_destroy(ft_live_output **plo)
{
    if (!plo || !*plo)
        return;
    ft_live_output *lo = *plo;
    ft_writer_destroy(&lo->w);
    for (int i = 0; lo->ring && i < lo->cap; i++)
        av_frame_free(&lo->ring[i]);
    free(lo->ring);
    free(lo->ring_slot);
    av_frame_free(&lo->last);
    av_frame_free(&lo->slate);
    avcodec_parameters_free(&lo->apar);
    pthread_mutex_destroy(&lo->mu);
    free(lo);
    *plo = NULL;
}
