#!/bin/bash
# GPU check: build with CUDA, run the CUDA tests (operators and the whole
# RF-DETR forward pass against the CPU engine), the GPU benchmarks against the
# official PyTorch FP16 model, the full pipeline (NVDEC, streams per GPU) and,
# time permitting, the shared-inference benchmark, the whole test suite and
# compute-sanitizer, all in one go on a fresh GPU machine (docs/gpu-machine.md).
# Generates its own test data.
#
#   scripts/gpu-check.sh      results under $OUT (default /tmp/gpu-check)
#
# Every stage runs in its own process under `timeout`, within a deadline for
# the whole check (GPU_CHECK_DEADLINE_S, 510 s): a stage gets
# min(its cap, the time left) and is skipped when that is below its minimum.
# A failing, timed-out or skipped stage never stops the later ones. After
# every stage (and at the start of each) the results are published under
# $OUT, each file replaced atomically, so a run killed at any point leaves
# the finished stages' results and names the stage that was running:
#
#   summary.txt    per-stage table (pass / FAIL / timeout / skipped, seconds,
#                  note) and the key figures
#   results.json   the same, machine-readable
#   logs.tgz       every log (stage logs, pipeline job logs, GPU usage samples)
#
# Three files: the device tool brings back at most 8 (docs/gpu-machine.md).
# SIGTERM/SIGINT/SIGHUP stop the running stage, mark it "killed" and publish.
#
# Environment: OUT, JOBS (default: all cores), FT_CUDA_ARCH (90),
# GPU_CHECK_DEADLINE_S (510), GPU_CHECK_BUILD (build folder, build-gpu),
# GPU_CHECK_MODE=cuda-only (the reduced build below) or full-min (the minimal
# libraries even where the system has the packages), GPU_CHECK_SKIP_PIPELINE=1
# (no pipeline/streams stages), GPU_CHECK_SKIP_STREAMS=1 (one pipeline job,
# no streams sweep), GPU_CHECK_STREAMS (the MPS sweep's K, "26 30 34"),
# GPU_CHECK_TS_STREAMS (time-sliced after it, "16 20 24"), GPU_CHECK_THREADS
# (encoder/decoder threads per job: auto = 2 x cores / K rounded up, as serve
# gives, 0 = libav's choice),
# GPU_CHECK_STREAMS_BUDGET_S (cap of the streams stage, 270), GPU_CHECK_CLIP_S
# (15), GPU_CHECK_SKIP_SUITE=1,
# GPU_CHECK_SKIP_SANITIZERS=1, GPU_CHECK_DRY_RUN=1 (a machine without a GPU:
# the pipeline stages run on the CPU with the classic detector and K = 1, 2;
# the GPU-only stages are skipped). For checking this script's control flow:
# GPU_CHECK_SIMULATE_FAIL / GPU_CHECK_SIMULATE_HANG (stage names: the stage
# fails at once / sleeps past its time box instead of running) and
# GPU_CHECK_STUB=1 (every stage body is a no-op; no build, for a quick run).
#
# Machines without the project's system packages (no network to install them)
# get the packages the nn/detect libraries and the tests need from .deb files
# in third_party/debs (fetched beforehand with `apt-get download`, see
# docs/cuda.md), and stand-in pkg-config entries for the video and HTTP
# libraries; only the CUDA test and benchmark targets are built then. With
# third_party/ffmpeg-min (scripts/gpu/build-ffmpeg-min.sh: a minimal FFmpeg
# and libmicrohttpd) the whole program is built instead ("full-min").
set -u
set -a # every variable below reaches the stage processes
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/gpu-check}
JOBS=${JOBS:-$(nproc)}
ARCH=${FT_CUDA_ARCH:-90}
WORK=${TMPDIR:-/tmp}/gpu-check-work
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu}
DEADLINE_S=${GPU_CHECK_DEADLINE_S:-510}
DRY=${GPU_CHECK_DRY_RUN:-0}
STUB=${GPU_CHECK_STUB:-0}
LOGS=$WORK/logs
CKPT=$WORK/rfdetr-medium-random.safetensors
T0=$(date +%s)
set +a
rm -rf "$LOGS"
mkdir -p "$OUT" "$LOGS"
cd "$ROOT" || exit 1
STAGES=$LOGS/stages.tsv # name, status, start (s), seconds, note
: >"$STAGES"
: >"$LOGS/notes.txt"

elapsed() { echo $(($(date +%s) - T0)); }
say() { echo "== $*"; echo "$*" >>"$LOGS/notes.txt"; }

# Summary, JSON and log archive under $OUT, each written aside and renamed.
publish() {
    if ! python3 "$ROOT/scripts/gpu/check_report.py" "$LOGS" "$OUT" 2>>"$LOGS/report-errors.log"; then
        # no Python (or a bug in the report): the bare table still comes back
        { echo "stage	status	start_s	seconds	note"; cat "$STAGES"
          [ -f "$LOGS/running" ] && echo "running: $(cat "$LOGS/running")"
          cat "$LOGS/notes.txt"; } >"$OUT/.summary.tmp" && mv -f "$OUT/.summary.tmp" "$OUT/summary.txt"
    fi
    tar czf "$OUT/.logs.tmp" -C "$LOGS" . 2>/dev/null || return
    # a file over 16 MiB does not come back at all: keep the ends of big logs
    if [ "$(stat -c %s "$OUT/.logs.tmp")" -gt $((15 << 20)) ]; then
        find "$LOGS" -type f -size +4M -exec sh -c 'tail -c 1M "$1" >"$1.tail" && mv "$1.tail" "$1"' _ {} \;
        tar czf "$OUT/.logs.tmp" -C "$LOGS" . 2>/dev/null || return
    fi
    mv -f "$OUT/.logs.tmp" "$OUT/logs.tgz"
}

record() { # NAME STATUS START SECONDS NOTE
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$STAGES"
    rm -f "$LOGS/running"
    echo "== $1: $2 ($4 s)${5:+; $5}"
    publish
}

status_of() { awk -F'\t' -v n="$1" '$1 == n { s = $2 } END { print s }' "$STAGES"; }

STAGE_PID=
on_signal() {
    local sig=$1
    trap - TERM INT HUP
    if [ -n "$STAGE_PID" ]; then
        kill -TERM "$STAGE_PID" 2>/dev/null # timeout passes it on to the stage's processes
        sleep 2
        kill -KILL "$STAGE_PID" 2>/dev/null
    fi
    stop_side_jobs
    if [ -f "$LOGS/running" ]; then
        read -r name start <"$LOGS/running"
        record "$name" killed "$start" $(($(elapsed) - start)) "SIG$sig after $(elapsed) s of the check"
    fi
    say "check stopped by SIG$sig at $(elapsed) s"
    publish
    exit 143
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP

# stage NAME CAP_S MIN_S COMMAND...: COMMAND (a function of this script, run
# in its own bash process) under timeout with min(CAP_S, time left), skipped
# when that is below MIN_S. Output goes to $LOGS/NAME.log; a note the stage
# writes to $LOGS/NAME.note (STAGE_NAME is set for it) joins its row.
# Returns the stage's exit status (0 = pass).
stage() {
    local name=$1 cap=$2 min=$3 start left t rc status note
    shift 3
    [ "$min" -le "$cap" ] || min=$cap # a cap set below the minimum is still honoured
    start=$(elapsed)
    left=$((DEADLINE_S - start))
    t=$((cap < left ? cap : left))
    if [ "$t" -lt "$min" ]; then
        record "$name" skipped "$start" 0 "no time left ($left s to the deadline, needs $min)"
        return 75
    fi
    echo "$name $start" >"$LOGS/running"
    publish
    echo "== $name: started at $start s, time box $t s"
    local cmd=("$@")
    export STAGE_NAME=$name
    case " ${GPU_CHECK_SIMULATE_FAIL:-} " in *" $name "*) cmd=(simulated_fail) ;; esac
    case " ${GPU_CHECK_SIMULATE_HANG:-} " in *" $name "*) cmd=(sleep $((t + 30))) ;; esac
    [ "$STUB" = 1 ] && [ "${cmd[0]}" != simulated_fail ] && [ "${cmd[0]}" != sleep ] && cmd=(true)
    STAGE_S=$t timeout -k 10 "$t" bash -c '"$@"' stage "${cmd[@]}" >"$LOGS/$name.log" 2>&1 &
    STAGE_PID=$!
    wait "$STAGE_PID"
    rc=$?
    STAGE_PID=
    case $rc in
    0) status=pass ;;
    75) status=skipped ;;
    124 | 137) status=timeout ;;
    *) status=FAIL ;;
    esac
    note=$(head -c 400 "$LOGS/$name.note" 2>/dev/null | tr '\t\n' '  ')
    [ $status = timeout ] && note="time box $t s${note:+; $note}"
    [ $status = FAIL ] && note="rc $rc${note:+; $note}"
    record "$name" "$status" "$start" $(($(elapsed) - start)) "$note"
    # the last lines of a stage that did not pass, for the console
    [ $status = pass ] || [ $status = skipped ] || grep -vE '^\{"ts"' "$LOGS/$name.log" | tail -8
    return $rc
}

skip() { record "$1" skipped "$(elapsed)" 0 "$2"; }

# ---- stage bodies (each runs in its own bash; exit 75 = skipped) ----
set -a # functions exported with the variables
simulated_fail() { echo "simulated failure (GPU_CHECK_SIMULATE_FAIL)"; return 3; }
note() { echo "$*" >>"$LOGS/${STAGE_NAME:-x}.note"; }

st_build() {
    cmake -S . -B "$BUILD" -G "Unix Makefiles" -DFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
        >"$LOGS/configure.log" 2>&1 || { tail -30 "$LOGS/configure.log"; return 1; }
    local ok=0
    if [ "$MODE" != cuda-only ]; then
        # the program first: a test that does not compile must not cost the
        # pipeline stages their binary
        cmake --build "$BUILD" -j "$JOBS" --target football-tracker || ok=1
        cmake --build "$BUILD" -j "$JOBS" || ok=1
    else
        for t in ft_core ft_nn ft_detect test_nn_cuda_ops test_nn_cuda_rfdetr bench_nn_cuda; do
            make -C "$BUILD" -j "$JOBS" "$t/fast" || { ok=1; break; }
        done
    fi
    grep -E "warning|error" "$LOGS/build.log" | grep -v "^make" | head -20
    return $ok
}

st_checkpoint() { python3 scripts/gpu/rfdetr_reference.py checkpoint "$CKPT"; }

st_test() { # test program name
    if [ ! -x "$BUILD/tests/$1" ]; then echo "$1: not built"; return 1; fi
    "$BUILD/tests/$1"
    local rc=$?
    # cases skipped (no GPU) and failed, by name; the backend's warnings
    # (FP32 switch, capture) and errors are in the log
    local sk fl
    sk=$(sed -n 's/^\[  SKIPPED \] //p' "$LOGS/$STAGE_NAME.log" | grep -v 'test(s)' | sort -u | tr '\n' ' ')
    fl=$(sed -n 's/^\[  FAILED  \] //p' "$LOGS/$STAGE_NAME.log" | grep -v 'test(s)' | sort -u | tr '\n' ' ')
    [ -n "$fl" ] && note "failed: $fl"
    [ -n "$sk" ] && note "skipped: $sk"
    return $rc
}

bench_cmd() {
    if [ "$MODE" = full ]; then echo "$FT_BIN bench rfdetr-cuda"; else echo "$BUILD/tests/bench_nn_cuda"; fi
}

st_bench() {
    # batch 32: one forward pass over 32 frames (its own plan and CUDA graph)
    $(bench_cmd) --model "$CKPT" --size medium --iters 300 --streams 8 --cpu-iters 3 \
        --batch 32 --batch-iters 50
}

st_torch() {
    FT_TORCH_RESULT=$LOGS/torch_bench.json PYTHONUNBUFFERED=1 \
        python3 scripts/gpu/rfdetr_reference.py torch-bench "$CKPT"
}

st_profile() {
    # GPU time per operator: each profiled pass is enqueued behind a 10 ms
    # spin, so the event pairs exclude host gaps (its latencies mean nothing).
    # Each backend logs its profile when destroyed: the --streams 1 model
    # (batch 1), the batch-32 model, then the batch-1 model.
    FT_CUDA_PROFILE=1 $(bench_cmd) --model "$CKPT" --size medium --iters 30 --streams 1 \
        --cpu-iters 0 --batch 32 --batch-iters 10
}

pipeline_env() {
    if [ "$DRY" = 1 ]; then
        PL=(DEVICE=cpu CKPT= STREAMS="${GPU_CHECK_STREAMS:-1 2}" TS_STREAMS="${GPU_CHECK_TS_STREAMS:-1 2}"
            THREADS="${GPU_CHECK_THREADS:-auto}" MIN_FPS=1 CLIP_S="${GPU_CHECK_CLIP_S:-2}")
    else
        # the random checkpoint carries no args: its size as for the benchmark;
        # MPS (production) sweeps around the target of 30 streams, then one
        # round at its best K with libav's thread counts, then time-sliced
        # with what is left
        PL=(DEVICE=cuda CKPT="$CKPT" MODEL_SIZE=medium STREAMS="${GPU_CHECK_STREAMS:-26 30 34}"
            TS_STREAMS="${GPU_CHECK_TS_STREAMS:-16 20 24}" THREADS="${GPU_CHECK_THREADS:-auto}"
            CLIP_S="${GPU_CHECK_CLIP_S:-15}")
    fi
}

st_pipeline() {
    pipeline_env
    env "${PL[@]}" OUT="$LOGS/pipeline" WORK="$WORK/pipeline" SUMMARY="$LOGS/pipeline/summary.txt" \
        SKIP_STREAMS=1 bash scripts/gpu/pipeline-streams.sh
}

st_streams() {
    pipeline_env
    # the sweeps stop starting rounds 30 s before the time box ends
    env "${PL[@]}" OUT="$LOGS/pipeline" WORK="$WORK/pipeline" SUMMARY="$LOGS/pipeline/summary.txt" \
        SKIP_ONE=1 BUDGET_S=$((STAGE_S - 30)) bash scripts/gpu/pipeline-streams.sh
}

st_infer_share() {
    # option C of docs/gpu-sharing.md: 8 clients of one batching `infer`
    # server against 8 processes with a model each, in the same bench run
    "$FT_BIN" bench infer-share --model "$CKPT" --device cuda --clients 8 --frames 256 \
        --size 1920x1080 --max-batch 8 --window-ms 2
}

st_suite() {
    local sel=()
    if [ "$MODE" = cuda-only ]; then
        # every test whose libraries build without the video/HTTP packages and
        # that does not run the program itself
        local s=""
        for l in ft_track ft_camera; do make -C "$BUILD" -j "$JOBS" "$l/fast" >/dev/null 2>&1; done
        for t in $(cd "$BUILD" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p'); do
            case $t in test_cli_* | test_nn_cuda_*) continue ;; esac
            make -C "$BUILD" -j "$JOBS" "$t/fast" >/dev/null 2>&1 && s="$s|$t"
        done
        sel=(-R "^(${s#|})\$")
        note "cuda-only machine: the tests that build here"
    fi
    (cd "$BUILD" && ctest -j "$JOBS" --timeout 150 --output-on-failure "${sel[@]}")
    local rc=$?
    grep -E 'tests passed|tests failed' "$LOGS/$STAGE_NAME.log" | tail -1 >>"$LOGS/$STAGE_NAME.note"
    grep -E '^\s+[0-9]+ - ' "$LOGS/$STAGE_NAME.log" | head -10 >>"$LOGS/$STAGE_NAME.note"
    return $rc
}

st_memcheck() {
    # --report-api-errors no: test_errors provokes out-of-memory API errors on
    # purpose; memcheck is here for invalid accesses and uninitialised reads
    compute-sanitizer --tool memcheck --report-api-errors no --print-limit 10 \
        "$BUILD/tests/test_nn_cuda_ops"
    local rc=$?
    grep -E 'ERROR SUMMARY' "$LOGS/$STAGE_NAME.log" | tail -1 >>"$LOGS/$STAGE_NAME.note"
    return $rc
}

st_racecheck() {
    # shared-memory hazards of the double-buffered flash-attention tiles
    FT_TEST_FILTER=test_attention compute-sanitizer --tool racecheck --print-limit 10 \
        "$BUILD/tests/test_nn_cuda_ops"
    local rc=$?
    grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$LOGS/$STAGE_NAME.log" | tail -1 >>"$LOGS/$STAGE_NAME.note"
    return $rc
}
set +a

# GPU memory and utilisation every 0.5 s for the whole check (the report
# gives each stage's peak); a background job stopped at the end.
SIDE_PIDS=()
stop_side_jobs() {
    local p
    for p in "${SIDE_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    SIDE_PIDS=()
    # an MPS daemon left by a killed streams stage
    if [ -S "$WORK/pipeline/mps-pipe/control" ] && command -v nvidia-cuda-mps-control >/dev/null; then
        echo quit | CUDA_MPS_PIPE_DIRECTORY=$WORK/pipeline/mps-pipe timeout 10 nvidia-cuda-mps-control
    fi
}

# ---- machine ----
echo "== machine"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv \
        >"$LOGS/gpu.txt" 2>&1
    nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader,nounits \
        -lms 500 >"$LOGS/gpu-usage.csv" 2>/dev/null &
    SIDE_PIDS+=($!)
else
    echo "no nvidia-smi" >"$LOGS/gpu.txt"
fi
cat "$LOGS/gpu.txt"
{ nvcc --version | tail -2; cmake --version | head -1; gcc --version | head -1; uname -r; nproc; } \
    >"$LOGS/machine.txt" 2>&1
for t in make ninja pkg-config dpkg python3 compute-sanitizer nvidia-cuda-mps-control; do
    printf '%s: %s\n' "$t" "$(command -v $t || echo missing)"
done >>"$LOGS/machine.txt"
cat "$LOGS/machine.txt"
echo "$T0" >"$LOGS/t0"

# ---- dependencies (in this shell: the environment is the stages') ----
S0=$(elapsed)
echo "setup $S0" >"$LOGS/running"
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
        [ -f "$f" ] || continue
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
export MODE FT_RFDETR_CHECKPOINT=$CKPT FT_SOURCE_DIR=$ROOT FT_BUILD_DIR=$BUILD
export FT_BIN=$BUILD/football-tracker
record setup pass "$S0" $(($(elapsed) - S0)) \
    "mode $MODE$([ "$DRY" = 1 ] && echo ", DRY RUN (no GPU)")"

# ---- stages, most valuable first: a deadline cuts the tail ----
GPU_ONLY="dry run: needs a GPU"
stage build 300 60 st_build
if [ "$STUB" = 1 ] || [ -x "$BUILD/tests/bench_nn_cuda" ] || [ -x "$FT_BIN" ] ||
    [ -x "$BUILD/tests/test_nn_cuda_ops" ]; then
    stage checkpoint 120 20 st_checkpoint
    stage test_nn_cuda_ops 150 30 st_test test_nn_cuda_ops
    stage test_nn_cuda_rfdetr 180 45 st_test test_nn_cuda_rfdetr
    CK=$(status_of checkpoint)
    for s in bench:180:60:st_bench torch:150:60:st_torch profile:75:30:st_profile; do
        IFS=: read -r n cap min fn <<<"$s"
        if [ "$DRY" = 1 ]; then skip "$n" "$GPU_ONLY"
        elif [ "$CK" != pass ]; then skip "$n" "needs the checkpoint (stage checkpoint: $CK)"
        else stage "$n" "$cap" "$min" "$fn"; fi
    done
else
    for n in checkpoint test_nn_cuda_ops test_nn_cuda_rfdetr bench torch profile; do
        skip "$n" "nothing built"
    done
fi

if [ "${GPU_CHECK_SKIP_PIPELINE:-0}" = 1 ]; then
    skip pipeline "GPU_CHECK_SKIP_PIPELINE=1"
    skip streams "GPU_CHECK_SKIP_PIPELINE=1"
elif [ "$MODE" = cuda-only ] || { [ "$STUB" != 1 ] && [ ! -x "$FT_BIN" ]; }; then
    skip pipeline "no football-tracker binary (mode $MODE)"
    skip streams "no football-tracker binary (mode $MODE)"
elif [ "$DRY" != 1 ] && [ "$(status_of checkpoint)" != pass ]; then
    skip pipeline "needs the checkpoint"
    skip streams "needs the checkpoint"
else
    stage pipeline 150 40 st_pipeline
    if [ "${GPU_CHECK_SKIP_STREAMS:-0}" = 1 ]; then
        skip streams "GPU_CHECK_SKIP_STREAMS=1"
    elif [ "$(status_of pipeline)" != pass ]; then
        skip streams "needs a pipeline job that passed (stage pipeline: $(status_of pipeline))"
    else
        stage streams "${GPU_CHECK_STREAMS_BUDGET_S:-270}" 60 st_streams
    fi
fi

if [ "$DRY" = 1 ]; then skip infer_share "$GPU_ONLY"
elif [ "$MODE" = cuda-only ] || { [ "$STUB" != 1 ] && [ ! -x "$FT_BIN" ]; }; then skip infer_share "no football-tracker binary"
elif [ "$(status_of checkpoint)" != pass ]; then skip infer_share "needs the checkpoint"
else stage infer_share 150 60 st_infer_share; fi

if [ "${GPU_CHECK_SKIP_SUITE:-0}" = 1 ]; then skip suite "GPU_CHECK_SKIP_SUITE=1"
else stage suite 240 60 st_suite; fi

if [ "${GPU_CHECK_SKIP_SANITIZERS:-0}" = 1 ]; then
    skip memcheck "GPU_CHECK_SKIP_SANITIZERS=1"
    skip racecheck "GPU_CHECK_SKIP_SANITIZERS=1"
elif [ "$DRY" = 1 ]; then
    skip memcheck "$GPU_ONLY"
    skip racecheck "$GPU_ONLY"
elif ! command -v compute-sanitizer >/dev/null; then
    skip memcheck "no compute-sanitizer"
    skip racecheck "no compute-sanitizer"
else
    stage memcheck "${GPU_CHECK_MEMCHECK_S:-90}" 45 st_memcheck
    stage racecheck "${GPU_CHECK_RACECHECK_S:-60}" 30 st_racecheck
fi

stop_side_jobs
say "check finished at $(elapsed) s (deadline $DEADLINE_S s)"
publish
echo "== summary"
cat "$OUT/summary.txt"
