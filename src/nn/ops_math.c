/* Vectorised exp and the element-wise maths built on it. libm's expf/erff are
 * scalar calls that cost more than the GEMMs around them here (24 M GELUs and
 * 50 M softmax exponentials per RF-DETR Medium frame), so we evaluate them
 * with short polynomials on GCC vector types: one implementation that the
 * compiler lowers to 16 lanes with AVX-512, 8 with AVX, 4 with SSE (or plain
 * scalar code elsewhere). Partial vectors at the ends of rows are handled by
 * padded loads/stores, so there is no separate scalar path.
 *
 * exp: Cephes-style range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 * polynomial; relative error about 2e-7 over the clamped range.
 * erf: Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), well inside the
 * budget of the fidelity tests (see docs/rfdetr.md).
 *
 * ISO C mode (-std=c17) turns floating-point contraction off; these
 * polynomials want a * b + c fused into FMAs (25 % faster GELU, and slightly
 * more accurate), so this file opts back in. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/cpu_internal.h"

#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif

typedef float vf __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VW * sizeof(int32_t))));

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365447504019f
#define LOG2E 1.44269504088896341f
#define EXP_C1 0.693359375f
#define EXP_C2 -2.12194440e-4f
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f
#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

#define ERF_P 0.3275911f
#define ERF_A1 0.254829592f
#define ERF_A2 -0.284496736f
#define ERF_A3 1.421413741f
#define ERF_A4 -1.453152027f
#define ERF_A5 1.061405429f

static inline vf splat(float s)
{
    return (vf){0} + s;
}

/* Loads n <= VW floats, the missing lanes set to `fill`. */
static inline vf load_n(const float *p, int64_t n, float fill)
{
    vf v;
    if (n >= VW) {
        memcpy(&v, p, sizeof(v));
        return v;
    }
    v = splat(fill);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

static inline void store_n(float *p, vf v, int64_t n)
{
    if (n >= VW) /* a constant size: one vector store */
        memcpy(p, &v, sizeof(v));
    else
        memcpy(p, &v, (size_t)n * sizeof(float));
}

static inline vf vmax(vf a, vf b)
{
    vi m = a > b;
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}

static inline vf vmin(vf a, vf b)
{
    vi m = a < b;
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}

static inline float hsum(vf v)
{
    float s = 0.0f;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

static inline vf vexp(vf x)
{
    x = vmin(vmax(x, splat(EXP_LO)), splat(EXP_HI));
    vf n = (x * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
    vf r = x - n * EXP_C1 - n * EXP_C2;
    vf p = splat(EXP_P0);
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    p = p * r * r + r + 1.0f;
    /* 2^n through the exponent field; n is within [-126, 127] after the clamp */
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)e;
}

static inline vf verf(vf x)
{
    vi sign = (vi)x & INT32_MIN;
    vf a = (vf)((vi)x & 0x7fffffff);
    vf t = 1.0f / (a * ERF_P + 1.0f);
    vf poly = ((((t * ERF_A5 + ERF_A4) * t + ERF_A3) * t + ERF_A2) * t + ERF_A1) * t;
    vf y = 1.0f - poly * vexp(-(a * a));
    return (vf)((vi)y | sign);
}

void cpu_vexp(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += VW)
        store_n(x + i, vexp(load_n(x + i, n - i, 0.0f)), n - i);
}

static void act_relu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += VW)
        store_n(x + i, vmax(load_n(x + i, n - i, 0.0f), splat(0.0f)), n - i);
}

static void act_gelu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += VW) {
        vf v = load_n(x + i, n - i, 0.0f);
        store_n(x + i, 0.5f * v * (1.0f + verf(v * 0.70710678118654752f)), n - i);
    }
}

static void act_silu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += VW) {
        vf v = load_n(x + i, n - i, 0.0f);
        store_n(x + i, v / (1.0f + vexp(-v)), n - i);
    }
}

void cpu_act(ft_nn_act act, float *x, int64_t n)
{
    switch (act) {
    case FT_NN_ACT_NONE:
        break;
    case FT_NN_ACT_RELU:
        act_relu(x, n);
        break;
    case FT_NN_ACT_GELU:
        act_gelu(x, n);
        break;
    case FT_NN_ACT_SILU:
        act_silu(x, n);
        break;
    }
}

/* Horizontal max and sum take the vector by value: subscripting a live
 * accumulator inside a loop would make GCC keep it in memory. */
static inline float hmax(vf v)
{
    float m = v[0];
    for (int i = 1; i < VW; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

float cpu_softmax_exp(float *x, int64_t n)
{
    vf vm = splat(-INFINITY);
    for (int64_t i = 0; i < n; i += VW)
        vm = vmax(vm, load_n(x + i, n - i, -INFINITY));
    float mx = hmax(vm);
    vf vs = splat(0.0f);
    for (int64_t i = 0; i < n; i += VW) {
        /* padded lanes hold -inf: the mask makes their exponential exactly 0 */
        vf v = load_n(x + i, n - i, -INFINITY);
        vf e = (vf)((vi)vexp(v - mx) & (v > -INFINITY));
        store_n(x + i, e, n - i);
        vs += e;
    }
    return hsum(vs);
}

void cpu_moments(const float *x, int64_t n, float *mean, float *var)
{
    /* two passes (mean, then centred squares), as torch's LayerNorm */
    vf vs = splat(0.0f);
    for (int64_t i = 0; i < n; i += VW)
        vs += load_n(x + i, n - i, 0.0f);
    float mu = hsum(vs) / (float)n;
    vf vq = splat(0.0f);
    for (int64_t i = 0; i < n; i += VW) {
        vf d = load_n(x + i, n - i, mu) - mu; /* padded lanes give 0 */
        vq += d * d;
    }
    *mean = mu;
    *var = hsum(vq) / (float)n;
}

void cpu_affine(float *y, const float *x, float a, float b, const float *g, const float *beta,
                int64_t n)
{
    for (int64_t i = 0; i < n; i += VW) {
        vf t = load_n(x + i, n - i, 0.0f) * a + b;
        store_n(y + i, t * load_n(g + i, n - i, 0.0f) + load_n(beta + i, n - i, 0.0f), n - i);
    }
}

void cpu_scale_add(float *y, const float *res, const float *scale, const float *t, int64_t n)
{
    for (int64_t i = 0; i < n; i += VW) {
        vf v = load_n(t + i, n - i, 0.0f);
        if (scale)
            v *= load_n(scale + i, n - i, 0.0f);
        store_n(y + i, load_n(res + i, n - i, 0.0f) + v, n - i);
    }
}
