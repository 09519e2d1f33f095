/* `bench track`: tracker + virtual camera updates per second on one core, over
 * generated candidate lists (rests, kicks that slow down, bounces, occlusions,
 * false positives, detector jitter). The baseline, timed in the same run over
 * the same frames, is the bare Kalman filter (predict + update with the first
 * candidate): the least a tracker must spend per frame. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camera/camera.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/status.h"
#include "pipeline/track_camera.h"
#include "tools/bench/bench.h"
#include "track/kalman.h"
#include "track/tracker.h"

/* Generated frames, cycled while timing (the scene starts and ends at rest in
 * the same place, so the cycle has no seam). */
enum { SCENE_FRAMES = 1 << 16, MAX_CANDS = 3 };

typedef struct frame {
    int n;
    ft_track_candidate c[MAX_CANDS];
} frame;

/* Uniform in [0, 1) from a 64-bit LCG (Knuth's MMIX constants). */
static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Fills the scene at `fps` on a w x h frame. */
static void scene_make(frame *f, double fps, double w, double h)
{
    uint64_t s = 12345;
    const double cx = 0.5 * w, cy = 0.5 * h;
    double x = cx, y = cy, vx = 0.0, vy = 0.0;
    int rest = 0, hidden = 0;
    for (int i = 0; i < SCENE_FRAMES; i++) {
        const int left = SCENE_FRAMES - i;
        if (left < 4 * fps) {
            /* Roll back to the start for a seamless cycle. */
            vx = (cx - x) * 2.0;
            vy = (cy - y) * 2.0;
        } else if (rest > 0) {
            rest--;
            vx = vy = 0.0;
        } else if (hypot(vx, vy) < 30.0) {
            if (lcg(&s) < 0.3) {
                rest = (int)(fps * (1.0 + 2.0 * lcg(&s)));
            } else {
                const double a = 2.0 * M_PI * lcg(&s), v = 200.0 + 1000.0 * lcg(&s);
                vx = v * cos(a);
                vy = 0.5 * v * sin(a);
            }
        }
        /* Rolling friction; bounce off the frame edges. */
        const double k = exp(-0.4 / fps);
        vx *= k;
        vy *= k;
        x += vx / fps;
        y += vy / fps;
        if (x < 20.0 || x > w - 20.0)
            vx = -vx;
        if (y < 20.0 || y > h - 20.0)
            vy = -vy;
        if (hidden > 0)
            hidden--;
        else if (lcg(&s) < 0.005)
            hidden = (int)(fps * 0.5 * lcg(&s)); /* occlusion up to 0.5 s */
        frame *fr = &f[i];
        fr->n = 0;
        if (!hidden)
            fr->c[fr->n++] = (ft_track_candidate){(float)(x + 3.0 * (lcg(&s) - 0.5)),
                                                  (float)(y + 3.0 * (lcg(&s) - 0.5)), 14.0f, 14.0f,
                                                  (float)(0.5 + 0.5 * lcg(&s))};
        while (fr->n < MAX_CANDS && lcg(&s) < 0.03) /* false positives */
            fr->c[fr->n++] = (ft_track_candidate){(float)(w * lcg(&s)), (float)(h * lcg(&s)), 18.0f,
                                                  18.0f, (float)(0.3 + 0.6 * lcg(&s))};
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker bench track [--frames N] [--fps F]\n"
                 "\n"
                 "Times tracker + virtual camera updates (1080p frames, 16:9 output) on one\n"
                 "core over generated candidate lists, against the bare Kalman filter.\n"
                 "  --frames N   updates to time (default 1000000)\n"
                 "  --fps F      frame rate of the generated scene (default 30)\n");
}

int ft_bench_track(int argc, char **argv)
{
    long frames = 1000000, fps_arg = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            if (!ft_parse_long(argv[++i], 1, 1000000000L, &frames)) {
                fprintf(stderr, "bench track: --frames '%s' is not a count in 1..1000000000\n",
                        argv[i]);
                return FT_EXIT_CONFIG;
            }
        } else if (!strcmp(argv[i], "--fps") && i + 1 < argc) {
            if (!ft_parse_long(argv[++i], 1, 1000, &fps_arg)) {
                fprintf(stderr, "bench track: --fps '%s' is not a rate in 1..1000\n", argv[i]);
                return FT_EXIT_CONFIG;
            }
        } else {
            fprintf(stderr, "bench track: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    const double fps = (double)fps_arg;
    const int W = 1920, H = 1080;
    ft_status st = FT_OK;
    ft_tracker *tr = NULL;
    ft_camera *cam = NULL;
    frame *sc = malloc(sizeof(frame) * SCENE_FRAMES);
    if (!sc) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    scene_make(sc, fps, W, H);
    ft_tracker_params tp;
    ft_camera_params cp;
    ft_tracker_params_default(&tp);
    ft_camera_params_default(&cp);
    st = ft_tracker_create(&tp, W, H, &tr);
    if (st)
        goto out;
    st = ft_camera_create(&cp, W, H, 1280, 720, &cam);
    if (st)
        goto out;

    /* Baseline: the bare Kalman filter on the first candidate of each frame. */
    ft_track_kalman k;
    ft_track_kalman_init(&k, 0.5 * W, 0.5 * H, 5.0, 1e6, 1e7);
    double sink = 0.0;
    double c0 = ft_bench_cpu_seconds();
    for (long i = 0; i < frames; i++) {
        const frame *f = &sc[i % SCENE_FRAMES];
        ft_track_kalman_predict(&k, 1.0 / fps, 2.43e5);
        if (f->n > 0)
            sink += ft_track_kalman_update(&k, f->c[0].x, f->c[0].y, 5.0);
    }
    const double base_cpu = ft_bench_cpu_seconds() - c0;

    /* Tracker + camera; the log is quietened so that mode changes do not
     * time the terminal. */
    const ft_log_level lvl = ft_log_get_level();
    ft_log_set_level(FT_LOG_ERROR);
    ft_track_state s;
    ft_crop crop;
    double area = 0.0;
    c0 = ft_bench_cpu_seconds();
    for (long i = 0; i < frames; i++) {
        const frame *f = &sc[i % SCENE_FRAMES];
        const double t = (double)i / fps;
        st = ft_tracker_update(tr, t, f->c, f->n, &s);
        if (st)
            break;
        const ft_camera_target tg = ft_pipeline_camera_target(&s);
        st = ft_camera_update(cam, t, &tg, &crop);
        if (st)
            break;
        area += crop.w;
    }
    const double full_cpu = ft_bench_cpu_seconds() - c0;
    ft_log_set_level(lvl);
    if (st)
        goto out;

    const double n = (double)frames;
    printf("bench track: %ld frames at %.0f fps, 1920x1080 -> 16:9, one core (thread CPU time)\n",
           frames, fps);
    printf("  tracker + camera : %10.0f updates/s  %8.1f ns/update\n", n / full_cpu,
           1e9 * full_cpu / n);
    printf("  baseline (Kalman predict+update only): %10.0f updates/s  %8.1f ns/update\n",
           n / base_cpu, 1e9 * base_cpu / n);
    printf("  ratio tracker+camera / Kalman-only time: %.2fx\n", full_cpu / base_cpu);
    printf("  modes: normal %.1f%%  acquiring %.1f%%  recovering %.1f%%  coasting %.1f%%  "
           "lost %.1f%%  chaos %.1f%%  lock %.1f%%\n",
           100.0 * s.stats.mode_frames[FT_TRACK_NORMAL] / n,
           100.0 * s.stats.mode_frames[FT_TRACK_ACQUIRING] / n,
           100.0 * s.stats.mode_frames[FT_TRACK_RECOVERING] / n,
           100.0 * s.stats.mode_frames[FT_TRACK_COASTING] / n,
           100.0 * s.stats.mode_frames[FT_TRACK_LOST] / n, 100.0 * s.stats.chaos_frames / n,
           100.0 * s.stats.lock_frames / n);
    printf("  accepted %llu  rejected %llu  jumps %llu  acquisitions %llu  (mean crop width "
           "%.0f px; checksum %.3g)\n",
           (unsigned long long)s.stats.accepted, (unsigned long long)s.stats.rejected,
           (unsigned long long)s.stats.jumps, (unsigned long long)s.stats.acquisitions, area / n,
           sink);
out:
    ft_camera_destroy(&cam);
    ft_tracker_destroy(&tr);
    free(sc);
    if (st) {
        fprintf(stderr, "bench track: %s\n", ft_status_str(st));
        return ft_status_exit_code(st);
    }
    return FT_EXIT_OK;
}
