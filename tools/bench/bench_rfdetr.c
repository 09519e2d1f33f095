/* `bench rfdetr`: RF-DETR forward-pass speed on one backend. Reports ms per
 * frame (p50 and min over the timed runs, after warm-up), the achieved
 * GFLOP/s (FLOPs counted analytically by the model: 2 x multiply-adds of
 * every linear and attention product), the ratio to OpenBLAS sgemm GFLOP/s
 * measured in the same run at a representative size (the ViT MLP GEMM:
 * tokens x 4D x D), and the peak RSS of the process. With --batch B, the
 * same model (planned for B frames) also runs B frames per forward pass,
 * interleaved with the single-frame passes, and the per-frame time of both is
 * compared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "core/status.h"
#include "detect/rfdetr.h"
#include "nn/threadpool.h"
#include "tools/bench/bench.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads), user + system. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "bench rfdetr: %s expects an integer in [%d, %d], got '%s'\n", opt, lo, hi,
                s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The baseline: one OpenBLAS sgemm of the model's most common shape (the ViT
 * MLP: tokens x 4D x D), with OpenBLAS's own threading on the same number of
 * threads. Timed interleaved with the forward passes, so load from other
 * processes hits both alike. */
typedef struct gemm {
    int m, n, k;
    float *a, *b, *c;
} gemm;

static int gemm_init(gemm *g, int m, int n, int k)
{
    g->m = m;
    g->n = n;
    g->k = k;
    g->a = malloc(sizeof(float) * (size_t)m * k);
    g->b = malloc(sizeof(float) * (size_t)n * k);
    g->c = malloc(sizeof(float) * (size_t)m * n);
    if (!g->a || !g->b || !g->c)
        return -1;
    for (size_t i = 0; i < (size_t)m * k; i++)
        g->a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)n * k; i++)
        g->b[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    return 0;
}

static void gemm_free(gemm *g)
{
    free(g->a);
    free(g->b);
    free(g->c);
}

/* Seconds for one product; OpenBLAS gets `threads` threads for it and goes
 * back to one afterwards, as the CPU backend runs it. */
static double gemm_time(gemm *g, int threads)
{
    openblas_set_num_threads(threads);
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b,
                g->k, 0.0f, g->c, g->n);
    double dt = now_s() - t0;
    openblas_set_num_threads(1);
    return dt;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker bench rfdetr --model FILE [--device cpu|cuda] [--imgsz N]\n"
            "                                     [--runs N] [--warmup N] [--threads N]\n"
            "                                     [--batch B]\n"
            "RF-DETR forward pass: ms/frame (p50, min), GFLOP/s, ratio to OpenBLAS sgemm\n"
            "GFLOP/s measured in the same run, peak RSS. --batch B (default 1) also times\n"
            "B frames per forward pass and reports ms/frame and the ratio to batch 1.\n");
}

int ft_bench_rfdetr(int argc, char **argv)
{
    const char *model = NULL, *device = "cpu";
    int imgsz = 0, runs = 10, warmup = 2, threads = 0, batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench rfdetr: unknown option or missing value: %s\n", o);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(o, "--model"))
            model = v;
        else if (!strcmp(o, "--device"))
            device = v;
        else if (!strcmp(o, "--imgsz"))
            bad = parse_int(o, v, 1, 8192, &imgsz);
        else if (!strcmp(o, "--runs"))
            bad = parse_int(o, v, 1, 10000, &runs);
        else if (!strcmp(o, "--warmup"))
            bad = parse_int(o, v, 0, 1000, &warmup);
        else if (!strcmp(o, "--threads"))
            bad = parse_int(o, v, 1, FT_NN_MAX_THREADS, &threads);
        else if (!strcmp(o, "--batch"))
            bad = parse_int(o, v, 1, FT_RFDETR_MAX_BATCH, &batch);
        else {
            fprintf(stderr, "bench rfdetr: unknown option %s\n", o);
            bad = 1;
        }
        if (bad) {
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
    }
    if (!model) {
        fprintf(stderr, "bench rfdetr: --model is required\n");
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    int nthreads = ft_nn_threads_resolve(threads);

    ft_rfdetr_params p = {.model_path = model,
                          .imgsz = imgsz,
                          .device = device,
                          .threads = nthreads,
                          .warmup_iterations = warmup,
                          .max_batch = batch};
    ft_rfdetr *m = NULL;
    ft_status st = ft_rfdetr_create(&p, &m);
    if (st) {
        fprintf(stderr, "bench rfdetr: cannot load %s: %s\n", model, ft_status_str(st));
        return ft_status_exit_code(st);
    }
    ft_rfdetr_arch arch = *ft_rfdetr_arch_get(m); /* outlives the model */
    const ft_rfdetr_arch *a = &arch;
    int S = ft_rfdetr_input_size(m);
    size_t n = 3 * (size_t)S * S;
    float *in = malloc(n * batch * sizeof(float));
    double *t = malloc(sizeof(double) * runs), *tb = malloc(sizeof(double) * runs);
    double *tg = malloc(sizeof(double) * runs);
    int tokens = (S / a->patch) * (S / a->patch);
    gemm g = {0};
    if (!in || !t || !tb || !tg || gemm_init(&g, tokens, a->vit_mlp, a->vit_dim)) {
        free(in);
        free(t);
        free(tb);
        free(tg);
        gemm_free(&g);
        ft_rfdetr_destroy(&m);
        return FT_EXIT_RUNTIME;
    }
    /* fixed pseudo-images in the normalised range, one per frame of a batch */
    for (size_t i = 0; i < n * batch; i++)
        in[i] = (float)((i % n * 2654435761u + i / n * 977u) % 4096) / 1024.0f - 2.0f;
    gemm_time(&g, nthreads); /* warm the baseline too */
    ft_rfdetr_det dets[FT_DETECT_MAX];
    double cpu_fwd = 0.0;
    for (int r = 0; r < runs && !st; r++) {
        tg[r] = gemm_time(&g, nthreads);
        if ((st = ft_rfdetr_set_input(m, in)))
            break;
        double t0 = now_s(), c0 = cpu_s();
        st = ft_rfdetr_forward(m);
        int nd = 0;
        ft_rfdetr_postprocess(m, 1920, 1080, 0.5f, dets, FT_DETECT_MAX, &nd);
        t[r] = now_s() - t0;
        cpu_fwd += cpu_s() - c0;
        if (batch > 1 && !st && !(st = ft_rfdetr_set_input_batch(m, in, batch))) {
            t0 = now_s();
            st = ft_rfdetr_forward(m);
            for (int b = 0; b < batch; b++)
                ft_rfdetr_postprocess_image(m, b, 1920, 1080, 0.5f, dets, FT_DETECT_MAX, &nd);
            tb[r] = now_s() - t0;
        }
    }
    free(in);
    double flops = ft_rfdetr_flops(m);
    gemm_free(&g);
    ft_rfdetr_destroy(&m);
    if (st) {
        free(t);
        free(tb);
        free(tg);
        fprintf(stderr, "bench rfdetr: forward failed: %s\n", ft_status_str(st));
        return ft_status_exit_code(st);
    }
    qsort(t, runs, sizeof(double), cmp_double);
    qsort(tb, runs, sizeof(double), cmp_double);
    qsort(tg, runs, sizeof(double), cmp_double);
    double p50 = t[runs / 2], tmin = t[0];
    double b50 = tb[runs / 2] / batch, bmin = tb[0] / batch;
    double gemm_flops = 2.0 * tokens * a->vit_mlp * a->vit_dim;
    double blas = gemm_flops / tg[runs / 2] * 1e-9, blas_best = gemm_flops / tg[0] * 1e-9;
    free(t);
    free(tb);
    free(tg);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double gfs = flops / p50 * 1e-9, gfs_best = flops / tmin * 1e-9;
    printf("rfdetr %s %dx%d on %s, %d threads, %d runs after %d warm-up\n", a->size, S, S, device,
           nthreads, runs, warmup);
    printf("  forward+postprocess  p50 %.1f ms/frame  min %.1f ms\n", p50 * 1e3, tmin * 1e3);
    if (batch > 1) {
        printf("  batch of %-3d         p50 %.1f ms/frame  min %.1f ms  (%.1f ms per pass; the\n"
               "                       passes alternate with the single-frame ones)\n",
               batch, b50 * 1e3, bmin * 1e3, b50 * batch * 1e3);
        printf("  batch ratio          %.3f (ms/frame at batch %d / at batch 1, p50/p50; %.3f "
               "min/min)\n",
               b50 / p50, batch, bmin / tmin);
    }
    printf("  cpu time             %.1f ms/frame over all threads (load-independent-ish: on an\n"
           "                       idle machine wall ~ cpu / threads)\n",
           cpu_fwd / runs * 1e3);
    printf("  work                 %.2f GFLOP per frame (2 x multiply-adds)\n", flops * 1e-9);
    printf("  achieved             %.1f GFLOP/s p50, %.1f best\n", gfs, gfs_best);
    printf("  baseline sgemm       %.1f GFLOP/s p50, %.1f best (OpenBLAS %dx%dx%d, %d threads,\n"
           "                       timed between the forward passes)\n",
           blas, blas_best, tokens, a->vit_mlp, a->vit_dim, nthreads);
    printf("  ratio                %.2f of the sgemm rate (p50/p50), %.2f (best/best)\n",
           gfs / blas, gfs_best / blas_best);
    printf("  peak RSS             %.0f MB\n", ru.ru_maxrss / 1024.0);
    return FT_EXIT_OK;
}
