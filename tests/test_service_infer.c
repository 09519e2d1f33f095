/* The shared inference server and its client (option C of docs/gpu-sharing.md)
 * on the random-weight RF-DETR Medium fixture at 320 px, on the CPU:
 *
 *   - three client threads against one in-process server batching their
 *     frames: every client gets, for every frame (formats YUV420P, NV12,
 *     RGB24, padded strides, a size change that regrows the shared memory),
 *     what the same model returns for that frame alone; the server really
 *     ran batches of several frames;
 *   - the detector adapter (detector.type shared) returns what the rfdetr
 *     detector returns for the same frame;
 *   - shared memory not sealed against shrinking is refused; requests that
 *     would read outside the client's shared memory, or an unknown format,
 *     get FT_ERR_INVALID; a message that is not a request drops the
 *     connection; the server keeps serving others;
 *   - `football-tracker infer` killed with SIGKILL: the client gets
 *     FT_ERR_AGAIN with no detections, then answers again once a new server
 *     runs on the same (stale) socket path; its /metrics counts the client;
 *   - bad socket paths: a clear error naming the path, exit code 1;
 *   - `serve` with serve.shared_inference: the server starts first, the
 *     worker connects, ft_infer_* appear in /metrics labelled stream="infer";
 *     the server SIGKILLed is restarted (ft_restarts_total{stream="infer"})
 *     while the worker keeps its process and its output, counts the frames
 *     of the outage (ft_detector_unavailable_total) and reconnects. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "detect/infer_client.h"
#include "detect/rfdetr.h"
#include "ft_test_cmd.h"
#include "ft_test_fixture.h"
#include "ft_test_service.h"
#include "service/infer_server.h"
#include "service/supervisor.h"

#define IMGSZ 320
#define CLIENTS 3
#define FRAMES 3

static char ckpt[1100], workdir[1024], sock[100];
static const char *bin;
static pid_t child; /* the program run by the current test, stopped by teardown on failure */

static int stop_child(void **state)
{
    (void)state;
    if (child > 0)
        ft_test_stop(&child, SIGKILL, 5);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("FT_SOURCE_DIR"), *bld = getenv("FT_BUILD_DIR");
    snprintf(ckpt, sizeof ckpt, "%s/../shared/fixtures/rfdetr/medium-random/checkpoint.pth",
             src ? src : ".");
    snprintf(workdir, sizeof workdir, "%s", bld ? bld : ".");
    /* Unix socket paths are short: the test's own folder under /tmp. */
    snprintf(sock, sizeof sock, "/tmp/ft-test-infer-%d.sock", (int)getpid());
    bin = getenv("FT_BIN");
    return 0;
}

static void need_fixture(void)
{
    ft_test_require_fixture_file(ckpt);
}

/* ---- frames ---- */

typedef struct frame {
    ft_image img;
    uint8_t *buf;
} frame;

/* A frame of client k, index f, with padded strides and a pattern of its own. */
static void frame_make(frame *fr, int k, int f)
{
    static const int sizes[CLIENTS][2] = {{200, 120}, {161, 97}, {150, 150}};
    static const ft_pixfmt fmts[CLIENTS] = {FT_PIX_YUV420P, FT_PIX_NV12, FT_PIX_RGB24};
    int w = sizes[k][0], h = sizes[k][1];
    if (f == FRAMES - 1) { /* larger: the client's shared memory grows */
        w *= 2;
        h *= 2;
    }
    ft_image *im = &fr->img;
    *im = (ft_image){.width = w, .height = h, .format = fmts[k]};
    int64_t row[3], rows[3];
    size_t off[3], total = 0;
    int planes = 0;
    for (int p = 0; p < 3; p++) {
        planes = ft_infer_plane_geometry(im->format, w, h, p, &row[p], &rows[p]);
        if (p < planes) {
            im->stride[p] = (int)row[p] + 8;
            off[p] = total;
            total += (size_t)im->stride[p] * (size_t)rows[p];
        }
    }
    fr->buf = malloc(total);
    assert_non_null(fr->buf);
    uint32_t x = 2654435761u * (uint32_t)(k * 16 + f + 1);
    for (size_t i = 0; i < total; i++) {
        x = x * 1664525u + 1013904223u;
        /* smooth gradients plus noise, so the model sees structure */
        fr->buf[i] = (uint8_t)((i * (size_t)(k + 3)) / 7 + (x >> 28));
    }
    for (int p = 0; p < planes; p++)
        im->data[p] = fr->buf + off[p];
}

typedef struct dets {
    ft_rfdetr_det d[300];
    int n;
} dets;

static void assert_same(const dets *ref, const dets *got, const char *what)
{
    if (ref->n != got->n)
        fail_msg("%s: %d detections, expected %d", what, got->n, ref->n);
    for (int i = 0; i < ref->n; i++) {
        const ft_rfdetr_det *a = &ref->d[i], *b = &got->d[i];
        if (a->label != b->label || a->query != b->query || fabsf(a->score - b->score) > 1e-5f ||
            fabsf(a->x0 - b->x0) > 1e-2f || fabsf(a->y0 - b->y0) > 1e-2f ||
            fabsf(a->x1 - b->x1) > 1e-2f || fabsf(a->y1 - b->y1) > 1e-2f)
            fail_msg("%s: detection %d differs: label %d/%d score %g/%g box %g,%g vs %g,%g", what,
                     i, b->label, a->label, (double)b->score, (double)a->score, (double)b->x0,
                     (double)b->y0, (double)a->x0, (double)a->y0);
    }
}

/* ---- batched clients vs one frame at a time ---- */

static frame frames[CLIENTS][FRAMES];
static dets want[CLIENTS][FRAMES], got[CLIENTS][FRAMES];
static ft_status got_st[CLIENTS][FRAMES];
static pthread_barrier_t round_start;

static void *client_main(void *arg)
{
    int k = (int)(intptr_t)arg;
    ft_infer_client_params cp = {.socket_path = sock, .timeout_ms = 30000, .connect_wait_ms = 5000};
    ft_infer_client *c = NULL;
    ft_status st = ft_detect_infer_client_create(&cp, &c);
    for (int f = 0; f < FRAMES; f++) {
        /* every client submits at once, so the server sees them together */
        pthread_barrier_wait(&round_start);
        got_st[k][f] = st ? st
                          : ft_detect_infer_client_detect(c, &frames[k][f].img, 0.0f, got[k][f].d,
                                                          300, &got[k][f].n);
    }
    ft_detect_infer_client_destroy(&c);
    return NULL;
}

static void *server_main(void *arg)
{
    ft_status st = ft_service_infer_run(arg);
    return (void *)(intptr_t)st;
}

/* A server on the fixture model (CPU) running in *thread. */
static ft_service_infer *start_server_thread(int max_batch, int window_ms, pthread_t *thread)
{
    ft_rfdetr_params mp = {
        .model_path = ckpt, .imgsz = IMGSZ, .device = "cpu", .max_batch = max_batch};
    ft_service_infer_params sp = {.socket_path = sock, .model = mp, .batch_window_ms = window_ms};
    ft_service_infer *srv = NULL;
    assert_int_equal(ft_service_infer_create(&sp, &srv), FT_OK);
    assert_int_equal(pthread_create(thread, NULL, server_main, srv), 0);
    return srv;
}

static double metric_value(ft_service_infer *s, const char *series)
{
    static char text[16384];
    size_t len = 0;
    assert_int_equal(ft_service_infer_metrics(s, text, sizeof text, &len), FT_OK);
    size_t sl = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += sl)
        if ((p == text || p[-1] == '\n') && p[sl] == ' ')
            return strtod(p + sl + 1, NULL);
    return NAN;
}

static void test_batched_clients(void **state)
{
    (void)state;
    need_fixture();
    /* the reference: the same model, one frame per forward pass */
    ft_rfdetr_params mp = {.model_path = ckpt, .imgsz = IMGSZ, .device = "cpu"};
    ft_rfdetr *ref = NULL;
    assert_int_equal(ft_rfdetr_create(&mp, &ref), FT_OK);
    for (int k = 0; k < CLIENTS; k++)
        for (int f = 0; f < FRAMES; f++) {
            frame_make(&frames[k][f], k, f);
            const ft_image *im = &frames[k][f].img;
            assert_int_equal(ft_rfdetr_preprocess(ref, im), FT_OK);
            assert_int_equal(ft_rfdetr_forward(ref), FT_OK);
            ft_rfdetr_postprocess(ref, im->width, im->height, 0.0f, want[k][f].d, 300,
                                  &want[k][f].n);
            assert_true(want[k][f].n > 0);
        }
    ft_rfdetr_destroy(&ref);

    /* Batches of up to 4 (a round's three frames in one pass), then of up
     * to 2 (three waiting clients: round-robin, two passes per round). A
     * window far above a forward pass: the requests of a round meet even on
     * a loaded machine. */
    for (int max_batch = 4; max_batch >= 2; max_batch -= 2) {
        pthread_t st, ct[CLIENTS];
        ft_service_infer *srv = start_server_thread(max_batch, 500, &st);
        pthread_barrier_init(&round_start, NULL, CLIENTS);
        for (int k = 0; k < CLIENTS; k++)
            assert_int_equal(pthread_create(&ct[k], NULL, client_main, (void *)(intptr_t)k), 0);
        for (int k = 0; k < CLIENTS; k++)
            pthread_join(ct[k], NULL);
        pthread_barrier_destroy(&round_start);
        ft_service_infer_stop(srv);
        void *rc = NULL;
        pthread_join(st, &rc);
        assert_int_equal((int)(intptr_t)rc, FT_OK);
        double frames_total = metric_value(srv, "ft_infer_frames_total");
        double batches = metric_value(srv, "ft_infer_batches_total");
        double batch_sum = metric_value(srv, "ft_infer_batch_size_sum");
        double over = metric_value(srv, "ft_infer_batch_size_bucket{le=\"2\"}");
        ft_service_infer_destroy(&srv);
        struct stat sb;
        assert_int_not_equal(stat(sock, &sb), 0); /* the socket file is removed */

        for (int k = 0; k < CLIENTS; k++)
            for (int f = 0; f < FRAMES; f++) {
                char what[64];
                snprintf(what, sizeof what, "batches of %d: client %d frame %d", max_batch, k, f);
                assert_int_equal(got_st[k][f], FT_OK);
                assert_same(&want[k][f], &got[k][f], what);
            }
        printf("  batches of up to %d: %d frames in %.0f batches (mean %.2f frames per batch)\n",
               max_batch, (int)frames_total, batches, batch_sum / batches);
        assert_true(frames_total == CLIENTS * FRAMES);
        assert_true(batches < frames_total); /* frames of different clients were batched */
        if (max_batch == 2)
            assert_true(over == batches); /* never more than max_batch */
    }
    for (int k = 0; k < CLIENTS; k++)
        for (int f = 0; f < FRAMES; f++)
            free(frames[k][f].buf);
}

/* ---- the detector adapter ---- */

static void test_detector_adapter(void **state)
{
    (void)state;
    need_fixture();
    pthread_t st;
    ft_service_infer *srv = start_server_thread(2, 1, &st);
    /* A low threshold and no ball-class luck needed: the class of the
     * strongest detection is taken as the ball. */
    frame fr;
    frame_make(&fr, 0, 0);
    ft_rfdetr *m = NULL;
    ft_rfdetr_params mp = {.model_path = ckpt, .imgsz = IMGSZ, .device = "cpu", .max_batch = 1};
    assert_int_equal(ft_rfdetr_create(&mp, &m), FT_OK);
    dets top;
    assert_int_equal(ft_rfdetr_preprocess(m, &fr.img), FT_OK);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    ft_rfdetr_postprocess(m, fr.img.width, fr.img.height, 0.0f, top.d, 300, &top.n);
    ft_rfdetr_destroy(&m);
    ft_rfdetr_detector_params rp = {
        .model = mp, .confidence = 0.0f, .ball_class_id = top.d[0].label, .iou_threshold = 0.5f};
    ft_infer_detector_params ip = {
        .client = {.socket_path = sock, .timeout_ms = 30000, .connect_wait_ms = 5000},
        .confidence = 0.0f,
        .ball_class_id = top.d[0].label,
        .iou_threshold = 0.5f};
    ft_detector *local = NULL, *shared = NULL;
    assert_int_equal(ft_rfdetr_detector_create(&rp, &local), FT_OK);
    assert_int_equal(ft_detect_infer_detector_create(&ip, &shared), FT_OK);
    ft_detection a[FT_DETECT_MAX], b[FT_DETECT_MAX];
    int na = 0, nb = 0;
    assert_int_equal(ft_detector_detect(local, &fr.img, 0.0, a, FT_DETECT_MAX, &na), FT_OK);
    assert_int_equal(ft_detector_detect(shared, &fr.img, 0.0, b, FT_DETECT_MAX, &nb), FT_OK);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].label, b[i].label);
        assert_true(fabsf(a[i].score - b[i].score) <= 1e-5f);
        assert_true(fabsf(a[i].x - b[i].x) <= 1e-2f && fabsf(a[i].y - b[i].y) <= 1e-2f);
    }
    /* hot parameters: a confidence above every score leaves nothing */
    assert_int_equal(ft_detector_set_param(shared, "confidence", 1.0), FT_OK);
    assert_int_equal(ft_detector_set_param(shared, "nonsense", 1.0), FT_ERR_INVALID);
    assert_int_equal(ft_detector_detect(shared, &fr.img, 0.0, b, FT_DETECT_MAX, &nb), FT_OK);
    assert_int_equal(nb, 0);
    ft_detector_destroy(&local);
    ft_detector_destroy(&shared);
    ft_service_infer_stop(srv);
    pthread_join(st, NULL);
    ft_service_infer_destroy(&srv);
    free(fr.buf);
}

/* ---- requests that would read outside the client's memory ---- */

static void send_raw(int fd, const ft_infer_request *rq, int shm)
{
    struct iovec iov = {.iov_base = (void *)rq, .iov_len = sizeof *rq};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (shm >= 0) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &shm, sizeof shm);
    }
    assert_int_equal(sendmsg(fd, &msg, MSG_NOSIGNAL), (ssize_t)sizeof *rq);
}

static void test_invalid_requests(void **state)
{
    (void)state;
    need_fixture();
    pthread_t st;
    ft_service_infer *srv = start_server_thread(2, 1, &st);

    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    ft_infer_hello h;
    assert_int_equal(recv(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    assert_int_equal(h.status, FT_OK);
    assert_int_equal(h.input_size, IMGSZ);
    ft_infer_reply rp;
    /* memory that could be truncated under the server is refused */
    int loose = memfd_create("test", MFD_CLOEXEC);
    assert_true(loose >= 0);
    assert_int_equal(ftruncate(loose, 4096), 0);
    ft_infer_request any = {.magic = FT_INFER_MAGIC,
                            .flags = FT_INFER_NEW_SHM,
                            .width = 8,
                            .height = 8,
                            .format = FT_PIX_GRAY8,
                            .stride = {8}};
    send_raw(fd, &any, loose);
    assert_int_equal(recv(fd, &rp, sizeof rp, 0), 0);
    close(loose);
    close(fd);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(recv(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    int shm = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(shm >= 0);
    assert_int_equal(ftruncate(shm, 4096), 0);
    assert_int_equal(fcntl(shm, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    /* a 1000x1000 frame does not fit 4 KiB; a plane overlapping the result
     * area; an unknown format; a result area past the end */
    ft_infer_request bad[4] = {
        {.magic = FT_INFER_MAGIC,
         .seq = 1,
         .flags = FT_INFER_NEW_SHM,
         .width = 1000,
         .height = 1000,
         .format = FT_PIX_GRAY8,
         .offset = {0},
         .stride = {1000}},
        {.magic = FT_INFER_MAGIC,
         .seq = 2,
         .width = 8,
         .height = 8,
         .format = FT_PIX_GRAY8,
         .offset = {0},
         .stride = {8},
         .result_cap = 10},
        {.magic = FT_INFER_MAGIC,
         .seq = 3,
         .width = 8,
         .height = 8,
         .format = 9,
         .offset = {0},
         .stride = {8}},
        {.magic = FT_INFER_MAGIC,
         .seq = 4,
         .width = 8,
         .height = 8,
         .format = FT_PIX_GRAY8,
         .offset = {0},
         .stride = {8},
         .result_cap = 1000},
    };
    for (int i = 0; i < 4; i++) {
        send_raw(fd, &bad[i], i == 0 ? shm : -1);
        assert_int_equal(recv(fd, &rp, sizeof rp, 0), (ssize_t)sizeof rp);
        assert_int_equal(rp.seq, bad[i].seq);
        assert_int_equal(rp.status, FT_ERR_INVALID);
    }
    /* a message that is not a request: the connection is dropped */
    ft_infer_request junk = {.magic = 0xdeadbeef};
    send_raw(fd, &junk, -1);
    assert_int_equal(recv(fd, &rp, sizeof rp, 0), 0);
    close(fd);
    close(shm);
    /* the server still serves a well-behaved client */
    ft_infer_client_params cp = {.socket_path = sock, .timeout_ms = 30000, .connect_wait_ms = 5000};
    ft_infer_client *c = NULL;
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_OK);
    frame fr;
    frame_make(&fr, 2, 0);
    dets d;
    assert_int_equal(ft_detect_infer_client_detect(c, &fr.img, 0.1f, d.d, 300, &d.n), FT_OK);
    ft_detect_infer_client_destroy(&c);
    free(fr.buf);
    ft_service_infer_stop(srv);
    pthread_join(st, NULL);
    assert_true(metric_value(srv, "ft_infer_errors_total") == 6);
    assert_true(metric_value(srv, "ft_infer_frames_total") == 1);
    ft_service_infer_destroy(&srv);
}

/* ---- server killed and restarted ---- */

static pid_t start_server(int port)
{
    char set_model[1200], port_s[16];
    snprintf(set_model, sizeof set_model, "model.path=%s", ckpt);
    snprintf(port_s, sizeof port_s, "%d", port);
    char *argv[] = {(char *)bin,   "infer",
                    "--socket",    sock,
                    "--max-batch", "2",
                    "--http-port", port_s,
                    "--set",       set_model,
                    "--set",       "model.imgsz=320",
                    "--set",       "model.device=cpu",
                    "--set",       "model.warmup_iterations=0",
                    NULL};
    pid_t pid = ft_test_spawn(workdir, "test_service_infer.log", argv);
    assert_true(pid > 0);
    return pid;
}

static void test_server_restart(void **state)
{
    (void)state;
    need_fixture();
    if (!bin)
        skip();
    int port = ft_test_free_port();
    child = start_server(port);
    ft_infer_client_params cp = {
        .socket_path = sock, .timeout_ms = 20000, .connect_wait_ms = 60000};
    ft_infer_client *c = NULL;
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_OK);
    assert_int_equal(ft_detect_infer_client_model(c)->input_size, IMGSZ);
    assert_int_equal(ft_detect_infer_client_model(c)->max_batch, 2);
    frame fr;
    frame_make(&fr, 1, 0);
    dets first, d;
    assert_int_equal(ft_detect_infer_client_detect(c, &fr.img, 0.1f, first.d, 300, &first.n),
                     FT_OK);
    /* A loaded machine may start the HTTP side late: wait for the answer. */
    for (int i = 0; i < 300 && ft_test_metric(port, "ft_infer_clients") != 1; i++)
        ft_test_sleep(0.1);
    assert_true(ft_test_metric(port, "ft_infer_clients") == 1);
    assert_true(ft_test_metric(port, "ft_infer_frames_total") == 1);
    /* a second server on the live socket is refused before loading a model */
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' infer --socket '%s' --set model.path='%s'", bin, sock, ckpt);
    assert_int_equal(ft_test_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "another inference server is listening there"));

    ft_test_stop(&child, SIGKILL, 5);
    d.n = -1;
    assert_int_equal(ft_detect_infer_client_detect(c, &fr.img, 0.1f, d.d, 300, &d.n), FT_ERR_AGAIN);
    assert_int_equal(d.n, 0);
    assert_int_equal(ft_detect_infer_client_failures(c), 1);
    /* still down: answered at once, without waiting for a timeout */
    assert_int_equal(ft_detect_infer_client_detect(c, &fr.img, 0.1f, d.d, 300, &d.n), FT_ERR_AGAIN);
    assert_int_equal(ft_detect_infer_client_failures(c), 2);

    child = start_server(port); /* the killed server's socket file is still there */
    ft_status st = FT_ERR_AGAIN;
    for (int i = 0; i < 600 && st == FT_ERR_AGAIN; i++) {
        st = ft_detect_infer_client_detect(c, &fr.img, 0.1f, d.d, 300, &d.n);
        if (st == FT_ERR_AGAIN)
            ft_test_sleep(0.1);
    }
    assert_int_equal(st, FT_OK);
    assert_same(&first, &d, "after the restart");
    ft_detect_infer_client_destroy(&c);
    ft_test_stop(&child, SIGTERM, 10);
    free(fr.buf);
}

/* ---- bad socket paths ---- */

static void test_bad_paths(void **state)
{
    (void)state;
    ft_infer_client *c = NULL;
    ft_infer_client_params cp = {.socket_path = "/nonexistent-ft-dir/infer.sock"};
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_ERR_CONFIG);
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    cp.socket_path = longp;
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_ERR_CONFIG);
    char plain[1100];
    snprintf(plain, sizeof plain, "%s/test_service_infer.notasocket", workdir);
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fclose(f);
    cp.socket_path = plain; /* exists, not a socket */
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_ERR_CONFIG);
    remove(plain);
    cp.socket_path = sock; /* nobody listens: bounded wait, then a runtime error */
    cp.connect_wait_ms = 300;
    assert_int_equal(ft_detect_infer_client_create(&cp, &c), FT_ERR_RUNTIME);
    assert_null(c);
    if (!bin)
        return;
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' infer --socket /nonexistent-ft-dir/infer.sock --set model.path='%s'", bin, ckpt);
    assert_int_equal(ft_test_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "/nonexistent-ft-dir/infer.sock"));
    snprintf(cmd, sizeof cmd, "'%s' infer --set model.path='%s'", bin, ckpt);
    assert_int_equal(ft_test_run(cmd, out, sizeof out), 1); /* --socket missing */
    assert_non_null(strstr(out, "--socket is required"));
}

/* ---- serve with shared inference ---- */

/* streams.yml keys of shared inference: defaults, values, the server's
 * settings from the serve-level defaults, and errors naming the key. */
static void test_streams_keys(void **state)
{
    (void)state;
    static ft_serve_config cfg;
    char path[1100], err[1024];
    snprintf(path, sizeof path, "%s/test_service_infer.streams.yml", workdir);
    static const struct {
        const char *text, *error;
    } cases[] = {
        {"serve:\n  shared_inference: true\n  inference_max_batch: 16\n"
         "  inference_batch_window_ms: 2.5\n  inference_socket: run/i.sock\n"
         "  set: {model.path: m.pth}\nstreams:\n  a:\n    input: i\n    output: o\n",
         NULL},
        {"serve:\n  shared_inference: true\nstreams:\n  infer:\n    input: i\n    output: o\n",
         "streams.infer: this id names the inference server"},
        {"serve:\n  inference_max_batch: 300\nstreams:\n", "serve.inference_max_batch"},
        {"serve:\n  inference_max_batch: 2.5\nstreams:\n", "expected an integer"},
        {"serve:\n  inference_batch_window_ms: -1\nstreams:\n", "serve.inference_batch_window_ms"},
        {"serve:\n  shared_inference: maybe\nstreams:\n", "serve.shared_inference"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(cases[i].text, f);
        fclose(f);
        ft_status st = ft_service_serve_config_load(path, &cfg, err, sizeof err);
        if (!cases[i].error) {
            assert_int_equal(st, FT_OK);
            continue;
        }
        assert_int_equal(st, FT_ERR_CONFIG);
        if (!strstr(err, cases[i].error))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].error);
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(cases[0].text, f);
    fclose(f);
    assert_int_equal(ft_service_serve_config_load(path, &cfg, err, sizeof err), FT_OK);
    assert_true(cfg.shared_inference);
    assert_int_equal(cfg.inference_max_batch, 16);
    assert_true(cfg.inference_batch_window_ms == 2.5);
    assert_non_null(strstr(cfg.inference_socket, "/run/i.sock")); /* relative to the file */
    assert_string_equal(cfg.inference.id, FT_SERVE_INFER_ID);
    assert_int_equal(cfg.inference.n_sets, 1);
    assert_string_equal(cfg.inference.sets[0], "model.path=m.pth");
    if (bin) {
        char cmd[1400], out[4096];
        snprintf(cmd, sizeof cmd, "'%s' serve --check --streams '%s'", bin, path);
        assert_int_equal(ft_test_run(cmd, out, sizeof out), 0);
        assert_non_null(strstr(out, "shared inference: one infer process, batches of up to 16"));
    }
    /* defaults */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("streams:\n", f);
    fclose(f);
    assert_int_equal(ft_service_serve_config_load(path, &cfg, err, sizeof err), FT_OK);
    assert_false(cfg.shared_inference);
    assert_int_equal(cfg.inference_max_batch, 8);
    assert_true(cfg.inference_batch_window_ms == 3);
    remove(path);
}

static int serve_port;

static double serve_metric(const char *series)
{
    return ft_test_metric(serve_port, series);
}

/* pid of worker `id` from the supervisor's /status.json; 0 when absent. */
static int serve_pid(const char *id)
{
    char url[96], body[8192], pat[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/status.json", serve_port);
    if (ft_test_http(url, body, sizeof body) != 200)
        return 0;
    snprintf(pat, sizeof pat, "{\"id\":\"%s\",\"pid\":", id);
    const char *p = strstr(body, pat);
    return p ? (int)strtol(p + strlen(pat), NULL, 10) : 0;
}

/* Waits up to s seconds for series >= v. */
static bool wait_metric(const char *series, double v, double s)
{
    for (double t = 0; t < s; t += 0.25) {
        if (serve_metric(series) >= v)
            return true;
        ft_test_sleep(0.25);
    }
    return false;
}

static void test_serve_shared(void **state)
{
    (void)state;
    need_fixture();
    if (!bin || system("command -v curl >/dev/null 2>&1") != 0)
        skip();
    char dir[64] = "/tmp/ft-infer-serve-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], path[128], text[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' synth --out %s/clip.mp4 --seconds 60 --fps 25 --size 320x180 --seed 3 "
             ">/dev/null 2>&1",
             bin, dir);
    assert_int_equal(system(cmd), 0);
    serve_port = ft_test_free_port();
    snprintf(text, sizeof text,
             "serve:\n  port: %d\n  backoff_initial_s: 0.5\n  shared_inference: true\n"
             "  inference_socket: %s/infer.sock\n  inference_max_batch: 2\n"
             "  realtime: true\n"
             "  set:\n    output.width: 320\n    output.height: 180\n"
             "    stream.bitrate: 300k\n    model.path: %s\n    model.imgsz: %d\n"
             "    model.device: cpu\n    model.warmup_iterations: 0\n"
             "    model.server_timeout_ms: 5000\n"
             "streams:\n  a:\n    input: file://%s/clip.mp4\n"
             "    output: udp://127.0.0.1:%d\n",
             serve_port, dir, ckpt, IMGSZ, dir, ft_test_free_port());
    snprintf(path, sizeof path, "%s/streams.yml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char *argv[] = {(char *)bin, "serve", "--streams", path, NULL};
    child = ft_test_spawn(dir, "serve.log", argv);
    assert_true(child > 0);

    if (!wait_metric("ft_infer_frames_total{stream=\"infer\"}", 2, 90))
        fail_msg("no frame reached the inference server (see %s/serve.log)", dir);
    assert_true(serve_metric("ft_infer_clients{stream=\"infer\"}") == 1);
    assert_true(serve_metric("ft_worker_up{stream=\"infer\"}") == 1);
    int pi = serve_pid("infer"), pa = serve_pid("a");
    assert_true(pi > 0 && pa > 0 && pi != pa);

    assert_int_equal(kill(pi, SIGKILL), 0);
    if (!wait_metric("ft_restarts_total{stream=\"infer\",reason=\"signal\"}", 1, 15))
        fail_msg("the inference server was not restarted (see %s/serve.log)", dir);
    double sent = serve_metric("ft_frames_sent_total{stream=\"a\"}");
    /* the worker reconnects to the new server and its frames reach it again */
    if (!wait_metric("ft_infer_frames_total{stream=\"infer\"}", 2, 90))
        fail_msg("the worker did not come back to the restarted server (see %s/serve.log)", dir);
    int pi2 = serve_pid("infer");
    assert_true(pi2 > 0 && pi2 != pi);
    assert_int_equal(serve_pid("a"), pa); /* the worker was never restarted */
    assert_true(serve_metric("ft_frames_sent_total{stream=\"a\"}") > sent);
    assert_true(serve_metric("ft_restarts_total{stream=\"a\",reason=\"signal\"}") == 0);
    /* the frames of the outage were counted by the worker */
    assert_true(serve_metric("ft_detector_unavailable_total{stream=\"a\"}") >= 1);

    ft_test_stop(&child, SIGTERM, 20);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!getenv("FT_KEEP_TMP") && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_batched_clients),
        cmocka_unit_test(test_detector_adapter),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test_teardown(test_server_restart, stop_child),
        cmocka_unit_test(test_streams_keys),
        cmocka_unit_test_teardown(test_serve_shared, stop_child),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
