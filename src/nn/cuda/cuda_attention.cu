/* Multi-head attention for the CUDA backend.
 *
 * The fast path is a flash-style kernel on tensor cores (WMMA, f16 operands,
 * f32 accumulation): a block owns 64 queries of one head of one sequence
 * (4 warps x 16 rows) and streams keys and values through shared memory 32 at
 * a time with an online softmax, so the lq x lk score matrix never reaches
 * device memory. The same kernel serves the windowed layers (batch = windows,
 * 325 tokens each) and the global layers (1300 tokens) of the DINOv2 encoder,
 * and the decoder self-attention (dh = 32). Inputs and outputs stay f32 as
 * the backend interface requires; tiles are rounded to f16 as they are
 * staged, which costs no extra pass over memory.
 *
 * The exact path (f32 everywhere, one warp per query row) runs in FP32 mode
 * (the out-of-memory fallback) and for head sizes the fast path lacks. */
#include <cuda_fp16.h>
#include <math.h>
#include <mma.h>

#include "nn/cuda/cuda_kernels.h"

using namespace nvcuda;

namespace
{

constexpr int kBQ = 64; /* queries per block */
constexpr int kBK = 32; /* keys per shared-memory tile */
constexpr int kWarps = kBQ / 16;

template <int D> struct FlashSmem {
    static constexpr int LDH = D + 8; /* f16 row pitch: 16-byte multiple, staggers banks */
    static constexpr int LDO = D + 4;
    static constexpr int LDS = kBK + 4;
    static constexpr int LDP = kBK + 8;
    union {
        __half q[kBQ][LDH]; /* staging for the Q fragments, then reused for O */
        float o[kBQ][LDO];
    } qo;
    __half k[kBK][LDH];
    __half v[kBK][LDH];
    float s[kBQ][LDS];
    __half p[kBQ][LDP];
};

/* Stage rows [row0, row0 + rows) of one head of an f32 matrix as f16,
 * multiplied by `mul`; rows at or past `limit` are zero. VEC: the rows are
 * 16-byte aligned, so each thread loads four floats at once. */
template <int D, int LD, bool VEC>
__device__ __forceinline__ void stage_tile(__half (*dst)[LD], int rows, const float *base, int ld,
                                           int row0, int limit, float mul)
{
    for (int i = threadIdx.x; i < rows * (D / 4); i += blockDim.x) {
        int r = i / (D / 4), c = (i - r * (D / 4)) * 4;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (row0 + r < limit) {
            const float *src = base + (long long)(row0 + r) * ld + c;
            v = VEC ? __ldg((const float4 *)src) : make_float4(src[0], src[1], src[2], src[3]);
        }
        __half2 *d2 = (__half2 *)&dst[r][c];
        d2[0] = __floats2half2_rn(v.x * mul, v.y * mul);
        d2[1] = __floats2half2_rn(v.z * mul, v.w * mul);
    }
}

template <int D, bool VEC>
__global__ void __launch_bounds__(kWarps * 32) k_flash(ft_nn_attention_args a, __half *out16)
{
    __shared__ __align__(128) FlashSmem<D> sm;
    using S = FlashSmem<D>;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int seq = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * kBQ;
    const float *qb = a.q + (long long)seq * a.lq * a.ldq + head * D;
    const float *kb = a.k + (long long)seq * a.lk * a.ldk + head * D;
    const float *vb = a.v + (long long)seq * a.lk * a.ldv + head * D;

    /* scores in the log2 domain: fold scale * log2(e) into Q */
    stage_tile<D, S::LDH, VEC>(sm.qo.q, kBQ, qb, a.ldq, q0, a.lq, a.scale * 1.4426950408889634f);
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qf[D / 16];
    for (int kk = 0; kk < D / 16; kk++)
        wmma::load_matrix_sync(qf[kk], &sm.qo.q[warp * 16][kk * 16], S::LDH);
    __syncthreads();
    for (int i = threadIdx.x; i < kBQ * S::LDO; i += blockDim.x)
        (&sm.qo.o[0][0])[i] = 0.f;

    /* lane pair (2r, 2r+1) owns row r of this warp's 16: half the columns each */
    const int row = warp * 16 + (lane >> 1), part = lane & 1;
    float m = -INFINITY, l = 0.f;

    for (int k0 = 0; k0 < a.lk; k0 += kBK) {
        __syncthreads();
        stage_tile<D, S::LDH, VEC>(sm.k, kBK, kb, a.ldk, k0, a.lk, 1.f);
        stage_tile<D, S::LDH, VEC>(sm.v, kBK, vb, a.ldv, k0, a.lk, 1.f);
        __syncthreads();

        for (int nt = 0; nt < kBK / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.f);
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, &sm.k[nt * 16][kk * 16], S::LDH);
                wmma::mma_sync(sf, qf[kk], kf, sf);
            }
            wmma::store_matrix_sync(&sm.s[warp * 16][nt * 16], sf, S::LDS, wmma::mem_row_major);
        }
        __syncwarp();

        /* online softmax of this row's slice */
        const int c0 = part * (kBK / 2);
        const int valid = a.lk - k0;
        float tmax = -INFINITY;
        for (int c = c0; c < c0 + kBK / 2; c++)
            if (c < valid)
                tmax = fmaxf(tmax, sm.s[row][c]);
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
        const float m_new = fmaxf(m, tmax);
        const float alpha = exp2f(m - m_new);
        float sum = 0.f;
        for (int c = c0; c < c0 + kBK / 2; c++) {
            float p = c < valid ? exp2f(sm.s[row][c] - m_new) : 0.f;
            sum += p;
            sm.p[row][c] = __float2half_rn(p);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        m = m_new;
        for (int c = part * (D / 2); c < (part + 1) * (D / 2); c++)
            sm.qo.o[row][c] *= alpha;
        __syncwarp();

        for (int nt = 0; nt < D / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
            wmma::load_matrix_sync(of, &sm.qo.o[warp * 16][nt * 16], S::LDO, wmma::mem_row_major);
            for (int kk = 0; kk < kBK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pf;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vf;
                wmma::load_matrix_sync(pf, &sm.p[warp * 16][kk * 16], S::LDP);
                wmma::load_matrix_sync(vf, &sm.v[kk * 16][nt * 16], S::LDH);
                wmma::mma_sync(of, pf, vf, of);
            }
            wmma::store_matrix_sync(&sm.qo.o[warp * 16][nt * 16], of, S::LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }

    const int qi = q0 + row;
    if (qi < a.lq) {
        float inv = 1.f / l;
        long long r = (long long)seq * a.lq + qi;
        float *dst = a.out + r * a.ldo + head * D;
        __half *dst16 = out16 ? out16 + r * (a.heads * D) + head * D : NULL;
        for (int c = part * (D / 2); c < (part + 1) * (D / 2); c++) {
            float v = sm.qo.o[row][c] * inv;
            dst[c] = v;
            if (dst16)
                dst16[c] = __float2half_rn(v);
        }
    }
}

/* Exact f32 attention: one warp per (query, head, sequence). Two passes over
 * the keys (maximum, then weights and values); each lane keeps dh/32 output
 * channels. */
constexpr int kMaxDhPerLane = 4; /* dh <= 128 */

__global__ void k_attention_f32(ft_nn_attention_args a)
{
    const int lane = threadIdx.x & 31;
    const int qi = blockIdx.x, head = blockIdx.y, seq = blockIdx.z;
    const float *q = a.q + ((long long)seq * a.lq + qi) * a.ldq + head * a.dh;
    const float *kb = a.k + (long long)seq * a.lk * a.ldk + head * a.dh;
    const float *vb = a.v + (long long)seq * a.lk * a.ldv + head * a.dh;

    float mx = -INFINITY;
    for (int j = lane; j < a.lk; j += 32) {
        const float *kr = kb + (long long)j * a.ldk;
        float s = 0.f;
        for (int d = 0; d < a.dh; d++)
            s += q[d] * kr[d];
        mx = fmaxf(mx, s * a.scale);
    }
    for (int o = 16; o > 0; o >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));

    float acc[kMaxDhPerLane] = {0.f, 0.f, 0.f, 0.f};
    float den = 0.f;
    for (int j0 = 0; j0 < a.lk; j0 += 32) {
        int j = j0 + lane;
        float p = 0.f;
        if (j < a.lk) {
            const float *kr = kb + (long long)j * a.ldk;
            float s = 0.f;
            for (int d = 0; d < a.dh; d++)
                s += q[d] * kr[d];
            p = expf(s * a.scale - mx);
        }
        den += p;
        int n = a.lk - j0 < 32 ? a.lk - j0 : 32;
        for (int t = 0; t < n; t++) {
            float pt = __shfl_sync(0xffffffffu, p, t);
            const float *vr = vb + (long long)(j0 + t) * a.ldv;
            for (int i = 0; i < kMaxDhPerLane; i++) {
                int d = lane + 32 * i;
                if (d < a.dh)
                    acc[i] += pt * vr[d];
            }
        }
    }
    for (int o = 16; o > 0; o >>= 1)
        den += __shfl_xor_sync(0xffffffffu, den, o);
    float *dst = a.out + ((long long)seq * a.lq + qi) * a.ldo + head * a.dh;
    for (int i = 0; i < kMaxDhPerLane; i++) {
        int d = lane + 32 * i;
        if (d < a.dh)
            dst[d] = acc[i] / den;
    }
}

} // namespace

extern "C" int ft_cuda_attention_fast(const ft_nn_attention_args *a, int fp16)
{
    /* the tensor-core path stages 4 floats at a time */
    bool aligned = a->ldq % 4 == 0 && a->ldk % 4 == 0 && a->ldv % 4 == 0;
    return fp16 && aligned && (a->dh == 64 || a->dh == 32);
}

extern "C" cudaError_t ft_cuda_attention(const ft_nn_attention_args *a, int fp16, void *out16,
                                         cudaStream_t stream)
{
    if (a->dh > 32 * kMaxDhPerLane)
        return cudaErrorInvalidValue;
    if (ft_cuda_attention_fast(a, fp16)) {
        dim3 grid((unsigned)((a->lq + kBQ - 1) / kBQ), (unsigned)a->heads, (unsigned)a->batch);
        bool vec = ((uintptr_t)a->q | (uintptr_t)a->k | (uintptr_t)a->v) % 16 == 0;
        __half *o16 = (__half *)out16;
        if (a->dh == 64)
            (vec ? k_flash<64, true> : k_flash<64, false>)<<<grid, kWarps * 32, 0, stream>>>(*a,
                                                                                             o16);
        else
            (vec ? k_flash<32, true> : k_flash<32, false>)<<<grid, kWarps * 32, 0, stream>>>(*a,
                                                                                             o16);
    } else {
        dim3 grid((unsigned)a->lq, (unsigned)a->heads, (unsigned)a->batch);
        k_attention_f32<<<grid, 32, 0, stream>>>(*a);
    }
    return cudaGetLastError();
}
