/* linear (GEMM + fused epilogue) and im2col for the CPU backend. */
#include <stdbool.h>
#include <string.h>

#include <cblas.h>

#include "nn/cpu_internal.h"

typedef struct linear_job {
    ft_nn_cpu *cpu;
    const ft_nn_linear_args *a;
} linear_job;

/* Rows [r0, r1) of one linear: one single-threaded sgemm on the block, then
 * the epilogue on the same rows while they are still in cache. */
static void linear_rows(void *ctx, int tid, int64_t r0, int64_t r1)
{
    const linear_job *j = ctx;
    const ft_nn_linear_args *a = j->a;
    int rows = (int)(r1 - r0);
    int n = a->n;
    const float *x = a->x + r0 * a->ldx;
    float *y = a->y + r0 * a->ldy;
    const float *res = a->res ? a->res + r0 * a->ldres : NULL;
    bool plain_res = res && !a->scale && a->act == FT_NN_ACT_NONE;

    if (!res || plain_res) {
        /* y starts as the bias (or the residual) and sgemm accumulates into it
         * (beta = 1): no separate zeroing or bias pass over y. */
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)r * a->ldy;
            if (plain_res) {
                if (res != y)
                    memcpy(yr, res + (size_t)r * a->ldres, n * sizeof(float));
                if (a->bias)
                    cpu_scale_add(yr, yr, NULL, a->bias, n);
            } else if (a->bias) {
                memcpy(yr, a->bias, n * sizeof(float));
            }
        }
        float beta = plain_res || a->bias ? 1.0f : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, a->k, 1.0f, x, a->ldx, a->w,
                    a->k, beta, y, a->ldy);
        if (a->act != FT_NN_ACT_NONE)
            for (int r = 0; r < rows; r++)
                cpu_act(a->act, y + (size_t)r * a->ldy, n);
        return;
    }
    /* General residual: t = act(x wᵀ + b) in scratch, y = res + scale ⊙ t. */
    float *t = cpu_scratch(j->cpu, tid, (size_t)rows * n);
    if (!t)
        return;
    for (int r = 0; r < rows; r++) {
        if (a->bias)
            memcpy(t + (size_t)r * n, a->bias, n * sizeof(float));
        else
            memset(t + (size_t)r * n, 0, n * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, a->k, 1.0f, x, a->ldx, a->w, a->k,
                1.0f, t, n);
    for (int r = 0; r < rows; r++) {
        float *tr = t + (size_t)r * n;
        cpu_act(a->act, tr, n);
        cpu_scale_add(y + (size_t)r * a->ldy, res + (size_t)r * a->ldres, a->scale, tr, n);
    }
}

void cpu_linear(ft_nn_backend *be, const ft_nn_linear_args *a)
{
    linear_job j = {(ft_nn_cpu *)be, a};
    /* One contiguous block of rows per thread, but no block under 32 rows:
     * smaller ones make sgemm inefficient (the 300-query decoder GEMMs use
     * fewer threads than a many-core machine has). */
    int64_t t = cpu_threads(j.cpu);
    int64_t grain = (a->m + t - 1) / t;
    cpu_parallel_for(j.cpu, a->m, grain < 32 ? 32 : grain, linear_rows, &j);
}

typedef struct im2col_job {
    const ft_nn_im2col_args *a;
    int ho, wo;
} im2col_job;

static void im2col_rows(void *ctx, int tid, int64_t p0, int64_t p1)
{
    (void)tid;
    const im2col_job *j = ctx;
    const ft_nn_im2col_args *a = j->a;
    int k = a->k, kk = a->k * a->k;
    size_t cols = (size_t)a->c * kk, img = (size_t)a->c * a->h * a->w;
    int64_t per = (int64_t)j->ho * j->wo;
    for (int64_t p = p0; p < p1; p++) {
        const float *x = a->x + (size_t)(p / per) * img;
        int oy = (int)(p % per / j->wo), ox = (int)(p % j->wo);
        float *row = a->y + p * cols;
        for (int c = 0; c < a->c; c++)
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * a->stride - a->pad + ky;
                float *dst = row + (size_t)c * kk + ky * k;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * a->stride - a->pad + kx;
                    float v = 0.0f;
                    if (iy >= 0 && iy < a->h && ix >= 0 && ix < a->w)
                        v = a->layout == FT_NN_CHW ? x[((size_t)c * a->h + iy) * a->w + ix]
                                                   : x[((size_t)iy * a->w + ix) * a->c + c];
                    dst[kx] = v;
                }
            }
    }
}

void cpu_im2col(ft_nn_backend *be, const ft_nn_im2col_args *a)
{
    im2col_job j = {a, (a->h + 2 * a->pad - a->k) / a->stride + 1,
                    (a->w + 2 * a->pad - a->k) / a->stride + 1};
    int64_t images = a->batch > 1 ? a->batch : 1;
    cpu_parallel_for((ft_nn_cpu *)be, images * j.ho * j.wo, 0, im2col_rows, &j);
}
