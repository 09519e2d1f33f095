#!/bin/bash
# Full pipeline on the GPU machine (issue 11, docs/gpu-machine.md), run by
# scripts/gpu-check.sh or on its own:
#
#  1. one `batch` run on a generated 1080p30 clip (decode with NVDEC ->
#     RF-DETR on CUDA -> track -> camera -> render 1280x720 -> encode), checked
#     for exit 0, the output file and the frame count;
#  2. streams per GPU: K concurrent `batch` jobs on the same clip, each a
#     separate process as under `serve`, for K in $STREAMS ascending until a
#     round where some job falls below $MIN_FPS, then halving the gap between
#     the last K that held and the first that did not; first under CUDA MPS
#     (the production mode, docs/gpu-sharing.md) when nvidia-cuda-mps-control
#     exists, then one round at the largest K that held with libav's own
#     thread counts (the baseline of the per-job thread bound), then
#     time-sliced from $TS_STREAMS with what is left of $BUDGET_S.
#
# A job's fps is its own: frames / the pipeline's run time, model load and
# warm-up excluded. Jobs start together but load their models at different
# speeds, so each round also reports the share of a job's run during which
# all K were running ("overlap"); a low overlap flatters the round. Each
# round also reports the host's CPU: the jobs' CPU time per frame (user +
# system, all threads, model load included) and how busy all cores were.
#
# Threads per job: the sweep gives each job encoder.threads and
# decoder.threads of 2 x cores / K rounded up, what `serve` gives its workers
# (docs/serve.md); THREADS=N fixes them, THREADS=0 leaves them to libav.
#
# Environment: FT_BIN (the program, required), CKPT (RF-DETR checkpoint; empty
# = the classic detector), MODEL_SIZE (model.size, auto), DEVICE (cuda), OUT (logs, default
# /tmp/pipeline-streams), WORK (clip and outputs), STREAMS ("26 30 34"; the MPS
# sweep, or the only one without MPS), TS_STREAMS (time-sliced after MPS,
# "16 20 24"), THREADS (auto), BASELINE=0 (no libav-threads round), MIN_FPS
# (30), CLIP_S (clip seconds, 15), BUDGET_S (streams sweep, every part
# together, 270), SKIP_STREAMS=1 (check 1 only), SKIP_ONE=1 (check 2 only:
# scripts/gpu-check.sh runs the two as separate stages), SKIP_MPS=1, SUMMARY
# (file the summary lines are appended to). Each summary line is appended as
# soon as it is known, so a run stopped part-way keeps them.
set -u
FT_BIN=${FT_BIN:?FT_BIN: path of the football-tracker binary}
CKPT=${CKPT:-}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/pipeline-streams}
WORK=${WORK:-${TMPDIR:-/tmp}/pipeline-streams-work}
STREAMS=${STREAMS:-26 30 34}
TS_STREAMS=${TS_STREAMS:-16 20 24}
THREADS=${THREADS:-auto}
CORES=$(nproc)
MIN_FPS=${MIN_FPS:-30}
CLIP_S=${CLIP_S:-15}
BUDGET_S=${BUDGET_S:-270}
SUMMARY=${SUMMARY:-$OUT/pipeline-summary.txt}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT" "$WORK/jobs"
say() { echo "== $*"; echo "$*" >>"$SUMMARY"; }
MODEL_ARGS=()
[ -n "$CKPT" ] && MODEL_ARGS=(--set "model.path=$CKPT" --set "model.size=${MODEL_SIZE:-auto}")
DETECTOR=$([ -n "$CKPT" ] && echo "RF-DETR $(basename "$CKPT")" || echo "classic detector")

CLIP=$WORK/clip-1080p30-${CLIP_S}s.mp4
FRAMES=$((CLIP_S * 30))
if [ ! -s "$CLIP" ]; then
    echo "== synth: ${CLIP_S} s of 1920x1080 at 30 fps"
    "$FT_BIN" synth --out "$CLIP" --seconds "$CLIP_S" --fps 30 --size 1920x1080 --scenario wide \
        >"$OUT/synth.log" 2>&1 ||
        { tail -5 "$OUT/synth.log"; say "pipeline: synth FAILED"; exit 1; }
fi

# NVDEC and NVENC need the driver's video libraries besides libcuda (a
# container gets them only with the "video" driver capability); FFmpeg
# dlopen()s them by name, so the loader's cache and LD_LIBRARY_PATH count.
lp=${LD_LIBRARY_PATH:-}
libs=$( (ldconfig -p 2>/dev/null; find ${lp//:/ } /usr/local/nvidia -maxdepth 2 \
    -name 'lib*.so.1' 2>/dev/null) | grep -oE 'lib(cuda|nvcuvid|nvidia-encode)\.so\.1' | sort -u)
[ "${SKIP_ONE:-0}" = 1 ] ||
    say "driver libraries: $(echo $libs) (NVDEC needs libcuda and libnvcuvid, NVENC libnvidia-encode)"

# ---- 1. one job ----
# Debug level: libav's own messages say whether NVDEC really decoded (a
# failing hwaccel set-up falls back to software decoding inside libavcodec).
# Jobs run under `timeout --foreground`: a plain timeout moves them into a
# process group of their own, out of reach of the caller's time limit.
if [ "${SKIP_ONE:-0}" != 1 ]; then
    echo "== batch, one job ($DEVICE, $DETECTOR)"
    ONE_OUT=$WORK/one.mp4
    rm -f "$ONE_OUT"
    LOG_LEVEL=debug timeout --foreground $((CLIP_S * 3 + 60)) "$FT_BIN" batch --input "$CLIP" --output "$ONE_OUT" \
        --device "$DEVICE" "${MODEL_ARGS[@]}" --no-progress --log-format json >"$OUT/batch-one.log" 2>&1
    rc=$?
    python3 "$HERE/pipeline_report.py" one "$OUT/batch-one.log" "$rc" "$ONE_OUT" "$FRAMES" | tee -a "$SUMMARY"
    [ "${PIPESTATUS[0]}" = 0 ] || { say "streams per GPU: not measured (the single job failed)"; exit 1; }
fi
[ "${SKIP_STREAMS:-0}" = 1 ] && exit 0

# ---- 2. streams per GPU ----
MPS=0
[ "${SKIP_MPS:-0}" != 1 ] && command -v nvidia-cuda-mps-control >/dev/null && MPS=1
T_END=$(($(date +%s) + BUDGET_S))
# encoder.threads / decoder.threads of one job among K
job_threads() {
    local t
    case $THREADS in
    auto) t=$(((2 * CORES + $1 - 1) / $1)) ;;
    *) t=$THREADS ;;
    esac
    echo "$t"
}
# /proc/stat's cpu line: busy and total jiffies
cpu_jiffies() { awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat; }
# One round: K jobs at once with $3 threads each; prints the report line,
# returns 0 when every job exited 0 with all frames at >= MIN_FPS. A job's
# CPU time is its subshell's children's (bash `times`, second line).
round() {
    local k=$1 tag=$2 t=$3 pids=() i c0 c1
    rm -f "$WORK"/jobs/*
    c0=$(cpu_jiffies)
    for ((i = 1; i <= k; i++)); do
        (timeout --foreground $((CLIP_S * 3 + 60)) "$FT_BIN" batch --input "$CLIP" --output "$WORK/jobs/$i.mp4" \
            --device "$DEVICE" "${MODEL_ARGS[@]}" --set "encoder.threads=$t" --set "decoder.threads=$t" \
            --no-progress --log-format json >"$WORK/jobs/$i.log" 2>&1
        echo $? >"$WORK/jobs/$i.rc"
        times >"$WORK/jobs/$i.cpu") &
        pids+=($!)
    done
    wait "${pids[@]}"
    c1=$(cpu_jiffies)
    echo "$c0 $c1 $CORES" >"$WORK/jobs/host.cpu"
    mkdir -p "$OUT/$tag-k$k"
    cp "$WORK"/jobs/*.log "$OUT/$tag-k$k/" 2>/dev/null
    python3 "$HERE/pipeline_report.py" round "$WORK/jobs" "$k" "$tag" "$FRAMES" "$MIN_FPS" \
        "$([ "$t" = 0 ] && echo "libav's" || echo "$t")" | tee -a "$SUMMARY"
    return "${PIPESTATUS[0]}"
}

# Starts a round of K only when the last round's duration still fits
# before T_END.
fits() {
    [ $(($(date +%s) + LAST_S)) -le "$T_END" ] || { echo "(budget reached before K=$1)"; return 1; }
}

# Ascending list ($2) until a round fails, then bisection. Sets BEST and FAIL.
sweep() {
    local tag=$1 best=0 fail=0 k t ran=0
    for k in $2; do
        fits "$k" || break
        ran=1
        t=$(date +%s)
        if round "$k" "$tag" "$(job_threads "$k")"; then best=$k; else fail=$k; fi
        LAST_S=$(($(date +%s) - t))
        [ $fail = 0 ] || break
    done
    while [ $fail -gt 0 ] && [ $((fail - best)) -gt 2 ]; do
        k=$(((best + fail) / 4 * 2))
        [ "$k" -gt "$best" ] || k=$((best + 2))
        fits "$k" || break
        t=$(date +%s)
        if round "$k" "$tag" "$(job_threads "$k")"; then best=$k; else fail=$k; fi
        LAST_S=$(($(date +%s) - t))
    done
    local what="$best"
    [ $fail = 0 ] && what="$best or more (largest K tried)"
    [ $fail != 0 ] && what="$best (K=$fail did not hold)"
    [ $ran = 1 ] || what="not measured (no time left in BUDGET_S)"
    say "streams per GPU, $tag ($DETECTOR on $DEVICE, 1080p30 in, 1280x720 out, every job >= $MIN_FPS fps, threads per job $THREADS): $what"
    BEST=$best FAIL=$fail
}

# The same K with libav's own thread counts: what the bound buys. At the
# largest K that held (does it still hold without the bound?), else at the
# K that failed.
baseline() {
    local k=$BEST
    [ "$k" -gt 0 ] || k=$FAIL
    [ "${BASELINE:-1}" = 1 ] && [ "$THREADS" != 0 ] && [ "$k" -gt 0 ] || return 0
    fits "$k" || return 0
    local t
    t=$(date +%s)
    round "$k" "$1-libav-threads" 0
    LAST_S=$(($(date +%s) - t))
}

LAST_S=0
if [ $MPS = 1 ]; then
    export CUDA_MPS_PIPE_DIRECTORY=$WORK/mps-pipe CUDA_MPS_LOG_DIRECTORY=$WORK/mps-log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    if nvidia-cuda-mps-control -d; then
        # the daemon outlives this script unless told to quit, also when a
        # time limit stops the sweep
        mps_quit() {
            echo quit | timeout 10 nvidia-cuda-mps-control
            cp "$CUDA_MPS_LOG_DIRECTORY"/control.log "$OUT/mps-control.log" 2>/dev/null
        }
        trap 'mps_quit; exit 143' TERM INT HUP
        sweep MPS "$STREAMS"
        baseline MPS
        trap - TERM INT HUP
        mps_quit
    else
        say "streams per GPU, MPS: the MPS daemon did not start"
        MPS=0
    fi
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
else
    say "streams per GPU, MPS: not run ($([ "${SKIP_MPS:-0}" = 1 ] && echo SKIP_MPS=1 || echo no nvidia-cuda-mps-control))"
fi
# Time-sliced: the whole sweep without MPS, else with what time is left.
if [ $MPS = 1 ]; then
    sweep time-sliced "$TS_STREAMS"
else
    sweep time-sliced "$STREAMS"
    baseline time-sliced
fi
