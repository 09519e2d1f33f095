/* GPU memory per process and per GPU through NVML, loaded at run time with
 * dlopen: the program neither links nor needs the NVIDIA driver, and a
 * machine without one simply reports no VRAM figures. Only the handful of
 * entry points and structures used here are declared (their layouts are
 * part of NVML's stable ABI). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "service/supervisor_internal.h"

#define MAX_GPUS 16
#define MAX_PROCS 256

typedef void *nvml_device;
typedef struct nvml_memory {
    unsigned long long total, free, used;
} nvml_memory;
/* nvmlProcessInfo_t as taken by the _v2/_v3 process queries. */
typedef struct nvml_process {
    unsigned int pid;
    unsigned long long used;
    unsigned int gpu_instance, compute_instance;
} nvml_process;

typedef int (*fn_init)(void);
typedef int (*fn_count)(unsigned int *);
typedef int (*fn_handle)(unsigned int, nvml_device *);
typedef int (*fn_memory)(nvml_device, nvml_memory *);
typedef int (*fn_procs)(nvml_device, unsigned int *, nvml_process *);
/* nvmlUtilization_t: percent of time busy over the last sample period. */
typedef struct nvml_utilization {
    unsigned int gpu, memory;
} nvml_utilization;
typedef int (*fn_util)(nvml_device, nvml_utilization *);

struct ft_serve_nvml {
    void *lib;
    fn_init shutdown;
    fn_memory memory;
    fn_procs compute, graphics;
    fn_util util;
    int n_gpus;
    unsigned int busy[MAX_GPUS]; /* utilisation %, last refresh */
    nvml_device dev[MAX_GPUS];
    uint64_t used[MAX_GPUS], total[MAX_GPUS];
    int n_procs;
    nvml_process procs[MAX_PROCS];
};

static void *sym(void *lib, const char *a, const char *b)
{
    void *f = dlsym(lib, a);
    return f || !b ? f : dlsym(lib, b);
}

ft_serve_nvml *ft_serve_nvml_open(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return NULL;
    ft_serve_nvml *n = calloc(1, sizeof *n);
    fn_init init = (fn_init)sym(lib, "nvmlInit_v2", "nvmlInit");
    fn_count count = (fn_count)sym(lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    fn_handle handle =
        (fn_handle)sym(lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    unsigned int cnt = 0;
    if (!n || !init || !count || !handle || init() != 0) {
        free(n);
        dlclose(lib);
        return NULL;
    }
    n->lib = lib;
    n->shutdown = (fn_init)sym(lib, "nvmlShutdown", NULL);
    n->memory = (fn_memory)sym(lib, "nvmlDeviceGetMemoryInfo", NULL);
    n->compute = (fn_procs)sym(lib, "nvmlDeviceGetComputeRunningProcesses_v3",
                               "nvmlDeviceGetComputeRunningProcesses_v2");
    n->graphics = (fn_procs)sym(lib, "nvmlDeviceGetGraphicsRunningProcesses_v3",
                                "nvmlDeviceGetGraphicsRunningProcesses_v2");
    n->util = (fn_util)sym(lib, "nvmlDeviceGetUtilizationRates", NULL);
    if (count(&cnt) != 0)
        cnt = 0;
    for (unsigned int i = 0; i < cnt && n->n_gpus < MAX_GPUS; i++)
        if (handle(i, &n->dev[n->n_gpus]) == 0)
            n->n_gpus++;
    FT_LOGI("serve", "NVML: %d GPU(s); per-worker VRAM %s", n->n_gpus,
            n->compute ? "available" : "unavailable (driver too old)");
    return n;
}

static void add_procs(ft_serve_nvml *n, fn_procs f, nvml_device d)
{
    if (!f || n->n_procs >= MAX_PROCS)
        return;
    unsigned int k = (unsigned int)(MAX_PROCS - n->n_procs);
    if (f(d, &k, n->procs + n->n_procs) == 0)
        n->n_procs += (int)k;
}

void ft_serve_nvml_refresh(ft_serve_nvml *n)
{
    n->n_procs = 0;
    for (int g = 0; g < n->n_gpus; g++) {
        nvml_memory m = {0};
        if (n->memory && n->memory(n->dev[g], &m) == 0) {
            n->used[g] = m.used;
            n->total[g] = m.total;
        }
        nvml_utilization u = {0};
        if (n->util && n->util(n->dev[g], &u) == 0)
            n->busy[g] = u.gpu;
        add_procs(n, n->compute, n->dev[g]);
        add_procs(n, n->graphics, n->dev[g]);
    }
}

uint64_t ft_serve_nvml_pid_bytes(const ft_serve_nvml *n, int pid)
{
    uint64_t sum = 0;
    for (int i = 0; i < n->n_procs; i++)
        /* NVML reports ~0 when the usage is not available (e.g. under MPS on
         * some drivers); count nothing rather than 16 EiB. */
        if ((int)n->procs[i].pid == pid && n->procs[i].used != ~0ULL)
            sum += n->procs[i].used;
    return sum;
}

int ft_serve_nvml_gpus(const ft_serve_nvml *n)
{
    return n->n_gpus;
}

void ft_serve_nvml_gpu_memory(const ft_serve_nvml *n, int gpu, uint64_t *used, uint64_t *total)
{
    *used = n->used[gpu];
    *total = n->total[gpu];
}

unsigned int ft_serve_nvml_gpu_utilization(const ft_serve_nvml *n, int gpu)
{
    return n->busy[gpu];
}

void ft_serve_nvml_close(ft_serve_nvml **pn)
{
    ft_serve_nvml *n = *pn;
    if (!n)
        return;
    if (n->shutdown)
        n->shutdown();
    dlclose(n->lib);
    free(n);
    *pn = NULL;
}
