/* Synthetic generator: determinism per seed, truth that matches the rendered
 * pixels, truth CSV round trip, scenario cameras, the synth command. */
/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/synth/synth.h"
#include "tools/synth/truth.h"

#define W 640
#define H 360

static uint64_t fnv1a(const ft_image *im)
{
    uint64_t h = 1469598103934665603ull;
    for (int p = 0; p < 3; p++) {
        int w = p ? im->width / 2 : im->width, hh = p ? im->height / 2 : im->height;
        for (int y = 0; y < hh; y++)
            for (int x = 0; x < w; x++)
                h = (h ^ im->data[p][(size_t)y * im->stride[p] + x]) * 1099511628211ull;
    }
    return h;
}

static ft_synth *make(ft_synth_scenario sc, uint64_t seed, bool noise, bool ball)
{
    ft_synth_params p;
    ft_synth_params_default(&p);
    p.width = W;
    p.height = H;
    p.seed = seed;
    p.scenario = sc;
    p.noise = noise;
    p.draw_ball = ball;
    ft_synth *s = NULL;
    assert_int_equal(ft_synth_create(&p, &s), FT_OK);
    return s;
}

static void test_determinism(void **state)
{
    (void)state;
    for (int sc = 0; sc < FT_SYNTH_SCENARIO_COUNT; sc++) {
        ft_synth *a = make((ft_synth_scenario)sc, 7, true, true);
        ft_synth *b = make((ft_synth_scenario)sc, 7, true, true);
        ft_synth *c = make((ft_synth_scenario)sc, 8, true, true);
        int differ = 0;
        for (int i = 0; i < 45; i++) {
            ft_image ia, ib, ic;
            ft_synth_truth ta, tb, tc;
            assert_int_equal(ft_synth_next(a, &ia, &ta), FT_OK);
            assert_int_equal(ft_synth_next(b, &ib, &tb), FT_OK);
            assert_int_equal(ft_synth_next(c, &ic, &tc), FT_OK);
            assert_true(fnv1a(&ia) == fnv1a(&ib));
            assert_memory_equal(&ta, &tb, sizeof(ta));
            differ += fnv1a(&ia) != fnv1a(&ic);
        }
        assert_true(differ > 40); /* another seed is another match */
        ft_synth_destroy(&a);
        ft_synth_destroy(&b);
        ft_synth_destroy(&c);
        assert_null(a);
    }
}

/* Renders the same match with and without the ball (noise off): the pixels
 * the ball brightens must sit on the truth disc, centred on the truth. */
static void check_truth_pixels(ft_synth_scenario sc, uint64_t seed, int frames)
{
    ft_synth *with = make(sc, seed, false, true), *without = make(sc, seed, false, false);
    int checked = 0;
    for (int i = 0; i < frames; i++) {
        ft_image a, b;
        ft_synth_truth ta, tb;
        assert_int_equal(ft_synth_next(with, &a, &ta), FT_OK);
        assert_int_equal(ft_synth_next(without, &b, &tb), FT_OK);
        assert_float_equal(ta.x, tb.x, 1e-4);
        double sx = 0, sy = 0, sw = 0, far = 0, npx = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int d =
                    a.data[0][(size_t)y * a.stride[0] + x] - b.data[0][(size_t)y * b.stride[0] + x];
                if (d <= 4) /* the ball is white: it brightens; its shadow darkens */
                    continue;
                sx += d * (x + 0.5);
                sy += d * (y + 0.5);
                sw += d;
                npx++;
                /* motion blur stretches the ball along its path by < 1 radius + 3 px */
                if (hypot(x + 0.5 - ta.x, y + 0.5 - ta.y) > 2.0 * ta.radius + 4.0)
                    far += d;
            }
        if (ta.vis == FT_SYNTH_OUT_OF_FRAME) {
            /* at most a sliver of a ball whose centre just left the frame */
            assert_true(sw < 255.0 * 4.0 * ta.radius);
            continue;
        }
        if (ta.vis == FT_SYNTH_OCCLUDED)
            continue;
        assert_true(sw > 0.0);
        assert_true(far <= 0.02 * sw);
        /* Shading (darker below) moves a large ball's weighted centre a
         * little, a leg in front of part of it (under half: still visible)
         * more. A fast ball's blur adds pixels, so the count cannot tell a
         * blurred ball with a part hidden: half the blur length (from the
         * extra pixels) is allowed on top. */
        double disc = M_PI * ta.radius * ta.radius;
        double tol = (npx >= 0.9 * disc ? fmax(1.0, 0.15 * ta.radius) : fmax(1.0, 0.5 * ta.radius)) +
                     0.5 * fmax(0.0, npx - disc) / (2.0 * ta.radius);
        assert_float_equal(sx / sw, ta.x, tol);
        assert_float_equal(sy / sw, ta.y, tol);
        checked++;
    }
    assert_true(checked > frames / 2);
    ft_synth_destroy(&with);
    ft_synth_destroy(&without);
}

static void test_truth_matches_pixels_wide(void **state)
{
    (void)state;
    check_truth_pixels(FT_SYNTH_WIDE, 3, 90);
}

static void test_truth_matches_pixels_broadcast(void **state)
{
    (void)state;
    check_truth_pixels(FT_SYNTH_BROADCAST, 4, 60);
}

static void test_truth_matches_pixels_night_cuts(void **state)
{
    (void)state;
    check_truth_pixels(FT_SYNTH_NIGHT, 5, 45);
    check_truth_pixels(FT_SYNTH_CUTS, 6, 240); /* several shots and cameras */
}

/* The close-up: the camera follows the ball closely enough that it stays in
 * the frame, and the ball is 1/30 to 1/9 of the frame height across (the
 * broadcast scenario's is under 1/60); the truth still matches the pixels. */
static void test_closeup(void **state)
{
    (void)state;
    check_truth_pixels(FT_SYNTH_CLOSEUP, 2, 60);
    ft_synth *s = make(FT_SYNTH_CLOSEUP, 12, false, true);
    int vis[3] = {0, 0, 0};
    float dmin = 1e9f, dmax = 0.0f;
    for (int i = 0; i < 30 * 20; i++) {
        ft_image im;
        ft_synth_truth t;
        assert_int_equal(ft_synth_next(s, &im, &t), FT_OK);
        vis[t.vis]++;
        if (t.vis == FT_SYNTH_VISIBLE) {
            dmin = fminf(dmin, 2.0f * t.radius / H);
            dmax = fmaxf(dmax, 2.0f * t.radius / H);
        }
    }
    assert_true(vis[FT_SYNTH_VISIBLE] > 500);
    assert_true(dmin > 1.0f / 30.0f);
    assert_true(dmax < 1.0f / 9.0f);
    assert_true(dmax > dmin * 1.3f); /* the zoom follows the play */
    assert_string_equal(ft_synth_scenario_name(FT_SYNTH_CLOSEUP), "closeup");
    assert_int_equal(ft_synth_scenario_from_name("closeup"), FT_SYNTH_CLOSEUP);
    ft_synth_destroy(&s);
}

/* Over a longer match the ball does what matches do: it flies, it is hidden
 * by players, and the broadcast camera pans and zooms. */
static void test_match_events(void **state)
{
    (void)state;
    ft_synth *s = make(FT_SYNTH_BROADCAST, 11, false, true);
    float zmax = 0.0f, fmin = 1e9f, fmax = 0.0f, pmin = 1e9f, pmax = -1e9f, rmin = 1e9f,
          rmax = 0.0f;
    int vis[3] = {0, 0, 0};
    for (int i = 0; i < 30 * 40; i++) {
        ft_image im;
        ft_synth_truth t;
        assert_int_equal(ft_synth_next(s, &im, &t), FT_OK);
        assert_int_equal(t.frame, i);
        assert_float_equal(t.pts, i / 30.0, 1e-9);
        vis[t.vis]++;
        zmax = fmaxf(zmax, t.ball_z);
        fmin = fminf(fmin, t.cam_focal);
        fmax = fmaxf(fmax, t.cam_focal);
        pmin = fminf(pmin, t.cam_pan);
        pmax = fmaxf(pmax, t.cam_pan);
        if (t.vis == FT_SYNTH_VISIBLE) {
            rmin = fminf(rmin, t.radius);
            rmax = fmaxf(rmax, t.radius);
        }
    }
    assert_true(zmax > 1.0f); /* lofted balls */
    assert_true(vis[FT_SYNTH_VISIBLE] > 600);
    assert_true(fmax > fmin * 1.2f);  /* zoom */
    assert_true(pmax - pmin > 10.0f); /* pan */
    assert_true(rmax > rmin * 1.3f);  /* perspective size */
    ft_synth_destroy(&s);

    /* Cuts: the shot number changes and the camera jumps with it. */
    s = make(FT_SYNTH_CUTS, 5, false, true);
    int shots = 0;
    for (int i = 0; i < 30 * 20; i++) {
        ft_image im;
        ft_synth_truth t;
        assert_int_equal(ft_synth_next(s, &im, &t), FT_OK);
        shots = t.shot;
    }
    assert_true(shots >= 3);
    ft_synth_destroy(&s);
}

static void test_params_rejected(void **state)
{
    (void)state;
    ft_synth_params p;
    ft_synth_params_default(&p);
    assert_int_equal(p.width, 1920);
    ft_synth *s = NULL;
    p.width = 641;
    assert_int_equal(ft_synth_create(&p, &s), FT_ERR_INVALID);
    assert_null(s);
    ft_synth_params_default(&p);
    p.fps = 0.0;
    assert_int_equal(ft_synth_create(&p, &s), FT_ERR_INVALID);
    assert_int_equal(ft_synth_scenario_from_name("night"), FT_SYNTH_NIGHT);
    assert_int_equal(ft_synth_scenario_from_name("day"), -1);
}

static void test_truth_csv_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/ft_synth_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/truth.csv", dir);
    ft_synth_params p;
    ft_synth_params_default(&p);
    ft_synth_truth_writer *w = NULL;
    assert_int_equal(ft_synth_truth_writer_create(path, &p, &w), FT_OK);
    ft_synth_truth in[3] = {
        {.frame = 0, .pts = 0.0, .x = 10.5f, .y = 20.25f, .radius = 3.0f, .vis = FT_SYNTH_VISIBLE},
        {.frame = 1, .pts = 0.04, .x = 11.0f, .y = 21.0f, .radius = 3.0f, .vis = FT_SYNTH_OCCLUDED},
        {.frame = 2, .pts = 0.08, .x = -5.0f, .y = 2.0f, .vis = FT_SYNTH_OUT_OF_FRAME},
    };
    for (int i = 0; i < 3; i++)
        assert_int_equal(ft_synth_truth_writer_write(w, &in[i]), FT_OK);
    assert_int_equal(ft_synth_truth_writer_finish(w), FT_OK);
    ft_synth_truth_writer_destroy(&w);
    assert_null(w);
    ft_synth_truth *rows = NULL;
    size_t n = 0;
    assert_int_equal(ft_synth_truth_read(path, &rows, &n), FT_OK);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rows[i].frame, in[i].frame);
        assert_int_equal(rows[i].vis, in[i].vis);
        assert_float_equal(rows[i].x, in[i].x, 0.01);
        assert_float_equal(rows[i].y, in[i].y, 0.01);
        assert_float_equal(rows[i].pts, in[i].pts, 1e-6);
    }
    free(rows);

    /* Hand annotations: only the required columns, in another order. */
    FILE *f = fopen(path, "w");
    fputs("visibility,frame,y,x\nvisible,4,100,200\nout_of_frame,5,,\n", f);
    fclose(f);
    assert_int_equal(ft_synth_truth_read(path, &rows, &n), FT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].frame, 4);
    assert_float_equal(rows[0].x, 200.0, 1e-6);
    assert_float_equal(rows[0].pts, -1.0, 1e-9);
    assert_int_equal(rows[1].vis, FT_SYNTH_OUT_OF_FRAME);
    free(rows);

    /* Bad input is an input error, not a crash. */
    f = fopen(path, "w");
    fputs("frame,x,y,visibility\n0,1,2,maybe\n", f);
    fclose(f);
    assert_int_equal(ft_synth_truth_read(path, &rows, &n), FT_ERR_INPUT);
    f = fopen(path, "w");
    fputs("frame,x,visibility\n0,1,visible\n", f);
    fclose(f);
    assert_int_equal(ft_synth_truth_read(path, &rows, &n), FT_ERR_INPUT);
    assert_int_equal(ft_synth_truth_read("/nonexistent/t.csv", &rows, &n), FT_ERR_INPUT);
    remove(path);
    rmdir(dir);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_synth_command(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN");
    if (!bin)
        skip();
    char dir[] = "/tmp/ft_synth_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "'%s' synth --out %s/c.mp4 --truth %s/c.csv --seconds 1 --fps 25 --size 320x180 "
             "--seed 9 --scenario night 2>/dev/null",
             bin, dir, dir);
    assert_int_equal(run(cmd), 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/c.csv", dir);
    ft_synth_truth *rows = NULL;
    size_t n = 0;
    assert_int_equal(ft_synth_truth_read(path, &rows, &n), FT_OK);
    assert_int_equal(n, 25);
    assert_float_equal(rows[24].pts, 24 / 25.0, 1e-6);
    free(rows);
    struct stat st;
    snprintf(path, sizeof(path), "%s/c.mp4", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    remove(path);
    snprintf(path, sizeof(path), "%s/c.csv", dir);
    remove(path);
    snprintf(cmd, sizeof(cmd), "'%s' synth --truth %s/x.csv --size 33x10 2>/dev/null", bin, dir);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof(cmd), "'%s' synth --truth %s/x.csv --scenario moon 2>/dev/null", bin, dir);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof(cmd), "'%s' synth --truth /nonexistent/x.csv --seconds 0.1 2>/dev/null",
             bin);
    assert_int_equal(run(cmd), 4);
    /* The video of a run that fails (here: its truth file) is not left
     * behind half-written, nor is its temp file. */
    snprintf(cmd, sizeof(cmd),
             "'%s' synth --out %s/v.mp4 --truth /nonexistent/x.csv --seconds 0.1 "
             "--size 320x180 2>/dev/null",
             bin, dir);
    assert_int_equal(run(cmd), 4);
    snprintf(path, sizeof(path), "%s/v.mp4", dir);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(cmd, sizeof(cmd), "'%s' synth --help >/dev/null", bin);
    assert_int_equal(run(cmd), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_truth_matches_pixels_wide),
        cmocka_unit_test(test_truth_matches_pixels_broadcast),
        cmocka_unit_test(test_closeup),
        cmocka_unit_test(test_truth_matches_pixels_night_cuts),
        cmocka_unit_test(test_match_events),
        cmocka_unit_test(test_params_rejected),
        cmocka_unit_test(test_truth_csv_roundtrip),
        cmocka_unit_test(test_synth_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
