#!/bin/sh
# Builds the CPU container image (deploy/Dockerfile) and checks that it works:
#
#   scripts/docker-check.sh [--worktree]
#
# Too slow for ctest (the build compiles the program: minutes), so it is run
# by hand or in a CI job with a Docker engine. Needs: docker with a running
# daemon, git, curl, ffprobe and ffmpeg on the host.
#
# Context: the committed tree (git archive HEAD), so work in progress in the
# checkout never reaches the image; --worktree sends the working tree instead.
# Base image: $DEBIAN (default football-tracker/debian:12-slim, made by
# scripts/docker-base-bookworm.sh when missing, which needs root; set
# DEBIAN=debian:12-slim to use the registry's image). Other settings: TAG
# (default football-tracker:dev), BUILD_JOBS (compile jobs, default 2).
#
# Checks: --version; image user, entrypoint, command and size; no compiler,
# headers or -dev packages; every library of the binary resolves; the default
# streams.yml listens on 0.0.0.0; as the image's user, synth a clip into a
# mounted folder and batch it (ffprobe and a full decode of the output);
# serve --streams with one file stream in a read-only container without
# capabilities, /health, /ready and /metrics on the published port, and a
# clean stop. Exit 0 when all pass, 1 otherwise. Containers and temporary
# folders are removed; the image is kept.
set -eu

DEBIAN=${DEBIAN:-football-tracker/debian:12-slim}
TAG=${TAG:-football-tracker:dev}
BUILD_JOBS=${BUILD_JOBS:-2}
WORKTREE=0

die() {
    echo "docker-check: $*" >&2
    exit 1
}

for arg in "$@"; do
    case $arg in
        --worktree) WORKTREE=1 ;;
        -h | --help)
            sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument '$arg' (usage: $0 [--worktree])" ;;
    esac
done

for tool in docker git curl ffprobe ffmpeg; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is dockerd running? are you in the docker group?)"
SRC=$(cd "$(dirname "$0")/.." && pwd)

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ft-docker-check.XXXXXX")
NAME=ft-docker-check-$$
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    docker rm -f "$NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! docker image inspect "$DEBIAN" >/dev/null 2>&1; then
    case $DEBIAN in
        football-tracker/debian:12-slim) "$SRC/scripts/docker-base-bookworm.sh" "$DEBIAN" ;;
        *) docker pull "$DEBIAN" || die "base image $DEBIAN: not present and cannot be pulled" ;;
    esac
fi

# --- build ---------------------------------------------------------------
if [ "$WORKTREE" = 1 ]; then
    CTX=$SRC
else
    CTX=$WORK/context
    mkdir "$CTX"
    git -C "$SRC" archive HEAD | tar -x -C "$CTX" || die "git archive HEAD of $SRC failed"
fi
echo "docker-check: building $TAG from $CTX (base $DEBIAN, $BUILD_JOBS jobs)"
start=$(date +%s)
docker build -f "$CTX/deploy/Dockerfile" --build-arg DEBIAN="$DEBIAN" \
    --build-arg BUILD_JOBS="$BUILD_JOBS" --network host -t "$TAG" "$CTX" >"$WORK/build.log" 2>&1 || {
    tail -n 30 "$WORK/build.log" >&2
    die "docker build failed (log tail above)"
}
echo "docker-check: built in $(($(date +%s) - start)) s"

# --- checks --------------------------------------------------------------
failed=0
pass() { echo "ok   $*"; }
fail() {
    echo "FAIL $*" >&2
    failed=1
}
# expect ACTUAL EXPECTED OK-MESSAGE FAIL-MESSAGE
expect() {
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$4"; fi
}
# Runs the image with its entrypoint replaced by sh.
in_image() { docker run --rm --entrypoint sh "$TAG" -c "$1"; }

v=$(docker run --rm "$TAG" --version 2>&1) || true
case $v in
    "football-tracker "[0-9]*) pass "--version: $v" ;;
    *) fail "--version printed '$v'" ;;
esac

user=$(docker inspect -f '{{.Config.User}}' "$TAG")
entry=$(docker inspect -f '{{json .Config.Entrypoint}}' "$TAG")
cmd=$(docker inspect -f '{{json .Config.Cmd}}' "$TAG")
size=$(docker inspect -f '{{.Size}}' "$TAG")
expect "$user" 10001:10001 "user $user" "user is '$user', expected 10001:10001"
expect "$entry" '["/usr/local/bin/football-tracker"]' "entrypoint $entry" "entrypoint is $entry"
pass "command $cmd, image size $((size / 1000000)) MB"

# shellcheck disable=SC2016 # expanded by the image's shell
if in_image 'for t in cc gcc g++ c++ clang ld as make cmake ninja pkg-config nvcc; do
                  command -v "$t" && exit 1; done
              [ -z "$(ls -A /usr/include 2>/dev/null)" ] || { echo "/usr/include not empty"; exit 1; }
              dpkg-query -W -f="\${Package}\n" |
                  grep -E -- "-dev$|^gcc(-[0-9]+)?$|^g\+\+|^cpp|^binutils|^make$|^cmake|^clang" &&
                  exit 1
              exit 0'; then
    pass "no compiler, headers or build dependencies"
else
    fail "build tools or development packages in the image (listed above)"
fi

missing=$(in_image 'ldd /usr/local/bin/football-tracker | grep "not found"' || true)
expect "$missing" "" "all libraries of the binary resolve" "unresolved libraries: $missing"

check=$(docker run --rm "$TAG" serve --streams /etc/football-tracker/streams.yml --check 2>&1) || true
case $check in
    *"HTTP 0.0.0.0:9090"*) pass "default streams.yml: HTTP 0.0.0.0:9090" ;;
    *) fail "default streams.yml --check: $check" ;;
esac

# A folder the image's user (uid 10001) can write, whoever runs this script.
DATA=$WORK/data
mkdir "$DATA"
chmod 0777 "$DATA"
run_data() { docker run --rm -v "$DATA:/data" "$TAG" "$@"; }

if run_data synth --out /data/clip.mp4 --seconds 3 --size 640x360 >"$WORK/synth.log" 2>&1 &&
    run_data batch --input /data/clip.mp4 --output /data/out.mp4 --no-progress >"$WORK/batch.log" 2>&1; then
    probe=$(ffprobe -v error -select_streams v:0 -count_frames \
        -show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$DATA/out.mp4" 2>&1) || true
    if [ "$probe" = "h264,1280,720,90" ] && ffmpeg -v error -xerror -i "$DATA/out.mp4" -f null - 2>/dev/null; then
        pass "synth + batch as uid 10001: out.mp4 h264 1280x720, 90 frames, decodes"
    else
        fail "batch output: ffprobe '$probe' (expected h264,1280,720,90) or decode error"
    fi
else
    cat "$WORK/synth.log" "$WORK/batch.log" >&2 2>/dev/null || true
    fail "synth or batch in the container failed (log above)"
fi

# serve: one file stream paced as a camera, pushed as MPEG-TS over UDP
# inside the container (nothing needs to listen), long enough to be flowing
# while the endpoints are read.
if run_data synth --out /data/live.mp4 --seconds 30 --size 640x360 --seed 2 >"$WORK/synth2.log" 2>&1; then
    cat >"$DATA/streams.yml" <<'EOF'
serve:
  bind: 0.0.0.0
  port: 9090
streams:
  cam1:
    input: file:///data/live.mp4
    output: udp://127.0.0.1:5000
    realtime: true
EOF
    chmod 0644 "$DATA/streams.yml"
    docker run -d --name "$NAME" --read-only --cap-drop ALL --security-opt no-new-privileges \
        -p 127.0.0.1::9090 -v "$DATA:/data:ro" "$TAG" serve --streams /data/streams.yml >/dev/null ||
        die "docker run of serve failed"
    port=$(docker port "$NAME" 9090/tcp | sed -n '1s/.*://p')
    url=http://127.0.0.1:$port
    # Poll until the worker is flowing (model load, decoder start), at most 30 s.
    ready=000
    i=0
    while [ $i -lt 30 ]; do
        ready=$(curl -s -o /dev/null -w '%{http_code}' "$url/ready") || ready=000
        [ "$ready" = 200 ] && break
        sleep 1
        i=$((i + 1))
    done
    health=$(curl -s -o /dev/null -w '%{http_code}' "$url/health") || health=000
    curl -s "$url/metrics" >"$WORK/metrics" || true
    expect "$health" 200 "serve: /health 200 on port $port" "serve: /health answered $health"
    expect "$ready" 200 "serve: /ready 200" "serve: /ready answered $ready"
    if grep -q '^ft_worker_up{stream="cam1"} 1$' "$WORK/metrics" &&
        grep -q '^ft_frames_processed_total{stream="cam1"} [1-9]' "$WORK/metrics"; then
        pass "serve: /metrics shows worker cam1 up and processing frames"
    else
        fail "serve: /metrics lacks a running cam1 worker"
    fi
    docker stop "$NAME" >/dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
    expect "$code" 0 "serve: docker stop -> exit 0" "serve: exit code $code after docker stop"
    if [ "$failed" = 1 ]; then
        docker logs "$NAME" 2>&1 | tail -n 20 >&2
    fi
else
    cat "$WORK/synth2.log" >&2
    fail "synth of the serve input failed (log above)"
fi

if [ "$failed" = 0 ]; then
    echo "docker-check: all checks passed ($TAG)"
else
    echo "docker-check: some checks FAILED ($TAG)" >&2
fi
exit "$failed"
