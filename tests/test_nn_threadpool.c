/* The operator thread pool: every task and every index runs exactly once,
 * thread ids stay in range, nested and concurrent callers are safe, and the
 * thread count follows configuration, FT_THREADS, OMP_NUM_THREADS. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "nn/threadpool.h"

static void test_resolve(void **state)
{
    (void)state;
    unsetenv("FT_THREADS");
    unsetenv("OMP_NUM_THREADS");
    assert_int_equal(ft_nn_threads_resolve(3), 3);
    assert_int_equal(ft_nn_threads_resolve(100000), FT_NN_MAX_THREADS);
    int cpus = ft_nn_threads_resolve(0);
    assert_true(cpus >= 1);
    setenv("OMP_NUM_THREADS", "2,1", 1);
    assert_int_equal(ft_nn_threads_resolve(0), 2);
    setenv("FT_THREADS", "5", 1);
    assert_int_equal(ft_nn_threads_resolve(0), 5); /* FT_THREADS wins */
    assert_int_equal(ft_nn_threads_resolve(7), 7); /* configuration wins */
    setenv("FT_THREADS", "five", 1);
    assert_int_equal(ft_nn_threads_resolve(0), 2); /* invalid: ignored */
    setenv("FT_THREADS", "0", 1);
    setenv("OMP_NUM_THREADS", "-3", 1);
    assert_int_equal(ft_nn_threads_resolve(0), cpus);
    unsetenv("FT_THREADS");
    unsetenv("OMP_NUM_THREADS");
}

typedef struct counts {
    _Atomic int hits[1000];
} counts;

static void count_task(void *arg, int index)
{
    counts *c = arg;
    atomic_fetch_add(&c->hits[index], 1);
}

static void test_run_each_task_once(void **state)
{
    (void)state;
    const int sizes[] = {1, 2, 4};
    for (int s = 0; s < 3; s++) {
        ft_nn_threadpool *p = NULL;
        assert_int_equal(ft_nn_threadpool_create(sizes[s], &p), FT_OK);
        assert_int_equal(ft_nn_threadpool_size(p), sizes[s]);
        static counts c;
        for (int round = 0; round < 200; round++) {
            int n = 1 + (round * 37) % 1000;
            memset(&c, 0, sizeof(c));
            ft_nn_threadpool_run(p, n, count_task, &c);
            for (int i = 0; i < 1000; i++)
                assert_int_equal(atomic_load(&c.hits[i]), i < n ? 1 : 0);
        }
        ft_nn_threadpool_destroy(&p);
        assert_null(p);
    }
    ft_nn_threadpool_destroy(NULL);
}

typedef struct range_check {
    int64_t n;
    _Atomic uint8_t *seen;
    _Atomic int bad_tid;
    int size;
} range_check;

static void mark_range(void *ctx, int tid, int64_t begin, int64_t end)
{
    range_check *r = ctx;
    if (tid < 0 || tid >= r->size || begin >= end || end > r->n)
        atomic_store(&r->bad_tid, 1);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&r->seen[i], 1);
}

static void test_for_covers_range(void **state)
{
    (void)state;
    ft_nn_threadpool *p = NULL;
    assert_int_equal(ft_nn_threadpool_create(3, &p), FT_OK);
    const int64_t n = 100003;
    _Atomic uint8_t *seen = calloc((size_t)n, 1);
    assert_non_null(seen);
    const int64_t grains[] = {0, 1, 7, 4096, n, 2 * n};
    for (int g = 0; g < 6; g++) {
        memset((void *)seen, 0, (size_t)n);
        range_check r = {.n = n, .seen = seen, .size = 3};
        ft_nn_threadpool_for(p, n, grains[g], mark_range, &r);
        assert_int_equal(atomic_load(&r.bad_tid), 0);
        for (int64_t i = 0; i < n; i++)
            if (atomic_load(&seen[i]) != 1)
                fail_msg("grain %lld: index %lld seen %d times", (long long)grains[g], (long long)i,
                         atomic_load(&seen[i]));
    }
    /* NULL pool: inline, one call, tid 0. */
    memset((void *)seen, 0, (size_t)n);
    range_check r = {.n = n, .seen = seen, .size = 1};
    ft_nn_threadpool_for(NULL, n, 10, mark_range, &r);
    assert_int_equal(atomic_load(&r.bad_tid), 0);
    assert_int_equal(atomic_load(&seen[n - 1]), 1);
    ft_nn_threadpool_for(p, 0, 0, mark_range, &r); /* empty range: no call */
    free((void *)seen);
    ft_nn_threadpool_destroy(&p);
}

typedef struct nested {
    ft_nn_threadpool *pool;
    _Atomic int inner;
} nested;

static void inner_task(void *arg, int index)
{
    (void)index;
    atomic_fetch_add(&((nested *)arg)->inner, 1);
}

static void outer_task(void *arg, int index)
{
    (void)index;
    nested *n = arg;
    ft_nn_threadpool_run(n->pool, 10, inner_task, n); /* must run inline, not deadlock */
}

static void test_nested_runs_inline(void **state)
{
    (void)state;
    nested n = {0};
    assert_int_equal(ft_nn_threadpool_create(2, &n.pool), FT_OK);
    ft_nn_threadpool_run(n.pool, 8, outer_task, &n);
    assert_int_equal(atomic_load(&n.inner), 80);
    ft_nn_threadpool_destroy(&n.pool);
}

typedef struct caller {
    ft_nn_threadpool *pool;
    _Atomic int64_t sum;
} caller;

static void add_range(void *ctx, int tid, int64_t begin, int64_t end)
{
    (void)tid;
    int64_t s = 0;
    for (int64_t i = begin; i < end; i++)
        s += i;
    atomic_fetch_add(&((caller *)ctx)->sum, s);
}

static void *caller_main(void *arg)
{
    caller *c = arg;
    for (int k = 0; k < 500; k++)
        ft_nn_threadpool_for(c->pool, 1000, 10, add_range, c);
    return NULL;
}

/* Two threads sharing one pool: jobs are serialised, results stay exact. */
static void test_concurrent_callers(void **state)
{
    (void)state;
    ft_nn_threadpool *p = NULL;
    assert_int_equal(ft_nn_threadpool_create(3, &p), FT_OK);
    caller a = {.pool = p}, b = {.pool = p};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, caller_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, caller_main, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    const int64_t want = 500LL * (999LL * 1000 / 2);
    assert_int_equal(atomic_load(&a.sum), want);
    assert_int_equal(atomic_load(&b.sum), want);
    ft_nn_threadpool_destroy(&p);
}

int main(void)
{
    ft_log_set_level(FT_LOG_ERROR); /* the invalid-env warnings are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_run_each_task_once),
        cmocka_unit_test(test_for_covers_range),
        cmocka_unit_test(test_nested_runs_inline),
        cmocka_unit_test(test_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
