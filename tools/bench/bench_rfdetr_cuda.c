/* The CUDA rows of `bench rfdetr --device cuda`: RF-DETR end-to-end latency
 * on a 1080p NV12 frame (pre-processing, forward pass, download of the
 * outputs, post-processing), from host memory and from device memory as
 * NVDEC leaves it (zero-copy), throughput of one stream and of several
 * concurrent streams (one model instance, CUDA stream and host thread each),
 * a batch of B frames per forward pass (one model planned for B frames: its
 * own CUDA graph), and device memory, against the CPU engine measured in the
 * same run as the baseline. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef FT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "core/status.h"
#include "detect/rfdetr.h"
#include "tools/bench/bench.h"

#define FRAME_W 1920
#define FRAME_H 1080

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A pitch-like NV12 frame: green luma ramp with texture, greenish chroma. */
static uint8_t *make_frame(ft_image *img)
{
    size_t ysz = (size_t)FRAME_W * FRAME_H;
    uint8_t *buf = malloc(ysz + ysz / 2);
    if (!buf)
        return NULL;
    uint32_t s = 12345u;
    for (size_t i = 0; i < ysz; i++) {
        s = s * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(90 + (i % FRAME_W) / 40 + (s >> 28));
    }
    for (size_t i = 0; i < ysz / 2; i += 2) {
        buf[ysz + i] = 100;
        buf[ysz + i + 1] = 110;
    }
    *img = (ft_image){.width = FRAME_W,
                      .height = FRAME_H,
                      .format = FT_PIX_NV12,
                      .data = {buf, buf + ysz, NULL},
                      .stride = {FRAME_W, FRAME_W, 0}};
    return buf;
}

#ifdef FT_HAVE_CUDA
/* NVDEC's surface layout for a 1080p frame: rows 2048 bytes apart, the
 * chroma plane after the 1088 coded luma rows. */
#define SURFACE_PITCH 2048
#define SURFACE_ROWS 1088

/* `img` (borrowed) uploaded once into device memory laid out like an NVDEC
 * surface, with *dev the view the pipeline hands the detector (host planes
 * kept, as there). Returns the allocation (cudaFree), NULL on failure. */
static void *device_frame(const ft_image *img, ft_image *dev)
{
    uint8_t *d = NULL;
    size_t bytes = (size_t)SURFACE_PITCH * (SURFACE_ROWS + FRAME_H / 2);
    if (cudaMalloc((void **)&d, bytes) != cudaSuccess)
        return NULL;
    if (cudaMemcpy2D(d, SURFACE_PITCH, img->data[0], (size_t)img->stride[0], FRAME_W, FRAME_H,
                     cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy2D(d + (size_t)SURFACE_PITCH * SURFACE_ROWS, SURFACE_PITCH, img->data[1],
                     (size_t)img->stride[1], FRAME_W, FRAME_H / 2,
                     cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaDeviceSynchronize() != cudaSuccess) {
        cudaFree(d);
        return NULL;
    }
    *dev = *img;
    dev->dev_data[0] = d;
    dev->dev_data[1] = d + (size_t)SURFACE_PITCH * SURFACE_ROWS;
    dev->dev_stride[0] = dev->dev_stride[1] = SURFACE_PITCH;
    return d;
}
#endif

/* n frames (borrowed) end to end as one batch: pre-processing of each, one
 * forward pass, post-processing of each. Returns the wall time in ms or a
 * negative value. */
static double one_batch(ft_rfdetr *m, const ft_image *const *frames, int n, ft_status *st)
{
    ft_rfdetr_det det[100];
    int k = 0;
    double t0 = now_ms();
    if ((*st = ft_rfdetr_preprocess_batch(m, frames, n)) || (*st = ft_rfdetr_forward(m)))
        return -1;
    for (int b = 0; b < n; b++)
        ft_rfdetr_postprocess_image(m, b, FRAME_W, FRAME_H, 0.5f, det, 100, &k);
    return now_ms() - t0;
}

static double one_frame(ft_rfdetr *m, const ft_image *img, ft_status *st)
{
    return one_batch(m, &img, 1, st);
}

/* p50/p99 of `iters` batches of n frames into out[0], out[1]. */
static ft_status latency(ft_rfdetr *m, const ft_image *const *frames, int n, int iters, double *out)
{
    ft_status st = FT_OK;
    double *t = malloc((size_t)iters * sizeof(double));
    if (!t)
        return FT_ERR_NOMEM;
    for (int i = 0; i < iters; i++)
        if ((t[i] = one_batch(m, frames, n, &st)) < 0)
            goto out;
    qsort(t, (size_t)iters, sizeof(double), cmp_double);
    out[0] = t[iters / 2];
    out[1] = t[(int)(iters * 0.99) < iters ? (int)(iters * 0.99) : iters - 1];
out:
    free(t);
    return st;
}

static size_t device_used(void)
{
#ifdef FT_HAVE_CUDA
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
        return total_b - free_b;
#endif
    return 0;
}

typedef struct worker {
    ft_rfdetr *m;
    const ft_image *img;
    int frames;
    ft_status st;
    pthread_t tid;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->frames && !w->st; i++)
        one_frame(w->m, w->img, &w->st);
    return NULL;
}

/* Frames per second of `n` streams, each its own model on its own thread. */
static ft_status concurrent(const ft_rfdetr_params *p, const ft_image *img, int n, int frames,
                            double *fps)
{
    ft_status st = FT_OK;
    worker *w = calloc((size_t)n, sizeof(*w));
    if (!w)
        return FT_ERR_NOMEM;
    for (int i = 0; i < n && !st; i++) {
        w[i].img = img;
        if (!(st = ft_rfdetr_create(p, &w[i].m)))
            for (int k = 0; k < 3 && !st; k++) /* eager, capture, replay */
                one_frame(w[i].m, img, &st);
    }
    if (st)
        goto out;
    double t0 = now_ms();
    int started = 0;
    for (int i = 0; i < n; i++) {
        w[i].frames = frames;
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]))
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    *fps = (double)started * frames * 1e3 / (now_ms() - t0);
    for (int i = 0; i < started; i++)
        if (w[i].st && !st)
            st = w[i].st;
    if (started < n && !st)
        st = FT_ERR_RUNTIME;
out:
    for (int i = 0; i < n; i++)
        ft_rfdetr_destroy(&w[i].m);
    free(w);
    return st;
}

/* Batch-1 latency from the frame in device memory (zero-copy, as from NVDEC)
 * next to the host frame's `host_lat`, on CUDA device 0 only (elsewhere the
 * backend uploads the host planes). */
static ft_status device_latency(ft_rfdetr *m, const char *device, const ft_image *img, int iters,
                                const double host_lat[2])
{
#ifdef FT_HAVE_CUDA
    if (!ft_rfdetr_reads_device_frames(m) || (strcmp(device, "cuda") && strcmp(device, "cuda:0")))
        return FT_OK;
    ft_image dev;
    void *d = device_frame(img, &dev);
    if (!d) {
        fprintf(stderr, "bench rfdetr-cuda: cannot place the frame in device memory\n");
        return FT_ERR_GPU;
    }
    const ft_image *one = &dev;
    double lat[2];
    ft_status st = FT_OK;
    for (int i = 0; i < 5 && !st; i++) /* first use of the zero-copy path */
        if (one_frame(m, &dev, &st) < 0)
            break;
    if (!st)
        st = latency(m, &one, 1, iters, lat);
    cudaFree(d);
    if (st)
        return st;
    printf("rfdetr %s batch 1, 1080p NV12 already in device memory (an NVDEC surface, pitch %d; "
           "no upload) -> detections: p50 %.3f ms  p99 %.3f ms; host frame in the same run p50 "
           "%.3f ms: %.2fx\n",
           device, SURFACE_PITCH, lat[0], lat[1], host_lat[0], host_lat[0] / lat[0]);
    printf("RESULT cuda_b1dev_p50_ms=%.4f cuda_b1dev_p99_ms=%.4f\n", lat[0], lat[1]);
    fflush(stdout);
#else
    (void)m;
    (void)device;
    (void)img;
    (void)iters;
    (void)host_lat;
#endif
    return FT_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: football-tracker bench rfdetr-cuda --model FILE [--size NAME]\n"
               "           [--device cuda[:N]] [--iters N] [--streams N] [--cpu-iters N]\n"
               "           [--batch B] [--batch-iters N]\n"
               "RF-DETR on a 1080p NV12 frame: batch-1 latency p50/p99 including\n"
               "pre-processing, from host memory and (cuda:0) from device memory as\n"
               "NVDEC leaves it, throughput of one and of N concurrent streams (default\n"
               "8), B frames per forward pass (default 32; 1 skips it): p50/p99 per\n"
               "batch and frames/s, device memory per model, and the CPU engine in the\n"
               "same run as the baseline (--cpu-iters 0 skips it).\n");
}

int ft_bench_rfdetr_cuda(int argc, char **argv)
{
    const char *model = NULL, *size = NULL, *device = "cuda";
    int iters = 300, cpu_iters = 3, streams = 8, batch = 32, batch_iters = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        } else if (!strcmp(a, "--model") && v) {
            model = v;
        } else if (!strcmp(a, "--size") && v) {
            size = v;
        } else if (!strcmp(a, "--device") && v) {
            device = v;
        } else if ((!strcmp(a, "--iters") || !strcmp(a, "--cpu-iters") || !strcmp(a, "--streams") ||
                    !strcmp(a, "--batch") || !strcmp(a, "--batch-iters")) &&
                   v) {
            long n = strtol(v, &end, 10);
            int *dst = !strcmp(a, "--iters")       ? &iters
                       : !strcmp(a, "--cpu-iters") ? &cpu_iters
                       : !strcmp(a, "--streams")   ? &streams
                       : !strcmp(a, "--batch")     ? &batch
                                                   : &batch_iters;
            long hi = dst == &batch ? FT_RFDETR_MAX_BATCH : 100000;
            if (!*v || *end || n < (dst == &cpu_iters ? 0 : 1) || n > hi) {
                fprintf(stderr, "bench rfdetr-cuda: %s '%s': expected a count\n", a, v);
                return FT_EXIT_CONFIG;
            }
            *dst = (int)n;
        } else {
            fprintf(stderr, "bench rfdetr-cuda: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        i++;
    }
    if (!model) {
        fprintf(stderr, "bench rfdetr-cuda: --model is required\n");
        return FT_EXIT_CONFIG;
    }
    ft_status st = FT_OK;
    ft_rfdetr *gm = NULL, *cm = NULL, *bm = NULL;
    const ft_image **slots = NULL;
    ft_image img;
    uint8_t *frame = make_frame(&img);
    if (!frame) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    ft_rfdetr_params p = {.model_path = model, .size = size, .device = device};
    size_t used0 = device_used();
    if ((st = ft_rfdetr_create(&p, &gm)))
        goto out;
    for (int i = 0; i < 20; i++) /* eager pass, graph capture, warm clocks */
        if (one_frame(gm, &img, &st) < 0)
            goto out;
    size_t used1 = device_used();
    double lat[2];
    const ft_image *one = &img;
    if ((st = latency(gm, &one, 1, iters, lat)))
        goto out;
    double t0 = now_ms();
    int frames = 256;
    for (int i = 0; i < frames; i++)
        if (one_frame(gm, &img, &st) < 0)
            goto out;
    double fps1 = frames * 1e3 / (now_ms() - t0);
    printf("rfdetr %s batch 1, 1080p NV12 -> detections: p50 %.3f ms  p99 %.3f ms  (%d frames)\n",
           device, lat[0], lat[1], iters);
    printf("rfdetr %s 1 stream, frames back to back: %.0f frames/s\n", device, fps1);
    if (used1)
        printf("rfdetr %s device memory of one model (weights, f16 copies, activations, "
               "workspace): %zu MiB\n",
               device, (used1 - used0) >> 20);
    fflush(stdout);
    double fpsn = 0;
    ft_status cst = concurrent(&p, &img, streams, frames, &fpsn);
    if (cst)
        printf("rfdetr %s %d concurrent streams: failed (%s)\n", device, streams,
               ft_status_str(cst));
    else
        printf("rfdetr %s %d concurrent streams (batch 1 each): %.0f frames/s\n", device, streams,
               fpsn);
    printf("RESULT cuda_b1_p50_ms=%.4f cuda_b1_p99_ms=%.4f cuda_fps=%.1f cuda_streams_fps=%.1f\n",
           lat[0], lat[1], fps1, fpsn);
    fflush(stdout);
    if ((st = device_latency(gm, device, &img, iters, lat)))
        goto out;
    if (batch > 1) {
        /* the same frame in every slot: each is still uploaded and converted */
        slots = malloc(sizeof(*slots) * (size_t)batch);
        if (!slots) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        for (int b = 0; b < batch; b++)
            slots[b] = &img;
        ft_rfdetr_params bp = p;
        bp.max_batch = batch;
        size_t b0 = device_used();
        if ((st = ft_rfdetr_create(&bp, &bm)))
            goto out;
        for (int i = 0; i < 5; i++) /* eager pass, graph capture, warm clocks */
            if (one_batch(bm, slots, batch, &st) < 0)
                goto out;
        size_t b1 = device_used();
        double blat[2];
        if ((st = latency(bm, slots, batch, batch_iters, blat)))
            goto out;
        t0 = now_ms();
        for (int i = 0; i < batch_iters; i++)
            if (one_batch(bm, slots, batch, &st) < 0)
                goto out;
        double fpsb = (double)batch * batch_iters * 1e3 / (now_ms() - t0);
        printf("rfdetr %s batch %d (one forward pass), 1080p NV12 -> detections: p50 %.3f ms  "
               "p99 %.3f ms per batch (%d batches), %.0f frames/s back to back\n",
               device, batch, blat[0], blat[1], batch_iters, fpsb);
        /* the model alone, as the PyTorch figure: the last batch's input stays in place */
        t0 = now_ms();
        for (int i = 0; i < batch_iters && !st; i++)
            st = ft_rfdetr_forward(bm);
        if (st)
            goto out;
        double fwd = (now_ms() - t0) / batch_iters;
        printf("rfdetr %s batch %d forward pass only (input in place, outputs downloaded): "
               "%.3f ms per batch, %.0f frames/s\n",
               device, batch, fwd, batch * 1e3 / fwd);
        printf("rfdetr %s batch %d vs batch 1 in this run: %.2fx the frames/s of one stream "
               "back to back, %.2fx that of %d concurrent streams\n",
               device, batch, fpsb / fps1, fpsn > 0 ? fpsb / fpsn : 0.0, streams);
        if (b1)
            printf("rfdetr %s device memory of the batch-%d model: %zu MiB\n", device, batch,
                   (b1 - b0) >> 20);
        printf("RESULT cuda_batch=%d cuda_bn_p50_ms=%.4f cuda_bn_p99_ms=%.4f cuda_bn_fps=%.1f "
               "cuda_bn_fwd_ms=%.4f cuda_bn_fwd_fps=%.1f cuda_bn_mib=%zu\n",
               batch, blat[0], blat[1], fpsb, fwd, batch * 1e3 / fwd, (b1 - b0) >> 20);
        fflush(stdout);
        ft_rfdetr_destroy(&bm);
    }
    if (cpu_iters > 0) {
        ft_rfdetr_params cp = p;
        cp.device = "cpu";
        double clat[2];
        if ((st = ft_rfdetr_create(&cp, &cm)) || one_frame(cm, &img, &st) < 0 ||
            (st = latency(cm, &one, 1, cpu_iters, clat)))
            goto out;
        printf("baseline cpu (same run): p50 %.1f ms -> cuda is %.1fx faster at batch 1\n", clat[0],
               clat[0] / lat[0]);
    }
out:
    if (st)
        fprintf(stderr, "bench rfdetr-cuda: %s\n", ft_status_str(st));
    ft_rfdetr_destroy(&bm);
    ft_rfdetr_destroy(&cm);
    ft_rfdetr_destroy(&gm);
    free(slots);
    free(frame);
    return ft_status_exit_code(st);
}
