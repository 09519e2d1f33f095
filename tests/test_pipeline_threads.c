/* pipeline: the libav thread keys (encoder.threads, decoder.threads): range
 * checks, the `serve` share taken when they are 0, and that the values reach
 * the decoder and the encoder (counted as the process's threads after
 * ft_pipeline_create, which opens both but starts no stage thread); and the
 * tracker minima against the default detector's continuity cap (the
 * defaults above it, a warning at start-up and on a reload for a value at or
 * under it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/classic.h"
#include "pipeline/pipeline.h"
#include "tools/bench/testclip.h"

static char dir[64];
static char clip[128];

/* Loads the settings with `sets` ("key=value", NULL-ended) as CLI overrides
 * and no environment; returns the status and the error text in err. */
static ft_status load(const char *const *sets, ft_config **cfg, char *err, size_t cap)
{
    ft_config_sources src;
    memset(&src, 0, sizeof src);
    src.no_env = true;
    for (; *sets; sets++) {
        ft_config_override *o = &src.overrides[src.n_overrides++];
        const char *eq = strchr(*sets, '=');
        snprintf(o->key, sizeof o->key, "%.*s", (int)(eq - *sets), *sets);
        snprintf(o->value, sizeof o->value, "%s", eq + 1);
        snprintf(o->origin, sizeof o->origin, "CLI --set");
    }
    return ft_config_load(&ft_settings_schema, &src, cfg, err, cap);
}

static void test_keys_and_ranges(void **state)
{
    (void)state;
    char err[1024];
    ft_config *cfg = NULL;
    const char *none[] = {NULL};
    assert_int_equal(load(none, &cfg, err, sizeof err), FT_OK);
    assert_int_equal(ft_settings_of(cfg)->encoder.threads, 0);
    assert_int_equal(ft_settings_of(cfg)->decoder.threads, 0);
    ft_config_destroy(&cfg);

    const char *ok[] = {"encoder.threads=3", "decoder.threads=64", NULL};
    assert_int_equal(load(ok, &cfg, err, sizeof err), FT_OK);
    assert_int_equal(ft_settings_of(cfg)->encoder.threads, 3);
    assert_int_equal(ft_settings_of(cfg)->decoder.threads, 64);
    ft_config_destroy(&cfg);

    const char *bad[][2] = {{"encoder.threads=-1", NULL},
                            {"encoder.threads=65", NULL},
                            {"decoder.threads=two", NULL},
                            {"decoder.threads=1.5", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(load(bad[i], &cfg, err, sizeof err), FT_ERR_CONFIG);
        assert_null(cfg);
        char key[32];
        snprintf(key, sizeof key, "%.15s", bad[i][0]); /* "encoder.threads" / "decoder.threads" */
        if (!strstr(err, key))
            fail_msg("error for %s does not name the key: %s", bad[i][0], err);
    }
}

/* 0 takes the share serve passes in the environment; a set value wins; a
 * bad share is ignored (libav's choice). */
static void test_serve_share(void **state)
{
    (void)state;
    char err[1024];
    ft_config *cfg = NULL;
    ft_pipeline_params p;
    const char *none[] = {NULL}, *enc2[] = {"encoder.threads=2", NULL};

    assert_int_equal(load(none, &cfg, err, sizeof err), FT_OK);
    unsetenv(FT_PIPELINE_THREAD_SHARE_ENV);
    ft_pipeline_params_from_settings(ft_settings_of(cfg), &p);
    assert_int_equal(p.encode_threads, 0);
    assert_int_equal(p.decode_threads, 0);
    setenv(FT_PIPELINE_THREAD_SHARE_ENV, "5", 1);
    ft_pipeline_params_from_settings(ft_settings_of(cfg), &p);
    assert_int_equal(p.encode_threads, 5);
    assert_int_equal(p.decode_threads, 5);
    const char *bad[] = {"0", "65", "x", "", "3 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv(FT_PIPELINE_THREAD_SHARE_ENV, bad[i], 1);
        ft_pipeline_params_from_settings(ft_settings_of(cfg), &p);
        assert_int_equal(p.encode_threads, 0);
        assert_int_equal(p.decode_threads, 0);
    }
    ft_config_destroy(&cfg);

    assert_int_equal(load(enc2, &cfg, err, sizeof err), FT_OK);
    setenv(FT_PIPELINE_THREAD_SHARE_ENV, "5", 1);
    ft_pipeline_params_from_settings(ft_settings_of(cfg), &p);
    assert_int_equal(p.encode_threads, 2);
    assert_int_equal(p.decode_threads, 5);
    unsetenv(FT_PIPELINE_THREAD_SHARE_ENV);
    ft_config_destroy(&cfg);
}

/* Threads of this process (entries of /proc/self/task). */
static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Threads the decoder and the x264 encoder start at ft_pipeline_create with
 * the given counts (the process's threads while it exists minus before). */
/* Points p at the test clip and a small x264 output on the CPU; out (n
 * bytes, borrowed by p) holds the output's path. */
static void test_io(ft_pipeline_params *p, char *out, size_t n, int width, int height)
{
    snprintf(out, n, "%s/out.mp4", dir);
    p->input = clip;
    p->output = out;
    p->device = "cpu";
    p->codec = "x264";
    p->out_width = width;
    p->out_height = height;
    p->progress = false;
}

static int threads_started(int decode_threads, int encode_threads)
{
    char out[160];
    ft_pipeline_params p;
    ft_pipeline_params_default(&p);
    test_io(&p, out, sizeof out, 640, 360);
    p.decode_threads = decode_threads;
    p.encode_threads = encode_threads;
    int before = task_count();
    ft_pipeline *pl = NULL;
    assert_int_equal(ft_pipeline_create(&p, &pl), FT_OK);
    int started = task_count() - before;
    ft_pipeline_destroy(&pl);
    assert_null(pl);
    assert_int_equal(task_count(), before); /* all joined again */
    return started;
}

static void test_threads_reach_libav(void **state)
{
    (void)state;
    /* One each: both work in the calling thread, nothing is started. */
    assert_int_equal(threads_started(1, 1), 0);
    /* Frame-threaded decoding starts its workers at open, x264 its pool. */
    int dec4 = threads_started(4, 1), enc4 = threads_started(1, 4);
    if (dec4 < 3 || enc4 < 3)
        fail_msg("4 threads asked for: decoder started %d, encoder %d", dec4, enc4);
}

/* The default detector raises look-alikes beside the ball to its cap so
 * that they never move the track: that holds only while the tracker's
 * defaults stay strictly above it. */
static void test_tracker_defaults_above_raise_cap(void **state)
{
    (void)state;
    ft_tracker_params t;
    ft_tracker_params_default(&t);
    assert_true(t.recovering_min_confidence > FT_DETECT_CLASSIC_RAISE_CAP);
    assert_true(t.acquire_min_confidence > FT_DETECT_CLASSIC_RAISE_CAP);
}

static char log_path[192];

/* Occurrences of `needle` in the log file so far. */
static int log_count(const char *needle)
{
    static char buf[65536];
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    int count = 0;
    for (const char *at = buf; (at = strstr(at, needle)); at++)
        count++;
    return count;
}

/* A pipeline over the clip with the settings `sets` and detector `det`
 * (borrowed; NULL = none); *cfg returned-owned. */
static ft_pipeline *warn_pipeline(const char *const *sets, ft_detector *det, ft_config **cfg)
{
    char err[1024], out[160];
    assert_int_equal(load(sets, cfg, err, sizeof err), FT_OK);
    ft_pipeline_params p;
    ft_pipeline_params_from_settings(ft_settings_of(*cfg), &p);
    test_io(&p, out, sizeof out, 320, 180);
    p.detector = det;
    ft_pipeline *pl = NULL;
    assert_int_equal(ft_pipeline_create(&p, &pl), FT_OK);
    return pl;
}

/* A tracker minimum at or under the cap is warned about with the default
 * detector, once where it is applied: at ft_pipeline_create and when a
 * reload that changes it reaches the tracker (not a reload of other keys);
 * never for the defaults or without that detector. */
static void test_raise_cap_warning(void **state)
{
    (void)state;
    static const char acquire[] =
        "tracking.acquire_min_confidence 0.39 is at or under the default detector's continuity "
        "cap 0.39: candidates it raises next to the ball can move the track (docs/detector.md)";
    static const char recovering[] =
        "tracking.recovering_min_confidence 0.35 is at or under the default detector's "
        "continuity cap 0.39";
    snprintf(log_path, sizeof log_path, "%s/warn.log", dir);
    ft_log_params lp = {.level = FT_LOG_WARN, .format = FT_LOG_FORMAT_TEXT};
    snprintf(lp.file, sizeof lp.file, "%s", log_path);
    assert_int_equal(ft_log_configure(&lp), FT_OK);
    ft_detector *det = NULL;
    assert_int_equal(ft_detect_classic_create(NULL, &det), FT_OK);

    /* Defaults at start-up, then a reload to the cap itself. */
    const char *none[] = {NULL}, *low_acq[] = {"tracking.acquire_min_confidence=0.39", NULL};
    ft_config *cfg = NULL, *next = NULL;
    ft_pipeline *pl = warn_pipeline(none, det, &cfg);
    assert_int_equal(log_count("continuity cap"), 0);
    char err[1024];
    assert_int_equal(load(low_acq, &next, err, sizeof err), FT_OK);
    ft_pipeline_update(pl, ft_settings_of(next));
    assert_int_equal(log_count("continuity cap"), 0); /* not applied before a frame */
    assert_int_equal(ft_pipeline_run(pl), FT_OK);
    assert_int_equal(log_count(acquire), 1);
    assert_int_equal(log_count("continuity cap"), 1);
    ft_pipeline_destroy(&pl);
    ft_config_destroy(&cfg);
    ft_config_destroy(&next);

    /* Under the cap from the start, then a reload of another tracking key
     * that keeps it; the same without the default detector. */
    const char *low_rec[] = {"tracking.recovering_min_confidence=0.35", NULL},
               *low_rec_other[] = {"tracking.recovering_min_confidence=0.35",
                                   "tracking.acquire_min_confidence=0.6", NULL};
    pl = warn_pipeline(low_rec, det, &cfg);
    assert_int_equal(log_count(recovering), 1);
    assert_int_equal(load(low_rec_other, &next, err, sizeof err), FT_OK);
    ft_pipeline_update(pl, ft_settings_of(next));
    assert_int_equal(ft_pipeline_run(pl), FT_OK);
    assert_int_equal(log_count(recovering), 1);
    ft_pipeline_destroy(&pl);
    ft_config_destroy(&cfg);
    ft_config_destroy(&next);
    pl = warn_pipeline(low_rec, NULL, &cfg);
    assert_int_equal(log_count("continuity cap"), 2);
    ft_pipeline_destroy(&pl);
    ft_config_destroy(&cfg);

    ft_detector_destroy(&det);
    lp = (ft_log_params){.level = FT_LOG_INFO};
    assert_int_equal(ft_log_configure(&lp), FT_OK);
    unlink(log_path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ft_pipeline_threads_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    ft_testclip_params cp = {clip, 640, 360, 25.0, 10, false, NULL};
    return ft_testclip_write(&cp) == FT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[192];
    snprintf(path, sizeof path, "%s/clip.mp4", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/out.mp4", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_and_ranges),
        cmocka_unit_test(test_serve_share),
        cmocka_unit_test(test_threads_reach_libav),
        cmocka_unit_test(test_tracker_defaults_above_raise_cap),
        cmocka_unit_test(test_raise_cap_warning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
