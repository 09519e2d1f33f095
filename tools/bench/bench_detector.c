/* `bench detector`: throughput of the default detector plus the detection
 * filters, on one core, on synthetic wide-shot frames (striped grass with
 * sensor noise, lines, players, a moving ball). The baseline, timed in the
 * same run over the same frames, is a plain copy of each frame's luma plane:
 * the least any detector reading the frame must spend. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parse.h"
#include "core/status.h"
#include "detect/classic.h"
#include "detect/filters.h"
#include "tools/bench/bench.h"

/* Distinct frames generated up front and cycled through while timing. */
enum { SCENE_FRAMES = 12, PLAYERS = 22 };

typedef struct scene {
    int w, h;
    uint8_t *buf[SCENE_FRAMES]; /* YUV420P, one allocation per frame */
    ft_image im[SCENE_FRAMES];
} scene;

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fill_box(const ft_image *im, int x0, int y0, int x1, int y1, int luma, int u, int v)
{
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < im->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < im->width; x++) {
            im->data[0][(size_t)y * im->stride[0] + x] = (uint8_t)luma;
            im->data[1][(size_t)(y / 2) * im->stride[1] + x / 2] = (uint8_t)u;
            im->data[2][(size_t)(y / 2) * im->stride[2] + x / 2] = (uint8_t)v;
        }
}

static void draw_frame(const ft_image *im, int t)
{
    uint32_t rng = 0x9e3779b9u * (uint32_t)(t + 1);
    const int w = im->width, h = im->height, top = h / 6;
    for (int y = 0; y < h; y++) {
        uint8_t *row = im->data[0] + (size_t)y * im->stride[0];
        for (int x = 0; x < w; x++) {
            rng = rng * 1664525u + 1013904223u;
            int base = y < top ? 70 + (int)((x * 7 + y * 13) % 90) : 92 + ((x / (w / 16)) % 2) * 14;
            row[x] = (uint8_t)(base + (int)(rng >> 29) - 4);
        }
    }
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++) {
            bool stand = y * 2 < top;
            im->data[1][(size_t)y * im->stride[1] + x] = stand ? 128 : 108;
            im->data[2][(size_t)y * im->stride[2] + x] = stand ? 130 : 116;
        }
    int lw = h / 270 + 1;
    fill_box(im, 0, top + h / 20, w, top + h / 20 + lw, 200, 128, 128);
    fill_box(im, w / 2, top, w / 2 + lw, h, 200, 128, 128);
    for (int p = 0; p < PLAYERS; p++) {
        int px = (p * 173 % 19) * w / 20 + t * (p % 5 - 2);
        int py = top + h / 10 + (p * 97 % 13) * (h - top - h / 5) / 13;
        int pw = h / 90, ph = h / 30;
        fill_box(im, px, py, px + pw, py + ph / 2, p % 2 ? 215 : 60, 128, p % 2 ? 128 : 170);
        fill_box(im, px, py + ph / 2, px + pw, py + ph, 45, 128, 128);
    }
    int r = h / 200 + 1, bx = w / 4 + t * w / 150, by = h * 2 / 3 - t * h / 200;
    fill_box(im, bx - r, by - r, bx + r, by + r, 225, 127, 129);
}

static void scene_free(scene *s)
{
    for (int i = 0; i < SCENE_FRAMES; i++) {
        free(s->buf[i]);
        s->buf[i] = NULL;
    }
}

static ft_status scene_make(scene *s, int w, int h)
{
    s->w = w;
    s->h = h;
    size_t ysz = (size_t)w * h, csz = (size_t)(w / 2) * (h / 2);
    for (int i = 0; i < SCENE_FRAMES; i++) {
        s->buf[i] = malloc(ysz + 2 * csz);
        if (!s->buf[i]) {
            scene_free(s);
            return FT_ERR_NOMEM;
        }
        s->im[i] = (ft_image){.width = w,
                              .height = h,
                              .format = FT_PIX_YUV420P,
                              .data = {s->buf[i], s->buf[i] + ysz, s->buf[i] + ysz + csz},
                              .stride = {w, w / 2, w / 2}};
        draw_frame(&s->im[i], i);
    }
    return FT_OK;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker bench detector [--frames N] [--size WxH]\n"
                 "\n"
                 "Times the default detector and the detection filters (pitch mask on) on\n"
                 "synthetic frames, on one core, against a plain copy of each luma plane.\n"
                 "  --frames N   frames to time (default 600)\n"
                 "  --size WxH   frame size (default 1920x1080)\n");
}

int ft_bench_detector(int argc, char **argv)
{
    long frames = 600;
    int w = 1920, h = 1080;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            if (!ft_parse_long(argv[++i], 1, 1000000, &frames)) {
                fprintf(stderr, "bench detector: --frames '%s' is not a count in 1..1000000\n",
                        argv[i]);
                return FT_EXIT_CONFIG;
            }
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            const char *s = argv[++i];
            if (!ft_parse_size(s, &w, &h) || w < 64 || w > 7680 || h < 64 || h > 4320 || w % 2 ||
                h % 2) {
                fprintf(stderr, "bench detector: --size '%s' must be even WxH within 64x64..7680x4320\n",
                        s);
                return FT_EXIT_CONFIG;
            }
        } else {
            fprintf(stderr, "bench detector: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }

    scene sc = {0};
    ft_detector *det = NULL;
    ft_detect_filter *filt = NULL;
    uint8_t *copy = NULL;
    ft_status st = scene_make(&sc, (int)w, (int)h);
    if (st)
        goto out;
    st = ft_detect_classic_create(NULL, &det);
    if (st)
        goto out;
    ft_detect_filter_params fp = {.pitch_mask_auto = true};
    st = ft_detect_filter_create(&fp, &filt);
    if (st)
        goto out;
    copy = malloc((size_t)w * h);
    if (!copy) {
        st = FT_ERR_NOMEM;
        goto out;
    }

    /* Baseline: copy each luma plane (the sum keeps the copy from being
     * optimised away). */
    unsigned sink = 0;
    double c0 = ft_bench_cpu_seconds();
    for (long i = 0; i < frames; i++) {
        const ft_image *im = &sc.im[i % SCENE_FRAMES];
        memcpy(copy, im->data[0], (size_t)w * h);
        sink += copy[(size_t)(i * 7919) % ((size_t)w * h)];
    }
    double base_cpu = ft_bench_cpu_seconds() - c0;

    ft_detection d[FT_DETECT_MAX];
    long found = 0;
    double w0 = wall_seconds();
    c0 = ft_bench_cpu_seconds();
    for (long i = 0; i < frames; i++) {
        const ft_image *im = &sc.im[i % SCENE_FRAMES];
        int n = 0;
        st = ft_detector_detect(det, im, (double)i / 30.0, d, FT_DETECT_MAX, &n);
        if (!st)
            st = ft_detect_filter_apply(filt, im, d, &n);
        if (st)
            goto out;
        found += n;
    }
    double det_cpu = ft_bench_cpu_seconds() - c0, det_wall = wall_seconds() - w0;

    printf("bench detector: %dx%d, %ld frames, one thread (sink %u)\n", w, h, frames, sink & 1);
    printf("  baseline (copy luma plane): %8.3f ms/frame  %9.1f frames/s (CPU time)\n",
           1e3 * base_cpu / frames, frames / base_cpu);
    printf("  default detector + filters: %8.3f ms/frame  %9.1f frames/s (CPU time), "
           "%.1f frames/s wall\n",
           1e3 * det_cpu / frames, frames / det_cpu, frames / det_wall);
    printf("  candidates per frame: %.1f\n", (double)found / frames);
    printf("  ratio detector/baseline: %.1fx the time of a luma copy\n", det_cpu / base_cpu);
    printf("  target >= 300 frames/s on one core: %s\n",
           frames / det_cpu >= 300.0 ? "met" : "NOT met");
out:
    free(copy);
    ft_detect_filter_destroy(&filt);
    ft_detector_destroy(&det);
    scene_free(&sc);
    if (st) {
        fprintf(stderr, "bench detector: %s\n", ft_status_str(st));
        return ft_status_exit_code(st);
    }
    return FT_EXIT_OK;
}
