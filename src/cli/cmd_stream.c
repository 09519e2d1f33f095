/* `football-tracker stream`: the live service (service/stream.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "service/stream.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker stream (--input URL | --listen rtmp://ADDR:PORT/APP)\n"
                 "                              --output URL [options]\n"
                 "\n"
                 "Live mode: reads an RTMP/RTMPS/SRT stream, follows the ball and pushes the\n"
                 "virtual-camera stream (x264 zerolatency or NVENC) to an RTMP/RTMPS/SRT URL at a\n"
                 "constant frame rate. When the input stalls the last frame is repeated, then a\n"
                 "RECONNECTING slate is shown; input and output reconnect independently with\n"
                 "exponential backoff (stream.reconnect_attempts, stream.reconnect_delay).\n"
                 "Video is never written to disk.\n"
                 "\n"
                 "options:\n");
    ft_cli_common_usage(out);
    fprintf(
        out,
        "  --http-port N            HTTP port (http.port, FT_HTTP_PORT; bind address http.bind)\n"
        "  --listen URL             accept an RTMP publisher on rtmp://ADDR:PORT/APP instead of\n"
        "                           --input: only from stream.listen_allow addresses, with the\n"
        "                           stream key in stream.listen_token_file\n"
        "  --realtime               pace the input by its timestamps (a file as a camera)\n"
        "  --track-out FILE         write the per-frame track CSV (no video is written)\n"
        "  --help                   this text\n"
        "\n"
        "HTTP: /health /ready /metrics /status /status.json /preview.mjpg /config (GET, and\n"
        "PATCH with 'Authorization: Bearer <token from http.token_file>').\n"
        "Signals: SIGHUP re-reads the configuration files (also done when they change);\n"
        "SIGINT/SIGTERM stop cleanly.\n"
        "Exit codes: 0 stopped, 1 configuration, 2 model, 3 input lost (reconnects exhausted),\n"
        "4 output lost (reconnects exhausted), 5 GPU, 6 runtime.\n");
}

static ft_status run_service(void *s)
{
    return ft_service_stream_run(s);
}

/* Both only set flags: async-signal-safe. */
static void stop_service(void *s)
{
    ft_service_stream_stop(s);
}

static void reload_service(void *s)
{
    ft_service_stream_request_reload(s);
}

int ft_cmd_stream(int argc, char **argv)
{
    ft_cli_common c;
    ft_cli_common_init(&c);
    bool realtime = false;
    const char *track_out = NULL, *listen = NULL;
    for (int i = 1; i < argc; i++) {
        bool used = false;
        if (ft_cli_common_parse_arg(&c, argc, argv, &i, &used))
            return FT_EXIT_CONFIG;
        if (used)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--realtime")) {
            realtime = true;
        } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen = argv[++i];
        } else if (!strcmp(argv[i], "--track-out") && i + 1 < argc) {
            track_out = argv[++i];
        } else if (!strncmp(argv[i], "--http-port", 11) &&
                   (argv[i][11] == '=' || (argv[i][11] == '\0' && i + 1 < argc))) {
            const char *v = argv[i][11] == '=' ? argv[i] + 12 : argv[++i];
            if (ft_cli_common_add_override(&c, "--http-port", "http.port", v))
                return FT_EXIT_CONFIG;
        } else {
            fprintf(stderr, "stream: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    /* `serve` names each worker's stream in its log records (they share
     * stderr); not an FT_* variable, which the configuration would read. */
    const char *stream_id = getenv("FOOTBALL_TRACKER_STREAM_ID");
    if (stream_id && *stream_id)
        ft_log_set_stream_id(stream_id);
    if ((!c.input && !listen) || !c.output) {
        fprintf(stderr, "stream: --input (or --listen) and --output are required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    ft_config *cfg = NULL;
    ft_service_stream *s = NULL;
    ft_status st = ft_cli_common_load(&c, &cfg);
    if (st)
        goto out;
    ft_service_stream_params sp = {c.input, c.output, realtime, track_out, listen};
    if ((st = ft_service_stream_create(&sp, &cfg, &s)))
        goto out;
    static const ft_cli_signal_ops ops = {run_service, stop_service, reload_service};
    st = ft_cli_run_with_signals(&ops, s);
out:
    if (st)
        fprintf(stderr, "stream: failed: %s (exit %d)\n", ft_status_str(st),
                ft_status_exit_code(st));
    ft_service_stream_destroy(&s);
    ft_config_destroy(&cfg);
    return ft_status_exit_code(st);
}
