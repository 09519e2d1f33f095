/* The shared reference fixtures (../shared/fixtures) from a test. */
#ifndef FT_TEST_FIXTURE_H
#define FT_TEST_FIXTURE_H

#include <stdbool.h>

/* Returns when `present`; otherwise skips the test, or fails it naming
 * `what` under CI=true, where the fixtures must be there. */
void ft_test_require_fixture(bool present, const char *what);

/* The same for a file: present when it can be opened. */
void ft_test_require_fixture_file(const char *path);

#endif
