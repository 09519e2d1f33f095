/* Pieces of the serve supervisor shared between its files (not public). */
#ifndef FT_SERVICE_SUPERVISOR_INTERNAL_H
#define FT_SERVICE_SUPERVISOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* ---- worker metrics text, indexed by family (supervisor_metrics.c) ---- */

#define FT_SERVE_MAX_FAMILIES 96

typedef struct ft_serve_family {
    const char *name; /* points into the text; name_len bytes, not NUL-terminated */
    size_t name_len;
    size_t meta, samples, end; /* offsets: HELP/TYPE lines, first sample, block end */
} ft_serve_family;

typedef struct ft_serve_scrape {
    const char *text; /* borrowed */
    size_t len;
    int n_families;
    ft_serve_family fam[FT_SERVE_MAX_FAMILIES];
} ft_serve_scrape;

/* Splits a Prometheus text into its families (HELP/TYPE lines then samples,
 * as ft_service_metrics_render writes them). Families past the capacity are
 * left out. */
void ft_serve_scrape_index(ft_serve_scrape *s, const char *text, size_t len);

/* The value of the sample `series` (name with its labels exactly as written,
 * e.g. "ft_frames_sent_total" or "ft_stage_latency_seconds_sum{stage=\"detect\"}"),
 * or NAN when absent. */
double ft_serve_scrape_value(const ft_serve_scrape *s, const char *series);

/* Appends every worker's families to out, grouped so each family's HELP/TYPE
 * appears once (taken from the first worker that has it) followed by the
 * samples of every worker labelled stream="ids[i]". FT_ERR_NOMEM when cap is
 * too small. */
FT_NODISCARD ft_status ft_serve_scrape_merge(const ft_serve_scrape *const *scrapes,
                                             const char *const *ids, int n, char *out, size_t cap,
                                             size_t *len);

/* ---- HTTP GETs on loopback, all in flight at once (supervisor_probe.c) ---- */

typedef struct ft_serve_get {
    int port; /* 127.0.0.1:port */
    const char *path;
    char *buf; /* response storage (borrowed), cap bytes */
    size_t cap;
    /* results */
    int code;         /* HTTP status; 0 = no answer (refused, timeout, too large) */
    const char *body; /* into buf, NUL-terminated */
    size_t body_len;
} ft_serve_get;

/* Runs every request concurrently (non-blocking sockets, poll) and returns
 * when all have answered or `timeout_ms` has passed. */
void ft_serve_get_all(ft_serve_get *reqs, int n, int timeout_ms);

/* ---- cores and each worker's share of them (supervisor_cpu.c) ---- */

/* Largest share given (the range of encoder.threads / decoder.threads). */
#define FT_SERVE_THREAD_SHARE_MAX 64

/* Cores this process may run on: its affinity mask, capped by a cgroup v2
 * CPU quota (a container's CPU limit) rounded up; at least 1. */
int ft_serve_cpu_count(void);

/* Threads each of `streams` workers gets for its encoder and its decoder
 * when their configuration leaves them at 0: 2 x cores / streams rounded up,
 * within [1, FT_SERVE_THREAD_SHARE_MAX] (`streams` <= 0 counts as one). */
int ft_serve_thread_share(int cores, int streams);

/* ---- NVML, loaded with dlopen when the driver is present (supervisor_nvml.c) ---- */

typedef struct ft_serve_nvml ft_serve_nvml;

/* NULL when libnvidia-ml.so.1 is absent or does not initialise (no build or
 * run-time dependency on the GPU driver). Returned-owned. */
ft_serve_nvml *ft_serve_nvml_open(void);

/* Re-reads per-process GPU memory and per-GPU used/total memory. */
void ft_serve_nvml_refresh(ft_serve_nvml *n);

/* GPU memory used by process `pid` over all GPUs, bytes (0 when none). */
uint64_t ft_serve_nvml_pid_bytes(const ft_serve_nvml *n, int pid);

/* Number of GPUs and one GPU's used and total memory, bytes. */
int ft_serve_nvml_gpus(const ft_serve_nvml *n);
void ft_serve_nvml_gpu_memory(const ft_serve_nvml *n, int gpu, uint64_t *used, uint64_t *total);
/* One GPU's utilisation, percent of the last sample period (0 when unknown). */
unsigned int ft_serve_nvml_gpu_utilization(const ft_serve_nvml *n, int gpu);

/* Shuts NVML down (NULL allowed) and sets *n to NULL. */
void ft_serve_nvml_close(ft_serve_nvml **n);

#endif
