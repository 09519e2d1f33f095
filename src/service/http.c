/* HTTP server on libmicrohttpd. Small bodies are built in a per-request
 * buffer; the MJPEG preview is a callback response that waits for frames. */
#include "service/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "service/status_page.h"

/* Largest /metrics, /status.json or /config body. `serve` merges every
 * worker's /metrics (about 10 KiB each with the stream label): 2 MiB holds
 * the 128 workers a supervisor may run. Allocated per request, touched
 * only as far as written. */
#define BODY_CAP (2 * 1024 * 1024)
/* Largest preview JPEG (a 640-wide JPEG is ~30-60 kB). */
#define JPEG_CAP (512 * 1024)

struct ft_service_http {
    struct MHD_Daemon *d;
    ft_service_http_handlers h;
    int port;
    atomic_bool stopping;
    pthread_mutex_t mu; /* guards token */
    char token[FT_SERVICE_HTTP_MAX_TOKEN + 1];
};

/* Per-request state: the upload being collected. */
typedef struct request {
    char body[FT_SERVICE_HTTP_MAX_BODY + 1];
    size_t len;
    bool too_large;
} request;

bool ft_service_http_token_equal(const char *expected, const char *presented)
{
    size_t n = strlen(expected), m = strlen(presented);
    /* Every byte of the expected token is visited whatever the input; the
     * presented one is read modulo its length so a short guess costs the
     * same time as a long one. */
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)expected[i] ^ (unsigned char)(m ? presented[i % m] : 0);
    return n > 0 && diff == 0;
}

ft_status ft_service_http_set_token(ft_service_http *s, const char *token)
{
    if (token && strlen(token) > FT_SERVICE_HTTP_MAX_TOKEN)
        return FT_ERR_CONFIG;
    pthread_mutex_lock(&s->mu);
    snprintf(s->token, sizeof s->token, "%s", token ? token : "");
    pthread_mutex_unlock(&s->mu);
    return FT_OK;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"football-tracker\"");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return reply(c, code, "text/plain; charset=utf-8", text, strlen(text));
}

/* JSON error body {"error": "..."} with the message escaped. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned code, const char *msg)
{
    char buf[2048];
    size_t k = 0;
    k += (size_t)snprintf(buf, sizeof buf, "{\"error\":\"");
    for (const char *p = msg; *p && k < sizeof buf - 8; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)ch;
        } else if (ch < 0x20) {
            buf[k++] = ' ';
        } else {
            buf[k++] = (char)ch;
        }
    }
    k += (size_t)snprintf(buf + k, sizeof buf - k, "\"}\n");
    return reply(c, code, "application/json", buf, k);
}

/* Builds a body through one of the text handlers. */
static enum MHD_Result reply_generated(struct MHD_Connection *c, const char *type, void *user,
                                       ft_status (*gen)(void *, char *, size_t, size_t *))
{
    char *buf = malloc(BODY_CAP);
    if (!buf)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    size_t len = 0;
    ft_status st = gen ? gen(user, buf, BODY_CAP, &len) : FT_ERR_INVALID;
    enum MHD_Result r = st ? reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "unavailable\n")
                           : reply(c, MHD_HTTP_OK, type, buf, len);
    free(buf);
    return r;
}

/* ---- MJPEG preview ---- */

typedef struct mjpeg {
    ft_service_http *s;
    uint64_t seq;
    uint8_t *jpeg; /* part header + JPEG + CRLF of the part being sent */
    size_t len, pos;
} mjpeg;

static ssize_t mjpeg_read(void *cls, uint64_t off, char *buf, size_t max)
{
    (void)off;
    mjpeg *m = cls;
    while (m->pos == m->len) {
        if (atomic_load(&m->s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        char head[128];
        size_t jl = 0;
        /* The JPEG goes after room for the part header, which is written
         * once its length is known. */
        const size_t room = sizeof head;
        ft_status st =
            m->s->h.preview(m->s->h.user, &m->seq, m->jpeg + room, JPEG_CAP - room - 2, &jl, 1000);
        if (st == FT_ERR_AGAIN)
            continue;
        if (st)
            return MHD_CONTENT_READER_END_OF_STREAM;
        int hl =
            snprintf(head, sizeof head,
                     "--ftframe\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n", jl);
        memmove(m->jpeg + room - (size_t)hl, head, (size_t)hl);
        m->pos = room - (size_t)hl;
        m->jpeg[room + jl] = '\r';
        m->jpeg[room + jl + 1] = '\n';
        m->len = room + jl + 2;
    }
    size_t n = m->len - m->pos < max ? m->len - m->pos : max;
    memcpy(buf, m->jpeg + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static void mjpeg_free(void *cls)
{
    mjpeg *m = cls;
    free(m->jpeg);
    free(m);
}

static enum MHD_Result reply_mjpeg(struct MHD_Connection *c, ft_service_http *s)
{
    if (!s->h.preview)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "no preview\n");
    mjpeg *m = calloc(1, sizeof *m);
    if (m)
        m->jpeg = malloc(JPEG_CAP);
    if (!m || !m->jpeg) {
        if (m)
            free(m);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    m->s = s;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, mjpeg_read, m, mjpeg_free);
    if (!r) {
        mjpeg_free(m);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "multipart/x-mixed-replace; boundary=ftframe");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- /config ---- */

/* Checks "Authorization: Bearer <token>". */
static unsigned authorise(struct MHD_Connection *c, ft_service_http *s)
{
    char expected[FT_SERVICE_HTTP_MAX_TOKEN + 1];
    pthread_mutex_lock(&s->mu);
    memcpy(expected, s->token, sizeof expected);
    pthread_mutex_unlock(&s->mu);
    if (!expected[0])
        return MHD_HTTP_FORBIDDEN;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7))
        return MHD_HTTP_UNAUTHORIZED;
    bool ok = ft_service_http_token_equal(expected, h + 7);
    memset(expected, 0, sizeof expected);
    return ok ? MHD_HTTP_OK : MHD_HTTP_UNAUTHORIZED;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* Parses a JSON string at *p (after the quote) in place: unescapes simple
 * escapes and NUL-terminates. Returns the end or NULL. */
static char *json_string(char *p)
{
    char *w = p;
    for (; *p && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
                *w++ = *p;
                break;
            case 'n':
                *w++ = '\n';
                break;
            case 't':
                *w++ = '\t';
                break;
            default:
                return NULL; /* \u and friends: not needed for config values */
            }
        } else {
            *w++ = *p;
        }
    }
    if (*p != '"')
        return NULL;
    *w = '\0';
    return p + 1;
}

/* Parses a flat JSON object {"k": v, ...} in place. String values are
 * unquoted; numbers, booleans and arrays (polygons, which YAML reads as flow
 * sequences) are passed on as their text. Returns false on bad syntax. */
static bool parse_patch(char *body, char **keys, char **values, int *n)
{
    *n = 0;
    char *p = (char *)skip_ws(body);
    if (*p++ != '{')
        return false;
    p = (char *)skip_ws(p);
    if (*p == '}')
        return *skip_ws(p + 1) == '\0';
    for (;;) {
        if (*n == FT_SERVICE_HTTP_MAX_PATCH_KEYS || *p++ != '"')
            return false;
        keys[*n] = p;
        if (!(p = json_string(p)))
            return false;
        p = (char *)skip_ws(p);
        if (*p++ != ':')
            return false;
        p = (char *)skip_ws(p);
        char *end;
        if (*p == '"') {
            values[*n] = p + 1;
            if (!(end = json_string(p + 1)))
                return false;
        } else {
            values[*n] = p;
            int depth = 0;
            for (end = p; *end; end++) {
                if (*end == '[')
                    depth++;
                else if (*end == ']' && --depth < 0)
                    return false;
                else if (depth == 0 && (*end == ',' || *end == '}' || *end == ' ' || *end == '\n' ||
                                        *end == '\r' || *end == '\t'))
                    break;
            }
            if (end == p || depth)
                return false;
        }
        char *sep = (char *)skip_ws(end);
        char c = *sep;
        *end = '\0'; /* ends a bare value; harmless after a string */
        (*n)++;
        if (c == '}')
            return *skip_ws(sep + 1) == '\0';
        if (c != ',')
            return false;
        p = (char *)skip_ws(sep + 1);
    }
}

static enum MHD_Result handle_patch(struct MHD_Connection *c, ft_service_http *s, request *rq)
{
    if (rq->too_large)
        return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    rq->body[rq->len] = '\0';
    char *keys[FT_SERVICE_HTTP_MAX_PATCH_KEYS], *values[FT_SERVICE_HTTP_MAX_PATCH_KEYS];
    int n = 0;
    if (!parse_patch(rq->body, keys, values, &n) || n == 0)
        return reply_error(c, MHD_HTTP_BAD_REQUEST,
                           "body must be a JSON object of \"section.key\": value pairs");
    char err[1024] = "";
    ft_status st = s->h.config_patch
                       ? s->h.config_patch(s->h.user, (const char *const *)keys,
                                           (const char *const *)values, n, err, sizeof err)
                       : FT_ERR_INVALID;
    if (st == FT_ERR_CONFIG)
        return reply_error(c, MHD_HTTP_BAD_REQUEST, err[0] ? err : "invalid value");
    if (st)
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, ft_status_str(st));
    return reply_generated(c, "application/json", s->h.user, s->h.config_get);
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    ft_service_http *s = cls;
    bool is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool is_patch = !strcmp(method, "PATCH");
    if (is_patch && !strcmp(url, "/config")) {
        /* First call: headers only. Authorise before reading any body. */
        if (!*con_cls) {
            unsigned code = authorise(c, s);
            if (code != MHD_HTTP_OK)
                return reply_error(c, code,
                                   code == MHD_HTTP_FORBIDDEN
                                       ? "configuration is read-only (no http.token_file)"
                                       : "missing or wrong bearer token");
            request *rq = calloc(1, sizeof *rq);
            if (!rq)
                return MHD_NO;
            *con_cls = rq;
            return MHD_YES;
        }
        request *rq = *con_cls;
        if (*upload_size) {
            if (rq->len + *upload_size > FT_SERVICE_HTTP_MAX_BODY)
                rq->too_large = true;
            else
                memcpy(rq->body + rq->len, upload, *upload_size);
            if (!rq->too_large)
                rq->len += *upload_size;
            *upload_size = 0;
            return MHD_YES;
        }
        return handle_patch(c, s, rq);
    }
    if (*upload_size) { /* a body where none is expected: discard, answer below */
        *upload_size = 0;
        return MHD_YES;
    }
    if (!is_get)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (!strcmp(url, "/health"))
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (!strcmp(url, "/ready")) {
        bool ok = s->h.ready && s->h.ready(s->h.user);
        return reply_text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                          ok ? "ready\n" : "not ready\n");
    }
    if (!strcmp(url, "/metrics"))
        return reply_generated(c, "text/plain; version=0.0.4; charset=utf-8", s->h.user,
                               s->h.metrics);
    if (!strcmp(url, "/status.json"))
        return reply_generated(c, "application/json", s->h.user, s->h.status_json);
    if (!strcmp(url, "/status") || !strcmp(url, "/"))
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", ft_service_status_html,
                     strlen(ft_service_status_html));
    if (!strcmp(url, "/preview.mjpg"))
        return reply_mjpeg(c, s);
    if (!strcmp(url, "/config")) /* secrets are masked in it; changing needs the token */
        return reply_generated(c, "application/json", s->h.user, s->h.config_get);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages (a viewer closing the preview, ...) go to
 * the debug log instead of raw stderr. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    FT_LOGD("service", "http: %s", msg);
}

ft_status ft_service_http_create(const ft_service_http_params *p, const ft_service_http_handlers *h,
                                 ft_service_http **out)
{
    *out = NULL;
    const char *bind = p->bind && *p->bind ? p->bind : "127.0.0.1";
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p->port);
    if (p->port < 0 || p->port > 65535 || inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        FT_LOGE("service", "http.bind %s / http.port %d: not an IPv4 address and port", bind,
                p->port);
        return FT_ERR_CONFIG;
    }
    ft_service_http *s = calloc(1, sizeof *s);
    if (!s)
        return FT_ERR_NOMEM;
    s->h = *h;
    pthread_mutex_init(&s->mu, NULL);
    s->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_END);
    if (!s->d) {
        /* A configuration error (exit 1) like a malformed address: the port
         * or the address has to be changed. */
        FT_LOGE("service",
                "cannot listen on %s:%d (port in use, or not an address of this machine)", bind,
                p->port);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return FT_ERR_CONFIG;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : p->port;
    *out = s;
    return FT_OK;
}

int ft_service_http_port(const ft_service_http *s)
{
    return s->port;
}

void ft_service_http_destroy(ft_service_http **ps)
{
    if (!ps || !*ps)
        return;
    ft_service_http *s = *ps;
    atomic_store(&s->stopping, true);
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    memset(s->token, 0, sizeof s->token);
    free(s);
    *ps = NULL;
}

int ft_service_http_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
        !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}
