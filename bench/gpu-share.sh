#!/bin/bash
# GPU sharing measurement (docs/gpu-sharing.md): K worker-like processes with
# one RF-DETR Medium model each, time-sliced by the driver and then under
# CUDA MPS, against one process holding K model instances on K CUDA streams
# (the bench's concurrent mode). 1080p NV12 frames, batch 1, random weights
# (scripts/gpu/rfdetr_reference.py). Prints frames/s of each configuration
# and its ratio to the time-sliced one from the same run.
#
#   bench/gpu-share.sh            (K=8, BENCH=build/tests/bench_nn_cuda, OUT=/tmp/gpu-share)
#
# On machines without the project's packages the libraries come from
# third_party/debs, as in scripts/gpu-check.sh. Bounded: about a minute.
# Detection only; the same comparison for the whole pipeline (K concurrent
# `batch` processes, decode to encode) is scripts/gpu/pipeline-streams.sh.
# With the program built (FT_BIN, default build/football-tracker), option C
# too: K client processes of one `infer` server batching their frames
# (`bench infer-share`, batches of up to K, 2 ms window), against K
# processes with one model each measured in the same bench run.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$ROOT/build/tests/bench_nn_cuda}
K=${K:-8}
OUT=${OUT:-/tmp/gpu-share}
WORK=${TMPDIR:-/tmp}/gpu-share-work
mkdir -p "$OUT" "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
if ! ldconfig -p | grep -q 'libminizip.so.1' && [ -d "$ROOT/third_party/debs" ]; then
    for f in "$ROOT"/third_party/debs/*.deb; do dpkg-deb -x "$f" "$WORK/sys"; done
    L=$WORK/sys/usr/lib/x86_64-linux-gnu
    export LD_LIBRARY_PATH=$L:$L/openblas-pthread:${LD_LIBRARY_PATH:-}
fi
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
CKPT=$WORK/medium.safetensors
[ -f "$CKPT" ] || python3 "$ROOT/scripts/gpu/rfdetr_reference.py" checkpoint "$CKPT" >"$OUT/ckpt.log" 2>&1 ||
    { tail -5 "$OUT/ckpt.log"; exit 1; }
ARGS=(--model "$CKPT" --size medium --iters 50 --cpu-iters 0)

fps_of() { sed -n 's/.*1 stream, frames back to back: \([0-9.]*\) frames\/s.*/\1/p' "$1"; }

# K processes at once, one model each; sum of what each measured meanwhile.
procs() {
    local tag=$1 pids=()
    for ((i = 1; i <= K; i++)); do
        # --foreground: in this script's process group, so stopping the
        # script (a time limit) stops them too
        timeout --foreground 120 "$BENCH" "${ARGS[@]}" --streams 1 >"$OUT/$tag-$i.log" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    local sum=0
    for ((i = 1; i <= K; i++)); do
        f=$(fps_of "$OUT/$tag-$i.log")
        [ -n "$f" ] || { echo "$tag: process $i failed:" >&2; tail -3 "$OUT/$tag-$i.log" >&2; }
        sum=$(awk -v a="$sum" -v b="${f:-0}" 'BEGIN { print a + b }')
    done
    echo "$sum"
}

echo "== one process, $K model instances on $K CUDA streams"
timeout 120 "$BENCH" "${ARGS[@]}" --streams "$K" >"$OUT/inproc.log" 2>&1
grep -E '^rfdetr' "$OUT/inproc.log"
one=$(fps_of "$OUT/inproc.log")
inproc=$(sed -n "s/.*$K concurrent streams (batch 1 each): \([0-9.]*\) frames\/s.*/\1/p" "$OUT/inproc.log")

echo "== $K processes, time-sliced"
sliced=$(procs sliced)
# Device memory of one model: only meaningful in the process alone (the bench
# reads the device-wide figure, which other processes change meanwhile).
mem=$(grep -h 'device memory of one model' "$OUT"/inproc.log | sed 's/.*: //')

mps=n/a
if command -v nvidia-cuda-mps-control >/dev/null; then
    echo "== $K processes under MPS"
    export CUDA_MPS_PIPE_DIRECTORY=$WORK/mps-pipe CUDA_MPS_LOG_DIRECTORY=$WORK/mps-log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    if nvidia-cuda-mps-control -d; then
        # the daemon outlives the script unless told to quit
        trap 'echo quit | timeout 10 nvidia-cuda-mps-control; exit 143' TERM INT HUP
        mps=$(procs mps)
        trap - TERM INT HUP
        echo quit | timeout 10 nvidia-cuda-mps-control
        cp "$CUDA_MPS_LOG_DIRECTORY"/control.log "$OUT/mps-control.log" 2>/dev/null
    else
        echo "MPS daemon did not start" >&2
    fi
fi
FT_BIN=${FT_BIN:-$ROOT/build/football-tracker}
shared=n/a shared_base=n/a
if [ -x "$FT_BIN" ]; then
    echo "== $K clients of one batching infer server (option C)"
    timeout 300 "$FT_BIN" bench infer-share --model "$CKPT" --device cuda --clients "$K" \
        --frames 256 --size 1920x1080 --max-batch "$K" --window-ms 2 >"$OUT/infer-share.log" 2>&1
    grep -E '^(copies|shared|server|ratio)' "$OUT/infer-share.log" || tail -5 "$OUT/infer-share.log"
    shared=$(sed -n 's/.*shared_fps=\([0-9.]*\).*/\1/p' "$OUT/infer-share.log")
    shared_base=$(sed -n 's/.*copies_fps=\([0-9.]*\).*/\1/p' "$OUT/infer-share.log")
fi
ratio() { awk -v a="$1" -v b="$sliced" 'BEGIN { if (b > 0 && a + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
{
    echo "gpu-share K=$K ($(cat "$OUT/gpu.txt")), RF-DETR Medium, 1080p NV12, batch 1"
    echo "  1 process, 1 model alone:                 ${one:-n/a} frames/s (${mem:-?} of device memory)"
    echo "  $K processes, 1 model each, time-sliced:  $sliced frames/s (baseline)"
    echo "  $K processes, 1 model each, MPS:          $mps frames/s ($(ratio "$mps"))"
    echo "  1 process, $K models on $K CUDA streams:  ${inproc:-n/a} frames/s ($(ratio "${inproc:-0}"))"
    echo "  1 infer server + $K clients (batches <= $K): ${shared:-n/a} frames/s ($(ratio "${shared:-0}"); its own copies run: ${shared_base:-n/a} frames/s)"
    echo "  streams at 30 fps (detection only): time-sliced $(awk -v a="$sliced" 'BEGIN{printf "%d", a/30}'), MPS $(awk -v a="$mps" 'BEGIN{printf "%d", a/30}'), in-process $(awk -v a="${inproc:-0}" 'BEGIN{printf "%d", a/30}')"
} | tee "$OUT/summary.txt"
