/* Tensor descriptors, dtype conversions (every f16 value, rounding edge
 * cases, vector path against the scalar one) and the activation arena. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ft_test_rng.h"
#include "nn/arena.h"
#include "nn/tensor.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(ft_nn_dtype_size(FT_NN_F32), 4);
    assert_int_equal(ft_nn_dtype_size(FT_NN_F16), 2);
    assert_int_equal(ft_nn_dtype_size(FT_NN_BF16), 2);
    assert_int_equal(ft_nn_dtype_size(FT_NN_I64), 8);
    assert_int_equal(ft_nn_dtype_size(FT_NN_I32), 4);
    assert_int_equal(ft_nn_dtype_size(FT_NN_U8), 1);
    assert_string_equal(ft_nn_dtype_name(FT_NN_BF16), "bf16");
    assert_true(ft_nn_dtype_is_float(FT_NN_F16));
    assert_false(ft_nn_dtype_is_float(FT_NN_I64));

    float buf[24];
    ft_nn_tensor t;
    ft_nn_tensor_init(&t, FT_NN_F32, 3, (const int64_t[]){2, 3, 4}, buf, "x");
    assert_int_equal(t.ndim, 3);
    assert_int_equal(t.strides[0], 12);
    assert_int_equal(t.strides[1], 4);
    assert_int_equal(t.strides[2], 1);
    assert_int_equal(t.shape[5], 1); /* unused dimensions are 1 */
    assert_int_equal(ft_nn_tensor_numel(&t), 24);
    assert_int_equal(ft_nn_tensor_nbytes(&t), 96);
    assert_true(ft_nn_tensor_is_contiguous(&t));
    assert_true(ft_nn_tensor_has_shape(&t, 3, (const int64_t[]){2, -1, 4}));
    assert_false(ft_nn_tensor_has_shape(&t, 3, (const int64_t[]){2, 4, 3}));
    assert_false(ft_nn_tensor_has_shape(&t, 2, (const int64_t[]){2, 3}));
    char s[32];
    assert_string_equal(ft_nn_tensor_shape_str(&t, s, sizeof(s)), "[2,3,4]");
    assert_string_equal(ft_nn_tensor_shape_str(&t, s, 4), "[2,"); /* truncated, terminated */

    ft_nn_tensor scalar;
    ft_nn_tensor_init(&scalar, FT_NN_I32, 0, NULL, buf, NULL);
    assert_int_equal(ft_nn_tensor_numel(&scalar), 1);
    assert_string_equal(ft_nn_tensor_shape_str(&scalar, s, sizeof(s)), "[]");

    /* A transposed view is not contiguous. */
    ft_nn_tensor v = t;
    v.shape[1] = 4;
    v.shape[2] = 3;
    v.strides[1] = 1;
    v.strides[2] = 4;
    assert_false(ft_nn_tensor_is_contiguous(&v));
}

/* Every half value converts exactly and converts back to itself; the bulk
 * (F16C when built for it) and scalar paths agree bit for bit. */
static void test_f16_all_values(void **state)
{
    (void)state;
    static uint16_t h[65536], back[65536];
    static float f[65536];
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    ft_nn_f16_to_f32(h, f, 65536);
    ft_nn_f32_to_f16(f, back, 65536);
    for (uint32_t i = 0; i < 65536; i++) {
        float s = ft_nn_f16_to_f32_1((uint16_t)i);
        bool nan = ((i >> 10) & 0x1f) == 0x1f && (i & 0x3ff);
        if (nan) {
            assert_true(isnan(f[i]) && isnan(s));
            assert_true(((back[i] >> 10) & 0x1f) == 0x1f && (back[i] & 0x3ff));
            continue;
        }
        assert_int_equal(bits_of(f[i]), bits_of(s));
        assert_int_equal(back[i], i);
        assert_int_equal(ft_nn_f32_to_f16_1(s), i);
    }
    assert_true(ft_nn_f16_to_f32_1(0x3c00) == 1.0f);
    assert_true(ft_nn_f16_to_f32_1(0xc000) == -2.0f);
    assert_true(ft_nn_f16_to_f32_1(0x7bff) == 65504.0f);
    assert_true(ft_nn_f16_to_f32_1(0x0001) == ldexpf(1, -24));
    assert_true(ft_nn_f16_to_f32_1(0x03ff) == ldexpf(1023, -24));
    assert_true(isinf(ft_nn_f16_to_f32_1(0xfc00)) && ft_nn_f16_to_f32_1(0xfc00) < 0);
}

static void test_f16_rounding(void **state)
{
    (void)state;
    /* Halfway cases round to even; just above rounds up. */
    assert_int_equal(ft_nn_f32_to_f16_1(1.0f + ldexpf(1, -11)), 0x3c00);
    assert_int_equal(ft_nn_f32_to_f16_1(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    assert_int_equal(ft_nn_f32_to_f16_1(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3c01);
    /* Overflow: 65520 is halfway to the next binade and rounds to infinity. */
    assert_int_equal(ft_nn_f32_to_f16_1(65519.0f), 0x7bff);
    assert_int_equal(ft_nn_f32_to_f16_1(65520.0f), 0x7c00);
    assert_int_equal(ft_nn_f32_to_f16_1(-1e10f), 0xfc00);
    /* Subnormals: 2^-25 is halfway between 0 and the smallest subnormal. */
    assert_int_equal(ft_nn_f32_to_f16_1(ldexpf(1, -25)), 0x0000);
    assert_int_equal(ft_nn_f32_to_f16_1(ldexpf(3, -26)), 0x0001);
    assert_int_equal(ft_nn_f32_to_f16_1(ldexpf(3, -25)), 0x0002);
    assert_int_equal(ft_nn_f32_to_f16_1(-ldexpf(1, -30)), 0x8000);
    /* The largest subnormal rounds up into the smallest normal. */
    assert_int_equal(ft_nn_f32_to_f16_1(ldexpf(2047, -25)), 0x0400);
    uint16_t nan = ft_nn_f32_to_f16_1(NAN);
    assert_true((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff));

    /* Random bit patterns: the bulk path matches the scalar one. */
    enum { N = 100003 };
    static float f[N];
    static uint16_t a[N];
    ft_test_rng rng = {42};
    for (int i = 0; i < N; i++)
        f[i] = float_of((uint32_t)ft_test_rng_u64(&rng));
    ft_nn_f32_to_f16(f, a, N);
    for (int i = 0; i < N; i++) {
        uint16_t s = ft_nn_f32_to_f16_1(f[i]);
        if (isnan(f[i]))
            assert_true((a[i] & 0x7c00) == 0x7c00 && (a[i] & 0x3ff));
        else
            assert_int_equal(a[i], s);
    }
}

static void test_bf16(void **state)
{
    (void)state;
    const float in[] = {1.0f, -2.5f, 1.0f + ldexpf(1, -8), 1.0f + 3 * ldexpf(1, -8), NAN, INFINITY};
    uint16_t h[6];
    float out[6];
    ft_nn_f32_to_bf16(in, h, 6);
    assert_int_equal(h[0], 0x3f80);
    assert_int_equal(h[1], 0xc020);
    assert_int_equal(h[2], 0x3f80); /* halfway, rounds to even */
    assert_int_equal(h[3], 0x3f82); /* halfway, rounds to even (up) */
    assert_true((h[4] & 0x7f80) == 0x7f80 && (h[4] & 0x7f));
    assert_int_equal(h[5], 0x7f80);
    ft_nn_bf16_to_f32(h, out, 6);
    assert_true(out[0] == 1.0f && out[1] == -2.5f && isnan(out[4]) && isinf(out[5]));
}

static void test_to_f32(void **state)
{
    (void)state;
    /* A 2x3 f16 matrix viewed transposed (3x2, strides 1,3). */
    uint16_t h[6];
    const float vals[6] = {0, 1, 2, 3, 4, 5};
    ft_nn_f32_to_f16(vals, h, 6);
    ft_nn_tensor t;
    ft_nn_tensor_init(&t, FT_NN_F16, 2, (const int64_t[]){3, 2}, h, "t");
    t.strides[0] = 1;
    t.strides[1] = 3;
    float out[6];
    assert_int_equal(ft_nn_tensor_to_f32(&t, out, 6), FT_OK);
    const float want[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(ft_nn_tensor_to_f32(&t, out, 5), FT_ERR_INVALID);
    int32_t iv[2] = {1, 2};
    ft_nn_tensor ti;
    ft_nn_tensor_init(&ti, FT_NN_I32, 1, (const int64_t[]){2}, iv, NULL);
    assert_int_equal(ft_nn_tensor_to_f32(&ti, out, 6), FT_ERR_INVALID);
    /* bf16 contiguous */
    uint16_t b[2] = {0x3f80, 0x4000};
    ft_nn_tensor tb;
    ft_nn_tensor_init(&tb, FT_NN_BF16, 1, (const int64_t[]){2}, b, NULL);
    assert_int_equal(ft_nn_tensor_to_f32(&tb, out, 2), FT_OK);
    assert_true(out[0] == 1.0f && out[1] == 2.0f);
}

/* The arena: offsets aligned, released space reused, the block sized to the
 * peak, kept when a later plan fits, grown when it does not. */
static void test_arena(void **state)
{
    (void)state;
    ft_nn_arena *a = NULL;
    assert_int_equal(ft_nn_arena_create(NULL, &a), FT_OK);
    size_t x = ft_nn_arena_plan(a, 100);
    size_t m = ft_nn_arena_mark(a);
    size_t s1 = ft_nn_arena_plan(a, 1000);
    ft_nn_arena_release(a, m);
    size_t s2 = ft_nn_arena_plan(a, 500); /* reuses s1's space */
    size_t y = ft_nn_arena_plan(a, 10);
    assert_int_equal(x, 0);
    assert_int_equal(s1, 128);
    assert_int_equal(s2, 128);
    assert_int_equal(y % FT_NN_ARENA_ALIGN, 0);
    assert_int_equal(ft_nn_arena_peak(a), 128 + 1024);
    assert_int_equal(ft_nn_arena_commit(a), FT_OK);
    assert_int_equal(ft_nn_arena_capacity(a), 128 + 1024);
    char *base = ft_nn_arena_at(a, 0);
    assert_int_equal((uintptr_t)base % FT_NN_ARENA_ALIGN, 0);
    assert_ptr_equal(ft_nn_arena_at(a, s2), base + 128);
    memset(ft_nn_arena_at(a, y), 0xab, 10); /* inside the block (ASan checks) */

    /* A smaller plan keeps the block; a larger one replaces it. */
    ft_nn_arena_plan_reset(a);
    (void)ft_nn_arena_plan(a, 64);
    assert_int_equal(ft_nn_arena_commit(a), FT_OK);
    assert_ptr_equal(ft_nn_arena_at(a, 0), base);
    ft_nn_arena_plan_reset(a);
    size_t big = ft_nn_arena_plan(a, 1 << 20);
    assert_int_equal(ft_nn_arena_commit(a), FT_OK);
    assert_int_equal(ft_nn_arena_capacity(a), 1 << 20);
    memset(ft_nn_arena_at(a, big), 0, 1 << 20);
    ft_nn_arena_destroy(&a);
    assert_null(a);
    ft_nn_arena_destroy(&a);
}

/* A caller-supplied allocator (as a GPU backend would give) is used. */
static int g_allocs, g_frees;
static void *count_alloc(void *user, size_t n)
{
    (void)user;
    g_allocs++;
    return aligned_alloc(64, (n + 63) & ~(size_t)63);
}
static void count_free(void *user, void *p)
{
    (void)user;
    g_frees++;
    free(p);
}

static void test_arena_custom_alloc(void **state)
{
    (void)state;
    ft_nn_arena_params p = {.alloc = count_alloc, .free = count_free};
    ft_nn_arena *a = NULL;
    assert_int_equal(ft_nn_arena_create(&p, &a), FT_OK);
    (void)ft_nn_arena_plan(a, 4096);
    assert_int_equal(ft_nn_arena_commit(a), FT_OK);
    assert_int_equal(ft_nn_arena_commit(a), FT_OK); /* already big enough */
    ft_nn_arena_destroy(&a);
    assert_int_equal(g_allocs, 1);
    assert_int_equal(g_frees, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_f16_all_values),
        cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_to_f32),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_custom_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
