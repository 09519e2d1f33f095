/* Internal to the CUDA backend: the kernel launchers of the .cu files beside it,
 * callable from C. Every pointer is device memory and borrowed; every launcher
 * enqueues on `stream` and returns the launch error (cudaSuccess = 0) without
 * synchronising. Shapes are validated by the backend before the call. */
#ifndef FT_NN_CUDA_KERNELS_H
#define FT_NN_CUDA_KERNELS_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "nn/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (m x n, contiguous, f16) = x (m x n, row stride ldx, f32) rounded. */
cudaError_t ft_cuda_f32_to_f16(int m, int n, const float *x, int ldx, void *y, cudaStream_t stream);

/* y = res + scale ⊙ act(t + bias) elementwise over m x n; every optional
 * operand may be NULL; y may alias t or res. y16 (NULL for none) receives an
 * f16 copy of y, m x n contiguous, for the next GEMM. */
cudaError_t ft_cuda_epilogue(int m, int n, const float *t, int ldt, const float *bias,
                             ft_nn_act act, const float *res, int ldres, const float *scale,
                             float *y, int ldy, void *y16, cudaStream_t stream);

/* w2[i][j] = w[i][j] * (scale ? scale[i] : 1) for an n x k weight, stored as
 * f16; b_out[i] = bias[i] * scale[i] when bias, scale and b_out are given. */
cudaError_t ft_cuda_weight_prepare(int n, int k, const float *w, const float *scale, void *w2,
                                   const float *bias, float *b_out, cudaStream_t stream);

/* Row-wise LayerNorm (+ activation); y16 as in ft_cuda_epilogue. */
cudaError_t ft_cuda_layernorm(int m, int n, const float *x, int ldx, const float *gamma,
                              const float *beta, float eps, ft_nn_act act, float *y, int ldy,
                              void *y16, cudaStream_t stream);

/* Attention on tensor cores (f16 operands, f32 accumulation and softmax) when
 * fp16 is non-zero and dh is 32 or 64; an exact f32 kernel otherwise. out16
 * (NULL for none) receives an f16 copy of out, (batch*lq) x (heads*dh)
 * contiguous, from the tensor-core path only. */
cudaError_t ft_cuda_attention(const ft_nn_attention_args *a, int fp16, void *out16,
                              cudaStream_t stream);
/* Whether ft_cuda_attention takes the tensor-core path (and fills out16). */
int ft_cuda_attention_fast(const ft_nn_attention_args *a, int fp16);

/* One thread busy-waiting ns nanoseconds on the stream (profiling). */
cudaError_t ft_cuda_spin(unsigned long long ns, cudaStream_t stream);

/* out16 as y16 in ft_cuda_epilogue: (batch*nq) x (heads*dh) contiguous. */
cudaError_t ft_cuda_msda(const ft_nn_msda_args *a, void *out16, cudaStream_t stream);
/* im2col; y16 as in ft_cuda_epilogue (the rows are contiguous already). */
cudaError_t ft_cuda_im2col(const ft_nn_im2col_args *a, void *y16, cudaStream_t stream);
/* y = a + b over n floats; y16 (NULL for none) receives their f16 copy. */
cudaError_t ft_cuda_add(int n, const float *a, const float *b, float *y, void *y16,
                        cudaStream_t stream);
cudaError_t ft_cuda_gather_rows(int rows, int cols, const float *x, int ldx, const int32_t *idx,
                                float *y, int ldy, cudaStream_t stream);
cudaError_t ft_cuda_rowmax(int m, int n, const float *x, int ldx, float *y, cudaStream_t stream);
/* k <= FT_CUDA_TOPK_MAX; one block per row of n values. */
#define FT_CUDA_TOPK_MAX 1024
cudaError_t ft_cuda_topk(int batch, int n, int k, const float *x, int32_t *idx, float *val,
                         cudaStream_t stream);
cudaError_t ft_cuda_box_refine(int m, const float *d, int ldd, const float *r, const int32_t *ridx,
                               float *y, cudaStream_t stream);
cudaError_t ft_cuda_sine_embed(int m, int dim, const float *box, float *y, cudaStream_t stream);

/* Pre-processing of one frame already on the device (planes as in the
 * frame's ft_pixfmt, YUV420P or NV12, BT.601 limited range): antialiased
 * bilinear resize to out_w x out_h (PIL / torchvision antialias=True
 * weights), RGB scaled to [0,1], then (v - mean) / std, written as CHW f32. */
typedef struct ft_cuda_frame {
    int width, height;
    int nv12; /* 0: YUV420P (y, u, v planes), 1: NV12 (y plane, interleaved uv) */
    const uint8_t *plane[3];
    int stride[3];
} ft_cuda_frame;
cudaError_t ft_cuda_preprocess(const ft_cuda_frame *f, int out_w, int out_h, const float mean[3],
                               const float std[3], float *y, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
