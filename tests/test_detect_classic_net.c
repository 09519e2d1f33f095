/* The learned second stage of the default detector (detect/classic_net.h):
 * the patch is sampled where and at the scale asked, and the trained network
 * tells a white ball on grass from grass alone and from a white line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "detect/classic_net.h"

enum { W = 96, H = 96 };

typedef struct plane_image {
    uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    ft_image im;
} plane_image;

static void image_init(plane_image *p)
{
    p->im = (ft_image){.width = W, .height = H, .format = FT_PIX_YUV420P,
                       .data = {p->y, p->u, p->v}, .stride = {W, W / 2, W / 2}};
}

/* Each luma pixel codes its position, chroma its half-resolution position. */
static void test_sample_geometry(void **state)
{
    (void)state;
    static plane_image p;
    image_init(&p);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            p.y[y * W + x] = (uint8_t)(x + y);
    for (int y = 0; y < H / 2; y++)
        for (int x = 0; x < W / 2; x++) {
            p.u[y * (W / 2) + x] = (uint8_t)x;
            p.v[y * (W / 2) + x] = (uint8_t)y;
        }
    ft_classic_net_patch patch;
    /* Scale 1 around (40.5, 30.5): patch pixel (r, k) is frame pixel
     * (30 + r - 10, 40 + k - 10) after rounding the half-pixel centre. */
    ft_detect_classic_net_sample(&p.im, 40.5f, 30.5f, 1.f, &patch);
    const int half = FT_CLASSIC_NET_PATCH / 2;
    for (int r = 0; r < FT_CLASSIC_NET_PATCH; r++)
        for (int k = 0; k < FT_CLASSIC_NET_PATCH; k++) {
            int x = 40 + k - half + 1, y = 30 + r - half + 1;
            assert_int_equal(patch.px[0][r][k], x + y);
            assert_int_equal(patch.px[1][r][k], x / 2);
            assert_int_equal(patch.px[2][r][k], y / 2);
        }
    /* Scale 2 covers twice the area; near the corner it clamps to the frame. */
    ft_detect_classic_net_sample(&p.im, 50.f, 50.f, 2.f, &patch);
    int span = patch.px[0][0][FT_CLASSIC_NET_PATCH - 1] - patch.px[0][0][0];
    assert_int_equal(span, 2 * (FT_CLASSIC_NET_PATCH - 1));
    ft_detect_classic_net_sample(&p.im, 0.f, 0.f, 1.f, &patch);
    assert_int_equal(patch.px[0][0][0], 0);
    assert_int_equal(patch.px[1][0][0], 0);
}

static uint32_t rng_state = 777u;

static int noise(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int)((rng_state >> 24) % 7) - 3;
}

/* Grass as the synthetic generator and real pitches look after decoding
 * (green: U and V under 128), with a white disc of the size of a 1080p ball
 * at (bx, by) when r > 0 and a white line along row ly when ly >= 0. */
static void draw(plane_image *p, float bx, float by, float r, int ly)
{
    image_init(p);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float dx = (float)x + 0.5f - bx, dy = (float)y + 0.5f - by;
            int v = 96 + noise();
            if (r > 0.f && dx * dx + dy * dy <= r * r)
                v = 205 + noise();
            if (ly >= 0 && abs(y - ly) <= 1)
                v = 190 + noise();
            p->y[y * W + x] = (uint8_t)v;
        }
    for (int i = 0; i < W * H / 4; i++) {
        p->u[i] = 112;
        p->v[i] = 118;
    }
}

static float logit_at(const plane_image *p, float x, float y, const float *extra)
{
    static ft_classic_net_buf buf;
    ft_classic_net_patch patch;
    ft_detect_classic_net_sample(&p->im, x, y, 1.f, &patch);
    float z = ft_detect_classic_net_run(&ft_classic_net_trained, &patch, extra, &buf);
    assert_true(isfinite(z));
    return z;
}

static void test_trained_ball_above_grass_and_line(void **state)
{
    (void)state;
    /* The hand-made features of a clear moving ball (classic.c's order
     * without the bias and the predecessor): contrast, aspect, tall, fill,
     * motion, small, large, size fit, fixed, ring dark, ring grass, ring
     * moving, white, outer, above, part. The same for every patch, so that
     * only the pixels differ. */
    const float extra[FT_CLASSIC_NET_EXTRA] = {1.f, 1.f, 0.f, 0.8f, 1.f, 0.f, 0.f, 0.5f,
                                               0.f, 1.f, 1.f, 0.f, 0.5f, 1.f, 1.f, 0.f};
    static plane_image ball, grass, line;
    draw(&ball, 48.f, 48.f, 2.6f, -1);
    draw(&grass, 48.f, 48.f, 0.f, -1);
    draw(&line, 48.f, 48.f, 0.f, 48);
    float zb = logit_at(&ball, 48.f, 48.f, extra);
    float zg = logit_at(&grass, 48.f, 48.f, extra);
    float zl = logit_at(&line, 48.f, 48.f, extra);
    print_message("network logit: ball %.2f, grass %.2f, line %.2f\n", zb, zg, zl);
    assert_true(zb > zg + 2.f);
    assert_true(zb > zl + 2.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_geometry),
        cmocka_unit_test(test_trained_ball_above_grass_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
