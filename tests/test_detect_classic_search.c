/* The default detector's local search (docs/detector.md, "The local search
 * (h37)"): on a still 1080p camera, once the ball has been confident on its
 * own, a ball that then touches a player's side (merged into the player's
 * blob, half of peak_split's ring on the body) is still a candidate, and
 * stays one for a second, after the continuity prior's memory of 10 frames
 * ("The longer search (h38)"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "detect/classic.h"

enum { W = 1920, H = 1080, FREE_FRAMES = 50, TOUCH_FRAMES = 8, LONG_TOUCH_FRAMES = 30 };

static uint8_t luma[W * H], cu[W * H / 4], cv[W * H / 4];
static uint32_t rng_state = 777u;

static int noise(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int)((rng_state >> 24) % 7) - 3;
}

static void paint(float cx, float cy, float r, int x0, int y0, int x1, int y1, int l, int u, int v)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            float dx = (float)x + 0.5f - cx, dy = (float)y + 0.5f - cy;
            if (r > 0.f && dx * dx + dy * dy > r * r)
                continue;
            luma[y * W + x] = (uint8_t)l;
            cu[(y / 2) * (W / 2) + x / 2] = (uint8_t)u;
            cv[(y / 2) * (W / 2) + x / 2] = (uint8_t)v;
        }
}

/* Grass, a player walking right (light grey shirt with an arm held out to
 * the right, dark shorts, white legs) whose left edge is at px, and the
 * ball (radius 4) at (bx, by). */
static void draw(int px, float bx, float by)
{
    for (int i = 0; i < W * H; i++)
        luma[i] = (uint8_t)(95 + noise());
    memset(cu, 108, sizeof(cu));
    memset(cv, 116, sizeof(cv));
    paint(0, 0, 0, px, 500, px + 20, 540, 185, 128, 128);
    paint(0, 0, 0, px + 20, 505, px + 36, 514, 185, 128, 128);
    paint(0, 0, 0, px, 540, px + 20, 556, 45, 128, 128);
    paint(0, 0, 0, px + 2, 556, px + 18, 590, 200, 128, 128);
    paint(bx, by, 3.f, (int)bx - 4, (int)by - 4, (int)bx + 5, (int)by + 5, 225, 126, 129);
}

/* Frames where some candidate (any confidence) lies within 3 px of the
 * ball in frames from..touch-1 of touch frames at the player's hip. */
static int touching_hits(int touch, int from)
{
    ft_detect_classic_params p;
    ft_detect_classic_params_default(&p);
    p.confidence = 0.0;
    ft_detector *d = NULL;
    assert_int_equal(ft_detect_classic_create(&p, &d), FT_OK);
    ft_image im = {.width = W, .height = H, .format = FT_PIX_YUV420P,
                   .data = {luma, cu, cv}, .stride = {W, W / 2, W / 2}};
    int hits = 0;
    for (int t = 0; t < FREE_FRAMES + touch; t++) {
        int px = 800 + t;
        /* Rolling on the grass towards the player, then at his hip (from
         * frame 48), touching the shirt's right edge. */
        float bx = fmaxf(1020.f - 3.f * (float)t, (float)(px + 20) + 2.5f);
        const float by = 520.f;
        draw(px, bx, by);
        ft_detection det[FT_DETECT_MAX];
        int n = -1;
        assert_int_equal(ft_detector_detect(d, &im, t / 30.0, det, FT_DETECT_MAX, &n), FT_OK);
        if (t < FREE_FRAMES + from)
            continue;
        for (int i = 0; i < n; i++)
            if (hypotf(det[i].x - bx, det[i].y - by) <= 3.f) {
                hits++;
                break;
            }
    }
    ft_detector_destroy(&d);
    return hits;
}

static void test_ball_at_hip_is_a_candidate(void **state)
{
    (void)state;
    assert_true(touching_hits(TOUCH_FRAMES, 0) >= TOUCH_FRAMES / 2);
}

/* The ball stays at the hip, the player walking on: the search goes on
 * after the memory of the last confident ball is older than the
 * continuity prior's 10 frames. */
static void test_ball_at_hip_for_a_second(void **state)
{
    (void)state;
    const int from = 12;
    assert_true(touching_hits(LONG_TOUCH_FRAMES, from) >= (LONG_TOUCH_FRAMES - from) / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ball_at_hip_is_a_candidate),
        cmocka_unit_test(test_ball_at_hip_for_a_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
