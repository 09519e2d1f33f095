/* `bench render`: the renderer's crop + scale of a 1080p frame (NV12 as NVDEC
 * hands it over, and YUV420P as software decoding does) to the 1280x720
 * output, at the camera's widest, middle and tightest zoom, plus the
 * statistics overlay; CPU time on one core. The baseline, timed in the same
 * run on the same frames, is libswscale's bilinear scaler on the same crop
 * rounded to whole (even) pixels: what a libav user would write. */
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "core/status.h"
#include "render/render.h"
#include "tools/bench/bench.h"

#define SRC_W 1920
#define SRC_H 1080
#define OUT_W 1280
#define OUT_H 720

/* A w x h picture of `fmt` in one buffer (returned-owned in *buf). */
static ft_image picture(int w, int h, ft_pixfmt fmt, uint8_t **buf)
{
    ft_image im = {.width = w, .height = h, .format = fmt};
    *buf = malloc((size_t)w * h * 3 / 2);
    if (!*buf)
        return im;
    im.data[0] = *buf;
    im.stride[0] = w;
    im.data[1] = *buf + (size_t)w * h;
    if (fmt == FT_PIX_NV12) {
        im.stride[1] = w;
    } else {
        im.stride[1] = im.stride[2] = w / 2;
        im.data[2] = im.data[1] + (size_t)(w / 2) * (h / 2);
    }
    return im;
}

/* Grass-like texture: smooth gradients plus pseudo-random detail, so that
 * neither scaler meets a constant picture. */
static void fill(ft_image *im)
{
    uint32_t r = 12345;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            r = r * 1103515245u + 12345u;
            im->data[0][(size_t)y * im->stride[0] + x] =
                (uint8_t)(60 + (x + y) / 40 % 60 + (r >> 27));
        }
    int cw = im->width / 2, ch = im->height / 2;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            uint8_t u = (uint8_t)(100 + x % 17), v = (uint8_t)(110 + y % 23);
            if (im->format == FT_PIX_NV12) {
                im->data[1][(size_t)y * im->stride[1] + 2 * x] = u;
                im->data[1][(size_t)y * im->stride[1] + 2 * x + 1] = v;
            } else {
                im->data[1][(size_t)y * im->stride[1] + x] = u;
                im->data[2][(size_t)y * im->stride[2] + x] = v;
            }
        }
}

/* Zooms of the virtual camera (camera.zoom_min 1 to zoom_max 2.5 by default). */
typedef struct zoom_case {
    const char *name;
    ft_render_rect crop; /* fractional, as the camera gives it */
} zoom_case;

static const zoom_case cases[] = {
    {"wide", {0, 0, 1920, 1080}},              /* zoom 1: 1.5x down */
    {"middle", {191.3, 107.7, 1536.4, 864.2}}, /* zoom 1.25: 1.2x down, sub-pixel */
    {"tight", {655.55, 350.25, 768.6, 432.3}}, /* zoom 2.5: 1.67x up */
};

/* libswscale on the crop rounded to even whole pixels (its planes need no
 * fractional start); returns CPU ms per frame, or -1. */
static double swscale_ms(const ft_image *src, const ft_render_rect *c, ft_image *dst, int frames)
{
    int x = (int)c->x & ~1, y = (int)c->y & ~1, w = (int)c->w & ~1, h = (int)c->h & ~1;
    enum AVPixelFormat f = src->format == FT_PIX_NV12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
    struct SwsContext *s = sws_getContext(w, h, f, dst->width, dst->height, AV_PIX_FMT_YUV420P,
                                          SWS_BILINEAR, NULL, NULL, NULL);
    if (!s)
        return -1.0;
    const uint8_t *in[4] = {src->data[0] + (size_t)y * src->stride[0] + x, NULL, NULL, NULL};
    int in_stride[4] = {src->stride[0], src->stride[1], src->stride[2], 0};
    if (src->format == FT_PIX_NV12) {
        in[1] = src->data[1] + (size_t)(y / 2) * src->stride[1] + x;
    } else {
        in[1] = src->data[1] + (size_t)(y / 2) * src->stride[1] + x / 2;
        in[2] = src->data[2] + (size_t)(y / 2) * src->stride[2] + x / 2;
    }
    int out_stride[4] = {dst->stride[0], dst->stride[1], dst->stride[2], 0};
    double t0 = ft_bench_cpu_seconds();
    for (int i = 0; i < frames; i++)
        sws_scale(s, in, in_stride, 0, h, dst->data, out_stride);
    double ms = (ft_bench_cpu_seconds() - t0) * 1e3 / frames;
    sws_freeContext(s);
    return ms;
}

/* ft_render_crop; returns CPU ms per frame, or -1. */
static double ours_ms(const ft_image *src, const ft_render_rect *c, ft_image *dst, int frames)
{
    double t0 = ft_bench_cpu_seconds();
    for (int i = 0; i < frames; i++)
        if (ft_render_crop(src, c, dst))
            return -1.0;
    return (ft_bench_cpu_seconds() - t0) * 1e3 / frames;
}

int ft_bench_render(int argc, char **argv)
{
    int frames = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: football-tracker bench render [--frames N]\n"
                   "CPU ms per frame of the renderer's crop + scale of a 1920x1080 frame\n"
                   "(NV12 and YUV420P) to 1280x720 at the widest, middle and tightest zoom,\n"
                   "and of the statistics overlay, on one core; against libswscale's\n"
                   "bilinear scaler on the same crops in the same run.\n");
            return FT_EXIT_OK;
        } else if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            if (!ft_parse_int(argv[++i], 4, 100000, &frames)) {
                fprintf(stderr, "bench render: --frames: '%s' is not in [4, 100000]\n", argv[i]);
                return FT_EXIT_CONFIG;
            }
        } else {
            fprintf(stderr, "bench render: unknown option '%s'\n", argv[i]);
            return FT_EXIT_CONFIG;
        }
    }
    int rc = FT_EXIT_OK;
    uint8_t *bn = NULL, *bp = NULL, *bo = NULL;
    ft_image nv12 = picture(SRC_W, SRC_H, FT_PIX_NV12, &bn);
    ft_image yuv = picture(SRC_W, SRC_H, FT_PIX_YUV420P, &bp);
    ft_image out = picture(OUT_W, OUT_H, FT_PIX_YUV420P, &bo);
    if (!bn || !bp || !bo) {
        rc = FT_EXIT_RUNTIME;
        goto out;
    }
    fill(&nv12);
    fill(&yuv);
    printf("render %dx%d -> %dx%d, %d frames per case, one core (CPU time)\n", SRC_W, SRC_H, OUT_W,
           OUT_H, frames);
    double sum_ours = 0, sum_base = 0;
    for (int f = 0; f < 2; f++) {
        ft_image *src = f == 0 ? &nv12 : &yuv;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            double base = swscale_ms(src, &cases[c].crop, &out, frames);
            double ours = ours_ms(src, &cases[c].crop, &out, frames);
            if (base <= 0 || ours <= 0) {
                fprintf(stderr, "bench render: %s %s failed\n", f == 0 ? "nv12" : "yuv420p",
                        cases[c].name);
                rc = FT_EXIT_RUNTIME;
                goto out;
            }
            sum_ours += ours;
            sum_base += base;
            printf("  %-7s %-6s crop %6.1fx%-6.1f ours %6.3f ms/frame, swscale bilinear %6.3f "
                   "ms/frame (%.2fx)\n",
                   f == 0 ? "nv12" : "yuv420p", cases[c].name, cases[c].crop.w, cases[c].crop.h,
                   ours, base, ours / base);
        }
    }
    ft_render_overlay ov = {.ball_visible = true,
                            .ball_x = 960,
                            .ball_y = 540,
                            .trail_n = 12,
                            .mode = "normal",
                            .fps = 30.0,
                            .latency_ms = 41.0};
    for (int i = 0; i < ov.trail_n; i++) {
        ov.trail_x[i] = 960 + 9.0 * i;
        ov.trail_y[i] = 540 - 4.0 * i;
    }
    double t0 = ft_bench_cpu_seconds();
    for (int i = 0; i < frames; i++)
        ft_render_overlay_draw(&out, &cases[0].crop, &ov);
    double ov_ms = (ft_bench_cpu_seconds() - t0) * 1e3 / frames;
    printf("  overlay (stream.show_stats) %.3f ms/frame\n", ov_ms);
    printf("  all crops: ours %.3f ms/frame, swscale %.3f ms/frame (%.2fx)\n", sum_ours / 6,
           sum_base / 6, sum_ours / sum_base);
out:
    free(bn);
    free(bp);
    free(bo);
    return rc;
}
