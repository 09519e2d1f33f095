/* Running the football-tracker program (or any shell command) from a test. */
#ifndef FT_TEST_CMD_H
#define FT_TEST_CMD_H

#include <stddef.h>

/* Runs `cmd` through the shell with stdin from /dev/null, its stdout and
 * stderr into buf (cap bytes, NUL-terminated); returns its exit code. Fails
 * the test when the command cannot be started or dies from a signal. */
int ft_test_run(const char *cmd, char *buf, size_t cap);

#endif
