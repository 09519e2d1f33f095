#include "nn/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a thread polls before sleeping: long enough to catch the next
 * operator of a forward pass (a few microseconds apart), short enough not to
 * burn a shared core when the pool is idle. A pause takes 10 to 140 cycles
 * depending on the CPU (about 40 ns on the dev VM's Xeon), so this is some
 * 5 to 50 microseconds. */
#define SPIN_ITERATIONS 1000

typedef struct worker {
    struct ft_nn_threadpool *pool;
    int tid;
    pthread_t thread;
} worker;

struct ft_nn_threadpool {
    int size;
    int nworkers;
    worker *workers;
    pthread_mutex_t run_lock; /* one job at a time */
    pthread_mutex_t lock;     /* guards sleeping and waking */
    pthread_cond_t wake, done;
    _Atomic uint64_t generation;
    _Atomic bool stop;
    /* The current job (written before generation is bumped). */
    ft_nn_task_fn task_fn;
    void *task_arg;
    ft_nn_range_fn range_fn;
    void *range_ctx;
    int64_t n, grain, nchunks;
    _Atomic int64_t next;
    _Atomic int pending; /* workers that have not finished the job */
};

/* Set while a thread executes a job, so nested calls run inline instead of
 * waiting for themselves. */
static _Thread_local bool tl_in_job;

static void do_work(ft_nn_threadpool *p, int tid)
{
    tl_in_job = true;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (c >= p->nchunks)
            break;
        if (p->task_fn) {
            p->task_fn(p->task_arg, (int)c);
        } else {
            int64_t begin = c * p->grain;
            int64_t end = begin + p->grain < p->n ? begin + p->grain : p->n;
            p->range_fn(p->range_ctx, tid, begin, end);
        }
    }
    tl_in_job = false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ft_nn_threadpool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_ITERATIONS; i++) {
            if (atomic_load(&p->generation) != seen || atomic_load(&p->stop))
                break;
            CPU_RELAX();
        }
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
            pthread_cond_wait(&p->wake, &p->lock);
        pthread_mutex_unlock(&p->lock);
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load(&p->generation);
        do_work(p, w->tid);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

static void dispatch(ft_nn_threadpool *p)
{
    atomic_store(&p->next, 0);
    atomic_store(&p->pending, p->nworkers);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    do_work(p, 0);
    for (int i = 0; i < SPIN_ITERATIONS && atomic_load(&p->pending) > 0; i++)
        CPU_RELAX();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
}

void ft_nn_threadpool_run(ft_nn_threadpool *p, int ntasks, ft_nn_task_fn fn, void *arg)
{
    if (ntasks <= 0)
        return;
    if (!p || p->nworkers == 0 || ntasks == 1 || tl_in_job) {
        for (int i = 0; i < ntasks; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    p->task_fn = fn;
    p->task_arg = arg;
    p->range_fn = NULL;
    p->nchunks = ntasks;
    dispatch(p);
    pthread_mutex_unlock(&p->run_lock);
}

void ft_nn_threadpool_for(ft_nn_threadpool *p, int64_t n, int64_t grain, ft_nn_range_fn fn,
                          void *ctx)
{
    if (n <= 0)
        return;
    int size = p ? p->size : 1;
    if (grain <= 0) {
        grain = n / ((int64_t)size * 4);
        if (grain < 1)
            grain = 1;
    }
    int64_t nchunks = (n + grain - 1) / grain;
    if (!p || p->nworkers == 0 || nchunks == 1 || tl_in_job) {
        fn(ctx, 0, 0, n);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    p->task_fn = NULL;
    p->range_fn = fn;
    p->range_ctx = ctx;
    p->n = n;
    p->grain = grain;
    p->nchunks = nchunks;
    dispatch(p);
    pthread_mutex_unlock(&p->run_lock);
}

int ft_nn_threadpool_size(const ft_nn_threadpool *p)
{
    return p ? p->size : 1;
}

ft_status ft_nn_threadpool_create(int threads, ft_nn_threadpool **out)
{
    *out = NULL;
    if (threads < 1)
        threads = 1;
    if (threads > FT_NN_MAX_THREADS)
        threads = FT_NN_MAX_THREADS;
    ft_nn_threadpool *p = calloc(1, sizeof(*p));
    if (!p)
        return FT_ERR_NOMEM;
    p->size = threads;
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    ft_status st = FT_OK;
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof(*p->workers));
        if (!p->workers) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        for (int i = 0; i < threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].tid = i + 1;
            int rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
            if (rc) {
                FT_LOGE("nn", "threadpool: cannot start thread %d of %d: error %d", i + 2, threads,
                        rc);
                st = FT_ERR_RUNTIME;
                goto out;
            }
            p->nworkers++;
        }
    }
out:
    if (st) {
        ft_nn_threadpool_destroy(&p);
        return st;
    }
    *out = p;
    return FT_OK;
}

void ft_nn_threadpool_destroy(ft_nn_threadpool **pp)
{
    if (!pp || !*pp)
        return;
    ft_nn_threadpool *p = *pp;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i].thread, NULL);
    free(p->workers);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->run_lock);
    free(p);
    *pp = NULL;
}

/* A positive integer from the environment, or 0 when unset or invalid. */
static int env_threads(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    /* OMP_NUM_THREADS may be a list ("4,2") for nested levels: use the first. */
    if (errno || end == s || (*end && *end != ',') || v < 1) {
        FT_LOGW("nn", "ignoring %s='%s': not a positive integer", name, s);
        return 0;
    }
    return v > FT_NN_MAX_THREADS ? FT_NN_MAX_THREADS : (int)v;
}

int ft_nn_threads_resolve(int configured)
{
    if (configured > 0)
        return configured > FT_NN_MAX_THREADS ? FT_NN_MAX_THREADS : configured;
    int n = env_threads("FT_THREADS");
    if (!n)
        n = env_threads("OMP_NUM_THREADS");
    if (!n) {
        /* The affinity mask, not the machine: containers and taskset limit it. */
        cpu_set_t set;
        if (!sched_getaffinity(0, sizeof(set), &set))
            n = CPU_COUNT(&set);
        if (n < 1) {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c > 0 ? (int)c : 1;
        }
    }
    return n > FT_NN_MAX_THREADS ? FT_NN_MAX_THREADS : n;
}
