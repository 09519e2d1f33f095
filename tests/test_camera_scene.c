/* Tracker + camera on generated scenes: the same scene gives the same camera
 * path in seconds at 25, 30 and 60 fps, a mirrored scene a mirrored path, and
 * a 2160p scene the 1080p path scaled by two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above first. */
#include <cmocka.h>

#include <math.h>

#include "camera/camera.h"
#include "ft_test_rng.h"
#include "pipeline/track_camera.h"
#include "track/tracker.h"

#define W 1920.0
#define H 1080.0

/* The ball at time t (1080p pixels); false when it is hidden. A rest, a
 * kick that slows down, a 0.3 s occlusion, a bounce off a player, a rest. */
static bool scene_ball(double t, double *x, double *y)
{
    if (t < 2.0) {
        *x = 600.0;
        *y = 500.0;
    } else if (t < 6.5) {
        const double s = t - 2.0;
        *x = 600.0 + 400.0 * s - 40.0 * s * s;
        *y = 500.0 - 100.0 * s + 10.0 * s * s;
    } else if (t < 8.0) {
        const double s = t - 6.5;
        *x = 600.0 + 400.0 * 4.5 - 40.0 * 4.5 * 4.5 - 500.0 * s;
        *y = 500.0 - 100.0 * 4.5 + 10.0 * 4.5 * 4.5 + 80.0 * s;
    } else {
        *x = 600.0 + 400.0 * 4.5 - 40.0 * 4.5 * 4.5 - 500.0 * 1.5;
        *y = 500.0 - 100.0 * 4.5 + 10.0 * 4.5 * 4.5 + 80.0 * 1.5;
    }
    return !(t >= 5.0 && t < 5.3);
}

typedef struct run_opts {
    double fps;   /* 0: variable frame rate, 20 to 50 fps changing every 0.2 s */
    double scale; /* resolution relative to 1080p */
    bool mirror;  /* x -> width - x */
    double noise; /* detection noise std, 1080p px */
} run_opts;

/* Runs the scene for 10 s; writes the crop centre x, y and width (1080p
 * units, un-mirrored) at every 0.2 s to path[k][3], and every frame's crop
 * to frames (when not NULL, at most cap). Every 0.2 s boundary is a frame. */
static void run_scene(const run_opts *o, double path[51][3], ft_crop *frames, int cap)
{
    ft_tracker_params tp;
    ft_camera_params cp;
    ft_tracker_params_default(&tp);
    ft_camera_params_default(&cp);
    const int fw = (int)lround(W * o->scale), fh = (int)lround(H * o->scale);
    ft_tracker *tr = NULL;
    ft_camera *cam = NULL;
    assert_int_equal(ft_tracker_create(&tp, fw, fh, &tr), FT_OK);
    assert_int_equal(ft_camera_create(&cp, fw, fh, 1280, 720, &cam), FT_OK);
    ft_test_rng rng = {1234}, rate_rng = {99};
    int i = 0, k = 0, j = 0;
    int per = o->fps > 0 ? (int)lround(o->fps / 5.0) : 4; /* frames in this 0.2 s */
    for (; k <= 50; i++) {
        const double t = 0.2 * (k + (double)j / per);
        double x, y;
        const bool vis = scene_ball(t, &x, &y);
        const double nx = o->noise * ft_test_rng_normal(&rng);
        const double ny = o->noise * ft_test_rng_normal(&rng);
        ft_track_candidate c[2];
        int nc = 0;
        if (vis)
            c[nc++] =
                (ft_track_candidate){(float)((x + nx) * o->scale), (float)((y + ny) * o->scale),
                                     (float)(16 * o->scale), (float)(16 * o->scale), 0.8f};
        if (j == 0 && k % 7 == 3) /* a confident false positive */
            c[nc++] = (ft_track_candidate){(float)(1700 * o->scale), (float)(150 * o->scale),
                                           (float)(20 * o->scale), (float)(20 * o->scale), 0.95f};
        if (o->mirror)
            for (int m = 0; m < nc; m++)
                c[m].x = (float)fw - c[m].x;
        ft_track_state s;
        assert_int_equal(ft_tracker_update(tr, t, c, nc, &s), FT_OK);
        const ft_camera_target tg = ft_pipeline_camera_target(&s);
        ft_crop r;
        assert_int_equal(ft_camera_update(cam, t, &tg, &r), FT_OK);
        if (frames && i < cap)
            frames[i] = r;
        if (path && j == 0) {
            double cxv = r.x + 0.5 * r.w;
            if (o->mirror)
                cxv = fw - cxv;
            path[k][0] = cxv / o->scale;
            path[k][1] = (r.y + 0.5 * r.h) / o->scale;
            path[k][2] = r.w / o->scale;
        }
        if (++j == per) {
            j = 0;
            k++;
            if (o->fps <= 0)
                per = 4 + (int)(ft_test_rng_u64(&rate_rng) % 7);
        }
    }
    ft_track_state s;
    ft_tracker_get_state(tr, &s);
    /* The scene's false positives never took the track. */
    assert_int_equal(s.stats.jumps, 0);
    assert_int_equal(s.track_id, 1);
    ft_tracker_destroy(&tr);
    ft_camera_destroy(&cam);
}

/* The frame-rate defects of the old system (Q not scaled by dt, per-frame
 * constants at 30 fps) would make these paths differ. */
static void test_same_path_at_25_30_60_fps(void **state)
{
    (void)state;
    static double ref[51][3], p[51][3];
    run_scene(&(run_opts){60.0, 1.0, false, 0.0}, ref, NULL, 0);
    const double rates[2] = {25.0, 30.0};
    for (int k = 0; k < 2; k++) {
        run_scene(&(run_opts){rates[k], 1.0, false, 0.0}, p, NULL, 0);
        double worst = 0.0, worst_w = 0.0;
        for (int j = 0; j < 51; j++) {
            worst = fmax(worst, hypot(p[j][0] - ref[j][0], p[j][1] - ref[j][1]));
            worst_w = fmax(worst_w, fabs(p[j][2] - ref[j][2]));
        }
        print_message("%g fps vs 60 fps: largest centre gap %.1f px, width gap %.1f px\n", rates[k],
                      worst, worst_w);
        assert_true(worst < 0.015 * W);
        assert_true(worst_w < 0.015 * W);
    }
}

/* Variable frame rate (20 to 50 fps, changing every 0.2 s): the path of the
 * 60 fps run, within the same tolerance. */
static void test_variable_frame_rate(void **state)
{
    (void)state;
    static double ref[51][3], p[51][3];
    run_scene(&(run_opts){60.0, 1.0, false, 0.0}, ref, NULL, 0);
    run_scene(&(run_opts){0.0, 1.0, false, 0.0}, p, NULL, 0);
    double worst = 0.0;
    for (int k = 0; k < 51; k++)
        worst = fmax(worst, hypot(p[k][0] - ref[k][0], p[k][1] - ref[k][1]));
    print_message("variable vs 60 fps: largest centre gap %.1f px\n", worst);
    assert_true(worst < 0.015 * W);
}

/* Mirrored input, mirrored camera path (no left/right asymmetry). */
static void test_mirror_symmetric(void **state)
{
    (void)state;
    static ft_crop a[301], b[301];
    run_scene(&(run_opts){30.0, 1.0, false, 1.5}, NULL, a, 301);
    run_scene(&(run_opts){30.0, 1.0, true, 1.5}, NULL, b, 301);
    for (int i = 0; i < 301; i++) {
        assert_true(fabs((W - b[i].x - b[i].w) - a[i].x) < 0.02);
        assert_true(fabs(b[i].y - a[i].y) < 0.02);
        assert_true(fabs(b[i].w - a[i].w) < 0.02);
    }
}

/* 2160p: the 1080p path, doubled. */
static void test_resolution_independent(void **state)
{
    (void)state;
    static double a[51][3], b[51][3];
    run_scene(&(run_opts){30.0, 1.0, false, 1.5}, a, NULL, 0);
    run_scene(&(run_opts){30.0, 2.0, false, 1.5}, b, NULL, 0);
    for (int j = 0; j < 51; j++)
        for (int k = 0; k < 3; k++)
            assert_true(fabs(a[j][k] - b[j][k]) < 0.05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_path_at_25_30_60_fps),
        cmocka_unit_test(test_variable_frame_rate),
        cmocka_unit_test(test_mirror_symmetric),
        cmocka_unit_test(test_resolution_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
