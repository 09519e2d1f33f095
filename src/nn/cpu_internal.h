/* Internal to the CPU backend: its object, the parallel-for it runs kernels
 * with, and the operator entry points split across ops_*.c. Not a public
 * header; nothing outside src/nn/ includes it. */
#ifndef FT_NN_CPU_INTERNAL_H
#define FT_NN_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"

typedef struct ft_nn_cpu ft_nn_cpu;

/* Work function of cpu_parallel_for: handles items [begin, end) on worker
 * `tid` (0 .. cpu_threads-1). */
typedef void (*cpu_range_fn)(void *ctx, int tid, int64_t begin, int64_t end);

/* Number of worker threads (>= 1). */
int cpu_threads(const ft_nn_cpu *cpu);
/* Run fn over [0, n) in chunks of `grain` items (<= 0: a few chunks per
 * worker) on the backend's thread pool; returns when all are done. */
void cpu_parallel_for(ft_nn_cpu *cpu, int64_t n, int64_t grain, cpu_range_fn fn, void *ctx);
/* Per-worker scratch of at least `floats` floats, kept across calls (grown at
 * plan time, so steady-state frames do not allocate). NULL when out of memory,
 * which the backend then reports from sync. */
float *cpu_scratch(ft_nn_cpu *cpu, int tid, size_t floats);
/* Record an error to report from run/sync (first one wins). */
void cpu_fail(ft_nn_cpu *cpu, ft_status st);

/* Vector maths on n floats, in place (ops_math.c). */
void cpu_vexp(float *x, int64_t n);
void cpu_act(ft_nn_act act, float *x, int64_t n);
/* x = exp(x - max x); returns the sum (an unnormalised softmax). n >= 1. */
float cpu_softmax_exp(float *x, int64_t n);
/* Mean and biased variance of n floats (two passes). */
void cpu_moments(const float *x, int64_t n, float *mean, float *var);
/* y = (x * a + b) * g + beta (the LayerNorm affine step). y may equal x. */
void cpu_affine(float *y, const float *x, float a, float b, const float *g, const float *beta,
                int64_t n);
/* y = res + scale ⊙ t (scale NULL: y = res + t). y may equal res. */
void cpu_scale_add(float *y, const float *res, const float *scale, const float *t, int64_t n);

/* Operators (ft_nn_backend_ops entries), be is the ft_nn_cpu. */
void cpu_linear(ft_nn_backend *be, const ft_nn_linear_args *a);
void cpu_im2col(ft_nn_backend *be, const ft_nn_im2col_args *a);
void cpu_attention(ft_nn_backend *be, const ft_nn_attention_args *a);
void cpu_msda(ft_nn_backend *be, const ft_nn_msda_args *a);
void cpu_layernorm(ft_nn_backend *be, int m, int n, const float *x, int ldx, const float *gamma,
                   const float *beta, float eps, ft_nn_act act, float *y, int ldy);
void cpu_add(ft_nn_backend *be, int n, const float *a, const float *b, float *y);
void cpu_gather_rows(ft_nn_backend *be, int rows, int cols, const float *x, int ldx,
                     const int32_t *idx, float *y, int ldy);
void cpu_rowmax(ft_nn_backend *be, int m, int n, const float *x, int ldx, float *y);
void cpu_topk(ft_nn_backend *be, int batch, int n, int k, const float *x, int32_t *idx, float *val);
void cpu_box_refine(ft_nn_backend *be, int m, const float *d, int ldd, const float *r,
                    const int32_t *ridx, float *y);
void cpu_sine_embed(ft_nn_backend *be, int m, int dim, const float *box, float *y);

#endif
