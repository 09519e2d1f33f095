/* Helpers shared by the service tests (ft_test_service.h). */
#include "ft_test_service.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void ft_test_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

int ft_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

bool ft_test_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

pid_t ft_test_spawn(const char *dir, const char *log, char *const argv[])
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, log);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ))
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

int ft_test_wait_exit(pid_t *pid, double s)
{
    if (*pid <= 0)
        return -1;
    int status = 0;
    for (double t = 0; t < s; t += 0.05) {
        pid_t r = waitpid(*pid, &status, WNOHANG);
        if (r == *pid) {
            *pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        ft_test_sleep(0.05);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return -1;
}

void ft_test_stop(pid_t *pid, int sig, double grace)
{
    if (*pid > 0) {
        kill(*pid, sig);
        (void)ft_test_wait_exit(pid, grace);
    }
}

int ft_test_http(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "curl -s -m 5 -w '\\n%%{http_code}' %s 2>/dev/null", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
    char *nl = strrchr(out, '\n');
    if (!nl)
        return -1;
    *nl = '\0';
    return (int)strtol(nl + 1, NULL, 10);
}

double ft_test_metric(int port, const char *series)
{
    static char body[1 << 20]; /* serve merges every worker's metrics */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    if (ft_test_http(url, body, sizeof body) != 200)
        return NAN;
    size_t n = strlen(series);
    for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, series, n) && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return NAN;
}
