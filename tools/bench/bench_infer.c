/* `bench infer-share`: K stream-worker-like processes detecting on their own
 * frames, first with one RF-DETR model each (the baseline, what `serve` does
 * without shared inference), then as clients of ONE `football-tracker infer`
 * server batching their frames (docs/gpu-sharing.md, option C). Reports
 * frames/s over all clients, the memory of every process involved, latency
 * per frame, and the ratios shared / copies of the same run. Every frame is
 * a full-size NV12 picture (pre-processing included). Memory is the sum of
 * PSS (pages of shared libraries and shared memory split between the
 * processes that map them, so the sum is what the machine spends); a sum of
 * RSS would count a library such as cuBLAS once per process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/status.h"
#include "detect/infer_client.h"
#include "detect/rfdetr.h"
#include "service/http.h"
#include "tools/bench/bench.h"

#define MAX_CLIENTS 64

typedef struct opts {
    const char *model, *device;
    int clients, frames, imgsz, max_batch, threads, width, height;
    double window_ms;
} opts;

/* What a child reports: once ready, then after its frames. */
typedef struct report {
    int ok;
    double seconds;          /* its frames, back to back */
    double rss_mib, pss_mib; /* at the end */
} report;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Rss and Pss of a process (smaps_rollup), MiB. */
static void mem_mib(pid_t pid, double *rss, double *pss)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    *rss = *pss = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Rss:", 4))
            *rss = strtod(line + 4, NULL) / 1024.0;
        else if (!strncmp(line, "Pss:", 4))
            *pss = strtod(line + 4, NULL) / 1024.0;
    }
    if (f)
        fclose(f);
}

/* A full-size NV12 frame with a pattern of its own per client. */
static uint8_t *frame_make(const opts *o, int k, ft_image *im)
{
    size_t y = (size_t)o->width * o->height, uv = (size_t)o->width * ((o->height + 1) / 2);
    uint8_t *buf = malloc(y + uv);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < y + uv; i++)
        buf[i] = (uint8_t)((i * (size_t)(k + 3)) / 5 + (i % 251) * (size_t)k);
    *im = (ft_image){.width = o->width,
                     .height = o->height,
                     .format = FT_PIX_NV12,
                     .data = {buf, buf + y},
                     .stride = {o->width, o->width}};
    return buf;
}

/* Body of one child: `shared` = client of the server at sock, else its own
 * model. Reports ready, waits for the start (EOF on go), runs its frames. */
static void child(const opts *o, int k, bool shared, const char *sock, int go, int out)
{
    report r = {0};
    ft_image im;
    uint8_t *buf = frame_make(o, k, &im);
    ft_rfdetr *m = NULL;
    ft_infer_client *c = NULL;
    ft_rfdetr_det dets[300];
    int n = 0;
    if (shared) {
        ft_infer_client_params cp = {
            .socket_path = sock, .timeout_ms = 600000, .connect_wait_ms = 300000};
        r.ok = buf && !ft_detect_infer_client_create(&cp, &c) &&
               !ft_detect_infer_client_detect(c, &im, 0.5f, dets, 300, &n);
    } else {
        ft_rfdetr_params mp = {.model_path = o->model,
                               .imgsz = o->imgsz,
                               .device = o->device,
                               .threads = o->threads,
                               .warmup_iterations = 1};
        r.ok = buf && !ft_rfdetr_create(&mp, &m);
    }
    if (write(out, &r, sizeof r) != (ssize_t)sizeof r || !r.ok)
        _exit(1);
    char b;
    while (read(go, &b, 1) > 0) {
    }
    double t0 = now_s();
    for (int f = 0; f < o->frames && r.ok; f++) {
        if (shared) {
            r.ok = !ft_detect_infer_client_detect(c, &im, 0.5f, dets, 300, &n);
        } else {
            r.ok = !ft_rfdetr_preprocess(m, &im) && !ft_rfdetr_forward(m);
            ft_rfdetr_postprocess(m, im.width, im.height, 0.5f, dets, 300, &n);
        }
    }
    r.seconds = now_s() - t0;
    mem_mib(getpid(), &r.rss_mib, &r.pss_mib);
    if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(1);
    _exit(r.ok ? 0 : 1);
}

typedef struct result {
    bool ok;
    double wall, fps, rss_mib, pss_mib, ms_per_frame;
} result;

/* K children at once; all start together once every one is ready. */
static result run_children(const opts *o, bool shared, const char *sock)
{
    result res = {0};
    int go[2], rp[MAX_CLIENTS][2];
    pid_t pid[MAX_CLIENTS];
    report rep[MAX_CLIENTS];
    if (pipe(go))
        return res;
    fflush(NULL);
    for (int k = 0; k < o->clients; k++) {
        if (pipe(rp[k]))
            return res;
        pid[k] = fork();
        if (pid[k] == 0) {
            close(go[1]);
            close(rp[k][0]);
            child(o, k, shared, sock, go[0], rp[k][1]);
        }
        close(rp[k][1]);
    }
    close(go[0]);
    bool ok = true;
    for (int k = 0; k < o->clients; k++)
        ok = read(rp[k][0], &rep[k], sizeof rep[k]) == (ssize_t)sizeof rep[k] && rep[k].ok && ok;
    double t0 = now_s();
    close(go[1]); /* everyone starts */
    double per_frame = 0;
    for (int k = 0; k < o->clients; k++) {
        ok = ok && read(rp[k][0], &rep[k], sizeof rep[k]) == (ssize_t)sizeof rep[k] && rep[k].ok;
        close(rp[k][0]);
        res.rss_mib += ok ? rep[k].rss_mib : 0;
        res.pss_mib += ok ? rep[k].pss_mib : 0;
        per_frame += ok ? rep[k].seconds / o->frames : 0;
    }
    res.wall = now_s() - t0;
    for (int k = 0; k < o->clients; k++) {
        int st = 0;
        waitpid(pid[k], &st, 0);
        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    res.ok = ok;
    res.fps = (double)o->clients * o->frames / res.wall;
    res.ms_per_frame = 1e3 * per_frame / o->clients;
    return res;
}

/* GET /metrics from 127.0.0.1:port into buf (NUL-terminated); false when
 * nothing came back within 2 s. */
static bool get_metrics(int port, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {2, 0};
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    size_t len = 0;
    if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) &&
        !connect(fd, (struct sockaddr *)&a, sizeof a) &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        ssize_t r;
        while (len + 1 < cap && (r = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
            len += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    buf[len] = '\0';
    return len > 0;
}

/* The value of sample `name` (no labels) in a Prometheus text; NAN if absent. */
static double metric_in(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

/* `<this program> infer ...` on sock (metrics on 127.0.0.1:port); its pid,
 * or -1. */
static pid_t start_server(const opts *o, const char *sock, int port, const char *log)
{
    char exe[4096], batch[16], window[32], model[4200], imgsz[48], device[64], threads[48];
    char port_s[16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    snprintf(batch, sizeof batch, "%d", o->max_batch);
    snprintf(window, sizeof window, "%g", o->window_ms);
    snprintf(model, sizeof model, "model.path=%s", o->model);
    snprintf(imgsz, sizeof imgsz, "model.imgsz=%d", o->imgsz);
    snprintf(device, sizeof device, "model.device=%s", o->device);
    snprintf(threads, sizeof threads, "model.threads=0"); /* every core: one model */
    snprintf(port_s, sizeof port_s, "%d", port);
    char *argv[] = {exe,
                    "infer",
                    "--socket",
                    (char *)sock,
                    "--max-batch",
                    batch,
                    "--batch-window-ms",
                    window,
                    "--http-port",
                    port_s,
                    "--set",
                    model,
                    "--set",
                    imgsz,
                    "--set",
                    device,
                    "--set",
                    threads,
                    "--set",
                    "model.warmup_iterations=1",
                    NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker bench infer-share --model FILE [--clients K] [--frames N]\n"
            "                                          [--imgsz S] [--device cpu|cuda]\n"
            "                                          [--max-batch B] [--window-ms W]\n"
            "                                          [--threads T] [--size WxH]\n"
            "K processes detect on N frames each (NV12, --size, default 1280x720), first\n"
            "with one model each (--threads T each; default cores / K), then as clients of\n"
            "one `infer` server (all cores, batches of up to B = K frames, window W = 3\n"
            "ms). Prints frames/s over all clients, memory of all processes (sum of PSS;\n"
            "RSS sum too), ms per frame seen by a client, shared / copies ratios and a\n"
            "RESULT line.\n");
}

int ft_bench_infer_share(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opts o = {.device = "cpu",
              .clients = 4,
              .frames = 8,
              .imgsz = 0,
              .max_batch = 0,
              .threads = 0,
              .width = 1280,
              .height = 720,
              .window_ms = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(a, "--model") && v) {
            o.model = v;
        } else if (!strcmp(a, "--device") && v) {
            o.device = v;
        } else if (!strcmp(a, "--clients") && v) {
            ok = ft_parse_int(v, 1, MAX_CLIENTS, &o.clients);
        } else if (!strcmp(a, "--frames") && v) {
            ok = ft_parse_int(v, 1, 100000, &o.frames);
        } else if (!strcmp(a, "--imgsz") && v) {
            ok = ft_parse_int(v, 0, 2048, &o.imgsz);
        } else if (!strcmp(a, "--max-batch") && v) {
            ok = ft_parse_int(v, 1, FT_RFDETR_MAX_BATCH, &o.max_batch);
        } else if (!strcmp(a, "--threads") && v) {
            ok = ft_parse_int(v, 1, 256, &o.threads);
        } else if (!strcmp(a, "--window-ms") && v) {
            ok = ft_parse_double(v, 0, 1000, &o.window_ms);
        } else if (!strcmp(a, "--size") && v) {
            ok = ft_parse_size(v, &o.width, &o.height) && o.width >= 16 && o.height >= 16;
        } else {
            fprintf(stderr, "bench infer-share: unknown option or missing value: %s\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        if (!ok) {
            fprintf(stderr, "bench infer-share: bad value '%s' for %s\n", v ? v : "", a);
            return FT_EXIT_CONFIG;
        }
        i++;
    }
    if (!o.model) {
        fprintf(stderr, "bench infer-share: --model is required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    if (!o.max_batch)
        o.max_batch = o.clients;
    if (!o.threads)
        o.threads = cores / o.clients > 1 ? (int)(cores / o.clients) : 1;
    char sock[108], log[160];
    const char *tmp = getenv("TMPDIR");
    snprintf(sock, sizeof sock, "%s/ft-bench-infer-%d.sock", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    snprintf(log, sizeof log, "%s/ft-bench-infer-%d.log", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    printf("bench infer-share: %d clients x %d frames (%dx%d NV12), %s, model %s, imgsz %d\n",
           o.clients, o.frames, o.width, o.height, o.device, o.model, o.imgsz);

    result copies = run_children(&o, false, NULL);
    if (!copies.ok) {
        fprintf(stderr, "bench infer-share: the model copies failed (model %s)\n", o.model);
        return FT_EXIT_RUNTIME;
    }
    printf("copies: %d processes, one model each (%d threads each): %.2f frames/s, "
           "%.1f ms/frame per client, memory %.0f MiB (sum of PSS; RSS sum %.0f MiB)\n",
           o.clients, o.threads, copies.fps, copies.ms_per_frame, copies.pss_mib, copies.rss_mib);

    int port = ft_service_http_free_port();
    pid_t srv = port > 0 ? start_server(&o, sock, port, log) : -1;
    result shared = {0};
    double srv_rss = 0, srv_pss = 0;
    static char text[65536];
    text[0] = '\0';
    if (srv > 0) {
        shared = run_children(&o, true, sock);
        mem_mib(srv, &srv_rss, &srv_pss);
        if (!get_metrics(port, text, sizeof text))
            fprintf(stderr, "bench infer-share: no metrics from the server on port %d\n", port);
        kill(srv, SIGTERM);
        int st = 0;
        waitpid(srv, &st, 0);
    }
    if (!shared.ok) {
        fprintf(stderr, "bench infer-share: the shared server run failed (its log: %s)\n", log);
        return FT_EXIT_RUNTIME;
    }
    unlink(log);
    double pss = shared.pss_mib + srv_pss, rss = shared.rss_mib + srv_rss;
    printf("shared: 1 server (batches of up to %d, window %g ms) + %d clients: %.2f frames/s, "
           "%.1f ms/frame per client, memory %.0f MiB (server %.0f, clients %.0f; RSS sum "
           "%.0f MiB)\n",
           o.max_batch, o.window_ms, o.clients, shared.fps, shared.ms_per_frame, pss, srv_pss,
           shared.pss_mib, rss);
    double batches = metric_in(text, "ft_infer_batches_total");
    printf("server: %.0f batches, mean %.2f frames; per batch %.1f ms pre-processing, %.1f ms "
           "forward pass + post-processing; a frame waits %.2f ms for its batch to start\n",
           batches, metric_in(text, "ft_infer_batch_size_sum") / batches,
           1e3 * metric_in(text, "ft_infer_preprocess_seconds_sum") / batches,
           1e3 * metric_in(text, "ft_infer_forward_seconds_sum") / batches,
           1e3 * metric_in(text, "ft_infer_queue_wait_seconds_sum") /
               metric_in(text, "ft_infer_queue_wait_seconds_count"));
    printf("ratio shared/copies: frames/s %.2fx, memory %.2fx\n", shared.fps / copies.fps,
           pss / copies.pss_mib);
    printf("RESULT infer_share clients=%d copies_fps=%.3f shared_fps=%.3f copies_pss_mib=%.0f "
           "shared_pss_mib=%.0f fps_ratio=%.3f mem_ratio=%.3f\n",
           o.clients, copies.fps, shared.fps, copies.pss_mib, pss, shared.fps / copies.fps,
           pss / copies.pss_mib);
    return FT_EXIT_OK;
}
