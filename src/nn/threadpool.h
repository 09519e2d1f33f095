/* A small persistent thread pool for the operators. The calling thread takes
 * part in every job, so a pool of N threads starts N-1 workers. Workers spin
 * briefly after a job (operators come back to back during a forward pass)
 * and then sleep on a condition variable, so an idle pool costs nothing.
 *
 * Oversubscription policy: our pool owns the cores. Code that calls OpenBLAS
 * from pool tasks sets OpenBLAS to one thread (openblas_set_num_threads(1)),
 * as the CPU backend does; otherwise each of our N threads would fan out to N
 * OpenBLAS threads on the same cores. See docs/nn.md. */
#ifndef FT_NN_THREADPOOL_H
#define FT_NN_THREADPOOL_H

#include <stdint.h>

#include "core/status.h"

#define FT_NN_MAX_THREADS 256

typedef struct ft_nn_threadpool ft_nn_threadpool;

/* The thread count to use: `configured` when > 0, else FT_THREADS, else
 * OMP_NUM_THREADS, else the CPUs this process may run on. Environment values
 * that are not positive integers are ignored with a warning. Result in
 * [1, FT_NN_MAX_THREADS]. */
int ft_nn_threads_resolve(int configured);

/* Create a pool of `threads` threads in total (the caller plus threads-1
 * workers); threads is clamped to [1, FT_NN_MAX_THREADS]. *out is
 * returned-owned. */
FT_NODISCARD ft_status ft_nn_threadpool_create(int threads, ft_nn_threadpool **out);

/* Stop and join the workers. NULL-safe; sets *pool to NULL. */
void ft_nn_threadpool_destroy(ft_nn_threadpool **pool);

/* Total threads (workers + caller). */
int ft_nn_threadpool_size(const ft_nn_threadpool *pool);

/* Run fn(arg, i) once for every i in [0, ntasks) and return when all are
 * done. Tasks are handed out dynamically; each index runs exactly once, so
 * an index may name per-task scratch. pool may be NULL (runs inline). A call
 * made from inside a task runs inline too. Calls from several threads on one
 * pool are serialised. */
typedef void (*ft_nn_task_fn)(void *arg, int index);
void ft_nn_threadpool_run(ft_nn_threadpool *pool, int ntasks, ft_nn_task_fn fn, void *arg);

/* Parallel for over [0, n) in chunks of `grain` items (grain <= 0 picks about
 * four chunks per thread). fn(ctx, tid, begin, end) gets the thread's index
 * tid in [0, size), stable for the duration of the call, for per-thread
 * scratch. pool may be NULL (runs inline as tid 0). */
typedef void (*ft_nn_range_fn)(void *ctx, int tid, int64_t begin, int64_t end);
void ft_nn_threadpool_for(ft_nn_threadpool *pool, int64_t n, int64_t grain, ft_nn_range_fn fn,
                          void *ctx);

#endif
