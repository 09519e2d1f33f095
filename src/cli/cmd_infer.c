/* `football-tracker infer`: the shared inference server (service/infer_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "core/parse.h"
#include "pipeline/pipeline.h"
#include "service/http.h"
#include "service/infer_server.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker infer --socket PATH [options]\n"
                 "\n"
                 "Shared inference server: loads ONE RF-DETR model (model.path, model.device,\n"
                 "model.imgsz, ...) and runs the frames of many stream workers through it,\n"
                 "several per forward pass. Workers use it with detector.type: shared and\n"
                 "model.server: PATH; `serve` starts it with serve.shared_inference: true.\n"
                 "A batch runs when --max-batch frames wait or --batch-window-ms after the\n"
                 "first one, whichever comes first. See docs/gpu-sharing.md.\n"
                 "\n"
                 "options:\n");
    ft_cli_common_usage(out);
    fprintf(out,
            "  --socket PATH            unix socket to listen on (required; a stale one is\n"
            "                           replaced, a live one refused)\n"
            "  --max-batch B            frames per forward pass, 1..256 (default 8)\n"
            "  --batch-window-ms W      longest wait for a batch to fill, 0..1000 (default 3)\n"
            "  --max-clients N          connected workers at most, 1..256 (default 64)\n"
            "  --http-port N            serve /health, /ready and /metrics (ft_infer_*) on\n"
            "                           http.bind:N; none without it\n"
            "  --help                   this text\n"
            "\n"
            "Signals: SIGINT/SIGTERM stop it (clients get no detections until it is back).\n"
            "Exit codes: 0 stopped, 1 configuration (bad option, socket path unusable or\n"
            "already served), 2 model, 5 GPU, 6 runtime.\n");
}

static ft_status run_server(void *s)
{
    return ft_service_infer_run(s);
}

static void stop_server(void *s)
{
    ft_service_infer_stop(s); /* sets a flag: async-signal-safe */
}

static bool ready(void *user)
{
    (void)user;
    return true; /* the HTTP server starts once the model is loaded */
}

static ft_status metrics(void *user, char *buf, size_t cap, size_t *len)
{
    return ft_service_infer_metrics(user, buf, cap, len);
}

int ft_cmd_infer(int argc, char **argv)
{
    ft_cli_common c;
    ft_cli_common_init(&c);
    const char *socket_path = NULL;
    int max_batch = 8, max_clients = 64, http_port = -1;
    double window_ms = 3;
    for (int i = 1; i < argc; i++) {
        bool used = false;
        if (ft_cli_common_parse_arg(&c, argc, argv, &i, &used))
            return FT_EXIT_CONFIG;
        if (used)
            continue;
        const char *opt = argv[i], *v;
        bool ok = true;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--socket"))) {
            socket_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--max-batch"))) {
            ok = ft_parse_int(v, 1, FT_RFDETR_MAX_BATCH, &max_batch);
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--batch-window-ms"))) {
            ok = ft_parse_double(v, 0, 1000, &window_ms);
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--max-clients"))) {
            ok = ft_parse_int(v, 1, FT_INFER_MAX_CLIENTS, &max_clients);
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--http-port"))) {
            ok = ft_parse_int(v, 0, 65535, &http_port);
        } else {
            fprintf(stderr, "infer: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        if (!ok) {
            fprintf(stderr, "infer: bad value '%s' for %.*s\n", v, (int)strcspn(opt, "="), opt);
            return FT_EXIT_CONFIG;
        }
    }
    /* Under `serve` the log records name the server like a stream. */
    const char *id = getenv("FOOTBALL_TRACKER_STREAM_ID");
    if (id && *id)
        ft_log_set_stream_id(id);
    if (!socket_path) {
        fprintf(stderr, "infer: --socket is required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    ft_config *cfg = NULL;
    ft_service_infer *s = NULL;
    ft_service_http *http = NULL;
    ft_status st = ft_cli_common_load(&c, &cfg);
    if (st)
        goto out;
    const ft_settings *set = ft_settings_of(cfg);
    if (!set->model.path[0]) {
        fprintf(stderr, "infer: model.path is not set (--set model.path=FILE or a model config)\n");
        st = FT_ERR_CONFIG;
        goto out;
    }
    ft_service_infer_params ip = {
        .socket_path = socket_path, .batch_window_ms = window_ms, .max_clients = max_clients};
    ft_pipeline_rfdetr_params_from_settings(set, &ip.model);
    ip.model.max_batch = max_batch;
    if ((st = ft_service_infer_create(&ip, &s)))
        goto out;
    if (http_port >= 0) {
        ft_service_http_params hp = {.bind = set->http.bind, .port = http_port};
        ft_service_http_handlers h = {.user = s, .ready = ready, .metrics = metrics};
        if ((st = ft_service_http_create(&hp, &h, &http)))
            goto out;
    }
    static const ft_cli_signal_ops ops = {run_server, stop_server, NULL};
    st = ft_cli_run_with_signals(&ops, s);
out:
    if (st)
        fprintf(stderr, "infer: failed: %s (exit %d)\n", ft_status_str(st),
                ft_status_exit_code(st));
    ft_service_http_destroy(&http);
    ft_service_infer_destroy(&s);
    ft_config_destroy(&cfg);
    return ft_status_exit_code(st);
}
