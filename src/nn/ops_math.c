/* Vectorised exp and the activations built on it. libm's expf/erff are
 * scalar calls that cost more than the GEMMs around them here (24 M GELUs and
 * 50 M softmax exponentials per RF-DETR Medium frame), so we evaluate them
 * with short polynomials: 8 lanes at a time with AVX2+FMA when the build
 * targets such a CPU, the same formulas in scalar code otherwise.
 *
 * exp: Cephes-style range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 * polynomial; relative error about 2e-7 over the clamped range.
 * erf: Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), enough for the
 * 1e-4 relative budget of the fidelity tests (see docs/rfdetr.md). */
#include <math.h>

#include "nn/cpu_internal.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FT_HAVE_AVX2 1
#endif

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

#define ERF_P 0.3275911f
#define ERF_A1 0.254829592f
#define ERF_A2 -0.284496736f
#define ERF_A3 1.421413741f
#define ERF_A4 -1.453152027f
#define ERF_A5 1.061405429f

static inline float exp_scalar(float x)
{
    x = fminf(fmaxf(x, EXP_LO), EXP_HI);
    float n = nearbyintf(x * LOG2E);
    float r = x - n * EXP_C1 - n * EXP_C2;
    float p = EXP_P0;
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    p = p * r * r + r + 1.0f;
    return ldexpf(p, (int)n);
}

static inline float erf_scalar(float x)
{
    float a = fabsf(x);
    float t = 1.0f / (1.0f + ERF_P * a);
    float poly = ((((ERF_A5 * t + ERF_A4) * t + ERF_A3) * t + ERF_A2) * t + ERF_A1) * t;
    float y = 1.0f - poly * exp_scalar(-a * a);
    return copysignf(y, x);
}

#ifdef FT_HAVE_AVX2
static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_C1), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_C2), r);
    __m256 p = _mm256_set1_ps(EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P5));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n built in the exponent field; n is within [-126, 127] after the clamp. */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 erf8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign, x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), a, _mm256_set1_ps(1.0f)));
    __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(ERF_A5), t, _mm256_set1_ps(ERF_A4));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A3));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A2));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A1));
    poly = _mm256_mul_ps(poly, t);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    __m256 y = _mm256_fnmadd_ps(poly, e, _mm256_set1_ps(1.0f));
    return _mm256_or_ps(y, _mm256_and_ps(sign, x));
}
#endif

void cpu_vexp(float *x, int64_t n)
{
    int64_t i = 0;
#ifdef FT_HAVE_AVX2
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++)
        x[i] = exp_scalar(x[i]);
}

static void act_relu(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void act_gelu(float *x, int64_t n)
{
    int64_t i = 0;
#ifdef FT_HAVE_AVX2
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 rsqrt2 = _mm256_set1_ps(0.70710678118654752f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = erf8(_mm256_mul_ps(v, rsqrt2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
#endif
    for (; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erf_scalar(x[i] * 0.70710678118654752f));
}

static void act_silu(float *x, int64_t n)
{
    int64_t i = 0;
#ifdef FT_HAVE_AVX2
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
#endif
    for (; i < n; i++)
        x[i] = x[i] / (1.0f + exp_scalar(-x[i]));
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

float cpu_softmax_exp(float *x, int64_t n)
{
    int64_t i = 0;
    float mx = x[0];
#ifdef FT_HAVE_AVX2
    if (n >= 8) {
        __m256 vm = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8)
            vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
        float lanes[8];
        _mm256_storeu_ps(lanes, vm);
        for (int l = 0; l < 8; l++)
            mx = lanes[l] > mx ? lanes[l] : mx;
    }
#endif
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    i = 0;
#ifdef FT_HAVE_AVX2
    __m256 vmx = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        _mm256_storeu_ps(x + i, e);
        vs = _mm256_add_ps(vs, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vs);
    for (int l = 0; l < 8; l++)
        sum += lanes[l];
#endif
    for (; i < n; i++) {
        x[i] = exp_scalar(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

void cpu_moments(const float *x, int64_t n, float *mean, float *var)
{
    /* two passes (mean, then centred squares) in 8 lanes, as torch's
     * LayerNorm computes them in float */
    int64_t i = 0;
    float s = 0.0f;
#ifdef FT_HAVE_AVX2
    __m256 vs = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8)
        vs = _mm256_add_ps(vs, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, vs);
    for (int l = 0; l < 8; l++)
        s += lanes[l];
#endif
    for (; i < n; i++)
        s += x[i];
    float mu = s / (float)n;
    float q = 0.0f;
    i = 0;
#ifdef FT_HAVE_AVX2
    __m256 vmu = _mm256_set1_ps(mu), vq = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmu);
        vq = _mm256_fmadd_ps(d, d, vq);
    }
    _mm256_storeu_ps(lanes, vq);
    for (int l = 0; l < 8; l++)
        q += lanes[l];
#endif
    for (; i < n; i++) {
        float d = x[i] - mu;
        q += d * d;
    }
    *mean = mu;
    *var = q / (float)n;
}

void cpu_affine(float *y, const float *x, float a, float b,
                const float *g, const float *beta, int64_t n)
{
    int64_t i = 0;
#ifdef FT_HAVE_AVX2
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (; i + 8 <= n; i += 8) {
        __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), va, vb);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(t, _mm256_loadu_ps(g + i),
                                                _mm256_loadu_ps(beta + i)));
    }
#endif
    for (; i < n; i++)
        y[i] = (x[i] * a + b) * g[i] + beta[i];
}

void cpu_scale_add(float *y, const float *res, const float *scale,
                   const float *t, int64_t n)
{
    int64_t i = 0;
#ifdef FT_HAVE_AVX2
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(t + i);
        if (scale)
            v = _mm256_mul_ps(v, _mm256_loadu_ps(scale + i));
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(res + i), v));
    }
#endif
    for (; i < n; i++)
        y[i] = res[i] + (scale ? scale[i] * t[i] : t[i]);
}
