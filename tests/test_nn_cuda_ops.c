/* Every operator of the CUDA backend against the CPU backend on random
 * inputs, compared by normalised error ‖gpu − cpu‖ / ‖cpu‖. Outputs are
 * poisoned with NaN first, so an element the GPU never writes fails.
 * Tolerances: f16 tensor-core paths (linear, attention) 5e-3; f32 kernels
 * 1e-5 (transcendentals 1e-4). Every test skips when no GPU is usable. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ft_test_rng.h"
#include "nn/backend.h"

#define TOL_F16 5e-3
#define TOL_F32 1e-5
#define TOL_TRANS 1e-4

typedef struct env {
    ft_nn_backend *cpu, *gpu, *gpu32;
    ft_test_rng rng;
} env;

/* One buffer mirrored on both backends. */
typedef struct pair {
    ft_nn_backend *cpu_be, *gpu_be;
    void *c, *g;
    size_t bytes;
} pair;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->rng.s = 0x5eed0009ull;
    ft_nn_backend_params cp = {.device = "cpu", .threads = 2};
    assert_int_equal(ft_nn_backend_create(&cp, &e->cpu), FT_OK);
    ft_nn_backend_params gp = {.device = "cuda"};
    if (ft_nn_backend_create(&gp, &e->gpu) != FT_OK)
        e->gpu = NULL;
    /* the FP32 mode that an out-of-memory failure falls back to */
    setenv("FT_CUDA_PRECISION", "fp32", 1);
    if (e->gpu && ft_nn_backend_create(&gp, &e->gpu32) != FT_OK)
        e->gpu32 = NULL;
    unsetenv("FT_CUDA_PRECISION");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    ft_nn_backend_destroy(&e->gpu32);
    ft_nn_backend_destroy(&e->gpu);
    ft_nn_backend_destroy(&e->cpu);
    free(e);
    return 0;
}

static env *need_gpu(void **state)
{
    env *e = *state;
    if (!e->gpu) {
        print_message("no usable CUDA device: skipped\n");
        skip();
    }
    return e;
}

static pair pair_new(ft_nn_backend *cpu, ft_nn_backend *gpu, const void *host, size_t bytes)
{
    pair p = {cpu, gpu, NULL, NULL, bytes};
    assert_int_equal(cpu->ops->alloc(cpu, bytes, FT_NN_MEM_ACT, &p.c), FT_OK);
    assert_int_equal(gpu->ops->alloc(gpu, bytes, FT_NN_MEM_ACT, &p.g), FT_OK);
    if (host) {
        cpu->ops->upload(cpu, p.c, host, bytes);
        gpu->ops->upload(gpu, p.g, host, bytes);
    }
    return p;
}

static void pair_free(pair *p)
{
    p->cpu_be->ops->free(p->cpu_be, p->c);
    p->gpu_be->ops->free(p->gpu_be, p->g);
}

static float *rand_floats(env *e, size_t n, float scale)
{
    float *v = malloc(n * sizeof(float));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(ft_test_rng_normal(&e->rng) * scale);
    return v;
}

/* A random buffer on both sides. */
static pair rand_pair(env *e, ft_nn_backend *gpu, size_t n, float scale)
{
    float *h = rand_floats(e, n, scale);
    pair p = pair_new(e->cpu, gpu, h, n * sizeof(float));
    free(h);
    return p;
}

/* An output buffer poisoned with NaN on both sides. */
static pair out_pair(env *e, ft_nn_backend *gpu, size_t n)
{
    float *h = malloc(n * sizeof(float));
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = NAN;
    pair p = pair_new(e->cpu, gpu, h, n * sizeof(float));
    free(h);
    return p;
}

/* Soft mode (>= 0: the number of failed comparisons so far): a test with
 * many cases prints every one before failing, so one GPU run shows them all. */
static int soft_failures = -1;

/* Normalised error of the GPU result against the CPU one over the elements
 * [row * ld, row * ld + cols) of `rows` rows; fails above tol (or counts
 * the failure in soft mode). */
static double compare(const pair *p, int rows, int cols, int ld, double tol, const char *what)
{
    size_t n = p->bytes / sizeof(float);
    float *a = malloc(p->bytes), *b = malloc(p->bytes);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(p->cpu_be->ops->sync(p->cpu_be), FT_OK);
    assert_int_equal(p->gpu_be->ops->sync(p->gpu_be), FT_OK);
    assert_int_equal(p->cpu_be->ops->download(p->cpu_be, a, p->c, p->bytes), FT_OK);
    assert_int_equal(p->gpu_be->ops->download(p->gpu_be, b, p->g, p->bytes), FT_OK);
    double num = 0, den = 0;
    int bad = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * ld + c;
            assert_true(i < n);
            if (!isfinite(b[i]) || !isfinite(a[i]))
                bad++;
            double d = (double)b[i] - a[i];
            num += d * d;
            den += (double)a[i] * a[i];
        }
    double err = bad ? INFINITY : sqrt(num / (den > 0 ? den : 1e-30));
    print_message("%-34s normalised error %.3g (tolerance %.0e)%s\n", what, err, tol,
                  bad ? " NON-FINITE" : "");
    free(a);
    free(b);
    if (soft_failures >= 0) {
        soft_failures += bad || !(err <= tol);
        return err;
    }
    assert_false(bad);
    assert_true(err <= tol);
    return err;
}

/* ---- linear ---- */

static void run_linear(env *e, ft_nn_backend *gpu, int m, int n, int k, int ldx_pad, ft_nn_act act,
                       int res_mode, double tol, const char *what)
{
    /* res_mode 0: none, 1: plain residual in place, 2: layer-scale in place,
     * 3: layer-scale into a separate y, 4: plain residual into a separate y */
    int ldx = k + ldx_pad, ldy = n + ldx_pad;
    pair x = rand_pair(e, gpu, (size_t)m * ldx, 1.f);
    pair w = rand_pair(e, gpu, (size_t)n * k, 1.f / sqrtf((float)k));
    pair b = rand_pair(e, gpu, (size_t)n, 0.5f);
    pair s = rand_pair(e, gpu, (size_t)n, 0.3f);
    pair r = rand_pair(e, gpu, (size_t)m * ldy, 1.f);
    pair y = res_mode == 1 || res_mode == 2 ? r : out_pair(e, gpu, (size_t)m * ldy);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? gpu : e->cpu;
#define P(q) ((float *)(side ? (q).g : (q).c))
        ft_nn_linear_args a = {
            .m = m,
            .n = n,
            .k = k,
            .x = P(x),
            .ldx = ldx,
            .w = P(w),
            .bias = P(b),
            .act = act,
            .res = res_mode ? P(r) : NULL,
            .ldres = ldy,
            .scale = res_mode == 2 || res_mode == 3 ? P(s) : NULL,
            .y = P(y),
            .ldy = ldy,
        };
#undef P
        be->ops->linear(be, &a);
    }
    compare(&y, m, n, ldy, tol, what);
    pair_free(&x);
    pair_free(&w);
    pair_free(&b);
    pair_free(&s);
    pair_free(&r);
    if (res_mode != 1 && res_mode != 2)
        pair_free(&y);
}

static void test_linear(void **state)
{
    env *e = need_gpu(state);
    soft_failures = 0;
    run_linear(e, e->gpu, 300, 256, 384, 0, FT_NN_ACT_NONE, 0, TOL_F16, "linear bias");
    run_linear(e, e->gpu, 1300, 1536, 384, 0, FT_NN_ACT_GELU, 0, TOL_F16, "linear bias+gelu");
    run_linear(e, e->gpu, 300, 2048, 256, 0, FT_NN_ACT_RELU, 0, TOL_F16, "linear bias+relu");
    run_linear(e, e->gpu, 1296, 256, 1536, 0, FT_NN_ACT_SILU, 0, TOL_F16, "linear bias+silu");
    run_linear(e, e->gpu, 300, 256, 2048, 0, FT_NN_ACT_NONE, 1, TOL_F16, "linear + residual");
    /* the patch embedding's form: the position table as C, another y */
    run_linear(e, e->gpu, 1296, 384, 768, 0, FT_NN_ACT_NONE, 4, TOL_F16,
               "linear + residual into another y");
    run_linear(e, e->gpu, 45, 40, 24, 4, FT_NN_ACT_NONE, 4, TOL_F16,
               "linear strided + residual, another y");
    run_linear(e, e->gpu, 64, 96, 48, 0, FT_NN_ACT_RELU, 1, TOL_F16, "linear relu + residual");
    run_linear(e, e->gpu, 1300, 384, 1536, 0, FT_NN_ACT_NONE, 2, TOL_F16,
               "linear + residual*layer-scale");
    run_linear(e, e->gpu, 77, 96, 40, 8, FT_NN_ACT_GELU, 3, TOL_F16,
               "linear strided, act+scale+res");
    run_linear(e, e->gpu, 33, 4, 256, 4, FT_NN_ACT_NONE, 0, TOL_F16, "linear narrow n=4");
    /* the activation pass off its four-wide path: padded rows, odd sizes */
    run_linear(e, e->gpu, 64, 96, 40, 4, FT_NN_ACT_GELU, 0, TOL_F16, "linear gelu, padded rows");
    run_linear(e, e->gpu, 33, 91, 256, 0, FT_NN_ACT_GELU, 0, TOL_F16, "linear gelu, 33 x 91");
    if (e->gpu32) {
        run_linear(e, e->gpu32, 300, 256, 384, 0, FT_NN_ACT_GELU, 0, TOL_TRANS, "fp32 linear gelu");
        run_linear(e, e->gpu32, 200, 384, 1536, 0, FT_NN_ACT_NONE, 2, TOL_TRANS,
                   "fp32 linear residual*scale");
        run_linear(e, e->gpu32, 300, 256, 2048, 0, FT_NN_ACT_NONE, 1, TOL_TRANS,
                   "fp32 linear + residual");
        run_linear(e, e->gpu32, 100, 384, 768, 0, FT_NN_ACT_NONE, 4, TOL_TRANS,
                   "fp32 linear + residual into another y");
    }
    int failed = soft_failures;
    soft_failures = -1;
    assert_int_equal(failed, 0);
}

/* ---- layernorm ---- */

static void test_layernorm(void **state)
{
    env *e = need_gpu(state);
    int m = 1300, n = 384, ld = 400;
    pair x = rand_pair(e, e->gpu, (size_t)m * ld, 3.f);
    pair g = rand_pair(e, e->gpu, n, 1.f);
    pair b = rand_pair(e, e->gpu, n, 1.f);
    pair y = out_pair(e, e->gpu, (size_t)m * n);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->layernorm(be, m, n, side ? x.g : x.c, ld, side ? g.g : g.c, side ? b.g : b.c,
                           1e-6f, FT_NN_ACT_NONE, side ? y.g : y.c, n);
    }
    compare(&y, m, n, n, TOL_F32 * 10, "layernorm strided");
    /* in place with SiLU (the projector's channel LayerNorm) */
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->layernorm(be, m, 256, side ? x.g : x.c, ld, side ? g.g : g.c, side ? b.g : b.c,
                           1e-5f, FT_NN_ACT_SILU, side ? x.g : x.c, ld);
    }
    compare(&x, m, 256, ld, TOL_TRANS, "layernorm in place + silu");
    pair_free(&x);
    pair_free(&g);
    pair_free(&b);
    pair_free(&y);
    /* every row-width path of the kernel: 2, 4 or 8 float4 per lane when
     * the width is a multiple of 4 (ragged last lane: 100, 700, and 384 /
     * 256 above), 8 or 16 floats per lane otherwise (99, 258), and the
     * general loop past 1024 */
    const int widths[] = {99, 100, 258, 700, 1500};
    for (int i = 0; i < 5; i++) {
        int w = widths[i], rows = 37;
        pair xi = rand_pair(e, e->gpu, (size_t)rows * w, 2.f);
        pair yi = out_pair(e, e->gpu, (size_t)rows * w);
        pair gi = rand_pair(e, e->gpu, (size_t)w, 1.f), bi = rand_pair(e, e->gpu, (size_t)w, 1.f);
        for (int side = 0; side < 2; side++) {
            ft_nn_backend *be = side ? e->gpu : e->cpu;
            be->ops->layernorm(be, rows, w, side ? xi.g : xi.c, w, side ? gi.g : gi.c,
                               side ? bi.g : bi.c, 1e-6f, FT_NN_ACT_GELU, side ? yi.g : yi.c, w);
        }
        char what[48];
        snprintf(what, sizeof(what), "layernorm + gelu, rows of %d", w);
        compare(&yi, rows, w, w, TOL_TRANS, what);
        pair *all[] = {&xi, &yi, &gi, &bi};
        for (size_t j = 0; j < 4; j++)
            pair_free(all[j]);
    }
}

/* ---- attention ---- */

static void run_attention(env *e, ft_nn_backend *gpu, int batch, int lq, int lk, int heads, int dh,
                          int fused, double tol, const char *what)
{
    int d = heads * dh;
    /* fused: q|k|v columns of one projection, as the encoder passes them;
     * 2: the same, starting 2 floats into the buffer (8-byte aligned rows) */
    int ld = fused ? 3 * d : d, off = fused == 2 ? 2 : 0;
    pair q = rand_pair(e, gpu, (size_t)batch * (lq > lk ? lq : lk) * ld + off, 1.f);
    pair k = fused ? q : rand_pair(e, gpu, (size_t)batch * lk * ld, 1.f);
    pair v = fused ? q : rand_pair(e, gpu, (size_t)batch * lk * ld, 1.f);
    pair o = out_pair(e, gpu, (size_t)batch * lq * d);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? gpu : e->cpu;
        float *qp = (float *)(side ? q.g : q.c) + off, *kp = (float *)(side ? k.g : k.c) + off,
              *vp = (float *)(side ? v.g : v.c) + off;
        ft_nn_attention_args a = {
            .batch = batch,
            .lq = lq,
            .lk = lk,
            .heads = heads,
            .dh = dh,
            .scale = 1.f / sqrtf((float)dh),
            .q = qp,
            .ldq = ld,
            .k = fused ? kp + d : kp,
            .ldk = ld,
            .v = fused ? vp + 2 * d : vp,
            .ldv = ld,
            .out = side ? o.g : o.c,
            .ldo = d,
        };
        be->ops->attention(be, &a);
    }
    compare(&o, batch * lq, d, d, tol, what);
    pair_free(&q);
    if (!fused) {
        pair_free(&k);
        pair_free(&v);
    }
    pair_free(&o);
}

static void test_attention(void **state)
{
    env *e = need_gpu(state);
    soft_failures = 0;
    run_attention(e, e->gpu, 4, 325, 325, 6, 64, 1, TOL_F16, "attention windowed 4x325 dh64");
    run_attention(e, e->gpu, 1, 1300, 1300, 6, 64, 1, TOL_F16, "attention global 1300 dh64");
    run_attention(e, e->gpu, 1, 300, 300, 8, 32, 0, TOL_F16, "attention decoder 300 dh32");
    run_attention(e, e->gpu, 3, 100, 100, 6, 64, 2, TOL_F16, "attention 8-byte aligned rows");
    run_attention(e, e->gpu, 2, 37, 100, 2, 64, 0, TOL_F16, "attention lq!=lk");
    run_attention(e, e->gpu, 2, 50, 70, 3, 16, 0, TOL_F32 * 10, "attention dh16 (exact path)");
    /* tile edges of the tensor-core kernel (64 queries x 64 keys per step):
     * whole tiles, one key, one query, a partial single tile */
    run_attention(e, e->gpu, 1, 128, 128, 2, 64, 0, TOL_F16, "attention whole 64-tiles");
    run_attention(e, e->gpu, 2, 65, 1, 2, 32, 0, TOL_F16, "attention one key");
    run_attention(e, e->gpu, 2, 1, 200, 3, 64, 0, TOL_F16, "attention one query");
    run_attention(e, e->gpu, 1, 20, 9, 4, 32, 0, TOL_F16, "attention 20 queries, 9 keys");
    if (e->gpu32)
        run_attention(e, e->gpu32, 4, 325, 325, 6, 64, 1, TOL_F32 * 10, "fp32 attention windowed");
    int failed = soft_failures;
    soft_failures = -1;
    assert_int_equal(failed, 0);
}

/* ---- deformable attention ---- */

/* batch > 1: frames of nq queries, each sampling its own value block of
 * rows + 7 rows (a frame stride that is not the levels' total) */
static void run_msda(env *e, int levels, const int *hw, int nq, int heads, int dh, int points,
                     int batch, const char *what)
{
    ft_nn_msda_args base = {
        .nq = nq, .heads = heads, .dh = dh, .levels = levels, .points = points, .batch = batch};
    int rows = 0;
    for (int l = 0; l < levels; l++) {
        base.level_hw[2 * l] = hw[2 * l];
        base.level_hw[2 * l + 1] = hw[2 * l + 1];
        base.level_start[l] = rows;
        rows += hw[2 * l] * hw[2 * l + 1];
    }
    if (batch > 1)
        base.frame_rows = rows + 7;
    int frames = batch > 1 ? batch : 1;
    size_t vrows = batch > 1 ? (size_t)frames * base.frame_rows : (size_t)rows;
    nq *= frames; /* query rows of all frames */
    int noff = heads * levels * points * 2, nlog = heads * levels * points;
    pair value = rand_pair(e, e->gpu, vrows * heads * dh, 1.f);
    float *ref = malloc((size_t)nq * 4 * sizeof(float));
    assert_non_null(ref);
    for (int i = 0; i < nq; i++) {
        ref[4 * i] = (float)ft_test_rng_uniform(&e->rng);
        ref[4 * i + 1] = (float)ft_test_rng_uniform(&e->rng);
        ref[4 * i + 2] = (float)ft_test_rng_uniform(&e->rng) * 0.5f;
        ref[4 * i + 3] = (float)ft_test_rng_uniform(&e->rng) * 0.5f;
    }
    pair r = pair_new(e->cpu, e->gpu, ref, (size_t)nq * 4 * sizeof(float));
    free(ref);
    /* offsets of a few cells, so samples also fall outside the map */
    pair off = rand_pair(e, e->gpu, (size_t)nq * (noff + 3), 3.f);
    pair lg = rand_pair(e, e->gpu, (size_t)nq * nlog, 2.f);
    pair o = out_pair(e, e->gpu, (size_t)nq * heads * dh);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        ft_nn_msda_args a = base;
        a.value = side ? value.g : value.c;
        a.ref = side ? r.g : r.c;
        a.offsets = side ? off.g : off.c;
        a.ldoff = noff + 3;
        a.logits = side ? lg.g : lg.c;
        a.ldlog = nlog;
        a.out = side ? o.g : o.c;
        a.ldo = heads * dh;
        be->ops->msda(be, &a);
    }
    compare(&o, nq, heads * dh, heads * dh, TOL_TRANS, what);
    pair_free(&value);
    pair_free(&r);
    pair_free(&off);
    pair_free(&lg);
    pair_free(&o);
}

static void test_msda(void **state)
{
    env *e = need_gpu(state);
    const int one[2] = {36, 36};
    run_msda(e, 1, one, 300, 16, 16, 2, 0, "msda 1 level 36x36");
    const int three[6] = {20, 24, 10, 12, 5, 6};
    run_msda(e, 3, three, 100, 8, 32, 4, 0, "msda 3 levels");
    run_msda(e, 1, one, 300, 16, 16, 2, 3, "msda 1 level, batch of 3 frames");
    run_msda(e, 3, three, 100, 8, 32, 4, 2, "msda 3 levels, batch of 2 frames");
}

/* ---- layout, selection and small kernels ---- */

/* im2col of `batch` images on both sides; the CPU's last image is also
 * made alone and must equal its block of the batched columns. */
static void run_im2col_batch(env *e, ft_nn_im2col_args a, int batch, const char *what)
{
    int ho = (a.h + 2 * a.pad - a.k) / a.stride + 1, wo = (a.w + 2 * a.pad - a.k) / a.stride + 1;
    size_t img = (size_t)a.c * a.h * a.w, rows = (size_t)ho * wo, cols = (size_t)a.c * a.k * a.k;
    pair x = rand_pair(e, e->gpu, batch * img, 1.f);
    pair y = out_pair(e, e->gpu, batch * rows * cols);
    pair last = out_pair(e, e->gpu, rows * cols);
    a.batch = batch;
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        a.x = side ? x.g : x.c;
        a.y = side ? y.g : y.c;
        be->ops->im2col(be, &a);
    }
    compare(&y, (int)(batch * rows), (int)cols, (int)cols, 0, what);
    ft_nn_im2col_args one = a;
    one.batch = 0;
    one.x = (const float *)x.c + (batch - 1) * img;
    one.y = last.c;
    e->cpu->ops->im2col(e->cpu, &one);
    float *hb = malloc(rows * cols * sizeof(float)), *h1 = malloc(rows * cols * sizeof(float));
    assert_non_null(hb);
    assert_non_null(h1);
    assert_int_equal(e->cpu->ops->download(e->cpu, hb,
                                           (const float *)y.c + (batch - 1) * rows * cols,
                                           rows * cols * sizeof(float)),
                     FT_OK);
    assert_int_equal(e->cpu->ops->download(e->cpu, h1, last.c, rows * cols * sizeof(float)), FT_OK);
    assert_memory_equal(hb, h1, rows * cols * sizeof(float));
    free(hb);
    free(h1);
    pair_free(&x);
    pair_free(&y);
    pair_free(&last);
}

static void test_im2col(void **state)
{
    env *e = need_gpu(state);
    /* the patch embedding: CHW image, 16x16 stride 16 */
    pair img = rand_pair(e, e->gpu, 3 * 64 * 48, 1.f);
    pair col = out_pair(e, e->gpu, (size_t)(4 * 3) * (3 * 256));
    ft_nn_im2col_args a = {.layout = FT_NN_CHW, .c = 3, .h = 64, .w = 48, .k = 16, .stride = 16};
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        a.x = side ? img.g : img.c;
        a.y = side ? col.g : col.c;
        be->ops->im2col(be, &a);
    }
    compare(&col, 12, 768, 768, 0, "im2col CHW patch 16");
    /* a projector 3x3 conv: HWC token map, pad 1 */
    pair map = rand_pair(e, e->gpu, 9 * 11 * 16, 1.f);
    pair col2 = out_pair(e, e->gpu, (size_t)99 * 144);
    ft_nn_im2col_args b = {
        .layout = FT_NN_HWC, .c = 16, .h = 9, .w = 11, .k = 3, .stride = 1, .pad = 1};
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        b.x = side ? map.g : map.c;
        b.y = side ? col2.g : col2.c;
        be->ops->im2col(be, &b);
    }
    compare(&col2, 99, 144, 144, 0, "im2col HWC 3x3 pad 1");
    /* batches: the patch embedding of 3 frames, a stride-2 3x3 conv of 2 maps */
    ft_nn_im2col_args pa = {.layout = FT_NN_CHW, .c = 3, .h = 64, .w = 48, .k = 16, .stride = 16};
    run_im2col_batch(e, pa, 3, "im2col CHW patch 16, batch of 3");
    ft_nn_im2col_args s2 = {
        .layout = FT_NN_HWC, .c = 16, .h = 9, .w = 11, .k = 3, .stride = 2, .pad = 1};
    run_im2col_batch(e, s2, 2, "im2col HWC 3x3 stride 2, batch of 2");
    /* the projector's width: rows of 1152 columns, more than a block's threads */
    ft_nn_im2col_args wide = {
        .layout = FT_NN_HWC, .c = 128, .h = 6, .w = 7, .k = 3, .stride = 1, .pad = 1};
    run_im2col_batch(e, wide, 2, "im2col HWC 3x3, 128 channels, batch of 2");
    pair_free(&img);
    pair_free(&col);
    pair_free(&map);
    pair_free(&col2);
}

static void test_small_ops(void **state)
{
    env *e = need_gpu(state);
    int n = 5000;
    pair a = rand_pair(e, e->gpu, n, 1.f), b = rand_pair(e, e->gpu, n, 1.f);
    pair y = out_pair(e, e->gpu, n);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->add(be, n, side ? a.g : a.c, side ? b.g : b.c, side ? y.g : y.c);
    }
    compare(&y, 1, n, n, 0, "add");

    /* gather with negative indices (zero rows) */
    int rows = 300, cols = 256, src_rows = 1296;
    pair x = rand_pair(e, e->gpu, (size_t)src_rows * cols, 1.f);
    int32_t idx[300];
    for (int i = 0; i < rows; i++)
        idx[i] = i % 7 == 3 ? -1 : (int32_t)(ft_test_rng_u64(&e->rng) % (uint64_t)src_rows);
    pair ip = pair_new(e->cpu, e->gpu, idx, sizeof(idx));
    pair g = out_pair(e, e->gpu, (size_t)rows * cols);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->gather_rows(be, rows, cols, side ? x.g : x.c, cols, side ? ip.g : ip.c,
                             side ? g.g : g.c, cols);
    }
    compare(&g, rows, cols, cols, 0, "gather_rows");
    /* strided rows wider than a block's threads, and 4-float rows (boxes) */
    const int gcols[2] = {300, 4}, gldx[2] = {310, 9}, gldy[2] = {305, 6};
    for (int t = 0; t < 2; t++) {
        pair gx = rand_pair(e, e->gpu, (size_t)src_rows * gldx[t], 1.f);
        pair gy = out_pair(e, e->gpu, (size_t)rows * gldy[t]);
        for (int side = 0; side < 2; side++) {
            ft_nn_backend *be = side ? e->gpu : e->cpu;
            be->ops->gather_rows(be, rows, gcols[t], side ? gx.g : gx.c, gldx[t],
                                 side ? ip.g : ip.c, side ? gy.g : gy.c, gldy[t]);
        }
        compare(&gy, rows, gcols[t], gldy[t], 0,
                t ? "gather_rows of 4 floats, strided" : "gather_rows 300 wide, strided");
        pair_free(&gx);
        pair_free(&gy);
    }

    pair mx = out_pair(e, e->gpu, src_rows);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->rowmax(be, src_rows, 91, side ? x.g : x.c, cols, side ? mx.g : mx.c);
    }
    compare(&mx, 1, src_rows, src_rows, 0, "rowmax");

    /* box refinement, plain and through a reference index */
    float ref[300 * 4];
    for (int i = 0; i < 300 * 4; i++)
        ref[i] = 0.05f + 0.9f * (float)ft_test_rng_uniform(&e->rng);
    pair rp = pair_new(e->cpu, e->gpu, ref, sizeof(ref));
    pair d = rand_pair(e, e->gpu, 300 * 8, 0.5f);
    pair box = out_pair(e, e->gpu, 300 * 4);
    int32_t ridx[300];
    for (int i = 0; i < 300; i++)
        ridx[i] = (int32_t)(ft_test_rng_u64(&e->rng) % 300u);
    pair rip = pair_new(e->cpu, e->gpu, ridx, sizeof(ridx));
    for (int pass = 0; pass < 2; pass++) {
        for (int side = 0; side < 2; side++) {
            ft_nn_backend *be = side ? e->gpu : e->cpu;
            be->ops->box_refine(be, 300, side ? d.g : d.c, 8, side ? rp.g : rp.c,
                                pass ? (side ? rip.g : rip.c) : NULL, side ? box.g : box.c);
        }
        compare(&box, 300, 4, 4, TOL_TRANS, pass ? "box_refine gathered" : "box_refine");
    }

    pair emb = out_pair(e, e->gpu, 300 * 4 * 128);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        be->ops->sine_embed(be, 300, 128, side ? box.g : box.c, side ? emb.g : emb.c);
    }
    compare(&emb, 300, 512, 512, TOL_TRANS, "sine_embed");

    pair *all[] = {&a, &b, &y, &x, &ip, &g, &mx, &rp, &d, &box, &rip, &emb};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);
}

/* `batch` rows of n values h (borrowed), k selected from each, by both
 * backends: values and indices identical */
static void run_topk_of(env *e, const float *h, int batch, int n, int k, const char *what)
{
    size_t nx = (size_t)batch * n, nk = (size_t)batch * k;
    pair x = pair_new(e->cpu, e->gpu, h, nx * sizeof(float));
    pair vals = out_pair(e, e->gpu, nk);
    int32_t *ic = malloc(nk * 4), *ig = malloc(nk * 4);
    assert_non_null(ic);
    assert_non_null(ig);
    void *idx_c, *idx_g;
    assert_int_equal(e->cpu->ops->alloc(e->cpu, nk * 4, FT_NN_MEM_ACT, &idx_c), FT_OK);
    assert_int_equal(e->gpu->ops->alloc(e->gpu, nk * 4, FT_NN_MEM_ACT, &idx_g), FT_OK);
    e->cpu->ops->topk(e->cpu, batch, n, k, x.c, idx_c, vals.c);
    e->gpu->ops->topk(e->gpu, batch, n, k, x.g, idx_g, vals.g);
    compare(&vals, batch, k, k, 0, what);
    assert_int_equal(e->cpu->ops->download(e->cpu, ic, idx_c, nk * 4), FT_OK);
    assert_int_equal(e->gpu->ops->download(e->gpu, ig, idx_g, nk * 4), FT_OK);
    for (size_t i = 0; i < nk; i++) {
        assert_int_equal(ic[i], ig[i]);
        /* indices into x as a whole, within the selection's own row */
        int row = (int)(i / (size_t)k);
        assert_true(ig[i] >= row * n && ig[i] < (row + 1) * n);
        assert_true(i % (size_t)k == 0 || h[ig[i]] <= h[ig[i - 1]]);
    }
    e->cpu->ops->free(e->cpu, idx_c);
    e->gpu->ops->free(e->gpu, idx_g);
    free(ic);
    free(ig);
    pair_free(&x);
    pair_free(&vals);
}

static void run_topk(env *e, int batch, int n, int k, int ties, const char *what)
{
    size_t nx = (size_t)batch * n;
    float *h = rand_floats(e, nx, 2.f);
    if (ties) /* coarse values: many equal keys, ordered by index */
        for (size_t i = 0; i < nx; i++)
            h[i] = roundf(h[i] * 4.f) / 4.f;
    run_topk_of(e, h, batch, n, k, what);
    free(h);
}

static void test_topk(void **state)
{
    env *e = need_gpu(state);
    run_topk(e, 1, 300 * 91, 300, 0, "topk 300 of 27300");
    run_topk(e, 1, 300 * 91, 300, 1, "topk 300 of 27300 with ties");
    run_topk(e, 1, 1296, 300, 0, "topk 300 of 1296 (proposals)");
    run_topk(e, 1, 5, 5, 1, "topk all of 5");
    run_topk(e, 3, 1296, 300, 1, "topk 300 of 1296, batch of 3 with ties");
    run_topk(e, 32, 1296, 300, 0, "topk 300 of 1296, batch of 32");
    /* the largest k (the kernel's FT_CUDA_TOPK_MAX), rows that end inside a
     * warp, one key everywhere */
    run_topk(e, 2, 50001, 1024, 0, "topk 1024 of 50001, batch of 2");
    float *same = malloc(3000 * sizeof(float));
    assert_non_null(same);
    for (int i = 0; i < 3000; i++)
        same[i] = -1.5f;
    run_topk_of(e, same, 1, 3000, 700, "topk 700 of 3000 equal values");
    free(same);
    /* -0 and +0 are equal to the CPU: a tie kept in index order */
    const float zeros[8] = {-0.f, 0.f, 1.f, -0.f, 0.f, -1.f, -0.f, 0.5f};
    run_topk_of(e, zeros, 2, 4, 4, "topk of signed zeros, batch of 2");
}

/* ---- execution: graph capture and replay give the eager result ---- */

typedef struct graph_ctx {
    int m, n, k;
    float *x, *w, *b, *y, *z;
    float *g, *bt;
} graph_ctx;

static void record(ft_nn_backend *be, void *user)
{
    graph_ctx *c = user;
    ft_nn_linear_args a = {.m = c->m,
                           .n = c->n,
                           .k = c->k,
                           .x = c->x,
                           .ldx = c->k,
                           .w = c->w,
                           .bias = c->b,
                           .act = FT_NN_ACT_GELU,
                           .y = c->y,
                           .ldy = c->n};
    be->ops->linear(be, &a);
    be->ops->layernorm(be, c->m, c->n, c->y, c->n, c->g, c->bt, 1e-6f, FT_NN_ACT_NONE, c->z, c->n);
}

static void test_graph_replay(void **state)
{
    env *e = need_gpu(state);
    graph_ctx c = {.m = 64, .n = 128, .k = 96};
    pair x = rand_pair(e, e->gpu, (size_t)c.m * c.k, 1.f), w = rand_pair(e, e->gpu, 128 * 96, 0.1f);
    pair b = rand_pair(e, e->gpu, 128, 0.1f), g = rand_pair(e, e->gpu, 128, 1.f);
    pair bt = rand_pair(e, e->gpu, 128, 1.f);
    pair y = out_pair(e, e->gpu, (size_t)c.m * c.n), z = out_pair(e, e->gpu, (size_t)c.m * c.n);
    c.x = x.g, c.w = w.g, c.b = b.g, c.y = y.g, c.z = z.g, c.g = g.g, c.bt = bt.g;
    graph_ctx cc = c;
    cc.x = x.c, cc.w = w.c, cc.b = b.c, cc.y = y.c, cc.z = z.c, cc.g = g.c, cc.bt = bt.c;
    assert_int_equal(e->cpu->ops->run(e->cpu, record, &cc, 0), FT_OK);
    /* eager, captured, replayed: each must give the CPU result */
    for (int i = 0; i < 3; i++) {
        float *nan = malloc((size_t)c.m * c.n * sizeof(float));
        assert_non_null(nan);
        for (int j = 0; j < c.m * c.n; j++)
            nan[j] = NAN;
        e->gpu->ops->upload(e->gpu, z.g, nan, (size_t)c.m * c.n * sizeof(float));
        free(nan);
        assert_int_equal(e->gpu->ops->run(e->gpu, record, &c, 0), FT_OK);
        compare(&z, c.m, c.n, c.n, TOL_F16,
                i == 0 ? "run: eager" : (i == 1 ? "run: captured" : "run: graph replay"));
    }
    pair *all[] = {&x, &w, &b, &g, &bt, &y, &z};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);
}

/* ---- chains: a GEMM reading a layer norm's or an activation's output uses
 * the f16 copy its producer wrote; any other write in between must make it
 * convert again ---- */

static void test_chains(void **state)
{
    env *e = need_gpu(state);
    int m = 325, d = 384, f = 1536;
    pair x = rand_pair(e, e->gpu, (size_t)m * d, 2.f), g = rand_pair(e, e->gpu, d, 1.f);
    pair bt = rand_pair(e, e->gpu, d, 0.5f), w1 = rand_pair(e, e->gpu, (size_t)f * d, 0.05f);
    pair b1 = rand_pair(e, e->gpu, f, 0.1f), w2 = rand_pair(e, e->gpu, (size_t)d * f, 0.03f);
    pair h = out_pair(e, e->gpu, (size_t)m * d), u = out_pair(e, e->gpu, (size_t)m * f);
    pair o = out_pair(e, e->gpu, (size_t)m * d), n = rand_pair(e, e->gpu, (size_t)m * d, 1.f);
    for (int step = 0; step < 3; step++) {
        for (int side = 0; side < 2; side++) {
            ft_nn_backend *be = side ? e->gpu : e->cpu;
#define P(q) ((float *)(side ? (q).g : (q).c))
            if (step < 2)
                be->ops->layernorm(be, m, d, P(x), d, P(g), P(bt), 1e-6f, FT_NN_ACT_NONE, P(h), d);
            if (step == 1) /* h changes after the layer norm wrote its copy */
                be->ops->add(be, m * d, P(h), P(n), P(h));
            if (step == 2) /* h written by another operator only */
                be->ops->add(be, m * d, P(n), P(n), P(h));
            ft_nn_linear_args l1 = {.m = m,
                                    .n = f,
                                    .k = d,
                                    .x = P(h),
                                    .ldx = d,
                                    .w = P(w1),
                                    .bias = P(b1),
                                    .act = FT_NN_ACT_GELU,
                                    .y = P(u),
                                    .ldy = f};
            be->ops->linear(be, &l1);
            ft_nn_linear_args l2 = {
                .m = m, .n = d, .k = f, .x = P(u), .ldx = f, .w = P(w2), .y = P(o), .ldy = d};
            be->ops->linear(be, &l2);
#undef P
        }
        compare(&o, m, d, d, TOL_F16,
                step == 0
                    ? "layernorm -> linear gelu -> linear"
                    : (step == 1 ? "layernorm, add, linear -> linear" : "add -> linear -> linear"));
    }
    pair *all[] = {&x, &g, &bt, &w1, &b1, &w2, &h, &u, &o, &n};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);
}

/* ---- weight copies: the f16 copy of a weight follows its memory; new
 * values uploaded there, or a new weight allocated where a freed one lived
 * (address reuse), must not run with the stale copy ---- */

static void linear_once(env *e, const pair *x, const pair *w, const pair *y, int m, int n, int k,
                        const char *what)
{
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
        ft_nn_linear_args a = {.m = m,
                               .n = n,
                               .k = k,
                               .x = side ? x->g : x->c,
                               .ldx = k,
                               .w = side ? w->g : w->c,
                               .y = side ? y->g : y->c,
                               .ldy = n};
        be->ops->linear(be, &a);
    }
    compare(y, m, n, n, TOL_F16, what);
}

static void test_weight_copies_follow_memory(void **state)
{
    env *e = need_gpu(state);
    int m = 96, n = 128, k = 64;
    pair x = rand_pair(e, e->gpu, (size_t)m * k, 1.f), y = out_pair(e, e->gpu, (size_t)m * n);
    pair w = rand_pair(e, e->gpu, (size_t)n * k, 0.1f);
    linear_once(e, &x, &w, &y, m, n, k, "linear, first weight");
    float *h = rand_floats(e, (size_t)n * k, 0.1f);
    e->cpu->ops->upload(e->cpu, w.c, h, w.bytes);
    e->gpu->ops->upload(e->gpu, w.g, h, w.bytes);
    free(h);
    linear_once(e, &x, &w, &y, m, n, k, "linear, weight re-uploaded");
    /* free and allocate again: the allocator usually hands back the address */
    void *old = w.g;
    pair_free(&w);
    w = rand_pair(e, e->gpu, (size_t)n * k, 0.1f);
    linear_once(e, &x, &w, &y, m, n, k,
                w.g == old ? "linear, new weight at a freed address" : "linear, new weight");
    pair *all[] = {&x, &y, &w};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);
}

static void test_chains_attention_im2col(void **state)
{
    env *e = need_gpu(state);
    /* attention -> output projection (the copy comes from the attention kernel) */
    int b = 4, l = 325, d = 384, heads = 6;
    pair qkv = rand_pair(e, e->gpu, (size_t)b * l * 3 * d, 1.f);
    pair at = out_pair(e, e->gpu, (size_t)b * l * d),
         w = rand_pair(e, e->gpu, (size_t)d * d, 0.05f);
    pair o = out_pair(e, e->gpu, (size_t)b * l * d);
    /* im2col -> 3x3 conv as a GEMM (the copy comes from im2col) */
    int c = 32, hh = 12, ww = 10, co = 16;
    pair map = rand_pair(e, e->gpu, (size_t)hh * ww * c, 1.f);
    pair col = out_pair(e, e->gpu, (size_t)hh * ww * c * 9);
    pair wc = rand_pair(e, e->gpu, (size_t)co * c * 9, 0.05f);
    pair oc = out_pair(e, e->gpu, (size_t)hh * ww * co);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
#define P(q) ((float *)(side ? (q).g : (q).c))
        ft_nn_attention_args a = {.batch = b,
                                  .lq = l,
                                  .lk = l,
                                  .heads = heads,
                                  .dh = 64,
                                  .scale = 0.125f,
                                  .q = P(qkv),
                                  .ldq = 3 * d,
                                  .k = P(qkv) + d,
                                  .ldk = 3 * d,
                                  .v = P(qkv) + 2 * d,
                                  .ldv = 3 * d,
                                  .out = P(at),
                                  .ldo = d};
        be->ops->attention(be, &a);
        ft_nn_linear_args pl = {
            .m = b * l, .n = d, .k = d, .x = P(at), .ldx = d, .w = P(w), .y = P(o), .ldy = d};
        be->ops->linear(be, &pl);
        ft_nn_im2col_args ic = {.layout = FT_NN_HWC,
                                .c = c,
                                .h = hh,
                                .w = ww,
                                .k = 3,
                                .stride = 1,
                                .pad = 1,
                                .x = P(map),
                                .y = P(col)};
        be->ops->im2col(be, &ic);
        ft_nn_linear_args cl = {.m = hh * ww,
                                .n = co,
                                .k = c * 9,
                                .x = P(col),
                                .ldx = c * 9,
                                .w = P(wc),
                                .y = P(oc),
                                .ldy = co};
        be->ops->linear(be, &cl);
#undef P
    }
    compare(&o, b * l, d, d, TOL_F16, "attention -> linear");
    compare(&oc, hh * ww, co, co, TOL_F16, "im2col -> linear");
    pair *all[] = {&qkv, &at, &w, &o, &map, &col, &wc, &oc};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);
}

/* add -> linear on blocks of its rows (the f16 copy of the flat sum serves
 * a block at an aligned offset; an unaligned one converts by itself), and
 * deformable attention -> output projection (the decoder's chains) */
static void test_chains_add_msda(void **state)
{
    env *e = need_gpu(state);
    int r = 300, h = 256, nout = 192;
    pair a = rand_pair(e, e->gpu, (size_t)r * h, 1.f), b = rand_pair(e, e->gpu, (size_t)r * h, 1.f);
    pair s = out_pair(e, e->gpu, (size_t)r * h), w = rand_pair(e, e->gpu, (size_t)nout * h, 0.06f);
    pair bias = rand_pair(e, e->gpu, nout, 0.1f);
    /* rows from: 0 (all), 8 (aligned block), and 3 floats in (unaligned) */
    const int first[3] = {0, 8 * h, 3}, rows[3] = {r, 100, 50};
    const char *what[3] = {"add -> linear", "add -> linear, rows 8..107",
                           "add -> linear, unaligned offset"};
    for (int t = 0; t < 3; t++) {
        pair y = out_pair(e, e->gpu, (size_t)rows[t] * nout);
        for (int side = 0; side < 2; side++) {
            ft_nn_backend *be = side ? e->gpu : e->cpu;
#define P(q) ((float *)(side ? (q).g : (q).c))
            be->ops->add(be, r * h, P(a), P(b), P(s));
            ft_nn_linear_args l = {.m = rows[t],
                                   .n = nout,
                                   .k = h,
                                   .x = P(s) + first[t],
                                   .ldx = h,
                                   .w = P(w),
                                   .bias = P(bias),
                                   .y = P(y),
                                   .ldy = nout};
            be->ops->linear(be, &l);
#undef P
        }
        compare(&y, rows[t], nout, nout, TOL_F16, what[t]);
        pair_free(&y);
    }
    pair *all[] = {&a, &b, &s, &w, &bias};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        pair_free(all[i]);

    /* msda (1 level 36 x 36, 8 heads of 32, 4 points) -> linear */
    int nq = 300, heads = 8, dh = 32, points = 4, g = 36;
    int noff = heads * points * 2, nlog = heads * points, d = heads * dh;
    pair value = rand_pair(e, e->gpu, (size_t)g * g * d, 1.f);
    float *ref = malloc((size_t)nq * 4 * sizeof(float));
    assert_non_null(ref);
    for (int i = 0; i < nq * 4; i++)
        ref[i] = 0.1f + 0.4f * (float)ft_test_rng_uniform(&e->rng);
    pair rp = pair_new(e->cpu, e->gpu, ref, (size_t)nq * 4 * sizeof(float));
    free(ref);
    pair off = rand_pair(e, e->gpu, (size_t)nq * noff, 2.f);
    pair lg = rand_pair(e, e->gpu, (size_t)nq * nlog, 1.f);
    pair att = out_pair(e, e->gpu, (size_t)nq * d), wo = rand_pair(e, e->gpu, (size_t)d * d, 0.06f);
    pair o = out_pair(e, e->gpu, (size_t)nq * d);
    for (int side = 0; side < 2; side++) {
        ft_nn_backend *be = side ? e->gpu : e->cpu;
#define P(q) ((float *)(side ? (q).g : (q).c))
        ft_nn_msda_args m = {.nq = nq,
                             .heads = heads,
                             .dh = dh,
                             .levels = 1,
                             .points = points,
                             .level_hw = {g, g},
                             .level_start = {0},
                             .value = P(value),
                             .ref = P(rp),
                             .offsets = P(off),
                             .ldoff = noff,
                             .logits = P(lg),
                             .ldlog = nlog,
                             .out = P(att),
                             .ldo = d};
        be->ops->msda(be, &m);
        ft_nn_linear_args l = {
            .m = nq, .n = d, .k = d, .x = P(att), .ldx = d, .w = P(wo), .y = P(o), .ldy = d};
        be->ops->linear(be, &l);
#undef P
    }
    compare(&o, nq, d, d, TOL_F16, "msda -> linear");
    pair *more[] = {&value, &rp, &off, &lg, &att, &wo, &o};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        pair_free(more[i]);
}

/* ---- pre-processing from 8-bit planes ---- */

static void test_image_to_tensor(void **state)
{
    env *e = need_gpu(state);
    assert_non_null(e->gpu->ops->image_to_tensor);
    /* A flat grey frame maps to one known value per channel whatever the
     * filter: Y=U=V=128 in limited range is (128-16)*255/219 = 130.41,
     * rounded to the byte 130 as a decoder's RGB output. */
    int w = 320, h = 180;
    uint8_t *planes = malloc((size_t)w * h * 3 / 2);
    assert_non_null(planes);
    memset(planes, 128, (size_t)w * h * 3 / 2);
    ft_image img = {.width = w,
                    .height = h,
                    .format = FT_PIX_YUV420P,
                    .data = {planes, planes + w * h, planes + w * h + (w / 2) * (h / 2)},
                    .stride = {w, w / 2, w / 2}};
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    int s = 64;
    void *y;
    assert_int_equal(e->gpu->ops->alloc(e->gpu, (size_t)3 * s * s * 4, FT_NN_MEM_ACT, &y), FT_OK);
    float *out = malloc((size_t)3 * s * s * 4);
    assert_non_null(out);
    for (int fmt = 0; fmt < 2; fmt++) {
        if (fmt) {
            img.format = FT_PIX_NV12;
            img.data[2] = NULL;
            img.stride[1] = w;
        }
        e->gpu->ops->image_to_tensor(e->gpu, &img, s, s, mean, sd, y);
        assert_int_equal(e->gpu->ops->download(e->gpu, out, y, (size_t)3 * s * s * 4), FT_OK);
        float v = 130.f / 255.f;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < s * s; i++)
                assert_float_equal(out[c * s * s + i], (v - mean[c]) / sd[c], 1e-4);
    }
    e->gpu->ops->free(e->gpu, y);
    free(out);
    free(planes);
}

/* Independent double-precision reference of the pre-processing: PIL's
 * antialiased triangle filter over BT.601 limited-range RGB bytes. */
static int ref_taps(int o, int in, int out, double *w)
{
    double scale = (double)in / out, support = scale > 1 ? scale : 1, sum = 0;
    double center = (o + 0.5) * scale;
    int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
    lo = lo < 0 ? 0 : lo;
    hi = hi > in ? in : hi;
    for (int i = lo; i < hi; i++) {
        double t = fabs((i - center + 0.5) / support);
        w[i - lo] = t < 1 ? 1 - t : 0;
        sum += w[i - lo];
    }
    for (int i = lo; i < hi; i++)
        w[i - lo] /= sum;
    return hi - lo;
}

static double ref_rgb(const ft_image *f, int x, int y, int c)
{
    int Y = f->data[0][y * f->stride[0] + x], U, V;
    if (f->format == FT_PIX_NV12) {
        U = f->data[1][(y / 2) * f->stride[1] + (x / 2) * 2];
        V = f->data[1][(y / 2) * f->stride[1] + (x / 2) * 2 + 1];
    } else {
        U = f->data[1][(y / 2) * f->stride[1] + x / 2];
        V = f->data[2][(y / 2) * f->stride[2] + x / 2];
    }
    double yy = 1.164383 * (Y - 16), v;
    if (c == 0)
        v = yy + 1.596027 * (V - 128);
    else if (c == 1)
        v = yy - 0.391762 * (U - 128) - 0.812968 * (V - 128);
    else
        v = yy + 2.017232 * (U - 128);
    v = v < 0 ? 0 : (v > 255 ? 255 : v);
    return rint(v) / 255.0;
}

static void test_image_to_tensor_random(void **state)
{
    env *e = need_gpu(state);
    int w = 1920, h = 1080, s = 96, cw = w / 2, ch = h / 2;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    /* padded strides, as decoders produce */
    int ys = w + 32, cs = cw + 16;
    uint8_t *buf = malloc((size_t)ys * h + 2 * (size_t)(2 * cs) * ch);
    assert_non_null(buf);
    for (size_t i = 0; i < (size_t)ys * h + 2 * (size_t)(2 * cs) * ch; i++)
        buf[i] = (uint8_t)(ft_test_rng_u64(&e->rng) >> 56);
    void *y;
    assert_int_equal(e->gpu->ops->alloc(e->gpu, (size_t)3 * s * s * 4, FT_NN_MEM_ACT, &y), FT_OK);
    float *out = malloc((size_t)3 * s * s * 4);
    double *wx = malloc(64 * sizeof(double)), *wy = malloc(64 * sizeof(double));
    assert_non_null(out);
    for (int fmt = 0; fmt < 2; fmt++) {
        uint8_t *c0 = buf + (size_t)ys * h;
        ft_image img = {.width = w,
                        .height = h,
                        .format = fmt ? FT_PIX_NV12 : FT_PIX_YUV420P,
                        .data = {buf, c0, fmt ? NULL : c0 + (size_t)cs * ch},
                        .stride = {ys, fmt ? 2 * cs : cs, fmt ? 0 : cs}};
        e->gpu->ops->image_to_tensor(e->gpu, &img, s, s, mean, sd, y);
        assert_int_equal(e->gpu->ops->download(e->gpu, out, y, (size_t)3 * s * s * 4), FT_OK);
        double num = 0, den = 0;
        for (int oy = 0; oy < s; oy += 5)
            for (int ox = 0; ox < s; ox += 3) {
                int nx = ref_taps(ox, w, s, wx), ny = ref_taps(oy, h, s, wy);
                int x0 = (int)floor((ox + 0.5) * w / s - (double)w / s + 0.5);
                int y0 = (int)floor((oy + 0.5) * h / s - (double)h / s + 0.5);
                x0 = x0 < 0 ? 0 : x0;
                y0 = y0 < 0 ? 0 : y0;
                for (int c = 0; c < 3; c++) {
                    double acc = 0;
                    for (int j = 0; j < ny; j++)
                        for (int i = 0; i < nx; i++)
                            acc += wy[j] * wx[i] * ref_rgb(&img, x0 + i, y0 + j, c);
                    double ref = (acc - mean[c]) / sd[c];
                    double d = out[(size_t)c * s * s + (size_t)oy * s + ox] - ref;
                    num += d * d;
                    den += ref * ref;
                }
            }
        double err = sqrt(num / den);
        print_message("image_to_tensor %s 1080p->96: normalised error %.3g\n",
                      fmt ? "NV12" : "YUV420P", err);
        assert_true(err < 1e-4);
    }
    e->gpu->ops->free(e->gpu, y);
    free(out);
    free(wx);
    free(wy);
    free(buf);
}

/* ---- failures ---- */

static void test_errors(void **state)
{
    env *e = *state;
    ft_nn_backend *be = NULL;
    ft_nn_backend_params bad = {.device = "cuda:x"};
    assert_int_equal(ft_nn_backend_create(&bad, &be), FT_ERR_CONFIG);
    assert_null(be);
    /* auto: the GPU when there is one, else the CPU */
    ft_nn_backend_params autop = {.device = "auto"};
    assert_int_equal(ft_nn_backend_create(&autop, &be), FT_OK);
    assert_string_equal(be->ops->name, e->gpu ? "cuda" : "cpu");
    ft_nn_backend_destroy(&be);
    if (!e->gpu) {
        /* no GPU: asking for one is a GPU error (exit 5) */
        ft_nn_backend_params p = {.device = "cuda"};
        assert_int_equal(ft_nn_backend_create(&p, &be), FT_ERR_GPU);
        assert_null(be);
        return;
    }
    ft_nn_backend_params far = {.device = "cuda:255"};
    assert_int_equal(ft_nn_backend_create(&far, &be), FT_ERR_GPU);
    /* an allocation no GPU can satisfy reports out-of-memory */
    void *p = NULL;
    assert_int_equal(e->gpu->ops->alloc(e->gpu, (size_t)1 << 50, FT_NN_MEM_ACT, &p),
                     FT_ERR_GPU_OOM);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_msda),
        cmocka_unit_test(test_im2col),
        cmocka_unit_test(test_small_ops),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_graph_replay),
        cmocka_unit_test(test_chains),
        cmocka_unit_test(test_weight_copies_follow_memory),
        cmocka_unit_test(test_chains_attention_im2col),
        cmocka_unit_test(test_chains_add_msda),
        cmocka_unit_test(test_image_to_tensor),
        cmocka_unit_test(test_image_to_tensor_random),
    };
    /* FT_TEST_FILTER=<name>: run one test (gpu-check's racecheck pass) */
    const char *filter = getenv("FT_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, setup, teardown);
}
