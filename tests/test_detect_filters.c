/* Dead zones and the pitch mask drop candidates, whichever detector made them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "detect/filters.h"

enum { W = 640, H = 360 };

/* A YUV420P frame: stands (grey, noisy) above `stand_rows`, grass below. */
typedef struct test_frame {
    uint8_t y[W * H], u[W * H / 4], v[W * H / 4];
    ft_image im;
} test_frame;

static void frame_make(test_frame *t, int stand_rows)
{
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            bool stand = r < stand_rows;
            t->y[r * W + c] = stand ? (uint8_t)(60 + (r * 7 + c * 13) % 120) : 100;
        }
    for (int r = 0; r < H / 2; r++)
        for (int c = 0; c < W / 2; c++) {
            bool stand = r * 2 < stand_rows;
            t->u[r * W / 2 + c] = stand ? (uint8_t)(128 + (c % 3) * 8) : 108;
            t->v[r * W / 2 + c] = stand ? (uint8_t)(128 + (c % 5) * 4) : 116;
        }
    t->im = (ft_image){.width = W, .height = H, .format = FT_PIX_YUV420P,
                       .data = {t->y, t->u, t->v}, .stride = {W, W / 2, W / 2}};
}

static ft_detection det_at(float x, float y)
{
    return (ft_detection){.x = x, .y = y, .w = 6, .h = 6, .score = 0.5f, .label = 0};
}

static ft_polygon rect(float x0, float y0, float x1, float y1)
{
    ft_polygon p = {.n = 4};
    p.x[0] = x0, p.y[0] = y0;
    p.x[1] = x1, p.y[1] = y0;
    p.x[2] = x1, p.y[2] = y1;
    p.x[3] = x0, p.y[3] = y1;
    return p;
}

static void test_grass_colour(void **state)
{
    (void)state;
    assert_true(ft_detect_is_grass(100, 108, 116));  /* natural grass */
    assert_true(ft_detect_is_grass(103, 116, 130));  /* yellowish artificial turf */
    assert_false(ft_detect_is_grass(200, 128, 128)); /* white ball / line */
    assert_false(ft_detect_is_grass(90, 150, 120));  /* blue shirt */
    assert_false(ft_detect_is_grass(120, 110, 150)); /* red running track */
}

static void test_dead_zone_rejects(void **state)
{
    (void)state;
    static test_frame t;
    frame_make(&t, 0);
    ft_detect_filter_params p = {0};
    p.dead_zones.count = 2;
    p.dead_zones.poly[0] = rect(100, 100, 200, 200);       /* pixels */
    p.dead_zones.poly[1] = rect(0.9f, 0.0f, 1.0f, 0.2f);   /* fractions: top-right corner */
    ft_detect_filter *f = NULL;
    assert_int_equal(ft_detect_filter_create(&p, &f), FT_OK);
    ft_detection d[4] = {det_at(150, 150), det_at(300, 150), det_at(620, 20), det_at(620, 300)};
    int n = 4;
    assert_int_equal(ft_detect_filter_apply(f, &t.im, d, &n), FT_OK);
    assert_int_equal(n, 2);
    assert_float_equal(d[0].x, 300, 1e-6);
    assert_float_equal(d[1].y, 300, 1e-6);

    /* Hot reload: without dead zones everything passes. */
    ft_detect_filter_params none = {0};
    assert_int_equal(ft_detect_filter_set_params(f, &none), FT_OK);
    assert_true(ft_detect_filter_allows(f, 150, 150, W, H));
    ft_detect_filter_destroy(&f);
    assert_null(f);
    ft_detect_filter_destroy(&f); /* NULL-safe */
}

static void test_pitch_polygon_rejects_outside(void **state)
{
    (void)state;
    static test_frame t;
    frame_make(&t, 0);
    ft_detect_filter_params p = {0};
    /* A trapezoid pitch, as a camera high on one side sees it. */
    ft_polygon tr = {.n = 4};
    tr.x[0] = 0.2f, tr.y[0] = 0.3f;
    tr.x[1] = 0.8f, tr.y[1] = 0.3f;
    tr.x[2] = 1.0f, tr.y[2] = 1.0f;
    tr.x[3] = 0.0f, tr.y[3] = 1.0f;
    p.pitch_mask.count = 1;
    p.pitch_mask.poly[0] = tr;
    ft_detect_filter *f = NULL;
    assert_int_equal(ft_detect_filter_create(&p, &f), FT_OK);
    ft_detection d[3] = {det_at(320, 50), det_at(20, 120), det_at(320, 300)};
    int n = 3;
    assert_int_equal(ft_detect_filter_apply(f, &t.im, d, &n), FT_OK);
    assert_int_equal(n, 1);
    assert_float_equal(d[0].y, 300, 1e-6);
    ft_detect_filter_destroy(&f);
}

static void test_auto_mask_rejects_stands(void **state)
{
    (void)state;
    static test_frame t;
    frame_make(&t, 120); /* the top third is stands */
    ft_detect_filter_params p = {.pitch_mask_auto = true};
    ft_detect_filter *f = NULL;
    assert_int_equal(ft_detect_filter_create(&p, &f), FT_OK);
    /* A white disc (the ball) on the grass is part of the pitch, not a hole. */
    for (int r = 240; r < 250; r++)
        for (int c = 400; c < 410; c++)
            t.y[r * W + c] = 230;
    ft_detection d[3] = {det_at(300, 40), det_at(405, 245), det_at(50, 340)};
    int n = 3;
    assert_int_equal(ft_detect_filter_apply(f, &t.im, d, &n), FT_OK);
    assert_int_equal(n, 2);
    assert_float_equal(d[0].x, 405, 1e-6);
    assert_float_equal(d[1].x, 50, 1e-6);
    /* A ball on the touchline, just above the grass, is kept. */
    assert_true(ft_detect_filter_allows(f, 300, 115, W, H));

    /* A grey frame cannot be masked by colour: nothing is dropped. */
    ft_image grey = t.im;
    grey.format = FT_PIX_GRAY8;
    ft_detection g[1] = {det_at(300, 40)};
    n = 1;
    assert_int_equal(ft_detect_filter_apply(f, &grey, g, &n), FT_OK);
    assert_int_equal(n, 1);
    ft_detect_filter_destroy(&f);
}

static void test_bad_polygons(void **state)
{
    (void)state;
    ft_detect_filter_params p = {0};
    p.dead_zones.count = 1;
    p.dead_zones.poly[0].n = 2; /* a segment is not a zone */
    ft_detect_filter *f = NULL;
    assert_int_equal(ft_detect_filter_create(&p, &f), FT_ERR_CONFIG);
    assert_null(f);
    p.dead_zones.poly[0] = rect(0, 0, 10, 10);
    p.dead_zones.poly[0].x[1] = NAN;
    assert_int_equal(ft_detect_filter_create(&p, &f), FT_ERR_CONFIG);

    ft_detect_filter_params ok = {0};
    assert_int_equal(ft_detect_filter_create(&ok, &f), FT_OK);
    assert_int_equal(ft_detect_filter_set_params(f, &p), FT_ERR_CONFIG);
    int n = 0;
    ft_image empty = {0};
    assert_int_equal(ft_detect_filter_apply(f, &empty, NULL, &n), FT_ERR_INVALID);
    ft_detect_filter_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grass_colour),
        cmocka_unit_test(test_dead_zone_rejects),
        cmocka_unit_test(test_pitch_polygon_rejects_outside),
        cmocka_unit_test(test_auto_mask_rejects_stands),
        cmocka_unit_test(test_bad_polygons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
