/* service: metrics registry and Prometheus text, constant-time token
 * comparison, and the HTTP server driven by curl over loopback against fake
 * handlers (status codes, bearer token, body limits, PATCH parsing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ft_test_service.h"
#include "service/http.h"
#include "service/metrics.h"
#include "service/webhook.h"

/* ---- metrics ---- */

static void test_metrics_text(void **state)
{
    (void)state;
    ft_metrics *m = NULL;
    ft_metric *c, *g, *h1, *h2;
    assert_int_equal(ft_service_metrics_create(&m), FT_OK);
    static const double b[] = {0.01, 0.1, 1};
    assert_int_equal(
        ft_service_metrics_add(m, "ft_x_total", NULL, "X things.", FT_METRIC_COUNTER, NULL, 0, &c),
        FT_OK);
    assert_int_equal(
        ft_service_metrics_add(m, "ft_g", "k=\"a\"", "G.", FT_METRIC_GAUGE, NULL, 0, &g), FT_OK);
    assert_int_equal(ft_service_metrics_add(m, "ft_h_seconds", "stage=\"a\"", "H.",
                                            FT_METRIC_HISTOGRAM, b, 3, &h1),
                     FT_OK);
    assert_int_equal(ft_service_metrics_add(m, "ft_h_seconds", "stage=\"b\"", "H.",
                                            FT_METRIC_HISTOGRAM, b, 3, &h2),
                     FT_OK);
    ft_service_metric_add(c, 2);
    ft_service_metric_add(c, -5); /* counters never go down */
    ft_service_metric_set(g, 1.5);
    ft_service_metric_observe(h1, 0.005);
    ft_service_metric_observe(h1, 0.05);
    ft_service_metric_observe(h1, 5);
    char buf[4096];
    size_t len = 0;
    assert_int_equal(ft_service_metrics_render(m, buf, sizeof buf, &len), FT_OK);
    assert_int_equal(len, strlen(buf));
    assert_non_null(strstr(buf, "# TYPE ft_x_total counter\nft_x_total 2\n"));
    assert_non_null(strstr(buf, "ft_g{k=\"a\"} 1.5\n"));
    assert_non_null(strstr(buf, "ft_h_seconds_bucket{stage=\"a\",le=\"0.01\"} 1\n"));
    assert_non_null(strstr(buf, "ft_h_seconds_bucket{stage=\"a\",le=\"0.10000000000000001\"} 2\n"));
    assert_non_null(strstr(buf, "ft_h_seconds_bucket{stage=\"a\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(buf, "ft_h_seconds_count{stage=\"a\"} 3\n"));
    assert_non_null(strstr(buf, "ft_h_seconds_count{stage=\"b\"} 0\n"));
    /* One HELP/TYPE per family, even with two series. */
    const char *first = strstr(buf, "# TYPE ft_h_seconds");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE ft_h_seconds"));
    /* Quantiles interpolate inside the bucket. */
    double q = ft_service_metric_quantile(h1, 0.5);
    assert_true(q > 0.01 && q <= 0.1);
    assert_true(ft_service_metric_quantile(h2, 0.5) == 0);
    /* A buffer too small is an error, not a truncated scrape. */
    assert_int_equal(ft_service_metrics_render(m, buf, 64, &len), FT_ERR_NOMEM);
    assert_int_equal(len, 0);
    ft_metric *bad;
    assert_int_equal(ft_service_metrics_add(m, "9bad", NULL, "x", FT_METRIC_GAUGE, NULL, 0, &bad),
                     FT_ERR_INVALID);
    static const double unsorted[] = {1, 0.5};
    assert_int_equal(
        ft_service_metrics_add(m, "ft_u", NULL, "x", FT_METRIC_HISTOGRAM, unsorted, 2, &bad),
        FT_ERR_INVALID);
    ft_service_metrics_destroy(&m);
    assert_null(m);
    ft_service_metrics_destroy(&m);
}

static void test_metrics_capacity(void **state)
{
    (void)state;
    ft_metrics *m = NULL;
    ft_metric *x;
    assert_int_equal(ft_service_metrics_create(&m), FT_OK);
    for (int i = 0; i < FT_METRICS_MAX; i++)
        assert_int_equal(
            ft_service_metrics_add(m, "ft_many", NULL, "m", FT_METRIC_GAUGE, NULL, 0, &x), FT_OK);
    assert_int_equal(ft_service_metrics_add(m, "ft_many", NULL, "m", FT_METRIC_GAUGE, NULL, 0, &x),
                     FT_ERR_NOMEM);
    ft_service_metrics_destroy(&m);
}

static void test_token_equal(void **state)
{
    (void)state;
    assert_true(ft_service_http_token_equal("s3cret", "s3cret"));
    assert_false(ft_service_http_token_equal("s3cret", "s3creT"));
    assert_false(ft_service_http_token_equal("s3cret", "s3cre"));
    assert_false(ft_service_http_token_equal("s3cret", "s3crets3cret"));
    assert_false(ft_service_http_token_equal("s3cret", ""));
    assert_false(ft_service_http_token_equal("", "")); /* no token: nothing matches */
}

/* ---- HTTP server with fake handlers ---- */

typedef struct fake {
    bool ready;
    int patches;
    char last_key[64], last_value[256];
} fake;

static bool f_ready(void *u)
{
    return ((fake *)u)->ready;
}

static ft_status f_text(void *u, char *buf, size_t cap, size_t *len)
{
    (void)u;
    *len = (size_t)snprintf(buf, cap, "# HELP ft_a A.\n# TYPE ft_a gauge\nft_a 1\n");
    return FT_OK;
}

static ft_status f_config(void *u, char *buf, size_t cap, size_t *len)
{
    fake *f = u;
    *len = (size_t)snprintf(buf, cap, "{\"patches\":%d}\n", f->patches);
    return FT_OK;
}

static ft_status f_patch(void *u, const char *const *k, const char *const *v, int n, char *err,
                         size_t cap)
{
    fake *f = u;
    for (int i = 0; i < n; i++)
        if (!strcmp(k[i], "model.confidence") && strtod(v[i], NULL) > 1) {
            snprintf(err, cap, "model.confidence: %s is above 1", v[i]);
            return FT_ERR_CONFIG;
        }
    f->patches++;
    snprintf(f->last_key, sizeof f->last_key, "%s", k[n - 1]);
    snprintf(f->last_value, sizeof f->last_value, "%s", v[n - 1]);
    return FT_OK;
}

static fake g_fake;
static ft_service_http *g_srv;

static int setup_server(void **state)
{
    (void)state;
    if (system("curl --version >/dev/null 2>&1") != 0)
        return 0;
    ft_service_http_handlers h = {&g_fake, f_ready, f_text, f_text, f_config, f_patch, NULL};
    ft_service_http_params p = {"127.0.0.1", 0};
    if (ft_service_http_create(&p, &h, &g_srv))
        return -1;
    return ft_service_http_set_token(g_srv, "tok-123") ? -1 : 0;
}

static int teardown_server(void **state)
{
    (void)state;
    ft_service_http_destroy(&g_srv);
    return 0;
}

#define URL(path) "http://127.0.0.1:%d" path

static void test_http_endpoints(void **state)
{
    (void)state;
    if (!g_srv)
        skip();
    int port = ft_service_http_port(g_srv);
    assert_true(port > 0);
    char args[512], out[8192];
    snprintf(args, sizeof args, URL("/health"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    assert_string_equal(out, "ok\n");
    g_fake.ready = false;
    snprintf(args, sizeof args, URL("/ready"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 503);
    g_fake.ready = true;
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    snprintf(args, sizeof args, URL("/metrics"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    assert_non_null(strstr(out, "ft_a 1"));
    snprintf(args, sizeof args, URL("/status"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    assert_non_null(strstr(out, "<canvas id=\"c_fps\""));
    assert_non_null(strstr(out, "preview.mjpg"));
    assert_null(strstr(out, "http://")); /* no external resources */
    snprintf(args, sizeof args, URL("/nope"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 404);
    snprintf(args, sizeof args, "-X DELETE " URL("/health"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 405);
    /* No preview handler: the stream answers 404 instead of hanging. */
    snprintf(args, sizeof args, URL("/preview.mjpg"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 404);
}

static void test_http_config(void **state)
{
    (void)state;
    if (!g_srv)
        skip();
    int port = ft_service_http_port(g_srv);
    char args[1024], out[8192];
    g_fake.patches = 0;
    snprintf(args, sizeof args, URL("/config"), port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200); /* reading needs no token */
    const char *body = "-X PATCH -d '{\"model.confidence\": 0.4}' ";
    snprintf(args, sizeof args, "%s" URL("/config"), body, port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 401);
    snprintf(args, sizeof args, "%s -H 'Authorization: Bearer tok-12' " URL("/config"), body, port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 401);
    snprintf(args, sizeof args, "%s -H 'Authorization: Bearer tok-1234' " URL("/config"), body,
             port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 401);
    assert_int_equal(g_fake.patches, 0);
    snprintf(args, sizeof args, "%s -H 'Authorization: Bearer tok-123' " URL("/config"), body,
             port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    assert_int_equal(g_fake.patches, 1);
    assert_string_equal(g_fake.last_key, "model.confidence");
    assert_string_equal(g_fake.last_value, "0.4");
    /* Strings, arrays (polygons) and several keys. */
    snprintf(args, sizeof args,
             "-X PATCH -H 'Authorization: Bearer tok-123' -d '{\"stream.show_stats\":\"true\", "
             "\"detector.dead_zones\": [[[0,0],[10,0],[10,10]]]}' " URL("/config"),
             port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 200);
    assert_string_equal(g_fake.last_key, "detector.dead_zones");
    assert_string_equal(g_fake.last_value, "[[[0,0],[10,0],[10,10]]]");
    /* A value the owner refuses: 400 with the reason. */
    snprintf(args, sizeof args,
             "-X PATCH -H 'Authorization: Bearer tok-123' -d '{\"model.confidence\": 7}' " URL(
                 "/config"),
             port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 400);
    assert_non_null(strstr(out, "above 1"));
    /* Bad JSON. */
    snprintf(
        args, sizeof args,
        "-X PATCH -H 'Authorization: Bearer tok-123' -d '{\"model.confidence\" 7' " URL("/config"),
        port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 400);
    /* Too large a body: 413, nothing applied. */
    int before = g_fake.patches;
    char cmd[1200];
    snprintf(
        cmd, sizeof cmd,
        "head -c 40000 /dev/zero | tr '\\0' ' ' | curl -s -m 5 -o /dev/null -w '%%{http_code}' "
        "-X PATCH -H 'Authorization: Bearer tok-123' --data-binary @- " URL("/config"),
        port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    assert_string_equal(out, "413");
    assert_int_equal(g_fake.patches, before);
    /* Without a token configured the configuration is read-only. */
    assert_int_equal(ft_service_http_set_token(g_srv, NULL), FT_OK);
    snprintf(args, sizeof args, "%s -H 'Authorization: Bearer tok-123' " URL("/config"), body,
             port);
    assert_int_equal(ft_test_http(args, out, sizeof out), 403);
    assert_int_equal(ft_service_http_set_token(g_srv, "tok-123"), FT_OK);
}

static void test_http_bad_bind(void **state)
{
    (void)state;
    ft_service_http_handlers h = {0};
    ft_service_http *s = NULL;
    ft_service_http_params p = {"not-an-address", 0};
    assert_int_equal(ft_service_http_create(&p, &h, &s), FT_ERR_CONFIG);
    assert_null(s);
}

static void test_webhook_urls(void **state)
{
    (void)state;
    assert_true(ft_service_webhook_url_ok("http://alerts.local:9093/api/v2/alerts"));
    assert_true(ft_service_webhook_url_ok("http://10.0.0.5"));
    assert_false(ft_service_webhook_url_ok("https://alerts.local/")); /* no TLS client */
    assert_false(ft_service_webhook_url_ok("http://user:pw@host/"));  /* no credentials */
    assert_false(ft_service_webhook_url_ok("http://host:80x/"));
    assert_false(ft_service_webhook_url_ok("http://host/a b")); /* header injection */
    assert_false(ft_service_webhook_url_ok("http://host/a\r\nX: y"));
    assert_false(ft_service_webhook_url_ok("http:///path"));
    /* Port 1 on loopback refuses: FT_ERR_IO, quickly. */
    assert_int_equal(ft_service_webhook_post("http://127.0.0.1:1/x", "{}", 500), FT_ERR_IO);
    assert_int_equal(ft_service_webhook_post("ftp://x/", "{}", 500), FT_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_text), cmocka_unit_test(test_metrics_capacity),
        cmocka_unit_test(test_token_equal),  cmocka_unit_test(test_http_endpoints),
        cmocka_unit_test(test_http_config),  cmocka_unit_test(test_http_bad_bind),
        cmocka_unit_test(test_webhook_urls),
    };
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
