#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/status.h"

static void test_exit_code_map(void **state)
{
    (void)state;
    assert_int_equal(ft_status_exit_code(FT_OK), 0);
    assert_int_equal(ft_status_exit_code(FT_ERR_CONFIG), 1);
    assert_int_equal(ft_status_exit_code(FT_ERR_USAGE), 1);
    assert_int_equal(ft_status_exit_code(FT_ERR_MODEL), 2);
    assert_int_equal(ft_status_exit_code(FT_ERR_INPUT), 3);
    assert_int_equal(ft_status_exit_code(FT_ERR_INPUT_EOF), 0);
    assert_int_equal(ft_status_exit_code(FT_ERR_OUTPUT), 4);
    assert_int_equal(ft_status_exit_code(FT_ERR_GPU), 5);
    assert_int_equal(ft_status_exit_code(FT_ERR_GPU_OOM), 5);
    assert_int_equal(ft_status_exit_code(FT_ERR_RUNTIME), 6);
    assert_int_equal(ft_status_exit_code(FT_ERR_NOMEM), 6);
    assert_int_equal(ft_status_exit_code((ft_status)-12345), 6);
}

static void test_status_strings(void **state)
{
    (void)state;
    assert_string_equal(ft_status_str(FT_OK), "success");
    assert_string_equal(ft_status_str(FT_ERR_INPUT), "input source error");
    assert_string_equal(ft_status_str((ft_status)-12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_code_map),
        cmocka_unit_test(test_status_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
