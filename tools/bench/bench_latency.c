/* `bench latency`: added latency of the live pipeline. A generated match
 * (tools/synth) is stamped with a frame counter drawn as a barcode, played
 * at its own frame rate as a live source (pipeline realtime pacing), and the
 * counter is read back from every rendered output frame right after it was
 * encoded: latency = encode end - the moment the source frame was due. The
 * camera is held at the widest zoom so the barcode stays in the picture;
 * detection, tracking, rendering and encoding run as in `stream`. The
 * baseline is the same run with the detector off. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/parse.h"
#include "detect/classic.h"
#include "io/writer.h"
#include "pipeline/pipeline.h"
#include "tools/bench/bench.h"
#include "tools/synth/synth.h"

/* Barcode: 16-bit counter then its complement (a read is valid only when
 * they agree), one 24x24 block per bit along the top-left of the frame. */
#define BITS 32
#define BLOCK 24
#define ORIGIN 8

typedef struct run_state {
    double origin_ns; /* wall time of the source's time 0 (0 = not known yet) */
    double fps;
    double *lat_ms; /* per counter value, NAN = not seen */
    int n_frames;
    int64_t unreadable;
} run_state;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stamp(ft_image *img, unsigned counter)
{
    uint32_t code = (counter & 0xffffu) | ((~counter & 0xffffu) << 16);
    for (int b = 0; b < BITS; b++) {
        uint8_t v = (code >> b) & 1 ? 235 : 16;
        for (int y = ORIGIN; y < ORIGIN + BLOCK; y++)
            memset(img->data[0] + (size_t)y * (size_t)img->stride[0] + ORIGIN + b * BLOCK, v,
                   BLOCK);
    }
}

/* Returns the counter, or -1 when the code does not check. */
static int read_code(const ft_image *img)
{
    uint32_t code = 0;
    for (int b = 0; b < BITS; b++) {
        int sum = 0;
        for (int y = ORIGIN + 8; y < ORIGIN + 16; y++)
            for (int x = ORIGIN + b * BLOCK + 8; x < ORIGIN + b * BLOCK + 16; x++)
                sum += img->data[0][(size_t)y * (size_t)img->stride[0] + (size_t)x];
        if (sum / 64 > 128)
            code |= 1u << b;
    }
    unsigned lo = code & 0xffffu, hi = code >> 16;
    return (lo ^ hi) == 0xffffu ? (int)lo : -1;
}

static ft_status on_frame(void *user, const ft_pipeline_frame *f)
{
    run_state *rs = user;
    int64_t t = now_ns();
    int k = f->picture ? read_code(f->picture) : -1;
    if (k < 0 || k >= rs->n_frames) {
        rs->unreadable++;
        return FT_OK;
    }
    /* The pacing releases frame 0 the moment it is decoded and later ones
     * at k/fps after it; the pipeline's own latency of the first frame read
     * back (release to encode end) places that origin on our clock. */
    if (rs->origin_ns == 0)
        rs->origin_ns = (double)t - f->latency_ms * 1e6 - 1e9 * k / rs->fps;
    double due_ns = rs->origin_ns + 1e9 * k / rs->fps;
    rs->lat_ms[k] = ((double)t - due_ns) / 1e6;
    return FT_OK;
}

static ft_status make_clip(const char *path, int w, int h, double fps, int frames)
{
    ft_synth_params sp;
    ft_synth_params_default(&sp);
    sp.width = w;
    sp.height = h;
    sp.fps = fps;
    sp.seed = 7;
    ft_synth *syn = NULL;
    ft_writer *wr = NULL;
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = path;
    wp.width = w;
    wp.height = h;
    wp.fps = fps;
    wp.codec = "x264";
    wp.preset = "veryfast";
    wp.crf = 20;
    ft_status st = ft_synth_create(&sp, &syn);
    if (!st)
        st = ft_writer_open(&wp, &wr);
    for (int i = 0; i < frames && !st; i++) {
        ft_image img;
        ft_synth_truth truth;
        if ((st = ft_synth_next(syn, &img, &truth)))
            break;
        stamp(&img, (unsigned)i);
        st = ft_writer_write_image(wr, &img, i / fps);
    }
    if (!st)
        st = ft_writer_close(wr);
    ft_writer_destroy(&wr);
    ft_synth_destroy(&syn);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct result {
    int measured;
    double p50, p95, max;
    int64_t dropped, unreadable;
} result;

static ft_status run_once(const char *clip, const char *out, double fps, int frames,
                          ft_detector *det, result *res)
{
    run_state rs = {.fps = fps, .n_frames = frames};
    rs.lat_ms = malloc((size_t)frames * sizeof *rs.lat_ms);
    if (!rs.lat_ms)
        return FT_ERR_NOMEM;
    for (int i = 0; i < frames; i++)
        rs.lat_ms[i] = NAN;
    ft_camera_params cam;
    ft_camera_params_default(&cam);
    cam.zoom_min = cam.zoom_max = 1.0; /* widest: the barcode stays in view */
    ft_pipeline_params pp;
    ft_pipeline_params_default(&pp);
    pp.input = clip;
    pp.output = out;
    pp.live = true;
    pp.realtime = true;
    pp.progress = false;
    pp.codec = "x264";
    pp.bitrate = 3000000;
    pp.target_fps = fps;
    pp.detector = det;
    pp.camera = &cam;
    pp.hooks = (ft_pipeline_hooks){.user = &rs, .on_frame = on_frame};
    ft_pipeline *pl = NULL;
    ft_status st = ft_pipeline_create(&pp, &pl);
    if (!st)
        st = ft_pipeline_run(pl);
    if (!st) {
        ft_pipeline_stats ps;
        ft_pipeline_stats_get(pl, &ps);
        res->dropped = ps.frames_dropped;
        res->unreadable = rs.unreadable;
        int n = 0;
        for (int i = 0; i < frames; i++)
            if (!isnan(rs.lat_ms[i]))
                rs.lat_ms[n++] = rs.lat_ms[i];
        qsort(rs.lat_ms, (size_t)n, sizeof *rs.lat_ms, cmp_double);
        res->measured = n;
        res->p50 = n ? rs.lat_ms[n / 2] : NAN;
        res->p95 = n ? rs.lat_ms[(int)floor(0.95 * (n - 1))] : NAN;
        res->max = n ? rs.lat_ms[n - 1] : NAN;
    }
    ft_pipeline_destroy(&pl);
    free(rs.lat_ms);
    return st;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker bench latency [--seconds S] [--size WxH] [--fps F]\n"
                 "\n"
                 "Added latency of the live pipeline (default detector, x264 zerolatency) on a\n"
                 "generated match played in real time; frame counters are stamped into the\n"
                 "input and read back from the output. Baseline: the same with detection off.\n"
                 "Defaults: 10 s of 1280x720 at 30 fps.\n");
}

int ft_bench_latency(int argc, char **argv)
{
    double seconds = 10, fps = 30;
    int w = 1280, h = 720;
    for (int i = 1; i < argc; i++) {
        bool ok;
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            ok = ft_parse_double(argv[++i], 1, 600, &seconds);
        } else if (!strcmp(argv[i], "--fps") && i + 1 < argc) {
            ok = ft_parse_double(argv[++i], 5, 120, &fps);
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            ok = ft_parse_size(argv[++i], &w, &h) && w >= 2 * ORIGIN + BITS * BLOCK && h >= 64 &&
                 !(w & 1) && !(h & 1);
        } else {
            fprintf(stderr, "bench latency: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        if (!ok) {
            fprintf(stderr, "bench latency: bad value for %s\n", argv[i - 1]);
            return FT_EXIT_CONFIG;
        }
    }
    int frames = (int)lround(seconds * fps);
    char dir[] = "/tmp/ft-bench-latency-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench latency: mkdtemp");
        return FT_EXIT_RUNTIME;
    }
    char clip[96], out[96];
    snprintf(clip, sizeof clip, "%s/in.mp4", dir);
    snprintf(out, sizeof out, "%s/out.flv", dir);
    ft_detector *det = NULL;
    result with = {0}, without = {0};
    ft_detect_classic_params cp;
    ft_detect_classic_params_default(&cp);
    printf("bench latency: generating %d frames of %dx%d at %g fps...\n", frames, w, h, fps);
    fflush(stdout);
    ft_status st = make_clip(clip, w, h, fps, frames);
    if (!st)
        st = ft_detect_classic_create(&cp, &det);
    if (!st)
        st = run_once(clip, out, fps, frames, NULL, &without);
    if (!st)
        st = run_once(clip, out, fps, frames, det, &with);
    unlink(clip);
    unlink(out);
    rmdir(dir);
    ft_detector_destroy(&det);
    if (st) {
        fprintf(stderr, "bench latency: failed: %s\n", ft_status_str(st));
        return ft_status_exit_code(st);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("added latency, %dx%d at %g fps played in real time, %ld cores:\n", w, h, fps, cores);
    printf("  %-28s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  (%d frames read back, %lld "
           "dropped, %lld unreadable)\n",
           "default detector", with.p50, with.p95, with.max, with.measured, (long long)with.dropped,
           (long long)with.unreadable);
    printf("  %-28s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  (%d frames read back, %lld "
           "dropped, %lld unreadable)\n",
           "baseline (no detection)", without.p50, without.p95, without.max, without.measured,
           (long long)without.dropped, (long long)without.unreadable);
    printf("  ratio p95 detector/baseline: %.2f; target p95 <= 100 ms: %s\n",
           without.p95 > 0 ? with.p95 / without.p95 : NAN, with.p95 <= 100 ? "met" : "NOT met");
    return FT_EXIT_OK;
}
