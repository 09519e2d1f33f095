/* The CUDA backend (see docs/cuda.md).
 *
 * Precision. Activations are f32 in device memory, as the backend interface
 * requires. The arithmetic that matters runs on f16 tensor cores with f32
 * accumulation: every weight passed to `linear` gets an f16 shadow made once
 * on first use (with the layer-scale folded in when the call has one), the
 * activation operand is rounded to f16 on the way into cuBLASLt, and the
 * attention kernel stages its tiles as f16. In FP32 mode (the retry after an
 * out-of-memory failure) GEMMs and attention run in plain f32 instead.
 *
 * Execution. Operators are enqueued on one stream and return at once; the
 * first failure is recorded and returned by run/sync, later operators are
 * skipped. `run` executes a recorder eagerly the first time it sees it (this
 * creates the shadows, sizes the scratch buffers and picks the GEMM
 * algorithms), captures it into a CUDA graph the second time and replays the
 * graph afterwards. A recorder is identified by its (fn, user) pair: callers
 * use one user pointer per planned input size. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "core/log.h"
#include "nn/backend.h"
#include "nn/cuda/cuda_kernels.h"

#define WORKSPACE_BYTES (32u << 20)
/* GEMM shapes: about 30 per RF-DETR plan, and a model has up to
 * log2(max_batch) + 2 plans (batch counts) */
#define MAX_PLANS 512
#define MAX_GRAPHS 16
#define STAGING_SLOTS 2
#define FRAME_CHUNK_BYTES (512u << 10) /* frame upload granularity */
/* cuBLASLt's heuristic is tuned for large GEMMs; for the model's small ones
 * (decoder, heads: m = 300, n = 4..256) its first pick is often not the
 * fastest, so in FP16 mode the first call of each shape times up to this
 * many candidates and keeps the fastest for the plan's lifetime. Batch-1
 * GEMMs (up to GEMM_SMALL_MACS multiply-adds) leave most of the GPU idle
 * and their best tiling or split-K is often further down the list, so they
 * time more of it; the large ones of a batch would take seconds. (FP32 mode
 * takes the first pick without timing.) */
#define GEMM_CANDIDATES 24
#define GEMM_CANDIDATES_LARGE 8
#define GEMM_SMALL_MACS 1.2e9
#define GEMM_TIMING_RUNS 3

/* A cuBLASLt matmul chosen once per shape and operand alignment. */
typedef struct gemm_plan {
    int m, n, k, ldx, ldc, ldy;
    int epi;    /* cublasLtEpilogue_t */
    int has_c;  /* beta = 1 with a C operand */
    int align;  /* min alignment of the operands, bytes */
    bool none;  /* cuBLASLt has no algorithm for this key (remembered too) */
    bool timed; /* the candidates were timed on the first call */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc, ld;
    cublasLtMatmulAlgo_t algo;
    cublasLtMatmulAlgo_t cand[GEMM_CANDIDATES]; /* heuristic's picks, best first */
    int ncand;
} gemm_plan;

/* f16 copy of a weight (with the layer-scale folded in when the call has one),
 * keyed by the pointers and shape it was made from. Freeing or re-uploading
 * memory under any of those pointers forgets the copy (shadows_forget): a new
 * weight that lands at a freed weight's address must not reuse its copy. */
typedef struct shadow {
    const float *w, *scale, *bias;
    int n, k;
    void *w2;     /* weight in compute precision, NULL = use w itself */
    float *bias2; /* bias times scale, NULL = use bias itself */
} shadow;

typedef struct graph_entry {
    ft_nn_record_fn fn;
    void *user;
    int runs;
    int failed_captures; /* after two, this recorder stays eager */
    cudaGraphExec_t exec;
} graph_entry;

#define PROF_EVENTS 4096
#define PROF_SPIN_NS 10000000ull /* longer than the host takes to enqueue a pass */
#define PROF_ROWS 32
typedef struct prof_row {
    const char *name;
    double ms;
    long calls;
} prof_row;

typedef struct dev_block {
    void *ptr;
    size_t bytes;
} dev_block;

typedef struct staging {
    void *host; /* pinned */
    size_t cap;
    cudaEvent_t done;
    bool pending;
} staging;

typedef struct ft_nn_cuda {
    ft_nn_backend base;
    int device;
    bool fp32;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *workspace;
    ft_status err;
    bool capturing, capture_broken;
    void *x16; /* activation operand rounded to f16 */
    size_t x16_cap;
    float *tmp; /* GEMM result before a general epilogue */
    size_t tmp_cap;
    /* f16 copy of the last layer norm or activation output, written by the
     * same kernel, so the GEMM that reads that output next skips its own
     * conversion pass. Valid until anything else may write the source. */
    void *m16;
    size_t m16_cap;
    struct {
        const float *src;
        int m, n, ld;
        bool valid;
    } mir;
    gemm_plan plans[MAX_PLANS];
    int nplans;
    shadow *shadows;
    int nshadows, shadow_cap;
    graph_entry graphs[MAX_GRAPHS];
    int ngraphs;
    staging stage[STAGING_SLOTS];
    int next_stage;
    void *frame_dev; /* device copy of the last frame for image_to_tensor */
    size_t frame_cap;
    cudaEvent_t surface_ready; /* a device frame's producer (legacy stream) is done */
    /* every device allocation, for FT_CUDA_MEMORY_LIMIT_MB */
    dev_block *blocks;
    int nblocks, blocks_cap;
    size_t mem_used, mem_limit;
    /* FT_CUDA_PROFILE=1: every forward pass runs eagerly with an event pair
     * around each operator; per-operator totals are logged at destroy */
    bool profile;
    cudaEvent_t *pev;
    const char **pname;
    int pn;
    prof_row prow[PROF_ROWS];
    int nprow;
    long pforwards;
} ft_nn_cuda;

static ft_nn_cuda *cu(ft_nn_backend *be)
{
    return (ft_nn_cuda *)be;
}

/* Record the first failure with the CUDA error text. */
static void fail_cuda(ft_nn_cuda *c, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return;
    (void)cudaGetLastError(); /* clear a sticky-free error so later calls report their own */
    ft_status st = e == cudaErrorMemoryAllocation ? FT_ERR_GPU_OOM : FT_ERR_GPU;
    if (c->err == FT_OK) {
        c->err = st;
        FT_LOGE("cuda", "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    }
}

static void fail_blas(ft_nn_cuda *c, cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return;
    if (c->err == FT_OK) {
        c->err = s == CUBLAS_STATUS_ALLOC_FAILED ? FT_ERR_GPU_OOM : FT_ERR_GPU;
        FT_LOGE("cuda", "%s: cuBLASLt status %d (%s)", what, (int)s, cublasLtGetStatusString(s));
    }
}

static bool prof_on(const ft_nn_cuda *c)
{
    return c->profile && !c->capturing && c->pn < PROF_EVENTS;
}

/* Start an event pair; returns its slot (-1: not profiling). Pairs may nest:
 * the slot is taken at the start. */
static int prof_begin(ft_nn_cuda *c)
{
    if (!prof_on(c))
        return -1;
    int i = c->pn++;
    c->pname[i] = NULL;
    cudaEventRecord(c->pev[2 * i], c->stream);
    return i;
}

static void prof_end(ft_nn_cuda *c, int slot, const char *name)
{
    if (slot < 0)
        return;
    cudaEventRecord(c->pev[2 * slot + 1], c->stream);
    c->pname[slot] = name;
}

/* Fold the finished event pairs into the per-operator totals (the stream has
 * been synchronised). */
static void prof_collect(ft_nn_cuda *c)
{
    for (int i = 0; i < c->pn; i++) {
        float ms = 0.f;
        if (!c->pname[i] ||
            cudaEventElapsedTime(&ms, c->pev[2 * i], c->pev[2 * i + 1]) != cudaSuccess)
            continue;
        int r = 0;
        while (r < c->nprow && strcmp(c->prow[r].name, c->pname[i]))
            r++;
        if (r == c->nprow) {
            if (r == PROF_ROWS)
                continue;
            c->prow[c->nprow++] = (prof_row){c->pname[i], 0.0, 0};
        }
        c->prow[r].ms += ms;
        c->prow[r].calls++;
    }
    c->pn = 0;
}

static void prof_report(ft_nn_cuda *c)
{
    if (!c->profile || c->pforwards == 0)
        return;
    /* rows named "- ..." are parts of the operator rows (inside linear) */
    double total = 0;
    for (int r = 0; r < c->nprow; r++)
        if (c->prow[r].name[0] != '-')
            total += c->prow[r].ms;
    FT_LOGI("cuda", "cuda profile: %ld eager forward passes, operators %.3f ms per pass",
            c->pforwards, total / c->pforwards);
    for (int r = 0; r < c->nprow; r++)
        FT_LOGI("cuda", "cuda profile: %-16s %6.1f calls %8.4f ms per pass (%4.1f%%)",
                c->prow[r].name, (double)c->prow[r].calls / c->pforwards,
                c->prow[r].ms / c->pforwards, total > 0 ? 100.0 * c->prow[r].ms / total : 0.0);
}

/* cudaMalloc within the optional memory limit (FT_CUDA_MEMORY_LIMIT_MB, a
 * per-backend budget for packing several streams on one GPU): past it the
 * allocation fails as out of memory, which takes the same recovery paths. */
static cudaError_t dev_malloc(ft_nn_cuda *c, void **ptr, size_t bytes)
{
    *ptr = NULL;
    if (c->mem_limit && c->mem_used + bytes > c->mem_limit)
        return cudaErrorMemoryAllocation;
    if (c->nblocks == c->blocks_cap) {
        int cap = c->blocks_cap ? 2 * c->blocks_cap : 256;
        dev_block *nb = realloc(c->blocks, (size_t)cap * sizeof(*nb));
        if (!nb)
            return cudaErrorMemoryAllocation;
        c->blocks = nb;
        c->blocks_cap = cap;
    }
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 64);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *ptr = NULL;
        return e;
    }
    c->blocks[c->nblocks++] = (dev_block){*ptr, bytes};
    c->mem_used += bytes;
    return cudaSuccess;
}

/* Free a block; returns its size (0 when it was not ours). */
static size_t dev_free(ft_nn_cuda *c, void *ptr)
{
    size_t bytes = 0;
    if (!ptr)
        return 0;
    for (int i = c->nblocks - 1; i >= 0; i--)
        if (c->blocks[i].ptr == ptr) {
            bytes = c->blocks[i].bytes;
            c->mem_used -= bytes;
            c->blocks[i] = c->blocks[--c->nblocks];
            break;
        }
    cudaFree(ptr);
    return bytes;
}

/* Captured graphs hold the scratch buffers' addresses: when one grows (an
 * eager first pass of a larger batch), every graph is stale. The entries
 * stay, so each recorder is captured again on its next run. */
static void graphs_invalidate(ft_nn_cuda *c)
{
    for (int i = 0; i < c->ngraphs; i++)
        if (c->graphs[i].exec) {
            cudaGraphExecDestroy(c->graphs[i].exec);
            c->graphs[i].exec = NULL;
        }
}

/* Grow a scratch buffer. Growing is impossible while a graph is being
 * captured: the capture is then marked broken and redone after an eager run. */
static cudaError_t scratch_grow(ft_nn_cuda *c, void **buf, size_t *cap, size_t bytes)
{
    dev_free(c, *buf);
    graphs_invalidate(c);
    *buf = NULL;
    *cap = 0;
    cudaError_t e = dev_malloc(c, buf, bytes);
    if (e == cudaSuccess)
        *cap = bytes;
    return e;
}

static void *scratch(ft_nn_cuda *c, void **buf, size_t *cap, size_t bytes)
{
    if (*cap >= bytes)
        return *buf;
    if (c->capturing) {
        c->capture_broken = true;
        return NULL;
    }
    cudaError_t e = scratch_grow(c, buf, cap, bytes);
    if (e != cudaSuccess) {
        fail_cuda(c, e, "scratch allocation");
        return NULL;
    }
    return *buf;
}

/* ---- f16 copies of operator outputs ---- */

static void mirror_drop(ft_nn_cuda *c)
{
    c->mir.valid = false;
}

/* The buffer for an f16 copy of an m x n output, or NULL (no copy: the
 * consumer converts by itself). */
static void *mirror_buffer(ft_nn_cuda *c, int m, int n)
{
    mirror_drop(c);
    if (c->fp32)
        return NULL;
    return scratch(c, &c->m16, &c->m16_cap, (size_t)m * n * 2);
}

static void mirror_set(ft_nn_cuda *c, const float *src, int m, int n, int ld)
{
    c->mir.src = src;
    c->mir.m = m;
    c->mir.n = n;
    c->mir.ld = ld;
    c->mir.valid = true;
}

/* The f16 copy of the m x k GEMM input at x (row stride ld), or NULL: the
 * copy of that very matrix, or of contiguous rows inside a contiguous copy
 * (the add's flat output) at a 16-byte aligned offset. */
static const void *mirror_find(const ft_nn_cuda *c, const float *x, int m, int k, int ld)
{
    if (!c->mir.valid)
        return NULL;
    if (c->mir.src == x && c->mir.m == m && c->mir.n == k && c->mir.ld == ld)
        return c->m16;
    if (ld != k || c->mir.ld != c->mir.n || x < c->mir.src)
        return NULL;
    size_t off = (size_t)(x - c->mir.src), len = (size_t)c->mir.m * c->mir.n;
    if (off % 8 || off > len || (size_t)m * k > len - off)
        return NULL;
    return (const char *)c->m16 + off * 2;
}

/* Drop the copy when [p, p + rows rows of ld) may overlap its source. */
static void mirror_touch(ft_nn_cuda *c, const float *p, int rows, int ld)
{
    if (!c->mir.valid)
        return;
    const float *a0 = c->mir.src, *a1 = a0 + (size_t)(c->mir.m - 1) * c->mir.ld + c->mir.n;
    const float *b1 = p + (size_t)rows * ld;
    if (p < a1 && a0 < b1)
        mirror_drop(c);
}

/* ---- memory ---- */

static ft_status cuda_alloc(ft_nn_backend *be, size_t bytes, ft_nn_mem kind, void **ptr)
{
    ft_nn_cuda *c = cu(be);
    *ptr = NULL;
    cudaError_t e = dev_malloc(c, ptr, bytes);
    if (e != cudaSuccess) {
        FT_LOGE("cuda", "cudaMalloc of %zu bytes (%s) failed: %s", bytes,
                kind == FT_NN_MEM_WEIGHT ? "weights" : "activations", cudaGetErrorString(e));
        return e == cudaErrorMemoryAllocation ? FT_ERR_GPU_OOM : FT_ERR_GPU;
    }
    return FT_OK;
}

static void shadows_forget(ft_nn_cuda *c, const void *p, size_t bytes);

static void cuda_free(ft_nn_backend *be, void *ptr)
{
    ft_nn_cuda *c = cu(be);
    if (!ptr)
        return;
    /* the copies of weights in this block die with it (the stream has
     * finished with them: cudaFree waits for the device), and so do the
     * graphs, which may hold its address: a later allocation can land there */
    size_t bytes = dev_free(c, ptr);
    shadows_forget(c, ptr, bytes ? bytes : 1);
    graphs_invalidate(c);
    mirror_drop(c);
}

/* Host -> device through a pinned staging slot, so the copy is truly
 * asynchronous and the caller's buffer is free on return. A slot is reused
 * only after its previous copy finished. */
static void cuda_upload(ft_nn_backend *be, void *dst, const void *src, size_t bytes)
{
    ft_nn_cuda *c = cu(be);
    mirror_drop(c);
    if (c->err || !bytes)
        return;
    shadows_forget(c, dst, bytes); /* new weight values need new copies */
    staging *s = &c->stage[c->next_stage];
    c->next_stage = (c->next_stage + 1) % STAGING_SLOTS;
    if (s->pending) {
        fail_cuda(c, cudaEventSynchronize(s->done), "upload (staging wait)");
        s->pending = false;
    }
    if (s->cap < bytes) {
        cudaFreeHost(s->host);
        s->host = NULL;
        s->cap = 0;
        if (cudaMallocHost(&s->host, bytes) != cudaSuccess) {
            /* no pinned memory: a plain copy still works, synchronously */
            (void)cudaGetLastError();
            s->host = NULL;
            fail_cuda(c, cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload");
            return;
        }
        s->cap = bytes;
    }
    memcpy(s->host, src, bytes);
    fail_cuda(c, cudaMemcpyAsync(dst, s->host, bytes, cudaMemcpyHostToDevice, c->stream), "upload");
    fail_cuda(c, cudaEventRecord(s->done, c->stream), "upload (event)");
    s->pending = true;
}

static ft_status cuda_download(ft_nn_backend *be, void *dst, const void *src, size_t bytes)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return c->err;
    fail_cuda(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream), "download");
    fail_cuda(c, cudaStreamSynchronize(c->stream), "download (sync)");
    if (c->profile)
        prof_collect(c);
    return c->err;
}

/* ---- GEMM through cuBLASLt ---- */

static int ptr_align(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    int a = 256;
    while (a > 4 && (v % (uintptr_t)a))
        a >>= 1;
    return a;
}

static void plan_destroy(gemm_plan *p)
{
    cublasLtMatrixLayout_t l[4] = {p->la, p->lb, p->lc, p->ld};
    for (int i = 0; i < 4; i++)
        if (l[i])
            cublasLtMatrixLayoutDestroy(l[i]);
    if (p->desc)
        cublasLtMatmulDescDestroy(p->desc);
    p->desc = NULL;
    p->la = p->lb = p->lc = p->ld = NULL;
}

/* Find or build the plan for y (m x n, f32) = x (m x k, f16 or f32) · wᵀ with
 * epilogue `epi`, optionally + C. Returns NULL (error recorded) when cuBLASLt
 * has no algorithm. */
static gemm_plan *gemm_plan_get(ft_nn_cuda *c, int m, int n, int k, int ldx, int ldc, int ldy,
                                cublasLtEpilogue_t epi, int has_c, int align)
{
    for (int i = 0; i < c->nplans; i++) {
        gemm_plan *p = &c->plans[i];
        if (p->m == m && p->n == n && p->k == k && p->ldx == ldx && p->ldc == ldc &&
            p->ldy == ldy && p->epi == (int)epi && p->has_c == has_c && p->align == align)
            return p->none ? NULL : p;
    }
    if (c->nplans == MAX_PLANS || c->capturing) {
        if (c->capturing)
            c->capture_broken = true;
        else
            fail_blas(c, CUBLAS_STATUS_NOT_SUPPORTED, "GEMM plan cache full");
        return NULL;
    }
    gemm_plan *p = &c->plans[c->nplans];
    memset(p, 0, sizeof(*p));
    cudaDataType_t ab = c->fp32 ? CUDA_R_32F : CUDA_R_16F;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasStatus_t s = cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi,
                                           sizeof(epi));
    if (s == CUBLAS_STATUS_SUCCESS && epi != CUBLASLT_EPILOGUE_DEFAULT &&
        epi != CUBLASLT_EPILOGUE_RELU) {
        cudaDataType_t bt = CUDA_R_32F;
        s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt,
                                           sizeof(bt));
    }
    /* column-major view: yᵀ (n x m) = w (k x n)ᵀ · xᵀ (k x m) */
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutCreate(&p->la, ab, (uint64_t)k, (uint64_t)n, (int64_t)k);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutCreate(&p->lb, ab, (uint64_t)k, (uint64_t)m, (int64_t)ldx);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, (uint64_t)n, (uint64_t)m,
                                       (int64_t)(has_c ? ldc : ldy));
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutCreate(&p->ld, CUDA_R_32F, (uint64_t)n, (uint64_t)m, (int64_t)ldy);
    cublasLtMatmulPreference_t pref = NULL;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceCreate(&pref);
    size_t ws = WORKSPACE_BYTES;
    uint32_t al = (uint32_t)align;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &ws, sizeof(ws));
    cublasLtMatmulPreferenceAttributes_t al_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4 && s == CUBLAS_STATUS_SUCCESS; i++)
        s = cublasLtMatmulPreferenceSetAttribute(pref, al_attr[i], &al, sizeof(al));
    cublasLtMatmulHeuristicResult_t res[GEMM_CANDIDATES];
    int found = 0;
    int want =
        !c->fp32 && (double)m * n * k <= GEMM_SMALL_MACS ? GEMM_CANDIDATES : GEMM_CANDIDATES_LARGE;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(c->lt, p->desc, p->la, p->lb, p->lc, p->ld, pref, want,
                                           res, &found);
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    p->none = s != CUBLAS_STATUS_SUCCESS || found == 0;
    if (p->none)
        plan_destroy(p);
    p->m = m;
    p->n = n;
    p->k = k;
    p->ldx = ldx;
    p->ldc = ldc;
    p->ldy = ldy;
    p->epi = (int)epi;
    p->has_c = has_c;
    p->align = align;
    if (!p->none) {
        p->algo = res[0].algo;
        for (int i = 0; i < found; i++)
            if (res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= WORKSPACE_BYTES)
                p->cand[p->ncand++] = res[i].algo;
        /* FP32 mode (the fallback) keeps the heuristic's deterministic pick,
         * so every FP32 instance computes bit-identical results */
        p->timed = p->ncand < 2 || c->fp32;
    }
    c->nplans++;
    return p->none ? NULL : p; /* NULL: the caller falls back to a plain GEMM + epilogue */
}

/* Time the plan's candidates on the real operands, writing into the scratch
 * result buffer (y may be its own C operand, so it must not be written
 * here), and keep the fastest. Runs once per plan, in an eager pass: it
 * synchronises. A candidate that fails is skipped; when none can be timed
 * the heuristic's first pick stays. */
static void gemm_time(ft_nn_cuda *c, gemm_plan *p, const void *x, const void *w, const float *cm,
                      int m, int ldy)
{
    p->timed = true;
    /* when y is the scratch buffer itself (linear's general path) it has the
     * size already, so it is never reallocated under the caller */
    size_t need = (size_t)m * ldy * sizeof(float);
    cudaEvent_t ev[2] = {NULL, NULL};
    if (c->tmp_cap < need && scratch_grow(c, (void **)&c->tmp, &c->tmp_cap, need) != cudaSuccess) {
        (void)cudaGetLastError(); /* no memory to time in: keep the heuristic's pick */
        return;
    }
    float *t = c->tmp;
    if (cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess) {
        (void)cudaGetLastError();
        goto out;
    }
    float alpha = 1.f, beta = cm ? 1.f : 0.f, best = INFINITY;
    const void *cin = cm ? (const void *)cm : (const void *)t;
    for (int i = 0; i < p->ncand; i++) {
        bool ok = cublasLtMatmul(c->lt, p->desc, &alpha, w, p->la, x, p->lb, &beta, cin, p->lc, t,
                                 p->ld, &p->cand[i], c->workspace, WORKSPACE_BYTES,
                                 c->stream) == CUBLAS_STATUS_SUCCESS; /* warm-up */
        ok = ok && cudaEventRecord(ev[0], c->stream) == cudaSuccess;
        for (int r = 0; ok && r < GEMM_TIMING_RUNS; r++)
            ok = cublasLtMatmul(c->lt, p->desc, &alpha, w, p->la, x, p->lb, &beta, cin, p->lc, t,
                                p->ld, &p->cand[i], c->workspace, WORKSPACE_BYTES,
                                c->stream) == CUBLAS_STATUS_SUCCESS;
        ok = ok && cudaEventRecord(ev[1], c->stream) == cudaSuccess &&
             cudaEventSynchronize(ev[1]) == cudaSuccess;
        float ms = 0.f;
        if (ok && cudaEventElapsedTime(&ms, ev[0], ev[1]) == cudaSuccess && ms < best) {
            best = ms;
            p->algo = p->cand[i];
        }
        (void)cudaGetLastError(); /* a failed candidate leaves no error behind */
    }
out:
    for (int i = 0; i < 2; i++)
        if (ev[i])
            cudaEventDestroy(ev[i]);
}

/* y = x · wᵀ (+ bias, + relu per epi) (+ C). x is in compute precision.
 * Returns false when no plan exists for this epilogue (nothing enqueued). */
static bool gemm(ft_nn_cuda *c, int m, int n, int k, const void *x, int ldx, const void *w,
                 const float *bias, cublasLtEpilogue_t epi, const float *cm, int ldc, float *y,
                 int ldy)
{
    int align = ptr_align(x);
    int a2 = ptr_align(w);
    align = a2 < align ? a2 : align;
    a2 = ptr_align(y);
    align = a2 < align ? a2 : align;
    if (cm) {
        a2 = ptr_align(cm);
        align = a2 < align ? a2 : align;
    }
    gemm_plan *p = gemm_plan_get(c, m, n, k, ldx, ldc, ldy, epi, cm != NULL, align);
    if (!p)
        return false;
    if (bias) {
        cublasStatus_t s = cublasLtMatmulDescSetAttribute(
            p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
        if (s != CUBLAS_STATUS_SUCCESS) {
            fail_blas(c, s, "GEMM bias");
            return true;
        }
    }
    if (!p->timed && !c->capturing)
        gemm_time(c, p, x, w, cm, m, ldy);
    float alpha = 1.f, beta = cm ? 1.f : 0.f;
    cublasStatus_t s = cublasLtMatmul(c->lt, p->desc, &alpha, w, p->la, x, p->lb, &beta,
                                      cm ? (const void *)cm : (const void *)y, p->lc, y, p->ld,
                                      &p->algo, c->workspace, WORKSPACE_BYTES, c->stream);
    fail_blas(c, s, "cublasLtMatmul");
    return true;
}

static void shadows_clear(ft_nn_cuda *c)
{
    for (int i = 0; i < c->nshadows; i++) {
        dev_free(c, c->shadows[i].w2);
        dev_free(c, c->shadows[i].bias2);
    }
    c->nshadows = 0;
}

static bool in_range(const void *x, const char *lo, const char *hi)
{
    return x && (const char *)x >= lo && (const char *)x < hi;
}

/* Drop the weight copies made from anything in [p, p + bytes). Cheap when
 * nothing matches (a scan of the table), which is the per-frame case of
 * input uploads; the stream is synchronised before a copy is freed. */
static void shadows_forget(ft_nn_cuda *c, const void *p, size_t bytes)
{
    const char *lo = p, *hi = lo + bytes;
    bool synced = false;
    for (int i = 0; i < c->nshadows;) {
        shadow *s = &c->shadows[i];
        if (!in_range(s->w, lo, hi) && !in_range(s->scale, lo, hi) && !in_range(s->bias, lo, hi)) {
            i++;
            continue;
        }
        if (!synced) {
            fail_cuda(c, cudaStreamSynchronize(c->stream), "synchronize before freeing a copy");
            /* captured graphs read the copy by address */
            graphs_invalidate(c);
            synced = true;
        }
        dev_free(c, s->w2);
        dev_free(c, s->bias2);
        c->shadows[i] = c->shadows[--c->nshadows];
    }
}

static void graphs_clear(ft_nn_cuda *c)
{
    for (int i = 0; i < c->ngraphs; i++)
        if (c->graphs[i].exec)
            cudaGraphExecDestroy(c->graphs[i].exec);
    c->ngraphs = 0;
}

/* Out of memory for the f16 weight copies: the spec's recovery is to carry
 * on in FP32, which here needs no copies at all (the f32 weights are used as
 * uploaded), so it frees memory rather than taking more. Plans and graphs
 * were made for f16 operands and are dropped. */
static void switch_to_fp32(ft_nn_cuda *c)
{
    FT_LOGW("cuda", "out of GPU memory for the FP16 weight copies: continuing in FP32 "
                    "(slower, less memory)");
    fail_cuda(c, cudaStreamSynchronize(c->stream), "synchronize before FP32 switch");
    shadows_clear(c);
    for (int i = 0; i < c->nplans; i++)
        plan_destroy(&c->plans[i]);
    c->nplans = 0;
    graphs_clear(c);
    dev_free(c, c->x16); /* FP32 GEMMs read the activations directly */
    c->x16 = NULL;
    c->x16_cap = 0;
    dev_free(c, c->m16);
    c->m16 = NULL;
    c->m16_cap = 0;
    mirror_drop(c);
    c->fp32 = true;
}

/* The f16 copy of a weight (and of its bias when a scale is folded in),
 * made on first use; in FP32 mode only the lookup entry (no copy). */
static const shadow *shadow_get(ft_nn_cuda *c, int n, int k, const float *w, const float *scale,
                                const float *bias)
{
    for (int i = 0; i < c->nshadows; i++) {
        shadow *s = &c->shadows[i];
        if (s->w == w && s->scale == scale && s->bias == bias && s->n == n && s->k == k)
            return s;
    }
    if (c->capturing) {
        c->capture_broken = true;
        return NULL;
    }
    if (c->nshadows == c->shadow_cap) {
        int cap = c->shadow_cap ? 2 * c->shadow_cap : 64;
        shadow *ns = realloc(c->shadows, (size_t)cap * sizeof(*ns));
        if (!ns) {
            if (!c->err)
                c->err = FT_ERR_NOMEM;
            return NULL;
        }
        c->shadows = ns;
        c->shadow_cap = cap;
    }
    shadow s = {w, scale, bias, n, k, NULL, NULL};
    cudaError_t e = cudaSuccess;
    if (!c->fp32) { /* FP32 GEMMs read the weights as uploaded */
        e = dev_malloc(c, &s.w2, (size_t)n * k * 2);
        if (e == cudaSuccess && scale && bias)
            e = dev_malloc(c, (void **)&s.bias2, (size_t)n * sizeof(float));
        if (e == cudaSuccess)
            e = ft_cuda_weight_prepare(n, k, w, scale, s.w2, bias, s.bias2, c->stream);
    }
    if (e == cudaErrorMemoryAllocation && !c->fp32) {
        (void)cudaGetLastError();
        dev_free(c, s.w2);
        dev_free(c, s.bias2);
        switch_to_fp32(c);
        return shadow_get(c, n, k, w, scale, bias);
    }
    if (e != cudaSuccess) {
        dev_free(c, s.w2);
        dev_free(c, s.bias2);
        fail_cuda(c, e, "weight shadow");
        return NULL;
    }
    c->shadows[c->nshadows] = s;
    return &c->shadows[c->nshadows++];
}

static void linear_enqueue(ft_nn_cuda *c, const ft_nn_linear_args *a)
{
    /* The layer-scale folds into the f16 weights only when it multiplies the
     * plain product: y = res + (scale ⊙ w) x + scale ⊙ b. FP32 mode never
     * folds: it is the low-memory fallback, so it keeps no weight copies at
     * all and applies the scale in the epilogue pass instead. */
    bool fold = !c->fp32 && a->res && a->scale && a->act == FT_NN_ACT_NONE;
    const shadow *sh =
        shadow_get(c, a->n, a->k, a->w, fold ? a->scale : NULL, fold ? a->bias : NULL);
    if (!sh)
        return;
    fold = fold && !c->fp32; /* shadow_get may have switched to FP32 (out of memory) */
    const void *w = sh->w2 ? sh->w2 : (const void *)a->w;
    const float *bias = fold && sh->bias2 ? sh->bias2 : a->bias;

    const void *x = a->x;
    int ldx = a->ldx;
    const void *hit = c->fp32 ? NULL : mirror_find(c, a->x, a->m, a->k, a->ldx);
    if (hit) {
        x = hit; /* the producer already wrote the f16 copy */
        ldx = a->k;
    } else if (!c->fp32) {
        void *x16 = scratch(c, &c->x16, &c->x16_cap, (size_t)a->m * a->k * 2);
        if (!x16)
            return;
        int ps = prof_begin(c);
        fail_cuda(c, ft_cuda_f32_to_f16(a->m, a->k, a->x, a->ldx, x16, c->stream), "f32_to_f16");
        prof_end(c, ps, "- to f16");
        x = x16;
        ldx = a->k;
    }
    /* y never aliases x, but may overlap the source of a copy kept for later */
    mirror_touch(c, a->y, a->m, a->ldy);

    /* a residual is cuBLASLt's C operand (beta = 1) when nothing applies to
     * the product alone: no layer-scale (or one folded into the weights) and
     * no activation; y = res + (x wᵀ + bias) needs no pass of its own then */
    bool res_in_gemm = a->res && (fold || (!a->scale && a->act == FT_NN_ACT_NONE));
    if (!a->res || res_in_gemm) {
        /* bias and ReLU in the GEMM epilogue; GELU/SiLU (exact forms) after */
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
        if (a->act == FT_NN_ACT_RELU)
            epi = bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
        else if (bias)
            epi = CUBLASLT_EPILOGUE_BIAS;
        if (gemm(c, a->m, a->n, a->k, x, ldx, w, bias, epi, a->res, a->ldres, a->y, a->ldy)) {
            if (a->act == FT_NN_ACT_GELU || a->act == FT_NN_ACT_SILU) {
                /* stream order: the GEMM has read m16 before this rewrites it */
                void *y16 = mirror_buffer(c, a->m, a->n);
                int ps = prof_begin(c);
                fail_cuda(c,
                          ft_cuda_epilogue(a->m, a->n, a->y, a->ldy, NULL, a->act, NULL, 0, NULL,
                                           a->y, a->ldy, y16, c->stream),
                          "activation");
                prof_end(c, ps, "- gelu/silu");
                if (y16)
                    mirror_set(c, a->y, a->m, a->n, a->ldy);
            }
            return;
        }
        if (c->err || c->capture_broken)
            return;
    }
    /* general case (or no fused plan): plain product, then one epilogue pass */
    float *t = scratch(c, (void **)&c->tmp, &c->tmp_cap, (size_t)a->m * a->n * sizeof(float));
    if (!t)
        return;
    if (!gemm(c, a->m, a->n, a->k, x, ldx, w, NULL, CUBLASLT_EPILOGUE_DEFAULT, NULL, 0, t, a->n)) {
        if (!c->err && !c->capture_broken)
            fail_blas(c, CUBLAS_STATUS_NOT_SUPPORTED, "no cuBLASLt algorithm for linear");
        return;
    }
    /* with a folded layer-scale, w and bias already carry it */
    int ps = prof_begin(c);
    fail_cuda(c,
              ft_cuda_epilogue(a->m, a->n, t, a->n, bias, a->act, a->res, a->ldres,
                               fold ? NULL : a->scale, a->y, a->ldy, NULL, c->stream),
              "linear epilogue");
    prof_end(c, ps, "- epilogue pass");
}

static void cuda_linear(ft_nn_backend *be, const ft_nn_linear_args *a)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    int ps = prof_begin(c);
    linear_enqueue(c, a);
    prof_end(c, ps, a->res ? "linear+residual" : "linear");
}

/* ---- the other operators: thin wrappers over the kernels ---- */

#define ENQUEUE(c, call, what)                                                                     \
    do {                                                                                           \
        mirror_drop(c);                                                                            \
        if (!(c)->err) {                                                                           \
            int ps_ = prof_begin(c);                                                               \
            fail_cuda((c), (call), (what));                                                        \
            prof_end((c), ps_, (what));                                                            \
        }                                                                                          \
    } while (0)

static void cuda_layernorm(ft_nn_backend *be, int m, int n, const float *x, int ldx,
                           const float *gamma, const float *beta, float eps, ft_nn_act act,
                           float *y, int ldy)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    void *y16 = mirror_buffer(c, m, n);
    if (c->err)
        return;
    int ps = prof_begin(c);
    fail_cuda(c, ft_cuda_layernorm(m, n, x, ldx, gamma, beta, eps, act, y, ldy, y16, c->stream),
              "layernorm");
    prof_end(c, ps, "layernorm");
    if (y16)
        mirror_set(c, y, m, n, ldy);
}

static void cuda_attention(ft_nn_backend *be, const ft_nn_attention_args *a)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    void *o16 = ft_cuda_attention_fast(a, !c->fp32)
                    ? mirror_buffer(c, a->batch * a->lq, a->heads * a->dh)
                    : NULL;
    mirror_drop(c);
    if (c->err)
        return;
    int ps = prof_begin(c);
    fail_cuda(c, ft_cuda_attention(a, !c->fp32, o16, c->stream), "attention");
    prof_end(c, ps, "attention");
    if (o16)
        mirror_set(c, a->out, a->batch * a->lq, a->heads * a->dh, a->ldo);
}

static void cuda_msda(ft_nn_backend *be, const ft_nn_msda_args *a)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    /* the output projection reads the f16 copy written alongside */
    int rows = (a->batch > 1 ? a->batch : 1) * a->nq, cols = a->heads * a->dh;
    void *o16 = mirror_buffer(c, rows, cols);
    if (c->err)
        return;
    int ps = prof_begin(c);
    fail_cuda(c, ft_cuda_msda(a, o16, c->stream), "msda");
    prof_end(c, ps, "msda");
    if (o16)
        mirror_set(c, a->out, rows, cols, a->ldo);
}

static void cuda_im2col(ft_nn_backend *be, const ft_nn_im2col_args *a)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    int ho = (a->h + 2 * a->pad - a->k) / a->stride + 1;
    int wo = (a->w + 2 * a->pad - a->k) / a->stride + 1;
    int rows = (a->batch > 1 ? a->batch : 1) * ho * wo, cols = a->c * a->k * a->k;
    void *y16 = mirror_buffer(c, rows, cols);
    if (c->err)
        return;
    int ps = prof_begin(c);
    fail_cuda(c, ft_cuda_im2col(a, y16, c->stream), "im2col");
    prof_end(c, ps, "im2col");
    if (y16)
        mirror_set(c, a->y, rows, cols, cols);
}

static void cuda_add(ft_nn_backend *be, int n, const float *a, const float *b, float *y)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    /* the decoder's q + pos feeds two GEMMs: one flat copy serves any block
     * of rows of it (mirror_find) */
    void *y16 = mirror_buffer(c, 1, n);
    if (c->err)
        return;
    int ps = prof_begin(c);
    fail_cuda(c, ft_cuda_add(n, a, b, y, y16, c->stream), "add");
    prof_end(c, ps, "add");
    if (y16)
        mirror_set(c, y, 1, n, n);
}

static void cuda_gather_rows(ft_nn_backend *be, int rows, int cols, const float *x, int ldx,
                             const int32_t *idx, float *y, int ldy)
{
    ft_nn_cuda *c = cu(be);
    ENQUEUE(c, ft_cuda_gather_rows(rows, cols, x, ldx, idx, y, ldy, c->stream), "gather_rows");
}

static void cuda_rowmax(ft_nn_backend *be, int m, int n, const float *x, int ldx, float *y)
{
    ft_nn_cuda *c = cu(be);
    ENQUEUE(c, ft_cuda_rowmax(m, n, x, ldx, y, c->stream), "rowmax");
}

static void cuda_topk(ft_nn_backend *be, int batch, int n, int k, const float *x, int32_t *idx,
                      float *val)
{
    ft_nn_cuda *c = cu(be);
    if (batch <= 0 || k <= 0) { /* nothing to select, as on the CPU (no empty grid launch) */
        mirror_drop(c);
        return;
    }
    /* the indices are int32 into the whole input */
    if (k > FT_CUDA_TOPK_MAX || k > n || (int64_t)batch * n > INT32_MAX) {
        if (!c->err) {
            c->err = FT_ERR_INVALID;
            FT_LOGE("cuda",
                    "topk: k = %d exceeds n = %d or the limit %d, or %d rows of %d "
                    "exceed int32 indices",
                    k, n, FT_CUDA_TOPK_MAX, batch, n);
        }
        return;
    }
    ENQUEUE(c, ft_cuda_topk(batch, n, k, x, idx, val, c->stream), "topk");
}

static void cuda_box_refine(ft_nn_backend *be, int m, const float *d, int ldd, const float *r,
                            const int32_t *ridx, float *y)
{
    ft_nn_cuda *c = cu(be);
    ENQUEUE(c, ft_cuda_box_refine(m, d, ldd, r, ridx, y, c->stream), "box_refine");
}

static void cuda_sine_embed(ft_nn_backend *be, int m, int dim, const float *box, float *y)
{
    ft_nn_cuda *c = cu(be);
    ENQUEUE(c, ft_cuda_sine_embed(m, dim, box, y, c->stream), "sine_embed");
}

/* ---- execution ---- */

static ft_status cuda_sync(ft_nn_backend *be)
{
    ft_nn_cuda *c = cu(be);
    fail_cuda(c, cudaStreamSynchronize(c->stream), "stream synchronize");
    if (c->profile)
        prof_collect(c);
    return c->err;
}

static graph_entry *graph_find(ft_nn_cuda *c, ft_nn_record_fn fn, void *user)
{
    for (int i = 0; i < c->ngraphs; i++)
        if (c->graphs[i].fn == fn && c->graphs[i].user == user)
            return &c->graphs[i];
    if (c->ngraphs == MAX_GRAPHS)
        return NULL;
    graph_entry *g = &c->graphs[c->ngraphs++];
    memset(g, 0, sizeof(*g));
    g->fn = fn;
    g->user = user;
    return g;
}

/* Capture fn into g->exec. Returns false (nothing enqueued, no error) when
 * the recorder needed something only an eager run can do. */
static bool graph_capture(ft_nn_cuda *c, graph_entry *g, ft_nn_record_fn fn, void *user)
{
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        fail_cuda(c, e, "graph capture begin");
        return false;
    }
    c->capturing = true;
    c->capture_broken = false;
    fn(&c->base, user);
    c->capturing = false;
    e = cudaStreamEndCapture(c->stream, &graph);
    if (e != cudaSuccess || c->err || c->capture_broken) {
        /* the recorded operators never ran: an f16 copy they noted as
         * written is not there for the eager pass that follows */
        mirror_drop(c);
        if (graph)
            cudaGraphDestroy(graph);
        if (c->capture_broken)
            FT_LOGW("cuda", "graph capture needed new buffers or plans: this pass runs eagerly");
        if (e != cudaSuccess && !c->capture_broken)
            fail_cuda(c, e, "graph capture end");
        (void)cudaGetLastError();
        return false;
    }
    size_t nodes = 0;
    if (cudaGraphGetNodes(graph, NULL, &nodes) == cudaSuccess)
        FT_LOGI("cuda", "forward pass captured as a CUDA graph of %zu nodes", nodes);
    e = cudaGraphInstantiate(&g->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        g->exec = NULL;
        fail_cuda(c, e, "graph instantiate");
        return false;
    }
    return true;
}

static ft_status cuda_run(ft_nn_backend *be, ft_nn_record_fn fn, void *user, int flags)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return c->err;
    if (c->profile)
        c->pforwards++;
    graph_entry *g = (flags & FT_NN_RUN_EAGER) || c->profile ? NULL : graph_find(c, fn, user);
    if (g && g->exec) {
        fail_cuda(c, cudaGraphLaunch(g->exec, c->stream), "graph launch");
        return c->err;
    }
    if (g && g->runs > 0 && g->failed_captures < 2) {
        if (graph_capture(c, g, fn, user)) {
            fail_cuda(c, cudaGraphLaunch(g->exec, c->stream), "graph launch");
            return c->err;
        }
        /* a capture that needed new buffers is retried once after the eager
         * pass below made them; a recorder that keeps changing stays eager
         * rather than being recorded twice per pass */
        if (++g->failed_captures == 2)
            FT_LOGW("cuda", "forward pass not captured twice: running it eagerly from now on");
    }
    if (c->err)
        return c->err;
    /* profiling: the GPU waits while the host enqueues the pass, so each
     * event pair times its operator alone, without host gaps */
    if (c->profile)
        fail_cuda(c, ft_cuda_spin(PROF_SPIN_NS, c->stream), "profile spin");
    fn(be, user);
    if (g)
        g->runs++;
    return c->err;
}

/* ---- pre-processing (optional operator) ---- */

/* Zero-copy: the kernel reads the frame's NVDEC surface (device 0, primary
 * context; src/core/image.h). FFmpeg's nvdec hands a frame out after
 * cuvidMapVideoFrame, whose post-processing into the mapped surface is
 * queued on the stream of FFmpeg's CUDA device context, which FFmpeg leaves
 * NULL: the context's legacy default stream. Our stream is a non-blocking
 * one, which does not wait for the legacy stream by itself, so it waits for
 * an event recorded there now (after that work, since the frame came out of
 * the decoder before this call), without blocking the host. */
static void device_frame_to_tensor(ft_nn_cuda *c, const ft_image *frame, int out_w, int out_h,
                                   const float mean[3], const float std[3], float *y)
{
    if (!c->surface_ready)
        fail_cuda(c, cudaEventCreateWithFlags(&c->surface_ready, cudaEventDisableTiming),
                  "decoded frame (event)");
    if (!c->err)
        fail_cuda(c, cudaEventRecord(c->surface_ready, cudaStreamLegacy), "decoded frame (event)");
    if (!c->err)
        fail_cuda(c, cudaStreamWaitEvent(c->stream, c->surface_ready, 0), "decoded frame (wait)");
    ft_cuda_frame f = {
        .width = frame->width,
        .height = frame->height,
        .nv12 = 1,
        .plane = {frame->dev_data[0], frame->dev_data[1], NULL},
        .stride = {frame->dev_stride[0], frame->dev_stride[1], 0},
    };
    ENQUEUE(c, ft_cuda_preprocess(&f, out_w, out_h, mean, std, y, c->stream), "preprocess");
}

static void cuda_image_to_tensor(ft_nn_backend *be, const ft_image *frame, int out_w, int out_h,
                                 const float mean[3], const float std[3], float *y)
{
    ft_nn_cuda *c = cu(be);
    if (c->err)
        return;
    if (frame->dev_data[0] && frame->format == FT_PIX_NV12 && c->device == 0) {
        device_frame_to_tensor(c, frame, out_w, out_h, mean, std, y);
        return;
    }
    bool nv12 = frame->format == FT_PIX_NV12;
    int cw = (frame->width + 1) / 2, ch = (frame->height + 1) / 2;
    size_t ybytes = (size_t)frame->width * frame->height;
    size_t cbytes = nv12 ? (size_t)cw * 2 * ch : (size_t)cw * ch;
    size_t total = ybytes + cbytes * (nv12 ? 1 : 2);
    /* pack the planes tightly into pinned memory, then one async copy */
    staging *s = &c->stage[c->next_stage];
    c->next_stage = (c->next_stage + 1) % STAGING_SLOTS;
    if (s->pending) {
        fail_cuda(c, cudaEventSynchronize(s->done), "frame upload (staging wait)");
        s->pending = false;
    }
    if (s->cap < total) {
        cudaFreeHost(s->host);
        s->host = NULL;
        s->cap = 0;
        cudaError_t e = cudaMallocHost(&s->host, total);
        if (e != cudaSuccess) {
            s->host = NULL;
            fail_cuda(c, e, "pinned frame buffer");
            return;
        }
        s->cap = total;
    }
    if (!scratch(c, &c->frame_dev, &c->frame_cap, total))
        return;
    uint8_t *h = s->host;
    int rows[3] = {frame->height, ch, ch};
    size_t widths[3] = {(size_t)frame->width, nv12 ? (size_t)cw * 2 : (size_t)cw, (size_t)cw};
    int planes = nv12 ? 2 : 3;
    size_t off = 0, sent = 0, offs[3] = {0, 0, 0};
    uint8_t *d = c->frame_dev;
    int ps = prof_begin(c);
    /* each packed chunk is sent while the next is packed, so the host copy
     * and the DMA overlap */
    for (int p = 0; p < planes; p++) {
        offs[p] = off;
        for (int r = 0; r < rows[p]; r++) {
            memcpy(h + off, frame->data[p] + (size_t)r * frame->stride[p], widths[p]);
            off += widths[p];
            if (off - sent >= FRAME_CHUNK_BYTES || off == total) {
                fail_cuda(c,
                          cudaMemcpyAsync(d + sent, h + sent, off - sent, cudaMemcpyHostToDevice,
                                          c->stream),
                          "frame upload");
                sent = off;
            }
        }
    }
    prof_end(c, ps, "frame upload");
    fail_cuda(c, cudaEventRecord(s->done, c->stream), "frame upload (event)");
    s->pending = true;
    ft_cuda_frame f = {
        .width = frame->width,
        .height = frame->height,
        .nv12 = nv12,
        .plane = {d + offs[0], d + offs[1], nv12 ? NULL : d + offs[2]},
        .stride = {(int)widths[0], (int)widths[1], nv12 ? 0 : (int)widths[2]},
    };
    ENQUEUE(c, ft_cuda_preprocess(&f, out_w, out_h, mean, std, y, c->stream), "preprocess");
}

/* ---- lifecycle ---- */

static void cuda_destroy(ft_nn_backend *be)
{
    ft_nn_cuda *c = cu(be);
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->profile) {
        prof_collect(c);
        prof_report(c);
    }
    for (int i = 0; c->pev && i < 2 * PROF_EVENTS; i++)
        if (c->pev[i])
            cudaEventDestroy(c->pev[i]);
    free(c->pev);
    free(c->pname);
    graphs_clear(c);
    for (int i = 0; i < c->nplans; i++)
        plan_destroy(&c->plans[i]);
    shadows_clear(c);
    free(c->shadows);
    for (int i = 0; i < STAGING_SLOTS; i++) {
        cudaFreeHost(c->stage[i].host);
        if (c->stage[i].done)
            cudaEventDestroy(c->stage[i].done);
    }
    dev_free(c, c->x16);
    dev_free(c, c->m16);
    dev_free(c, c->tmp);
    dev_free(c, c->frame_dev);
    if (c->surface_ready)
        cudaEventDestroy(c->surface_ready);
    dev_free(c, c->workspace);
    free(c->blocks);
    if (c->lt)
        cublasLtDestroy(c->lt);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

static const ft_nn_backend_ops cuda_ops = {
    .name = "cuda",
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .run = cuda_run,
    .sync = cuda_sync,
    .linear = cuda_linear,
    .layernorm = cuda_layernorm,
    .attention = cuda_attention,
    .msda = cuda_msda,
    .im2col = cuda_im2col,
    .add = cuda_add,
    .gather_rows = cuda_gather_rows,
    .rowmax = cuda_rowmax,
    .topk = cuda_topk,
    .box_refine = cuda_box_refine,
    .sine_embed = cuda_sine_embed,
    .image_to_tensor = cuda_image_to_tensor,
};

/* Parse "cuda" or "cuda:N" ("auto", tried first by ft_nn_backend_create,
 * means the first GPU). */
static ft_status parse_device(const char *dev, int *index)
{
    *index = 0;
    if (!dev || !strcmp(dev, "cuda") || !strcmp(dev, "auto"))
        return FT_OK;
    if (strncmp(dev, "cuda:", 5) != 0)
        goto bad;
    char *end = NULL;
    long v = strtol(dev + 5, &end, 10);
    if (end == dev + 5 || *end != '\0' || v < 0 || v > 255)
        goto bad;
    *index = (int)v;
    return FT_OK;
bad:
    FT_LOGE("cuda", "device '%s': expected cuda or cuda:N", dev);
    return FT_ERR_CONFIG;
}

ft_status ft_nn_cuda_backend_create(const ft_nn_backend_params *params, ft_nn_backend **out)
{
    ft_status st = FT_OK;
    ft_nn_cuda *c = NULL;
    *out = NULL;
    int index = 0;
    st = parse_device(params ? params->device : NULL, &index);
    if (st)
        goto out;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        /* with "auto" this is the expected answer on a machine without a GPU */
        ft_log(params && params->device && !strcmp(params->device, "auto") ? FT_LOG_INFO
                                                                           : FT_LOG_ERROR,
               "cuda", "no usable CUDA device: %s",
               e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
        (void)cudaGetLastError();
        st = FT_ERR_GPU;
        goto out;
    }
    if (index >= count) {
        FT_LOGE("cuda", "device cuda:%d requested but only %d CUDA device(s) present", index,
                count);
        st = FT_ERR_GPU;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    c->base.ops = &cuda_ops;
    c->device = index;
    const char *prec = getenv("FT_CUDA_PRECISION");
    if (prec && *prec && strcmp(prec, "fp16") && strcmp(prec, "fp32")) {
        FT_LOGE("cuda", "FT_CUDA_PRECISION='%s': expected fp16 or fp32", prec);
        st = FT_ERR_CONFIG;
        goto out;
    }
    c->fp32 = prec && !strcmp(prec, "fp32");
    const char *lim = getenv("FT_CUDA_MEMORY_LIMIT_MB");
    if (lim && *lim) {
        char *end = NULL;
        long mb = strtol(lim, &end, 10);
        if (*end || mb < 1 || mb > 16L * 1024 * 1024) {
            FT_LOGE("cuda", "FT_CUDA_MEMORY_LIMIT_MB='%s': expected a number of MiB >= 1", lim);
            st = FT_ERR_CONFIG;
            goto out;
        }
        c->mem_limit = (size_t)mb << 20;
    }
    const char *prof = getenv("FT_CUDA_PROFILE");
    c->profile = prof && *prof && strcmp(prof, "0");
    const char *what = "cudaSetDevice";
    e = cudaSetDevice(index);
    /* Blocking sync for the primary context: FFmpeg's NVDEC shares it only
     * with exactly this scheduling flag (src/io/reader.c), and a thread that
     * sleeps while it waits for the GPU leaves the CPU to other streams'
     * decoding and encoding. Not fatal: NVDEC then keeps a context of its own. */
    if (e == cudaSuccess && cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync) != cudaSuccess) {
        FT_LOGD("cuda", "cuda:%d: blocking-sync scheduling not set", index);
        (void)cudaGetLastError();
    }
    if (e == cudaSuccess) {
        what = "cudaStreamCreate";
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    }
    if (e == cudaSuccess) {
        what = "workspace allocation";
        e = dev_malloc(c, &c->workspace, WORKSPACE_BYTES);
    }
    for (int i = 0; i < STAGING_SLOTS && e == cudaSuccess; i++) {
        what = "cudaEventCreate";
        e = cudaEventCreateWithFlags(&c->stage[i].done, cudaEventDisableTiming);
    }
    if (e != cudaSuccess) {
        FT_LOGE("cuda", "cuda:%d: %s failed: %s", index, what, cudaGetErrorString(e));
        (void)cudaGetLastError();
        st = e == cudaErrorMemoryAllocation ? FT_ERR_GPU_OOM : FT_ERR_GPU;
        goto out;
    }
    if (c->profile) {
        c->pev = calloc(2 * PROF_EVENTS, sizeof(*c->pev));
        c->pname = calloc(PROF_EVENTS, sizeof(*c->pname));
        if (!c->pev || !c->pname) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        for (int i = 0; i < 2 * PROF_EVENTS && e == cudaSuccess; i++)
            e = cudaEventCreate(&c->pev[i]);
        if (e != cudaSuccess) {
            FT_LOGE("cuda", "profiling events: %s", cudaGetErrorString(e));
            st = FT_ERR_GPU;
            goto out;
        }
    }
    cublasStatus_t bs = cublasLtCreate(&c->lt);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        FT_LOGE("cuda", "cuBLASLt initialisation failed: %s", cublasLtGetStatusString(bs));
        st = FT_ERR_GPU;
        goto out;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, index) == cudaSuccess)
        FT_LOGI("cuda", "cuda:%d %s (sm_%d%d, %zu MiB), %s", index, prop.name, prop.major,
                prop.minor, prop.totalGlobalMem >> 20,
                c->fp32 ? "FP32" : "FP16 tensor cores, f32 accumulation");
    *out = &c->base;
    c = NULL;
out:
    if (c)
        cuda_destroy(&c->base);
    return st;
}
