/* Multi-head attention for the CUDA backend.
 *
 * The fast path is a flash-attention kernel on tensor cores (mma.sync
 * m16n8k16, f16 operands, f32 accumulation): a block owns 64 queries of one
 * head of one sequence (4 warps x 16 rows), keeps Q, the scores and the
 * output accumulator in registers, and streams keys and values through two
 * shared-memory buffers 64 rows at a time (the next tile's global loads are
 * in flight while the current one is computed) with an online softmax, so
 * the lq x lk score matrix never leaves registers. The same kernel serves
 * the windowed layers (batch = windows, 325 tokens each) and the global
 * layers (1300 tokens) of the DINOv2 encoder, and the decoder self-attention
 * (300 queries, dh = 32); the ragged last tiles are masked. Inputs and
 * outputs stay f32 as the backend interface requires; tiles are rounded to
 * f16 as they are staged, which costs no extra pass over memory.
 *
 * The exact path (f32 everywhere, one warp per query row) runs in FP32 mode
 * (the out-of-memory fallback) and for head sizes the fast path lacks. */
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "nn/cuda/cuda_kernels.h"

namespace
{

constexpr int kBQ = 64; /* queries per block: 4 warps x 16 rows */
constexpr int kBK = 64; /* keys per shared-memory tile */
constexpr int kWarps = kBQ / 16;
constexpr int kThreadsFlash = kWarps * 32;

/* Two K and two V tiles (double buffering), f16, row-major [key][dim]. The
 * row pitch D + 8 halves keeps rows 16-byte aligned (ldmatrix) and puts the
 * eight rows a fragment load touches in different banks. */
template <int D> struct FlashSmem {
    static constexpr int LD = D + 8;
    __half k[2][kBK][LD];
    __half v[2][kBK][LD];
};

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi)
{
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&h);
}

/* d += a (16x16, row) * b (16x8, col), f16 operands, f32 accumulators. */
__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                         uint32_t a3, uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/* Four transposed 8x8 f16 tiles from shared memory (lanes 8i..8i+7 give the
 * row addresses of tile i): the B fragments of P·V from row-major V. */
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half *p)
{
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* One K or V tile in flight: each thread's share of kBK rows x D floats,
 * loaded into registers before the current tile is computed and stored to
 * shared memory (as f16) after it, so the global loads overlap the math. */
template <int D, bool VEC> struct TileRegs {
    static constexpr int N = kBK * D / 4 / kThreadsFlash;
    float4 r[N];

    __device__ __forceinline__ void load(const float *base, int ld, int row0, int limit)
    {
#pragma unroll
        for (int i = 0; i < N; i++) {
            int e = threadIdx.x + i * kThreadsFlash;
            int row = e / (D / 4), col = (e % (D / 4)) * 4;
            r[i] = make_float4(0.f, 0.f, 0.f, 0.f); /* rows past the end: zero (P·V stays finite) */
            if (row0 + row < limit) {
                const float *src = base + (long long)(row0 + row) * ld + col;
                r[i] = VEC ? __ldg(reinterpret_cast<const float4 *>(src))
                           : make_float4(src[0], src[1], src[2], src[3]);
            }
        }
    }

    __device__ __forceinline__ void store(__half (*dst)[FlashSmem<D>::LD]) const
    {
#pragma unroll
        for (int i = 0; i < N; i++) {
            int e = threadIdx.x + i * kThreadsFlash;
            int row = e / (D / 4), col = (e % (D / 4)) * 4;
            uint2 h = make_uint2(pack_half2(r[i].x, r[i].y), pack_half2(r[i].z, r[i].w));
            *reinterpret_cast<uint2 *>(&dst[row][col]) = h;
        }
    }
};

/* Flash attention on tensor cores (mma.sync m16n8k16, f16 x f16 -> f32).
 * A block owns kBQ queries of one head of one sequence, a warp 16 of them:
 * the warp's Q fragments stay in registers, scores S = Q Kᵀ and the output
 * accumulator O live in registers as mma fragments, and the softmax is
 * online in the log2 domain (scale · log2 e folded into Q). Keys past lk are
 * masked to -inf in the last tile; queries past lq compute on zeros and are
 * not stored. Lane (g = lane / 4, t = lane % 4) holds rows g and g + 8 of
 * the warp's 16, columns 2t and 2t + 1 of every 8-wide tile. */
template <int D, bool VEC>
__global__ void __launch_bounds__(kThreadsFlash) k_flash(ft_nn_attention_args a, __half *out16)
{
    __shared__ __align__(128) FlashSmem<D> sm;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int seq = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * kBQ + warp * 16;
    const float *qb = a.q + (long long)seq * a.lq * a.ldq + head * D;
    const float *kb = a.k + (long long)seq * a.lk * a.ldk + head * D;
    const float *vb = a.v + (long long)seq * a.lk * a.ldv + head * D;

    TileRegs<D, VEC> kr, vr;
    kr.load(kb, a.ldk, 0, a.lk);
    vr.load(vb, a.ldv, 0, a.lk);

    /* Q fragments straight from global memory (read once per block) */
    const float qs = a.scale * 1.4426950408889634f;
    uint32_t qf[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
        for (int h = 0; h < 4; h++) {
            int r = q0 + g + (h & 1) * 8, c = kk * 16 + 2 * t + (h >> 1) * 8;
            float x0 = 0.f, x1 = 0.f;
            if (r < a.lq) {
                const float *src = qb + (long long)r * a.ldq + c;
                x0 = src[0] * qs;
                x1 = src[1] * qs;
            }
            qf[kk][h] = pack_half2(x0, x1);
        }

    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++)
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY; /* running maxima of rows g, g + 8 */
    float l0 = 0.f, l1 = 0.f;             /* this lane's partial row sums */

    kr.store(sm.k[0]);
    vr.store(sm.v[0]);
    __syncthreads();

    const int ntiles = (a.lk + kBK - 1) / kBK;
    for (int it = 0; it < ntiles; it++) {
        const int buf = it & 1, k0 = it * kBK;
        const bool more = it + 1 < ntiles;
        if (more) {
            kr.load(kb, a.ldk, k0 + kBK, a.lk);
            vr.load(vb, a.ldv, k0 + kBK, a.lk);
        }

        /* S = Q Kᵀ: 8 tiles of 8 keys */
        float s[kBK / 8][4];
#pragma unroll
        for (int j = 0; j < kBK / 8; j++) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
            const __half *krow = &sm.k[buf][j * 8 + g][2 * t];
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t b0 = *reinterpret_cast<const uint32_t *>(krow + kk * 16);
                uint32_t b1 = *reinterpret_cast<const uint32_t *>(krow + kk * 16 + 8);
                mma16816(s[j], qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], b0, b1);
            }
        }
        if (k0 + kBK > a.lk) {
#pragma unroll
            for (int j = 0; j < kBK / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    if (k0 + j * 8 + 2 * t + (e & 1) >= a.lk)
                        s[j][e] = -INFINITY;
        }

        /* online softmax: every tile has a valid key, so the maxima are finite */
        float t0 = -INFINITY, t1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < kBK / 8; j++) {
            t0 = fmaxf(t0, fmaxf(s[j][0], s[j][1]));
            t1 = fmaxf(t1, fmaxf(s[j][2], s[j][3]));
        }
        t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 1));
        t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 2));
        t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 1));
        t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 2));
        const float n0 = fmaxf(m0, t0), n1 = fmaxf(m1, t1);
        const float al0 = exp2f(m0 - n0), al1 = exp2f(m1 - n1);
        m0 = n0;
        m1 = n1;
        l0 *= al0;
        l1 *= al1;
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
            o[n][0] *= al0;
            o[n][1] *= al0;
            o[n][2] *= al1;
            o[n][3] *= al1;
        }
        uint32_t p[kBK / 8][2];
#pragma unroll
        for (int j = 0; j < kBK / 8; j++) {
            float p0 = exp2f(s[j][0] - n0), p1 = exp2f(s[j][1] - n0);
            float p2 = exp2f(s[j][2] - n1), p3 = exp2f(s[j][3] - n1);
            l0 += p0 + p1;
            l1 += p2 + p3;
            p[j][0] = pack_half2(p0, p1);
            p[j][1] = pack_half2(p2, p3);
        }

        /* O += P V: P's accumulator layout is the A fragment of the next mma */
#pragma unroll
        for (int kc = 0; kc < kBK / 16; kc++) {
#pragma unroll
            for (int np = 0; np < D / 16; np++) {
                uint32_t b[4];
                const int key = kc * 16 + ((lane >> 3) & 1) * 8 + (lane & 7);
                ldmatrix_x4_trans(b, &sm.v[buf][key][np * 16 + (lane >> 4) * 8]);
                mma16816(o[2 * np], p[2 * kc][0], p[2 * kc][1], p[2 * kc + 1][0], p[2 * kc + 1][1],
                         b[0], b[1]);
                mma16816(o[2 * np + 1], p[2 * kc][0], p[2 * kc][1], p[2 * kc + 1][0],
                         p[2 * kc + 1][1], b[2], b[3]);
            }
        }

        if (more) {
            kr.store(sm.k[buf ^ 1]);
            vr.store(sm.v[buf ^ 1]);
        }
        __syncthreads();
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int qi = q0 + g + h * 8;
        if (qi >= a.lq)
            continue;
        const float inv = 1.f / (h ? l1 : l0);
        const long long r = (long long)seq * a.lq + qi;
        float *dst = a.out + r * a.ldo + head * D + 2 * t;
        __half *dst16 = out16 ? out16 + r * (a.heads * D) + head * D + 2 * t : NULL;
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
            const float v0 = o[n][2 * h] * inv, v1 = o[n][2 * h + 1] * inv;
            dst[n * 8] = v0;
            dst[n * 8 + 1] = v1;
            if (dst16)
                *reinterpret_cast<uint32_t *>(dst16 + n * 8) = pack_half2(v0, v1);
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
            (vec ? k_flash<64, true> : k_flash<64, false>)<<<grid, kThreadsFlash, 0, stream>>>(*a,
                                                                                               o16);
        else
            (vec ? k_flash<32, true> : k_flash<32, false>)<<<grid, kThreadsFlash, 0, stream>>>(*a,
                                                                                               o16);
    } else {
        dim3 grid((unsigned)a->lq, (unsigned)a->heads, (unsigned)a->batch);
        k_attention_f32<<<grid, 32, 0, stream>>>(*a);
    }
    return cudaGetLastError();
}
