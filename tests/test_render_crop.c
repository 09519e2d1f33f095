/* render: sub-pixel crop of known patterns, aspect fitting, NV12 input,
 * overlay text and the debug composition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

typedef struct pic {
    ft_image img;
    uint8_t *buf;
} pic;

static pic pic_new(int w, int h, ft_pixfmt fmt)
{
    pic p = {{.width = w, .height = h, .format = fmt}, calloc((size_t)w * h * 3 / 2, 1)};
    assert_non_null(p.buf);
    p.img.data[0] = p.buf;
    p.img.stride[0] = w;
    p.img.data[1] = p.buf + w * h;
    if (fmt == FT_PIX_NV12) {
        p.img.stride[1] = w;
    } else {
        p.img.stride[1] = p.img.stride[2] = w / 2;
        p.img.data[2] = p.buf + w * h + (w / 2) * (h / 2);
    }
    return p;
}

static uint8_t px(const ft_image *img, int plane, int x, int y)
{
    return img->data[plane][(size_t)y * img->stride[plane] + x];
}

/* Luma = x, U = 2y, V = 255 - 2y: linear ramps, which bilinear sampling
 * reproduces exactly at any sub-pixel position. */
static pic ramp(int w, int h, ft_pixfmt fmt)
{
    pic p = pic_new(w, h, fmt);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            p.img.data[0][y * w + x] = (uint8_t)x;
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++) {
            uint8_t u = (uint8_t)(2 * y), v = (uint8_t)(255 - 2 * y);
            if (fmt == FT_PIX_NV12) {
                p.img.data[1][y * w + 2 * x] = u;
                p.img.data[1][y * w + 2 * x + 1] = v;
            } else {
                p.img.data[1][y * (w / 2) + x] = u;
                p.img.data[2][y * (w / 2) + x] = v;
            }
        }
    return p;
}

static void check_ramp_crop(ft_pixfmt fmt)
{
    pic src = ramp(256, 128, fmt);
    pic dst = pic_new(128, 72, FT_PIX_YUV420P);
    /* 64x36 crop at a fractional corner, enlarged 2x. */
    ft_render_rect r = {10.25, 20.5, 64, 36};
    assert_int_equal(ft_render_crop(&src.img, &r, &dst.img), FT_OK);
    for (int y = 0; y < 72; y++)
        for (int x = 0; x < 128; x++) {
            double sx = 10.25 + (x + 0.5) * 0.5 - 0.5;
            assert_true(fabs(px(&dst.img, 0, x, y) - sx) <= 1.0);
        }
    for (int y = 0; y < 36; y++)
        for (int x = 0; x < 64; x++) {
            double sy = 10.25 + (y + 0.5) * 0.5 - 0.5; /* chroma rows: crop y / 2 */
            assert_true(fabs(px(&dst.img, 1, x, y) - 2 * sy) <= 1.0);
            assert_true(fabs(px(&dst.img, 2, x, y) - (255 - 2 * sy)) <= 1.0);
        }
    free(src.buf);
    free(dst.buf);
}

static void test_subpixel_crop_yuv420p(void **state)
{
    (void)state;
    check_ramp_crop(FT_PIX_YUV420P);
}

static void test_subpixel_crop_nv12(void **state)
{
    (void)state;
    check_ramp_crop(FT_PIX_NV12);
}

static void test_integer_crop_is_a_copy(void **state)
{
    (void)state;
    pic src = pic_new(64, 48, FT_PIX_YUV420P);
    for (int i = 0; i < 64 * 48 * 3 / 2; i++)
        src.buf[i] = (uint8_t)(i * 37 + (i >> 5));
    pic dst = pic_new(32, 16, FT_PIX_YUV420P);
    ft_render_rect r = {8, 12, 32, 16};
    assert_int_equal(ft_render_crop(&src.img, &r, &dst.img), FT_OK);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++)
            assert_int_equal(px(&dst.img, 0, x, y), px(&src.img, 0, x + 8, y + 12));
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 16; x++) {
            assert_int_equal(px(&dst.img, 1, x, y), px(&src.img, 1, x + 4, y + 6));
            assert_int_equal(px(&dst.img, 2, x, y), px(&src.img, 2, x + 4, y + 6));
        }
    /* A crop reaching past the frame is moved inside, not padded. */
    r = (ft_render_rect){50, 40, 32, 16};
    assert_int_equal(ft_render_crop(&src.img, &r, &dst.img), FT_OK);
    assert_int_equal(px(&dst.img, 0, 0, 0), px(&src.img, 0, 32, 32));
    assert_int_equal(px(&dst.img, 0, 31, 15), px(&src.img, 0, 63, 47));
    r = (ft_render_rect){0, 0, 0, 10};
    assert_int_equal(ft_render_crop(&src.img, &r, &dst.img), FT_ERR_INVALID);
    free(src.buf);
    free(dst.buf);
}

/* Textured content at the camera's zooms (down, about 1:1, up; fractional
 * corners; widths that are no multiple of the 16 pixels the SIMD pass takes
 * at a time): NV12 input, whose two chroma planes are blended in one pass,
 * renders exactly as the same picture in YUV420P, and every output pixel is
 * the bilinear blend of its four source neighbours (to the rounding of the
 * 7-bit weights). */
static void test_textured_crop_nv12_matches_yuv420p(void **state)
{
    (void)state;
    const int sw = 198, sh = 112;
    pic p = pic_new(sw, sh, FT_PIX_YUV420P), n = pic_new(sw, sh, FT_PIX_NV12);
    uint32_t r = 99;
    for (int i = 0; i < sw * sh * 3 / 2; i++) {
        r = r * 1664525u + 1013904223u;
        p.buf[i] = (uint8_t)(r >> 24);
    }
    memcpy(n.buf, p.buf, (size_t)sw * sh);
    for (int y = 0; y < sh / 2; y++)
        for (int x = 0; x < sw / 2; x++) {
            n.img.data[1][y * sw + 2 * x] = px(&p.img, 1, x, y);
            n.img.data[1][y * sw + 2 * x + 1] = px(&p.img, 2, x, y);
        }
    const ft_render_rect crops[] = {
        {0, 0, 198, 112}, {7.3, 5.6, 99.4, 56.1}, {60.7, 30.2, 41.9, 23.4}};
    for (size_t c = 0; c < sizeof crops / sizeof crops[0]; c++) {
        pic a = pic_new(94, 54, FT_PIX_YUV420P), b = pic_new(94, 54, FT_PIX_YUV420P);
        assert_int_equal(ft_render_crop(&p.img, &crops[c], &a.img), FT_OK);
        assert_int_equal(ft_render_crop(&n.img, &crops[c], &b.img), FT_OK);
        assert_memory_equal(a.buf, b.buf, 94 * 54 * 3 / 2);
        const ft_render_rect *k = &crops[c];
        for (int y = 0; y < 54; y++)
            for (int x = 0; x < 94; x++) {
                double sx = k->x + (x + 0.5) * k->w / 94 - 0.5,
                       sy = k->y + (y + 0.5) * k->h / 54 - 0.5;
                sx = fmin(fmax(sx, 0), sw - 1);
                sy = fmin(fmax(sy, 0), sh - 1);
                int x0 = (int)sx, y0 = (int)sy;
                int x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
                double fx = sx - x0, fy = sy - y0;
                double want =
                    (1 - fy) * ((1 - fx) * px(&p.img, 0, x0, y0) + fx * px(&p.img, 0, x1, y0)) +
                    fy * ((1 - fx) * px(&p.img, 0, x0, y1) + fx * px(&p.img, 0, x1, y1));
                if (fabs(px(&a.img, 0, x, y) - want) > 3.0)
                    fail_msg("crop %zu pixel (%d, %d): %d, bilinear %.1f", c, x, y,
                             px(&a.img, 0, x, y), want);
            }
        free(a.buf);
        free(b.buf);
    }
    free(p.buf);
    free(n.buf);
}

static void test_rect_fit(void **state)
{
    (void)state;
    /* Too narrow for 16:9: widened around its centre. */
    ft_render_rect r = {900, 500, 160, 180};
    ft_render_rect_fit(&r, 1920, 1080, 1280, 720);
    assert_true(fabs(r.w / r.h - 16.0 / 9.0) < 1e-9);
    assert_true(fabs(r.h - 180) < 1e-9);
    assert_true(fabs(r.x + r.w / 2 - 980) < 1e-9);
    /* Bigger than the frame: shrunk to the largest 16:9 rectangle that fits. */
    r = (ft_render_rect){-100, -100, 4000, 1000};
    ft_render_rect_fit(&r, 1920, 1080, 1280, 720);
    assert_true(fabs(r.x) < 1e-9 && fabs(r.y) < 1e-9);
    assert_true(fabs(r.w - 1920) < 1e-9 && fabs(r.h - 1080) < 1e-9);
    /* A 4:3 frame for a 16:9 output: full width, never letterboxed. */
    r = (ft_render_rect){0, 0, 640, 480};
    ft_render_rect_fit(&r, 640, 480, 1280, 720);
    assert_true(fabs(r.w - 640) < 1e-9 && fabs(r.h - 360) < 1e-9);
    assert_true(fabs(r.y - 60) < 1e-9);
    /* Near an edge: shifted inside. */
    r = (ft_render_rect){1800, 1000, 320, 180};
    ft_render_rect_fit(&r, 1920, 1080, 1280, 720);
    assert_true(fabs(r.x + r.w - 1920) < 1e-9 && fabs(r.y + r.h - 1080) < 1e-9);
}

static int count_luma(const ft_image *img, uint8_t v)
{
    int n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            n += px(img, 0, x, y) == v;
    return n;
}

static void test_text_and_overlay(void **state)
{
    (void)state;
    pic p = pic_new(320, 180, FT_PIX_YUV420P);
    memset(p.buf, 128, 320 * 180 * 3 / 2);
    ft_render_text(&p.img, 10, 10, 2, 235, "FPS 1");
    /* Each lit font pixel covers 2x2 output pixels; "1" alone has 10 lit
     * font pixels, the whole string more. */
    int lit = count_luma(&p.img, 235);
    assert_true(lit > 4 * 10 && lit % 4 == 0);
    assert_int_equal(px(&p.img, 0, 0, 0), 128); /* nothing outside the text */
    /* Drawing past the edges is clipped, not a crash. */
    ft_render_text(&p.img, 310, 175, 3, 235, "CLIPPED");
    ft_render_overlay ov = {.ball_visible = true,
                            .ball_x = 500,
                            .ball_y = 300,
                            .mode = "normal",
                            .fps = 60,
                            .latency_ms = 30,
                            .trail_n = 1,
                            .trail_x = {520},
                            .trail_y = {300}};
    ft_render_rect crop = {340, 210, 320, 180}; /* ball at output (160, 90) */
    ft_render_overlay_draw(&p.img, &crop, &ov);
    /* The marker is a yellow box around the ball, its centre left clear. */
    assert_int_equal(px(&p.img, 0, 160, 90), 128);
    int yellow = 0;
    for (int y = 78; y <= 102; y++)
        for (int x = 148; x <= 172; x++)
            yellow += px(&p.img, 0, x, y) == 210;
    assert_true(yellow > 20);
    free(p.buf);

    /* The statistics line names what its numbers are: the same pixels as
     * the labelled text drawn where the overlay puts it. */
    pic a = pic_new(320, 180, FT_PIX_YUV420P), b = pic_new(320, 180, FT_PIX_YUV420P);
    memset(a.buf, 128, 320 * 180 * 3 / 2);
    memset(b.buf, 128, 320 * 180 * 3 / 2);
    ov.ball_visible = false;
    ov.trail_n = 0;
    ft_render_overlay_draw(&a.img, &crop, &ov);
    ft_render_text(&b.img, 16, 16, 2, 235, "normal  60.0 FPS  LATENCY 30 MS");
    assert_memory_equal(a.buf, b.buf, 320 * 180);
    free(a.buf);
    free(b.buf);
}

static void test_font_glyphs(void **state)
{
    (void)state;
    /* '1': a stem in column 2 with a foot across columns 1..3. */
    const uint8_t *one = ft_render_font_glyph('1');
    assert_non_null(one);
    assert_int_equal(one[3], 0x04);
    assert_int_equal(one[6], 0x0E);
    /* Lower case has its own glyphs where the font has them; none for '~'. */
    const uint8_t *a = ft_render_font_glyph('a'), *A = ft_render_font_glyph('A');
    assert_non_null(a);
    assert_non_null(A);
    assert_memory_not_equal(a, A, 7);
    assert_null(ft_render_font_glyph('~'));
    /* The overlay text still writes capitals, and '?' for what is missing. */
    pic lo = pic_new(64, 16, FT_PIX_YUV420P), up = pic_new(64, 16, FT_PIX_YUV420P);
    memset(lo.buf, 128, 64 * 16 * 3 / 2);
    memset(up.buf, 128, 64 * 16 * 3 / 2);
    ft_render_text(&lo.img, 1, 1, 1, 235, "ab~");
    ft_render_text(&up.img, 1, 1, 1, 235, "AB?");
    assert_memory_equal(lo.buf, up.buf, 64 * 16);
    free(lo.buf);
    free(up.buf);
}

static void test_debug_compose(void **state)
{
    (void)state;
    pic full = ramp(256, 128, FT_PIX_YUV420P);
    pic out = pic_new(128, 72, FT_PIX_YUV420P);
    memset(out.buf, 200, 128 * 72);
    pic dbg = pic_new(256, 72, FT_PIX_YUV420P);
    ft_render_box_f det = {128, 64, 10, 10, 0.9};
    ft_render_debug d = {&det, 1, false, 0, 0, 0, 0, {64, 32, 128, 64}};
    assert_int_equal(ft_render_debug_compose(&full.img, &out.img, &d, &dbg.img), FT_OK);
    /* Right half: the output, scaled to fit (aspect 16:9 fills 128x72). */
    assert_int_equal(px(&dbg.img, 0, 128 + 64, 36), 200);
    /* Left half: the full frame scaled by 0.5 (256x128 -> 128x64, centred):
     * luma ramp x -> about 2x, away from the drawn boxes. */
    assert_true(abs(px(&dbg.img, 0, 10, 20) - 20) <= 2);
    /* The crop rectangle is outlined in red (Y 81) at its left edge x = 32. */
    assert_int_equal(px(&dbg.img, 0, 32, 40), 81);
    free(full.buf);
    free(out.buf);
    free(dbg.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subpixel_crop_yuv420p),
        cmocka_unit_test(test_subpixel_crop_nv12),
        cmocka_unit_test(test_integer_crop_is_a_copy),
        cmocka_unit_test(test_textured_crop_nv12_matches_yuv420p),
        cmocka_unit_test(test_rect_fit),
        cmocka_unit_test(test_text_and_overlay),
        cmocka_unit_test(test_font_glyphs),
        cmocka_unit_test(test_debug_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
