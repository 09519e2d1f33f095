/* The stream service: one live pipeline (RTMP/RTMPS/SRT in, RTMP/RTMPS/SRT
 * out) with the HTTP endpoints (service/http.h), Prometheus metrics, an MJPEG
 * preview and hot reload of the configuration (SIGHUP, a changed config
 * file, or PATCH /config). Used by `football-tracker stream`. */
#ifndef FT_SERVICE_STREAM_H
#define FT_SERVICE_STREAM_H

#include <stdbool.h>

#include "core/config.h"
#include "core/status.h"

typedef struct ft_service_stream ft_service_stream;

typedef struct ft_service_stream_params {
    const char *input;     /* rtmp(s)/srt/udp/http(s) URL (borrowed) */
    const char *output;    /* rtmp(s)/srt/udp URL (borrowed); never a local file */
    bool realtime;         /* pace the input by its timestamps (a file as a live source) */
    const char *track_out; /* per-frame track CSV (pipeline/track_csv.h), NULL = none */
    const char *listen;    /* rtmp://ADDR:PORT/APP: accept publishers there instead of reading
                              `input` (service/rtmp_gate.h; stream.listen_allow,
                              stream.listen_token_file); NULL = pull `input` (borrowed) */
} ft_service_stream_params;

/* Is `url` a network URL the stream service may push to (rtmp, rtmps, srt,
 * udp)? Stream mode keeps video in memory only, so files are refused. */
bool ft_service_output_url_allowed(const char *url);

/* Creates the service: checks the URLs (with `listen`: reads the stream key
 * and opens the public port), starts the HTTP server (so /health
 * answers while the input is awaited), creates the detector. `cfg` is taken
 * (owned by the service from then on, even on error; *cfg set to NULL).
 * Errors: FT_ERR_CONFIG (URL scheme, bind address), FT_ERR_MODEL, ...
 * *out returned-owned. */
FT_NODISCARD ft_status ft_service_stream_create(const ft_service_stream_params *p, ft_config **cfg,
                                                ft_service_stream **out);

/* The HTTP port actually bound. */
int ft_service_stream_http_port(const ft_service_stream *s);

/* Opens the input (retrying with backoff as for a lost input) and the
 * output, then runs until the input ends, ft_service_stream_stop, or an
 * error that survived the reconnect attempts (FT_ERR_INPUT -> exit 3,
 * FT_ERR_OUTPUT -> exit 4). */
FT_NODISCARD ft_status ft_service_stream_run(ft_service_stream *s);

/* Async-signal-safe requests (they set flags the service polls):
 * stop (SIGINT/SIGTERM) and reload the configuration files (SIGHUP). */
void ft_service_stream_stop(ft_service_stream *s);
void ft_service_stream_request_reload(ft_service_stream *s);

/* Re-reads the configuration files now. A bad value keeps the current
 * configuration (FT_ERR_CONFIG, reason in err, logged). */
FT_NODISCARD ft_status ft_service_stream_reload(ft_service_stream *s, char *err, size_t cap);

/* Stops everything, frees (NULL allowed) and sets *s to NULL. */
void ft_service_stream_destroy(ft_service_stream **s);

#endif
