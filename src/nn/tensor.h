/* Tensor descriptors. A tensor describes memory (type, shape, strides, name);
 * it never owns that memory. Whoever made the memory (a weights file mapping,
 * an arena, a caller's buffer) keeps it alive for as long as the descriptor is
 * used. This keeps descriptors cheap to copy and lets one buffer back many
 * views, as in ggml. */
#ifndef FT_NN_TENSOR_H
#define FT_NN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define FT_NN_MAX_DIMS 8

/* Element types. The numbers are stable (they may appear in logs). Boolean
 * storages load as U8 (0 or 1). */
typedef enum ft_nn_dtype {
    FT_NN_F32 = 0,
    FT_NN_F16 = 1,
    FT_NN_BF16 = 2,
    FT_NN_I64 = 3,
    FT_NN_I32 = 4,
    FT_NN_U8 = 5,
} ft_nn_dtype;

typedef struct ft_nn_tensor {
    ft_nn_dtype dtype;
    int ndim;                        /* 0 (a scalar) .. FT_NN_MAX_DIMS */
    int64_t shape[FT_NN_MAX_DIMS];   /* entries past ndim are 1 */
    int64_t strides[FT_NN_MAX_DIMS]; /* in elements, not bytes; past ndim 0 */
    void *data;                      /* borrowed: first element */
    const char *name;                /* borrowed; may be NULL */
} ft_nn_tensor;

/* Bytes per element of a dtype (1, 2, 4 or 8). */
size_t ft_nn_dtype_size(ft_nn_dtype dt);

/* Short lower-case name of a dtype ("f32", "f16", "bf16", "i64", "i32", "u8"). */
const char *ft_nn_dtype_name(ft_nn_dtype dt);

/* Whether dt is a floating type (f32, f16, bf16). */
bool ft_nn_dtype_is_float(ft_nn_dtype dt);

/* Fill *t as a contiguous row-major tensor over `data` (borrowed) with the
 * given shape (ndim entries, copied); name is borrowed and may be NULL.
 * Asserts ndim is in range and every dimension is >= 0. */
void ft_nn_tensor_init(ft_nn_tensor *t, ft_nn_dtype dt, int ndim, const int64_t *shape, void *data,
                       const char *name);

/* Number of elements (product of the shape; 1 for a scalar). */
int64_t ft_nn_tensor_numel(const ft_nn_tensor *t);

/* Bytes covered by a contiguous tensor: numel * dtype size. */
size_t ft_nn_tensor_nbytes(const ft_nn_tensor *t);

/* Whether the strides are the row-major strides of the shape (size-1
 * dimensions may have any stride). */
bool ft_nn_tensor_is_contiguous(const ft_nn_tensor *t);

/* Whether t has exactly ndim dimensions equal to dims[0..ndim). A dims entry
 * of -1 matches any size. */
bool ft_nn_tensor_has_shape(const ft_nn_tensor *t, int ndim, const int64_t *dims);

/* Write the shape as "[a,b,c]" into buf (always NUL-terminated, truncated to
 * size). Returns buf, so it can be used inside a printf argument list. */
const char *ft_nn_tensor_shape_str(const ft_nn_tensor *t, char *buf, size_t size);

/* Copy any floating tensor (f32, f16 or bf16, contiguous or strided) into dst
 * as contiguous row-major f32. dst (borrowed) must hold `capacity` floats.
 * FT_ERR_INVALID if the dtype is not floating or capacity < numel. */
FT_NODISCARD ft_status ft_nn_tensor_to_f32(const ft_nn_tensor *t, float *dst, size_t capacity);

/* Element conversions between buffers (borrowed, must not overlap). The f16
 * ones use F16C instructions when the build targets a CPU that has them and a
 * bit-exact portable path otherwise; f32 -> f16/bf16 rounds to nearest even
 * and keeps NaN a NaN. */
void ft_nn_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void ft_nn_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void ft_nn_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void ft_nn_f32_to_bf16(const float *src, uint16_t *dst, size_t n);

/* Single-value forms of the conversions above (portable, for tests and
 * scalar tails). */
float ft_nn_f16_to_f32_1(uint16_t h);
uint16_t ft_nn_f32_to_f16_1(float f);

#endif
