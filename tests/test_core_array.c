/* Growable heap arrays (core/array.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include <stdlib.h>

#include "core/array.h"

static void test_grows_from_empty_then_doubles(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(ft_array_reserve(&v, &cap, 1, sizeof *v, 4), FT_OK);
    assert_non_null(v);
    assert_int_equal(cap, 4);
    for (int i = 0; i < 4; i++)
        v[i] = i;
    /* Within the capacity: nothing moves. */
    int *same = v;
    assert_int_equal(ft_array_reserve(&v, &cap, 4, sizeof *v, 4), FT_OK);
    assert_ptr_equal(v, same);
    assert_int_equal(cap, 4);
    /* One more doubles; a larger need doubles until it fits. */
    assert_int_equal(ft_array_reserve(&v, &cap, 5, sizeof *v, 4), FT_OK);
    assert_int_equal(cap, 8);
    assert_int_equal(ft_array_reserve(&v, &cap, 33, sizeof *v, 4), FT_OK);
    assert_int_equal(cap, 64);
    for (int i = 0; i < 4; i++)
        assert_int_equal(v[i], i); /* contents kept */
    v[63] = 7;
    free(v);
    /* first = 0 still makes room. */
    v = NULL;
    cap = 0;
    assert_int_equal(ft_array_reserve(&v, &cap, 3, sizeof *v, 0), FT_OK);
    assert_true(cap >= 3);
    free(v);
}

static void test_overflow_leaves_array(void **state)
{
    (void)state;
    double *v = NULL;
    size_t cap = 0;
    assert_int_equal(ft_array_reserve(&v, &cap, 2, sizeof *v, 2), FT_OK);
    double *before = v;
    assert_int_equal(ft_array_reserve(&v, &cap, SIZE_MAX / 4, sizeof *v, 2), FT_ERR_NOMEM);
    assert_int_equal(ft_array_reserve(&v, &cap, SIZE_MAX, sizeof *v, 2), FT_ERR_NOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 2);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_from_empty_then_doubles),
        cmocka_unit_test(test_overflow_leaves_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
