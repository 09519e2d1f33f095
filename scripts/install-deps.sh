#!/bin/sh
# Installs every system package football-tracker needs to build, test and run.
# This is the one list of packages: CI, `make demo` and `make test` all call it.
# Idempotent: packages already present are not reinstalled, and apt-get update
# runs only when something is missing.
set -eu

PACKAGES="
build-essential cmake pkg-config git ca-certificates
libyaml-dev libcmocka-dev
libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev
libx264-dev ffmpeg
libopenblas-dev libminizip-dev zlib1g-dev
libpng-dev libfreetype-dev fonts-dejavu-core
libmicrohttpd-dev curl
nginx libnginx-mod-rtmp
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Optional: headless Chromium for the status-page browser test
# (tests/test_service_stream.c skips that check without it). Not every
# distribution or architecture has it, so failing to install it is no error.
# FT_DEPS_NO_OPTIONAL=1 skips it (container builds, deploy/Dockerfile).
install_optional() {
    if [ -z "${FT_DEPS_NO_OPTIONAL:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ||
            echo "install-deps: chromium not installed; the status-page browser test will skip" >&2
    fi
}

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    install_optional
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or install them yourself)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
install_optional
