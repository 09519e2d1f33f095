/* The quick version of the evaluation suite (eval/suite.yml, runs marked
 * `short`): synthetic clips through the real synth, batch and eval commands,
 * with regression thresholds on detection, tracking and camera figures. */
/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_short_suite(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN"), *src = getenv("FT_SOURCE_DIR");
    if (!bin || !src)
        skip();
    char dir[] = "/tmp/ft_suite_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    /* The table and any threshold failures go to the test log. */
    snprintf(cmd, sizeof(cmd), "'%s' eval --suite '%s/eval/suite.yml' --short --workdir %s", bin,
             src, dir);
    int rc = system(cmd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
