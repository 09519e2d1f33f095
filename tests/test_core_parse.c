/* core/parse: whole-string numbers within a range, and WxH sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/parse.h"

static void test_long_and_int(void **state)
{
    (void)state;
    long l = 7;
    assert_true(ft_parse_long("42", 0, 100, &l));
    assert_int_equal(l, 42);
    assert_true(ft_parse_long("-3", -5, 5, &l));
    assert_int_equal(l, -3);
    static const char *const bad[] = {"", "x", "4x", "4 ", "101", "-6", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ft_parse_long(bad[i], -5, 100, &l));
        assert_int_equal(l, -3); /* untouched on failure */
    }
    int n = 1;
    assert_true(ft_parse_int("2147483647", 0, 2147483647, &n));
    assert_int_equal(n, 2147483647);
    assert_false(ft_parse_int("2147483648", 0, 2147483647, &n));
}

static void test_double(void **state)
{
    (void)state;
    double d = 0.0;
    assert_true(ft_parse_double("2.5e1", 0, 100, &d));
    assert_float_equal(d, 25.0, 0.0);
    static const char *const bad[] = {"", "1.5.2", "nan", "inf", "1e999", "-0.5", "3,5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ft_parse_double(bad[i], 0, 1e300, &d));
        assert_float_equal(d, 25.0, 0.0);
    }
}

static void test_size(void **state)
{
    (void)state;
    int w = 0, h = 0;
    assert_true(ft_parse_size("1920x1080", &w, &h));
    assert_int_equal(w, 1920);
    assert_int_equal(h, 1080);
    static const char *const bad[] = {"",     "1920",       "1920x",     "x1080",   "0x1080",
                                      "-5x3", "1920x1080x", "1920X1080", "100001x5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ft_parse_size(bad[i], &w, &h));
    assert_int_equal(w, 1920);
    assert_int_equal(h, 1080);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_and_int),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
