/* RTMP listen gate (service/rtmp_gate.h). One thread polls the public
 * socket and at most one session (client + internal connection). Until the
 * publish is verified, each block read from the client is parsed before it is
 * forwarded; the block that completes a command is held back if the command
 * fails the check. After that the session is a plain relay. */
#include "service/rtmp_gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "io/reader.h"

#define MAX_CIDRS 32
#define HANDSHAKE_BYTES (1 + 1536 + 1536) /* C0, C1, C2 */
#define MAX_CHUNK 65536                   /* largest chunk size a client may set */
#define MAX_MSG 65536                     /* largest message before the publish */
#define MAX_CMD 4096                      /* largest command message kept for parsing */
#define MAX_PREAUTH (1 << 20)             /* client bytes allowed before the publish */
#define MAX_CSIDS 8                       /* chunk streams tracked before the publish */
#define RELAY_BUF 65536
#define INTERNAL_WAIT_MS 3000 /* for libavformat to listen again */

typedef struct {
    uint32_t net, mask; /* host byte order */
} cidr;

typedef struct {
    int csid;
    uint32_t len, got;
    uint8_t type;
    bool ext_ts; /* the message's first chunk had an extended timestamp */
    uint8_t msg[MAX_CMD];
} chunk_stream;

typedef enum { P_MORE, P_OK, P_REFUSE_KEY, P_REFUSE_PROTO } parse_result;

/* Parser of the client->server direction until the publish. */
typedef struct {
    uint32_t hs_left;
    uint32_t chunk_size;
    uint64_t total;
    chunk_stream cs[MAX_CSIDS];
    int n_cs;
    bool connected;                       /* `connect` with the right app seen */
    uint8_t pend[3 + 11 + 4 + MAX_CHUNK]; /* unparsed tail: at most one chunk */
    size_t n_pend;
} parser;

struct ft_rtmp_gate {
    char app[256];
    char token[FT_RTMP_GATE_MAX_TOKEN + 1];
    size_t token_len;
    cidr allow[MAX_CIDRS];
    int n_allow;
    int timeout_ms;
    int lfd, port, internal_port;
    char internal_url[600];
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int_fast64_t n_accepted, n_addr, n_key, n_proto;
    /* session (gate thread only) */
    int cfd, ifd;
    bool verified;
    char peer[INET_ADDRSTRLEN];
    int64_t deadline_ns, last_rx_ns;
    parser ps;
    uint8_t buf[RELAY_BUF];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- configuration ---- */

static ft_status parse_allow(ft_rtmp_gate *g, const char *list)
{
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (!n)
            break;
        char item[64], *slash;
        if (n >= sizeof item || g->n_allow == MAX_CIDRS) {
            FT_LOGE("service", "stream.listen_allow: entry too long or more than %d entries",
                    MAX_CIDRS);
            return FT_ERR_CONFIG;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        long bits = 32;
        if ((slash = strchr(item, '/'))) {
            char *end;
            *slash = '\0';
            errno = 0;
            bits = strtol(slash + 1, &end, 10);
            if (errno || end == slash + 1 || *end || bits < 0 || bits > 32) {
                FT_LOGE("service", "stream.listen_allow: '%s/%s': prefix length must be 0..32",
                        item, slash + 1);
                return FT_ERR_CONFIG;
            }
        }
        struct in_addr a;
        if (inet_pton(AF_INET, item, &a) != 1) {
            FT_LOGE("service", "stream.listen_allow: '%s' is not an IPv4 address or CIDR", item);
            return FT_ERR_CONFIG;
        }
        uint32_t mask = bits ? 0xFFFFFFFFu << (32 - bits) : 0;
        g->allow[g->n_allow++] = (cidr){ntohl(a.s_addr) & mask, mask};
    }
    return FT_OK;
}

static bool allowed(const ft_rtmp_gate *g, uint32_t addr)
{
    for (int i = 0; i < g->n_allow; i++)
        if ((addr & g->allow[i].mask) == g->allow[i].net)
            return true;
    return false;
}

/* rtmp://ADDR:PORT/APP -> bound socket address and app. */
static ft_status parse_url(ft_rtmp_gate *g, const char *url, struct sockaddr_in *sa)
{
    char host[64];
    const char *h = url && !strncmp(url, "rtmp://", 7) ? url + 7 : NULL;
    const char *colon = h ? strchr(h, ':') : NULL, *slash = h ? strchr(h, '/') : NULL;
    if (!h || !colon || !slash || colon > slash || (size_t)(colon - h) >= sizeof host ||
        !slash[1] || strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof g->app) {
        FT_LOGE("service", "--listen %.200s: expected rtmp://ADDRESS:PORT/APP (IPv4 address)",
                url ? url : "(none)");
        return FT_ERR_CONFIG;
    }
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    *sa = (struct sockaddr_in){.sin_family = AF_INET};
    if (errno || end != slash || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        FT_LOGE("service", "--listen %.200s: bad IPv4 address or port", url);
        return FT_ERR_CONFIG;
    }
    sa->sin_port = htons((uint16_t)port);
    snprintf(g->app, sizeof g->app, "%s", slash + 1);
    return FT_OK;
}

/* A free loopback port for libavformat's listener (it binds with
 * SO_REUSEADDR; nothing else on the host competes for it in between). */
static int free_loopback_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof sa) &&
        !getsockname(fd, (struct sockaddr *)&sa, &sl))
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- parsing the client's side until the publish ---- */

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Runs over the whole buffer whatever the lengths and contents, so the
     * time says nothing about how much of the key was right. */
    volatile unsigned diff = (unsigned)(alen ^ blen);
    for (size_t i = 0; i < FT_RTMP_GATE_MAX_TOKEN; i++)
        diff |= (unsigned)((i < alen ? (uint8_t)a[i] : 0) ^ (i < blen ? (uint8_t)b[i] : 0));
    return diff == 0;
}

/* AMF0 string (marker 0x02) at *p into out (cap bytes with NUL). */
static bool amf_string(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    if (end - *p < 3 || (*p)[0] != 0x02)
        return false;
    size_t n = (size_t)(*p)[1] << 8 | (*p)[2];
    if ((size_t)(end - *p - 3) < n || n >= cap)
        return false;
    memcpy(out, *p + 3, n);
    out[n] = '\0';
    *p += 3 + n;
    return true;
}

/* Skips one AMF0 value (nested objects up to `depth`). */
static bool amf_skip(const uint8_t **p, const uint8_t *end, int depth)
{
    if (*p >= end || depth > 8)
        return false;
    uint8_t m = *(*p)++;
    size_t n;
    switch (m) {
    case 0x00:
        n = 8;
        break; /* number */
    case 0x01:
        n = 1;
        break; /* boolean */
    case 0x05: /* null */
    case 0x06:
        n = 0;
        break; /* undefined */
    case 0x0B:
        n = 10;
        break; /* date */
    case 0x02: /* string */
        if (end - *p < 2)
            return false;
        n = 2 + ((size_t)(*p)[0] << 8 | (*p)[1]);
        break;
    case 0x0C: /* long string */
        if (end - *p < 4)
            return false;
        n = 4 + ((size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 | (size_t)(*p)[2] << 8 | (*p)[3]);
        break;
    case 0x08: /* ECMA array: count, then like an object */
        if (end - *p < 4)
            return false;
        *p += 4;
        /* fall through */
    case 0x03: /* object: (key, value)* then 00 00 09 */
        for (;;) {
            if (end - *p < 3)
                return false;
            size_t k = (size_t)(*p)[0] << 8 | (*p)[1];
            if (k == 0 && (*p)[2] == 0x09) {
                *p += 3;
                return true;
            }
            if ((size_t)(end - *p - 2) < k)
                return false;
            *p += 2 + k;
            if (!amf_skip(p, end, depth + 1))
                return false;
        }
    default:
        return false; /* strict arrays, AMF3 switches ... are not used by publishers */
    }
    if ((size_t)(end - *p) < n)
        return false;
    *p += n;
    return true;
}

/* The `app` of a connect command object. */
static bool connect_app(const uint8_t *p, const uint8_t *end, char *app, size_t cap)
{
    if (!amf_skip(&p, end, 0) || p >= end || *p++ != 0x03) /* transaction id, object */
        return false;
    for (;;) {
        if (end - p < 3)
            return false;
        size_t k = (size_t)p[0] << 8 | p[1];
        if (k == 0 && p[2] == 0x09)
            return false;
        if ((size_t)(end - p - 2) < k)
            return false;
        bool is_app = k == 3 && !memcmp(p + 2, "app", 3);
        p += 2 + k;
        if (is_app)
            return amf_string(&p, end, app, cap);
        if (!amf_skip(&p, end, 1))
            return false;
    }
}

/* A complete command message: connect (app) and the commands naming the
 * stream (key) are checked; the others are libavformat's to answer. */
static parse_result on_command(ft_rtmp_gate *g, const uint8_t *m, size_t n)
{
    const uint8_t *p = m, *end = m + n;
    char name[32], s[FT_RTMP_GATE_MAX_TOKEN + 1];
    if (!amf_string(&p, end, name, sizeof name))
        return P_MORE; /* not ours to judge: libavformat answers it */
    if (!strcmp(name, "connect")) {
        if (!connect_app(p, end, s, sizeof s) || strcmp(s, g->app)) {
            FT_LOGW("service", "listen: %s: connect to an unknown app refused", g->peer);
            return P_REFUSE_KEY;
        }
        g->ps.connected = true;
        return P_MORE;
    }
    /* Every command that names the stream is checked, not only publish:
     * libavformat logs a mismatching name in FCPublish with its own. */
    bool publish = !strcmp(name, "publish");
    if (!publish && strcmp(name, "releaseStream") && strcmp(name, "FCPublish"))
        return P_MORE;
    /* transaction id, null, stream name */
    if (!g->ps.connected || !amf_skip(&p, end, 0) || !amf_skip(&p, end, 0) ||
        !amf_string(&p, end, s, sizeof s) || !ct_equal(s, strlen(s), g->token, g->token_len)) {
        memset(s, 0, sizeof s);
        FT_LOGW("service", "listen: %s: %s with a wrong stream key refused", g->peer, name);
        return P_REFUSE_KEY;
    }
    memset(s, 0, sizeof s);
    return publish ? P_OK : P_MORE;
}

static chunk_stream *stream_of(parser *ps, int csid)
{
    for (int i = 0; i < ps->n_cs; i++)
        if (ps->cs[i].csid == csid)
            return &ps->cs[i];
    if (ps->n_cs == MAX_CSIDS)
        return NULL;
    chunk_stream *c = &ps->cs[ps->n_cs++];
    *c = (chunk_stream){.csid = csid};
    return c;
}

static uint32_t be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Parses one chunk at the start of `d` (n bytes). *used = 0 when incomplete. */
static parse_result parse_chunk(ft_rtmp_gate *g, const uint8_t *d, size_t n, size_t *used)
{
    parser *ps = &g->ps;
    *used = 0;
    if (n < 1)
        return P_MORE;
    int fmt = d[0] >> 6, csid = d[0] & 0x3F;
    size_t h = 1;
    if (csid == 0) {
        if (n < 2)
            return P_MORE;
        csid = 64 + d[1];
        h = 2;
    } else if (csid == 1) {
        if (n < 3)
            return P_MORE;
        csid = 64 + d[1] + 256 * d[2];
        h = 3;
    }
    static const size_t mh_len[4] = {11, 7, 3, 0};
    if (n < h + mh_len[fmt])
        return P_MORE;
    const uint8_t *mh = d + h;
    chunk_stream *c = stream_of(ps, csid);
    if (!c) {
        FT_LOGW("service", "listen: %s: too many chunk streams before publish", g->peer);
        return P_REFUSE_PROTO;
    }
    bool ext = fmt < 3 ? be(mh, 3) == 0xFFFFFF : c->ext_ts;
    if (fmt < 3 && c->got) {
        FT_LOGW("service", "listen: %s: new message header inside a message", g->peer);
        return P_REFUSE_PROTO;
    }
    uint32_t len = fmt < 2 ? be(mh + 3, 3) : c->len;
    size_t hdr = h + mh_len[fmt] + (ext ? 4 : 0);
    if (len > MAX_MSG) {
        FT_LOGW("service", "listen: %s: %u-byte message before publish", g->peer, len);
        return P_REFUSE_PROTO;
    }
    uint32_t take = len - c->got < ps->chunk_size ? len - c->got : ps->chunk_size;
    if (n < hdr + take)
        return P_MORE;
    if (fmt < 2) {
        c->len = len;
        c->type = mh[6];
    }
    if (fmt < 3)
        c->ext_ts = ext;
    if (c->got + take <= MAX_CMD)
        memcpy(c->msg + c->got, d + hdr, take);
    c->got += take;
    *used = hdr + take;
    if (c->got < c->len)
        return P_MORE;
    c->got = 0; /* message complete */
    if (c->len > MAX_CMD)
        return c->type == 20 || c->type == 17 ? P_REFUSE_PROTO : P_MORE;
    if (c->type == 1 && c->len >= 4) {
        uint32_t cs = be(c->msg, 4) & 0x7FFFFFFF;
        if (cs < 1 || cs > MAX_CHUNK) {
            FT_LOGW("service", "listen: %s: chunk size %u refused", g->peer, cs);
            return P_REFUSE_PROTO;
        }
        ps->chunk_size = cs;
    } else if (c->type == 20) {
        return on_command(g, c->msg, c->len);
    } else if (c->type == 17 && c->len > 1) { /* AMF3 command: format byte, then AMF0 */
        return on_command(g, c->msg + 1, c->len - 1);
    }
    return P_MORE;
}

/* Feeds client bytes. P_OK: the publish was verified in this block. */
static parse_result parse_feed(ft_rtmp_gate *g, const uint8_t *d, size_t n)
{
    parser *ps = &g->ps;
    ps->total += n;
    if (ps->total > MAX_PREAUTH) {
        FT_LOGW("service", "listen: %s: no publish within %d bytes", g->peer, MAX_PREAUTH);
        return P_REFUSE_PROTO;
    }
    if (ps->hs_left) {
        if (ps->hs_left == HANDSHAKE_BYTES && d[0] != 3) {
            FT_LOGW("service", "listen: %s: not an RTMP handshake", g->peer);
            return P_REFUSE_PROTO;
        }
        size_t k = n < ps->hs_left ? n : ps->hs_left;
        ps->hs_left -= (uint32_t)k;
        d += k;
        n -= k;
    }
    while (n) {
        size_t room = sizeof ps->pend - ps->n_pend, k = n < room ? n : room;
        memcpy(ps->pend + ps->n_pend, d, k);
        ps->n_pend += k;
        d += k;
        n -= k;
        size_t off = 0, used;
        parse_result r;
        while ((r = parse_chunk(g, ps->pend + off, ps->n_pend - off, &used)) == P_MORE && used)
            off += used;
        if (r != P_MORE)
            return r; /* refused, or verified (the rest is relayed unparsed) */
        memmove(ps->pend, ps->pend + off, ps->n_pend - off);
        ps->n_pend -= off;
    }
    return P_MORE;
}

/* ---- sessions ---- */

static void session_end(ft_rtmp_gate *g, const char *why)
{
    if (g->cfd < 0)
        return;
    FT_LOGI("service", "listen: %s: %s", g->peer, why);
    close(g->cfd);
    if (g->ifd >= 0)
        close(g->ifd);
    g->cfd = g->ifd = -1;
}

static bool send_all(int fd, const uint8_t *d, size_t n)
{
    while (n) {
        ssize_t k = send(fd, d, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        d += k;
        n -= (size_t)k;
    }
    return true;
}

static void set_timeouts(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects to libavformat's listener. Right after a publisher left (or was
 * refused) the reader needs a moment to listen again, so this retries for
 * up to INTERNAL_WAIT_MS; the new client's handshake waits in its socket. */
static int connect_internal(ft_rtmp_gate *g)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)g->internal_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int waited = 0; waited <= INTERNAL_WAIT_MS && !atomic_load(&g->stop); waited += 50) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (!connect(fd, (struct sockaddr *)&in, sizeof in))
            return fd;
        close(fd);
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
    }
    return -1;
}

static void on_accept(ft_rtmp_gate *g)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = accept4(g->lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    char peer[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &sa.sin_addr, peer, sizeof peer);
    if (!allowed(g, ntohl(sa.sin_addr.s_addr))) {
        FT_LOGW("service", "listen: %s: address not in stream.listen_allow; refused", peer);
        atomic_fetch_add(&g->n_addr, 1);
        close(fd);
        return;
    }
    if (g->cfd >= 0) {
        FT_LOGW("service", "listen: %s: refused, %s is publishing", peer, g->peer);
        atomic_fetch_add(&g->n_proto, 1);
        close(fd);
        return;
    }
    int ifd = connect_internal(g);
    if (ifd < 0) {
        FT_LOGW("service", "listen: %s: the input is not listening; refused", peer);
        atomic_fetch_add(&g->n_proto, 1);
        close(fd);
        return;
    }
    set_timeouts(fd, g->timeout_ms);
    set_timeouts(ifd, g->timeout_ms);
    g->cfd = fd;
    g->ifd = ifd;
    g->verified = false;
    snprintf(g->peer, sizeof g->peer, "%s", peer);
    g->ps.hs_left = HANDSHAKE_BYTES;
    g->ps.chunk_size = 128;
    g->ps.total = 0;
    g->ps.n_cs = 0;
    g->ps.n_pend = 0;
    g->ps.connected = false;
    g->last_rx_ns = now_ns();
    g->deadline_ns = g->last_rx_ns + (int64_t)g->timeout_ms * 1000000;
    FT_LOGI("service", "listen: %s: connected", peer);
}

/* Moves one block from `from` to `to`; the client side is parsed until the
 * publish is verified. */
static void relay(ft_rtmp_gate *g, bool from_client)
{
    int from = from_client ? g->cfd : g->ifd, to = from_client ? g->ifd : g->cfd;
    ssize_t n = recv(from, g->buf, sizeof g->buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        session_end(g, from_client ? "publisher disconnected" : "input closed the connection");
        return;
    }
    if (from_client) {
        g->last_rx_ns = now_ns();
        if (!g->verified) {
            parse_result r = parse_feed(g, g->buf, (size_t)n);
            if (r == P_REFUSE_KEY || r == P_REFUSE_PROTO) {
                atomic_fetch_add(r == P_REFUSE_KEY ? &g->n_key : &g->n_proto, 1);
                session_end(g, "refused");
                return;
            }
            if (r == P_OK) {
                g->verified = true;
                atomic_fetch_add(&g->n_accepted, 1);
                FT_LOGI("service", "listen: %s: stream key accepted; publishing", g->peer);
            }
        }
    }
    if (!send_all(to, g->buf, (size_t)n))
        session_end(g, "relay write failed");
}

static void *gate_main(void *arg)
{
    ft_rtmp_gate *g = arg;
    while (!atomic_load(&g->stop)) {
        struct pollfd fds[3] = {{g->lfd, POLLIN, 0}, {g->cfd, POLLIN, 0}, {g->ifd, POLLIN, 0}};
        int nf = g->cfd >= 0 ? 3 : 1;
        if (poll(fds, (nfds_t)nf, 100) < 0 && errno != EINTR)
            break;
        if (nf == 3 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            relay(g, true);
        if (nf == 3 && g->cfd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
            relay(g, false);
        if (g->cfd >= 0) {
            int64_t t = now_ns();
            if (!g->verified && t > g->deadline_ns) {
                atomic_fetch_add(&g->n_proto, 1);
                session_end(g, "no verified publish in time; refused");
            } else if (t - g->last_rx_ns > (int64_t)g->timeout_ms * 1000000) {
                session_end(g, "publisher silent; closed");
            }
        }
        if (fds[0].revents & POLLIN)
            on_accept(g);
    }
    session_end(g, "gate stopped");
    return NULL;
}

/* ---- lifecycle ---- */

ft_status ft_rtmp_gate_create(const ft_rtmp_gate_params *p, ft_rtmp_gate **out)
{
    *out = NULL;
    ft_rtmp_gate *g = calloc(1, sizeof *g);
    if (!g)
        return FT_ERR_NOMEM;
    g->lfd = g->cfd = g->ifd = -1;
    ft_status st = FT_ERR_CONFIG;
    struct sockaddr_in sa;
    if (!p->token || !*p->token || strlen(p->token) > FT_RTMP_GATE_MAX_TOKEN) {
        FT_LOGE("service", "listen: stream.listen_token_file must hold a stream key of 1..%d bytes",
                FT_RTMP_GATE_MAX_TOKEN);
        goto out;
    }
    g->token_len = strlen(p->token);
    if (strspn(p->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") !=
        g->token_len) {
        FT_LOGE("service", "listen: the stream key in stream.listen_token_file may contain only "
                           "letters, digits and . _ ~ - (it is a URL path element)");
        goto out;
    }
    memcpy(g->token, p->token, g->token_len);
    g->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
    if ((st = parse_url(g, p->listen_url, &sa)) || (st = parse_allow(g, p->allow)))
        goto out;
    if (!g->n_allow)
        FT_LOGW("service", "listen: stream.listen_allow is empty: every publisher is refused");
    st = FT_ERR_CONFIG;
    int one = 1;
    socklen_t sl = sizeof sa;
    g->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g->lfd < 0 || setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(g->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(g->lfd, 8) ||
        getsockname(g->lfd, (struct sockaddr *)&sa, &sl)) {
        FT_LOGE("service", "--listen %.200s: cannot listen: %s", p->listen_url, strerror(errno));
        goto out;
    }
    g->port = ntohs(sa.sin_port);
    if ((g->internal_port = free_loopback_port()) < 0) {
        FT_LOGE("service", "listen: no free loopback port for the input: %s", strerror(errno));
        st = FT_ERR_RUNTIME;
        goto out;
    }
    /* The internal stream name is the key itself: libavformat warns with both
     * names when the published one differs from its URL's. Our log lines
     * mask URL paths after the app. */
    snprintf(g->internal_url, sizeof g->internal_url, "rtmp://127.0.0.1:%d/%s/%s%s",
             g->internal_port, g->app, g->token, FT_READER_LISTEN_SUFFIX);
    if (pthread_create(&g->thread, NULL, gate_main, g)) {
        st = FT_ERR_RUNTIME;
        goto out;
    }
    g->started = true;
    FT_LOGI("service", "listening for an RTMP publisher on %.200s (port %d, %d allowed ranges)",
            p->listen_url, g->port, g->n_allow);
    st = FT_OK;
out:
    if (st)
        ft_rtmp_gate_destroy(&g);
    *out = g;
    return st;
}

const char *ft_rtmp_gate_internal_url(const ft_rtmp_gate *g)
{
    return g->internal_url;
}

int ft_rtmp_gate_port(const ft_rtmp_gate *g)
{
    return g->port;
}

void ft_rtmp_gate_stats_get(const ft_rtmp_gate *g, ft_rtmp_gate_stats *out)
{
    out->accepted = atomic_load(&g->n_accepted);
    out->refused_address = atomic_load(&g->n_addr);
    out->refused_key = atomic_load(&g->n_key);
    out->refused_protocol = atomic_load(&g->n_proto);
}

void ft_rtmp_gate_destroy(ft_rtmp_gate **pg)
{
    if (!pg || !*pg)
        return;
    ft_rtmp_gate *g = *pg;
    atomic_store(&g->stop, true);
    if (g->started)
        pthread_join(g->thread, NULL);
    session_end(g, "closed");
    if (g->lfd >= 0)
        close(g->lfd);
    memset(g->token, 0, sizeof g->token);
    memset(g->internal_url, 0, sizeof g->internal_url);
    free(g);
    *pg = NULL;
}
