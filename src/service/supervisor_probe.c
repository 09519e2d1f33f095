/* Minimal HTTP/1.0 GETs to the workers on 127.0.0.1, all in flight at once:
 * one stuck worker costs the round its timeout once, not once per worker,
 * and a hundred workers are probed in the time of the slowest answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "service/supervisor_internal.h"

#define MAX_INFLIGHT 512

typedef struct conn {
    int fd;
    char req[256];
    size_t req_len, sent, got;
    bool done;
} conn;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Status line and body of a complete response in r->buf. */
static void parse_response(ft_serve_get *r, size_t got)
{
    r->buf[got] = '\0';
    int code = 0;
    if (got < 12 || strncmp(r->buf, "HTTP/1.", 7) || sscanf(r->buf + 9, "%3d", &code) != 1)
        return;
    char *body = strstr(r->buf, "\r\n\r\n");
    if (!body)
        return;
    r->code = code;
    r->body = body + 4;
    r->body_len = got - (size_t)(r->body - r->buf);
}

void ft_serve_get_all(ft_serve_get *reqs, int n, int timeout_ms)
{
    if (n > MAX_INFLIGHT)
        n = MAX_INFLIGHT;
    conn c[MAX_INFLIGHT];
    struct pollfd pf[MAX_INFLIGHT];
    int idx[MAX_INFLIGHT];
    for (int i = 0; i < n; i++) {
        reqs[i].code = 0;
        reqs[i].body = NULL;
        reqs[i].body_len = 0;
        c[i] = (conn){.fd = open_conn(reqs[i].port)};
        c[i].done = c[i].fd < 0;
        int m = snprintf(c[i].req, sizeof c[i].req,
                         "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                         reqs[i].path);
        c[i].req_len = m > 0 && (size_t)m < sizeof c[i].req ? (size_t)m : 0;
        c[i].done = c[i].done || c[i].req_len == 0;
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int np = 0;
        for (int i = 0; i < n; i++) {
            if (c[i].done)
                continue;
            pf[np] = (struct pollfd){.fd = c[i].fd,
                                     .events = c[i].sent < c[i].req_len ? POLLOUT : POLLIN};
            idx[np++] = i;
        }
        int64_t left = deadline - now_ms();
        if (np == 0 || left <= 0)
            break;
        int r = poll(pf, (nfds_t)np, (int)left);
        if (r < 0 && errno != EINTR)
            break;
        for (int k = 0; r > 0 && k < np; k++) {
            if (!pf[k].revents)
                continue;
            conn *cc = &c[idx[k]];
            ft_serve_get *rq = &reqs[idx[k]];
            if (cc->sent < cc->req_len) {
                ssize_t w = send(cc->fd, cc->req + cc->sent, cc->req_len - cc->sent, MSG_NOSIGNAL);
                if (w > 0)
                    cc->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    cc->done = true; /* refused: the worker is not listening */
                continue;
            }
            if (cc->got + 1 >= rq->cap) { /* too large for the buffer: no answer */
                cc->done = true;
                continue;
            }
            ssize_t got = recv(cc->fd, rq->buf + cc->got, rq->cap - 1 - cc->got, 0);
            if (got > 0) {
                cc->got += (size_t)got;
            } else if (got == 0) {
                parse_response(rq, cc->got);
                cc->done = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                cc->done = true;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (c[i].fd >= 0)
            close(c[i].fd);
}
