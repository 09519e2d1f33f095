/* How many of the machine's cores the supervisor's workers may use, and each
 * worker's share of them (encoder.threads / decoder.threads when left at 0). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/supervisor_internal.h"

/* cgroup v2 CPU quota ("max 100000" or "<quota> <period>") as whole cores,
 * rounded up; 0 when there is none. A pod with a CPU limit sees every core
 * of the node in its affinity mask but may only use the quota. */
static int cgroup_quota_cores(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f)
        return 0;
    char quota[32] = "";
    long long period = 0;
    int n = fscanf(f, "%31s %lld", quota, &period);
    fclose(f);
    if (n != 2 || period <= 0 || !strcmp(quota, "max"))
        return 0;
    char *end = NULL;
    long long q = strtoll(quota, &end, 10);
    if (end == quota || *end || q <= 0)
        return 0;
    long long cores = (q + period - 1) / period;
    return cores > 4096 ? 4096 : (int)cores;
}

int ft_serve_cpu_count(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n < 1)
        n = 1;
    int quota = cgroup_quota_cores();
    return quota > 0 && quota < n ? quota : n;
}

int ft_serve_thread_share(int cores, int streams)
{
    /* two threads per core across the workers, rounded up: one thread per
     * core left cores idle while a worker's only encoder or decoder thread
     * was preempted mid-frame (2-core VM: 3 real-time streams with libav's
     * counts, 2 with one thread each, docs/serve.md) */
    long long share = streams > 0 ? (2LL * cores + streams - 1) / streams : 2LL * cores;
    if (share < 1)
        share = 1;
    return share > FT_SERVE_THREAD_SHARE_MAX ? FT_SERVE_THREAD_SHARE_MAX : (int)share;
}
