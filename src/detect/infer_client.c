/* Client of the shared inference server: copy the frame into our shared
 * memory, send a request, wait (bounded) for the reply. See infer_client.h. */
#include "detect/infer_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define RETRY_NS 500000000LL /* reconnect attempts while the server is away */
#define ALIGN 64             /* plane and result-area alignment in the shared memory */

struct ft_infer_client {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int timeout_ms;
    int fd; /* connection; -1 while disconnected */
    ft_infer_hello model;
    int shm_fd; /* memfd; -1 until the first frame */
    uint8_t *shm;
    size_t shm_len;
    bool send_shm; /* the server has not got shm_fd on this connection yet */
    uint32_t seq;
    int64_t next_try_ns;       /* earliest reconnect */
    bool outage;               /* an outage is being reported (logged once) */
    _Atomic uint64_t failures; /* read by the metrics thread */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t align_up(size_t v)
{
    return (v + ALIGN - 1) / ALIGN * ALIGN;
}

/* Waits until fd is readable or timeout_ms passed; false on timeout/error. */
static bool wait_readable(int fd, int timeout_ms)
{
    int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = (end - now_ns()) / 1000000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

static void disconnect(ft_infer_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* One connection attempt: connect and read the hello. errno-style reason in
 * why on failure. */
static bool try_connect(ft_infer_client *c, char *why, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, c->path, strlen(c->path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        snprintf(why, cap, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    ft_infer_hello h;
    ssize_t got = wait_readable(fd, c->timeout_ms) ? recv(fd, &h, sizeof h, 0) : -1;
    if (got != (ssize_t)sizeof h || h.magic != FT_INFER_MAGIC) {
        snprintf(why, cap, "no greeting from the server within %d ms", c->timeout_ms);
        close(fd);
        return false;
    }
    if (h.status != FT_OK) {
        snprintf(why, cap, "refused: %s", ft_status_str((ft_status)h.status));
        close(fd);
        return false;
    }
    c->model = h;
    c->fd = fd;
    c->send_shm = true; /* a new connection has no shared memory of ours yet */
    return true;
}

/* Makes the shared memory at least `need` bytes (a new memfd, handed to
 * the server with the next request). */
static ft_status shm_reserve(ft_infer_client *c, size_t need)
{
    if (need <= c->shm_len)
        return FT_OK;
    size_t len = align_up(need + need / 4); /* room for a slightly larger frame */
    /* Sealed against shrinking: the server maps it and must never fault. */
    int fd = memfd_create("ft-infer-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)len) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL)) {
        FT_LOGE("infer", "shared memory of %zu bytes: %s", len, strerror(errno));
        if (fd >= 0)
            close(fd);
        return FT_ERR_NOMEM;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        FT_LOGE("infer", "mapping %zu bytes of shared memory: %s", len, strerror(errno));
        close(fd);
        return FT_ERR_NOMEM;
    }
    if (c->shm)
        munmap(c->shm, c->shm_len);
    if (c->shm_fd >= 0)
        close(c->shm_fd);
    c->shm = p;
    c->shm_len = len;
    c->shm_fd = fd;
    c->send_shm = true;
    return FT_OK;
}

/* Records an unanswered frame: logged once per outage; the connection is
 * closed and tried again after RETRY_NS. */
static ft_status unavailable(ft_infer_client *c, const char *why)
{
    c->failures++;
    if (!c->outage)
        FT_LOGW("infer",
                "inference server %s unavailable (%s): frames get no detections "
                "until it is back",
                c->path, why);
    c->outage = true;
    disconnect(c);
    c->next_try_ns = now_ns() + RETRY_NS;
    return FT_ERR_AGAIN;
}

static ft_status send_request(ft_infer_client *c, ft_infer_request *rq)
{
    struct iovec iov = {.iov_base = rq, .iov_len = sizeof *rq};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (c->send_shm) {
        rq->flags |= FT_INFER_NEW_SHM;
        memset(&ctl, 0, sizeof ctl);
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &c->shm_fd, sizeof(int));
    }
    ssize_t r;
    do
        r = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof *rq)
        return FT_ERR_IO;
    c->send_shm = false;
    return FT_OK;
}

ft_status ft_detect_infer_client_detect(ft_infer_client *c, const ft_image *frame, float threshold,
                                        ft_rfdetr_det *out, int cap, int *n)
{
    *n = 0;
    int64_t row[3], rows[3];
    int planes = 0;
    for (int i = 0; i < 3; i++)
        planes = ft_infer_plane_geometry(frame->format, frame->width, frame->height, i, &row[i],
                                         &rows[i]);
    if (!planes || frame->width <= 0 || frame->height <= 0) {
        FT_LOGE("infer", "frame %dx%d of format %d cannot be sent", frame->width, frame->height,
                (int)frame->format);
        return FT_ERR_INVALID;
    }
    if (c->fd < 0) {
        if (now_ns() < c->next_try_ns) {
            c->failures++; /* too soon to try again */
            return FT_ERR_AGAIN;
        }
        char why[160];
        if (!try_connect(c, why, sizeof why))
            return unavailable(c, why);
        FT_LOGI("infer", "connected to the inference server %s again", c->path);
        c->outage = false;
    }
    /* Layout: results, then each plane packed (stride = row bytes). */
    int res_cap = c->model.num_select > 0 ? c->model.num_select : 0;
    ft_infer_request rq = {.magic = FT_INFER_MAGIC,
                           .seq = ++c->seq,
                           .width = frame->width,
                           .height = frame->height,
                           .format = (int32_t)frame->format,
                           .threshold = threshold,
                           .result_cap = res_cap};
    size_t off = align_up((size_t)res_cap * sizeof(ft_rfdetr_det));
    for (int i = 0; i < planes; i++) {
        rq.offset[i] = off;
        rq.stride[i] = (int32_t)row[i];
        off = align_up(off + (size_t)(row[i] * rows[i]));
    }
    ft_status st = shm_reserve(c, off);
    if (st)
        return st;
    for (int i = 0; i < planes; i++)
        for (int64_t y = 0; y < rows[i]; y++)
            memcpy(c->shm + rq.offset[i] + (size_t)(y * row[i]),
                   frame->data[i] + (size_t)y * (size_t)frame->stride[i], (size_t)row[i]);
    if (send_request(c, &rq))
        return unavailable(c, "connection lost");
    ft_infer_reply rp;
    for (;;) {
        if (!wait_readable(c->fd, c->timeout_ms))
            return unavailable(c, "no reply in time");
        ssize_t got = recv(c->fd, &rp, sizeof rp, 0);
        if (got != (ssize_t)sizeof rp || rp.magic != FT_INFER_MAGIC)
            return unavailable(c, got == 0 ? "connection closed" : "connection lost");
        if (rp.seq == rq.seq)
            break;
    }
    if (rp.status != FT_OK) {
        if (rp.status == FT_ERR_INVALID) {
            FT_LOGE("infer", "the inference server refused a %dx%d frame", frame->width,
                    frame->height);
            return FT_ERR_INVALID;
        }
        char why[96];
        snprintf(why, sizeof why, "forward pass failed: %s", ft_status_str((ft_status)rp.status));
        return unavailable(c, why);
    }
    int cnt = rp.n < 0 ? 0 : rp.n > res_cap ? res_cap : rp.n;
    cnt = cnt < cap ? cnt : cap;
    memcpy(out, c->shm, (size_t)cnt * sizeof *out);
    *n = cnt;
    return FT_OK;
}

const ft_infer_hello *ft_detect_infer_client_model(const ft_infer_client *c)
{
    return &c->model;
}

uint64_t ft_detect_infer_client_failures(const ft_infer_client *c)
{
    return atomic_load(&c->failures);
}

void ft_detect_infer_client_destroy(ft_infer_client **pc)
{
    ft_infer_client *c = *pc;
    if (!c)
        return;
    disconnect(c);
    if (c->shm)
        munmap(c->shm, c->shm_len);
    if (c->shm_fd >= 0)
        close(c->shm_fd);
    free(c);
    *pc = NULL;
}

ft_status ft_detect_infer_socket_check(const char *path, const char *what, bool *exists)
{
    *exists = false;
    if (!path || !path[0]) {
        FT_LOGE("infer", "%s: no socket path given", what);
        return FT_ERR_CONFIG;
    }
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        FT_LOGE("infer", "%s %s: longer than a unix socket path may be (%zu bytes)", what, path,
                sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return FT_ERR_CONFIG;
    }
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1,
             slash ? path : ".");
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
        FT_LOGE("infer", "%s %s: folder %s does not exist", what, path, dir);
        return FT_ERR_CONFIG;
    }
    if (!lstat(path, &sb)) {
        if (!S_ISSOCK(sb.st_mode)) {
            FT_LOGE("infer", "%s %s: exists and is not a unix socket", what, path);
            return FT_ERR_CONFIG;
        }
        *exists = true;
    }
    return FT_OK;
}

ft_status ft_detect_infer_client_create(const ft_infer_client_params *p, ft_infer_client **out)
{
    *out = NULL;
    /* A path that can never work is told at once; a server that is merely
     * not (yet) listening is waited for. */
    bool exists;
    ft_status st = ft_detect_infer_socket_check(p->socket_path, "model.server", &exists);
    if (st)
        return st;
    ft_infer_client *c = calloc(1, sizeof *c);
    if (!c)
        return FT_ERR_NOMEM;
    snprintf(c->path, sizeof c->path, "%s", p->socket_path);
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 1000;
    c->fd = c->shm_fd = -1;
    int64_t end = now_ns() + (int64_t)(p->connect_wait_ms > 0 ? p->connect_wait_ms : 0) * 1000000;
    char why[160];
    while (!try_connect(c, why, sizeof why)) {
        if (now_ns() >= end) {
            FT_LOGE("infer", "no inference server at %s: %s", c->path, why);
            st = FT_ERR_RUNTIME;
            goto out;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    FT_LOGI("infer", "inference server %s: %d px input, batches of up to %d frames", c->path,
            c->model.input_size, c->model.max_batch);
    *out = c;
out:
    if (st)
        ft_detect_infer_client_destroy(&c);
    return st;
}

/* ---- detector adapter ---- */

typedef struct infer_detector {
    ft_detector base;
    ft_infer_client *c;
    ft_rfdetr_thresholds th;
    int ball_class_id; /* -1: the server's automatic choice, read per frame */
    ft_rfdetr_det *dets;
    int cap;
} infer_detector;

static ft_status id_detect(ft_detector *d, const ft_image *frame, double pts_s, ft_detection *out,
                           int cap, int *n)
{
    (void)pts_s;
    infer_detector *r = (infer_detector *)d;
    *n = 0;
    int nd = 0;
    ft_status st =
        ft_detect_infer_client_detect(r->c, frame, r->th.confidence, r->dets, r->cap, &nd);
    if (st == FT_ERR_AGAIN)
        return FT_OK; /* no detections this frame; the tracker predicts */
    if (st)
        return st;
    int ball = r->ball_class_id >= 0 ? r->ball_class_id : r->c->model.ball_class_auto;
    *n = ft_rfdetr_ball_candidates(r->dets, nd, ball, r->th.iou, out, cap);
    return FT_OK;
}

static ft_status id_set_param(ft_detector *d, const char *key, double value)
{
    return ft_rfdetr_thresholds_set(&((infer_detector *)d)->th, key, value);
}

static uint64_t id_unavailable(const ft_detector *d)
{
    return ft_detect_infer_client_failures(((const infer_detector *)d)->c);
}

static void id_destroy(ft_detector *d)
{
    infer_detector *r = (infer_detector *)d;
    ft_detect_infer_client_destroy(&r->c);
    free(r->dets);
    free(r);
}

static const ft_detector_vtable id_vt = {
    .name = "shared",
    .detect = id_detect,
    .set_param = id_set_param,
    .destroy = id_destroy,
    .unavailable = id_unavailable,
};

ft_status ft_detect_infer_detector_create(const ft_infer_detector_params *p, ft_detector **out)
{
    *out = NULL;
    const ft_rfdetr_thresholds th = {p->confidence, p->iou_threshold};
    if (ft_rfdetr_thresholds_check(&th, "infer"))
        return FT_ERR_CONFIG;
    infer_detector *r = calloc(1, sizeof *r);
    if (!r)
        return FT_ERR_NOMEM;
    r->base.vt = &id_vt;
    r->th = th;
    r->ball_class_id = p->ball_class_id;
    /* The result buffer holds every detection a frame may return; a server
     * restarted with a larger model is truncated to it. */
    ft_status st = ft_detect_infer_client_create(&p->client, &r->c);
    if (st)
        goto out;
    r->cap = r->c->model.num_select > 0 ? r->c->model.num_select : 1;
    r->dets = malloc(sizeof(*r->dets) * (size_t)r->cap);
    if (!r->dets) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    *out = &r->base;
out:
    if (st)
        id_destroy(&r->base);
    return st;
}
