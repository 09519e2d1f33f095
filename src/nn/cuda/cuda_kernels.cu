/* Element-wise, normalisation, layout and selection kernels of the CUDA
 * backend. Activations are f32 (the backend interface's contract); the
 * matrix products that dominate the time run on f16 tensor cores elsewhere
 * (cuBLASLt, attention.cu), so these kernels are memory-bound and are written
 * for coalesced access and one pass over their data. */
#include <cuda_fp16.h>
#include <math.h>

#include "nn/cuda/cuda_kernels.h"

namespace
{

constexpr int kThreads = 256;

/* Grid of a grid-stride kernel: capped, each thread loops over the rest. */
constexpr long long kMaxBlocks = 1048576;
inline unsigned blocks_for(long long n, int threads = kThreads)
{
    long long b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

/* Kernels with one thread (or warp) per item and no loop cover at most
 * kMaxBlocks * kThreads items: their launchers refuse more rather than leave
 * the rest undone. */
inline bool fits_grid(long long n)
{
    return n <= kMaxBlocks * kThreads;
}

__device__ __forceinline__ float act_apply(float v, ft_nn_act act)
{
    switch (act) {
    case FT_NN_ACT_RELU:
        return v > 0.f ? v : 0.f;
    case FT_NN_ACT_GELU:
        return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case FT_NN_ACT_SILU:
        return v / (1.f + expf(-v));
    default:
        return v;
    }
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__global__ void k_f32_to_f16(int m, int n, const float *x, int ldx, __half *y)
{
    long long total = (long long)m * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long r = i / n, c = i - r * n;
        y[i] = __float2half_rn(x[r * ldx + c]);
    }
}

/* Four elements per thread when rows are contiguous and 16-byte aligned: the
 * common case (a whole activation matrix). */
__global__ void k_f32_to_f16_vec4(long long n4, const float4 *x, __half2 *y)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4;
         i += (long long)gridDim.x * blockDim.x) {
        float4 v = x[i];
        y[2 * i] = __floats2half2_rn(v.x, v.y);
        y[2 * i + 1] = __floats2half2_rn(v.z, v.w);
    }
}

__global__ void k_epilogue(int m, int n, const float *t, int ldt, const float *bias, ft_nn_act act,
                           const float *res, int ldres, const float *scale, float *y, int ldy,
                           __half *y16)
{
    long long total = (long long)m * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long r = i / n, c = i - r * n;
        float v = t[r * ldt + c];
        if (bias)
            v += bias[c];
        v = act_apply(v, act);
        if (scale)
            v *= scale[c];
        if (res)
            v += res[r * ldres + c];
        y[r * ldy + c] = v;
        if (y16)
            y16[i] = __float2half_rn(v);
    }
}

/* The activation pass after a GEMM (y = act(y) in place over contiguous
 * rows), four elements per thread and no index arithmetic: the exact-erf
 * GELU after every ViT fc1 (1300 x 1536 per frame). y16 as in k_epilogue. */
__global__ void k_act_vec4(long long n4, float4 *y, ft_nn_act act, __half2 *y16)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4;
         i += (long long)gridDim.x * blockDim.x) {
        float4 v = y[i];
        v.x = act_apply(v.x, act);
        v.y = act_apply(v.y, act);
        v.z = act_apply(v.z, act);
        v.w = act_apply(v.w, act);
        y[i] = v;
        if (y16) {
            y16[2 * i] = __floats2half2_rn(v.x, v.y);
            y16[2 * i + 1] = __floats2half2_rn(v.z, v.w);
        }
    }
}

__global__ void k_weight_prepare(int n, int k, const float *w, const float *scale, __half *w2,
                                 const float *bias, float *b_out)
{
    long long total = (long long)n * k;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long r = i / k;
        float s = scale ? scale[r] : 1.f;
        w2[i] = __float2half_rn(w[i] * s);
        if (scale && bias && b_out && i - r * k == 0)
            b_out[r] = bias[r] * s;
    }
}

/* One warp per row; three passes over the row (mean, centred variance,
 * write) so large activations (DINOv2 has outliers in the hundreds) keep
 * their precision. The row stays in L1 between passes. */
__global__ void k_layernorm(int m, int n, const float *x, int ldx, const float *gamma,
                            const float *beta, float eps, ft_nn_act act, float *y, int ldy,
                            __half *y16)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= m)
        return;
    const float *xr = x + (long long)warp * ldx;
    float *yr = y + (long long)warp * ldy;
    float s = 0.f;
    for (int j = lane; j < n; j += 32)
        s += xr[j];
    float mean = warp_sum(s) / n;
    float v = 0.f;
    for (int j = lane; j < n; j += 32) {
        float d = xr[j] - mean;
        v += d * d;
    }
    float rstd = rsqrtf(warp_sum(v) / n + eps);
    for (int j = lane; j < n; j += 32) {
        float o = (xr[j] - mean) * rstd;
        if (gamma)
            o *= gamma[j];
        if (beta)
            o += beta[j];
        o = act_apply(o, act);
        yr[j] = o;
        if (y16)
            y16[(long long)warp * n + j] = __float2half_rn(o);
    }
}

/* The same with the row held in registers (V floats per lane, n <= 32 V):
 * one read of the row instead of three, the variance still centred. */
template <int V>
__global__ void k_layernorm_reg(int m, int n, const float *x, int ldx, const float *gamma,
                                const float *beta, float eps, ft_nn_act act, float *y, int ldy,
                                __half *y16)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= m)
        return;
    const float *xr = x + (long long)warp * ldx;
    float *yr = y + (long long)warp * ldy;
    float v[V];
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < V; i++) {
        int j = lane + 32 * i;
        v[i] = j < n ? xr[j] : 0.f;
        s += v[i];
    }
    float mean = warp_sum(s) / n;
    float q = 0.f;
#pragma unroll
    for (int i = 0; i < V; i++) {
        float d = lane + 32 * i < n ? v[i] - mean : 0.f;
        q += d * d;
    }
    float rstd = rsqrtf(warp_sum(q) / n + eps);
#pragma unroll
    for (int i = 0; i < V; i++) {
        int j = lane + 32 * i;
        if (j >= n)
            break;
        float o = (v[i] - mean) * rstd;
        if (gamma)
            o *= gamma[j];
        if (beta)
            o += beta[j];
        o = act_apply(o, act);
        yr[j] = o;
        if (y16)
            y16[(long long)warp * n + j] = __float2half_rn(o);
    }
}

/* The same with float4 loads and stores when rows and strides are multiples
 * of 4 floats and 16-byte aligned (every layer norm of RF-DETR): V4 float4
 * per lane, n <= 128 V4; a quarter of the memory instructions. */
template <int V4>
__global__ void k_layernorm_vec4(int m, int n, const float *x, int ldx, const float *gamma,
                                 const float *beta, float eps, ft_nn_act act, float *y, int ldy,
                                 __half *y16)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= m)
        return;
    const float4 *xr = (const float4 *)(x + (long long)warp * ldx);
    float4 *yr = (float4 *)(y + (long long)warp * ldy);
    int n4 = n >> 2;
    float4 v[V4];
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < V4; i++) {
        int j = lane + 32 * i;
        v[i] = j < n4 ? xr[j] : make_float4(0.f, 0.f, 0.f, 0.f);
        s += (v[i].x + v[i].y) + (v[i].z + v[i].w);
    }
    float mean = warp_sum(s) / n;
    float q = 0.f;
#pragma unroll
    for (int i = 0; i < V4; i++) {
        if (lane + 32 * i < n4) {
            float a = v[i].x - mean, b = v[i].y - mean, c = v[i].z - mean, d = v[i].w - mean;
            q += (a * a + b * b) + (c * c + d * d);
        }
    }
    float rstd = rsqrtf(warp_sum(q) / n + eps);
#pragma unroll
    for (int i = 0; i < V4; i++) {
        int j = lane + 32 * i;
        if (j >= n4)
            break;
        float o[4] = {(v[i].x - mean) * rstd, (v[i].y - mean) * rstd, (v[i].z - mean) * rstd,
                      (v[i].w - mean) * rstd};
#pragma unroll
        for (int e = 0; e < 4; e++) {
            /* gamma and beta may sit anywhere in the weights: scalar loads */
            if (gamma)
                o[e] *= gamma[4 * j + e];
            if (beta)
                o[e] += beta[4 * j + e];
            o[e] = act_apply(o[e], act);
        }
        yr[j] = make_float4(o[0], o[1], o[2], o[3]);
        if (y16) {
            __half2 *h = (__half2 *)(y16 + (long long)warp * n) + 2 * j;
            h[0] = __floats2half2_rn(o[0], o[1]);
            h[1] = __floats2half2_rn(o[2], o[3]);
        }
    }
}

/* Busy-waits ns nanoseconds (profiling: keeps the GPU busy while the host
 * enqueues a pass, so event pairs time the operators and not the host). */
__global__ void k_spin(unsigned long long ns)
{
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    while (t - t0 < ns);
}

__global__ void k_add(int n, const float *a, const float *b, float *y, __half *y16)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = a[i] + b[i];
        y[i] = v;
        if (y16)
            y16[i] = __float2half_rn(v);
    }
}

/* One block per output row (the index read once, no per-element division);
 * the rows are the model's tokens: 256-384 floats, or 4 for boxes. */
constexpr int kGatherThreads = 128;
__global__ void k_gather_rows(int rows, int cols, const float *x, int ldx, const int32_t *idx,
                              float *y, int ldy)
{
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        int src = idx[r];
        float *yr = y + (long long)r * ldy;
        const float *xr = x + (long long)(src < 0 ? 0 : src) * ldx;
        for (int c = threadIdx.x; c < cols; c += blockDim.x)
            yr[c] = src < 0 ? 0.f : xr[c];
    }
}

__global__ void k_rowmax(int m, int n, const float *x, int ldx, float *y)
{
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= m)
        return;
    const float *xr = x + (long long)warp * ldx;
    float v = -INFINITY;
    for (int j = lane; j < n; j += 32)
        v = fmaxf(v, xr[j]);
    v = warp_max(v);
    if (lane == 0)
        y[warp] = v;
}

/* One block per output row (pixel, image after image): the pixel's place is
 * worked out once and the block's threads write its c*k*k columns, so only
 * 32-bit divisions by the kernel size remain per element. */
__global__ void k_im2col(ft_nn_im2col_args a, int ho, int wo, __half *y16)
{
    int kk = a.k * a.k, cols = a.c * kk;
    long long per = (long long)ho * wo;
    long long rows = (a.batch > 1 ? a.batch : 1) * per;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        long long img = row / per, pix = row - img * per;
        const float *x = a.x + img * a.c * a.h * a.w;
        int oy = (int)(pix / wo), ox = (int)(pix - (long long)oy * wo);
        int y0 = oy * a.stride - a.pad, x0 = ox * a.stride - a.pad;
        float *yr = a.y + row * cols;
        __half *hr = y16 ? y16 + row * cols : NULL;
        for (int col = threadIdx.x; col < cols; col += blockDim.x) {
            int ch = col / kk, r = col - ch * kk;
            int ky = r / a.k, kx = r - ky * a.k;
            int iy = y0 + ky, ix = x0 + kx;
            float v = 0.f;
            if (iy >= 0 && iy < a.h && ix >= 0 && ix < a.w)
                v = a.layout == FT_NN_CHW ? x[((long long)ch * a.h + iy) * a.w + ix]
                                          : x[((long long)iy * a.w + ix) * a.c + ch];
            yr[col] = v;
            if (hr)
                hr[col] = __float2half_rn(v);
        }
    }
}

__global__ void k_box_refine(int m, const float *d, int ldd, const float *r, const int32_t *ridx,
                             float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= m)
        return;
    const float *dr = d + (long long)i * ldd;
    const float *rr = r + 4LL * (ridx ? ridx[i] : i);
    float o[4];
    o[0] = dr[0] * rr[2] + rr[0];
    o[1] = dr[1] * rr[3] + rr[1];
    o[2] = expf(dr[2]) * rr[2];
    o[3] = expf(dr[3]) * rr[3];
    for (int c = 0; c < 4; c++)
        y[4LL * i + c] = o[c];
}

__global__ void k_sine_embed(int m, int dim, const float *box, float *y)
{
    long long total = (long long)m * 4 * (dim / 2);
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int half = dim / 2;
        long long i = t / (4 * half);
        int rem = (int)(t - i * 4 * half);
        int coord = rem / half, j = rem - coord * half;
        /* output order cy, cx, w, h over the box layout cx, cy, w, h */
        int src = coord == 0 ? 1 : (coord == 1 ? 0 : coord);
        float v = box[4 * i + src];
        /* the frequency in double: 10000^(2j/dim) spans eight decades */
        float f = (float)(6.283185307179586 / pow(10000.0, (double)(2 * j) / dim));
        float a = v * f;
        float *o = y + i * 4 * dim + coord * dim + 2 * j;
        o[0] = sinf(a);
        o[1] = cosf(a);
    }
}

/* Multi-scale deformable attention: one thread per (query, head, channel).
 * The softmax over levels x points is recomputed by each channel's thread:
 * it is a handful of exponentials, cheaper than a shared-memory exchange. */
__global__ void k_msda(ft_nn_msda_args a, __half *out16)
{
    int frames = a.batch > 1 ? a.batch : 1;
    long long total = (long long)frames * a.nq * a.heads * a.dh;
    long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (t >= total)
        return;
    int c = (int)(t % a.dh);
    int h = (int)((t / a.dh) % a.heads);
    int q = (int)(t / ((long long)a.dh * a.heads));
    int lp = a.levels * a.points;
    const float *lg = a.logits + (long long)q * a.ldlog + h * lp;
    const float *off = a.offsets + (long long)q * a.ldoff + h * lp * 2;
    const float *ref = a.ref + 4LL * q;
    int vc = a.heads * a.dh;
    float mx = -INFINITY;
    for (int i = 0; i < lp; i++)
        mx = fmaxf(mx, lg[i]);
    float den = 0.f;
    for (int i = 0; i < lp; i++)
        den += expf(lg[i] - mx);
    float acc = 0.f;
    for (int l = 0; l < a.levels; l++) {
        int H = a.level_hw[2 * l], W = a.level_hw[2 * l + 1];
        const float *val =
            a.value + ((long long)(q / a.nq) * a.frame_rows + a.level_start[l]) * vc + h * a.dh + c;
        for (int p = 0; p < a.points; p++) {
            int i = l * a.points + p;
            float w = expf(lg[i] - mx) / den;
            float lx = ref[0] + off[2 * i] / a.points * ref[2] * 0.5f;
            float ly = ref[1] + off[2 * i + 1] / a.points * ref[3] * 0.5f;
            float px = lx * W - 0.5f, py = ly * H - 0.5f;
            /* all four taps outside, as the CPU skips them: also keeps a far
             * (or NaN) location from overflowing the int tap coordinates */
            if (!(px > -1.f && px < (float)W && py > -1.f && py < (float)H))
                continue;
            float x0f = floorf(px), y0f = floorf(py);
            int x0 = (int)x0f, y0 = (int)y0f;
            float fx = px - x0f, fy = py - y0f;
            float s = 0.f;
            for (int dy = 0; dy < 2; dy++) {
                int yy = y0 + dy;
                if (yy < 0 || yy >= H)
                    continue;
                float wy = dy ? fy : 1.f - fy;
                for (int dx = 0; dx < 2; dx++) {
                    int xx = x0 + dx;
                    if (xx < 0 || xx >= W)
                        continue;
                    float wx = dx ? fx : 1.f - fx;
                    s += wy * wx * val[((long long)yy * W + xx) * vc];
                }
            }
            acc += w * s;
        }
    }
    a.out[(long long)q * a.ldo + h * a.dh + c] = acc;
    if (out16) /* t is the element's index in the contiguous copy */
        out16[t] = __float2half_rn(acc);
}

/* ---- top-k: radix select of the k-th largest key, then a collection and
 * a bitonic sort of the k winners in shared memory. One block handles the
 * whole row (n is at most a few hundred thousand). Every loop over the row
 * runs the same number of iterations in all lanes (warp-wide votes). ---- */
constexpr int kTopkThreads = 1024;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ uint32_t float_key(float f)
{
    /* -0 and +0 compare equal on the CPU (a tie, lower index first): one key */
    uint32_t u = f == 0.f ? 0u : __float_as_uint(f);
    /* order-preserving map of IEEE floats onto unsigned integers */
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Inclusive prefix sum over the lanes of a warp (lane 0 first). */
__device__ __forceinline__ int warp_inclusive_sum(int v)
{
    int lane = threadIdx.x & 31;
    for (int o = 1; o < 32; o <<= 1) {
        int u = __shfl_up_sync(kFullMask, v, o);
        if (lane >= o)
            v += u;
    }
    return v;
}

/* Block-wide exclusive prefix of `flag` over threads in index order; returns
 * the prefix and writes the block total to *total. `scratch` holds 32 ints. */
__device__ int block_prefix(int flag, int *scratch, int *total)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned ballot = __ballot_sync(kFullMask, flag);
    int in_warp = __popc(ballot & ((1u << lane) - 1u));
    if (lane == 0)
        scratch[warp] = __popc(ballot);
    __syncthreads();
    /* every warp scans the per-warp counts itself (one shuffle scan instead
     * of a serial loop over them) */
    int c = lane < (int)(blockDim.x >> 5) ? scratch[lane] : 0;
    int incl = warp_inclusive_sum(c);
    int before = __shfl_sync(kFullMask, incl - c, warp);
    int sum = __shfl_sync(kFullMask, incl, 31);
    __syncthreads();
    *total = sum;
    return before + in_warp;
}

/* Block b selects from row b: x[b n ..), output idx/val[b k ..), indices
 * into x as a whole. */
__global__ void __launch_bounds__(kTopkThreads)
    k_topk(int n, int k, const float *__restrict__ x, int32_t *idx, float *val)
{
    long long row = blockIdx.x;
    x += row * n;
    idx += row * k;
    if (val)
        val += row * k;
    __shared__ int hist[256];
    __shared__ int scratch[32];
    __shared__ uint32_t s_prefix;
    __shared__ int s_remaining, s_eq_total, s_count;
    __shared__ uint32_t skey[FT_CUDA_TOPK_MAX];
    __shared__ int sidx[FT_CUDA_TOPK_MAX];
    int lane = threadIdx.x & 31;
    unsigned lanes_below = (1u << lane) - 1u;

    /* 1. radix select, 8 bits per pass from the top: the prefix of the k-th
     * largest key, how many keys equal to it must be taken (s_remaining) and
     * how many there are (s_eq_total). */
    if (threadIdx.x == 0) {
        s_prefix = 0;
        s_remaining = k;
        s_eq_total = n;
        s_count = 0;
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x)
            hist[i] = 0;
        __syncthreads();
        uint32_t prefix = s_prefix;
        uint32_t mask = shift == 24 ? 0u : (0xffffffffu << (shift + 8));
        for (int start = 0; start < n; start += blockDim.x) {
            int i = start + threadIdx.x;
            uint32_t key = i < n ? float_key(x[i]) : 0u;
            unsigned bin = i < n && (key & mask) == prefix ? (key >> shift) & 255u : 256u;
            /* lanes of one bin add once: the values of a row mostly share
             * their top bits, and 32 atomics on one address serialise */
            unsigned peers = __match_any_sync(kFullMask, bin);
            if (bin < 256u && (peers & lanes_below) == 0u)
                atomicAdd(&hist[bin], __popc(peers));
        }
        __syncthreads();
        if (threadIdx.x < 32) {
            /* lane l holds bins 255 - 8l down to 248 - 8l; the bin where the
             * count from the top reaches s_remaining is found by one scan */
            int rem = s_remaining;
            int top = 255 - 8 * lane;
            int cnt[8], local = 0;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                cnt[j] = hist[top - j];
                local += cnt[j];
            }
            int incl = warp_inclusive_sum(local);
            int excl = incl - local;
            __syncwarp(); /* every lane has read s_remaining before one writes it */
            if (excl < rem && incl >= rem) { /* exactly one lane */
                int r = rem - excl, j = 0;
                while (j < 7 && cnt[j] < r) {
                    r -= cnt[j];
                    j++;
                }
                s_prefix = prefix | ((uint32_t)(top - j) << shift);
                s_remaining = r;
                s_eq_total = cnt[j];
            }
        }
        __syncthreads();
    }
    uint32_t kth = s_prefix;
    int need_eq = s_remaining; /* keys equal to kth to take, lowest index first */

    /* 2. collect the winners */
    if (s_eq_total == need_eq) {
        /* every key >= kth wins (exactly k): the sort below orders them, so
         * they are stored in any order, one shared atomic per warp */
        for (int start = 0; start < n; start += blockDim.x) {
            int i = start + threadIdx.x;
            uint32_t key = i < n ? float_key(x[i]) : 0u;
            int take = i < n && key >= kth;
            unsigned ballot = __ballot_sync(kFullMask, take);
            int base = 0;
            if (lane == 0 && ballot)
                base = atomicAdd(&s_count, __popc(ballot));
            base = __shfl_sync(kFullMask, base, 0);
            int pos = base + __popc(ballot & lanes_below);
            if (take && pos < k) {
                skey[pos] = key;
                sidx[pos] = i;
            }
        }
    } else {
        /* more keys equal kth than places: the lowest indices win, so the
         * collection runs in index order */
        int base = 0, eq_seen = 0;
        for (int start = 0; start < n; start += blockDim.x) {
            int i = start + threadIdx.x;
            uint32_t key = i < n ? float_key(x[i]) : 0u;
            int gt = i < n && key > kth;
            int eq = i < n && key == kth;
            int eq_total;
            int eq_rank = block_prefix(eq, scratch, &eq_total);
            int take = gt || (eq && eq_seen + eq_rank < need_eq);
            int take_total;
            int pos = block_prefix(take, scratch, &take_total);
            if (take && base + pos < k) {
                skey[base + pos] = key;
                sidx[base + pos] = i;
            }
            base += take_total;
            eq_seen += eq_total;
        }
    }
    __syncthreads();

    /* 3. bitonic sort of the k winners (padded to a power of two) by key
     * descending, index ascending */
    int size = 1;
    while (size < k)
        size <<= 1;
    for (int i = k + threadIdx.x; i < size; i += blockDim.x) {
        skey[i] = 0u;
        sidx[i] = 0x7fffffff;
    }
    __syncthreads();
    for (int len = 2; len <= size; len <<= 1) {
        for (int stride = len >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < size; i += blockDim.x) {
                int j = i ^ stride;
                if (j > i) {
                    bool desc = (i & len) == 0;
                    uint32_t ki = skey[i], kj = skey[j];
                    int ii = sidx[i], ij = sidx[j];
                    /* "i before j" in the final order */
                    bool i_first = ki > kj || (ki == kj && ii < ij);
                    if (desc != i_first) {
                        skey[i] = kj;
                        skey[j] = ki;
                        sidx[i] = ij;
                        sidx[j] = ii;
                    }
                }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        idx[i] = (int32_t)(row * n) + sidx[i];
        if (val)
            val[i] = x[sidx[i]];
    }
}

/* ---- pre-processing ---- */

/* Separable triangle-filter taps of PIL's antialiased bilinear resize for
 * one output coordinate: input range [lo, lo + n), weight of input i is
 * max(0, 1 - |(i - center + 0.5) * ss|) * norm. Computed on the fly, so any
 * downscale factor works without a tap array. */
struct Taps {
    int lo, n;
    float center, ss, norm;
    __device__ float weight(int i) const
    {
        float t = fabsf((i - center + 0.5f) * ss);
        return t < 1.f ? (1.f - t) * norm : 0.f;
    }
};

__device__ Taps resize_taps(int o, int in_size, int out_size)
{
    Taps t;
    float scale = (float)in_size / out_size;
    float support = scale > 1.f ? scale : 1.f;
    t.ss = 1.f / support;
    t.center = (o + 0.5f) * scale;
    int lo = (int)floorf(t.center - support + 0.5f);
    int hi = (int)floorf(t.center + support + 0.5f);
    t.lo = lo < 0 ? 0 : lo;
    t.n = (hi > in_size ? in_size : hi) - t.lo;
    t.norm = 1.f;
    float sum = 0.f;
    for (int i = 0; i < t.n; i++)
        sum += t.weight(t.lo + i);
    t.norm = sum > 0.f ? 1.f / sum : 0.f;
    return t;
}

__device__ __forceinline__ void yuv_to_rgb(float y, float u, float v, float *rgb)
{
    /* BT.601 limited range, the default of FFmpeg's swscale and of the CPU
     * pre-processing (detect/rfdetr_prepost.c) */
    float c = (y - 16.f) * (255.f / 219.f);
    float d = (u - 128.f) * (255.f / 224.f);
    float e = (v - 128.f) * (255.f / 224.f);
    rgb[0] = c + 1.402f * e;
    rgb[1] = c - 0.344136f * d - 0.714136f * e;
    rgb[2] = c + 1.772f * d;
    /* rounded to bytes as a decoder's RGB24 output (and the CPU path) is */
    for (int i = 0; i < 3; i++)
        rgb[i] = rintf(fminf(fmaxf(rgb[i], 0.f), 255.f)) * (1.f / 255.f);
}

__global__ void k_preprocess(ft_cuda_frame f, int out_w, int out_h, float3 mean, float3 inv_std,
                             float *y)
{
    int ox = blockIdx.x * blockDim.x + threadIdx.x;
    int oy = blockIdx.y * blockDim.y + threadIdx.y;
    if (ox >= out_w || oy >= out_h)
        return;
    Taps tx = resize_taps(ox, f.width, out_w);
    Taps ty = resize_taps(oy, f.height, out_h);
    float acc[3] = {0.f, 0.f, 0.f};
    for (int j = 0; j < ty.n; j++) {
        int sy = ty.lo + j;
        float wy = ty.weight(sy);
        const uint8_t *yrow = f.plane[0] + (long long)sy * f.stride[0];
        const uint8_t *crow1 = f.plane[1] + (long long)(sy >> 1) * f.stride[1];
        const uint8_t *crow2 = f.nv12 ? crow1 : f.plane[2] + (long long)(sy >> 1) * f.stride[2];
        float row[3] = {0.f, 0.f, 0.f};
        for (int i = 0; i < tx.n; i++) {
            int sx = tx.lo + i;
            float wx = tx.weight(sx);
            float u, v;
            if (f.nv12) {
                u = crow1[(sx >> 1) * 2];
                v = crow1[(sx >> 1) * 2 + 1];
            } else {
                u = crow1[sx >> 1];
                v = crow2[sx >> 1];
            }
            float rgb[3];
            yuv_to_rgb(yrow[sx], u, v, rgb);
            for (int c = 0; c < 3; c++)
                row[c] += wx * rgb[c];
        }
        for (int c = 0; c < 3; c++)
            acc[c] += wy * row[c];
    }
    long long plane = (long long)out_w * out_h;
    long long o = (long long)oy * out_w + ox;
    y[o] = (acc[0] - mean.x) * inv_std.x;
    y[plane + o] = (acc[1] - mean.y) * inv_std.y;
    y[2 * plane + o] = (acc[2] - mean.z) * inv_std.z;
}

} // namespace

extern "C" {

cudaError_t ft_cuda_f32_to_f16(int m, int n, const float *x, int ldx, void *y, cudaStream_t stream)
{
    long long total = (long long)m * n;
    if (ldx == n && total % 4 == 0 && ((uintptr_t)x & 15u) == 0 && ((uintptr_t)y & 7u) == 0)
        k_f32_to_f16_vec4<<<blocks_for(total / 4), kThreads, 0, stream>>>(
            total / 4, (const float4 *)x, (__half2 *)y);
    else
        k_f32_to_f16<<<blocks_for(total), kThreads, 0, stream>>>(m, n, x, ldx, (__half *)y);
    return cudaGetLastError();
}

cudaError_t ft_cuda_epilogue(int m, int n, const float *t, int ldt, const float *bias,
                             ft_nn_act act, const float *res, int ldres, const float *scale,
                             float *y, int ldy, void *y16, cudaStream_t stream)
{
    long long total = (long long)m * n;
    if (t == y && ldt == n && ldy == n && !bias && !res && !scale && total % 4 == 0 &&
        ((uintptr_t)y & 15u) == 0 && ((uintptr_t)y16 & 7u) == 0)
        k_act_vec4<<<blocks_for(total / 4), kThreads, 0, stream>>>(total / 4, (float4 *)y, act,
                                                                   (__half2 *)y16);
    else
        k_epilogue<<<blocks_for(total), kThreads, 0, stream>>>(m, n, t, ldt, bias, act, res, ldres,
                                                               scale, y, ldy, (__half *)y16);
    return cudaGetLastError();
}

cudaError_t ft_cuda_weight_prepare(int n, int k, const float *w, const float *scale, void *w2,
                                   const float *bias, float *b_out, cudaStream_t stream)
{
    k_weight_prepare<<<blocks_for((long long)n * k), kThreads, 0, stream>>>(
        n, k, w, scale, (__half *)w2, bias, b_out);
    return cudaGetLastError();
}

cudaError_t ft_cuda_layernorm(int m, int n, const float *x, int ldx, const float *gamma,
                              const float *beta, float eps, ft_nn_act act, float *y, int ldy,
                              void *y16, cudaStream_t stream)
{
    if (!fits_grid((long long)m * 32))
        return cudaErrorInvalidConfiguration;
    unsigned blocks = blocks_for((long long)m * 32);
    __half *h = (__half *)y16;
    bool vec = n % 4 == 0 && ldx % 4 == 0 && ldy % 4 == 0 && ((uintptr_t)x & 15u) == 0 &&
               ((uintptr_t)y & 15u) == 0 && ((uintptr_t)y16 & 7u) == 0;
    if (vec && n <= 256)
        k_layernorm_vec4<2>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else if (vec && n <= 512)
        k_layernorm_vec4<4>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else if (vec && n <= 1024)
        k_layernorm_vec4<8>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else if (n <= 256)
        k_layernorm_reg<8>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else if (n <= 512)
        k_layernorm_reg<16>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else if (n <= 1024)
        k_layernorm_reg<32>
            <<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy, h);
    else
        k_layernorm<<<blocks, kThreads, 0, stream>>>(m, n, x, ldx, gamma, beta, eps, act, y, ldy,
                                                     h);
    return cudaGetLastError();
}

cudaError_t ft_cuda_spin(unsigned long long ns, cudaStream_t stream)
{
    k_spin<<<1, 1, 0, stream>>>(ns);
    return cudaGetLastError();
}

cudaError_t ft_cuda_msda(const ft_nn_msda_args *a, void *out16, cudaStream_t stream)
{
    int frames = a->batch > 1 ? a->batch : 1;
    long long total = (long long)frames * a->nq * a->heads * a->dh;
    if (!fits_grid(total))
        return cudaErrorInvalidConfiguration;
    k_msda<<<blocks_for(total), kThreads, 0, stream>>>(*a, (__half *)out16);
    return cudaGetLastError();
}

cudaError_t ft_cuda_im2col(const ft_nn_im2col_args *a, void *y16, cudaStream_t stream)
{
    int ho = (a->h + 2 * a->pad - a->k) / a->stride + 1;
    int wo = (a->w + 2 * a->pad - a->k) / a->stride + 1;
    long long rows = (a->batch > 1 ? a->batch : 1) * (long long)ho * wo;
    k_im2col<<<blocks_for(rows, 1), kThreads, 0, stream>>>(*a, ho, wo, (__half *)y16);
    return cudaGetLastError();
}

cudaError_t ft_cuda_add(int n, const float *a, const float *b, float *y, void *y16,
                        cudaStream_t stream)
{
    k_add<<<blocks_for(n), kThreads, 0, stream>>>(n, a, b, y, (__half *)y16);
    return cudaGetLastError();
}

cudaError_t ft_cuda_gather_rows(int rows, int cols, const float *x, int ldx, const int32_t *idx,
                                float *y, int ldy, cudaStream_t stream)
{
    k_gather_rows<<<blocks_for(rows, 1), kGatherThreads, 0, stream>>>(rows, cols, x, ldx, idx, y,
                                                                      ldy);
    return cudaGetLastError();
}

cudaError_t ft_cuda_rowmax(int m, int n, const float *x, int ldx, float *y, cudaStream_t stream)
{
    if (!fits_grid((long long)m * 32))
        return cudaErrorInvalidConfiguration;
    k_rowmax<<<blocks_for((long long)m * 32), kThreads, 0, stream>>>(m, n, x, ldx, y);
    return cudaGetLastError();
}

cudaError_t ft_cuda_topk(int batch, int n, int k, const float *x, int32_t *idx, float *val,
                         cudaStream_t stream)
{
    k_topk<<<batch, kTopkThreads, 0, stream>>>(n, k, x, idx, val);
    return cudaGetLastError();
}

cudaError_t ft_cuda_box_refine(int m, const float *d, int ldd, const float *r, const int32_t *ridx,
                               float *y, cudaStream_t stream)
{
    if (!fits_grid(m))
        return cudaErrorInvalidConfiguration;
    k_box_refine<<<blocks_for(m), kThreads, 0, stream>>>(m, d, ldd, r, ridx, y);
    return cudaGetLastError();
}

cudaError_t ft_cuda_sine_embed(int m, int dim, const float *box, float *y, cudaStream_t stream)
{
    k_sine_embed<<<blocks_for((long long)m * 2 * dim), kThreads, 0, stream>>>(m, dim, box, y);
    return cudaGetLastError();
}

cudaError_t ft_cuda_preprocess(const ft_cuda_frame *f, int out_w, int out_h, const float mean[3],
                               const float std[3], float *y, cudaStream_t stream)
{
    dim3 block(32, 8);
    dim3 grid((unsigned)((out_w + 31) / 32), (unsigned)((out_h + 7) / 8));
    float3 m = make_float3(mean[0], mean[1], mean[2]);
    float3 is = make_float3(1.f / std[0], 1.f / std[1], 1.f / std[2]);
    k_preprocess<<<grid, block, 0, stream>>>(*f, out_w, out_h, m, is, y);
    return cudaGetLastError();
}

} // extern "C"
