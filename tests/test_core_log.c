/* Logging: secrets masked, control characters escaped, JSON and text records,
 * CloudWatch embedded metric format records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "ft_test_json.h"

static void expect_sanitized(const char *in, const char *want)
{
    char out[512];
    size_t n = ft_log_sanitize(in, out, sizeof(out));
    if (strcmp(out, want))
        fail_msg("sanitize(\"%s\")\n  got  \"%s\"\n  want \"%s\"", in, out, want);
    assert_int_equal(n, strlen(want));
}

static void test_mask_urls(void **state)
{
    (void)state;
    /* RTMP stream keys: the last path element */
    expect_sanitized("pushing to rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl now",
                     "pushing to rtmp://a.rtmp.youtube.com/live2/*** now");
    expect_sanitized("rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&token=zz",
                     "rtmps://live-api-s.facebook.com:443/rtmp/***?s_bl=1&token=***");
    expect_sanitized("'rtmp://host/app/key123'", "'rtmp://host/app/***'");
    /* user:password in any URL */
    expect_sanitized("open srt://bob:s3cret@10.0.0.1:9000 failed",
                     "open srt://***@10.0.0.1:9000 failed");
    expect_sanitized("rtmp://user:pw@host/app/streamkey", "rtmp://***@host/app/***");
    expect_sanitized("http://x.com/a/b.mp4", "http://x.com/a/b.mp4"); /* nothing secret */
    expect_sanitized("rtmp://host", "rtmp://host");
    expect_sanitized("rtmp://h:1/live/key: cannot open input: Connection refused",
                     "rtmp://h:1/live/***: cannot open input: Connection refused");
}

static void test_mask_query_values(void **state)
{
    (void)state;
    expect_sanitized("https://h/p?a=1&token=abc&b=2", "https://h/p?a=1&token=***&b=2");
    expect_sanitized("srt://h:1?streamid=x&passphrase=y&key=K",
                     "srt://h:1?streamid=x&passphrase=y&key=***");
    expect_sanitized("PASSWORD=hunter2 user=bob", "PASSWORD=*** user=bob");
    expect_sanitized("secret=a,b", "secret=***,b");
    expect_sanitized("stream_key=abc", "stream_key=***");
    expect_sanitized("monkey=banana", "monkey=banana"); /* "key=" inside a word is not a marker */
    expect_sanitized("token=", "token=");
}

static void test_escape_and_truncate(void **state)
{
    (void)state;
    expect_sanitized("a\nb\tc\rd\x1b[31me\x7f", "a\\nb\\tc\\rd\\x1b[31me\\x7f");
    /* valid UTF-8 passes, invalid bytes are escaped */
    expect_sanitized("caf\xc3\xa9 \xe2\x9a\xbd", "caf\xc3\xa9 \xe2\x9a\xbd");
    expect_sanitized("a\xff\xc3(b\xed\xa0\x80", "a\\xff\\xc3(b\\xed\\xa0\\x80");
    expect_sanitized("rtmp://h/app/k\xc3\xa9y", "rtmp://h/app/***");
    char out[8];
    size_t n = ft_log_sanitize("0123456789", out, sizeof(out));
    assert_int_equal(n, 7);
    assert_string_equal(out, "0123456");
    n = ft_log_sanitize("abcde\x01", out, sizeof(out)); /* no half escape sequence */
    assert_string_equal(out, "abcde");
    assert_int_equal(n, 5);
    assert_int_equal(ft_log_sanitize(NULL, out, sizeof(out)), 0);
    n = ft_log_sanitize("abcdef\xe2\x9a\xbd", out, sizeof(out)); /* no half UTF-8 sequence */
    assert_string_equal(out, "abcdef");
    assert_int_equal(n, 6);
}

static char g_path[256];

static char *read_log(void)
{
    static char buf[16384];
    FILE *f = fopen(g_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_json_records(void **state)
{
    (void)state;
    snprintf(g_path, sizeof(g_path), "/tmp/ft_test_log_%d.log", (int)getpid());
    unlink(g_path);
    ft_log_params p = {.level = FT_LOG_INFO, .format = FT_LOG_FORMAT_JSON};
    snprintf(p.file, sizeof(p.file), "%s", g_path);
    assert_int_equal(ft_log_configure(&p), FT_OK);
    ft_log_set_stream_id("cam\"1");
    FT_LOGD("io", "hidden debug");
    FT_LOGI("io", "connect rtmp://h/live/SECRETKEY \"q\"\n");
    ft_log_field fields[] = {{"url", "rtmp://u:p@h/app/K2"}, {"fps", "29.97"}};
    ft_log_fields(FT_LOG_WARN, "track", fields, 2, "lost %d", 3);
    ft_log_set_stream_id(NULL);
    char *log = read_log();
    assert_null(strstr(log, "hidden debug"));
    assert_null(strstr(log, "SECRETKEY"));
    assert_null(strstr(log, "K2"));
    assert_null(strstr(log, "u:p"));
    assert_non_null(strstr(log, "\"level\":\"info\",\"module\":\"io\",\"stream\":\"cam\\\"1\","
                                "\"msg\":\"connect rtmp://h/live/*** \\\"q\\\"\\\\n\"}\n"));
    assert_non_null(strstr(log, "\"level\":\"warn\",\"module\":\"track\""));
    assert_non_null(strstr(log, "\"msg\":\"lost 3\",\"fields\":{\"url\":\"rtmp://***@h/app/***\","
                                "\"fps\":\"29.97\"}}\n"));
    /* ISO-8601 UTC timestamp with milliseconds */
    assert_int_equal(strncmp(log, "{\"ts\":\"", 7), 0);
    assert_int_equal(log[7 + 10], 'T');
    assert_int_equal(log[7 + 23], 'Z');
    /* one record per line */
    int lines = 0;
    for (char *c = log; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 2);
    unlink(g_path);
}

static void test_text_records_and_levels(void **state)
{
    (void)state;
    snprintf(g_path, sizeof(g_path), "/tmp/ft_test_log_%d.txt", (int)getpid());
    unlink(g_path);
    ft_log_params p = {.level = FT_LOG_WARN, .format = FT_LOG_FORMAT_TEXT};
    snprintf(p.file, sizeof(p.file), "%s", g_path);
    assert_int_equal(ft_log_configure(&p), FT_OK);
    assert_int_equal(ft_log_get_level(), FT_LOG_WARN);
    FT_LOGI("cli", "not shown");
    FT_LOGE("cli", "failed: password=abc");
    ft_log_field f = {"token", "t0k"};
    ft_log_fields(FT_LOG_WARN, "svc", &f, 1, "x");
    char *log = read_log();
    assert_null(strstr(log, "not shown"));
    assert_non_null(strstr(log, "error [cli] failed: password=***\n"));
    assert_non_null(strstr(log, "warn  [svc] x token=***\n")); /* secret by its name */
    assert_null(strstr(log, "t0k"));

    /* a log file that cannot be opened is a configuration error */
    snprintf(p.file, sizeof(p.file), "/nonexistent-dir/x.log");
    assert_int_equal(ft_log_configure(&p), FT_ERR_CONFIG);
    p.file[0] = '\0';
    p.level = FT_LOG_INFO;
    assert_int_equal(ft_log_configure(&p), FT_OK);
    unlink(g_path);
}

/* EMF records are JSON lines even among text records, carry the stream
 * dimension and the empty dimension set, and leave unknown values out. */
static void test_emf_records(void **state)
{
    (void)state;
    snprintf(g_path, sizeof(g_path), "/tmp/ft_test_log_%d.emf", (int)getpid());
    unlink(g_path);
    ft_log_params p = {.level = FT_LOG_ERROR, .format = FT_LOG_FORMAT_TEXT};
    snprintf(p.file, sizeof(p.file), "%s", g_path);
    assert_int_equal(ft_log_configure(&p), FT_OK);
    assert_false(ft_log_json_lines());
    const ft_log_metric m[] = {
        {"FPS", "Count/Second", 24.5}, {"GPUUtil", "Percent", NAN}, {"LostFrames", "Percent", 0}};
    ft_log_set_stream_id("cam\"1");
    ft_log_emf("FootballTracker", m, 3);
    ft_log_set_stream_id(NULL);
    ft_log_emf("FootballTracker", m, 1);
    char *log = read_log();
    char *second = strchr(log, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_true(ft_test_json_valid(log));
    assert_true(ft_test_json_valid(second));
    const char *ts = "{\"_aws\":{\"Timestamp\":";
    assert_int_equal(strncmp(log, ts, strlen(ts)), 0);
    assert_true(strtod(log + strlen(ts), NULL) > 1.7e12); /* milliseconds since the epoch */
    assert_non_null(strstr(log, "\"CloudWatchMetrics\":[{\"Namespace\":\"FootballTracker\","
                                "\"Dimensions\":[[\"Stream\"],[]],\"Metrics\":["
                                "{\"Name\":\"FPS\",\"Unit\":\"Count/Second\"},"
                                "{\"Name\":\"LostFrames\",\"Unit\":\"Percent\"}]}]},"
                                "\"Stream\":\"cam\\\"1\",\"FPS\":24.5,\"LostFrames\":0}"));
    assert_null(strstr(log, "GPUUtil"));
    /* without a stream id: only the empty dimension set */
    assert_non_null(strstr(second, "\"Dimensions\":[[]],\"Metrics\":[{\"Name\":\"FPS\","));
    assert_non_null(strstr(second, "]}]},\"FPS\":24.5}\n"));
    assert_null(strstr(second, "Stream"));
    p.file[0] = '\0';
    p.level = FT_LOG_INFO;
    p.format = FT_LOG_FORMAT_AUTO;
    assert_int_equal(ft_log_configure(&p), FT_OK);
    unlink(g_path);
}

static void test_json_checker(void **state)
{
    (void)state;
    assert_true(ft_test_json_valid("{\"a\":[1,-2.5e3,true,null,\"x\\\"\\u00e9\"],\"b\":{}}\n"));
    assert_false(ft_test_json_valid("{\"a\":1,}"));
    assert_false(ft_test_json_valid("{\"a\":01}"));
    assert_false(ft_test_json_valid("{\"a\":nan}"));
    assert_false(ft_test_json_valid("{\"a\":1} x"));
    assert_false(ft_test_json_valid("[\"a\nb\"]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_urls),
        cmocka_unit_test(test_mask_query_values),
        cmocka_unit_test(test_escape_and_truncate),
        cmocka_unit_test(test_json_records),
        cmocka_unit_test(test_text_records_and_levels),
        cmocka_unit_test(test_emf_records),
        cmocka_unit_test(test_json_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
