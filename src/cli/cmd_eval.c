/* `football-tracker eval`: scores a track file against ground truth (or on its
 * own), or runs the evaluation suite (tools/eval). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/parse.h"
#include "core/status.h"
#include "pipeline/track_csv.h"
#include "tools/eval/eval.h"
#include "tools/eval/suite.h"
#include "tools/synth/truth.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker eval --track track.csv [--truth truth.csv] [options]\n"
                 "       football-tracker eval --suite eval/suite.yml [--short] [--workdir DIR]\n"
                 "\n"
                 "Scores a per-frame track (batch --track-out) against ground truth (synth\n"
                 "--truth, or your own annotations in the same CSV format). Without --truth\n"
                 "only the figures that need none: camera smoothness, lost %%, chaos %%,\n"
                 "detections per frame.\n"
                 "\n"
                 "  --track FILE    track CSV written by batch --track-out\n"
                 "  --truth FILE    ground-truth CSV (frame, x, y, visibility, ...)\n"
                 "  --radius PX     match radius for detections and re-acquisition (default 8)\n"
                 "  --frame-size WxH  source frame size for the framing figures (crop width\n"
                 "                  fraction, zoom); without it the track's widest crop is\n"
                 "                  taken as the full frame\n"
                 "  --json FILE     write the figures as JSON\n"
                 "  --plot FILE     write a PNG plot (x, y and error over time)\n"
                 "  --suite FILE    run a suite: synth + batch + eval per run, one table;\n"
                 "                  exit 6 when a regression threshold fails\n"
                 "  --short         only the runs marked short, at the short duration and size\n"
                 "  --workdir DIR   where the suite keeps clips, tracks and logs\n"
                 "                  (default ./eval-out, created if missing)\n"
                 "Exit codes: 0 done, 1 bad option, 3 a CSV cannot be read or is malformed,\n"
                 "4 an output cannot be written, 6 a suite run failed or a threshold was\n"
                 "not met.\n");
}

static int run_suite(const char *suite_path, const char *workdir, bool short_only)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "eval: cannot find the football-tracker executable: %s\n", strerror(errno));
        return FT_EXIT_RUNTIME;
    }
    self[len] = '\0';
    if (mkdir(workdir, 0755) && errno != EEXIST) {
        fprintf(stderr, "eval: cannot create work directory '%s': %s\n", workdir, strerror(errno));
        return FT_EXIT_OUTPUT;
    }
    ft_eval_suite_params sp = {.suite = suite_path,
                               .bin = self,
                               .workdir = workdir,
                               .short_only = short_only,
                               .out = stdout};
    int failed = 0;
    ft_status st = ft_eval_suite_run(&sp, &failed);
    if (st)
        return ft_status_exit_code(st);
    if (failed) {
        fprintf(stderr, "eval: %d regression threshold(s) failed\n", failed);
        return FT_EXIT_RUNTIME;
    }
    return FT_EXIT_OK;
}

int ft_cmd_eval(int argc, char **argv)
{
    const char *track_path = NULL, *truth_path = NULL, *json = NULL, *plot = NULL, *v;
    const char *suite_path = NULL, *workdir = "eval-out";
    bool short_only = false;
    ft_eval_params ep;
    ft_eval_params_default(&ep);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(a, "--short")) {
            short_only = true;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--track"))) {
            track_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--truth"))) {
            truth_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--json"))) {
            json = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--plot"))) {
            plot = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--suite"))) {
            suite_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--workdir"))) {
            workdir = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--frame-size"))) {
            if (!ft_parse_size(v, &ep.frame_w, &ep.frame_h)) {
                fprintf(stderr, "eval: --frame-size: '%s' is not WxH (1..100000 each)\n", v);
                return FT_EXIT_CONFIG;
            }
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--radius"))) {
            if (!ft_parse_double(v, 0.0, 1000.0, &ep.radius) || !(ep.radius > 0.0)) {
                fprintf(stderr, "eval: --radius: '%s' is not a number in (0, 1000]\n", v);
                return FT_EXIT_CONFIG;
            }
        } else {
            fprintf(stderr, "eval: unknown option or missing value: '%s'\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (suite_path)
        return run_suite(suite_path, workdir, short_only);
    if (!track_path) {
        fprintf(stderr, "eval: --track FILE is required (or --suite FILE)\n");
        return FT_EXIT_CONFIG;
    }

    ft_track_csv *tr = NULL;
    ft_synth_truth *truth = NULL;
    size_t n_truth = 0;
    ft_eval_result r;
    ft_status st = ft_track_csv_read(track_path, &tr);
    if (!st && truth_path)
        st = ft_synth_truth_read(truth_path, &truth, &n_truth);
    if (!st)
        st = ft_eval_compute(&ep, truth_path ? truth : NULL, n_truth, tr, &r);
    if (!st) {
        ft_eval_print_table(stdout, &r);
        if (json)
            st = ft_eval_write_json(json, &r);
    }
    if (!st && plot)
        st = ft_eval_plot_png(plot, &ep, truth_path ? truth : NULL, n_truth, tr);
    if (st)
        fprintf(stderr, "eval: failed: %s\n", ft_status_str(st));
    free(truth);
    ft_track_csv_destroy(&tr);
    return ft_status_exit_code(st);
}
