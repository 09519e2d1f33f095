/* `football-tracker bench <name>`: dispatches to the benchmarks of tools/bench.
 * Each benchmark prints absolute figures and a ratio against a baseline
 * measured in the same run. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/status.h"
#include "tools/bench/bench.h"

typedef struct bench_entry {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} bench_entry;

static const bench_entry benches[] = {
    {"detector", "default detector + filters on 1080p frames, one core", ft_bench_detector},
    {"infer-share", "K model copies vs K clients of one batching infer server: fps, RSS",
     ft_bench_infer_share},
    {"latency", "live pipeline added latency p50/p95 at 720p30 (frame counters read back)",
     ft_bench_latency},
    {"pipeline", "1080p25 -> 720p transcode through the pipeline vs bare libav", ft_bench_pipeline},
    {"render", "crop + scale 1080p -> 720p (NV12, YUV420P) and overlay vs libswscale",
     ft_bench_render},
    {"rfdetr", "RF-DETR forward pass: ms/frame, GFLOP/s vs OpenBLAS sgemm, RSS", ft_bench_rfdetr},
    {"rfdetr-cuda", "RF-DETR on CUDA: 1080p frame latency p50/p99, throughput, VRAM vs CPU",
     ft_bench_rfdetr_cuda},
    {"synth", "synthetic match rendering ms/frame per scenario vs a frame copy", ft_bench_synth},
    {"track", "tracker + virtual camera updates/s on one core vs the bare Kalman filter",
     ft_bench_track},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: football-tracker bench <benchmark> [options]\n\nbenchmarks:\n");
    for (const bench_entry *b = benches; b->name; b++)
        fprintf(out, "  %-12s %s\n", b->name, b->summary);
    fprintf(out, "\nRun 'football-tracker bench <benchmark> --help' for its options.\n"
                 "Exit codes: 0 done, 1 bad option or unknown benchmark, 2 model, 3 input,\n"
                 "4 output, 5 GPU, 6 runtime.\n");
}

int ft_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return FT_EXIT_OK;
    }
    for (const bench_entry *b = benches; b->name; b++)
        if (!strcmp(b->name, argv[1]))
            return b->run(argc - 1, argv + 1);
    fprintf(stderr, "bench: unknown benchmark '%s'\n", argv[1]);
    usage(stderr);
    return FT_EXIT_CONFIG;
}
