/* Helpers shared by the service tests: child processes with their output in
 * a log file, free loopback ports, and HTTP requests through curl. */
#ifndef FT_TEST_SERVICE_H
#define FT_TEST_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sleeps `s` seconds (restarting after signals). */
void ft_test_sleep(double s);

/* A loopback TCP port that was free a moment ago, or -1. */
int ft_test_free_port(void);

/* Does something accept TCP connections on 127.0.0.1:port? */
bool ft_test_port_open(int port);

/* Starts argv[0] (PATH searched) with stdin from /dev/null and stdout+stderr
 * appended to dir/log; returns its pid or -1. */
pid_t ft_test_spawn(const char *dir, const char *log, char *const argv[]);

/* Waits up to `s` seconds for *pid; returns its exit code, 128+signal, or -1
 * (killed with SIGKILL after the wait). Sets *pid to 0. */
int ft_test_wait_exit(pid_t *pid, double s);

/* Sends `sig` and waits up to `grace` seconds (then SIGKILL). */
void ft_test_stop(pid_t *pid, int sig, double grace);

/* curl with `args`; returns the HTTP status (-1 without an answer), the body
 * in out (cap bytes). */
int ft_test_http(const char *args, char *out, size_t cap);

/* The value of one sample ("name{labels}", exact) from
 * http://127.0.0.1:port/metrics; NAN when it is not there (or no answer). */
double ft_test_metric(int port, const char *series);

#endif
