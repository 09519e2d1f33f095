/* A strict JSON syntax check for tests that read JSON the program wrote
 * (log records): the project itself has no JSON reader to reuse. */
#ifndef FT_TEST_JSON_H
#define FT_TEST_JSON_H

#include <stdbool.h>

/* Is `text` exactly one JSON value (RFC 8259), surrounding whitespace
 * allowed? Nesting deeper than 32 levels counts as invalid. */
bool ft_test_json_valid(const char *text);

#endif
