#!/bin/bash
# GPU check: build with CUDA, run the CUDA tests (operators and the whole
# RF-DETR forward pass against the CPU engine), the whole test suite, then
# the GPU benchmarks against the official PyTorch FP16 model, all in one go on
# a fresh GPU machine (see docs/cuda.md). Generates its own test data.
#
#   scripts/gpu-check.sh            logs and a summary under $OUT (default /tmp/gpu-check)
#
# Environment: OUT (log folder), JOBS (default: all cores), FT_CUDA_ARCH
# (default 90), GPU_CHECK_SKIP_SUITE=1 to skip the whole ctest suite,
# GPU_CHECK_MODE=cuda-only to force the reduced build below (full-min to
# force the minimal libraries even where the system has the packages),
# GPU_CHECK_BUILD (build folder, default build-gpu), GPU_CHECK_SKIP_PIPELINE=1
# (no full-pipeline stage), GPU_CHECK_SKIP_STREAMS=1 (one pipeline run, no
# streams-per-GPU sweep), GPU_CHECK_STREAMS ("8 16 24 32"),
# GPU_CHECK_STREAMS_BUDGET_S (270), GPU_CHECK_CLIP_S (15),
# GPU_CHECK_SKIP_SANITIZERS=1 (no compute-sanitizer runs),
# GPU_CHECK_DRY_RUN=1 (a machine without a GPU: everything up to the
# pipeline stage, which then runs on the CPU with the classic detector and
# K = 1, 2; the later GPU stages are skipped).
#
# Machines without the project's system packages (no network to install them)
# get the packages the nn/detect libraries and the tests need from .deb files
# in third_party/debs (fetched beforehand with `apt-get download`, see
# docs/cuda.md), and stand-in pkg-config entries for the video and HTTP
# libraries; only the CUDA test and benchmark targets are built then. With
# third_party/ffmpeg-min (scripts/gpu/build-ffmpeg-min.sh: a minimal FFmpeg
# and libmicrohttpd) the whole program is built instead ("full-min",
# docs/gpu-machine.md).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/gpu-check}
JOBS=${JOBS:-$(nproc)}
ARCH=${FT_CUDA_ARCH:-90}
WORK=${TMPDIR:-/tmp}/gpu-check-work
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu}
mkdir -p "$OUT" "$WORK"
cd "$ROOT" || exit 1
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { echo "== $*"; echo "$*" >>"$SUMMARY"; }
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$OUT/gpu.txt"
{ nvcc --version | tail -2; cmake --version | head -1; gcc --version | head -1; uname -r; } 2>&1
for t in make ninja pkg-config dpkg python3; do printf '%s: %s\n' "$t" "$(command -v $t || echo missing)"; done

# ---- dependencies ----
MODS="yaml-0.1 libavformat libavcodec libavutil libswscale libswresample libavfilter openblas minizip libmicrohttpd libpng cmocka"
MODE=${GPU_CHECK_MODE:-full}
FFMIN=$ROOT/third_party/ffmpeg-min
if [ "$MODE" = full-min ] || [ "$MODE" = cuda-only ] || ! command -v pkg-config >/dev/null ||
    ! pkg-config --exists $MODS 2>/dev/null; then
    [ "$MODE" != cuda-only ] && [ -d "$FFMIN/lib/pkgconfig" ] && MODE=full-min || MODE=cuda-only
    SYS=$WORK/sysroot
    FAKE=$WORK/fakepc
    mkdir -p "$SYS" "$FAKE"
    for f in third_party/debs/*.deb; do
        if command -v dpkg-deb >/dev/null; then
            dpkg-deb -x "$f" "$SYS"
        else
            (cd "$WORK" && ar x "$ROOT/$f" data.tar.xz && tar -xJf data.tar.xz -C "$SYS" && rm -f data.tar.xz)
        fi
    done
    LIB=$SYS/usr/lib/x86_64-linux-gnu
    export LD_LIBRARY_PATH=$LIB:$LIB/openblas-pthread:${LD_LIBRARY_PATH:-}
    if ! command -v pkg-config >/dev/null; then
        ln -sf "$SYS/usr/bin/pkgconf" "$WORK/pkg-config"
        export PATH=$WORK:$PATH
    fi
    command -v make >/dev/null || { ln -sf "$SYS/usr/bin/make" "$WORK/make"; export PATH=$WORK:$PATH; }
    export PKG_CONFIG_LIBDIR=$LIB/pkgconfig:$LIB/openblas-pthread/pkgconfig:$SYS/usr/share/pkgconfig:$FAKE
    export PKG_CONFIG_SYSROOT_DIR=$SYS
    if [ $MODE = full-min ]; then
        # The .pc files name the prefix of the machine that built them; under
        # the sysroot they point at $SYS/ffmin, a link to this checkout's copy.
        ln -sfn "$FFMIN" "$SYS/ffmin"
        old=$(sed -n 's/^prefix=//p' "$FFMIN/lib/pkgconfig/libavcodec.pc")
        mkdir -p "$WORK/ffmin-pc"
        for pc in "$FFMIN"/lib/pkgconfig/*.pc; do
            sed "s|$old|/ffmin|g" "$pc" >"$WORK/ffmin-pc/$(basename "$pc")"
        done
        # No LD_LIBRARY_PATH entry: the program finds these through its build
        # RPATH and libx264 through their RUNPATH, while a system ffmpeg that
        # tests may run keeps its own full libraries.
        export PKG_CONFIG_LIBDIR=$WORK/ffmin-pc:$PKG_CONFIG_LIBDIR
        pkg-config --exists $MODS 2>/dev/null ||
            { say "full-min: missing $(for m in $MODS; do pkg-config --exists $m || printf '%s ' $m; done)-> cuda-only"; MODE=cuda-only; }
    fi
    for m in $MODS; do
        pkg-config --exists "$m" 2>/dev/null ||
            printf 'Name: %s\nDescription: stand-in (not built here)\nVersion: 99\nLibs:\nCflags:\n' "$m" >"$FAKE/$m.pc"
    done
fi
say "mode: $MODE (full = every system package present; full-min = the whole program against third_party/ffmpeg-min; cuda-only = CUDA targets only)"

# ---- build ----
echo "== configure + build ($(elapsed) s)"
cmake -S . -B "$BUILD" -G "Unix Makefiles" -DFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
    >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; say "configure FAILED"; exit 1; }
BUILD_OK=1
if [ $MODE != cuda-only ]; then
    # the program first: a test that does not compile must not cost the
    # pipeline stage its binary
    cmake --build "$BUILD" -j "$JOBS" --target football-tracker >"$OUT/build.log" 2>&1 || BUILD_OK=0
    cmake --build "$BUILD" -j "$JOBS" >>"$OUT/build.log" 2>&1 || BUILD_OK=0
else
    for t in ft_core ft_nn ft_detect test_nn_cuda_ops test_nn_cuda_rfdetr bench_nn_cuda; do
        make -C "$BUILD" -j "$JOBS" "$t/fast" >>"$OUT/build.log" 2>&1 || { BUILD_OK=0; break; }
    done
fi
grep -E "warning|error" "$OUT/build.log" | grep -v "^make" | head -20
[ $BUILD_OK = 1 ] || { tail -40 "$OUT/build.log"; say "build FAILED"; }
say "build: $([ $BUILD_OK = 1 ] && echo ok || echo FAILED) ($(elapsed) s)"

# ---- test data ----
CKPT=$WORK/rfdetr-medium-random.safetensors
python3 scripts/gpu/rfdetr_reference.py checkpoint "$CKPT" 2>&1 | tail -2
export FT_RFDETR_CHECKPOINT=$CKPT FT_SOURCE_DIR=$ROOT FT_BUILD_DIR=$BUILD
export FT_BIN=$BUILD/football-tracker

# ---- CUDA tests ----
run_test() {
    local name=$1
    echo "== $name ($(elapsed) s)"
    if [ ! -x "$BUILD/tests/$name" ]; then say "$name: NOT BUILT"; return; fi
    timeout 150 "$BUILD/tests/$name" >"$OUT/$name.log" 2>&1
    local rc=$?
    grep -vE '^\{"ts"' "$OUT/$name.log" | tail -60
    # the backend's warnings and errors (FP32 switch, capture, CUDA errors)
    grep -E '"level":"(warn|error)"' "$OUT/$name.log" | grep -o '"msg":.*' | sort | uniq -c | head -20
    say "$name: $([ $rc = 0 ] && echo PASS || echo "FAIL (rc $rc)")"
    [ $rc = 0 ] || grep -E -B3 'FAILED|ERROR  |LINE  ' "$OUT/$name.log" | grep -vE '^\{"ts"' |
        head -20 | tee -a "$SUMMARY"
}
run_test test_nn_cuda_ops
run_test test_nn_cuda_rfdetr

# ---- full pipeline and streams per GPU (whole-program builds) ----
if [ $MODE != cuda-only ] && [ -x "$FT_BIN" ] && [ "${GPU_CHECK_SKIP_PIPELINE:-0}" != 1 ]; then
    echo "== full pipeline: batch on a 1080p30 clip, then concurrent jobs ($(elapsed) s)"
    if [ "${GPU_CHECK_DRY_RUN:-0}" = 1 ]; then
        PL_ENV=(DEVICE=cpu CKPT= STREAMS="${GPU_CHECK_STREAMS:-1 2}" MIN_FPS=1 CLIP_S="${GPU_CHECK_CLIP_S:-2}")
    else
        # the random checkpoint carries no args: its size as for the benchmark
        PL_ENV=(DEVICE=cuda CKPT="$CKPT" MODEL_SIZE=medium STREAMS="${GPU_CHECK_STREAMS:-8 16 24 32}" CLIP_S="${GPU_CHECK_CLIP_S:-15}")
    fi
    env "${PL_ENV[@]}" OUT="$OUT/pipeline" WORK="$WORK/pipeline" SUMMARY="$SUMMARY" \
        BUDGET_S="${GPU_CHECK_STREAMS_BUDGET_S:-270}" SKIP_STREAMS="${GPU_CHECK_SKIP_STREAMS:-0}" \
        bash scripts/gpu/pipeline-streams.sh
fi
if [ "${GPU_CHECK_DRY_RUN:-0}" = 1 ]; then
    echo "== dry run: GPU stages skipped; summary ($(elapsed) s)"
    cat "$SUMMARY"
    exit 0
fi

# ---- whole suite ----
if [ "${GPU_CHECK_SKIP_SUITE:-0}" != 1 ]; then
    echo "== ctest, whole suite ($(elapsed) s)"
    SEL=""
    if [ $MODE = cuda-only ]; then
        # every test whose libraries build without the video/HTTP packages and
        # that does not run the program itself
        for l in ft_track ft_camera; do make -C "$BUILD" -j "$JOBS" "$l/fast" >>"$OUT/build.log" 2>&1; done
        for t in $(cd "$BUILD" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p'); do
            case $t in test_cli_*|test_nn_cuda_*) continue ;; esac
            make -C "$BUILD" -j "$JOBS" "$t/fast" >>"$OUT/build.log" 2>&1 && SEL="$SEL|$t"
        done
        SEL="-R ^(${SEL#|})\$"
        say "suite (cuda-only machine): the tests that build here:${SEL#-R }"
    fi
    (cd "$BUILD" && timeout 200 ctest -j "$JOBS" --timeout 150 --output-on-failure $SEL \
        >"$OUT/ctest.log" 2>&1)
    tail -25 "$OUT/ctest.log"
    say "ctest: $(grep -E 'tests passed|tests failed' "$OUT/ctest.log" | tail -1)"
    grep -E '^\s+[0-9]+ - ' "$OUT/ctest.log" | tee -a "$SUMMARY"
    [ -x "$FT_BIN" ] || say "(no football-tracker binary in cuda-only mode: tests that run the program, e.g. test_nn_weights' test_inspect_cli and test_tools_suite, fail for that reason alone)"
fi

# ---- benchmarks ----
echo "== bench: CUDA ($(elapsed) s)"
BENCH=$BUILD/tests/bench_nn_cuda
[ $MODE = full ] && BENCH="$FT_BIN bench rfdetr-cuda"
# batch 32: one forward pass over 32 frames (its own plan and CUDA graph)
timeout 180 $BENCH --model "$CKPT" --size medium --iters 300 --streams 8 --cpu-iters 3 \
    --batch 32 --batch-iters 50 >"$OUT/bench_cuda.log" 2>&1
grep -vE '^\{"ts"' "$OUT/bench_cuda.log" | tail -16
grep -E '^(rfdetr|baseline)' "$OUT/bench_cuda.log" >>"$SUMMARY"
grep -E 'graph of|graph capture' "$OUT/bench_cuda.log" | head -3
echo "== profile: eager passes with an event pair per operator ($(elapsed) s)"
FT_CUDA_PROFILE=1 timeout 60 $BENCH --model "$CKPT" --size medium --iters 30 --streams 1 \
    --cpu-iters 0 --batch 32 --batch-iters 10 >"$OUT/profile.log" 2>&1
# each backend logs its profile when destroyed: the concurrent-stream model
# (batch 1), the batch-32 model, then the batch-1 model
say "profile blocks below, in order: the --streams 1 model (batch 1), batch 32, batch 1"
# GPU time per operator: each profiled pass is enqueued behind a 10 ms spin,
# so the event pairs exclude host gaps (latencies of this run are meaningless)
grep -o 'cuda profile:[^"]*' "$OUT/profile.log" | tee -a "$SUMMARY"
say "before (run of 19:02 UTC, WMMA attention, host gaps in the profile): b1 p50 3.263 ms, attention 1.448 ms/pass (16 calls), linear 0.725, layernorm 0.461, linear+residual 0.364"

echo "== bench: official PyTorch FP16 ($(elapsed) s)"
export FT_TORCH_RESULT=$OUT/torch_bench.json
PYTHONUNBUFFERED=1 timeout 120 python3 scripts/gpu/rfdetr_reference.py torch-bench "$CKPT" \
    >"$OUT/bench_torch.log" 2>&1
tail -25 "$OUT/bench_torch.log"
grep -E '^torch-fp16' "$OUT/bench_torch.log" >>"$SUMMARY"
python3 - "$OUT/bench_cuda.log" "$FT_TORCH_RESULT" <<'EOF' | tee -a "$SUMMARY"
import json, re, sys
try:
    r = dict(kv for line in open(sys.argv[1]) if line.startswith("RESULT ")
             for kv in re.findall(r"(\w+)=([\d.]+)", line))
    t = json.load(open(sys.argv[2]))
    ours, theirs = float(r["cuda_b1_p50_ms"]), t["1"][0]
    print(f"batch 1 p50: ours {ours:.3f} ms (incl. 1080p pre-processing) vs PyTorch FP16 "
          f"{theirs:.3f} ms (forward only): {theirs / ours:.2f}x")
    print(f"throughput: ours {float(r['cuda_fps']):.0f} frames/s vs PyTorch FP16 batch 32 "
          f"{t['32'][2]:.0f} frames/s")
    if "cuda_bn_fps" in r:
        n, fps, fwd = r["cuda_batch"], float(r["cuda_bn_fps"]), float(r["cuda_bn_fwd_fps"])
        print(f"batch {n}: ours {fps:.0f} frames/s end to end (p50 {float(r['cuda_bn_p50_ms']):.2f}"
              f" ms, p99 {float(r['cuda_bn_p99_ms']):.2f} ms per batch, {r['cuda_bn_mib']} MiB), "
              f"forward only {fwd:.0f} frames/s vs PyTorch FP16 batch 32 {t['32'][2]:.0f} "
              f"frames/s (forward only): {fwd / t['32'][2]:.2f}x; target >= 3000 frames/s")
except Exception as e:  # a missing side is reported above
    print(f"comparison unavailable: {e}")
EOF

if [ $MODE != cuda-only ] && [ -x "$FT_BIN" ]; then
    # option C of docs/gpu-sharing.md: 8 clients of one batching `infer`
    # server against 8 processes with a model each, in the same bench run
    echo "== bench: shared inference server, 8 clients ($(elapsed) s)"
    timeout 240 "$FT_BIN" bench infer-share --model "$CKPT" --device cuda --clients 8 \
        --frames 256 --size 1920x1080 --max-batch 8 --window-ms 2 >"$OUT/bench_infer_share.log" 2>&1
    grep -E '^(copies|shared|server|ratio)' "$OUT/bench_infer_share.log" | tee -a "$SUMMARY" ||
        tail -5 "$OUT/bench_infer_share.log" | tee -a "$SUMMARY"
fi

if [ "${GPU_CHECK_SKIP_SANITIZERS:-0}" != 1 ] && command -v compute-sanitizer >/dev/null &&
    [ -x "$BUILD/tests/test_nn_cuda_ops" ]; then
    echo "== compute-sanitizer memcheck of the operator tests ($(elapsed) s)"
    # --report-api-errors no: test_errors provokes out-of-memory API errors on
    # purpose; memcheck is here for invalid accesses and uninitialised reads
    timeout ${GPU_CHECK_MEMCHECK_S:-90} compute-sanitizer --tool memcheck --report-api-errors no \
        --print-limit 10 "$BUILD/tests/test_nn_cuda_ops" >"$OUT/memcheck.log" 2>&1
    rc=$?
    grep -E '^=========' "$OUT/memcheck.log" | head -30
    say "memcheck: $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1), tests under memcheck: $([ $rc = 0 ] && echo PASS || echo "FAIL (rc $rc)")"
    [ $rc = 0 ] || grep -E -B2 'FAILED|ERROR  ' "$OUT/memcheck.log" | head -20 | tee -a "$SUMMARY"
    echo "== compute-sanitizer racecheck of the attention kernels ($(elapsed) s)"
    # shared-memory hazards of the double-buffered flash-attention tiles
    FT_TEST_FILTER=test_attention timeout ${GPU_CHECK_RACECHECK_S:-60} compute-sanitizer \
        --tool racecheck --print-limit 10 "$BUILD/tests/test_nn_cuda_ops" >"$OUT/racecheck.log" 2>&1
    rc=$?
    grep -E '^=========' "$OUT/racecheck.log" | head -20
    say "racecheck (test_attention): $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/racecheck.log" | tail -1), rc $rc$([ $rc = 124 ] && echo ' (timed out)')"
fi

echo "== summary ($(elapsed) s)"
cat "$SUMMARY"
