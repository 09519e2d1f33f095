/* `football-tracker synth`: renders a synthetic match to an H.264 file and
 * writes its per-frame ground truth (tools/synth). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/status.h"
#include "io/writer.h"
#include "tools/synth/synth.h"
#include "tools/synth/truth.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker synth --out clip.mp4 [--truth truth.csv] [options]\n"
                 "\n"
                 "Renders a synthetic football match with exact ball ground truth.\n"
                 "\n"
                 "  --out FILE        video to write (H.264; .mp4, .mkv, ...)\n"
                 "  --truth FILE      per-frame ground truth CSV (see README)\n"
                 "  --seconds S       duration (default 10)\n"
                 "  --fps F           frame rate (default 30)\n"
                 "  --size WxH        frame size (default 1920x1080; even numbers)\n"
                 "  --seed N          random seed; the same seed gives the same match (default 1)\n"
                 "  --scenario NAME   wide (static camera), broadcast (panning, zooming),\n"
                 "                    night (floodlights), cuts (scene cuts) (default wide)\n"
                 "  --crf N           x264 quality, 0-51 (default 20)\n"
                 "  --no-noise        no sensor noise\n"
                 "  --overlay         a broadcaster's watermark fixed bottom right (overlay test)\n"
                 "  --help            this text\n"
                 "At least one of --out and --truth is needed.\n"
                 "Exit codes: 0 written, 1 bad option, 4 cannot write a file, 6 runtime error.\n");
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end || errno || !(*v >= lo && *v <= hi)) {
        fprintf(stderr, "synth: %s: '%s' is not a number in [%g, %g]\n", opt, s, lo, hi);
        return -1;
    }
    return 0;
}

int ft_cmd_synth(int argc, char **argv)
{
    ft_synth_params p;
    ft_synth_params_default(&p);
    const char *out_path = NULL, *truth_path = NULL, *v;
    double seconds = 10.0, num, crf = 20.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(a, "--no-noise")) {
            p.noise = false;
        } else if (!strcmp(a, "--overlay")) {
            p.overlay = true;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--out"))) {
            out_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--truth"))) {
            truth_path = v;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--seconds"))) {
            if (parse_num("--seconds", v, 0.01, 36000.0, &seconds))
                return FT_EXIT_CONFIG;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--fps"))) {
            if (parse_num("--fps", v, 1.0, 240.0, &p.fps))
                return FT_EXIT_CONFIG;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--crf"))) {
            if (parse_num("--crf", v, 0.0, 51.0, &crf))
                return FT_EXIT_CONFIG;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--seed"))) {
            if (parse_num("--seed", v, 0.0, 9007199254740992.0, &num))
                return FT_EXIT_CONFIG;
            p.seed = (uint64_t)num;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--size"))) {
            char *x;
            long w = strtol(v, &x, 10), h = 0;
            if (*x == 'x')
                h = strtol(x + 1, &x, 10);
            if (*x || w < 64 || w > 7680 || h < 64 || h > 4320 || (w & 1) || (h & 1)) {
                fprintf(stderr,
                        "synth: --size: '%s' is not WxH with even sizes from 64x64 "
                        "to 7680x4320\n",
                        v);
                return FT_EXIT_CONFIG;
            }
            p.width = (int)w;
            p.height = (int)h;
        } else if ((v = ft_cli_opt_value(argc, argv, &i, "--scenario"))) {
            int sc = ft_synth_scenario_from_name(v);
            if (sc < 0) {
                fprintf(stderr, "synth: --scenario: unknown '%s' (wide, broadcast, night, cuts, closeup)\n",
                        v);
                return FT_EXIT_CONFIG;
            }
            p.scenario = (ft_synth_scenario)sc;
        } else {
            fprintf(stderr, "synth: unknown option or missing value: '%s'\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (!out_path && !truth_path) {
        fprintf(stderr, "synth: nothing to do: give --out and/or --truth\n");
        return FT_EXIT_CONFIG;
    }

    ft_status st = FT_OK;
    ft_synth *s = NULL;
    ft_writer *w = NULL;
    ft_synth_truth_writer *tw = NULL;
    st = ft_synth_create(&p, &s);
    if (st)
        goto out;
    if (out_path) {
        ft_writer_params wp;
        ft_writer_params_default(&wp);
        wp.url = out_path;
        wp.width = p.width;
        wp.height = p.height;
        wp.fps = p.fps;
        wp.codec = "x264";
        wp.crf = (int)crf;
        wp.atomic = true; /* a failed or interrupted run leaves no broken video */
        st = ft_writer_open(&wp, &w);
        if (st)
            goto out;
    }
    if (truth_path) {
        st = ft_synth_truth_writer_create(truth_path, &p, &tw);
        if (st)
            goto out;
    }
    long long frames = (long long)(seconds * p.fps + 0.5);
    if (frames < 1)
        frames = 1;
    bool tty = isatty(STDERR_FILENO);
    for (long long k = 0; k < frames; k++) {
        ft_image img;
        ft_synth_truth t;
        st = ft_synth_next(s, &img, &t);
        if (!st && w)
            st = ft_writer_write_image(w, &img, t.pts);
        if (!st && tw)
            st = ft_synth_truth_writer_write(tw, &t);
        if (st)
            goto out;
        if (tty && (k % 10 == 0 || k == frames - 1))
            fprintf(stderr, "\rsynth: frame %lld/%lld (%d%%)", k + 1, frames,
                    (int)(100 * (k + 1) / frames));
    }
    if (tty)
        fputc('\n', stderr);
    if (w)
        st = ft_writer_close(w);
    if (!st && tw)
        st = ft_synth_truth_writer_finish(tw);
out:
    if (st)
        fprintf(stderr, "synth: failed: %s\n", ft_status_str(st));
    ft_synth_truth_writer_destroy(&tw);
    ft_writer_destroy(&w);
    ft_synth_destroy(&s);
    return ft_status_exit_code(st);
}
