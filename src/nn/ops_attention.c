/* Attention operators of the CPU backend: multi-head scaled-dot-product
 * attention (two sgemms per window x head with a vectorised softmax between)
 * and multi-scale deformable attention. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "nn/cpu_internal.h"

/* Query rows per block: the score block (rows x lk) then stays in L2 even for
 * the 1300-token global layers. */
#define ATTN_ROW_BLOCK 128

typedef struct attn_job {
    ft_nn_cpu *cpu;
    const ft_nn_attention_args *a;
} attn_job;

static void attn_tasks(void *ctx, int tid, int64_t t0, int64_t t1)
{
    const attn_job *j = ctx;
    const ft_nn_attention_args *a = j->a;
    int lk = a->lk;
    float *s = cpu_scratch(j->cpu, tid, (size_t)ATTN_ROW_BLOCK * lk);
    if (!s)
        return;
    int blocks = (a->lq + ATTN_ROW_BLOCK - 1) / ATTN_ROW_BLOCK;
    for (int64_t t = t0; t < t1; t++) {
        /* one task = one block of query rows of one window x head, so that
         * the few heads of the global layers still feed many threads */
        int r0 = (int)(t % blocks) * ATTN_ROW_BLOCK;
        int bh = (int)(t / blocks), b = bh / a->heads, h = bh % a->heads;
        const float *kb = a->k + (size_t)b * lk * a->ldk + (size_t)h * a->dh;
        const float *vb = a->v + (size_t)b * lk * a->ldv + (size_t)h * a->dh;
        int rows = a->lq - r0 < ATTN_ROW_BLOCK ? a->lq - r0 : ATTN_ROW_BLOCK;
        const float *qb = a->q + ((size_t)b * a->lq + r0) * a->ldq + (size_t)h * a->dh;
        float *ob = a->out + ((size_t)b * a->lq + r0) * a->ldo + (size_t)h * a->dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, lk, a->dh, a->scale, qb, a->ldq,
                    kb, a->ldk, 0.0f, s, lk);
        /* Unnormalised softmax; the 1/sum is applied to the dh outputs
         * instead of the lk probabilities. */
        float inv[ATTN_ROW_BLOCK];
        for (int r = 0; r < rows; r++)
            inv[r] = 1.0f / cpu_softmax_exp(s + (size_t)r * lk, lk);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, a->dh, lk, 1.0f, s, lk, vb,
                    a->ldv, 0.0f, ob, a->ldo);
        for (int r = 0; r < rows; r++) {
            float *orow = ob + (size_t)r * a->ldo;
            for (int c = 0; c < a->dh; c++)
                orow[c] *= inv[r];
        }
    }
}

void cpu_attention(ft_nn_backend *be, const ft_nn_attention_args *a)
{
    attn_job j = {(ft_nn_cpu *)be, a};
    int64_t blocks = (a->lq + ATTN_ROW_BLOCK - 1) / ATTN_ROW_BLOCK;
    cpu_parallel_for(j.cpu, (int64_t)a->batch * a->heads * blocks, 0, attn_tasks, &j);
}

typedef struct msda_job {
    const ft_nn_msda_args *a;
} msda_job;

/* Adds w * value(level, y, x)[head channels] of one frame's value to acc,
 * 0 outside the map. */
static inline void msda_tap(const ft_nn_msda_args *a, const float *value, int l, int h, int y,
                            int x, float w, float *acc)
{
    int hh = a->level_hw[2 * l], ww = a->level_hw[2 * l + 1];
    if (y < 0 || y >= hh || x < 0 || x >= ww || w == 0.0f)
        return;
    int ld = a->heads * a->dh;
    const float *v =
        value + ((size_t)a->level_start[l] + (size_t)y * ww + x) * ld + (size_t)h * a->dh;
    for (int c = 0; c < a->dh; c++)
        acc[c] += w * v[c];
}

static void msda_rows(void *ctx, int tid, int64_t q0, int64_t q1)
{
    (void)tid;
    const msda_job *j = ctx;
    const ft_nn_msda_args *a = j->a;
    int lp = a->levels * a->points;
    for (int64_t q = q0; q < q1; q++) {
        const float *value =
            a->value + (size_t)(q / a->nq) * a->frame_rows * (size_t)(a->heads * a->dh);
        const float *ref = a->ref + q * 4;
        const float *off = a->offsets + q * a->ldoff;
        const float *lg = a->logits + q * a->ldlog;
        float *out = a->out + q * a->ldo;
        for (int h = 0; h < a->heads; h++) {
            /* softmax over the levels x points of this head */
            float wts[FT_NN_MSDA_MAX_LEVELS * 16];
            const float *lh = lg + h * lp;
            float mx = lh[0], sum = 0.0f;
            for (int i = 1; i < lp; i++)
                mx = lh[i] > mx ? lh[i] : mx;
            for (int i = 0; i < lp; i++) {
                wts[i] = expf(lh[i] - mx);
                sum += wts[i];
            }
            float *acc = out + h * a->dh;
            memset(acc, 0, a->dh * sizeof(float));
            for (int l = 0; l < a->levels; l++) {
                int hh = a->level_hw[2 * l], ww = a->level_hw[2 * l + 1];
                for (int p = 0; p < a->points; p++) {
                    int i = l * a->points + p;
                    const float *o = off + ((size_t)h * lp + i) * 2;
                    float lx = ref[0] + o[0] / a->points * ref[2] * 0.5f;
                    float ly = ref[1] + o[1] / a->points * ref[3] * 0.5f;
                    float px = lx * ww - 0.5f, py = ly * hh - 0.5f;
                    /* all four taps outside (also keeps floorf in int range) */
                    if (!(px > -1.0f && px < (float)ww && py > -1.0f && py < (float)hh))
                        continue;
                    float fx = floorf(px), fy = floorf(py);
                    int x0 = (int)fx, y0 = (int)fy;
                    float ax = px - fx, ay = py - fy;
                    float w = wts[i] / sum;
                    msda_tap(a, value, l, h, y0, x0, w * (1 - ay) * (1 - ax), acc);
                    msda_tap(a, value, l, h, y0, x0 + 1, w * (1 - ay) * ax, acc);
                    msda_tap(a, value, l, h, y0 + 1, x0, w * ay * (1 - ax), acc);
                    msda_tap(a, value, l, h, y0 + 1, x0 + 1, w * ay * ax, acc);
                }
            }
        }
    }
}

void cpu_msda(ft_nn_backend *be, const ft_nn_msda_args *a)
{
    msda_job j = {a};
    int frames = a->batch > 1 ? a->batch : 1;
    cpu_parallel_for((ft_nn_cpu *)be, (int64_t)frames * a->nq, 0, msda_rows, &j);
}
