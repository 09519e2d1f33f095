/* `football-tracker serve`: many streams, one worker process each
 * (service/supervisor.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "service/supervisor.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: football-tracker serve --streams streams.yml [--check] [--log-format text|json]\n"
        "\n"
        "Runs one `football-tracker stream` worker process per stream of streams.yml,\n"
        "each with its own HTTP port on 127.0.0.1, and restarts a worker that exits,\n"
        "stops answering, stops producing frames or exceeds serve.rss_limit_mb /\n"
        "serve.vram_limit_mb, after a delay doubling from serve.backoff_initial_s to\n"
        "serve.backoff_max_s. One HTTP port (serve.bind, serve.port, default\n"
        "127.0.0.1:9090) serves /health, /ready (every stream ready), /status.json and\n"
        "/metrics: every worker's metrics labelled stream=\"<id>\" plus\n"
        "ft_restarts_total{stream,reason}, ft_worker_up, ft_worker_rss_bytes, ft_serve_load.\n"
        "\n"
        "streams.yml:\n"
        "  serve:                      # optional; defaults shown\n"
        "    port: 9090\n"
        "    rss_limit_mb: 0           # 0 = no limit\n"
        "    stuck_seconds: 15\n"
        "    stream_config: stream_config.yml   # for every stream (default: none)\n"
        "    shared_inference: false   # true: one `infer` process batches every\n"
        "                              # worker's frames (docs/gpu-sharing.md)\n"
        "  streams:\n"
        "    cam1:\n"
        "      input: rtmp://ingest/live/cam1\n"
        "      output: rtmp://cdn/live/cam1\n"
        "      model_config: model_config.yml   # optional, relative to streams.yml\n"
        "      set: {model.confidence: 0.4}     # optional config overrides\n"
        "(full format: docs/serve.md)\n"
        "\n"
        "options:\n"
        "  --streams FILE        the streams file (required)\n"
        "  --check               only check the file: print its streams, exit 0, or the\n"
        "                        error and exit 1 (before a reload or a deployment)\n"
        "  --log-format FMT      text or json (workers log to the same stderr)\n"
        "  --help                this text\n"
        "\n"
        "Signals: SIGHUP re-reads streams.yml (also done when it changes): added streams\n"
        "start, removed ones stop, changed ones restart, the others are not touched.\n"
        "SIGINT/SIGTERM stop every worker (SIGKILL after 10 s) and exit 0.\n"
        "Exit codes: 0 stopped, 1 configuration (bad streams.yml), 6 runtime (port in use).\n");
}

/* --check: parse the file as a reload would and list what it runs. */
static int check_file(const char *path)
{
    ft_serve_config *c = calloc(1, sizeof *c);
    char err[1024], clean[1024];
    if (!c)
        return FT_EXIT_RUNTIME;
    ft_status st = ft_service_serve_config_load(path, c, err, sizeof err);
    if (st) {
        ft_log_sanitize(err, clean, sizeof clean);
        fprintf(stderr, "serve: %s\n", clean);
    } else {
        printf("%s: ok, %d stream(s), HTTP %s:%d%s%s\n", path, c->n_streams, c->bind, c->port,
               c->shard_service[0] ? ", sharded over " : "", c->shard_service);
        if (c->shared_inference)
            printf("  shared inference: one infer process, batches of up to %d, window %g ms\n",
                   c->inference_max_batch, c->inference_batch_window_ms);
        for (int i = 0; i < c->n_streams; i++)
            printf("  %s\n", c->streams[i].id);
    }
    free(c);
    return ft_status_exit_code(st);
}

static ft_status run_supervisor(void *s)
{
    return ft_service_supervisor_run(s);
}

/* Both only set flags: async-signal-safe. */
static void stop_supervisor(void *s)
{
    ft_service_supervisor_stop(s);
}

static void reload_supervisor(void *s)
{
    ft_service_supervisor_request_reload(s);
}

int ft_cmd_serve(int argc, char **argv)
{
    const char *streams = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(a, "--check")) {
            check = true;
        } else if (!strcmp(a, "--streams") && i + 1 < argc) {
            streams = argv[++i];
        } else if (!strncmp(a, "--streams=", 10)) {
            streams = a + 10;
        } else if ((!strcmp(a, "--log-format") && i + 1 < argc) ||
                   !strncmp(a, "--log-format=", 13)) {
            const char *v = a[12] == '=' ? a + 13 : argv[++i];
            if (!strcmp(v, "json"))
                ft_log_set_format(FT_LOG_FORMAT_JSON);
            else if (!strcmp(v, "text"))
                ft_log_set_format(FT_LOG_FORMAT_TEXT);
            else {
                fprintf(stderr, "serve: --log-format: expected text or json, got '%s'\n", v);
                return FT_EXIT_CONFIG;
            }
        } else {
            fprintf(stderr, "serve: unknown option or missing value: %s\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (!streams) {
        fprintf(stderr, "serve: --streams FILE is required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    if (check)
        return check_file(streams);
    ft_service_supervisor *s = NULL;
    ft_service_supervisor_params p = {.streams_path = streams, .worker_bin = NULL};
    ft_status st = ft_service_supervisor_create(&p, &s);
    if (st)
        goto out;
    static const ft_cli_signal_ops ops = {run_supervisor, stop_supervisor, reload_supervisor};
    st = ft_cli_run_with_signals(&ops, s);
out:
    if (st)
        fprintf(stderr, "serve: failed: %s (exit %d)\n", ft_status_str(st),
                ft_status_exit_code(st));
    ft_service_supervisor_destroy(&s);
    return ft_status_exit_code(st);
}
