/* `football-tracker serve`: a supervisor running one `stream` worker process
 * per stream listed in a streams.yml file (format: docs/serve.md).
 *
 *   - each worker is fork+exec'd as `football-tracker stream ...` with its own
 *     HTTP port on 127.0.0.1, in its own process group, and receives SIGTERM
 *     if the supervisor dies (PR_SET_PDEATHSIG);
 *   - a worker that exits or is killed is restarted after an exponentially
 *     growing delay (serve.backoff_initial_s doubling up to serve.backoff_max_s;
 *     back to the start once it ran for a minute);
 *   - a watchdog probes every worker each second (GET /ready and /metrics on
 *     loopback) and restarts one whose HTTP server stops answering, whose output
 *     frame counter stops moving, or whose RSS (or VRAM, through NVML when the
 *     driver library is present) exceeds its limit;
 *   - one HTTP port serves /health, /ready, /status.json and /metrics, the
 *     latter with every worker's series relabelled stream="<id>" plus the
 *     supervisor's own (ft_restarts_total{stream,reason}, ...);
 *   - SIGHUP or a change of streams.yml re-reads it: streams that were added
 *     are started, removed ones stopped, changed ones restarted; the others
 *     are not touched.  SIGTERM/SIGINT stop every worker and return FT_OK;
 *   - with serve.shard_service, only the streams this pod owns among the
 *     pods that name resolves to (re-resolved every 10 s) are run;
 *   - with serve.shared_inference, one `football-tracker infer` process
 *     (id "infer", supervised like a worker) is started first and the
 *     workers, started once it is ready, send it their frames
 *     (docs/gpu-sharing.md, option C). */
#ifndef FT_SERVICE_SUPERVISOR_H
#define FT_SERVICE_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

#define FT_SERVE_MAX_STREAMS 128
#define FT_SERVE_ID_MAX 64
#define FT_SERVE_URL_MAX 1024
#define FT_SERVE_PATH_MAX 1024
#define FT_SERVE_MAX_SETS 32
#define FT_SERVE_SET_MAX 256
#define FT_SERVE_INFER_ID "infer" /* the inference server's label in metrics and status */

/* One stream of streams.yml, with the serve-level defaults already merged in
 * and relative config paths resolved against the file's folder. */
typedef struct ft_serve_stream {
    char id[FT_SERVE_ID_MAX]; /* [A-Za-z0-9_-]+, unique */
    char input[FT_SERVE_URL_MAX];
    char output[FT_SERVE_URL_MAX];
    char model_config[FT_SERVE_PATH_MAX];  /* "" = none */
    char stream_config[FT_SERVE_PATH_MAX]; /* "" = none */
    bool realtime;                         /* pace a file:// input by its timestamps */
    int n_sets;
    char sets[FT_SERVE_MAX_SETS][FT_SERVE_SET_MAX]; /* "section.key=value" */
} ft_serve_stream;

/* The whole file. */
typedef struct ft_serve_config {
    char bind[64];              /* supervisor HTTP address (default 127.0.0.1) */
    int port;                   /* supervisor HTTP port (default 9090) */
    double rss_limit_mb;        /* per worker; 0 = no limit */
    double vram_limit_mb;       /* per worker (NVML); 0 = no limit */
    double stuck_seconds;       /* no /ready answer or no output progress this long */
    double start_grace_seconds; /* time a new worker has to answer at all */
    double backoff_initial_s, backoff_max_s;
    char shard_service[256]; /* "" = run every stream; else a DNS name listing the pool's pods */
    /* serve.shared_inference: one `infer` process (service/infer_server.h)
     * runs the model for every worker (detector.type shared). */
    bool shared_inference;
    char inference_socket[FT_SERVE_PATH_MAX]; /* "" = chosen at start (runtime folder) */
    int inference_max_batch;                  /* frames per forward pass */
    double inference_batch_window_ms;         /* longest wait for a batch to fill */
    /* The server's own settings: the serve-level model_config, stream_config
     * and set (id "infer", no input/output). */
    ft_serve_stream inference;
    int n_streams;
    ft_serve_stream streams[FT_SERVE_MAX_STREAMS];
} ft_serve_config;

/* Parses streams.yml at `path` (borrowed) into *out (caller-owned storage).
 * FT_ERR_CONFIG with a message in err (naming the file, line and key) for a
 * missing/unreadable/oversized file, bad YAML, an unknown key, a bad value, a
 * duplicate or invalid id, or a stream without input/output. */
FT_NODISCARD ft_status ft_service_serve_config_load(const char *path, ft_serve_config *out,
                                                    char *err, size_t cap);

/* True when the worker of `a` and of `b` would be started with the same
 * arguments (a stream whose entry did not change is never restarted). */
bool ft_service_serve_stream_equal(const ft_serve_stream *a, const ft_serve_stream *b);

/* Sharding over a pool of `pods` supervisors (StatefulSet ordinals 0..pods-1):
 * true when rendezvous hashing of (id, ordinal) gives stream `id` to
 * `ordinal`. Exactly one ordinal owns each id; going from n to n+1 pods moves
 * only the streams the new pod takes. */
bool ft_service_serve_shard_owns(const char *id, int ordinal, int pods);

/* Inserts stream="<id>" as the first label of every sample of a Prometheus
 * text `in` (in_len bytes, borrowed) and appends the result to out (cap bytes,
 * *len updated, NUL-terminated). With `with_meta` the # HELP/# TYPE lines are
 * kept, else dropped. FT_ERR_NOMEM when it does not fit. */
FT_NODISCARD ft_status ft_service_metrics_relabel(const char *in, size_t in_len, const char *id,
                                                  bool with_meta, char *out, size_t cap,
                                                  size_t *len);

typedef struct ft_service_supervisor_params {
    const char *streams_path; /* streams.yml (borrowed, must outlive the supervisor) */
    const char *worker_bin;   /* program run as `<bin> stream ...`; NULL = this program */
} ft_service_supervisor_params;

typedef struct ft_service_supervisor ft_service_supervisor;

/* Loads the streams file and binds the HTTP port; starts no worker yet.
 * FT_ERR_CONFIG for a bad file, FT_ERR_RUNTIME when the port cannot be bound.
 * *out is returned-owned. */
FT_NODISCARD ft_status ft_service_supervisor_create(const ft_service_supervisor_params *p,
                                                    ft_service_supervisor **out);

/* Runs the workers until ft_service_supervisor_stop; then stops them all
 * (SIGTERM, SIGKILL after 10 s) and returns FT_OK. */
FT_NODISCARD ft_status ft_service_supervisor_run(ft_service_supervisor *s);

/* Async-signal-safe: ask run() to return / to re-read the streams file. */
void ft_service_supervisor_stop(ft_service_supervisor *s);
void ft_service_supervisor_request_reload(ft_service_supervisor *s);

/* Frees the supervisor (NULL allowed; workers must be stopped, i.e. run()
 * returned or never ran) and sets *s to NULL. */
void ft_service_supervisor_destroy(ft_service_supervisor **s);

#endif
