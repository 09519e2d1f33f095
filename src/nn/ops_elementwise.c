/* Row-wise and element-wise operators of the CPU backend. */
#include <math.h>
#include <string.h>

#include "nn/cpu_internal.h"

typedef struct ln_job {
    int n;
    const float *x;
    int ldx;
    const float *gamma, *beta;
    float eps;
    ft_nn_act act;
    float *y;
    int ldy;
} ln_job;

static void ln_rows(void *ctx, int tid, int64_t r0, int64_t r1)
{
    (void)tid;
    const ln_job *j = ctx;
    int n = j->n;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->ldx;
        float *y = j->y + r * j->ldy;
        float mean, var;
        cpu_moments(x, n, &mean, &var);
        float rstd = 1.0f / sqrtf(var + j->eps);
        cpu_affine(y, x, rstd, -mean * rstd, j->gamma, j->beta, n);
        cpu_act(j->act, y, n);
    }
}

void cpu_layernorm(ft_nn_backend *be, int m, int n, const float *x, int ldx, const float *gamma,
                   const float *beta, float eps, ft_nn_act act, float *y, int ldy)
{
    ln_job j = {n, x, ldx, gamma, beta, eps, act, y, ldy};
    cpu_parallel_for((ft_nn_cpu *)be, m, 0, ln_rows, &j);
}

void cpu_add(ft_nn_backend *be, int n, const float *a, const float *b, float *y)
{
    (void)be;
    for (int i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void cpu_gather_rows(ft_nn_backend *be, int rows, int cols, const float *x, int ldx,
                     const int32_t *idx, float *y, int ldy)
{
    (void)be;
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        if (idx[r] < 0)
            memset(yr, 0, cols * sizeof(float));
        else
            memcpy(yr, x + (size_t)idx[r] * ldx, cols * sizeof(float));
    }
}

void cpu_rowmax(ft_nn_backend *be, int m, int n, const float *x, int ldx, float *y)
{
    (void)be;
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * ldx;
        float mx = xr[0];
        for (int c = 1; c < n; c++)
            mx = xr[c] > mx ? xr[c] : mx;
        y[r] = mx;
    }
}

/* Whether (va, ia) ranks before (vb, ib): larger value, then lower index. */
static inline int ranks_before(float va, int32_t ia, float vb, int32_t ib)
{
    return va > vb || (va == vb && ia < ib);
}

static void heap_sift_down(int32_t *idx, float *val, int n, int i)
{
    for (;;) {
        int worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ranks_before(val[worst], idx[worst], val[l], idx[l]))
            worst = l;
        if (r < n && ranks_before(val[worst], idx[worst], val[r], idx[r]))
            worst = r;
        if (worst == i)
            return;
        float tv = val[i];
        int32_t ti = idx[i];
        val[i] = val[worst];
        idx[i] = idx[worst];
        val[worst] = tv;
        idx[worst] = ti;
        i = worst;
    }
}

/* A min-heap (root = the worst kept element) of size k in the output arrays,
 * then an in-place heap sort into descending rank: O(n log k), no scratch. */
void ft_nn_host_topk(int n, int k, const float *x, int32_t *idx, float *val)
{
    if (k > n)
        k = n;
    for (int i = 0; i < k; i++) {
        idx[i] = i;
        val[i] = x[i];
    }
    for (int i = k / 2 - 1; i >= 0; i--)
        heap_sift_down(idx, val, k, i);
    for (int i = k; i < n; i++) {
        if (ranks_before(x[i], i, val[0], idx[0])) {
            val[0] = x[i];
            idx[0] = i;
            heap_sift_down(idx, val, k, 0);
        }
    }
    for (int end = k - 1; end > 0; end--) {
        float tv = val[0];
        int32_t ti = idx[0];
        val[0] = val[end];
        idx[0] = idx[end];
        val[end] = tv;
        idx[end] = ti;
        heap_sift_down(idx, val, end, 0);
    }
}

void cpu_topk(ft_nn_backend *be, int batch, int n, int k, const float *x, int32_t *idx, float *val)
{
    (void)be;
    for (int b = 0; b < batch; b++) {
        int32_t *ib = idx + (size_t)b * k;
        ft_nn_host_topk(n, k, x + (size_t)b * n, ib, val + (size_t)b * k);
        for (int i = 0; b && i < k && i < n; i++)
            ib[i] += b * n;
    }
}

void cpu_box_refine(ft_nn_backend *be, int m, const float *d, int ldd, const float *r,
                    const int32_t *ridx, float *y)
{
    (void)be;
    for (int i = 0; i < m; i++) {
        const float *di = d + (size_t)i * ldd;
        const float *ri = r + (size_t)(ridx ? ridx[i] : i) * 4;
        float out[4];
        out[0] = di[0] * ri[2] + ri[0];
        out[1] = di[1] * ri[3] + ri[1];
        out[2] = expf(di[2]) * ri[2];
        out[3] = expf(di[3]) * ri[3];
        memcpy(y + (size_t)i * 4, out, sizeof(out));
    }
}

void cpu_sine_embed(ft_nn_backend *be, int m, int dim, const float *box, float *y)
{
    (void)be;
    static const int order[4] = {1, 0, 2, 3}; /* y, x, w, h */
    const float scale = 6.28318530717958648f;
    for (int i = 0; i < m; i++) {
        float *yr = y + (size_t)i * 4 * dim;
        for (int c = 0; c < 4; c++) {
            float v = box[(size_t)i * 4 + order[c]] * scale;
            for (int j = 0; j < dim; j += 2) {
                float t = powf(10000.0f, (float)j / (float)dim);
                float a = v / t;
                yr[c * dim + j] = sinf(a);
                if (j + 1 < dim)
                    yr[c * dim + j + 1] = cosf(a);
            }
        }
    }
}
