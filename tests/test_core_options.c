/* Table-driven defaults and range checks (core/options.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/options.h"

typedef struct demo_params {
    bool flag;
    int count;
    double gain;
    char name[FT_OPT_STRLEN];
} demo_params;

#define OFF(f) offsetof(demo_params, f)

static const ft_option demo_options[] = {
    {"flag", "A switch", FT_OPT_BOOL, OFF(flag), "true", 0, 0, 0, NULL, NULL},
    {"count", "A whole number", FT_OPT_INT, OFF(count), "-7", -10, 10, 0, NULL, NULL},
    {"gain", "A real number", FT_OPT_DOUBLE, OFF(gain), "0.25", 0, 1, 0, NULL, NULL},
    {"name", "Text, left to the config loader", FT_OPT_STRING, OFF(name), "abc", 0, 0, 0, NULL,
     NULL},
    FT_OPTION_END,
};

static void test_defaults_from_table(void **state)
{
    (void)state;
    demo_params p;
    memset(&p, 0x5a, sizeof(p));
    p.name[0] = 'x';
    ft_options_set_defaults(demo_options, &p);
    assert_true(p.flag);
    assert_int_equal(p.count, -7);
    assert_true(p.gain == 0.25);
    /* Types the helper does not parse keep what the caller put there. */
    assert_int_equal(p.name[0], 'x');

    static const ft_option off[] = {
        {"flag", "", FT_OPT_BOOL, OFF(flag), "false", 0, 0, 0, NULL, NULL},
        FT_OPTION_END,
    };
    ft_options_set_defaults(off, &p);
    assert_false(p.flag);
}

static void test_ranges(void **state)
{
    (void)state;
    demo_params p;
    memset(&p, 0, sizeof(p));
    ft_options_set_defaults(demo_options, &p);
    char err[128] = "";
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "demo", err, sizeof(err)), FT_OK);
    assert_string_equal(err, "");

    /* Bounds are inclusive. */
    p.count = 10;
    p.gain = 0;
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "demo", err, sizeof(err)), FT_OK);

    p.count = 11;
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "demo", err, sizeof(err)),
                     FT_ERR_CONFIG);
    assert_string_equal(err, "demo.count: 11 is out of range [-10, 10]");

    p.count = 0;
    p.gain = NAN;
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "demo", err, sizeof(err)),
                     FT_ERR_CONFIG);
    assert_non_null(strstr(err, "demo.gain:"));

    p.gain = -0.5;
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "sec", err, sizeof(err)),
                     FT_ERR_CONFIG);
    assert_string_equal(err, "sec.gain: -0.5 is out of range [0, 1]");

    /* No message buffer: still reports the error. */
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "sec", NULL, 0), FT_ERR_CONFIG);

    /* A short buffer is truncated, never overrun. */
    char small[8];
    memset(small, 'z', sizeof(small));
    assert_int_equal(ft_options_check_ranges(demo_options, &p, "sec", small, 5), FT_ERR_CONFIG);
    assert_string_equal(small, "sec.");
    assert_int_equal(small[5], 'z');
}

/* Enum choices: any case; with FT_OPT_ALIASES, aliases after the NULL name
 * a choice; the aliases of a table without the flag are never read. */
static void test_choice_index(void **state)
{
    (void)state;
    static const char *const plain[] = {"low", "high", NULL};
    static const char *const aliased[] = {"low", "high", NULL, "lo", "low", "HI", "high", NULL};
    const ft_option p = {"p", "", FT_OPT_ENUM, 0, "low", 0, 0, 0, NULL, plain};
    const ft_option a = {"a", "", FT_OPT_ENUM, 0, "low", 0, 0, FT_OPT_ALIASES, NULL, aliased};
    assert_int_equal(ft_option_choice_index(&p, "HIGH"), 1);
    assert_int_equal(ft_option_choice_index(&p, "hi"), -1);
    assert_int_equal(ft_option_choice_index(&a, "high"), 1);
    assert_int_equal(ft_option_choice_index(&a, "hi"), 1);
    assert_int_equal(ft_option_choice_index(&a, "Lo"), 0);
    assert_int_equal(ft_option_choice_index(&a, "mid"), -1);
}

static void test_fail(void **state)
{
    (void)state;
    char err[64];
    assert_int_equal(ft_options_fail(err, sizeof(err), "a.b: %d is above c %d", 3, 2),
                     FT_ERR_CONFIG);
    assert_string_equal(err, "a.b: 3 is above c 2");
    assert_int_equal(ft_options_fail(NULL, 0, "x"), FT_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_from_table),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_choice_index),
        cmocka_unit_test(test_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
