/* The shared inference server: one poll loop over a unix socket, batches
 * formed from the clients' pending frames. See infer_server.h. */
#include "service/infer_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "detect/infer_client.h"
#include "detect/infer_proto.h"
#include "service/metrics.h"

#define MAX_SIDE 16384 /* largest frame side accepted */

typedef struct conn {
    int fd; /* -1: free slot */
    uint8_t *map;
    size_t map_len;
    bool pending; /* rq holds a frame waiting for a batch */
    ft_infer_request rq;
    int64_t t_ns; /* when rq arrived */
    ft_image img; /* view of rq's frame in map */
} conn;

struct ft_service_infer {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ft_rfdetr *m;
    int max_batch, max_clients;
    int64_t window_ns;
    int listen_fd, wake_fd;
    atomic_bool stop;
    conn *c;
    struct pollfd *pfd;      /* [0] listen, [1] wake, [2 + i] client i */
    const ft_image **frames; /* one batch's frame views */
    int *sel;                /* one batch's client indices */
    int n_clients, n_pending, rr;
    ft_infer_hello hello;
    ft_metrics *reg;
    ft_metric *m_clients, *m_frames, *m_batches, *m_errors, *m_batch, *m_wait, *m_pre, *m_forward;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- connections ---- */

static void conn_drop(ft_service_infer *s, int i)
{
    conn *c = &s->c[i];
    if (c->fd < 0)
        return;
    close(c->fd);
    if (c->map)
        munmap(c->map, c->map_len);
    if (c->pending)
        s->n_pending--;
    *c = (conn){.fd = -1};
    s->n_clients--;
    ft_service_metric_set(s->m_clients, s->n_clients);
    FT_LOGI("infer", "client %d left (%d connected)", i, s->n_clients);
}

static void reply(ft_service_infer *s, int i, ft_status st, int n)
{
    ft_infer_reply r = {FT_INFER_MAGIC, s->c[i].rq.seq, st, n};
    if (send(s->c[i].fd, &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof r)
        conn_drop(s, i); /* gone, or not reading its replies */
}

static void accept_clients(ft_service_infer *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: all taken */
        int i = 0;
        while (i < s->max_clients && s->c[i].fd >= 0)
            i++;
        ft_infer_hello h = s->hello;
        if (i == s->max_clients) {
            FT_LOGW("infer", "client refused: all %d slots are taken", s->max_clients);
            h.status = FT_ERR_AGAIN;
            (void)send(fd, &h, sizeof h, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        if (send(fd, &h, sizeof h, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof h) {
            close(fd);
            continue;
        }
        s->c[i] = (conn){.fd = fd};
        s->n_clients++;
        ft_service_metric_set(s->m_clients, s->n_clients);
        FT_LOGI("infer", "client %d connected (%d connected)", i, s->n_clients);
    }
}

/* Checks a request against the client's shared memory and builds the frame
 * view; false for anything that would read or write outside it. */
static bool request_valid(conn *c)
{
    const ft_infer_request *q = &c->rq;
    if (!c->map || q->width < 1 || q->height < 1 || q->width > MAX_SIDE || q->height > MAX_SIDE ||
        q->result_cap < 0 || !(q->threshold >= 0.0f))
        return false;
    uint64_t res_end = (uint64_t)q->result_cap * sizeof(ft_rfdetr_det);
    if (res_end > c->map_len)
        return false;
    c->img = (ft_image){.width = q->width, .height = q->height, .format = (ft_pixfmt)q->format};
    int planes = 0;
    for (int p = 0; p < 3; p++) {
        int64_t row, rows;
        planes = ft_infer_plane_geometry(q->format, q->width, q->height, p, &row, &rows);
        if (p >= planes)
            break;
        uint64_t off = q->offset[p];
        if (q->stride[p] < row || off < res_end || off > c->map_len ||
            (uint64_t)q->stride[p] * (uint64_t)(rows - 1) + (uint64_t)row > c->map_len - off)
            return false;
        c->img.data[p] = c->map + off;
        c->img.stride[p] = q->stride[p];
    }
    return planes > 0;
}

/* Reads one message of client i: a frame request, maybe with new shared
 * memory; end of file or a protocol error drops the client. */
static void receive(ft_service_infer *s, int i, int64_t now)
{
    conn *c = &s->c[i];
    ft_infer_request rq;
    struct iovec iov = {.iov_base = &rq, .iov_len = sizeof rq};
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t got = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* Every descriptor that came along is ours to close, except the one kept. */
    int shm = -1;
    for (struct cmsghdr *cm = got > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm;
         cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < nfd; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof fd);
            if (shm < 0)
                shm = fd;
            else
                close(fd);
        }
    }
    if (got != (ssize_t)sizeof rq || rq.magic != FT_INFER_MAGIC || c->pending) {
        if (got > 0) {
            FT_LOGW("infer", "client %d: protocol error; dropped", i);
            ft_service_metric_add(s->m_errors, 1);
        }
        if (shm >= 0)
            close(shm);
        conn_drop(s, i);
        return;
    }
    c->rq = rq;
    if (rq.flags & FT_INFER_NEW_SHM) {
        /* Only memory sealed against shrinking: a client that truncated a
         * mapped file would make the server's reads fault (SIGBUS). */
        struct stat sb;
        void *p = MAP_FAILED;
        int seals = shm >= 0 ? fcntl(shm, F_GET_SEALS) : -1;
        if (seals >= 0 && (seals & F_SEAL_SHRINK) && !fstat(shm, &sb) && sb.st_size > 0)
            p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
        if (shm >= 0)
            close(shm); /* the mapping keeps the memory */
        if (p == MAP_FAILED) {
            FT_LOGW("infer",
                    "client %d: its shared memory is missing, not sealed against shrinking "
                    "or cannot be mapped; dropped",
                    i);
            ft_service_metric_add(s->m_errors, 1);
            conn_drop(s, i);
            return;
        }
        if (c->map)
            munmap(c->map, c->map_len);
        c->map = p;
        c->map_len = (size_t)sb.st_size;
    } else if (shm >= 0) {
        close(shm);
    }
    if (!request_valid(c)) {
        FT_LOGW("infer", "client %d: invalid frame request (%dx%d, format %d)", i, rq.width,
                rq.height, rq.format);
        ft_service_metric_add(s->m_errors, 1);
        reply(s, i, FT_ERR_INVALID, 0);
        return;
    }
    c->pending = true;
    c->t_ns = now;
    s->n_pending++;
}

/* The oldest waiting request's arrival, 0 when none waits. */
static int64_t oldest_pending(const ft_service_infer *s)
{
    int64_t t = 0;
    for (int i = 0; i < s->max_clients; i++)
        if (s->c[i].fd >= 0 && s->c[i].pending && (!t || s->c[i].t_ns < t))
            t = s->c[i].t_ns;
    return t;
}

/* One forward pass over up to max_batch waiting frames, taken round-robin
 * from the client after the last one served. A failed pass (requests are
 * validated, so a GPU error) is answered with its status and returned. */
static ft_status run_batch(ft_service_infer *s)
{
    int n = 0;
    for (int k = 0; k < s->max_clients && n < s->max_batch; k++) {
        int i = (s->rr + k) % s->max_clients;
        if (s->c[i].fd >= 0 && s->c[i].pending) {
            s->sel[n] = i;
            s->frames[n++] = &s->c[i].img;
        }
    }
    if (!n)
        return FT_OK;
    s->rr = (s->sel[n - 1] + 1) % s->max_clients;
    int64_t t0 = now_ns();
    for (int j = 0; j < n; j++)
        ft_service_metric_observe(s->m_wait, (double)(t0 - s->c[s->sel[j]].t_ns) * 1e-9);
    ft_status st = ft_rfdetr_preprocess_batch(s->m, s->frames, n);
    int64_t t1 = now_ns();
    ft_service_metric_observe(s->m_pre, (double)(t1 - t0) * 1e-9);
    if (!st)
        st = ft_rfdetr_forward(s->m);
    if (st) {
        FT_LOGE("infer", "forward pass of %d frame(s) failed: %s", n, ft_status_str(st));
        ft_service_metric_add(s->m_errors, 1);
    }
    for (int j = 0; j < n; j++) {
        int i = s->sel[j];
        conn *c = &s->c[i];
        int nd = 0;
        if (!st)
            ft_rfdetr_postprocess_image(s->m, j, c->rq.width, c->rq.height, c->rq.threshold,
                                        (ft_rfdetr_det *)c->map, c->rq.result_cap, &nd);
        c->pending = false;
        s->n_pending--;
        reply(s, i, st, nd);
    }
    ft_service_metric_observe(s->m_forward, (double)(now_ns() - t1) * 1e-9);
    ft_service_metric_observe(s->m_batch, n);
    ft_service_metric_add(s->m_frames, n);
    ft_service_metric_add(s->m_batches, 1);
    return st;
}

ft_status ft_service_infer_run(ft_service_infer *s)
{
    FT_LOGI("infer", "serving on %s: batches of up to %d frames, window %.1f ms", s->path,
            s->max_batch, (double)s->window_ns * 1e-6);
    while (!atomic_load(&s->stop)) {
        int64_t first = s->n_pending ? oldest_pending(s) : 0, now = now_ns();
        int timeout = -1;
        if (first) {
            int64_t left = first + s->window_ns - now;
            timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        }
        /* Clients with a frame waiting are not polled: one request each. */
        for (int i = 0; i < s->max_clients; i++)
            s->pfd[2 + i] = (struct pollfd){
                .fd = s->c[i].fd >= 0 && !s->c[i].pending ? s->c[i].fd : -1, .events = POLLIN};
        int r = poll(s->pfd, (nfds_t)s->max_clients + 2, timeout);
        if (r < 0 && errno != EINTR) {
            FT_LOGE("infer", "poll: %s", strerror(errno));
            return FT_ERR_RUNTIME;
        }
        now = now_ns();
        if (r > 0) {
            if (s->pfd[0].revents)
                accept_clients(s);
            for (int i = 0; i < s->max_clients; i++)
                if (s->pfd[2 + i].revents && s->c[i].fd >= 0)
                    receive(s, i, now);
        }
        first = s->n_pending ? oldest_pending(s) : 0;
        while (s->n_pending >= s->max_batch || (first && now_ns() >= first + s->window_ns)) {
            ft_status st = run_batch(s);
            if (st) {
                /* The model's device is in trouble: end, so that a new process
                 * (serve restarts it) starts from a clean context. */
                FT_LOGE("infer", "stopping after a failed forward pass");
                return st;
            }
            first = s->n_pending ? oldest_pending(s) : 0;
        }
    }
    FT_LOGI("infer", "stopping");
    return FT_OK;
}

void ft_service_infer_stop(ft_service_infer *s)
{
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    ssize_t r = write(s->wake_fd, &one, sizeof one);
    (void)r; /* the counter is already set when it fails */
}

ft_status ft_service_infer_metrics(ft_service_infer *s, char *buf, size_t cap, size_t *len)
{
    return ft_service_metrics_render(s->reg, buf, cap, len);
}

/* ---- set-up ---- */

static ft_status add_metrics(ft_service_infer *s)
{
    static const double batch_b[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    static const double wait_b[] = {0.0005, 0.001, 0.002, 0.004, 0.008, 0.016,
                                    0.032,  0.064, 0.128, 0.256, 0.512, 1.024};
    static const double fwd_b[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                                   0.2,   0.5,   1,     2,    5,    10};
    ft_status st = ft_service_metrics_create(&s->reg);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_clients", NULL,
                                    "Stream workers connected to the inference server.",
                                    FT_METRIC_GAUGE, NULL, 0, &s->m_clients);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_frames_total", NULL,
                                    "Frames run through the shared model.", FT_METRIC_COUNTER, NULL,
                                    0, &s->m_frames);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_batches_total", NULL,
                                    "Forward passes (batches) run.", FT_METRIC_COUNTER, NULL, 0,
                                    &s->m_batches);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_errors_total", NULL,
                                    "Invalid requests, protocol errors and failed forward passes.",
                                    FT_METRIC_COUNTER, NULL, 0, &s->m_errors);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_batch_size", NULL, "Frames per forward pass.",
                                    FT_METRIC_HISTOGRAM, batch_b,
                                    (int)(sizeof batch_b / sizeof *batch_b), &s->m_batch);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_queue_wait_seconds", NULL,
                                    "Time a frame waited for its batch to start.",
                                    FT_METRIC_HISTOGRAM, wait_b,
                                    (int)(sizeof wait_b / sizeof *wait_b), &s->m_wait);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_preprocess_seconds", NULL,
                                    "Pre-processing of one batch's frames into the model input.",
                                    FT_METRIC_HISTOGRAM, fwd_b, (int)(sizeof fwd_b / sizeof *fwd_b),
                                    &s->m_pre);
    if (!st)
        st = ft_service_metrics_add(s->reg, "ft_infer_forward_seconds", NULL,
                                    "One batch's forward pass and post-processing.",
                                    FT_METRIC_HISTOGRAM, fwd_b, (int)(sizeof fwd_b / sizeof *fwd_b),
                                    &s->m_forward);
    return st;
}

/* Checks the socket path before the model is loaded: a bad path is told at
 * once, not after a long load. A file left by a server that died is
 * removed; a live server or a file that is not a socket is refused. */
static ft_status socket_check(ft_service_infer *s, const char *path)
{
    bool exists;
    ft_status st = ft_detect_infer_socket_check(path, "socket path", &exists);
    if (st)
        return st;
    if (exists) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        memcpy(a.sun_path, path, strlen(path) + 1);
        int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof a);
        if (probe >= 0)
            close(probe);
        if (live) {
            FT_LOGE("infer", "socket path %s: another inference server is listening there", path);
            return FT_ERR_CONFIG;
        }
        unlink(path);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    return FT_OK;
}

/* Listens once the model is loaded, so clients never wait on a server that
 * cannot answer yet: until then they are refused at once. */
static ft_status socket_listen(ft_service_infer *s)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, s->path, strlen(s->path) + 1);
    s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) ||
        listen(s->listen_fd, 64)) {
        int e = errno;
        FT_LOGE("infer", "socket path %s: cannot listen: %s", s->path, strerror(e));
        s->path[0] = '\0'; /* not ours to remove */
        return e == EACCES || e == EADDRINUSE || e == ENOENT ? FT_ERR_CONFIG : FT_ERR_RUNTIME;
    }
    return FT_OK;
}

ft_status ft_service_infer_create(const ft_service_infer_params *p, ft_service_infer **out)
{
    *out = NULL;
    if (!(p->batch_window_ms >= 0 && p->batch_window_ms <= 1000) || p->max_clients < 0 ||
        p->max_clients > FT_INFER_MAX_CLIENTS) {
        FT_LOGE("infer", "batch window %g ms (0..1000) or %d clients (0..%d) out of range",
                p->batch_window_ms, p->max_clients, FT_INFER_MAX_CLIENTS);
        return FT_ERR_CONFIG;
    }
    ft_service_infer *s = calloc(1, sizeof *s);
    if (!s)
        return FT_ERR_NOMEM;
    s->listen_fd = s->wake_fd = -1;
    s->max_clients = p->max_clients ? p->max_clients : 64;
    s->max_batch = p->model.max_batch > 0 ? p->model.max_batch : 1;
    s->window_ns = (int64_t)(p->batch_window_ms * 1e6);
    ft_status st = FT_OK;
    s->c = calloc((size_t)s->max_clients, sizeof *s->c);
    s->pfd = calloc((size_t)s->max_clients + 2, sizeof *s->pfd);
    s->frames = calloc((size_t)s->max_batch, sizeof *s->frames);
    s->sel = calloc((size_t)s->max_batch, sizeof *s->sel);
    if (!s->c || !s->pfd || !s->frames || !s->sel) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < s->max_clients; i++)
        s->c[i].fd = -1;
    if ((st = socket_check(s, p->socket_path)) || (st = add_metrics(s)))
        goto out;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        FT_LOGE("infer", "eventfd: %s", strerror(errno));
        st = FT_ERR_RUNTIME;
        goto out;
    }
    if ((st = ft_rfdetr_create(&p->model, &s->m)) || (st = socket_listen(s)))
        goto out;
    s->hello = (ft_infer_hello){.magic = FT_INFER_MAGIC,
                                .status = FT_OK,
                                .input_size = ft_rfdetr_input_size(s->m),
                                .num_select = ft_rfdetr_arch_get(s->m)->num_select,
                                .num_classes = ft_rfdetr_arch_get(s->m)->num_classes,
                                .ball_class_auto = ft_rfdetr_ball_class_auto(s->m),
                                .max_batch = s->max_batch};
    s->pfd[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    s->pfd[1] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    *out = s;
out:
    if (st)
        ft_service_infer_destroy(&s);
    return st;
}

void ft_service_infer_destroy(ft_service_infer **ps)
{
    ft_service_infer *s = *ps;
    if (!s)
        return;
    for (int i = 0; s->c && i < s->max_clients; i++)
        if (s->c[i].fd >= 0) {
            close(s->c[i].fd);
            if (s->c[i].map)
                munmap(s->c[i].map, s->c[i].map_len);
        }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        if (s->path[0])
            unlink(s->path);
    }
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    ft_rfdetr_destroy(&s->m);
    ft_service_metrics_destroy(&s->reg);
    free(s->c);
    free(s->pfd);
    free(s->frames);
    free(s->sel);
    free(s);
    *ps = NULL;
}
