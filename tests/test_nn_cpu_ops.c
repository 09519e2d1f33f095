/* CPU backend operators against naive double-precision references on random
 * inputs, at awkward sizes (rows and widths that are not multiples of the
 * vector width or the thread split, several windows, strided views). The
 * fidelity test covers the operators on RF-DETR Medium's shapes; this one
 * covers the paths other sizes take (stride-2 im2col, several deformable
 * attention levels, masked gathers, top-k ties) and the fused epilogues.
 * Tolerance: 1e-5 of the largest reference magnitude (the polynomial exp and
 * erf are ~2e-7 relative). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ft_test_rng.h"
#include "nn/backend.h"

#define TOL 1e-5

static ft_nn_backend *be;
static ft_test_rng rng = {42};

static int setup(void **state)
{
    (void)state;
    ft_nn_backend_params p = {.device = "cpu", .threads = 2};
    return ft_nn_backend_create(&p, &be) == FT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ft_nn_backend_destroy(&be);
    return be != NULL;
}

static float *rnd(size_t n, double scale)
{
    float *p = malloc(n * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(ft_test_rng_normal(&rng) * scale);
    return p;
}

static void expect_close(const float *got, const double *ref, size_t n)
{
    double mx = 1e-30, md = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(ref[i]));
        md = fmax(md, fabs(got[i] - ref[i]));
    }
    if (!(md <= TOL * mx))
        fail_msg("max |diff| %g > %g x max |ref| %g", md, TOL, mx);
}

static double act_ref(ft_nn_act act, double x)
{
    switch (act) {
    case FT_NN_ACT_RELU:
        return x > 0 ? x : 0;
    case FT_NN_ACT_GELU:
        return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case FT_NN_ACT_SILU:
        return x / (1 + exp(-x));
    default:
        return x;
    }
}

static void test_linear(void **state)
{
    (void)state;
    int m = 67, n = 45, k = 33, ldx = 40, ldy = 50;
    for (int variant = 0; variant < 5; variant++) {
        ft_nn_act act = (ft_nn_act)(variant % 4);
        int with_res = variant >= 2, in_place = variant == 4;
        float *x = rnd((size_t)m * ldx, 1), *w = rnd((size_t)n * k, 0.3), *b = rnd(n, 1);
        float *sc = rnd(n, 1), *res = rnd((size_t)m * ldy, 1), *y = rnd((size_t)m * ldy, 1);
        double *ref = malloc(sizeof(double) * m * n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = b[j];
                for (int t = 0; t < k; t++)
                    acc += (double)x[i * ldx + t] * w[j * k + t];
                acc = act_ref(act, acc);
                ref[i * n + j] = with_res ? res[i * ldy + j] + sc[j] * acc : acc;
            }
        if (in_place)
            memcpy(y, res, sizeof(float) * m * ldy);
        ft_nn_linear_args a = {m,
                               n,
                               k,
                               x,
                               ldx,
                               w,
                               b,
                               act,
                               with_res ? (in_place ? y : res) : NULL,
                               ldy,
                               with_res ? sc : NULL,
                               y,
                               ldy};
        be->ops->linear(be, &a);
        assert_int_equal(be->ops->sync(be), FT_OK);
        float *got = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m; i++)
            memcpy(got + i * n, y + i * ldy, sizeof(float) * n);
        expect_close(got, ref, (size_t)m * n);
        free(x), free(w), free(b), free(sc), free(res), free(y), free(ref), free(got);
    }
}

static void test_layernorm(void **state)
{
    (void)state;
    int m = 19, n = 37, ld = 41;
    float *x = rnd((size_t)m * ld, 2), *g = rnd(n, 1), *b = rnd(n, 1), *y = rnd((size_t)m * ld, 1);
    for (int i = 0; i < m * ld; i++)
        x[i] += 3.0f; /* an offset the centring must remove */
    double *ref = malloc(sizeof(double) * m * n);
    for (int i = 0; i < m; i++) {
        double mu = 0, var = 0;
        for (int j = 0; j < n; j++)
            mu += x[i * ld + j];
        mu /= n;
        for (int j = 0; j < n; j++)
            var += (x[i * ld + j] - mu) * (x[i * ld + j] - mu);
        var /= n;
        for (int j = 0; j < n; j++)
            ref[i * n + j] =
                act_ref(FT_NN_ACT_SILU, (x[i * ld + j] - mu) / sqrt(var + 1e-6) * g[j] + b[j]);
    }
    be->ops->layernorm(be, m, n, x, ld, g, b, 1e-6f, FT_NN_ACT_SILU, y, ld);
    float *got = malloc(sizeof(float) * m * n);
    for (int i = 0; i < m; i++)
        memcpy(got + i * n, y + i * ld, sizeof(float) * n);
    expect_close(got, ref, (size_t)m * n);
    free(x), free(g), free(b), free(y), free(ref), free(got);
}

static void test_attention(void **state)
{
    (void)state;
    int batch = 3, lq = 29, lk = 29, heads = 2, dh = 24, ld = 3 * heads * dh + 5;
    float *qkv = rnd((size_t)batch * lq * ld, 1), *out = rnd((size_t)batch * lq * heads * dh, 1);
    double *ref = malloc(sizeof(double) * batch * lq * heads * dh);
    double *p = malloc(sizeof(double) * lk);
    float scale = 1.0f / sqrtf((float)dh);
    const float *q = qkv, *k = qkv + heads * dh, *v = qkv + 2 * heads * dh;
    for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < lq; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < lk; j++) {
                    double s = 0;
                    for (int d = 0; d < dh; d++)
                        s += (double)q[(b * lq + i) * ld + h * dh + d] *
                             k[(b * lk + j) * ld + h * dh + d];
                    p[j] = s * scale;
                    mx = fmax(mx, p[j]);
                }
                for (int j = 0; j < lk; j++)
                    sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < dh; d++) {
                    double acc = 0;
                    for (int j = 0; j < lk; j++)
                        acc += p[j] * v[(b * lk + j) * ld + h * dh + d];
                    ref[(b * lq + i) * heads * dh + h * dh + d] = acc / sum;
                }
            }
    ft_nn_attention_args a = {batch, lq, lk, heads, dh, scale, q,
                              ld,    k,  ld, v,     ld, out,   heads * dh};
    be->ops->attention(be, &a);
    expect_close(out, ref, (size_t)batch * lq * heads * dh);
    free(qkv), free(out), free(ref), free(p);
}

static double sample_ref(const float *val, int ld, int h0, int w0, int start, int c, double px,
                         double py)
{
    double acc = 0;
    int x0 = (int)floor(px), y0 = (int)floor(py);
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int xx = x0 + dx, yy = y0 + dy;
            if (xx < 0 || yy < 0 || xx >= w0 || yy >= h0)
                continue;
            double wgt = (dx ? px - x0 : 1 - (px - x0)) * (dy ? py - y0 : 1 - (py - y0));
            acc += wgt * val[(start + yy * w0 + xx) * ld + c];
        }
    return acc;
}

static void test_msda(void **state)
{
    (void)state;
    int nq = 7, heads = 3, dh = 5, levels = 2, points = 3, H = heads * dh;
    int hw[4] = {6, 9, 3, 4}, start[2] = {0, 54}, rows = 54 + 12;
    int nsamp = heads * levels * points;
    float *val = rnd((size_t)rows * H, 1), *off = rnd((size_t)nq * nsamp * 2, 2);
    float *lg = rnd((size_t)nq * nsamp, 1), *out = rnd((size_t)nq * H, 1);
    float ref_box[7 * 4];
    for (int i = 0; i < nq * 4; i++)
        ref_box[i] = (float)(0.1 + 0.8 * ft_test_rng_uniform(&rng));
    double *ref = malloc(sizeof(double) * nq * H);
    for (int q = 0; q < nq; q++)
        for (int h = 0; h < heads; h++) {
            double w[64], mx = -1e300, sum = 0;
            for (int i = 0; i < levels * points; i++)
                mx = fmax(mx, lg[q * nsamp + h * levels * points + i]);
            for (int i = 0; i < levels * points; i++)
                sum += (w[i] = exp(lg[q * nsamp + h * levels * points + i] - mx));
            for (int c = 0; c < dh; c++) {
                double acc = 0;
                for (int l = 0; l < levels; l++)
                    for (int pt = 0; pt < points; pt++) {
                        int i = l * points + pt;
                        const float *o =
                            off + (size_t)q * nsamp * 2 + (h * levels * points + i) * 2;
                        const float *r = ref_box + q * 4;
                        double lx = r[0] + o[0] / points * r[2] * 0.5;
                        double ly = r[1] + o[1] / points * r[3] * 0.5;
                        acc += w[i] / sum *
                               sample_ref(val, H, hw[2 * l], hw[2 * l + 1], start[l], h * dh + c,
                                          lx * hw[2 * l + 1] - 0.5, ly * hw[2 * l] - 0.5);
                    }
                ref[q * H + h * dh + c] = acc;
            }
        }
    ft_nn_msda_args a = {.nq = nq,
                         .heads = heads,
                         .dh = dh,
                         .levels = levels,
                         .points = points,
                         .level_hw = {hw[0], hw[1], hw[2], hw[3]},
                         .level_start = {0, 54},
                         .value = val,
                         .ref = ref_box,
                         .offsets = off,
                         .ldoff = nsamp * 2,
                         .logits = lg,
                         .ldlog = nsamp,
                         .out = out,
                         .ldo = H};
    be->ops->msda(be, &a);
    expect_close(out, ref, (size_t)nq * H);
    free(val), free(off), free(lg), free(out), free(ref);
}

static void test_im2col(void **state)
{
    (void)state;
    int c = 3, h = 7, w = 6;
    float *x = rnd((size_t)c * h * w, 1);
    for (int layout = 0; layout < 2; layout++)
        for (int stride = 1; stride <= 2; stride++) {
            int k = 3, pad = 1, ho = (h + 2 * pad - k) / stride + 1,
                wo = (w + 2 * pad - k) / stride + 1;
            float *y = malloc(sizeof(float) * ho * wo * c * k * k);
            ft_nn_im2col_args a = {(ft_nn_layout)layout, c, h, w, k, stride, pad, x, y, 1};
            be->ops->im2col(be, &a);
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    for (int ch = 0; ch < c; ch++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                float e = 0;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    e = layout == FT_NN_CHW ? x[(ch * h + iy) * w + ix]
                                                            : x[(iy * w + ix) * c + ch];
                                float g = y[(oy * wo + ox) * c * k * k + (ch * k + ky) * k + kx];
                                assert_true(g == e);
                            }
            free(y);
        }
    free(x);
}

static void test_small_ops(void **state)
{
    (void)state;
    /* top-k: ties keep the lower index first; k < n */
    float v[9] = {1, 5, 3, 5, -2, 3, 7, 5, 0};
    int32_t idx[5];
    float val[5];
    be->ops->topk(be, 1, 9, 5, v, idx, val);
    int32_t want[5] = {6, 1, 3, 7, 2};
    for (int i = 0; i < 5; i++)
        assert_int_equal(idx[i], want[i]);
    /* gather: -1 gives a zero row; strided source and destination */
    float x[3 * 4] = {1, 2, 3, 9, 4, 5, 6, 9, 7, 8, 9, 9}, y[3 * 5];
    int32_t gi[3] = {2, -1, 0};
    be->ops->gather_rows(be, 3, 3, x, 4, gi, y, 5);
    float gw[3][3] = {{7, 8, 9}, {0, 0, 0}, {1, 2, 3}};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            assert_true(y[r * 5 + c] == gw[r][c]);
    /* box reparametrisation with a fused reference gather */
    float d[2 * 4] = {0.5f, -1, 0, 0.6931472f, 0, 0, -0.6931472f, 0};
    float r[2 * 4] = {0.2f, 0.3f, 0.1f, 0.2f, 0.5f, 0.5f, 0.4f, 0.4f}, out[8];
    int32_t ri[2] = {1, 0};
    be->ops->box_refine(be, 2, d, 4, r, ri, out);
    float bw[8] = {0.7f, 0.1f, 0.4f, 0.8f, 0.2f, 0.3f, 0.05f, 0.2f};
    for (int i = 0; i < 8; i++)
        assert_true(fabsf(out[i] - bw[i]) < 1e-6f);
    /* row max */
    float rm[2];
    be->ops->rowmax(be, 2, 3, x, 4, rm);
    assert_true(rm[0] == 3 && rm[1] == 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),    cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention), cmocka_unit_test(test_msda),
        cmocka_unit_test(test_im2col),    cmocka_unit_test(test_small_ops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
