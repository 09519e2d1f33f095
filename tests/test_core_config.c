/* Configuration loader: precedence, origins, every class of bad input, reload. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

/* A small schema of its own, so these tests do not depend on the program's
 * sections (those are covered through the binary in test_cli_config). */
typedef struct det_params {
    double confidence;
    int imgsz;
    bool half;
    int device;
    char path[FT_OPT_STRLEN];
    ft_polygon_set zones;
} det_params;

typedef struct net_params {
    int64_t bitrate;
    int timeout_ms;
    char token[FT_OPT_STRLEN];
} net_params;

typedef struct all_params {
    det_params det;
    net_params net;
} all_params;

static const char *const devices[] = {"auto", "cuda", "cpu", NULL};

static const ft_option det_options[] = {
    {"confidence", "threshold", FT_OPT_DOUBLE, offsetof(det_params, confidence), "0.25", 0, 1,
     FT_OPT_HOT, NULL, NULL},
    {"imgsz", "input size", FT_OPT_INT, offsetof(det_params, imgsz), "640", 32, 2048, 0, NULL,
     NULL},
    {"half", "fp16", FT_OPT_BOOL, offsetof(det_params, half), "true", 0, 0, 0, NULL, NULL},
    {"device", "device", FT_OPT_ENUM, offsetof(det_params, device), "auto", 0, 0, 0, NULL, devices},
    {"path", "model", FT_OPT_STRING, offsetof(det_params, path), "", 0, 0, 0, NULL, NULL},
    {"zones", "dead zones", FT_OPT_POLYGONS, offsetof(det_params, zones), "[]", 0, 0, FT_OPT_HOT,
     NULL, NULL},
    FT_OPTION_END,
};

static const ft_option net_options[] = {
    {"bitrate", "bits/s", FT_OPT_BITRATE, offsetof(net_params, bitrate), "4000k", 100e3, 50e6,
     FT_OPT_HOT, NULL, NULL},
    {"timeout_ms", "timeout", FT_OPT_INT, offsetof(net_params, timeout_ms), "5000", 100, 60000, 0,
     "FTTEST_TIMEOUT", NULL},
    {"token", "secret", FT_OPT_STRING, offsetof(net_params, token), "", 0, 0, FT_OPT_SECRET, NULL,
     NULL},
    FT_OPTION_END,
};

static const ft_config_section sections[] = {
    {"det", FT_CONFIG_FILE_MODEL, det_options, offsetof(all_params, det), NULL},
    {"net", FT_CONFIG_FILE_STREAM, net_options, offsetof(all_params, net), NULL},
    {NULL, 0, NULL, 0, NULL},
};

static const ft_config_schema schema = {sections, sizeof(all_params)};

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/ft_test_config_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    unsetenv("FTTEST_TIMEOUT");
    unsetenv("FT_NET_TIMEOUT_MS");
    unsetenv("FT_DET_CONFIDENCE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Writes `text` to <tmpdir>/<name> and returns the path (static buffer per slot). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[4][512];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void set_file(ft_config_sources *src, ft_config_file which, const char *path)
{
    snprintf(src->files[which], sizeof(src->files[which]), "%s", path);
}

static void add_override(ft_config_sources *src, const char *key, const char *value)
{
    ft_config_override *o = &src->overrides[src->n_overrides++];
    snprintf(o->key, sizeof(o->key), "%s", key);
    snprintf(o->value, sizeof(o->value), "%s", value);
    snprintf(o->origin, sizeof(o->origin), "CLI --set");
}

static const all_params *vals(const ft_config *c)
{
    return ft_config_values(c);
}

static void test_defaults(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    ft_config *c = NULL;
    char err[1024];
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_near(vals(c)->det.confidence, 0.25);
    assert_int_equal(vals(c)->det.imgsz, 640);
    assert_true(vals(c)->det.half);
    assert_int_equal(vals(c)->net.bitrate, 4000000);
    assert_int_equal(vals(c)->det.zones.count, 0);
    assert_string_equal(ft_config_origin(c, "det.imgsz"), "default");
    assert_null(ft_config_origin(c, "det.nope"));
    ft_config_destroy(&c);
    assert_null(c);
    ft_config_destroy(&c); /* NULL-safe */
}

/* Each layer overrides the one below: default < file < env (named, then
 * generic FT_) < CLI, and the origin follows the value. */
static void test_precedence(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    const char *m = write_file("m.yml", "det:\n  confidence: 0.5\n  imgsz: 320\n  half: no\n"
                                        "  zones: [[[0, 0], [10, 0], [10, 10]]]\n");
    const char *s = write_file("s.yml", "# comment\nnet:\n  timeout_ms: 1000\n  bitrate: 2M\n");
    set_file(&src, FT_CONFIG_FILE_MODEL, m);
    set_file(&src, FT_CONFIG_FILE_STREAM, s);
    ft_config *c = NULL;
    char err[1024], want[600];

    /* files over defaults */
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_near(vals(c)->det.confidence, 0.5);
    assert_int_equal(vals(c)->det.imgsz, 320);
    assert_false(vals(c)->det.half);
    assert_int_equal(vals(c)->net.timeout_ms, 1000);
    assert_int_equal(vals(c)->net.bitrate, 2000000);
    assert_int_equal(vals(c)->det.zones.count, 1);
    assert_int_equal(vals(c)->det.zones.poly[0].n, 3);
    assert_near(vals(c)->det.zones.poly[0].x[1], 10.0);
    snprintf(want, sizeof(want), "%s:3", m);
    assert_string_equal(ft_config_origin(c, "det.imgsz"), want);
    snprintf(want, sizeof(want), "%s:3", s);
    assert_string_equal(ft_config_origin(c, "net.timeout_ms"), want);
    assert_string_equal(ft_config_origin(c, "det.device"), "default");
    ft_config_destroy(&c);

    /* the option's own environment variable over the file */
    setenv("FTTEST_TIMEOUT", "2000", 1);
    setenv("FT_DET_CONFIDENCE", "0.6", 1);
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(vals(c)->net.timeout_ms, 2000);
    assert_string_equal(ft_config_origin(c, "net.timeout_ms"), "env FTTEST_TIMEOUT");
    assert_near(vals(c)->det.confidence, 0.6);
    assert_string_equal(ft_config_origin(c, "det.confidence"), "env FT_DET_CONFIDENCE");
    ft_config_destroy(&c);

    /* the generic FT_<SECTION>_<KEY> form over the named one */
    setenv("FT_NET_TIMEOUT_MS", "3000", 1);
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(vals(c)->net.timeout_ms, 3000);
    assert_string_equal(ft_config_origin(c, "net.timeout_ms"), "env FT_NET_TIMEOUT_MS");
    ft_config_destroy(&c);

    /* no_env skips the environment layer */
    src.no_env = true;
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(vals(c)->net.timeout_ms, 1000);
    ft_config_destroy(&c);
    src.no_env = false;

    /* CLI over the environment */
    add_override(&src, "net.timeout_ms", "4000");
    add_override(&src, "det.confidence", "0.7");
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(vals(c)->net.timeout_ms, 4000);
    assert_near(vals(c)->det.confidence, 0.7);
    assert_string_equal(ft_config_origin(c, "net.timeout_ms"), "CLI --set");
    ft_config_destroy(&c);
    unsetenv("FTTEST_TIMEOUT");
    unsetenv("FT_NET_TIMEOUT_MS");
    unsetenv("FT_DET_CONFIDENCE");
}

/* Loads one model file and expects FT_ERR_CONFIG with every `needles` string
 * in the message (the path is prefixed to needles starting with ':'). */
static void expect_file_error(const char *yaml, const char *const *needles)
{
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    const char *p = write_file("bad.yml", yaml);
    set_file(&src, FT_CONFIG_FILE_MODEL, p);
    ft_config *c = (ft_config *)&src; /* must be reset to NULL */
    char err[1024], want[600];
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    assert_null(c);
    for (; *needles; needles++) {
        if ((*needles)[0] == ':')
            snprintf(want, sizeof(want), "%s%s", p, *needles);
        else
            snprintf(want, sizeof(want), "%s", *needles);
        if (!strstr(err, want))
            fail_msg("error message\n%s\nlacks '%s'", err, want);
    }
}

static void test_bad_inputs(void **state)
{
    (void)state;
    /* unknown key, with a suggestion */
    expect_file_error("det:\n  confidnce: 0.3\n",
                      (const char *const[]){":2: det.confidnce", "unknown key",
                                            "did you mean 'confidence'", NULL});
    /* unknown section, with a suggestion */
    expect_file_error("dett:\n  imgsz: 1\n", (const char *const[]){":1: dett", "unknown section",
                                                                   "did you mean 'det'", NULL});
    /* wrong type */
    expect_file_error("det:\n  imgsz: 640\n  confidence: high\n",
                      (const char *const[]){":3: det.confidence", "expected a number", NULL});
    expect_file_error("det:\n  imgsz: 12.5\n",
                      (const char *const[]){":2: det.imgsz", "expected an integer", NULL});
    expect_file_error("det:\n  half: maybe\n",
                      (const char *const[]){":2: det.half", "expected true or false", NULL});
    expect_file_error("det:\n  imgsz: [1, 2]\n",
                      (const char *const[]){":2: det.imgsz", "expected a single value", NULL});
    /* out of range */
    expect_file_error("det:\n\n  imgsz: 4096\n",
                      (const char *const[]){":3: det.imgsz", "out of range [32, 2048]", NULL});
    /* bad enum value */
    expect_file_error("det:\n  device: gpu\n",
                      (const char *const[]){":2: det.device", "not one of: auto, cuda, cpu",
                                            "did you mean 'cpu'", NULL});
    /* bad polygon */
    expect_file_error("det:\n  zones: [[[0, 0], [1, 1]]]\n",
                      (const char *const[]){":2: det.zones", "at least 3 points", NULL});
    /* YAML syntax error, with its line */
    expect_file_error("det:\n  imgsz: 640\n  path: [unclosed\n",
                      (const char *const[]){":4:", "YAML syntax error", NULL});
    /* wrong shape of the document */
    expect_file_error("- a\n- b\n", (const char *const[]){":1:", "expected a mapping", NULL});
    /* duplicates are refused rather than silently overwritten */
    expect_file_error(
        "det:\n  imgsz: 64\n  imgsz: 96\n",
        (const char *const[]){":3: det.imgsz", "duplicate key (first set at line 2)", NULL});
    expect_file_error(
        "det:\n  imgsz: 64\nnet: {}\ndet:\n  half: no\n",
        (const char *const[]){":4: det", "duplicate section (first at line 1)", NULL});
    /* garbage never crashes and always names the file */
    expect_file_error("\x01\x02\xff\xfe: [", (const char *const[]){":1:", NULL});
    expect_file_error("det: [[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
                      (const char *const[]){":1: det: expected a mapping of keys", NULL});
    expect_file_error("det:\n  zones: [[[0, 0], [1, 1], [[2], 2]]]\n",
                      (const char *const[]){":2: det.zones", "point 3", NULL});
    expect_file_error("det:\n  zones: &a [*a]\n", (const char *const[]){":2:", NULL});
    /* a coordinate a float cannot hold (it became inf) */
    expect_file_error(
        "det:\n  zones: [[[0, 0], [1e300, 1], [2, 2]]]\n",
        (const char *const[]){":2: det.zones", "point 2", "1e+300 is too large", NULL});
    expect_file_error("det:\n  imgsz:\n",
                      (const char *const[]){":2: det.imgsz: missing value", NULL});
    /* several problems are all reported */
    expect_file_error("det:\n  imgsz: 1\n  bogus: 2\n",
                      (const char *const[]){":2: det.imgsz", ":3: det.bogus", NULL});
}

static void test_missing_and_large_files(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    char path[512], err[1024];
    ft_config *c = NULL;
    snprintf(path, sizeof(path), "%s/absent.yml", g_dir);
    set_file(&src, FT_CONFIG_FILE_STREAM, path);
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));

    /* a file over the cap is refused without being parsed */
    snprintf(path, sizeof(path), "%s/big.yml", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("det:\n", f);
    for (unsigned i = 0; i < FT_CONFIG_MAX_FILE_BYTES / 16 + 1; i++)
        fputs("  # padding....\n", f);
    fclose(f);
    set_file(&src, FT_CONFIG_FILE_STREAM, path);
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    assert_non_null(strstr(err, "too large"));
    assert_null(c);
}

static void test_env_and_cli_errors(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    char err[1024];
    ft_config *c = NULL;
    setenv("FTTEST_TIMEOUT", "soon", 1);
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    assert_non_null(strstr(err, "env FTTEST_TIMEOUT: net.timeout_ms: expected an integer"));
    unsetenv("FTTEST_TIMEOUT");

    add_override(&src, "det.imgszz", "320");
    add_override(&src, "net.bitrate", "900M");
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    assert_non_null(strstr(err, "CLI --set: det.imgszz: unknown key (did you mean 'det.imgsz'?)"));
    assert_non_null(strstr(err, "CLI --set: net.bitrate: 9e+08 is out of range"));
}

static void test_values_and_print(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    add_override(&src, "net.bitrate", "2.5M");
    add_override(&src, "net.token", "hunter2");
    add_override(&src, "det.device", "CUDA");
    add_override(&src, "det.zones",
                 "[[[0.1, 0.1], [0.9, 0.1], [0.5, 0.5]], [[1,1],[2,1],[2,2],[1,2]]]");
    ft_config *c = NULL;
    char err[1024];
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(vals(c)->net.bitrate, 2500000);
    assert_int_equal(vals(c)->det.device, 1); /* "cuda", case-insensitive */
    assert_int_equal(vals(c)->det.zones.count, 2);
    assert_int_equal(vals(c)->det.zones.poly[1].n, 4);

    char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    ft_config_print(c, f);
    fclose(f);
    assert_non_null(strstr(buf, "bitrate: 2500k"));
    assert_non_null(strstr(buf, "device: cuda"));
    assert_null(strstr(buf, "hunter2")); /* secrets never printed */
    assert_non_null(strstr(buf, "token: \"***\""));
    assert_non_null(strstr(buf, "# CLI --set"));
    assert_non_null(strstr(buf, "imgsz: 640"));
    ft_config_destroy(&c);
}

static void test_reload(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    const char *m = write_file("r.yml", "det:\n  confidence: 0.3\n  imgsz: 320\n");
    set_file(&src, FT_CONFIG_FILE_MODEL, m);
    ft_config *old = NULL, *neu = NULL;
    char err[1024], list[256];
    assert_int_equal(ft_config_load(&schema, &src, &old, err, sizeof(err)), FT_OK);

    /* a hot key changed: a new config, the old one untouched */
    write_file("r.yml", "det:\n  confidence: 0.4\n  imgsz: 320\n  zones: [[[0,0],[5,0],[5,5]]]\n");
    assert_int_equal(ft_config_reload(old, &neu, err, sizeof(err)), FT_OK);
    assert_near(vals(neu)->det.confidence, 0.4);
    assert_int_equal(vals(neu)->det.zones.count, 1);
    assert_near(vals(old)->det.confidence, 0.3);
    assert_int_equal(ft_config_cold_changes(old, neu, list, sizeof(list)), 0);
    ft_config_destroy(&neu);

    /* a cold key changed: refused, naming the key */
    write_file("r.yml", "det:\n  confidence: 0.4\n  imgsz: 640\n  device: cpu\n");
    assert_int_equal(ft_config_reload(old, &neu, err, sizeof(err)), FT_ERR_CONFIG);
    assert_null(neu);
    assert_non_null(strstr(err, "det.imgsz"));
    assert_non_null(strstr(err, "det.device"));
    assert_non_null(strstr(err, "not hot-reloadable"));

    /* a broken file: refused, the old config still in force */
    write_file("r.yml", "det:\n  confidence: 7\n");
    assert_int_equal(ft_config_reload(old, &neu, err, sizeof(err)), FT_ERR_CONFIG);
    assert_null(neu);
    assert_non_null(strstr(err, ":2: det.confidence: 7 is out of range"));
    assert_near(vals(old)->det.confidence, 0.3);
    assert_int_equal(vals(old)->det.imgsz, 320);
    ft_config_destroy(&old);
}

static void test_set(void **state)
{
    (void)state;
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    ft_config *c = NULL, *d = NULL;
    char err[1024];
    assert_int_equal(ft_config_load(&schema, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(
        ft_config_set(c, "det.confidence", "0.45", "PATCH /config", true, &d, err, sizeof(err)),
        FT_OK);
    assert_near(vals(d)->det.confidence, 0.45);
    assert_string_equal(ft_config_origin(d, "det.confidence"), "PATCH /config");
    assert_near(vals(c)->det.confidence, 0.25);
    ft_config_destroy(&d);
    assert_int_equal(
        ft_config_set(c, "det.imgsz", "320", "PATCH /config", true, &d, err, sizeof(err)),
        FT_ERR_CONFIG);
    assert_non_null(strstr(err, "det.imgsz: not hot-reloadable"));
    assert_int_equal(
        ft_config_set(c, "det.confidence", "x", "PATCH /config", true, &d, err, sizeof(err)),
        FT_ERR_CONFIG);
    assert_non_null(strstr(err, "PATCH /config: det.confidence: expected a number"));
    assert_null(d);
    ft_config_destroy(&c);
}

/* imgsz must be a multiple of 32: a rule no single range can express. */
static ft_status check_det(const void *params, char *err, size_t cap)
{
    const det_params *d = params;
    if (d->imgsz % 32) {
        snprintf(err, cap, "det.imgsz %d is not a multiple of 32", d->imgsz);
        return FT_ERR_CONFIG;
    }
    return FT_OK;
}

static void test_cross_field_validation(void **state)
{
    (void)state;
    static const ft_config_section checked[] = {
        {"det", FT_CONFIG_FILE_MODEL, det_options, offsetof(all_params, det), check_det},
        {NULL, 0, NULL, 0, NULL},
    };
    static const ft_config_schema s2 = {checked, sizeof(all_params)};
    static ft_config_sources src;
    memset(&src, 0, sizeof(src));
    ft_config *c = NULL, *d = NULL;
    char err[1024];
    assert_int_equal(ft_config_load(&s2, &src, &c, err, sizeof(err)), FT_OK);
    assert_int_equal(ft_config_set(c, "det.imgsz", "100", "PATCH", false, &d, err, sizeof(err)),
                     FT_ERR_CONFIG);
    assert_null(d);
    assert_non_null(strstr(err, "PATCH: section det: det.imgsz 100 is not a multiple of 32"));
    ft_config_destroy(&c);
    add_override(&src, "det.imgsz", "336");
    assert_int_equal(ft_config_load(&s2, &src, &c, err, sizeof(err)), FT_ERR_CONFIG);
    /* the message says where the offending value came from */
    assert_non_null(strstr(err, "CLI --set: section det: det.imgsz 336 is not a multiple of 32"));
}

static void test_reference(void **state)
{
    (void)state;
    char buf[8192];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    ft_config_reference(&schema, f);
    fclose(f);
    assert_non_null(strstr(buf, "| `det.confidence` | float | `0.25` | 0 – 1 | yes |"));
    assert_non_null(strstr(buf, "`FTTEST_TIMEOUT`, `FT_NET_TIMEOUT_MS`"));
    assert_non_null(strstr(buf, "| `det.device` | enum | `auto` | auto, cuda, cpu | no |"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_large_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_and_cli_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cross_field_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
