/* Pipeline: four threads (decode, detect, track+camera+render, encode) joined
 * by bounded queues of preallocated items; the calling thread draws the
 * progress bar and waits. */
#include "pipeline/pipeline.h"

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "detect/classic.h"
#include "io/reader.h"
#include "io/writer.h"
#include "pipeline/live.h"
#include "pipeline/track_camera.h"
#include "pipeline/track_csv.h"
#include "render/render.h"

enum { ITEM_VIDEO, ITEM_AUDIO };

/* One frame (or audio packet) travelling through the stages. Items and
 * their output buffers are made once at create; the decoder's frames are
 * refcounted buffers from its own pool. */
typedef struct item {
    int kind;
    AVFrame *in;     /* decoded picture (reference) */
    AVFrame *dev;    /* its NVDEC surface for the detector (zero-copy; empty otherwise),
                        released right after detection */
    AVFrame *conv;   /* YUV420P copy when the decoder's format is not YUV420P/NV12 */
    AVFrame *out;    /* rendered output */
    AVFrame *dbg;    /* debug composition (debug output only) */
    AVPacket *pkt;   /* audio packet */
    double pts_s;
    int64_t index;
    int64_t t0_ns;   /* when decoding of this frame finished */
    int64_t gen;     /* settings generation in force when it was decoded */
    double stage_ms[FT_STAGE_COUNT]; /* this frame's time in each stage */
    int n_det;
    ft_detection det[FT_DETECT_MAX];
    ft_track_state track;
    ft_crop crop;
} item;

/* Bounded FIFO of item pointers. */
typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    item **buf;
    int cap, head, count;
    bool closed;  /* no more pushes: pop drains then returns NULL */
    bool aborted; /* error: push and pop return at once */
} queue;

struct ft_pipeline {
    ft_pipeline_params p;
    ft_tracker_params tracker_params;
    ft_camera_params camera_params;
    ft_reader *reader;
    ft_writer *writer;
    ft_writer *dbg_writer;
    ft_track_csv_writer *csv;
    ft_tracker *tracker;
    ft_camera *camera;
    int frame_w, frame_h; /* size the tracker and camera were made for */
    struct SwsContext *conv_sws;
    item *items;
    int n_items;
    queue q_free, q_detect, q_track, q_encode;
    atomic_bool stop;
    pthread_mutex_t mu; /* guards status, stats, done */
    pthread_cond_t done_cv;
    int running;        /* stage threads still running */
    ft_status status;
    ft_pipeline_stats stats;
    double stage_total_ms[FT_STAGE_COUNT];
    int64_t t_start_ns;
    int64_t pace_origin_ns; /* realtime: wall time of input time 0 (decode thread) */
    int64_t total_frames; /* expected, for the progress bar (0 = unknown) */
    ft_track_csv_row row;  /* scratch for the CSV (encode thread only) */
    ft_live_output *live;  /* live mode: constant-rate output instead of `writer` */
    /* Hot settings (ft_pipeline_update): written under mu, generation bumped;
     * each stage applies them at the first item stamped with a newer one. */
    struct {
        double confidence;
        ft_detect_filter_params filter;
        ft_tracker_params tracker;
        ft_camera_params camera;
        bool show_stats;
        int64_t bitrate;
    } hot;
    atomic_int_fast64_t hot_gen;
    int64_t det_gen, trk_gen, enc_gen; /* applied by each stage (its thread only) */
    bool device_frames;    /* the detector reads NVDEC surfaces in place (zero-copy) */
    int64_t frames_device; /* frames it read that way (detect thread only) */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *ft_pipeline_stage_name(ft_pipeline_stage s)
{
    static const char *const names[FT_STAGE_COUNT] = {"decode", "detect", "track", "render",
                                                      "encode"};
    return (unsigned)s < FT_STAGE_COUNT ? names[s] : "?";
}

void ft_pipeline_params_default(ft_pipeline_params *p)
{
    memset(p, 0, sizeof *p);
    p->device = "auto";
    p->out_width = 1280;
    p->out_height = 720;
    p->codec = "auto";
    p->preset = "veryfast";
    p->crf = 23;
    p->gop_seconds = 2.0;
    p->progress = true;
}

/* ---- queues ---- */

static ft_status queue_init(queue *q, int cap)
{
    memset(q, 0, sizeof *q);
    q->buf = calloc((size_t)cap, sizeof *q->buf);
    if (!q->buf)
        return FT_ERR_NOMEM;
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return FT_OK;
}

static void queue_deinit(queue *q)
{
    if (!q->buf)
        return;
    free(q->buf);
    q->buf = NULL;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

static void item_release(ft_pipeline *pl, item *it);

/* Appends `it`. A full queue blocks (batch back-pressure) or, with
 * drop_oldest, gives its oldest video item back to the pool (live mode).
 * Returns false when the queue was aborted; `it` is then released. */
static bool queue_push(ft_pipeline *pl, queue *q, item *it, bool drop_oldest)
{
    item *dropped = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !q->aborted) {
        if (drop_oldest) {
            for (int i = 0; i < q->count; i++) {
                int k = (q->head + i) % q->cap;
                if (q->buf[k]->kind != ITEM_VIDEO)
                    continue;
                dropped = q->buf[k];
                for (int j = i; j < q->count - 1; j++) /* close the gap, keep order */
                    q->buf[(q->head + j) % q->cap] = q->buf[(q->head + j + 1) % q->cap];
                q->count--;
                break;
            }
            if (dropped)
                break;
        }
        pthread_cond_wait(&q->not_full, &q->mu);
    }
    bool ok = !q->aborted;
    if (ok) {
        q->buf[(q->head + q->count) % q->cap] = it;
        q->count++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    if (dropped) {
        pthread_mutex_lock(&pl->mu);
        pl->stats.frames_dropped++;
        pthread_mutex_unlock(&pl->mu);
        item_release(pl, dropped);
    }
    if (!ok)
        item_release(pl, it);
    return ok;
}

/* The oldest item, with q->mu held; NULL when empty or aborted. */
static item *queue_take_locked(queue *q)
{
    if (q->aborted || q->count == 0)
        return NULL;
    item *it = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    return it;
}

/* Takes the oldest item; NULL once the queue is closed and empty, or aborted. */
static item *queue_pop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed && !q->aborted)
        pthread_cond_wait(&q->not_empty, &q->mu);
    item *it = queue_take_locked(q);
    pthread_mutex_unlock(&q->mu);
    return it;
}

/* Like queue_pop, but gives up at the monotonic time deadline_ns (then
 * *timed_out is set and NULL returned). */
static item *queue_pop_until(queue *q, int64_t deadline_ns, bool *timed_out)
{
    *timed_out = false;
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed && !q->aborted) {
        int64_t left = deadline_ns - now_ns();
        if (left <= 0) {
            *timed_out = true;
            break;
        }
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t ns = (int64_t)dl.tv_nsec + (left < 1000000000 ? left : 1000000000);
        dl.tv_sec += (time_t)(ns / 1000000000);
        dl.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&q->not_empty, &q->mu, &dl);
    }
    item *it = queue_take_locked(q);
    pthread_mutex_unlock(&q->mu);
    return it;
}

static void queue_close(queue *q, bool abort)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    if (abort)
        q->aborted = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

static void item_release(ft_pipeline *pl, item *it)
{
    av_frame_unref(it->in);
    av_frame_unref(it->dev);
    av_packet_unref(it->pkt);
    /* The free pool holds every item, so this push never blocks. */
    pthread_mutex_lock(&pl->q_free.mu);
    pl->q_free.buf[(pl->q_free.head + pl->q_free.count) % pl->q_free.cap] = it;
    pl->q_free.count++;
    pthread_cond_signal(&pl->q_free.not_empty);
    pthread_mutex_unlock(&pl->q_free.mu);
}

/* Records the first error and stops every stage. */
static void fail(ft_pipeline *pl, ft_status st)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->status == FT_OK)
        pl->status = st;
    pthread_mutex_unlock(&pl->mu);
    atomic_store(&pl->stop, true);
    ft_reader_interrupt(pl->reader);
    queue_close(&pl->q_free, true);
    queue_close(&pl->q_detect, true);
    queue_close(&pl->q_track, true);
    queue_close(&pl->q_encode, true);
}

static void add_stage_time(ft_pipeline *pl, item *it, ft_pipeline_stage s, int64_t t0)
{
    double ms = (double)(now_ns() - t0) / 1e6;
    it->stage_ms[s] = ms;
    pthread_mutex_lock(&pl->mu);
    pl->stage_total_ms[s] += ms;
    pthread_mutex_unlock(&pl->mu);
}

static void stage_exit(ft_pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->running--;
    pthread_cond_broadcast(&pl->done_cv);
    pthread_mutex_unlock(&pl->mu);
}

/* ---- frame views ---- */

/* A borrowed ft_image over a YUV420P or NV12 AVFrame. */
static bool image_of(const AVFrame *f, ft_image *img)
{
    memset(img, 0, sizeof *img);
    img->width = f->width;
    img->height = f->height;
    if (f->format == AV_PIX_FMT_YUV420P || f->format == AV_PIX_FMT_YUVJ420P)
        img->format = FT_PIX_YUV420P;
    else if (f->format == AV_PIX_FMT_NV12)
        img->format = FT_PIX_NV12;
    else
        return false;
    for (int i = 0; i < 3; i++) {
        img->data[i] = f->data[i];
        img->stride[i] = f->linesize[i];
    }
    return true;
}

/* The picture of a video item as the detector and the renderer see it. */
static void item_image(const item *it, ft_image *img)
{
    if (!image_of(it->in, img))
        (void)image_of(it->conv, img);
}

/* Converts formats the renderer does not read (4:2:2, 10-bit, RGB...) to
 * YUV420P in the item's own buffer, reallocated only when the size changes. */
static ft_status convert_if_needed(ft_pipeline *pl, item *it)
{
    ft_image probe;
    if (image_of(it->in, &probe))
        return FT_OK;
    AVFrame *c = it->conv;
    if (c->width != it->in->width || c->height != it->in->height || !c->buf[0]) {
        av_frame_unref(c);
        c->format = AV_PIX_FMT_YUV420P;
        c->width = it->in->width;
        c->height = it->in->height;
        if (av_frame_get_buffer(c, 0) < 0)
            return FT_ERR_NOMEM;
    }
    pl->conv_sws = sws_getCachedContext(pl->conv_sws, it->in->width, it->in->height,
                                        it->in->format, c->width, c->height, AV_PIX_FMT_YUV420P,
                                        SWS_BILINEAR, NULL, NULL, NULL);
    if (!pl->conv_sws) {
        FT_LOGE("pipeline", "%s: cannot convert %s frames", pl->p.input,
                av_get_pix_fmt_name(it->in->format));
        return FT_ERR_INPUT;
    }
    sws_scale(pl->conv_sws, (const uint8_t *const *)it->in->data, it->in->linesize, 0,
              it->in->height, c->data, c->linesize);
    return FT_OK;
}

/* ---- stages ---- */

/* Realtime input: waits until `pts_s` seconds have passed since the first
 * frame, in short sleeps so that a stop is noticed. */
static void pace(ft_pipeline *pl, double pts_s)
{
    if (pl->pace_origin_ns == 0)
        pl->pace_origin_ns = now_ns() - (int64_t)(pts_s * 1e9);
    int64_t due = pl->pace_origin_ns + (int64_t)(pts_s * 1e9);
    for (int64_t t = now_ns(); t < due && !atomic_load(&pl->stop); t = now_ns()) {
        int64_t wait = due - t < 20000000 ? due - t : 20000000;
        struct timespec ts = {0, (long)wait};
        nanosleep(&ts, NULL);
    }
}

static void *decode_main(void *arg)
{
    ft_pipeline *pl = arg;
    int64_t index = 0;
    double last_pts = 0;
    const ft_reader_info *info = ft_reader_get_info(pl->reader);
    const double step_s = info->fps > 0 ? 1.0 / info->fps : 0.04;
    for (;;) {
        if (atomic_load(&pl->stop))
            break;
        item *it = queue_pop(&pl->q_free);
        if (!it)
            break;
        int64_t t0 = now_ns();
        ft_reader_item kind;
        double pts = 0;
        ft_status st = ft_reader_read(pl->reader, it->in, it->pkt, &kind, &pts);
        if (st == FT_ERR_INPUT_EOF || (st == FT_ERR_INTERRUPTED && atomic_load(&pl->stop))) {
            item_release(pl, it);
            break;
        }
        if (st == FT_OK && kind == FT_READER_VIDEO) {
            if (pl->device_frames)
                (void)ft_reader_take_device_frame(pl->reader, it->dev);
            st = convert_if_needed(pl, it);
        }
        if (st) {
            item_release(pl, it);
            fail(pl, st);
            break;
        }
        it->kind = kind == FT_READER_VIDEO ? ITEM_VIDEO : ITEM_AUDIO;
        if (kind == FT_READER_VIDEO) {
            /* A restarted publisher can hand over a frame that is not after
             * the last one (reordered frames around the timestamp reset);
             * the tracker and camera need time to move forward, so such a
             * frame is shown one nominal frame after its predecessor. */
            if (index > 0 && pts <= last_pts) {
                FT_LOGD("pipeline", "frame at %.3f s not after %.3f s: retimed", pts, last_pts);
                pts = last_pts + step_s;
            }
            last_pts = pts;
        }
        it->pts_s = pts;
        if (pl->p.realtime && it->kind == ITEM_VIDEO)
            pace(pl, pts);
        if (it->kind == ITEM_VIDEO) {
            it->index = index++;
            it->gen = atomic_load(&pl->hot_gen);
            it->t0_ns = now_ns();
            memset(it->stage_ms, 0, sizeof it->stage_ms);
            add_stage_time(pl, it, FT_STAGE_DECODE, t0);
            pthread_mutex_lock(&pl->mu);
            pl->stats.frames_in++;
            pl->stats.corrupt_packets = ft_reader_corrupt_packets(pl->reader);
            pthread_mutex_unlock(&pl->mu);
        }
        if (!queue_push(pl, &pl->q_detect, it, pl->p.live))
            break;
    }
    queue_close(&pl->q_detect, false);
    stage_exit(pl);
    return NULL;
}

/* Hot settings for the detector and the filter, between two frames. A value
 * a detector does not know keeps the old one (warned), never stops a run. */
static void apply_detect_settings(ft_pipeline *pl, int64_t gen)
{
    pthread_mutex_lock(&pl->mu);
    double conf = pl->hot.confidence;
    ft_detect_filter_params fp = pl->hot.filter;
    pthread_mutex_unlock(&pl->mu);
    if (pl->p.detector && ft_detector_set_param(pl->p.detector, "confidence", conf))
        FT_LOGW("pipeline", "the detector keeps its confidence (cannot change it while running)");
    if (pl->p.filter && ft_detect_filter_set_params(pl->p.filter, &fp))
        FT_LOGW("pipeline", "dead zones not changed (rejected by the filter)");
    pl->det_gen = gen;
}

static void *detect_main(void *arg)
{
    ft_pipeline *pl = arg;
    item *it;
    while ((it = queue_pop(&pl->q_detect))) {
        it->n_det = 0;
        if (it->kind == ITEM_VIDEO && it->gen != pl->det_gen)
            apply_detect_settings(pl, it->gen);
        if (it->kind == ITEM_VIDEO && pl->p.detector) {
            int64_t t0 = now_ns();
            ft_image img;
            item_image(it, &img);
            if (it->dev->buf[0] && img.format == FT_PIX_NV12 && img.width == it->dev->width &&
                img.height == it->dev->height) {
                for (int p = 0; p < 2; p++) {
                    img.dev_data[p] = it->dev->data[p];
                    img.dev_stride[p] = it->dev->linesize[p];
                }
                pl->frames_device++;
            }
            ft_status st = ft_detector_detect(pl->p.detector, &img, it->pts_s, it->det,
                                              FT_DETECT_MAX, &it->n_det);
            /* The detector is done with the surface (it waits for its GPU work
             * before returning): back to NVDEC's pool now, not at encode. */
            av_frame_unref(it->dev);
            if (!st && pl->p.filter)
                st = ft_detect_filter_apply(pl->p.filter, &img, it->det, &it->n_det);
            if (st) {
                FT_LOGE("pipeline", "detector failed on frame %lld: %s", (long long)it->index,
                        ft_status_str(st));
                item_release(pl, it);
                fail(pl, st);
                break;
            }
            add_stage_time(pl, it, FT_STAGE_DETECT, t0);
        }
        if (!queue_push(pl, &pl->q_track, it, false))
            break;
    }
    queue_close(&pl->q_track, false);
    if (pl->device_frames)
        FT_LOGI("pipeline", "zero-copy: %lld frames went to the detector as NVDEC surfaces",
                (long long)pl->frames_device);
    stage_exit(pl);
    return NULL;
}

/* (Re)creates the tracker and camera for the current frame size: at start
 * and when the input changes resolution mid-stream. */
static ft_status ensure_tracker(ft_pipeline *pl, int w, int h)
{
    if (pl->tracker && pl->frame_w == w && pl->frame_h == h)
        return FT_OK;
    if (pl->tracker)
        FT_LOGI("pipeline", "%s: frame size changed to %dx%d; tracking restarts", pl->p.input, w,
                h);
    ft_tracker_destroy(&pl->tracker);
    ft_camera_destroy(&pl->camera);
    ft_status st = ft_tracker_create(&pl->tracker_params, w, h, &pl->tracker);
    if (!st)
        st = ft_camera_create(&pl->camera_params, w, h, pl->p.out_width, pl->p.out_height,
                              &pl->camera);
    pl->frame_w = w;
    pl->frame_h = h;
    return st;
}

static ft_status track_one(ft_pipeline *pl, item *it)
{
    ft_status st = ensure_tracker(pl, it->in->width, it->in->height);
    if (st)
        return st;
    ft_track_candidate cand[FT_DETECT_MAX];
    for (int i = 0; i < it->n_det; i++)
        cand[i] = (ft_track_candidate){it->det[i].x, it->det[i].y, it->det[i].w, it->det[i].h,
                                       it->det[i].score};
    if ((st = ft_tracker_update(pl->tracker, it->pts_s, cand, it->n_det, &it->track)))
        return st;
    const ft_camera_target tg = ft_pipeline_camera_target(&it->track);
    return ft_camera_update(pl->camera, it->pts_s, &tg, &it->crop);
}

static ft_track_csv_mode csv_mode(const ft_track_state *s)
{
    if (s->chaos)
        return FT_TRACK_CSV_CHAOS;
    if (s->stability_lock)
        return FT_TRACK_CSV_STABILITY;
    switch (s->mode) {
    case FT_TRACK_ACQUIRING:
        return FT_TRACK_CSV_ACQUIRING;
    case FT_TRACK_NORMAL:
        return FT_TRACK_CSV_NORMAL;
    case FT_TRACK_RECOVERING:
        return FT_TRACK_CSV_RECOVERING;
    case FT_TRACK_COASTING:
        return FT_TRACK_CSV_COASTING;
    default:
        return FT_TRACK_CSV_LOST;
    }
}

static double current_fps(ft_pipeline *pl)
{
    double el = (double)(now_ns() - pl->t_start_ns) / 1e9;
    return el > 0 ? (double)pl->stats.frames_out / el : 0;
}

static ft_status render_one(ft_pipeline *pl, item *it)
{
    /* An encoder may still hold a reference to this buffer from its last
     * trip (NVENC keeps input frames until their packet is out): then write
     * into a fresh one instead of under its feet. A no-op otherwise. */
    if (av_frame_make_writable(it->out) < 0 || (it->dbg && av_frame_make_writable(it->dbg) < 0))
        return FT_ERR_NOMEM;
    ft_image src, out;
    item_image(it, &src);
    (void)image_of(it->out, &out);
    ft_render_rect r = {it->crop.x, it->crop.y, it->crop.w, it->crop.h};
    ft_render_rect_fit(&r, src.width, src.height, out.width, out.height);
    it->crop = (ft_crop){(float)r.x, (float)r.y, (float)r.w, (float)r.h};
    ft_status st = ft_render_crop(&src, &r, &out);
    if (st)
        return st;
    const ft_track_state *s = &it->track;
    if (pl->p.show_stats) {
        ft_render_overlay ov = {0};
        ov.ball_visible = s->is_tracking;
        ov.ball_x = s->x;
        ov.ball_y = s->y;
        if (s->is_tracking) {
            /* Predicted trail: where the filter's motion model puts the ball
             * over the next half second. */
            ov.trail_n = 12;
            for (int i = 0; i < ov.trail_n; i++) {
                double t = (i + 1) * 0.04;
                ov.trail_x[i] = s->x + s->vx * t + 0.5 * s->ax * t * t;
                ov.trail_y[i] = s->y + s->vy * t + 0.5 * s->ay * t * t;
            }
        }
        ov.mode = ft_track_csv_mode_name(csv_mode(s));
        pthread_mutex_lock(&pl->mu);
        ov.fps = current_fps(pl);
        pthread_mutex_unlock(&pl->mu);
        ov.latency_ms = (double)(now_ns() - it->t0_ns) / 1e6;
        ft_render_overlay_draw(&out, &r, &ov);
    }
    if (it->dbg) {
        ft_render_box_f boxes[FT_DETECT_MAX];
        for (int i = 0; i < it->n_det; i++)
            boxes[i] = (ft_render_box_f){it->det[i].x, it->det[i].y, it->det[i].w, it->det[i].h,
                                         it->det[i].score};
        ft_render_debug dbg = {boxes, it->n_det, s->is_tracking, s->x, s->y, 0, 0, r};
        /* The gate drawn is the 3-sigma region of the position estimate. */
        dbg.gate_rx = dbg.gate_ry = 3.0 * s->pos_std;
        ft_image dimg;
        (void)image_of(it->dbg, &dimg);
        if ((st = ft_render_debug_compose(&src, &out, &dbg, &dimg)))
            return st;
    }
    return FT_OK;
}

/* The default detector raises look-alikes next to the ball (a white boot)
 * to FT_DETECT_CLASSIC_RAISE_CAP so that they keep a track alive but never
 * make it jump or start; a tracker minimum at or under the cap lets them
 * move the track. That is a legitimate, if risky, setting: warned about at
 * start-up (before = NULL) and by a reload that changes it, not refused. */
static void warn_under_raise_cap(const ft_detector *det, const ft_tracker_params *t,
                                 const ft_tracker_params *before)
{
    if (!det || !ft_detect_classic_is(det))
        return;
    const struct {
        const char *key;
        double value, before;
    } mins[] = {
        {"recovering_min_confidence", t->recovering_min_confidence,
         before ? before->recovering_min_confidence : NAN},
        {"acquire_min_confidence", t->acquire_min_confidence,
         before ? before->acquire_min_confidence : NAN},
    };
    for (size_t i = 0; i < sizeof mins / sizeof mins[0]; i++)
        if (mins[i].value <= FT_DETECT_CLASSIC_RAISE_CAP && mins[i].value != mins[i].before)
            FT_LOGW("pipeline",
                    "tracking.%s %g is at or under the default detector's continuity cap %g: "
                    "candidates it raises next to the ball can move the track "
                    "(docs/detector.md)",
                    mins[i].key, mins[i].value, FT_DETECT_CLASSIC_RAISE_CAP);
}

/* Hot settings for the tracker, the camera and the overlay. */
static void apply_track_settings(ft_pipeline *pl, int64_t gen)
{
    const ft_tracker_params before = pl->tracker_params;
    pthread_mutex_lock(&pl->mu);
    pl->tracker_params = pl->hot.tracker;
    pl->camera_params = pl->hot.camera;
    pl->p.show_stats = pl->hot.show_stats;
    pthread_mutex_unlock(&pl->mu);
    if (pl->tracker && ft_tracker_set_params(pl->tracker, &pl->tracker_params))
        FT_LOGW("pipeline", "tracking parameters not changed (rejected by the tracker)");
    else
        warn_under_raise_cap(pl->p.detector, &pl->tracker_params, &before);
    if (pl->camera && ft_camera_set_params(pl->camera, &pl->camera_params))
        FT_LOGW("pipeline", "camera parameters not changed (rejected by the camera)");
    pl->trk_gen = gen;
}

static void *track_main(void *arg)
{
    ft_pipeline *pl = arg;
    item *it;
    while ((it = queue_pop(&pl->q_track))) {
        if (it->kind == ITEM_VIDEO) {
            if (it->gen != pl->trk_gen)
                apply_track_settings(pl, it->gen);
            int64_t t0 = now_ns();
            ft_status st = track_one(pl, it);
            add_stage_time(pl, it, FT_STAGE_TRACK, t0);
            if (st) {
                FT_LOGE("pipeline", "tracking failed on frame %lld: %s", (long long)it->index,
                        ft_status_str(st));
            } else {
                t0 = now_ns();
                st = render_one(pl, it);
                add_stage_time(pl, it, FT_STAGE_RENDER, t0);
                if (st)
                    FT_LOGE("pipeline", "rendering failed on frame %lld: %s",
                            (long long)it->index, ft_status_str(st));
            }
            if (st) {
                item_release(pl, it);
                fail(pl, st);
                break;
            }
        }
        if (!queue_push(pl, &pl->q_encode, it, false))
            break;
    }
    queue_close(&pl->q_encode, false);
    stage_exit(pl);
    return NULL;
}

static ft_status write_csv_row(ft_pipeline *pl, const item *it)
{
    ft_track_csv_row *row = &pl->row;
    const ft_track_state *s = &it->track;
    row->frame = it->index;
    row->pts = it->pts_s;
    ft_track_csv_row_set_detections(row, it->det, it->n_det);
    row->state = !s->is_tracking ? FT_TRACK_CSV_NO_ESTIMATE
                 : s->measured   ? FT_TRACK_CSV_TRACKING
                                 : FT_TRACK_CSV_PREDICTED;
    row->x = s->x;
    row->y = s->y;
    row->mode = csv_mode(s);
    row->crop_x = it->crop.x;
    row->crop_y = it->crop.y;
    row->crop_w = it->crop.w;
    row->crop_h = it->crop.h;
    return ft_track_csv_writer_write(pl->csv, row);
}

static ft_status encode_one(ft_pipeline *pl, item *it)
{
    if (it->kind == ITEM_AUDIO)
        return pl->live ? ft_live_output_audio(pl->live, it->pkt, now_ns())
                        : ft_writer_write_audio(pl->writer, it->pkt);
    if (pl->live && it->gen != pl->enc_gen) {
        pthread_mutex_lock(&pl->mu);
        ft_live_output_set_bitrate(pl->live, pl->hot.bitrate);
        pthread_mutex_unlock(&pl->mu);
        pl->enc_gen = it->gen;
    }
    int64_t t0 = now_ns();
    ft_status st = pl->live ? ft_live_output_frame(pl->live, it->out, it->pts_s, t0)
                            : ft_writer_write_frame(pl->writer, it->out, it->pts_s);
    if (!st && pl->dbg_writer)
        st = ft_writer_write_frame(pl->dbg_writer, it->dbg, it->pts_s);
    if (!st && pl->csv)
        st = write_csv_row(pl, it);
    if (st)
        return st;
    int64_t t1 = now_ns();
    ft_image picture;
    (void)image_of(it->out, &picture);
    ft_pipeline_frame f = {
        .index = it->index,
        .pts_s = it->pts_s,
        .frame_w = it->in->width,
        .frame_h = it->in->height,
        .detections = it->det,
        .n_detections = it->n_det,
        .track = &it->track,
        .mode = ft_track_csv_mode_name(csv_mode(&it->track)),
        .crop = it->crop,
        .latency_ms = (double)(t1 - it->t0_ns) / 1e6,
        .picture = &picture,
    };
    memcpy(f.stage_ms, it->stage_ms, sizeof f.stage_ms);
    f.stage_ms[FT_STAGE_ENCODE] = (double)(t1 - t0) / 1e6;
    pthread_mutex_lock(&pl->mu);
    pl->stage_total_ms[FT_STAGE_ENCODE] += (double)(t1 - t0) / 1e6;
    pl->stats.frames_out++;
    pl->stats.detections += it->n_det;
    pthread_mutex_unlock(&pl->mu);
    if (pl->p.hooks.on_frame)
        st = pl->p.hooks.on_frame(pl->p.hooks.user, &f);
    return st;
}

/* Live encode stage: frames as they come, and between them the output
 * clock's repeats and slate (pipeline/live.h). */
static void encode_live(ft_pipeline *pl)
{
    for (;;) {
        bool timed_out;
        item *it = queue_pop_until(&pl->q_encode, ft_live_output_deadline_ns(pl->live), &timed_out);
        ft_status st = FT_OK;
        if (it) {
            st = encode_one(pl, it);
            item_release(pl, it);
        } else if (timed_out) {
            st = ft_live_output_tick(pl->live, now_ns());
        } else {
            break;
        }
        if (st) {
            fail(pl, st);
            break;
        }
    }
}

static void *encode_main(void *arg)
{
    ft_pipeline *pl = arg;
    item *it;
    if (pl->live) {
        encode_live(pl);
        stage_exit(pl);
        return NULL;
    }
    while ((it = queue_pop(&pl->q_encode))) {
        ft_status st = encode_one(pl, it);
        item_release(pl, it);
        if (st) {
            fail(pl, st);
            break;
        }
    }
    stage_exit(pl);
    return NULL;
}

/* ---- lifecycle ---- */

static ft_status alloc_video(AVFrame **f, int w, int h)
{
    *f = av_frame_alloc();
    if (!*f)
        return FT_ERR_NOMEM;
    (*f)->format = AV_PIX_FMT_YUV420P;
    (*f)->width = w;
    (*f)->height = h;
    return av_frame_get_buffer(*f, 0) < 0 ? FT_ERR_NOMEM : FT_OK;
}

static ft_status open_writers(ft_pipeline *pl, const ft_reader_info *in)
{
    const ft_pipeline_params *p = &pl->p;
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = p->output;
    wp.width = p->out_width;
    wp.height = p->out_height;
    wp.fps = in->fps > 0 ? in->fps : 25.0;
    wp.tb_num = in->tb_num;
    wp.tb_den = in->tb_den;
    wp.codec = p->codec;
    if (p->device && !strcmp(p->device, "cpu") && (!p->codec || !strcmp(p->codec, "auto")))
        wp.codec = "x264";
    wp.preset = p->preset;
    /* A file is encoded at constant quality; a bitrate matters on a link. */
    wp.bitrate = p->live ? p->bitrate : 0;
    wp.crf = p->crf;
    wp.gop_seconds = p->gop_seconds;
    wp.threads = p->encode_threads;
    wp.zerolatency = p->live || p->zerolatency;
    wp.atomic = !p->live;
    wp.target_fps = p->target_fps;
    ft_writer_audio_copy audio = {in->audio_par, in->audio_tb_num, in->audio_tb_den};
    wp.audio = in->has_audio ? &audio : NULL;
    if (p->live) {
        /* Stream mode writes no video to disk: no debug side view. */
        ft_live_output_params lp = {.writer = wp,
                                    .fps = p->target_fps > 0 ? p->target_fps : wp.fps,
                                    .reconnect_attempts = p->reconnect_attempts,
                                    .reconnect_delay_s = p->reconnect_delay_s,
                                    .jitter_buffer_s = p->jitter_buffer_s};
        lp.writer.target_fps = 0; /* the live clock already gives one frame per slot */
        lp.writer.fps = lp.fps;
        lp.writer.tb_num = 0;
        lp.writer.tb_den = 0;
        return ft_live_output_create(&lp, &pl->live);
    }
    ft_status st = ft_writer_open(&wp, &pl->writer);
    if (st || !p->debug_output)
        return st;
    wp.url = p->debug_output;
    wp.width = 2 * p->out_width;
    wp.codec = "x264"; /* a side view: keep the hardware encoder for the output */
    wp.audio = NULL;
    wp.format = NULL;
    return ft_writer_open(&wp, &pl->dbg_writer);
}

ft_status ft_pipeline_create(const ft_pipeline_params *p, ft_pipeline **out)
{
    *out = NULL;
    if (!p || !p->input || !p->output) {
        FT_LOGE("pipeline", "an input and an output are required");
        return FT_ERR_USAGE;
    }
    ft_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl)
        return FT_ERR_NOMEM;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->done_cv, NULL);
    pl->p = *p;
    if (pl->p.out_width <= 0 || pl->p.out_height <= 0) {
        pl->p.out_width = 1280;
        pl->p.out_height = 720;
    }
    if (pl->p.queue_depth <= 0)
        pl->p.queue_depth = pl->p.live ? 2 : 8;
    ft_status st = FT_OK;
    if ((pl->p.out_width & 1) || (pl->p.out_height & 1) || pl->p.out_width > 8192 ||
        pl->p.out_height > 8192) {
        FT_LOGE("pipeline", "output size %dx%d: width and height must be even and <= 8192",
                pl->p.out_width, pl->p.out_height);
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (p->tracker)
        pl->tracker_params = *p->tracker;
    else
        ft_tracker_params_default(&pl->tracker_params);
    warn_under_raise_cap(p->detector, &pl->tracker_params, NULL);
    if (p->camera)
        pl->camera_params = *p->camera;
    else
        ft_camera_params_default(&pl->camera_params);
    /* Zero-copy when the detector reads device frames (RF-DETR on CUDA):
     * decoded frames then hold an NVDEC surface from the decode stage until
     * detection, at most the detect queue plus one frame in each of the two
     * stages around it. */
    pl->device_frames = p->detector && ft_detector_device_frames(p->detector);
    ft_reader_params rp = {.url = p->input,
                           .device = p->device,
                           .device_frames = pl->device_frames ? pl->p.queue_depth + 2 : 0,
                           .timeout_ms = p->reader_timeout_ms,
                           .buffer_size = p->reader_buffer_size,
                           .threads = p->decode_threads,
                           .reconnect_attempts = p->reconnect_attempts,
                           .reconnect_delay_s = p->reconnect_delay_s};
    if ((st = ft_reader_open(&rp, &pl->reader)))
        goto out;
    const ft_reader_info *in = ft_reader_get_info(pl->reader);
    if ((st = open_writers(pl, in)))
        goto out;
    if (p->track_out && (st = ft_track_csv_writer_create(p->track_out, !p->live, &pl->csv)))
        goto out;
    if ((st = ensure_tracker(pl, in->width, in->height)))
        goto out;
    /* Items: enough for every queue to be full plus one in each stage. */
    pl->n_items = 3 * pl->p.queue_depth + 4;
    pl->items = calloc((size_t)pl->n_items, sizeof *pl->items);
    if (!pl->items || (st = queue_init(&pl->q_free, pl->n_items)) ||
        (st = queue_init(&pl->q_detect, pl->p.queue_depth)) ||
        (st = queue_init(&pl->q_track, pl->p.queue_depth)) ||
        (st = queue_init(&pl->q_encode, pl->p.queue_depth))) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < pl->n_items; i++) {
        item *it = &pl->items[i];
        it->in = av_frame_alloc();
        it->dev = av_frame_alloc();
        it->conv = av_frame_alloc();
        it->pkt = av_packet_alloc();
        if (!it->in || !it->dev || !it->conv || !it->pkt ||
            (st = alloc_video(&it->out, pl->p.out_width, pl->p.out_height)) ||
            (p->debug_output &&
             (st = alloc_video(&it->dbg, 2 * pl->p.out_width, pl->p.out_height)))) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        pl->q_free.buf[i] = it;
    }
    pl->q_free.count = pl->n_items;
    pl->stats.duration_s = in->duration_s;
    pl->total_frames = in->frame_count;
    if (!pl->total_frames && in->duration_s > 0 && in->fps > 0)
        pl->total_frames = llrint(in->duration_s * in->fps);
out:
    if (st)
        ft_pipeline_destroy(&pl);
    *out = pl;
    return st;
}

static void format_hms(double s, char *buf, size_t cap)
{
    long t = s > 0 && s < 1e7 ? lrint(s) : 0;
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void draw_progress(ft_pipeline *pl, bool final)
{
    pthread_mutex_lock(&pl->mu);
    int64_t done = pl->stats.frames_out;
    double fps = current_fps(pl);
    pthread_mutex_unlock(&pl->mu);
    char eta[32] = "?";
    char bar[31];
    int filled = 0;
    if (pl->total_frames > 0) {
        filled = (int)(30 * (done < pl->total_frames ? done : pl->total_frames) / pl->total_frames);
        if (fps > 0)
            format_hms((double)(pl->total_frames - done) / fps, eta, sizeof eta);
    }
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    if (pl->total_frames > 0)
        fprintf(stderr, "\r[%s] %lld/%lld frames  %.1f fps  ETA %s ", bar, (long long)done,
                (long long)pl->total_frames, fps, eta);
    else
        fprintf(stderr, "\r%lld frames  %.1f fps ", (long long)done, fps);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

ft_status ft_pipeline_run(ft_pipeline *pl)
{
    void *(*mains[4])(void *) = {decode_main, detect_main, track_main, encode_main};
    pthread_t th[4];
    int started = 0;
    pl->t_start_ns = now_ns();
    bool progress = pl->p.progress && isatty(STDERR_FILENO);
    pthread_mutex_lock(&pl->mu);
    pl->running = 4;
    pthread_mutex_unlock(&pl->mu);
    for (; started < 4; started++) {
        if (pthread_create(&th[started], NULL, mains[started], pl) != 0) {
            FT_LOGE("pipeline", "cannot start a stage thread");
            pthread_mutex_lock(&pl->mu);
            pl->running -= 4 - started;
            pthread_mutex_unlock(&pl->mu);
            fail(pl, FT_ERR_RUNTIME);
            break;
        }
    }
    /* Wait for the stages, redrawing the progress bar twice a second. */
    pthread_mutex_lock(&pl->mu);
    while (pl->running > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 500000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pl->done_cv, &pl->mu, &dl);
        if (progress && pl->running > 0) {
            pthread_mutex_unlock(&pl->mu);
            draw_progress(pl, false);
            pthread_mutex_lock(&pl->mu);
        }
    }
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (progress)
        draw_progress(pl, true);
    ft_status st = pl->status;
    if (!st && atomic_load(&pl->stop))
        st = FT_ERR_INTERRUPTED;
    /* Batch output appears only after a complete run; live output is
     * finalised whatever happened so the recording stays playable. The
     * track's rows reach the disk first: a track that cannot be written
     * (disk full) fails the run before the video is moved into place. */
    if (!st && !pl->p.live && pl->csv)
        st = ft_track_csv_writer_flush(pl->csv);
    if (!st || pl->p.live) {
        ft_status cs = pl->live ? ft_live_output_close(pl->live) : ft_writer_close(pl->writer);
        if (!cs && pl->dbg_writer)
            cs = ft_writer_close(pl->dbg_writer);
        if (!cs && pl->csv)
            cs = ft_track_csv_writer_finish(pl->csv);
        if (!st)
            st = cs;
    }
    pthread_mutex_lock(&pl->mu);
    pl->stats.elapsed_s = (double)(now_ns() - pl->t_start_ns) / 1e9;
    pthread_mutex_unlock(&pl->mu);
    return st;
}

void ft_pipeline_stop(ft_pipeline *pl)
{
    atomic_store(&pl->stop, true);
    ft_reader_interrupt(pl->reader);
}

void ft_pipeline_stats_get(ft_pipeline *pl, ft_pipeline_stats *out)
{
    pthread_mutex_lock(&pl->mu);
    *out = pl->stats;
    if (pl->t_start_ns) {
        double el = pl->stats.elapsed_s > 0 ? pl->stats.elapsed_s
                                            : (double)(now_ns() - pl->t_start_ns) / 1e9;
        out->elapsed_s = el;
        out->fps = el > 0 ? (double)pl->stats.frames_out / el : 0;
    }
    for (int s = 0; s < FT_STAGE_COUNT; s++) {
        int64_t n = s == FT_STAGE_ENCODE ? pl->stats.frames_out : pl->stats.frames_in;
        out->stage_ms[s] = n > 0 ? pl->stage_total_ms[s] / (double)n : 0;
    }
    pthread_mutex_unlock(&pl->mu);
    int64_t gen = atomic_load(&pl->hot_gen);
    out->settings_generation = gen;
    out->input_failures = pl->reader ? ft_reader_reconnect_failures(pl->reader) : 0;
    if (pl->live) {
        ft_live_output_stats ls;
        ft_live_output_stats_get(pl->live, &ls);
        out->frames_dropped += ls.frames_early;
        out->frames_sent = ls.frames_sent;
        out->frames_repeated = ls.frames_repeated;
        out->frames_slate = ls.frames_slate;
        out->frames_lost = ls.frames_lost;
        out->output_reconnects = ls.reconnects;
        out->output_failures = ls.failures;
        out->output_up = ls.output_up;
        out->input_stalled = ls.stalled;
        out->jitter_buffer_s = ls.buffer_s;
        out->clock_corrections = ls.corrections;
        out->input_reanchors = ls.reanchors;
    }
}

void ft_pipeline_update(ft_pipeline *pl, const ft_settings *s)
{
    pthread_mutex_lock(&pl->mu);
    pl->hot.confidence = s->model.confidence;
    pl->hot.filter = (ft_detect_filter_params){s->detector.dead_zones, s->detector.pitch_mask,
                                               s->detector.pitch_mask_auto};
    pl->hot.tracker = s->tracking;
    pl->hot.camera = s->camera;
    pl->hot.show_stats = s->stream.show_stats;
    pl->hot.bitrate = s->stream.bitrate;
    /* Bumped under the lock so a stage that sees the new number reads the
     * values that go with it. */
    atomic_fetch_add(&pl->hot_gen, 1);
    pthread_mutex_unlock(&pl->mu);
}

void ft_pipeline_destroy(ft_pipeline **ppl)
{
    if (!ppl || !*ppl)
        return;
    ft_pipeline *pl = *ppl;
    for (int i = 0; pl->items && i < pl->n_items; i++) {
        item *it = &pl->items[i];
        av_frame_free(&it->in);
        av_frame_free(&it->dev);
        av_frame_free(&it->conv);
        av_frame_free(&it->out);
        av_frame_free(&it->dbg);
        av_packet_free(&it->pkt);
    }
    free(pl->items);
    queue_deinit(&pl->q_free);
    queue_deinit(&pl->q_detect);
    queue_deinit(&pl->q_track);
    queue_deinit(&pl->q_encode);
    ft_writer_destroy(&pl->writer);
    ft_live_output_destroy(&pl->live);
    ft_writer_destroy(&pl->dbg_writer);
    ft_track_csv_writer_destroy(&pl->csv);
    ft_reader_destroy(&pl->reader);
    ft_tracker_destroy(&pl->tracker);
    ft_camera_destroy(&pl->camera);
    sws_freeContext(pl->conv_sws);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->done_cv);
    free(pl);
    *ppl = NULL;
}
