/* The stream service's HTTP server (libmicrohttpd, one thread per
 * connection so a live MJPEG preview never blocks the other endpoints):
 *
 *   GET  /health        200 "ok" while the process runs
 *   GET  /ready         200 when input frames flow, else 503
 *   GET  /metrics       Prometheus text (0.0.4)
 *   GET  /status        HTML page: MJPEG preview, fps/latency/mode charts
 *   GET  /status.json   figures the page polls
 *   GET  /preview.mjpg  multipart/x-mixed-replace JPEG stream
 *   GET  /config        effective configuration as JSON (secrets masked)
 *   PATCH /config       {"section.key": value, ...} hot keys  (bearer token)
 *
 * The server knows nothing about pipelines: it calls the handlers below.
 * Request bodies are capped (FT_SERVICE_HTTP_MAX_BODY, 413 beyond), the
 * token is compared in constant time, and with no token configured PATCH /config
 * answers 403 (read-only) rather than opening up. */
#ifndef FT_SERVICE_HTTP_H
#define FT_SERVICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define FT_SERVICE_HTTP_MAX_BODY 16384
#define FT_SERVICE_HTTP_MAX_TOKEN 256
#define FT_SERVICE_HTTP_MAX_PATCH_KEYS 16

/* What the server asks its owner. All are called from connection threads. */
typedef struct ft_service_http_handlers {
    void *user;
    /* Input connected and frames flowing. */
    bool (*ready)(void *user);
    /* Writes a text body into buf (cap bytes) and its length to *len; non-OK
     * answers 500. Used for /metrics, /status.json and GET /config. */
    ft_status (*metrics)(void *user, char *buf, size_t cap, size_t *len);
    ft_status (*status_json)(void *user, char *buf, size_t cap, size_t *len);
    ft_status (*config_get)(void *user, char *buf, size_t cap, size_t *len);
    /* Applies all of keys[i]=values[i] (borrowed) atomically or none of them;
     * FT_ERR_CONFIG with a reason in err answers 400. */
    ft_status (*config_patch)(void *user, const char *const *keys, const char *const *values, int n,
                              char *err, size_t cap);
    /* Waits up to timeout_ms for a preview JPEG newer than *seq, copies it
     * into buf and updates *seq. FT_ERR_AGAIN on timeout, FT_ERR_NOMEM when
     * it does not fit, FT_ERR_INTERRUPTED when the service is stopping. */
    ft_status (*preview)(void *user, uint64_t *seq, uint8_t *buf, size_t cap, size_t *len,
                         int timeout_ms);
} ft_service_http_handlers;

typedef struct ft_service_http_params {
    const char *bind; /* IPv4 address to listen on (borrowed); NULL = 127.0.0.1 */
    int port;         /* 0 = any free port (see ft_service_http_port) */
} ft_service_http_params;

typedef struct ft_service_http ft_service_http;

/* Starts listening. `p` and `h` are copied. FT_ERR_CONFIG for a bad bind
 * address, and (message naming address and port) when it cannot be bound: a
 * port in use, an address not of this machine. *out is returned-owned. */
FT_NODISCARD ft_status ft_service_http_create(const ft_service_http_params *p,
                                              const ft_service_http_handlers *h,
                                              ft_service_http **out);

/* The port actually bound. */
int ft_service_http_port(const ft_service_http *s);

/* Replaces the bearer token (copied; NULL or "" makes /config read-only).
 * FT_ERR_CONFIG when longer than FT_SERVICE_HTTP_MAX_TOKEN. */
FT_NODISCARD ft_status ft_service_http_set_token(ft_service_http *s, const char *token);

/* Constant-time comparison of a presented token with the expected one: the
 * time depends only on the expected length, never on where they differ. */
bool ft_service_http_token_equal(const char *expected, const char *presented);

/* Stops the server (open connections end within a second), frees it (NULL
 * allowed) and sets *s to NULL. */
void ft_service_http_destroy(ft_service_http **s);

/* A loopback TCP port that was free a moment ago, for a child process's HTTP
 * server; -1 when none could be had. The kernel hands out ephemeral ports in
 * turn, so the short window before the child binds it is not a practical
 * race; a child that loses it fails to start and is restarted. */
int ft_service_http_free_port(void);

#endif
