/* The compute backend interface: one const table of functions that the CPU
 * and the CUDA backends implement. Model code (src/detect/rfdetr*.c) runs its
 * whole forward pass through this table and never #ifdefs a backend.
 *
 * Memory model. Backend memory is reached through plain pointers returned by
 * `alloc`: host pointers for the CPU backend, device pointers for CUDA. Model
 * code may do pointer arithmetic on them (sub-views of one allocation) but
 * never dereferences them; data crosses the boundary only through `upload`
 * and `download`. Activations are f32, row-major. Index tensors are int32.
 *
 * Weights are uploaded once as f32 into memory allocated with
 * FT_NN_MEM_WEIGHT. A backend may keep a private copy in another precision
 * (the CUDA backend keeps f16 shadows for tensor-core GEMMs); a pointer into a
 * weight allocation passed to `linear` identifies that weight.
 *
 * Execution model. Operators are enqueued in order on one stream and may run
 * asynchronously; `sync` waits for all of them and reports the first error.
 * Operators never fail for arguments the model validated at plan time, so
 * they return nothing; a backend records a runtime failure and returns it from
 * `run`/`sync`. `run` wraps one forward pass: the CPU backend just calls the
 * recorder; the CUDA backend may capture the recorded sequence into a CUDA
 * graph on the first call and replay it afterwards (all pointers are fixed
 * per input size, so replay is valid), unless FT_NN_RUN_EAGER is given.
 *
 * Layouts. A "matrix" is rows x cols with a row stride `ld` (in floats) that
 * may exceed cols, so column slices of a wider buffer (q|k|v of a fused
 * projection, one tap of a channel concat) are passed without copies. */
#ifndef FT_NN_BACKEND_H
#define FT_NN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

typedef struct ft_nn_backend ft_nn_backend;

/* Activation fused into linear and layernorm outputs. */
typedef enum ft_nn_act {
    FT_NN_ACT_NONE = 0,
    FT_NN_ACT_RELU,
    FT_NN_ACT_GELU, /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
    FT_NN_ACT_SILU, /* x * sigmoid(x) */
} ft_nn_act;

/* Where an allocation lives. */
typedef enum ft_nn_mem {
    FT_NN_MEM_ACT = 0, /* activations and scratch, written by operators */
    FT_NN_MEM_WEIGHT,  /* uploaded once, read-only afterwards */
} ft_nn_mem;

/* y = res + scale ⊙ act(x · wᵀ + bias), row by row.
 * x: m x k (ldx), w: n x k (row stride k, PyTorch Linear layout), bias: n or
 * NULL, res: m x n (ldres) or NULL, scale: n or NULL (layer-scale; only with
 * res), y: m x n (ldy). y may alias res (in-place residual), never x. */
typedef struct ft_nn_linear_args {
    int m, n, k;
    const float *x;
    int ldx;
    const float *w;
    const float *bias;
    ft_nn_act act;
    const float *res;
    int ldres;
    const float *scale;
    float *y;
    int ldy;
} ft_nn_linear_args;

/* Multi-head scaled-dot-product attention over `batch` independent sequences
 * (windows): for sequence b and head h, rows [b*lq, (b+1)*lq) of q attend to
 * rows [b*lk, (b+1)*lk) of k and v; head h uses columns [h*dh, (h+1)*dh) of
 * q, k, v and out. out = softmax(q kᵀ · scale) v. out must not alias q/k/v. */
typedef struct ft_nn_attention_args {
    int batch, lq, lk, heads, dh;
    float scale;
    const float *q;
    int ldq;
    const float *k;
    int ldk;
    const float *v;
    int ldv;
    float *out;
    int ldo;
} ft_nn_attention_args;

/* Multi-scale deformable attention (Deformable-DETR) with box references,
 * fused with the softmax of the attention weights, for `batch` frames (0
 * means 1) of nq queries each: query rows [b*nq, (b+1)*nq) of ref, offsets,
 * logits and out sample frame b's value, which starts b*frame_rows rows
 * into `value` (level_start counts within a frame).
 * value: sum(level h*w) x (heads*dh), levels stacked row-major, level l starting
 *   at row level_start[l] with shape level_hw[2l] (h) x level_hw[2l+1] (w).
 * ref: nq x 4 (cx, cy, w, h) normalised to [0,1].
 * offsets: nq x (heads*levels*points*2) as [head][level][point][x,y], ldoff.
 * logits: nq x (heads*levels*points) as [head][level*point] (pre-softmax), ldlog.
 * location = ref_xy + offset / points * ref_wh * 0.5; sampling is bilinear with
 * zero padding, align_corners=False (pixel = loc * size - 0.5).
 * out: nq x (heads*dh) (ldo). */
#define FT_NN_MSDA_MAX_LEVELS 4
typedef struct ft_nn_msda_args {
    int nq, heads, dh, levels, points;
    int batch, frame_rows;
    int level_hw[2 * FT_NN_MSDA_MAX_LEVELS];
    int level_start[FT_NN_MSDA_MAX_LEVELS];
    const float *value;
    const float *ref;
    const float *offsets;
    int ldoff;
    const float *logits;
    int ldlog;
    float *out;
    int ldo;
} ft_nn_msda_args;

/* Image-to-columns for convolutions as GEMM: y row (oy*wo + ox) holds the
 * c*kh*kw inputs of that output pixel in (channel, ky, kx) order, so a PyTorch
 * conv weight [o][c][kh][kw] is the n x k matrix of `linear`. Out-of-image
 * taps read 0. Input is CHW (an NCHW image) or HWC (a row-major token map). */
typedef enum ft_nn_layout { FT_NN_CHW = 0, FT_NN_HWC } ft_nn_layout;
typedef struct ft_nn_im2col_args {
    ft_nn_layout layout;
    int c, h, w, k, stride, pad;
    const float *x;
    float *y;  /* (ho*wo) x (c*k*k), ho = (h + 2 pad - k) / stride + 1 */
    int batch; /* images (0 means 1): image b at x + b*c*h*w, its rows from y row b*ho*wo */
} ft_nn_im2col_args;

/* Flags of `run`. */
enum {
    FT_NN_RUN_EAGER = 1 << 0, /* execute op by op (no graph capture): debug taps need it */
};

/* Records one forward pass by calling operators on `be`. */
typedef void (*ft_nn_record_fn)(ft_nn_backend *be, void *user);

typedef struct ft_nn_backend_ops {
    const char *name; /* "cpu", "cuda" */
    /* Free the backend object itself (called by ft_nn_backend_destroy). */
    void (*destroy)(ft_nn_backend *be);

    /* ---- memory ---- */
    /* Allocate `bytes` (64-byte aligned) of backend memory into *ptr. */
    FT_NODISCARD ft_status (*alloc)(ft_nn_backend *be, size_t bytes, ft_nn_mem kind, void **ptr);
    /* Free an allocation (NULL allowed). */
    void (*free)(ft_nn_backend *be, void *ptr);
    /* Copy host -> backend (dst backend pointer, src borrowed host memory). */
    void (*upload)(ft_nn_backend *be, void *dst, const void *src, size_t bytes);
    /* Copy backend -> host; completes before returning (synchronises). */
    FT_NODISCARD ft_status (*download)(ft_nn_backend *be, void *dst, const void *src, size_t bytes);

    /* ---- execution ---- */
    /* Run one forward pass recorded by fn(be, user); flags FT_NN_RUN_*. */
    FT_NODISCARD ft_status (*run)(ft_nn_backend *be, ft_nn_record_fn fn, void *user, int flags);
    /* Wait for all enqueued work; the first error since the last sync. */
    FT_NODISCARD ft_status (*sync)(ft_nn_backend *be);

    /* ---- operators (all pointers are backend memory) ---- */
    void (*linear)(ft_nn_backend *be, const ft_nn_linear_args *a);
    /* Row-wise LayerNorm over the last dim: y = act((x - mean) / sqrt(var + eps)
     * * gamma + beta) for m rows of n; x and y strides ldx/ldy; y may alias x.
     * On an HWC map this is the channel LayerNorm2d of ConvNeXt-style blocks. */
    void (*layernorm)(ft_nn_backend *be, int m, int n, const float *x, int ldx, const float *gamma,
                      const float *beta, float eps, ft_nn_act act, float *y, int ldy);
    void (*attention)(ft_nn_backend *be, const ft_nn_attention_args *a);
    void (*msda)(ft_nn_backend *be, const ft_nn_msda_args *a);
    void (*im2col)(ft_nn_backend *be, const ft_nn_im2col_args *a);
    /* y = a + b over n floats (y may alias a or b). */
    void (*add)(ft_nn_backend *be, int n, const float *a, const float *b, float *y);
    /* Row gather: y row i = x row idx[i] (cols floats each), or zeros where
     * idx[i] < 0. idx is int32 backend memory of `rows` entries. */
    void (*gather_rows)(ft_nn_backend *be, int rows, int cols, const float *x, int ldx,
                        const int32_t *idx, float *y, int ldy);
    /* Row maximum: y[i] = max_j x[i][j] for m rows of n (ldx). */
    void (*rowmax)(ft_nn_backend *be, int m, int n, const float *x, int ldx, float *y);
    /* For each of `batch` rows of n values (x row b = x[b*n .. (b+1)*n)): the
     * k largest, sorted by descending value, ties keeping the lower index
     * first (the order torch.topk gives on CPU), into idx/val[b*k ..
     * (b+1)*k). Indices are into x as a whole (b*n + i), so one gather_rows
     * takes every row's selection. */
    void (*topk)(ft_nn_backend *be, int batch, int n, int k, const float *x, int32_t *idx,
                 float *val);
    /* Box reparametrisation of RF-DETR (bbox_reparam) for m boxes (cx,cy,w,h):
     * y_xy = d_xy * r_wh + r_xy, y_wh = exp(d_wh) * r_wh. d has row stride ldd;
     * r and y are m x 4 contiguous. If ridx is non-NULL, reference row i is
     * r[ridx[i]] (a fused gather). */
    void (*box_refine)(ft_nn_backend *be, int m, const float *d, int ldd, const float *r,
                       const int32_t *ridx, float *y);
    /* Sine embedding of m boxes: y row i = [emb(cy), emb(cx), emb(w), emb(h)],
     * emb(v)[2j] = sin(v * 2π / T^(2j/d)), emb(v)[2j+1] = cos(same), j < d/2,
     * T = 10000, d = `dim` per coordinate (y is m x 4*dim). */
    void (*sine_embed)(ft_nn_backend *be, int m, int dim, const float *box, float *y);

    /* ---- optional (NULL when a backend does not provide it) ---- */
    /* Model input from a decoded frame (borrowed; YUV420P or NV12, copied
     * before return): antialiased bilinear resize to out_w x out_h as
     * torchvision's antialias=True, RGB / 255, (v - mean) / std, written as
     * 3 x out_h x out_w floats (CHW) at y. Lets the CUDA backend convert on
     * the GPU after one upload of the 8-bit planes, or (CUDA, device 0) reads
     * the frame's device view (ft_image.dev_data) in place, without an upload;
     * the device planes must then stay valid until the backend's next sync. */
    void (*image_to_tensor)(ft_nn_backend *be, const ft_image *frame, int out_w, int out_h,
                            const float mean[3], const float std[3], float *y);
} ft_nn_backend_ops;

/* Base of every backend object; implementations embed it first. */
struct ft_nn_backend {
    const ft_nn_backend_ops *ops;
};

typedef struct ft_nn_backend_params {
    const char *device; /* "cpu", "cuda[:N]" or "auto" (CUDA if usable, else CPU) (borrowed);
                           NULL means "cpu" */
    int threads;        /* CPU worker threads; 0 = FT_THREADS, OMP_NUM_THREADS or all cores */
} ft_nn_backend_params;

/* Create the backend named by params->device. *out is returned-owned.
 * FT_ERR_CONFIG for an unknown device name; FT_ERR_GPU when CUDA is asked for
 * but not built or no GPU is usable. */
FT_NODISCARD ft_status ft_nn_backend_create(const ft_nn_backend_params *params,
                                            ft_nn_backend **out);

/* Destroy a backend (NULL allowed; sets *be to NULL). Memory it allocated must
 * have been freed first. */
void ft_nn_backend_destroy(ft_nn_backend **be);

/* The topk op on host memory (x, idx and val borrowed): the CPU backend's op,
 * and the way to rank results already downloaded to the host. k is clamped to
 * n; idx and val receive k entries in the op's order. */
void ft_nn_host_topk(int n, int k, const float *x, int32_t *idx, float *val);

/* Constructors of the individual backends, used by ft_nn_backend_create. */
FT_NODISCARD ft_status ft_nn_cpu_backend_create(const ft_nn_backend_params *params,
                                                ft_nn_backend **out);
/* Defined by src/nn/cuda/ when the build defines FT_HAVE_CUDA (CMake sets it
 * on ft_nn when FT_CUDA is on); ft_nn_backend_create reports FT_ERR_GPU
 * otherwise. */
FT_NODISCARD ft_status ft_nn_cuda_backend_create(const ft_nn_backend_params *params,
                                                 ft_nn_backend **out);

#endif
