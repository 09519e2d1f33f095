/* service: `football-tracker serve` and the deployment files.
 *
 *   - every YAML under deploy/ and configs/ parses (all documents of a
 *     multi-document file), the Grafana dashboard is valid JSON, and the
 *     example streams file loads with the serve parser;
 *   - streams.yml parsing: defaults merged, relative paths, overrides, and
 *     errors naming the file, line and key;
 *   - worker metrics relabelled with stream="<id>" and merged per family;
 *   - end to end: two streams (a generated clip read as a camera, output as
 *     MPEG-TS over UDP to sockets this test reads), both produce output; one
 *     worker SIGKILLed is restarted and recovers while the other keeps its
 *     process and its frame counter keeps increasing; metrics carry the
 *     stream label; a stream removed from the file + SIGHUP stops only its
 *     worker; SIGTERM stops everything with exit 0.
 * The end-to-end part takes about 30 s and needs FT_BIN and curl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "ft_test_service.h"
#include "service/supervisor.h"
#include "service/supervisor_internal.h"

extern char **environ;

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    *len = got;
    return b;
}

/* ---- a small strict JSON checker (RFC 8259 grammar, no extensions) ---- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p > s ? p : NULL;
}

static const char *json_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = json_string(json_ws(p));
                if (!p || *(p = json_ws(p)) != ':')
                    return NULL;
                p++;
            }
            p = json_value(p, depth + 1);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    return json_number(p);
}

static bool json_valid(const char *text)
{
    const char *end = json_value(text, 0);
    return end && *json_ws(end) == '\0';
}

static void test_json_checker(void **state)
{
    (void)state;
    assert_true(json_valid("{\"a\": [1, -2.5e3, true, null, \"x\\n\"]}"));
    assert_false(json_valid("{\"a\": [1, 2,]}"));
    assert_false(json_valid("{\"a\" 1}"));
    assert_false(json_valid("{\"a\": 01}"));
    assert_false(json_valid("[1] x"));
}

/* ---- every YAML file of the tree parses ---- */

static int yaml_docs(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "%s: cannot open", path);
        return -1;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int docs = 0;
    for (;;) {
        yaml_document_t d;
        if (!yaml_parser_load(&p, &d)) {
            snprintf(err, cap, "%s:%lu: %s", path, (unsigned long)p.problem_mark.line + 1,
                     p.problem ? p.problem : "YAML error");
            docs = -1;
            break;
        }
        bool empty = yaml_document_get_root_node(&d) == NULL;
        yaml_document_delete(&d);
        if (empty)
            break;
        docs++;
    }
    yaml_parser_delete(&p);
    fclose(f);
    return docs;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Walks dir; counts YAML files checked and JSON files checked. */
static void check_tree(const char *dir, int *n_yaml, int *n_json)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            check_tree(p, n_yaml, n_json);
        } else if (ends_with(p, ".yml") || ends_with(p, ".yaml")) {
            char err[1200];
            int docs = yaml_docs(p, err, sizeof err);
            if (docs <= 0)
                fail_msg("%s", docs < 0 ? err : p);
            (*n_yaml)++;
        } else if (ends_with(p, ".json")) {
            size_t len;
            char *t = read_all(p, &len);
            assert_non_null(t);
            if (!json_valid(t))
                fail_msg("%s: not valid JSON", p);
            free(t);
            (*n_json)++;
        }
    }
    closedir(d);
}

static void test_deploy_files_parse(void **state)
{
    (void)state;
    const char *src = getenv("FT_SOURCE_DIR");
    assert_non_null(src);
    char p[1024];
    int n_yaml = 0, n_json = 0;
    snprintf(p, sizeof p, "%s/deploy", src);
    check_tree(p, &n_yaml, &n_json);
    snprintf(p, sizeof p, "%s/configs", src);
    check_tree(p, &n_yaml, &n_json);
    /* k8s (several), prometheus, configs: a missing folder would pass silently. */
    assert_true(n_yaml >= 8);
    assert_true(n_json >= 1);
    /* The example streams file is one the supervisor accepts. */
    ft_serve_config *c = calloc(1, sizeof *c);
    char err[1024];
    snprintf(p, sizeof p, "%s/configs/streams.yml", src);
    if (ft_service_serve_config_load(p, c, err, sizeof err))
        fail_msg("%s", err);
    assert_true(c->n_streams >= 2);
    free(c);
    /* serve --check: the same parser from the command line, exit 0 / 1. */
    const char *bin = getenv("FT_BIN");
    if (bin) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' serve --check --streams '%s' >/dev/null", bin, p);
        int rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
        snprintf(cmd, sizeof cmd, "'%s' serve --check --streams '%s/deploy/Dockerfile' 2>/dev/null",
                 bin, src);
        rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    }
}

/* ---- streams.yml parser ---- */

static ft_status load_text(const char *text, ft_serve_config *c, char *err, size_t cap)
{
    char path[] = "/tmp/ft-serve-yml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, text);
    ft_status st = ft_service_serve_config_load(path, c, err, cap);
    unlink(path);
    return st;
}

static void test_streams_file(void **state)
{
    (void)state;
    ft_serve_config *c = calloc(1, sizeof *c);
    char err[1024];
    assert_int_equal(load_text("serve:\n  port: 9100\n  rss_limit_mb: 512\n"
                               "  stream_config: conf/stream.yml\n"
                               "  set: {output.width: 1280, model.confidence: 0.3}\n"
                               "streams:\n"
                               "  cam-1:\n    input: rtmp://a/live/x\n    output: rtmp://b/live/y\n"
                               "    set:\n      model.confidence: 0.5\n"
                               "  cam_2:\n    input: srt://c:9000\n    output: udp://d:1234\n"
                               "    model_config: /abs/model.yml\n    realtime: true\n",
                               c, err, sizeof err),
                     FT_OK);
    assert_int_equal(c->port, 9100);
    assert_true(c->rss_limit_mb == 512);
    assert_int_equal(c->n_streams, 2);
    assert_string_equal(c->streams[0].id, "cam-1");
    assert_string_equal(c->streams[0].stream_config, "/tmp/conf/stream.yml");
    assert_int_equal(c->streams[0].n_sets, 2);
    assert_string_equal(c->streams[0].sets[0], "output.width=1280");
    assert_string_equal(c->streams[0].sets[1], "model.confidence=0.5"); /* stream wins */
    assert_string_equal(c->streams[1].model_config, "/abs/model.yml");
    assert_true(c->streams[1].realtime);
    assert_false(ft_service_serve_stream_equal(&c->streams[0], &c->streams[1]));
    assert_true(ft_service_serve_stream_equal(&c->streams[0], &c->streams[0]));

    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"streams:\n  a:\n    input: rtmp://x/y/z\n    outptu: rtmp://q/r/s\n",
         ":4: streams.a.outptu: unknown key"},
        {"streams:\n  a:\n    input: rtmp://x/y/z\n", "streams.a: input and output are required"},
        {"streams:\n  a b:\n    input: i\n    output: o\n", "id 'a b' must be"},
        {"streams:\n  a:\n    input: i\n    output: o\n  a:\n    input: i\n    output: o\n",
         "duplicate"},
        {"serve:\n  port: 70000\nstreams: {}\n", "serve.port: expected a number in [1, 65535]"},
        {"serve:\n  backoff_initial_s: 10\n  backoff_max_s: 1\nstreams: {}\n", "below"},
        {"streams:\n  a: [1\n", "YAML error"},
        {"stream:\n  a: {}\n", "stream: unknown top-level key"},
        {"streams:\n  a:\n    input: i\n    output: o\n    set: {confidence: 1}\n", "section.key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(load_text(bad[i].text, c, err, sizeof err), FT_ERR_CONFIG);
        if (!strstr(err, bad[i].expect) || !strstr(err, "/tmp/ft-serve-yml-"))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err, bad[i].expect);
    }
    /* All streams removed is a valid state. */
    assert_int_equal(load_text("streams:\n", c, err, sizeof err), FT_OK);
    assert_int_equal(c->n_streams, 0);
    assert_int_equal(ft_service_serve_config_load("/nonexistent/streams.yml", c, err, sizeof err),
                     FT_ERR_CONFIG);
    assert_non_null(strstr(err, "/nonexistent/streams.yml"));
    /* was "/tmp:1: YAML error: input error" */
    assert_int_equal(ft_service_serve_config_load("/tmp", c, err, sizeof err), FT_ERR_CONFIG);
    assert_string_equal(err, "/tmp: not a regular file");
    free(c);
}

/* ---- sharding ---- */

static void test_shard_rendezvous(void **state)
{
    (void)state;
    int per_pod[5] = {0}, moved = 0, to_new = 0;
    for (int i = 0; i < 400; i++) {
        char id[16];
        snprintf(id, sizeof id, "venue-%03d", i);
        int owner4 = -1, owner5 = -1;
        for (int k = 0; k < 5; k++) {
            if (k < 4 && ft_service_serve_shard_owns(id, k, 4)) {
                assert_int_equal(owner4, -1); /* exactly one owner */
                owner4 = k;
            }
            if (ft_service_serve_shard_owns(id, k, 5)) {
                assert_int_equal(owner5, -1);
                owner5 = k;
            }
        }
        assert_true(owner4 >= 0 && owner5 >= 0);
        per_pod[owner4]++;
        moved += owner4 != owner5;
        to_new += owner5 == 4;
        assert_true(ft_service_serve_shard_owns(id, 0, 1));
    }
    /* Only the streams the fifth pod takes move (about 1/5 of them)... */
    assert_int_equal(moved, to_new);
    assert_true(to_new > 40 && to_new < 130);
    /* ...and the four pods share the load roughly evenly. */
    for (int k = 0; k < 4; k++)
        assert_true(per_pod[k] > 60 && per_pod[k] < 140);
}

/* ---- each worker's share of the cores ---- */

static void test_thread_share(void **state)
{
    (void)state;
    assert_int_equal(ft_serve_thread_share(16, 4), 8);  /* two threads per core */
    assert_int_equal(ft_serve_thread_share(16, 5), 7);  /* rounded up */
    assert_int_equal(ft_serve_thread_share(16, 30), 2);
    assert_int_equal(ft_serve_thread_share(16, 33), 1); /* at least one */
    assert_int_equal(ft_serve_thread_share(2, 3), 2);
    assert_int_equal(ft_serve_thread_share(2, 4), 1);
    assert_int_equal(ft_serve_thread_share(8, 0), 16);  /* no stream yet: counts as one */
    assert_int_equal(ft_serve_thread_share(256, 1), FT_SERVE_THREAD_SHARE_MAX);
    /* the affinity mask (ctest may run us on fewer cores than the machine has) */
    int cores = ft_serve_cpu_count();
    assert_true(cores >= 1 && cores <= sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---- relabel and merge ---- */

static void test_metrics_merge(void **state)
{
    (void)state;
    const char *a = "# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n"
                    "# HELP h Hist.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_sum 0.05\n"
                    "h_count 1\n";
    const char *b = "# HELP x_total X.\n# TYPE x_total counter\nx_total 7\n"
                    "# HELP y Y.\n# TYPE y gauge\ny{} 2\n";
    ft_serve_scrape sa, sb;
    ft_serve_scrape_index(&sa, a, strlen(a));
    ft_serve_scrape_index(&sb, b, strlen(b));
    assert_int_equal(sa.n_families, 2);
    assert_int_equal(sb.n_families, 2);
    assert_true(ft_serve_scrape_value(&sa, "x_total") == 3);
    assert_true(ft_serve_scrape_value(&sa, "h_bucket{le=\"0.1\"}") == 1);
    assert_true(isnan(ft_serve_scrape_value(&sa, "x")));
    const ft_serve_scrape *sc[] = {&sa, &sb};
    const char *ids[] = {"cam1", "cam2"};
    char out[1024];
    size_t len = 0;
    assert_int_equal(ft_serve_scrape_merge(sc, ids, 2, out, sizeof out, &len), FT_OK);
    assert_string_equal(out, "# HELP x_total X.\n# TYPE x_total counter\n"
                             "x_total{stream=\"cam1\"} 3\nx_total{stream=\"cam2\"} 7\n"
                             "# HELP h Hist.\n# TYPE h histogram\n"
                             "h_bucket{stream=\"cam1\",le=\"0.1\"} 1\nh_sum{stream=\"cam1\"} 0.05\n"
                             "h_count{stream=\"cam1\"} 1\n"
                             "# HELP y Y.\n# TYPE y gauge\ny{stream=\"cam2\"} 2\n");
    assert_int_equal(len, strlen(out));
    len = 0;
    assert_int_equal(ft_serve_scrape_merge(sc, ids, 2, out, 40, &len), FT_ERR_NOMEM);
}

/* ---- end to end ---- */

static struct {
    char dir[64];
    const char *bin;
    int http_port;
    int udp_fd[2], udp_port[2];
    pid_t serve;
} g;

static int udp_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Bytes waiting on a UDP output socket (drained). */
static size_t udp_drain(int fd)
{
    char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        total += (size_t)n;
    return total;
}

static int http_get(const char *path, char *out, size_t cap)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g.http_port, path);
    return ft_test_http(url, out, cap);
}

static double metric(const char *series)
{
    return ft_test_metric(g.http_port, series);
}

/* A worker's pid from /status.json; 0 when not running. */
static int worker_pid(const char *id)
{
    char body[8192], pat[96];
    if (http_get("/status.json", body, sizeof body) != 200)
        return -1;
    snprintf(pat, sizeof pat, "{\"id\":\"%s\",\"pid\":", id);
    const char *p = strstr(body, pat);
    return p ? (int)strtol(p + strlen(pat), NULL, 10) : 0;
}

/* The test's streams.yml: stream a, and b when with_b; `watchdog` is extra
 * serve: lines (limits). */
static void write_streams(bool with_b, const char *watchdog)
{
    char text[2048], path[128];
    int n = snprintf(text, sizeof text,
                     "serve:\n  port: %d\n  backoff_initial_s: 0.5\n%s"
                     "  realtime: true\n"
                     "  set:\n    output.width: 320\n    output.height: 180\n"
                     "    stream.bitrate: 300k\n"
                     "streams:\n"
                     "  a:\n    input: file://%s/clip.mp4\n    output: udp://127.0.0.1:%d\n",
                     g.http_port, watchdog, g.dir, g.udp_port[0]);
    if (with_b)
        snprintf(text + n, sizeof text - (size_t)n,
                 "  b:\n    input: file://%s/clip.mp4\n    output: udp://127.0.0.1:%d\n", g.dir,
                 g.udp_port[1]);
    snprintf(path, sizeof path, "%s/streams.yml", g.dir);
    write_file(path, text);
}

static bool wait_for(double (*f)(void), double s)
{
    for (double t = 0; t < s; t += 0.25) {
        if (f() > 0)
            return true;
        ft_test_sleep(0.25);
    }
    return false;
}

static double both_ready(void)
{
    return metric("ft_worker_ready{stream=\"a\"}") == 1 &&
           metric("ft_worker_ready{stream=\"b\"}") == 1;
}

static double a_recovered(void)
{
    return metric("ft_worker_ready{stream=\"a\"}") == 1 &&
           metric("ft_frames_sent_total{stream=\"a\"}") > 10;
}

static double a_frozen_restarted(void)
{
    return metric("ft_restarts_total{stream=\"a\",reason=\"health\"}") +
               metric("ft_restarts_total{stream=\"a\",reason=\"stuck\"}") >=
           1;
}

static double a_memory_restarted(void)
{
    return metric("ft_restarts_total{stream=\"a\",reason=\"memory\"}") >= 1;
}

static double b_gone(void)
{
    return worker_pid("b") == 0 && isnan(metric("ft_worker_up{stream=\"b\"}"));
}

static bool alive(int pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

static int setup_e2e(void **state)
{
    (void)state;
    g.bin = getenv("FT_BIN");
    if (!g.bin || system("command -v curl >/dev/null 2>&1") != 0)
        return 0;
    snprintf(g.dir, sizeof g.dir, "/tmp/ft-serve-XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    char cmd[512];
    /* 60 s: no worker reaches the end of its input (and exits) during the test. */
    snprintf(cmd, sizeof cmd,
             "%s synth --out %s/clip.mp4 --seconds 60 --fps 25 --size 320x180 --seed 7 "
             ">/dev/null 2>&1",
             g.bin, g.dir);
    if (system(cmd) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        g.udp_fd[i] = udp_socket(&g.udp_port[i]);
    g.http_port = ft_test_free_port();
    write_streams(true, "  stuck_seconds: 10\n");
    return 0;
}

static int teardown_e2e(void **state)
{
    (void)state;
    if (g.serve > 0) {
        kill(g.serve, SIGKILL);
        waitpid(g.serve, NULL, 0);
    }
    for (int i = 0; i < 2; i++)
        if (g.udp_fd[i] > 0)
            close(g.udp_fd[i]);
    if (g.dir[0] && !getenv("FT_KEEP_TMP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g.dir);
    }
    return 0;
}

static void test_serve_end_to_end(void **state)
{
    (void)state;
    if (!g.bin || !g.dir[0])
        skip();
    char streams[128], log[128];
    snprintf(streams, sizeof streams, "%s/streams.yml", g.dir);
    snprintf(log, sizeof log, "%s/serve.log", g.dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *const argv[] = {(char *)g.bin, "serve", "--streams", streams, NULL};
    assert_int_equal(posix_spawn(&g.serve, g.bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);

    /* Both workers up, both push video. */
    if (!wait_for(both_ready, 30))
        fail_msg("the workers never became ready (see %s)", log);
    udp_drain(g.udp_fd[0]);
    udp_drain(g.udp_fd[1]);
    ft_test_sleep(1.5);
    assert_true(udp_drain(g.udp_fd[0]) > 10000);
    assert_true(udp_drain(g.udp_fd[1]) > 10000);
    char body[8192];
    assert_int_equal(http_get("/health", body, sizeof body), 200);
    /* The supervisor's own probe client: an answer, one too large for its
     * buffer (no answer, never a partial one), and a closed port. */
    static char big[1 << 20];
    char tiny[64];
    ft_serve_get rq[3] = {
        {.port = g.http_port, .path = "/metrics", .buf = big, .cap = sizeof big},
        {.port = g.http_port, .path = "/metrics", .buf = tiny, .cap = sizeof tiny},
        {.port = ft_test_free_port(), .path = "/ready", .buf = tiny, .cap = sizeof tiny},
    };
    ft_serve_get_all(rq, 3, 2000);
    assert_int_equal(rq[0].code, 200);
    assert_non_null(strstr(rq[0].body, "ft_frames_sent_total{stream=\"b\"}"));
    assert_int_equal(rq[0].body_len, strlen(rq[0].body));
    assert_int_equal(rq[1].code, 0);
    assert_int_equal(rq[2].code, 0);
    assert_int_equal(http_get("/ready", body, sizeof body), 200);
    /* Worker series carry the stream label, the supervisor's its own. */
    assert_true(metric("ft_frames_sent_total{stream=\"a\"}") > 0);
    assert_true(metric("ft_latency_seconds_count{stream=\"b\"}") > 0);
    assert_true(metric("ft_stage_latency_seconds_count{stream=\"a\",stage=\"detect\"}") > 0);
    assert_int_equal(metric("ft_serve_streams"), 2);
    assert_int_equal(metric("ft_restarts_total{stream=\"a\",reason=\"signal\"}"), 0);

    /* SIGKILL worker a: it comes back, b is untouched and keeps counting. */
    int pa = worker_pid("a"), pb = worker_pid("b");
    assert_true(pa > 0 && pb > 0 && pa != pb);
    double b0 = metric("ft_frames_sent_total{stream=\"b\"}");
    assert_int_equal(kill(pa, SIGKILL), 0);
    ft_test_sleep(1.5);
    if (!wait_for(a_recovered, 30))
        fail_msg("worker a was not restarted (see %s)", log);
    int pa2 = worker_pid("a");
    assert_true(pa2 > 0 && pa2 != pa);
    assert_int_equal(metric("ft_restarts_total{stream=\"a\",reason=\"signal\"}"), 1);
    assert_int_equal(metric("ft_restarts_total{stream=\"b\",reason=\"signal\"}"), 0);
    assert_int_equal(worker_pid("b"), pb);
    double b1 = metric("ft_frames_sent_total{stream=\"b\"}");
    if (!(b1 > b0 + 25))
        fail_msg("stream b stalled while a restarted: %.0f -> %.0f frames", b0, b1);
    udp_drain(g.udp_fd[0]);
    ft_test_sleep(1);
    assert_true(udp_drain(g.udp_fd[0]) > 5000);

    /* Remove b from the file + SIGHUP: only b stops. */
    write_streams(false, "  stuck_seconds: 10\n");
    assert_int_equal(kill(g.serve, SIGHUP), 0);
    if (!wait_for(b_gone, 15))
        fail_msg("worker b was not stopped after its removal (see %s)", log);
    assert_false(alive(pb));
    assert_int_equal(worker_pid("a"), pa2);
    assert_int_equal(metric("ft_serve_streams"), 1);
    /* 1, or 2 when the file poll saw the edit just before the SIGHUP came. */
    double r_ok = metric("ft_serve_reloads_total{result=\"ok\"}");
    assert_true(r_ok >= 1 && r_ok <= 2);
    double a0 = metric("ft_frames_sent_total{stream=\"a\"}");
    ft_test_sleep(1);
    assert_true(metric("ft_frames_sent_total{stream=\"a\"}") > a0);

    /* A broken file is refused and the running stream stays. */
    write_file(streams, "streams:\n  a: [\n");
    assert_int_equal(kill(g.serve, SIGHUP), 0);
    ft_test_sleep(1.5);
    /* 1, or 2 when the file poll saw the edit just before the SIGHUP came. */
    double r_error = metric("ft_serve_reloads_total{result=\"error\"}");
    assert_true(r_error >= 1 && r_error <= 2);
    assert_int_equal(worker_pid("a"), pa2);

    /* Watchdog: a shorter stuck_seconds applies without a restart; a frozen
     * worker (SIGSTOP: no HTTP answer, no frames) is killed and restarted. */
    write_streams(false, "  stuck_seconds: 3\n");
    assert_int_equal(kill(g.serve, SIGHUP), 0);
    ft_test_sleep(1.5);
    assert_int_equal(worker_pid("a"), pa2);
    assert_int_equal(kill(pa2, SIGSTOP), 0);
    if (!wait_for(a_frozen_restarted, 25))
        fail_msg("frozen worker a was not restarted (see %s)", log);
    /* SIGTERM stays pending in a stopped process: SIGKILL follows after 5 s. */
    if (!wait_for(a_recovered, 25))
        fail_msg("worker a did not recover after the watchdog restart (see %s)", log);
    int pa3 = worker_pid("a");
    assert_true(pa3 > 0 && pa3 != pa2);
    assert_false(alive(pa2));
    /* An RSS limit below what a worker needs: restarted for memory. */
    write_streams(false, "  stuck_seconds: 3\n  rss_limit_mb: 5\n");
    assert_int_equal(kill(g.serve, SIGHUP), 0);
    if (!wait_for(a_memory_restarted, 15))
        fail_msg("worker a over its RSS limit was not restarted (see %s)", log);
    pa2 = worker_pid("a");

    /* SIGTERM: workers stopped, exit 0. */
    assert_int_equal(kill(g.serve, SIGTERM), 0);
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 300 && (r = waitpid(g.serve, &status, WNOHANG)) == 0; i++)
        ft_test_sleep(0.05);
    assert_int_equal(r, g.serve);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    g.serve = 0;
    assert_false(alive(pa2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_checker),
        cmocka_unit_test(test_deploy_files_parse),
        cmocka_unit_test(test_streams_file),
        cmocka_unit_test(test_shard_rendezvous),
        cmocka_unit_test(test_thread_share),
        cmocka_unit_test(test_metrics_merge),
        cmocka_unit_test_setup_teardown(test_serve_end_to_end, setup_e2e, teardown_e2e),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
