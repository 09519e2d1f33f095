#include "ft_test_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

void ft_test_require_fixture(bool present, const char *what)
{
    if (present)
        return;
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true"))
        fail_msg("fixture missing: %s (required in CI)", what);
    skip();
}

void ft_test_require_fixture_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    ft_test_require_fixture(f != NULL, path);
}
