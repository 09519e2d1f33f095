#include "nn/tensor.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#define FT_HAVE_F16C 1
#endif

size_t ft_nn_dtype_size(ft_nn_dtype dt)
{
    switch (dt) {
    case FT_NN_F32:
        return 4;
    case FT_NN_F16:
        return 2;
    case FT_NN_BF16:
        return 2;
    case FT_NN_I64:
        return 8;
    case FT_NN_I32:
        return 4;
    case FT_NN_U8:
        return 1;
    }
    assert(!"unknown dtype");
    return 0;
}

const char *ft_nn_dtype_name(ft_nn_dtype dt)
{
    switch (dt) {
    case FT_NN_F32:
        return "f32";
    case FT_NN_F16:
        return "f16";
    case FT_NN_BF16:
        return "bf16";
    case FT_NN_I64:
        return "i64";
    case FT_NN_I32:
        return "i32";
    case FT_NN_U8:
        return "u8";
    }
    return "?";
}

bool ft_nn_dtype_is_float(ft_nn_dtype dt)
{
    return dt == FT_NN_F32 || dt == FT_NN_F16 || dt == FT_NN_BF16;
}

void ft_nn_tensor_init(ft_nn_tensor *t, ft_nn_dtype dt, int ndim, const int64_t *shape, void *data,
                       const char *name)
{
    assert(ndim >= 0 && ndim <= FT_NN_MAX_DIMS);
    memset(t, 0, sizeof(*t));
    t->dtype = dt;
    t->ndim = ndim;
    t->data = data;
    t->name = name;
    for (int d = 0; d < FT_NN_MAX_DIMS; d++)
        t->shape[d] = 1;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        assert(shape[d] >= 0);
        t->shape[d] = shape[d];
        t->strides[d] = stride;
        stride *= shape[d];
    }
}

int64_t ft_nn_tensor_numel(const ft_nn_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

size_t ft_nn_tensor_nbytes(const ft_nn_tensor *t)
{
    return (size_t)ft_nn_tensor_numel(t) * ft_nn_dtype_size(t->dtype);
}

bool ft_nn_tensor_is_contiguous(const ft_nn_tensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != expect)
            return false;
        expect *= t->shape[d];
    }
    return true;
}

bool ft_nn_tensor_has_shape(const ft_nn_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim)
        return false;
    for (int d = 0; d < ndim; d++)
        if (dims[d] != -1 && dims[d] != t->shape[d])
            return false;
    return true;
}

const char *ft_nn_tensor_shape_str(const ft_nn_tensor *t, char *buf, size_t size)
{
    if (!size)
        return buf;
    size_t pos = 0;
    buf[0] = '\0';
    int n = snprintf(buf, size, "[");
    pos = n > 0 ? (size_t)n : 0;
    for (int d = 0; d < t->ndim && pos < size; d++) {
        n = snprintf(buf + pos, size - pos, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        if (n < 0)
            break;
        pos += (size_t)n;
    }
    if (pos < size)
        snprintf(buf + pos, size - pos, "]");
    return buf;
}

/* ---- scalar conversions (bit-exact IEEE 754 half <-> single) ---- */

float ft_nn_f16_to_f32_1(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / NaN, payload kept */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal half: normalise the mantissa into a normal single. */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

uint16_t ft_nn_f32_to_f16_1(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) /* inf stays inf; NaN keeps the quiet bit so it stays NaN */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return sign; /* rounds to zero */
        /* Subnormal result: shift the full mantissa (with hidden bit) right,
         * rounding to nearest even on the bits shifted out. */
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    /* A carry out of the mantissa correctly bumps the exponent (up to inf). */
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static float bf16_to_f32_1(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static uint16_t f32_to_bf16_1(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* keep NaN a (quiet) NaN */
    x += 0x7fffu + ((x >> 16) & 1u);          /* round to nearest even */
    return (uint16_t)(x >> 16);
}

/* ---- bulk conversions ---- */

void ft_nn_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
#ifdef FT_HAVE_F16C
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; i++)
        dst[i] = ft_nn_f16_to_f32_1(src[i]);
}

void ft_nn_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
#ifdef FT_HAVE_F16C
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT));
    }
#endif
    for (; i < n; i++)
        dst[i] = ft_nn_f32_to_f16_1(src[i]);
}

/* bf16 is the top half of an f32, so plain loops vectorise well at -O2 with
 * -march=native; no intrinsics needed. */
void ft_nn_bf16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_to_f32_1(src[i]);
}

void ft_nn_f32_to_bf16(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_to_bf16_1(src[i]);
}

/* Convert one contiguous run of n elements of a floating dtype to f32. */
static void convert_run(ft_nn_dtype dt, const void *src, float *dst, size_t n)
{
    switch (dt) {
    case FT_NN_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case FT_NN_F16:
        ft_nn_f16_to_f32(src, dst, n);
        break;
    case FT_NN_BF16:
        ft_nn_bf16_to_f32(src, dst, n);
        break;
    default:
        assert(!"not a float dtype");
    }
}

ft_status ft_nn_tensor_to_f32(const ft_nn_tensor *t, float *dst, size_t capacity)
{
    if (!ft_nn_dtype_is_float(t->dtype))
        return FT_ERR_INVALID;
    int64_t numel = ft_nn_tensor_numel(t);
    if ((uint64_t)numel > capacity)
        return FT_ERR_INVALID;
    if (numel == 0)
        return FT_OK;
    size_t esz = ft_nn_dtype_size(t->dtype);
    if (ft_nn_tensor_is_contiguous(t)) {
        convert_run(t->dtype, t->data, dst, (size_t)numel);
        return FT_OK;
    }
    /* Strided: walk every index but the last with an odometer and convert
     * the innermost dimension one row at a time when it is dense. */
    int nd = t->ndim;
    int64_t inner = nd ? t->shape[nd - 1] : 1;
    int64_t inner_stride = nd ? t->strides[nd - 1] : 1;
    int64_t idx[FT_NN_MAX_DIMS] = {0};
    const uint8_t *base = t->data;
    for (int64_t done = 0; done < numel; done += inner) {
        int64_t off = 0;
        for (int d = 0; d < nd - 1; d++)
            off += idx[d] * t->strides[d];
        if (inner_stride == 1) {
            convert_run(t->dtype, base + (size_t)off * esz, dst + done, (size_t)inner);
        } else {
            for (int64_t k = 0; k < inner; k++)
                convert_run(t->dtype, base + (size_t)(off + k * inner_stride) * esz, dst + done + k,
                            1);
        }
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return FT_OK;
}
