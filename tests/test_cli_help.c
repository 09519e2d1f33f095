/* `--help` of the program and of every subcommand it lists (so commands added
 * later are covered without editing this test), plus --version and bad usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "ft_test_cmd.h"

static const char *bin(void)
{
    const char *b = getenv("FT_BIN");
    if (!b)
        fail_msg("FT_BIN is not set (run through ctest)");
    return b;
}

static void test_top_level(void **state)
{
    (void)state;
    static char out[1 << 16];
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "'%s' --version", bin());
    assert_int_equal(ft_test_run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "football-tracker "));
    snprintf(cmd, sizeof(cmd), "'%s'", bin());
    assert_int_equal(ft_test_run(cmd, out, sizeof(out)), 1); /* no command: usage error */
    assert_non_null(strstr(out, "usage:"));
    snprintf(cmd, sizeof(cmd), "'%s' no-such-command", bin());
    assert_int_equal(ft_test_run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "unknown command"));
}

static void test_every_subcommand_help(void **state)
{
    (void)state;
    static char top[1 << 16], out[1 << 16];
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "'%s' --help", bin());
    assert_int_equal(ft_test_run(cmd, top, sizeof(top)), 0);
    char *list = strstr(top, "commands:\n");
    assert_non_null(list);
    int n = 0;
    /* Command rows are "  <name>  <summary>" until the first blank line. */
    for (char *l = strtok(list + strlen("commands:\n"), "\n"); l && l[0] == ' ';
         l = strtok(NULL, "\n")) {
        char name[64];
        if (sscanf(l, " %63s", name) != 1)
            continue;
        char sub[600];
        snprintf(sub, sizeof(sub), "'%s' %s --help", bin(), name);
        int rc = ft_test_run(sub, out, sizeof(out));
        if (rc != 0 || strlen(out) < 20)
            fail_msg("'%s --help' exited %d with:\n%s", name, rc, out);
        if (!strstr(out, name))
            fail_msg("'%s --help' does not name the command:\n%s", name, out);
        /* The README documents each command's exit codes; so does its help. */
        if (!strstr(out, "Exit codes:"))
            fail_msg("'%s --help' does not list its exit codes:\n%s", name, out);
        n++;
    }
    assert_true(n >= 1); /* config at least */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_every_subcommand_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
