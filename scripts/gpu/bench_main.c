/* Stand-alone driver of the CUDA benchmark for scripts/gpu-check.sh, for GPU
 * machines without the video libraries the football-tracker program links. */
#include "tools/bench/bench.h"

int main(int argc, char **argv)
{
    return ft_bench_rfdetr_cuda(argc, argv);
}
