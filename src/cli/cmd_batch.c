/* `football-tracker batch`: one file (or stream) in, one virtual-camera video
 * out, every frame processed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "pipeline/pipeline.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker batch --input PATH|URL --output PATH [options]\n"
            "\n"
            "Processes a whole video: decode, detect, track, virtual camera, render, encode.\n"
            "The output is written to a temporary file beside PATH and renamed when complete;\n"
            "a failed or interrupted run (SIGINT/SIGTERM: exit 6) leaves nothing under PATH,\n"
            "nor a --track-out file. Audio is copied from the input.\n"
            "\n"
            "options:\n");
    ft_cli_common_usage(out);
    fprintf(
        out,
        "  --detections FILE        replay detections from a CSV/JSON file instead of a detector\n"
        "  --track-out FILE         write the per-frame track CSV (frame, state, crop, "
        "candidates)\n"
        "  --no-progress            no progress bar (none is drawn when stderr is not a terminal)\n"
        "  --help                   this text\n"
        "\n"
        "With --debug a side-by-side debug video (full frame with detections, gate and crop |\n"
        "output) is written next to the output as NAME.debug.EXT.\n"
        "Exit codes: 0 done, 1 configuration, 2 model, 3 input, 4 output, 5 GPU, 6 runtime.\n");
}

static ft_status run_pipeline(void *pl)
{
    return ft_pipeline_run(pl);
}

static void stop_pipeline(void *pl)
{
    ft_pipeline_stop(pl); /* only touches lock-free atomics: async-signal-safe */
}

/* "dir/name.ext" -> "dir/name.debug.ext" (".mp4" when there is no extension). */
static int debug_path(const char *output, char *buf, size_t cap)
{
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(output, '.');
    if (!dot || (slash && dot < slash))
        return snprintf(buf, cap, "%s.debug.mp4", output);
    return snprintf(buf, cap, "%.*s.debug%s", (int)(dot - output), output, dot);
}

/* path with its directory resolved ("./a.mp4" and "/videos/a.mp4" alike), so
 * that files not created yet compare too; the path itself when its directory
 * does not resolve. */
static void canonical(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path);
    else
        snprintf(dir, sizeof dir, ".");
    if (!realpath(dir, real) ||
        (size_t)snprintf(buf, cap, "%s/%s", real, slash ? slash + 1 : path) >= cap)
        snprintf(buf, cap, "%s", path);
}

/* Whether two paths name the same file: the same place, or the same
 * existing file through another name (links). A "file:" URL, which the
 * reader and the writer accept, is its path. */
static bool same_path(const char *a, const char *b)
{
    a += strncmp(a, "file:", 5) ? 0 : 5;
    b += strncmp(b, "file:", 5) ? 0 : 5;
    char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
    canonical(a, ca, sizeof ca);
    canonical(b, cb, sizeof cb);
    if (!strcmp(ca, cb))
        return true;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Whether the file this run writes as `what` (path, NULL = none) is also
 * `other_what` (other, NULL = none); says so on stderr. Writing it would
 * destroy an input while it is read, or one output would replace another. */
static bool clash(const char *what, const char *path, const char *other_what, const char *other)
{
    if (!path || !other || !same_path(path, other))
        return false;
    fprintf(stderr, "batch: %s %s is also %s; refusing to overwrite it\n", what, path, other_what);
    return true;
}

static void report(ft_pipeline *pl)
{
    ft_pipeline_stats s;
    ft_pipeline_stats_get(pl, &s);
    FT_LOGI("batch",
            "%lld frames in %.2f s (%.1f fps); per frame: decode %.2f ms, detect %.2f ms, track "
            "%.2f ms, render %.2f ms, encode %.2f ms; %lld detections, %lld corrupt packets",
            (long long)s.frames_out, s.elapsed_s, s.fps, s.stage_ms[FT_STAGE_DECODE],
            s.stage_ms[FT_STAGE_DETECT], s.stage_ms[FT_STAGE_TRACK], s.stage_ms[FT_STAGE_RENDER],
            s.stage_ms[FT_STAGE_ENCODE], (long long)s.detections, (long long)s.corrupt_packets);
}

int ft_cmd_batch(int argc, char **argv)
{
    ft_cli_common c;
    ft_cli_common_init(&c);
    const char *detections = NULL, *track_out = NULL;
    bool progress = true;
    for (int i = 1; i < argc; i++) {
        bool used = false;
        if (ft_cli_common_parse_arg(&c, argc, argv, &i, &used))
            return FT_EXIT_CONFIG;
        if (used)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--no-progress")) {
            progress = false;
        } else if (!strcmp(argv[i], "--detections") && i + 1 < argc) {
            detections = argv[++i];
        } else if (!strcmp(argv[i], "--track-out") && i + 1 < argc) {
            track_out = argv[++i];
        } else {
            fprintf(stderr, "batch: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (!c.input || !c.output) {
        fprintf(stderr, "batch: --input and --output are required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    ft_config *cfg = NULL;
    ft_detector *det = NULL;
    ft_detect_filter *filter = NULL;
    ft_pipeline *pl = NULL;
    char dbg[4096];
    ft_status st = ft_cli_common_load(&c, &cfg);
    if (st)
        goto out;
    const ft_settings *s = ft_settings_of(cfg);
    const char *debug_out = NULL;
    if (s->stream.debug_mode) {
        if ((size_t)debug_path(c.output, dbg, sizeof dbg) >= sizeof dbg) {
            fprintf(stderr, "batch: output path too long: %s\n", c.output);
            st = FT_ERR_OUTPUT;
            goto out;
        }
        debug_out = dbg;
    }
    if (clash("--output", c.output, "the input file", c.input) ||
        clash("the debug video", debug_out, "the input file", c.input) ||
        clash("--track-out", track_out, "the input file", c.input) ||
        clash("--track-out", track_out, "--detections", detections) ||
        clash("--track-out", track_out, "--output", c.output) ||
        clash("--track-out", track_out, "the debug video", debug_out)) {
        st = FT_ERR_OUTPUT;
        goto out;
    }
    if ((st = ft_pipeline_detector_create(s, detections, &det, &filter)))
        goto out;
    ft_pipeline_params pp;
    ft_pipeline_params_from_settings(s, &pp);
    pp.input = c.input;
    pp.output = c.output;
    pp.detector = det;
    pp.filter = filter;
    pp.track_out = track_out;
    pp.progress = progress;
    pp.debug_output = debug_out;
    if ((st = ft_pipeline_create(&pp, &pl)))
        goto out;
    static const ft_cli_signal_ops ops = {run_pipeline, stop_pipeline, NULL};
    st = ft_cli_run_with_signals(&ops, pl);
    report(pl);
    if (!st)
        FT_LOGI("batch", "wrote %s%s%s", c.output, pp.debug_output ? " and " : "",
                pp.debug_output ? pp.debug_output : "");
out:
    if (st)
        fprintf(stderr, "batch: failed: %s (exit %d)\n", ft_status_str(st),
                ft_status_exit_code(st));
    ft_pipeline_destroy(&pl);
    ft_detect_filter_destroy(&filter);
    ft_detector_destroy(&det);
    ft_config_destroy(&cfg);
    return ft_status_exit_code(st);
}
