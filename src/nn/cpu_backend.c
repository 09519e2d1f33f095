/* The CPU backend: host memory, operators run synchronously on the calling
 * thread plus the worker threads of cpu_parallel_for.
 *
 * Threading: OpenBLAS is switched to one thread and every operator splits its
 * work itself (GEMMs by row blocks, attention by window x head). Letting
 * OpenBLAS's own pool and ours alternate leaves one of them spinning on the
 * cores the other needs; with a single owner of the cores, the epilogues
 * (bias, activation, residual) also run while the GEMM block is in cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "core/log.h"
#include "nn/cpu_internal.h"
#include "nn/threadpool.h"

#define CPU_MAX_THREADS 64

struct ft_nn_cpu {
    ft_nn_backend base;
    int threads;
    ft_nn_threadpool *pool;
    ft_status err;
    pthread_mutex_t err_lock;
    float *scratch[CPU_MAX_THREADS];
    size_t scratch_cap[CPU_MAX_THREADS];
};

int cpu_threads(const ft_nn_cpu *cpu)
{
    return cpu->threads;
}

void cpu_fail(ft_nn_cpu *cpu, ft_status st)
{
    pthread_mutex_lock(&cpu->err_lock);
    if (cpu->err == FT_OK)
        cpu->err = st;
    pthread_mutex_unlock(&cpu->err_lock);
}

float *cpu_scratch(ft_nn_cpu *cpu, int tid, size_t floats)
{
    if (cpu->scratch_cap[tid] >= floats)
        return cpu->scratch[tid];
    free(cpu->scratch[tid]);
    cpu->scratch_cap[tid] = 0;
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    cpu->scratch[tid] = aligned_alloc(64, bytes);
    if (!cpu->scratch[tid]) {
        cpu_fail(cpu, FT_ERR_NOMEM);
        return NULL;
    }
    cpu->scratch_cap[tid] = floats;
    return cpu->scratch[tid];
}

void cpu_parallel_for(ft_nn_cpu *cpu, int64_t n, int64_t grain, cpu_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    ft_nn_threadpool_for(cpu->pool, n, grain, fn, ctx);
}

static ft_status cpu_alloc(ft_nn_backend *be, size_t bytes, ft_nn_mem kind, void **ptr)
{
    (void)be;
    (void)kind;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    *ptr = aligned_alloc(64, rounded ? rounded : 64);
    if (!*ptr) {
        FT_LOGE("nn", "cpu: cannot allocate %zu bytes", bytes);
        return FT_ERR_NOMEM;
    }
    return FT_OK;
}

static void cpu_free(ft_nn_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

static void cpu_upload(ft_nn_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    memcpy(dst, src, bytes);
}

static ft_status cpu_download(ft_nn_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    memcpy(dst, src, bytes);
    return FT_OK;
}

static ft_status cpu_sync(ft_nn_backend *be)
{
    ft_nn_cpu *cpu = (ft_nn_cpu *)be;
    pthread_mutex_lock(&cpu->err_lock);
    ft_status st = cpu->err;
    cpu->err = FT_OK;
    pthread_mutex_unlock(&cpu->err_lock);
    return st;
}

static ft_status cpu_run(ft_nn_backend *be, ft_nn_record_fn fn, void *user, int flags)
{
    (void)flags; /* the CPU always runs eagerly */
    fn(be, user);
    return cpu_sync(be);
}

static void cpu_destroy(ft_nn_backend *be)
{
    ft_nn_cpu *cpu = (ft_nn_cpu *)be;
    ft_nn_threadpool_destroy(&cpu->pool);
    for (int i = 0; i < CPU_MAX_THREADS; i++)
        free(cpu->scratch[i]);
    pthread_mutex_destroy(&cpu->err_lock);
    free(cpu);
}

static const ft_nn_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .run = cpu_run,
    .sync = cpu_sync,
    .linear = cpu_linear,
    .layernorm = cpu_layernorm,
    .attention = cpu_attention,
    .msda = cpu_msda,
    .im2col = cpu_im2col,
    .add = cpu_add,
    .gather_rows = cpu_gather_rows,
    .rowmax = cpu_rowmax,
    .topk = cpu_topk,
    .box_refine = cpu_box_refine,
    .sine_embed = cpu_sine_embed,
};

ft_status ft_nn_cpu_backend_create(const ft_nn_backend_params *params, ft_nn_backend **out)
{
    ft_status st = FT_OK;
    ft_nn_cpu *cpu = calloc(1, sizeof(*cpu));
    if (!cpu)
        return FT_ERR_NOMEM;
    cpu->base.ops = &cpu_ops;
    pthread_mutex_init(&cpu->err_lock, NULL);
    int threads = ft_nn_threads_resolve(params ? params->threads : 0);
    if (threads > CPU_MAX_THREADS)
        threads = CPU_MAX_THREADS;
    cpu->threads = threads;
    if (threads > 1) {
        st = ft_nn_threadpool_create(threads, &cpu->pool);
        if (st)
            goto out;
    }
    /* Our workers own the cores; each calls a single-threaded sgemm. */
    openblas_set_num_threads(1);
    FT_LOGD("nn", "cpu backend: %d threads", threads);
    *out = &cpu->base;
out:
    if (st)
        cpu_destroy(&cpu->base);
    return st;
}
