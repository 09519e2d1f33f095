/* `bench synth`: CPU time per rendered frame of each synthetic scenario on one
 * core (match simulation, rendering, noise; no encoding). The baseline, timed
 * in the same run, is copying one frame of the same size: the least any
 * renderer must spend to produce a picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/status.h"
#include "tools/bench/bench.h"
#include "tools/synth/synth.h"

/* CPU ms per frame of copying a YUV420P frame of w x h (the baseline). */
static double copy_ms(int w, int h, int frames)
{
    size_t n = (size_t)w * h * 3 / 2;
    unsigned char *a = malloc(n), *b = malloc(n);
    if (!a || !b) {
        free(a);
        free(b);
        return -1.0;
    }
    memset(a, 1, n);
    double t0 = ft_bench_cpu_seconds();
    for (int i = 0; i < frames; i++) {
        a[(size_t)i % n] = (unsigned char)i; /* the copies cannot be merged */
        memcpy(b, a, n);
    }
    double ms = (ft_bench_cpu_seconds() - t0) * 1e3 / frames;
    volatile unsigned char sink = b[n / 2];
    (void)sink;
    free(a);
    free(b);
    return ms;
}

int ft_bench_synth(int argc, char **argv)
{
    int frames = 150, w = 1920, h = 1080;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: football-tracker bench synth [--frames N] [--size WxH]\n"
                   "CPU ms per rendered frame of each scenario (one core, after set-up),\n"
                   "against copying one frame of the same size.\n");
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            if (!ft_parse_int(argv[++i], 4, 100000, &frames)) {
                fprintf(stderr, "bench synth: --frames: '%s' is not in [4, 100000]\n", argv[i]);
                return FT_EXIT_CONFIG;
            }
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            int ww, hh;
            if (!ft_parse_size(argv[++i], &ww, &hh) || ww < 64 || ww > 7680 || hh < 64 ||
                hh > 4320 || (ww & 1) || (hh & 1)) {
                fprintf(stderr, "bench synth: --size: '%s' is not WxH (even, 64..7680)\n", argv[i]);
                return FT_EXIT_CONFIG;
            }
            w = ww;
            h = hh;
        } else {
            fprintf(stderr, "bench synth: unknown option '%s'\n", argv[i]);
            return FT_EXIT_CONFIG;
        }
    }
    double base = copy_ms(w, h, frames * 4);
    if (base <= 0.0)
        return FT_EXIT_RUNTIME;
    printf("synth %dx%d, %d frames per scenario, one core (CPU time)\n", w, h, frames);
    printf("  baseline: frame copy %.3f ms/frame\n", base);
    for (int sc = 0; sc < FT_SYNTH_SCENARIO_COUNT; sc++) {
        ft_synth_params p;
        ft_synth_params_default(&p);
        p.width = w;
        p.height = h;
        p.scenario = (ft_synth_scenario)sc;
        ft_synth *s = NULL;
        double t0 = ft_bench_cpu_seconds();
        ft_status st = ft_synth_create(&p, &s);
        double setup = ft_bench_cpu_seconds() - t0;
        t0 = ft_bench_cpu_seconds();
        for (int i = 0; !st && i < frames; i++) {
            ft_image im;
            ft_synth_truth t;
            st = ft_synth_next(s, &im, &t);
        }
        double ms = (ft_bench_cpu_seconds() - t0) * 1e3 / frames;
        ft_synth_destroy(&s);
        if (st) {
            fprintf(stderr, "bench synth: %s failed: %s\n",
                    ft_synth_scenario_name((ft_synth_scenario)sc), ft_status_str(st));
            return ft_status_exit_code(st);
        }
        printf("  %-10s %7.2f ms/frame (%6.1fx the copy), set-up %.0f ms\n",
               ft_synth_scenario_name((ft_synth_scenario)sc), ms, ms / base, setup * 1e3);
    }
    return FT_EXIT_OK;
}
