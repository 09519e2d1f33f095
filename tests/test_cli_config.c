/* `football-tracker config`: origins of every layer through the real binary,
 * bad input exits 1 naming file:line:key, and the README reference is current. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char g_dir[256];

/* Runs `cmd` through the shell with stderr merged into stdout; returns the
 * exit code and the output in a static buffer. */
static int run(const char *cmd, char **output)
{
    static char buf[1 << 17];
    char full[4096];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    *output = buf;
    return WEXITSTATUS(st);
}

static const char *bin(void)
{
    const char *b = getenv("FT_BIN");
    if (!b)
        fail_msg("FT_BIN is not set (run through ctest)");
    return b;
}

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

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/ft_test_cli_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
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

/* The line of `config --print` output for `key` (a "  key: value  # origin" line
 * under `section:`), copied into a static buffer. */
static const char *print_line(const char *out, const char *section, const char *key)
{
    static char line[1024];
    char head[128], want[128];
    snprintf(head, sizeof(head), "\n%s:\n", section);
    const char *s = strstr(out, head);
    if (!s)
        fail_msg("no section %s in\n%s", section, out);
    snprintf(want, sizeof(want), "\n  %s: ", key);
    const char *k = strstr(s, want);
    if (!k)
        fail_msg("no key %s.%s in\n%s", section, key, out);
    k++;
    size_t n = strcspn(k, "\n");
    snprintf(line, sizeof(line), "%.*s", (int)n, k);
    return line;
}

static void expect_line(const char *out, const char *section, const char *key, const char *value,
                        const char *origin)
{
    const char *l = print_line(out, section, key);
    char v[256];
    snprintf(v, sizeof(v), "%s: %s ", key, value);
    if (!strstr(l, v) || !strstr(l, origin) || strcmp(strstr(l, "# ") + 2, origin))
        fail_msg("line '%s' does not show value '%s' from '%s'", l, value, origin);
}

static void test_print_origins(void **state)
{
    (void)state;
    const char *m = write_file("model.yml", "model:\n  confidence: 0.3\n  imgsz: 448\n"
                                            "output:\n  width: 960\n");
    const char *s = write_file("stream.yml", "stream:\n  timeout_ms: 1000\n  bitrate: 2M\n"
                                             "logging:\n  level: warn\n");
    char cmd[2048], want[600];
    char *out;
    /* file < env < CLI, each visible with its origin */
    snprintf(cmd, sizeof(cmd),
             "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG -u LOG_LEVEL -u LOG_FILE "
             "RTMP_TIMEOUT=7000 FT_MODEL_IMGSZ=512 FT_OUTPUT_HEIGHT=540 "
             "'%s' config --print --model-config '%s' --stream-config '%s' --confidence 0.45 "
             "--set output.height=600 --device=cpu --debug",
             bin(), m, s);
    assert_int_equal(run(cmd, &out), 0);
    expect_line(out, "model", "confidence", "0.45", "CLI --confidence"); /* CLI over file */
    snprintf(want, sizeof(want), "%s:3", m);
    expect_line(out, "model", "imgsz", "512", "env FT_MODEL_IMGSZ"); /* env over file */
    expect_line(out, "output", "height", "600", "CLI --set");        /* CLI over env */
    snprintf(want, sizeof(want), "%s:5", m);
    expect_line(out, "output", "width", "960", want); /* file over default */
    expect_line(out, "stream", "timeout_ms", "7000", "env RTMP_TIMEOUT");
    snprintf(want, sizeof(want), "%s:3", s);
    expect_line(out, "stream", "bitrate", "2M", want);
    snprintf(want, sizeof(want), "%s:5", s);
    expect_line(out, "logging", "level", "warn", want);
    expect_line(out, "model", "device", "cpu", "CLI --device");
    expect_line(out, "stream", "debug_mode", "true", "CLI --debug");
    expect_line(out, "model", "iou_threshold", "0.5", "default");
    expect_line(out, "stream", "buffer_size", "4096000", "default");

    /* the same as JSON */
    snprintf(cmd, sizeof(cmd),
             "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG RTMP_TIMEOUT=7000 '%s' config --print "
             "--json --model-config '%s' --confidence 0.45 --set http.token_file=/run/tok",
             bin(), m);
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(
        out, "\"confidence\":{\"value\":0.45,\"origin\":\"CLI --confidence\",\"hot\":true}"));
    assert_non_null(strstr(
        out, "\"timeout_ms\":{\"value\":7000,\"origin\":\"env RTMP_TIMEOUT\",\"hot\":false}"));
    snprintf(want, sizeof(want), "\"imgsz\":{\"value\":448,\"origin\":\"%s:3\"", m);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"token_file\":{\"value\":\"***\""));
    assert_null(strstr(out, "/run/tok"));
}

static void expect_error(const char *args, const char *yaml, const char *needle)
{
    char cmd[2048], want[700];
    char *out;
    const char *p = write_file("bad.yml", yaml);
    snprintf(cmd, sizeof(cmd),
             "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG '%s' config --print %s '%s'", bin(), args,
             p);
    assert_int_equal(run(cmd, &out), 1);
    snprintf(want, sizeof(want), "%s%s", p, needle);
    if (!strstr(out, want))
        fail_msg("output\n%s\nlacks '%s'", out, want);
}

/* Every environment variable of the deployment guide that names a setting is
 * read, at the guide's example values, under the guide's spelling. */
static void test_spec_env_names(void **state)
{
    (void)state;
    char cmd[2048], logfile[400], want[420];
    char *out;
    snprintf(logfile, sizeof(logfile), "%s/app.log", g_dir);
    snprintf(cmd, sizeof(cmd),
             "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG LOG_LEVEL=INFO LOG_FILE='%s' "
             "RTMP_TIMEOUT=5000 RTMP_BUFFER_SIZE=4096000 RTMP_RECONNECT_ATTEMPTS=10 "
             "RTMP_RECONNECT_DELAY=2 '%s' config --print",
             logfile, bin());
    assert_int_equal(run(cmd, &out), 0);
    expect_line(out, "logging", "level", "info", "env LOG_LEVEL");
    snprintf(want, sizeof(want), "\"%s\"", logfile);
    expect_line(out, "logging", "file", want, "env LOG_FILE");
    expect_line(out, "stream", "timeout_ms", "5000", "env RTMP_TIMEOUT");
    expect_line(out, "stream", "buffer_size", "4096000", "env RTMP_BUFFER_SIZE");
    expect_line(out, "stream", "reconnect_attempts", "10", "env RTMP_RECONNECT_ATTEMPTS");
    expect_line(out, "stream", "reconnect_delay", "2.0", "env RTMP_RECONNECT_DELAY");
    /* Python's level names, which the guide's LOG_LEVEL comes from. */
    snprintf(cmd, sizeof(cmd),
             "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG -u FT_LOGGING_LEVEL LOG_LEVEL=WARNING "
             "'%s' config --print",
             bin());
    assert_int_equal(run(cmd, &out), 0);
    expect_line(out, "logging", "level", "warn", "env LOG_LEVEL");
    snprintf(cmd, sizeof(cmd), "'%s' config --print --set logging.level=critical", bin());
    assert_int_equal(run(cmd, &out), 0);
    expect_line(out, "logging", "level", "error", "CLI --set");
}

static void test_bad_input_exit_1(void **state)
{
    (void)state;
    expect_error("--model-config", "model:\n  confidance: 0.3\n",
                 ":2: model.confidance: unknown key (did you mean 'confidence'?)");
    expect_error("--model-config", "model:\n  imgsz: big\n",
                 ":2: model.imgsz: expected an integer");
    expect_error("--stream-config", "stream:\n  target_fps: 1000\n",
                 ":2: stream.target_fps: 1000 is out of range");
    expect_error("--stream-config", "encoder:\n  codec: h265\n",
                 ":2: encoder.codec: 'h265' is not one of: auto, x264, nvenc");
    expect_error("--stream-config", "stream:\n  bitrate: [1\n", ":3:");
    expect_error("--stream-config", "stream:\n  bitrate: fast\n",
                 ":2: stream.bitrate: expected a bitrate");

    char cmd[1024];
    char *out;
    snprintf(cmd, sizeof(cmd), "'%s' config --print --model-config '%s/missing.yml'", bin(), g_dir);
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "missing.yml: cannot open configuration file"));
    snprintf(cmd, sizeof(cmd), "RTMP_BUFFER_SIZE=lots '%s' config --print", bin());
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "env RTMP_BUFFER_SIZE: stream.buffer_size: expected an integer"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --set model.confidence=rtmp://h/live/KEY42",
             bin());
    assert_int_equal(run(cmd, &out), 1); /* a secret pasted in the wrong place stays masked */
    assert_non_null(strstr(out, "expected a number, got 'rtmp://h/live/***'"));
    assert_null(strstr(out, "KEY42"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --device tpu", bin());
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "CLI --device: model.device: 'tpu' is not one of"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --confidence", bin());
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "--confidence needs a value"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --set model.confidence", bin());
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "--set: expected section.key=value"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --frobnicate", bin());
    assert_int_equal(run(cmd, &out), 1);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    snprintf(cmd, sizeof(cmd), "'%s' config --print --set output.width=1281", bin());
    assert_int_equal(run(cmd, &out), 1); /* cross-field rule, with the value's origin */
    assert_non_null(
        strstr(out, "CLI --set: section output: output.width and output.height must be even"));
}

/* The shipped configs load cleanly and hold every key at its default. */
static void test_shipped_configs(void **state)
{
    (void)state;
    const char *src = getenv("FT_SOURCE_DIR");
    assert_non_null(src);
    char cmd[2048];
    char *out;
    snprintf(
        cmd, sizeof(cmd),
        "env -u FT_MODEL_CONFIG -u FT_STREAM_CONFIG -u LOG_LEVEL -u LOG_FILE -u RTMP_TIMEOUT "
        "-u RTMP_BUFFER_SIZE -u RTMP_RECONNECT_ATTEMPTS -u RTMP_RECONNECT_DELAY -u FT_HTTP_PORT "
        "'%s' config --print "
        "--model-config '%s/configs/model_config.yml' "
        "--stream-config '%s/configs/stream_config.yml'",
        bin(), src, src);
    assert_int_equal(run(cmd, &out), 0);
    /* every key is written in the shipped file: no value comes from "default" */
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
        if (strstr(l, "# default"))
            fail_msg("key not documented in the shipped configs: %s", l);
}

/* README's configuration reference is the output of `config --reference`. */
static void test_readme_reference(void **state)
{
    (void)state;
    const char *src = getenv("FT_SOURCE_DIR");
    assert_non_null(src);
    char path[1024], cmd[1024];
    char *out;
    snprintf(path, sizeof(path), "%s/README.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char readme[1 << 18];
    size_t n = fread(readme, 1, sizeof(readme) - 1, f);
    readme[n] = '\0';
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s' config --reference", bin());
    assert_int_equal(run(cmd, &out), 0);
    int rows = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        if (strncmp(l, "| `", 3))
            continue;
        rows++;
        if (!strstr(readme, l))
            fail_msg("README.md lacks this reference row (regenerate with "
                     "`football-tracker config --reference`):\n%s",
                     l);
    }
    assert_true(rows > 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_print_origins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_env_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_exit_1, setup, teardown),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_readme_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
