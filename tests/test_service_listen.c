/* service: `stream --listen` (service/rtmp_gate.h) on loopback. The service
 * listens on 127.0.0.1 with stream.listen_allow = 127.0.0.1/32 and a stream
 * key from a file, and pushes its output to a UDP port nobody reads:
 *
 *   - a client from 127.0.0.2 is disconnected at once (refused_address)
 *   - ffmpeg publishing with a wrong key fails and no frame is processed
 *   - ffmpeg publishing with the key is processed (frames counted), and after
 *     it leaves (its FLV metadata announcing a duration) the service listens
 *     again and takes a second publisher
 *   - neither key appears in the service's debug-level log
 *   - a bad allow-list entry or a missing key file is a configuration error
 *
 * Skipped when ffmpeg or curl are missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "ft_test_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    bool ok;
    char dir[64];
    const char *bin;
    int port, http_port, udp_port;
    pid_t service;
} g;

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g.dir, name);
}

static bool have(const char *cmd)
{
    char c[256];
    snprintf(c, sizeof c, "command -v %s >/dev/null 2>&1", cmd);
    return system(c) == 0;
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, 0600);
}

static double metric(const char *series)
{
    return ft_test_metric(g.http_port, series);
}

/* ffmpeg pushes `seconds` of the clip to the listen port with `key`; returns
 * its exit code (bounded wait). With `announce`, -t is an output option, so
 * the FLV metadata carries the duration, as from a publisher of a finite
 * clip. */
static int publish(const char *key, const char *seconds, bool announce)
{
    char clip[256], url[128];
    path_in(clip, sizeof clip, "clip.mp4");
    snprintf(url, sizeof url, "rtmp://127.0.0.1:%d/live/%s", g.port, key);
    /* -t before -i limits the input; after it, the output (announced). */
    char *limit[] = {"-t", (char *)seconds}, *input[] = {"-i", clip};
    char **a = announce ? input : limit, **b = announce ? limit : input;
    char *const argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-re", a[0], a[1], b[0],
                          b[1],     "-c",       "copy",      "-f",    "flv", url,  NULL};
    pid_t pid = ft_test_spawn(g.dir, "publisher.log", argv);
    assert_true(pid > 0);
    return ft_test_wait_exit(&pid, 20);
}

static int setup(void **state)
{
    (void)state;
    g.bin = getenv("FT_BIN");
    if (!g.bin || !have("ffmpeg") || !have("curl")) {
        fprintf(stderr, "skipping: needs FT_BIN, ffmpeg, curl\n");
        return 0;
    }
    snprintf(g.dir, sizeof g.dir, "/tmp/ft-listen-XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    char cmd[1024], clip[256], truth[256];
    path_in(clip, sizeof clip, "clip.mp4");
    path_in(truth, sizeof truth, "truth.csv");
    snprintf(cmd, sizeof cmd,
             "%s synth --out %s --truth %s --seconds 4 --fps 25 --size 640x360 --seed 3 "
             "--scenario broadcast >/dev/null 2>&1",
             g.bin, clip, truth);
    if (system(cmd) != 0)
        return -1;
    g.port = ft_test_free_port();
    g.http_port = ft_test_free_port();
    g.udp_port = ft_test_free_port();
    if (g.port <= 0 || g.http_port <= 0 || g.udp_port <= 0)
        return -1;
    write_text("key", "k3y-for-the-test\n");
    char sc[512], listen[64], out[64], port_s[16], scp[256];
    snprintf(sc, sizeof sc,
             "stream:\n  timeout_ms: 2000\n  listen_allow: \"127.0.0.1/32\"\n"
             "  listen_token_file: %s/key\n",
             g.dir);
    write_text("stream_config.yml", sc);
    path_in(scp, sizeof scp, "stream_config.yml");
    snprintf(listen, sizeof listen, "rtmp://127.0.0.1:%d/live", g.port);
    snprintf(out, sizeof out, "udp://127.0.0.1:%d", g.udp_port);
    snprintf(port_s, sizeof port_s, "%d", g.http_port);
    char *const argv[] = {(char *)g.bin,
                          "stream",
                          "--listen",
                          listen,
                          "--output",
                          out,
                          "--http-port",
                          port_s,
                          "--stream-config",
                          scp,
                          "--set",
                          "output.width=640",
                          "--set",
                          "output.height=360",
                          "--set",
                          "logging.level=debug",
                          NULL};
    g.service = ft_test_spawn(g.dir, "service.log", argv);
    for (int i = 0; i < 200 && g.service > 0 && !ft_test_port_open(g.http_port); i++)
        ft_test_sleep(0.05);
    if (g.service <= 0 || !ft_test_port_open(g.http_port)) {
        fprintf(stderr, "the service did not start (see %s/service.log)\n", g.dir);
        return -1;
    }
    g.ok = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g.service > 0) {
        kill(g.service, SIGTERM);
        int rc = ft_test_wait_exit(&g.service, 10);
        if (rc != 0)
            fprintf(stderr, "service exit %d after SIGTERM (see %s/service.log)\n", rc, g.dir);
    }
    if (g.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g.dir);
    }
    return 0;
}

/* Connects to the listen port from 127.0.0.2 (retrying while the gate
 * starts) and expects the connection to be closed without an answer. */
static void test_refused_address(void **state)
{
    (void)state;
    if (!g.ok)
        skip();
    int fd = -1;
    for (int i = 0; i < 100; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
        inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        dst.sin_port = htons((uint16_t)g.port);
        if (bind(fd, (struct sockaddr *)&src, sizeof src)) {
            close(fd);
            skip(); /* this host cannot use 127.0.0.2 as a source address */
        }
        if (!connect(fd, (struct sockaddr *)&dst, sizeof dst))
            break;
        close(fd);
        fd = -1;
        ft_test_sleep(0.1);
    }
    assert_true(fd >= 0);
    /* A valid C0+C1 start: the refusal must come from the address alone. */
    unsigned char c0c1[1537] = {3};
    (void)send(fd, c0c1, sizeof c0c1, MSG_NOSIGNAL);
    struct pollfd p = {fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 3000), 1);
    char b[16];
    ssize_t n = recv(fd, b, sizeof b, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET)); /* closed, no S0/S1 */
    close(fd);
    ft_test_sleep(0.3); /* the monitor mirrors the gate's counts every 0.1 s */
    assert_true(metric("ft_listen_connections_total{result=\"refused_address\"}") >= 1);
}

static void test_wrong_key_refused(void **state)
{
    (void)state;
    if (!g.ok)
        skip();
    assert_int_not_equal(publish("not-the-key", "2", false), 0);
    ft_test_sleep(0.3);
    assert_true(metric("ft_listen_connections_total{result=\"refused_key\"}") == 1);
    assert_true(metric("ft_listen_connections_total{result=\"accepted\"}") == 0);
    /* No pipeline was made from it: nothing decoded. */
    assert_false(metric("ft_frames_decoded_total") > 0); /* 0 or not exported */
}

static void test_key_accepted_then_relisten(void **state)
{
    (void)state;
    if (!g.ok)
        skip();
    /* Its metadata announces a duration: its leaving is still not the end. */
    assert_int_equal(publish("k3y-for-the-test", "3", true), 0);
    double frames = 0;
    for (int i = 0; i < 40 && frames <= 0; i++, ft_test_sleep(0.1))
        frames = metric("ft_frames_processed_total");
    assert_true(frames > 10);
    assert_true(metric("ft_listen_connections_total{result=\"accepted\"}") == 1);
    /* The publisher left; the service listens again for the next one. */
    assert_int_equal(publish("k3y-for-the-test", "2", false), 0);
    ft_test_sleep(0.3);
    assert_true(metric("ft_listen_connections_total{result=\"accepted\"}") == 2);
    /* Between the two, the output kept its rate with repeats (the service's
     * constant-rate clock, as for a stalled pull input). */
    assert_true(metric("ft_frames_repeated_total") > 0);
    assert_true(metric("ft_frames_processed_total") > frames);
}

/* Neither the key nor a wrong one appears in the service's log, even at
 * debug level (which includes libavformat's warnings). */
static void test_keys_not_logged(void **state)
{
    (void)state;
    if (!g.ok)
        skip();
    char p[256], line[4096];
    path_in(p, sizeof p, "service.log");
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        assert_null(strstr(line, "k3y-for-the-test"));
        assert_null(strstr(line, "not-the-key"));
    }
    fclose(f);
    assert_true(lines > 5);
}

/* Runs the service with extra arguments; returns its exit code. */
static int run_bad(const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s stream --listen rtmp://127.0.0.1:%d/live --output udp://127.0.0.1:%d "
             "--http-port 0 %s >>%s/bad.log 2>&1",
             g.bin, ft_test_free_port(), g.udp_port, extra, g.dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_config_errors(void **state)
{
    (void)state;
    if (!g.ok)
        skip();
    char extra[512];
    assert_int_equal(run_bad("--set stream.listen_token_file="), 1); /* no key file */
    snprintf(extra, sizeof extra, "--set stream.listen_token_file=%s/missing", g.dir);
    assert_int_equal(run_bad(extra), 1);
    snprintf(extra, sizeof extra,
             "--set stream.listen_token_file=%s/key --set 'stream.listen_allow=10.0.0.0/33'",
             g.dir);
    assert_int_equal(run_bad(extra), 1);
    assert_int_equal(run_bad("--input rtmp://127.0.0.1:1/live/x"), 1); /* both */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_address),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_key_accepted_then_relisten),
        cmocka_unit_test(test_keys_not_logged),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
