/* pipeline/live.h: the live output clock and its jitter buffer, driven by a
 * fake clock (every call takes `now`), writing small x264 frames to a file.
 * Arrival jitter within the buffer costs nothing (and does cost repeats
 * without a buffer); a hiccup beyond the buffer costs repeats but no drop;
 * a real gap gives repeats, then the slate, then a re-anchor when the input
 * comes back; a drift of +-0.5 % is absorbed by the slew alone, a larger
 * one by counted corrections; timestamp jumps re-anchor with no drop; the
 * input's rate is converted by timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <libavutil/frame.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "ft_test_rng.h"
#include "pipeline/live.h"

#define W 96
#define H 64
#define FPS 30.0
#define P_NS ((int64_t)(1e9 / FPS + 0.5))
#define T0 ((int64_t)1000000000000) /* any monotonic origin */

static char dir[64];
static char out_path[128];

typedef struct rig {
    ft_live_output *lo;
    AVFrame *f;
} rig;

static void rig_open(rig *r, double jitter_s)
{
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = out_path;
    wp.width = W;
    wp.height = H;
    wp.fps = FPS;
    wp.codec = "x264";
    wp.preset = "ultrafast";
    wp.zerolatency = true;
    ft_live_output_params lp = {.writer = wp, .fps = FPS, .jitter_buffer_s = jitter_s};
    assert_int_equal(ft_live_output_create(&lp, &r->lo), FT_OK);
    r->f = av_frame_alloc();
    assert_non_null(r->f);
    r->f->format = AV_PIX_FMT_YUV420P;
    r->f->width = W;
    r->f->height = H;
    assert_true(av_frame_get_buffer(r->f, 0) >= 0);
    for (int p = 0; p < 3; p++)
        memset(r->f->data[p], 128, (size_t)r->f->linesize[p] * (p ? H / 2 : H));
}

static void rig_close(rig *r)
{
    assert_int_equal(ft_live_output_close(r->lo), FT_OK);
    ft_live_output_destroy(&r->lo);
    assert_null(r->lo);
    av_frame_free(&r->f);
}

static ft_live_output_stats stats(const rig *r)
{
    ft_live_output_stats s;
    ft_live_output_stats_get(r->lo, &s);
    return s;
}

/* Sends the slots due up to `t`, as the encode thread does when it waits
 * for the next frame until each deadline. */
static void run_until(rig *r, int64_t t)
{
    for (int64_t d; (d = ft_live_output_deadline_ns(r->lo)) <= t;)
        assert_int_equal(ft_live_output_tick(r->lo, d), FT_OK);
}

/* One frame shot at input time in_s arrives at `t` (not before the slots
 * due until then went out). */
static void feed(rig *r, double in_s, int64_t t)
{
    run_until(r, t);
    r->f->data[0][0] = (uint8_t)(in_s * FPS); /* frames differ, as real ones do */
    assert_int_equal(ft_live_output_frame(r->lo, r->f, in_s, t), FT_OK);
}

/* Frames i0 .. i0+n-1 at input times i/in_fps, each arriving at its own
 * time on a clock `rate` times the output's (1.005 = 0.5 % fast), shifted
 * by `shift_ns`, plus a lateness of up to `jitter` periods either way (in
 * order: a frame never overtakes the previous one, as through a pipe).
 * Returns the last arrival. */
static int64_t stream(rig *r, ft_test_rng *rng, int i0, int n, double in_fps, double rate,
                      double jitter, int64_t shift_ns, double pts_shift_s)
{
    int64_t prev = 0;
    for (int i = i0; i < i0 + n; i++) {
        double j = rng ? (2 * ft_test_rng_uniform(rng) - 1) * jitter * (double)P_NS : 0;
        int64_t t = T0 + shift_ns + llround((double)i / in_fps * 1e9 / rate + j);
        if (t < prev)
            t = prev;
        feed(r, (double)i / in_fps + pts_shift_s, t);
        prev = t;
    }
    return prev;
}

static void test_jitter_absorbed(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rig r;
        rig_open(&r, 0.1); /* the default stream.jitter_buffer_ms */
        ft_test_rng rng = {seed};
        int64_t end = stream(&r, &rng, 0, 600, FPS, 1.0, 1.5, 0, 0);
        run_until(&r, end);
        ft_live_output_stats s = stats(&r);
        assert_int_equal(s.frames_repeated, 0);
        assert_int_equal(s.frames_early, 0);
        assert_int_equal(s.corrections, 0);
        assert_int_equal(s.reanchors, 0);
        assert_false(s.stalled);
        /* About the buffer's delay behind the arrivals, whatever the jitter. */
        assert_true(s.buffer_s > 0.05 && s.buffer_s < 0.15);
        /* The last frames are still buffered: close sends them. */
        assert_true(s.frames_sent < 600 && s.frames_sent > 590);
        assert_int_equal(ft_live_output_close(r.lo), FT_OK);
        assert_int_equal(stats(&r).frames_sent, 600);
        ft_live_output_destroy(&r.lo);
        av_frame_free(&r.f);
    }
}

/* The same arrivals without a buffer: late frames are repeats (what the
 * buffer is for), each pushing the mapping later until the slew pulls it
 * back. */
static void test_jitter_without_buffer(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, 0);
    ft_test_rng rng = {1};
    run_until(&r, stream(&r, &rng, 0, 600, FPS, 1.0, 1.5, 0, 0));
    ft_live_output_stats s = stats(&r);
    assert_true(s.frames_repeated > 0);
    assert_int_equal(s.reanchors, s.frames_repeated);
    assert_int_equal(s.frames_early, 0);
    rig_close(&r);
}

/* The publisher freezes 180 ms, then 250 ms (80 and 150 ms more than the
 * buffer), then sends the frames it held at once and goes on: the slots it
 * missed are repeats, the late frame takes the next slot, nothing is
 * dropped, and the extra delay is slewed away. */
static void test_hiccup_then_burst(void **state)
{
    (void)state;
    static const struct {
        int freeze_ms, repeats;
    } cases[] = {{180, 3}, {250, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rig r;
        rig_open(&r, 0.1);
        stream(&r, NULL, 0, 60, FPS, 1.0, 0, 0, 0);
        int64_t resume = T0 + 60 * P_NS + (int64_t)cases[c].freeze_ms * 1000000;
        for (int i = 60; i < 1200; i++) {
            int64_t t = T0 + i * P_NS;
            feed(&r, i / FPS, t > resume ? t : resume);
        }
        ft_live_output_stats s = stats(&r);
        assert_int_equal(s.frames_repeated, cases[c].repeats);
        assert_int_equal(s.frames_early, 0);
        assert_int_equal(s.reanchors, 1);
        assert_int_equal(s.corrections, 0);
        assert_false(s.stalled);
        assert_true(fabs(s.buffer_s - 0.1) < 0.02);
        rig_close(&r);
    }
}

/* The input stops for 3 s (publisher gone) and comes back with its time
 * continued where it was, as the reader does after a reconnect. */
static void test_gap_repeats_slate_reanchor(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, 0.1);
    int64_t last = stream(&r, NULL, 0, 90, FPS, 1.0, 0, 0, 0);
    run_until(&r, last + P_NS / 2);
    assert_int_equal(stats(&r).frames_repeated, 0);
    /* Inside the buffer's delay nothing shows the gap yet; then repeats. */
    run_until(&r, last + 400000000);
    ft_live_output_stats s = stats(&r);
    assert_true(s.frames_repeated >= 7 && s.frames_repeated <= 10);
    assert_int_equal(s.frames_slate, 0);
    assert_false(s.stalled);
    run_until(&r, last + 3000000000);
    s = stats(&r);
    assert_true(s.stalled);
    assert_true(s.frames_repeated >= 85);
    assert_true(s.frames_slate >= s.frames_repeated - 31); /* slate after 1 s of repeats */
    /* Back: mapped afresh, no frame dropped, then no more repeats. */
    int64_t back = last + 3000000000;
    int64_t end = stream(&r, NULL, 90, 90, FPS, 1.0, 0, back - T0 - 90 * P_NS, 0);
    s = stats(&r);
    assert_false(s.stalled);
    assert_int_equal(s.reanchors, 1);
    assert_int_equal(s.frames_early, 0);
    int64_t repeated = s.frames_repeated;
    run_until(&r, end);
    assert_int_equal(stats(&r).frames_repeated, repeated);
    assert_int_equal(stats(&r).corrections, 0);
    rig_close(&r);
}

/* A publisher whose clock runs `rate` times ours for 60 s. */
static ft_live_output_stats drift(double rate, ft_test_rng *rng)
{
    rig r;
    rig_open(&r, 0.1);
    run_until(&r, stream(&r, rng, 0, 1800, FPS, rate, rng ? 1.0 : 0, 0, 0));
    ft_live_output_stats s = stats(&r);
    rig_close(&r);
    return s;
}

static void test_drift(void **state)
{
    (void)state;
    /* +-0.5 %: the output clock's phase follows (slew), nothing is lost. */
    for (int k = 0; k < 2; k++) {
        ft_test_rng rng = {7};
        ft_live_output_stats s = drift(k ? 0.995 : 1.005, &rng);
        assert_int_equal(s.frames_repeated, 0);
        assert_int_equal(s.frames_early, 0);
        assert_int_equal(s.corrections, 0);
        assert_true(s.buffer_s > 0.05 && s.buffer_s < 0.15);
    }
    /* +-3 %, beyond the slew: about 2 % of 60 s (36 frames) is corrected,
     * one counted frame each (dropped when fast, repeated when slow), and
     * the buffer stays in its band. */
    ft_live_output_stats fast = drift(1.03, NULL);
    assert_true(fast.corrections >= 25 && fast.corrections <= 45);
    assert_int_equal(fast.frames_early, fast.corrections);
    assert_int_equal(fast.frames_repeated, 0);
    assert_true(fast.buffer_s > 0.04 && fast.buffer_s < 0.28);
    ft_live_output_stats slow = drift(0.97, NULL);
    assert_true(slow.corrections >= 25 && slow.corrections <= 45);
    assert_int_equal(slow.frames_repeated, slow.corrections);
    assert_int_equal(slow.frames_early, 0);
    assert_true(slow.buffer_s > 0.04 && slow.buffer_s < 0.16);
}

/* Input timestamps jump 10 s forward, then 20 s back, while frames keep
 * arriving at the rate: each jump is one re-anchor, no drop, no repeat. */
static void test_timestamp_jumps(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, 0.1);
    stream(&r, NULL, 0, 60, FPS, 1.0, 0, 0, 0);
    stream(&r, NULL, 60, 60, FPS, 1.0, 0, 0, 10.0);
    int64_t end = stream(&r, NULL, 120, 60, FPS, 1.0, 0, 0, -10.0);
    run_until(&r, end);
    ft_live_output_stats s = stats(&r);
    assert_int_equal(s.reanchors, 2);
    assert_int_equal(s.frames_repeated, 0);
    assert_int_equal(s.frames_early, 0);
    assert_int_equal(s.corrections, 0);
    rig_close(&r);
}

/* Frames go by their timestamps: 60 fps input keeps every other frame, 20
 * fps input shows each frame for 1.5 slots; neither is a stall. */
static void test_rate_conversion(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, 0.1);
    run_until(&r, stream(&r, NULL, 0, 600, 60.0, 1.0, 0, 0, 0));
    ft_live_output_stats s = stats(&r);
    assert_int_equal(s.frames_repeated, 0);
    assert_true(s.frames_early >= 295 && s.frames_early <= 300);
    rig_close(&r);

    rig_open(&r, 0.1);
    run_until(&r, stream(&r, NULL, 0, 200, 20.0, 1.0, 0, 0, 0));
    s = stats(&r);
    assert_true(s.frames_repeated >= 97 && s.frames_repeated <= 100);
    assert_int_equal(s.frames_early, 0);
    assert_int_equal(s.frames_slate, 0);
    assert_false(s.stalled);
    rig_close(&r);
}

static void test_bad_frame_and_params(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, 0.1);
    AVFrame *small = av_frame_alloc();
    assert_non_null(small);
    small->format = AV_PIX_FMT_YUV420P;
    small->width = W / 2;
    small->height = H / 2;
    assert_true(av_frame_get_buffer(small, 0) >= 0);
    assert_int_equal(ft_live_output_frame(r.lo, small, 0, T0), FT_ERR_INVALID);
    av_frame_free(&small);
    rig_close(&r);

    ft_live_output_params lp = {.fps = FPS, .jitter_buffer_s = 1.5};
    ft_live_output *lo = NULL;
    assert_int_equal(ft_live_output_create(&lp, &lo), FT_ERR_CONFIG);
    assert_null(lo);
}

static int setup(void **state)
{
    (void)state;
    ft_log_set_level(FT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/ft-live-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(out_path, sizeof out_path, "%s/out.ts", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(out_path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jitter_absorbed),
        cmocka_unit_test(test_jitter_without_buffer),
        cmocka_unit_test(test_hiccup_then_burst),
        cmocka_unit_test(test_gap_repeats_slate_reanchor),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_timestamp_jumps),
        cmocka_unit_test(test_rate_conversion),
        cmocka_unit_test(test_bad_frame_and_params),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
