/* A minimal HTTP/1.0 client: enough for one POST, nothing kept open. */
#include "service/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

/* Splits http://host[:port][/path] into its parts. */
static bool parse(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                  const char **path)
{
    if (strncmp(url, "http://", 7))
        return false;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    const char *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    if (hend == h || (size_t)(hend - h) >= hcap || memchr(h, '@', (size_t)(end - h)))
        return false;
    snprintf(host, hcap, "%.*s", (int)(hend - h), h);
    if (colon) {
        if ((size_t)(end - colon - 1) >= pcap || end == colon + 1)
            return false;
        snprintf(port, pcap, "%.*s", (int)(end - colon - 1), colon + 1);
        for (const char *c = port; *c; c++)
            if (*c < '0' || *c > '9')
                return false;
    } else {
        snprintf(port, pcap, "80");
    }
    *path = slash ? slash : "/";
    for (const char *c = *path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return false; /* no header injection through the path */
    return true;
}

bool ft_service_webhook_url_ok(const char *url)
{
    char host[256], port[8];
    const char *path;
    return parse(url, host, sizeof host, port, sizeof port, &path);
}

/* Waits for the socket to become readable or writable. */
static bool wait_fd(int fd, short ev, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    return r == 1;
}

ft_status ft_service_webhook_post(const char *url, const char *json, int timeout_ms)
{
    char host[256], port[8], clean[512];
    const char *path;
    if (!parse(url, host, sizeof host, port, sizeof port, &path))
        return FT_ERR_CONFIG;
    ft_log_sanitize(url, clean, sizeof clean);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) || !ai) {
        FT_LOGW("service", "alert webhook %s: cannot resolve the host", clean);
        return FT_ERR_IO;
    }
    ft_status st = FT_ERR_IO;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        goto out;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)
        goto out;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (!wait_fd(fd, POLLOUT, timeout_ms) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ||
        soerr)
        goto out;
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "User-Agent: football-tracker\r\nContent-Length: %zu\r\n\r\n%s",
                     path, host, strlen(json), json);
    if (n < 0 || (size_t)n >= sizeof req)
        goto out;
    for (int off = 0; off < n;) {
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, timeout_ms))
            continue;
        if (w <= 0)
            goto out;
        off += (int)w;
    }
    char resp[64] = "";
    if (wait_fd(fd, POLLIN, timeout_ms)) {
        ssize_t r = recv(fd, resp, sizeof resp - 1, 0);
        resp[r > 0 ? r : 0] = '\0';
    }
    /* "HTTP/1.x 2xx" */
    if (strlen(resp) > 9 && resp[9] == '2')
        st = FT_OK;
out:
    if (st)
        FT_LOGW("service", "alert webhook %s: not delivered (no 2xx answer)", clean);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return st;
}
