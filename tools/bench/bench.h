/* Benchmarks run by `football-tracker bench <name>`. Each takes the arguments
 * after `bench` (argv[0] is the benchmark's name), prints absolute figures and
 * a ratio against a baseline measured in the same run, and returns an exit
 * code. */
#ifndef FT_TOOLS_BENCH_H
#define FT_TOOLS_BENCH_H

#include <time.h>

/* CPU seconds of the calling thread: the clock of the one-core figures. */
static inline double ft_bench_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The default detector plus the detection filters on 1080p frames, on one
 * core, against a plain copy of each frame's luma plane. */
int ft_bench_detector(int argc, char **argv);

/* The pipeline (detector off) transcoding a generated 1080p25 clip to 720p
 * with x264 veryfast, against a bare libav decode+scale+encode loop. */
int ft_bench_pipeline(int argc, char **argv);

/* RF-DETR forward pass (--model M --device D): ms/frame, GFLOP/s, ratio to
 * OpenBLAS sgemm GFLOP/s measured in the same run, peak RSS. */
int ft_bench_rfdetr(int argc, char **argv);

/* RF-DETR on CUDA (--model M [--device cuda:N]): 1080p NV12 frame to
 * detections, batch-1 p50/p99 incl. pre-processing, 32-frame throughput,
 * device memory; the CPU engine in the same run as the baseline. */
int ft_bench_rfdetr_cuda(int argc, char **argv);

/* Shared inference (--model M --clients K --frames N): K processes with one
 * RF-DETR model each against K clients of one `infer` server batching their
 * frames; frames/s and total RSS of both, ratios shared / copies. */
int ft_bench_infer_share(int argc, char **argv);

/* Tracker + virtual camera (--frames N --fps F) over generated candidate
 * lists: updates/s on one core, ratio to the bare Kalman filter. */
int ft_bench_track(int argc, char **argv);

/* Added latency of the live pipeline (--seconds --size --fps): frame counters
 * stamped into a generated match played in real time, read back from the
 * output; p50/p95 with the default detector and with detection off. */
int ft_bench_latency(int argc, char **argv);

/* The renderer's crop + scale of a 1080p frame (NV12, YUV420P) to 720p at
 * three zooms and the overlay (--frames N): CPU ms per frame on one core,
 * ratio to libswscale's bilinear scaler on the same crops. */
int ft_bench_render(int argc, char **argv);

/* Synthetic match rendering (--frames N --size WxH): CPU ms per frame of each
 * scenario on one core, ratio to copying a frame of the same size. */
int ft_bench_synth(int argc, char **argv);

#endif
