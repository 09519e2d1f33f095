/* Tests of the virtual camera (camera/camera.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above first. */
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "camera/camera.h"
#include "ft_test_rng.h"

#define W 1920
#define H 1080

static ft_camera *make(const ft_camera_params *p, int out_w, int out_h)
{
    ft_camera_params d;
    if (!p) {
        ft_camera_params_default(&d);
        p = &d;
    }
    ft_camera *c = NULL;
    assert_int_equal(ft_camera_create(p, W, H, out_w, out_h, &c), FT_OK);
    assert_non_null(c);
    return c;
}

static ft_camera_target ball(double x, double y, unsigned flags)
{
    ft_camera_target t = {(float)x, (float)y, 0, 0, 0, 0, 2.0f, flags | FT_CAMERA_TARGET_VALID};
    return t;
}

static const ft_camera_target none = {0};

static ft_crop step(ft_camera *c, double t, const ft_camera_target *tg)
{
    ft_crop r;
    assert_int_equal(ft_camera_update(c, t, tg, &r), FT_OK);
    return r;
}

static double cx(const ft_crop *r)
{
    return r->x + 0.5 * r->w;
}
static double cy(const ft_crop *r)
{
    return r->y + 0.5 * r->h;
}

/* Whatever the target (outside the frame, lost, chaos) and the frame
 * spacing, the crop stays in the frame with the output aspect ratio. */
static void test_crop_inside_frame_with_aspect(void **state)
{
    (void)state;
    const int outs[3][2] = {{1280, 720}, {720, 1280}, {1000, 1000}};
    for (int k = 0; k < 3; k++) {
        ft_test_rng rng = {11 + (uint64_t)k};
        ft_camera *c = make(NULL, outs[k][0], outs[k][1]);
        double t = 0.0;
        const double aspect = (double)outs[k][0] / outs[k][1];
        for (int i = 0; i < 3000; i++) {
            t += 1.0 / 60 + ft_test_rng_uniform(&rng) / 30; /* variable frame rate */
            ft_camera_target tg = ball(-200 + 2400 * ft_test_rng_uniform(&rng),
                                       -200 + 1500 * ft_test_rng_uniform(&rng),
                                       (unsigned)(ft_test_rng_u64(&rng) & 7u));
            tg.vx = (float)(3000 * (ft_test_rng_uniform(&rng) - 0.5));
            if (i % 50 > 40)
                tg.flags = 0;
            const ft_crop r = step(c, t, &tg);
            assert_true(fabs(r.w / r.h - aspect) < 1e-4 * aspect);
            assert_true(r.x >= -1e-3f && r.y >= -1e-3f);
            assert_true(r.x + r.w <= W + 1e-3f && r.y + r.h <= H + 1e-3f);
        }
        ft_camera_destroy(&c);
        assert_null(c);
    }
}

/* Runs a camera (dead zone 0) on a ball that sits at (x0, y0) for 2 s then
 * at (1400, 700) for 8 s; returns the final crop. */
static ft_crop settle_after(double x0, double y0)
{
    ft_camera_params p;
    ft_camera_params_default(&p);
    p.dead_zone = 0.0;
    ft_camera *c = make(&p, 1280, 720);
    ft_crop r = {0};
    for (int i = 0; i < 300; i++) {
        const ft_camera_target tg = i < 60 ? ball(x0, y0, 0) : ball(1400, 700, 0);
        r = step(c, i / 30.0, &tg);
    }
    ft_camera_destroy(&c);
    return r;
}

/* No framing bias toward the first position ever seen: the settled framing
 * depends only on where the ball is now. */
static void test_no_first_position_bias(void **state)
{
    (void)state;
    const ft_crop a = settle_after(300, 300), b = settle_after(1700, 900);
    assert_true(fabs(cx(&a) - 1400.0) < 1.0 && fabs(cy(&a) - 700.0) < 1.0);
    assert_true(fabs(cx(&b) - 1400.0) < 1.0 && fabs(cy(&b) - 700.0) < 1.0);
    assert_true(fabs(a.x - b.x) < 1.0 && fabs(a.y - b.y) < 1.0 && fabs(a.w - b.w) < 0.01);
}

/* Inside the dead zone the camera does not move; with the zone set to 0 by a
 * hot reload it does. */
static void test_dead_zone_and_hot_reload(void **state)
{
    (void)state;
    ft_camera_params p;
    ft_camera_params_default(&p);
    ft_camera *c = make(&p, 1280, 720);
    ft_crop r = {0};
    int i = 0;
    for (; i < 240; i++) {
        const ft_camera_target tg = ball(900, 500, 0);
        r = step(c, i / 30.0, &tg);
    }
    /* Half-width of the zone: dead_zone x half the crop width. */
    const double zone = p.dead_zone * 0.5 * r.w;
    const ft_crop before = r;
    for (int k = 0; k < 60; k++, i++) {
        const ft_camera_target tg = ball(cx(&before) + 0.8 * zone, 500, 0);
        r = step(c, i / 30.0, &tg);
    }
    assert_true(fabs(r.x - before.x) < 0.2);
    p.dead_zone = 0.0;
    assert_int_equal(ft_camera_set_params(c, &p), FT_OK);
    for (int k = 0; k < 90; k++, i++) {
        const ft_camera_target tg = ball(cx(&before) + 0.8 * zone, 500, 0);
        r = step(c, i / 30.0, &tg);
    }
    assert_true(fabs(cx(&r) - (cx(&before) + 0.8 * zone)) < 0.5);
    ft_camera_params bad = p;
    bad.zoom_min = 3.0; /* above zoom_max */
    assert_int_equal(ft_camera_set_params(c, &bad), FT_ERR_CONFIG);
    ft_camera_destroy(&c);
}

/* Lost: gentle zoom-out and drift toward the pitch centre; re-acquired: the
 * camera goes to the new ball without a jump and zooms in again. */
static void test_lost_zoom_out_and_reacquire(void **state)
{
    (void)state;
    ft_camera *c = make(NULL, 1280, 720);
    ft_crop r = {0};
    int i = 0;
    for (; i < 120; i++) {
        const ft_camera_target tg = ball(500, 350, 0);
        r = step(c, i / 30.0, &tg);
    }
    const float z_tracked = ft_camera_zoom(c);
    assert_true(z_tracked > 1.8f);
    double z_prev = z_tracked, d_prev = hypot(cx(&r) - 960.0, cy(&r) - 540.0);
    for (int k = 0; k < 300; k++, i++) {
        const ft_crop prev = r;
        r = step(c, i / 30.0, &none);
        const double z = ft_camera_zoom(c), d = hypot(cx(&r) - 960.0, cy(&r) - 540.0);
        assert_true(z <= z_prev + 1e-9);
        assert_true(d <= d_prev + 0.01); /* the last of the settling motion dies out */
        /* gentle: no more than a few pixels of pan per frame */
        assert_true(fabs(cx(&r) - cx(&prev)) < 20.0 && fabs(r.w - prev.w) < 20.0);
        z_prev = z;
        d_prev = d;
    }
    assert_true(z_prev < 1.15);
    assert_true(d_prev < 60.0);
    /* Re-acquired elsewhere: a pan within the 500 px/frame limit, no cut. */
    ft_camera_target tg = ball(1500, 800, FT_CAMERA_TARGET_NEW);
    for (int k = 0; k < 240; k++, i++) {
        const ft_crop prev = r;
        r = step(c, i / 30.0, &tg);
        tg.flags &= ~(unsigned)FT_CAMERA_TARGET_NEW;
        assert_true(fabs(cx(&r) - cx(&prev)) <= 500.0 + 1e-3);
        if (k == 0)
            assert_true(fabs(cx(&r) - cx(&prev)) < 0.5 * fabs(1500.0 - cx(&prev)));
    }
    const double zone_x = 0.1 * 0.5 * r.w, zone_y = 0.1 * 0.5 * r.h;
    assert_true(fabs(cx(&r) - 1500.0) <= zone_x + 1.0 || cx(&r) >= W - 0.5 * r.w - 1.0);
    assert_true(fabs(cy(&r) - 800.0) <= zone_y + 1.0 || cy(&r) >= H - 0.5 * r.h - 1.0);
    assert_true(ft_camera_zoom(c) > 1.8f);
    ft_camera_destroy(&c);
}

/* Chaos forces zoom 1.0 and ultra-smoothing; stability lock limits the pan
 * speed to 100 px per reference frame. Vertical output, so that the crop can
 * pan at zoom 1.0. */
static void test_chaos_and_stable(void **state)
{
    (void)state;
    double moved[2];
    for (int k = 0; k < 2; k++) {
        ft_camera *c = make(NULL, 720, 1280);
        const unsigned fl = k ? FT_CAMERA_TARGET_CHAOS : 0;
        ft_crop r = {0};
        int i = 0;
        for (; i < 120; i++) {
            const ft_camera_target tg = ball(700, 540, fl);
            r = step(c, i / 30.0, &tg);
        }
        if (k)
            assert_true(ft_camera_zoom(c) < 1.001f);
        const double x0 = cx(&r);
        for (int n = 0; n < 15; n++, i++) {
            const ft_camera_target tg = ball(1000, 540, fl);
            r = step(c, i / 30.0, &tg);
        }
        moved[k] = cx(&r) - x0;
        ft_camera_destroy(&c);
    }
    assert_true(moved[0] > 100.0);
    assert_true(moved[1] < 0.5 * moved[0]);

    ft_camera *c = make(NULL, 720, 1280);
    ft_crop r = step(c, 0.0, &(ft_camera_target){0});
    double max_step = 0.0;
    for (int i = 1; i < 60; i++) {
        const ft_camera_target tg = ball(i < 2 ? 960 : 1900, 540, FT_CAMERA_TARGET_STABLE);
        const ft_crop prev = r;
        r = step(c, i / 30.0, &tg);
        max_step = fmax(max_step, fabs(cx(&r) - cx(&prev)));
    }
    assert_true(max_step <= 100.0 + 1e-3);
    assert_true(max_step > 20.0);
    ft_camera_destroy(&c);
}

/* Zoom follows ball speed and track uncertainty. */
static void test_zoom_speed_and_uncertainty(void **state)
{
    (void)state;
    float zooms[3];
    for (int k = 0; k < 3; k++) {
        ft_camera *c = make(NULL, 1280, 720);
        for (int i = 0; i < 150; i++) {
            ft_camera_target tg = ball(960, 540, 0);
            if (k == 1)
                tg.vx = 1200.0f; /* fast (the position is held: only the zoom matters) */
            if (k == 2)
                tg.pos_std = 100.0f;
            (void)step(c, i / 30.0, &tg);
        }
        zooms[k] = ft_camera_zoom(c);
        ft_camera_destroy(&c);
    }
    assert_true(zooms[0] > 2.45f);
    assert_true(zooms[1] < 0.8f * zooms[0]);
    assert_true(zooms[2] < 0.8f * zooms[0]);
}

/* The product is a broadcast-like framing: on a 1080p panoramic frame with a
 * 16:9 output, a ball moving at pass speed (400 px/s, with the tracker's
 * usual 3 px uncertainty) is framed by a crop of 40-55 % of the frame width,
 * and the ball stays in the crop's central 60 %; only chaos or a long loss
 * widen it to the full frame. */
static void test_broadcast_framing(void **state)
{
    (void)state;
    ft_camera *c = make(NULL, 1280, 720);
    ft_crop r = {0};
    int i = 0;
    for (; i < 105; i++) {
        const double t = i / 30.0, x = 300.0 + 400.0 * t; /* 300 .. 1700 */
        ft_camera_target tg = ball(x, 600.0, 0);
        tg.vx = 400.0f;
        tg.pos_std = 3.0f;
        r = step(c, t, &tg);
        if (i >= 75) { /* the zoom has settled (1 s time constant) */
            assert_true(r.w >= 0.40 * W && r.w <= 0.55 * W);
            assert_true(x >= r.x + 0.2 * r.w && x <= r.x + 0.8 * r.w);
        }
    }
    const ft_camera_target chaos = ball(1200.0, 600.0, FT_CAMERA_TARGET_CHAOS);
    for (int k = 0; k < 90; k++, i++)
        r = step(c, i / 30.0, &chaos);
    assert_true(r.w > 0.95 * W);
    const ft_camera_target back = ball(1200.0, 600.0, 0);
    for (int k = 0; k < 60; k++, i++)
        r = step(c, i / 30.0, &back);
    assert_true(r.w < 0.55 * W);
    for (int k = 0; k < 300; k++, i++)
        r = step(c, i / 30.0, &none);
    assert_true(r.w > 0.9 * W);
    ft_camera_destroy(&c);
}

static void test_bad_input(void **state)
{
    (void)state;
    ft_camera_params p;
    ft_camera_params_default(&p);
    ft_camera *c = NULL;
    assert_int_equal(ft_camera_create(&p, W, 0, 1280, 720, &c), FT_ERR_INVALID);
    assert_null(c);
    ft_camera_params bad = p;
    bad.smoothing_min_cutoff = 0.0;
    assert_int_equal(ft_camera_create(&bad, W, H, 1280, 720, &c), FT_ERR_CONFIG);
    char err[128];
    assert_int_equal(ft_camera_params_validate(&bad, err, sizeof(err)), FT_ERR_CONFIG);
    assert_non_null(strstr(err, "camera.smoothing_min_cutoff"));
    c = make(&p, 1280, 720);
    ft_crop r;
    ft_camera_target tg = ball(100, 100, 0);
    assert_int_equal(ft_camera_update(c, 1.0, &tg, &r), FT_OK);
    assert_int_equal(ft_camera_update(c, 0.5, &tg, &r), FT_ERR_INVALID);
    tg.x = NAN;
    assert_int_equal(ft_camera_update(c, 1.1, &tg, &r), FT_ERR_INVALID);
    tg.flags = 0; /* not valid: the position is ignored */
    assert_int_equal(ft_camera_update(c, 1.1, &tg, &r), FT_OK);
    ft_camera_destroy(&c);
    ft_camera_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crop_inside_frame_with_aspect),
        cmocka_unit_test(test_no_first_position_bias),
        cmocka_unit_test(test_dead_zone_and_hot_reload),
        cmocka_unit_test(test_lost_zoom_out_and_reacquire),
        cmocka_unit_test(test_chaos_and_stable),
        cmocka_unit_test(test_zoom_speed_and_uncertainty),
        cmocka_unit_test(test_broadcast_framing),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
