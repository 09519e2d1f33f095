/* Evaluator: every metric on hand-built tracks with known answers, the track
 * CSV round trip, JSON and PNG output, the eval command and suite checks. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "core/parse.h"
#include "pipeline/track_csv.h"
#include "tools/eval/eval.h"
#include "tools/eval/suite.h"

#define N 300
#define FPS 30.0

static ft_synth_truth truth[N];
static ft_track_csv_row rows[N];
static ft_track_csv track = {rows, N};

/* Truth: a ball moving on a curve, always visible. */
static void make_truth(void)
{
    for (int i = 0; i < N; i++)
        truth[i] = (ft_synth_truth){.frame = i,
                                    .pts = i / FPS,
                                    .x = 400.0f + 300.0f * sinf(i * 0.02f),
                                    .y = 300.0f + 2.0f * i * 0.1f,
                                    .radius = 3.0f,
                                    .vis = FT_SYNTH_VISIBLE};
}

/* Track: estimate and single candidate at truth + (dx, dy), a 640x360 crop
 * centred on the truth, normal mode. */
static void make_track(float dx, float dy)
{
    for (int i = 0; i < N; i++) {
        ft_track_csv_row *r = &rows[i];
        memset(r, 0, sizeof(*r));
        r->frame = i;
        r->pts = i / FPS;
        r->n_det = 1;
        r->det[0] = (ft_track_csv_cand){truth[i].x + dx, truth[i].y + dy, 0.9f};
        r->state = FT_TRACK_CSV_TRACKING;
        r->mode = FT_TRACK_CSV_NORMAL;
        r->x = truth[i].x + dx;
        r->y = truth[i].y + dy;
        r->crop_w = 640.0f;
        r->crop_h = 360.0f;
        r->crop_x = 100.0f;
        r->crop_y = 100.0f;
    }
}

static ft_eval_result eval_now(double radius, bool with_truth)
{
    ft_eval_params p;
    ft_eval_params_default(&p);
    assert_float_equal(p.radius, 8.0, 0.0);
    p.radius = radius;
    ft_eval_result r;
    assert_int_equal(ft_eval_compute(&p, with_truth ? truth : NULL, with_truth ? N : 0, &track, &r),
                     FT_OK);
    return r;
}

static void test_perfect_track(void **state)
{
    (void)state;
    make_truth();
    make_track(0, 0);
    for (int i = 0; i < N; i++) { /* crop centred on the ball */
        rows[i].crop_x = truth[i].x - 320.0f;
        rows[i].crop_y = truth[i].y - 180.0f;
    }
    ft_eval_result r = eval_now(8.0, true);
    assert_int_equal(r.frames, N);
    assert_int_equal(r.visible_frames, N);
    assert_float_equal(r.precision, 100.0, 1e-9);
    assert_float_equal(r.recall, 100.0, 1e-9);
    assert_float_equal(r.f1, 100.0, 1e-9);
    assert_float_equal(r.err_p50, 0.0, 1e-3);
    assert_float_equal(r.err_max, 0.0, 1e-3);
    assert_float_equal(r.in_crop, 100.0, 1e-9);
    assert_float_equal(r.in_crop_center, 100.0, 1e-9);
    assert_float_equal(r.lost_pct, 0.0, 1e-9);
    assert_float_equal(r.chaos_pct, 0.0, 1e-9);
    assert_float_equal(r.det_per_frame, 1.0, 1e-9);
    assert_float_equal(r.zoom_jerk_rms, 0.0, 1e-9);
    assert_int_equal(r.occlusions, 0);
    assert_true(isnan(r.reacq_mean_s));
}

static void test_constant_offset(void **state)
{
    (void)state;
    make_truth();
    make_track(3.0f, 4.0f); /* 5 px away */
    ft_eval_result r = eval_now(8.0, true);
    assert_float_equal(r.err_p50, 5.0, 1e-3);
    assert_float_equal(r.err_p95, 5.0, 1e-3);
    assert_float_equal(r.err_max, 5.0, 1e-3);
    assert_float_equal(r.recall, 100.0, 1e-9);
    /* With a 4 px radius every candidate misses: a false positive and a miss. */
    r = eval_now(4.0, true);
    assert_int_equal(r.tp, 0);
    assert_int_equal(r.fp, N);
    assert_int_equal(r.fn, N);
    assert_float_equal(r.precision, 0.0, 1e-9);
    assert_float_equal(r.recall, 0.0, 1e-9);
    assert_float_equal(r.f1, 0.0, 1e-9);
}

static void test_detection_counts(void **state)
{
    (void)state;
    make_truth();
    make_track(0, 0);
    /* Every other frame a far distractor too; 30 frames without candidates;
     * 10 frames with the ball hidden and a candidate on it (not counted) and
     * 10 out of the frame with a candidate (a false positive). */
    for (int i = 0; i < N; i += 2) {
        rows[i].det[1] = (ft_track_csv_cand){5.0f, 5.0f, 0.5f};
        rows[i].n_det = 2;
    }
    for (int i = 100; i < 130; i++)
        rows[i].n_det = 0;
    for (int i = 200; i < 210; i++)
        truth[i].vis = FT_SYNTH_OCCLUDED;
    for (int i = 250; i < 260; i++)
        truth[i].vis = FT_SYNTH_OUT_OF_FRAME;
    ft_eval_result r = eval_now(8.0, true);
    size_t visible = N - 20;
    assert_int_equal(r.visible_frames, visible);
    /* visible frames with a candidate: 280 - 30 */
    assert_int_equal(r.tp, visible - 30);
    assert_int_equal(r.fn, 30);
    /* distractors: 150 frames with 2 candidates, 15 of them in 100..129 lost
     * their candidates; hidden frames: 5 distractors; out of frame: 10 + 5 */
    size_t fp = 150 - 15;
    fp += 10; /* every out-of-frame candidate on the ball position */
    assert_int_equal(r.fp, fp);
    double prec = 100.0 * r.tp / (double)(r.tp + r.fp), rec = 100.0 * r.tp / (double)(r.tp + 30);
    assert_float_equal(r.precision, prec, 1e-9);
    assert_float_equal(r.recall, rec, 1e-9);
    assert_float_equal(r.f1, 2 * prec * rec / (prec + rec), 1e-9);
}

static void test_crop_and_smoothness(void **state)
{
    (void)state;
    make_truth();
    make_track(0, 0);
    /* Crop centre moving with constant acceleration 2 px/frame^2 in x: the
     * second difference is 2 everywhere, the third 0. */
    for (int i = 0; i < N; i++) {
        rows[i].crop_x = (float)(1.0 * i * i) - 320.0f;
        rows[i].crop_y = 0.0f;
    }
    ft_eval_result r = eval_now(8.0, true);
    assert_float_equal(r.acc_rms, 2.0, 1e-2);
    assert_float_equal(r.acc_p95, 2.0, 1e-2);
    assert_float_equal(r.jerk_rms, 0.0, 1e-2);
    /* Zoom at a constant rate (1 % per frame) around a fixed centre: no
     * acceleration and no zoom jerk, which is measured on ln(width). */
    for (int i = 0; i < N; i++) {
        rows[i].crop_w = 100.0f * powf(1.01f, (float)i);
        rows[i].crop_x = -0.5f * rows[i].crop_w;
    }
    r = eval_now(8.0, true);
    assert_float_equal(r.acc_rms, 0.0, 1e-3);
    assert_float_equal(r.zoom_jerk_rms, 0.0, 1e-2);

    /* Ball in crop: a fixed crop covering x in [100, 500): the truth x is
     * 400 + 300 sin(0.02 i), so count by hand. */
    make_track(0, 0);
    int in = 0, center = 0;
    for (int i = 0; i < N; i++) {
        rows[i].crop_x = 100.0f;
        rows[i].crop_y = 0.0f;
        rows[i].crop_w = 400.0f;
        rows[i].crop_h = 1000.0f;
        in += truth[i].x >= 100.0f && truth[i].x < 500.0f;
        center += truth[i].x >= 180.0f && truth[i].x <= 420.0f && truth[i].y >= 200.0f &&
                  truth[i].y <= 800.0f;
    }
    r = eval_now(8.0, true);
    assert_true(in > 0 && in < N);
    assert_float_equal(r.in_crop, 100.0 * in / N, 1e-9);
    assert_float_equal(r.in_crop_center, 100.0 * center / N, 1e-9);
}

/* Framing figures: how tight the crop is, so that a full-frame camera (ball
 * always "in crop") shows as such. */
static void test_framing(void **state)
{
    (void)state;
    make_truth();
    make_track(0, 0);
    /* 100 frames at half width (zoom 2), 200 at the full 1920x1080 frame. */
    for (int i = 0; i < N; i++) {
        const float k = i < 100 ? 0.5f : 1.0f;
        rows[i].crop_x = rows[i].crop_y = 0.0f;
        rows[i].crop_w = 1920.0f * k;
        rows[i].crop_h = 1080.0f * k;
    }
    ft_eval_params p;
    ft_eval_params_default(&p);
    assert_true(ft_parse_size("1920x1080", &p.frame_w, &p.frame_h));
    assert_int_equal(p.frame_w, 1920);
    assert_int_equal(p.frame_h, 1080);
    for (int known = 1; known >= 0; known--) {
        if (!known)
            p.frame_w = p.frame_h = 0; /* the widest crop stands for the frame */
        ft_eval_result r;
        assert_int_equal(ft_eval_compute(&p, NULL, 0, &track, &r), FT_OK);
        assert_float_equal(r.crop_frac_mean, (100 * 0.5 + 200 * 1.0) / N, 1e-9);
        assert_float_equal(r.crop_frac_p50, 1.0, 1e-9);
        assert_float_equal(r.zoom_mean, (100 * 2.0 + 200 * 1.0) / N, 1e-9);
        assert_float_equal(r.full_frame_pct, 100.0 * 200 / N, 1e-9);
        double v;
        assert_int_equal(ft_eval_result_get(&r, "full_frame_pct", &v), FT_OK);
        assert_float_equal(v, r.full_frame_pct, 0.0);
    }
    /* A vertical 9:16 output: zoom 1.0 is the full-height crop 607.5 px wide. */
    p.frame_w = 1920;
    p.frame_h = 1080;
    for (int i = 0; i < N; i++) {
        rows[i].crop_w = 607.5f;
        rows[i].crop_h = 1080.0f;
    }
    ft_eval_result r;
    assert_int_equal(ft_eval_compute(&p, NULL, 0, &track, &r), FT_OK);
    assert_float_equal(r.zoom_mean, 1.0, 1e-6);
    assert_float_equal(r.full_frame_pct, 100.0, 1e-9);
    assert_float_equal(r.crop_frac_mean, 607.5 / 1920.0, 1e-6);
}

static void test_modes_and_reacquire(void **state)
{
    (void)state;
    make_truth();
    make_track(0, 0);
    /* Hidden in frames 50..59; the tracker predicts until 64, then locks on at
     * 65: visible again at 60, re-acquired 5 frames later. Second episode at
     * 150..151 with no loss: re-acquired at once. Chaos in 30 frames. */
    for (int i = 50; i < 60; i++)
        truth[i].vis = FT_SYNTH_OCCLUDED;
    for (int i = 50; i < 65; i++) {
        rows[i].state = FT_TRACK_CSV_PREDICTED;
        rows[i].n_det = 0;
    }
    for (int i = 150; i < 152; i++)
        truth[i].vis = FT_SYNTH_OUT_OF_FRAME;
    for (int i = 200; i < 230; i++)
        rows[i].mode = FT_TRACK_CSV_CHAOS;
    for (int i = 280; i < N; i++)
        rows[i].state = FT_TRACK_CSV_NO_ESTIMATE;
    ft_eval_result r = eval_now(8.0, true);
    assert_int_equal(r.occlusions, 2);
    assert_int_equal(r.reacquired, 2);
    assert_float_equal(r.reacq_max_s, 5 / FPS, 1e-6);
    assert_float_equal(r.reacq_mean_s, 2.5 / FPS, 1e-6);
    assert_float_equal(r.chaos_pct, 10.0, 1e-9);
    assert_float_equal(r.lost_pct, 100.0 * 35 / N, 1e-9);
    assert_int_equal(r.err_frames, N - 10 - 2 - 20);

    /* Without truth only the truth-free figures exist. */
    r = eval_now(8.0, false);
    assert_false(r.has_truth);
    assert_true(isnan(r.recall));
    assert_true(isnan(r.err_p50));
    assert_float_equal(r.chaos_pct, 10.0, 1e-9);
    double v;
    assert_int_equal(ft_eval_result_get(&r, "chaos_pct", &v), FT_OK);
    assert_float_equal(v, 10.0, 1e-9);
    assert_int_equal(ft_eval_result_get(&r, "nope", &v), FT_ERR_INVALID);
}

static char tmpdir[64];

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void test_track_csv_roundtrip(void **state)
{
    (void)state;
    make_truth();
    make_track(1.25f, -2.5f);
    rows[3].state = FT_TRACK_CSV_NO_ESTIMATE;
    rows[4].n_det = 0;
    rows[5].mode = FT_TRACK_CSV_STABILITY;
    char path[128];
    path_in(path, sizeof(path), "track.csv");
    ft_track_csv_writer *w = NULL;
    assert_int_equal(ft_track_csv_writer_create(path, true, &w), FT_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(ft_track_csv_writer_write(w, &rows[i]), FT_OK);
    ft_track_csv_row badrow = rows[0];
    badrow.n_det = FT_DETECT_MAX + 1;
    assert_int_equal(ft_track_csv_writer_write(w, &badrow), FT_ERR_INVALID);
    assert_int_equal(ft_track_csv_writer_finish(w), FT_OK);
    ft_track_csv_writer_destroy(&w);
    assert_null(w);
    ft_track_csv *t = NULL;
    assert_int_equal(ft_track_csv_read(path, &t), FT_OK);
    assert_int_equal(t->count, N);
    for (int i = 0; i < N; i++) {
        const ft_track_csv_row *a = &rows[i], *b = &t->rows[i];
        assert_int_equal(a->frame, b->frame);
        assert_float_equal(a->pts, b->pts, 1e-6);
        assert_int_equal(a->n_det, b->n_det);
        assert_int_equal(a->state, b->state);
        assert_int_equal(a->mode, b->mode);
        if (a->state != FT_TRACK_CSV_NO_ESTIMATE) {
            assert_float_equal(a->x, b->x, 0.01);
            assert_float_equal(a->y, b->y, 0.01);
        }
        for (int k = 0; k < a->n_det; k++) {
            assert_float_equal(a->det[k].x, b->det[k].x, 0.06);
            assert_float_equal(a->det[k].score, b->det[k].score, 1e-3);
        }
        assert_float_equal(a->crop_w, b->crop_w, 0.01);
    }
    ft_track_csv_destroy(&t);
    assert_null(t);

    /* Malformed files are input errors naming the line; never a crash. */
    static const char *const bad[] = {
        "frame,pts\n",
        "# football-tracker track v1\n"
        "frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,crop_h,candidates\n"
        "0,0.0,1,tracking,1,2,normal,0,0,10,10,\n",
        "frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,crop_h,candidates\n"
        "0,0.0,0,flying,1,2,normal,0,0,10,10,\n",
        "frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,crop_h,candidates\n"
        "0,0.0,1,tracking,1,2,normal,0,0,10,10,1:2\n",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(ft_track_csv_read(path, &t), FT_ERR_INPUT);
        assert_null(t);
    }
    assert_int_equal(ft_track_csv_read("/nonexistent/track.csv", &t), FT_ERR_INPUT);
    remove(path);
}

static void test_json_and_plot(void **state)
{
    (void)state;
    make_truth();
    make_track(3.0f, 4.0f);
    ft_eval_result r = eval_now(8.0, true);
    char json[128], png[128];
    path_in(json, sizeof(json), "e.json");
    path_in(png, sizeof(png), "e.png");
    assert_int_equal(ft_eval_write_json(json, &r), FT_OK);
    FILE *f = fopen(json, "r");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "\"err_p50\": 5"));
    assert_non_null(strstr(buf, "\"recall\": 100"));
    assert_non_null(strstr(buf, "\"reacq_mean_s\": null"));
    ft_eval_params p;
    ft_eval_params_default(&p);
    assert_int_equal(ft_eval_plot_png(png, &p, truth, N, &track), FT_OK);
    f = fopen(png, "rb");
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(ft_eval_write_json("/nonexistent/e.json", &r), FT_ERR_OUTPUT);
    assert_int_equal(ft_eval_plot_png("/nonexistent/e.png", &p, NULL, 0, &track), FT_ERR_OUTPUT);
    remove(json);
    remove(png);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_eval_command(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN");
    if (!bin)
        skip();
    char cmd[1024], dir[64];
    snprintf(dir, sizeof(dir), "%s", tmpdir);
    /* synth truth + a track that is the truth itself, written by hand. */
    snprintf(cmd, sizeof(cmd),
             "'%s' synth --truth %s/t.csv --seconds 2 --size 640x360 --seed 2 2>/dev/null", bin,
             dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "awk -F, 'BEGIN{print \"frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,"
             "crop_h,candidates\"} /^[0-9]/{print $1\",\"$2\",1,tracking,\"$3\",\"$4\",normal,0,0,"
             "640,360,\"$3\":\"$4\":0.9\"}' %s/t.csv > %s/k.csv",
             dir, dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "'%s' eval --truth %s/t.csv --track %s/k.csv --json %s/k.json --plot %s/k.png "
             ">/dev/null 2>&1",
             bin, dir, dir, dir, dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "grep -q '\"err_max\": 0,' %s/k.json", dir);
    assert_int_equal(run(cmd), 0);
    /* Without truth, a truth-free report. */
    snprintf(cmd, sizeof(cmd),
             "'%s' eval --track %s/k.csv --json %s/n.json >/dev/null 2>&1 && "
             "! grep -q recall %s/n.json && grep -q lost_pct %s/n.json",
             bin, dir, dir, dir, dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "'%s' eval --track %s/missing.csv 2>/dev/null", bin, dir);
    assert_int_equal(run(cmd), 3);
    snprintf(cmd, sizeof(cmd), "'%s' eval --radius -1 --track x 2>/dev/null", bin);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof(cmd), "rm -f %s/t.csv %s/k.csv %s/k.json %s/k.png %s/n.json", dir, dir,
             dir, dir, dir);
    assert_int_equal(run(cmd), 0);
}

/* Real footage without annotations (optional: skipped when the shared clips
 * are absent): batch writes a track of every frame, eval reports the
 * truth-free figures only. */
static void test_real_footage_truth_free(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN"), *src = getenv("FT_SOURCE_DIR");
    if (!bin || !src)
        skip();
    char clip[512];
    snprintf(clip, sizeof(clip), "%s/../shared/footage/dfl_08fd33_4_tactical_feed_848x478.mp4",
             src);
    if (access(clip, R_OK))
        skip();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "'%s' batch --input '%s' --output %s/r.mp4 --track-out %s/r.csv >/dev/null 2>&1 && "
             "'%s' eval --track %s/r.csv --json %s/r.json >/dev/null",
             bin, clip, tmpdir, tmpdir, bin, tmpdir, tmpdir);
    assert_int_equal(run(cmd), 0);
    char path[128];
    path_in(path, sizeof(path), "r.csv");
    ft_track_csv *t = NULL;
    assert_int_equal(ft_track_csv_read(path, &t), FT_OK);
    assert_int_equal(t->count, 169); /* 6.75 s at 25 fps */
    for (size_t i = 0; i < t->count; i++)
        assert_int_equal(t->rows[i].frame, (int64_t)i);
    ft_track_csv_destroy(&t);
    snprintf(cmd, sizeof(cmd),
             "grep -q '\"has_truth\": false' %s/r.json && grep -q chaos_pct %s/r.json && "
             "! grep -q recall %s/r.json && rm -f %s/r.mp4 %s/r.csv %s/r.json",
             tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    assert_int_equal(run(cmd), 0);
}

static void test_suite_file_errors(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof(path), "suite.yml");
    static const char *const bad[] = {
        "runs:\n  - name: a\n    colour: red\n",
        "runs:\n  - name: a\n    thresholds: {min_happiness: 3}\n",
        "defaults:\n  fps: -3\n",
        "defaults:\n  size: 1920by1080\n",
        "runs: [\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        ft_eval_suite_params p = {
            .suite = path, .bin = "/bin/false", .workdir = tmpdir, .out = stderr};
        int failed = 0;
        assert_int_equal(ft_eval_suite_run(&p, &failed), FT_ERR_CONFIG);
    }
    remove(path);
    /* The shipped suite parses (a run that cannot start is a runtime error). */
    const char *src = getenv("FT_SOURCE_DIR");
    if (src) {
        char suite[512];
        snprintf(suite, sizeof(suite), "%s/eval/suite.yml", src);
        FILE *null = fopen("/dev/null", "w");
        ft_eval_suite_params p = {
            .suite = suite, .bin = "/nonexistent/bin", .workdir = tmpdir, .out = null};
        int failed = 0;
        assert_int_equal(ft_eval_suite_run(&p, &failed), FT_ERR_RUNTIME);
        fclose(null);
        snprintf(path, sizeof(path), "rm -f %s/*.log", tmpdir);
        assert_int_equal(run(path), 0);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ft_eval_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect_track),
        cmocka_unit_test(test_constant_offset),
        cmocka_unit_test(test_detection_counts),
        cmocka_unit_test(test_crop_and_smoothness),
        cmocka_unit_test(test_modes_and_reacquire),
        cmocka_unit_test(test_track_csv_roundtrip),
        cmocka_unit_test(test_json_and_plot),
        cmocka_unit_test(test_eval_command),
        cmocka_unit_test(test_real_footage_truth_free),
        cmocka_unit_test(test_suite_file_errors),
        cmocka_unit_test(test_framing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
