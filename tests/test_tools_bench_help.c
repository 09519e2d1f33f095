/* `bench --help` and the --help of every benchmark it lists (benchmarks added
 * later are covered without editing this test): each exits 0 with a usage
 * line that names the program and the benchmark, as typed by a user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "ft_test_cmd.h"

static void test_every_benchmark_help(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN");
    if (!bin)
        fail_msg("FT_BIN is not set (run through ctest)");
    static char list[8192], out[8192];
    char cmd[512], want[128];
    snprintf(cmd, sizeof(cmd), "'%s' bench --help", bin);
    assert_int_equal(ft_test_run(cmd, list, sizeof(list)), 0);
    char *rows = strstr(list, "benchmarks:\n");
    assert_non_null(rows);
    int n = 0;
    /* Rows are "  <name>  <summary>" until the first blank line. */
    for (char *l = strtok(rows + strlen("benchmarks:\n"), "\n"); l && l[0] == ' ';
         l = strtok(NULL, "\n")) {
        char name[64];
        if (sscanf(l, " %63s", name) != 1)
            continue;
        snprintf(cmd, sizeof(cmd), "'%s' bench %s --help", bin, name);
        int rc = ft_test_run(cmd, out, sizeof(out));
        if (rc != 0)
            fail_msg("'bench %s --help' exited %d with:\n%s", name, rc, out);
        snprintf(want, sizeof(want), "usage: football-tracker bench %s ", name);
        if (strncmp(out, want, strlen(want)))
            fail_msg("'bench %s --help' does not start with '%s':\n%s", name, want, out);
        n++;
    }
    assert_true(n >= 3); /* detector, pipeline, track at least */
    snprintf(cmd, sizeof(cmd), "'%s' bench no-such-bench", bin);
    assert_int_equal(ft_test_run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "unknown benchmark"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_benchmark_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
