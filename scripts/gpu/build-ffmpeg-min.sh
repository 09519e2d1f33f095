#!/bin/bash
# Builds, on a Debian 12 dev machine, the smallest set of libraries that lets
# the FULL football-tracker binary build and run on the bare GPU machine
# (no FFmpeg, no libmicrohttpd there, no network; docs/gpu-machine.md):
#
#   * FFmpeg 5.1 from Debian 12's source package, shared libraries with only
#     what the program uses: H.264/HEVC/AAC/MP3 decoders, NVDEC (h264/hevc
#     hwaccels on the CUDA device context), libx264, h264_nvenc, AAC and MJPEG
#     encoders, mp4/mov/matroska/flv/mpegts/avi/hls demuxers, mp4/mov/
#     matroska/flv/mpegts/avi muxers, file/pipe/tcp/udp/http/rtmp protocols,
#     swscale, swresample and the libavfilter core. libx264's shared library
#     (Debian's libx264-164) sits beside them; every library finds its
#     neighbours through RUNPATH $ORIGIN.
#   * libmicrohttpd from Debian 12's source package, static, without TLS
#     (the Debian build links GnuTLS and its dependency chain; `serve` and
#     `stream` use plain HTTP).
#
# Result: third_party/ffmpeg-min/{include,lib,lib/pkgconfig} (git-ignored),
# carried to the GPU machine with the rest of third_party. The .pc files name
# the prefix of THIS machine; scripts/gpu-check.sh rewrites it on arrival.
#
#   scripts/gpu/build-ffmpeg-min.sh        (JOBS=2, WORK=/tmp/ffmpeg-min-work)
#
# Needs apt-get, dpkg-source (dpkg-dev) and a C compiler. Writes only under
# $WORK and $PREFIX: the source and .deb downloads go through a private apt
# state in $WORK, so no deb-src entry is added to the system's sources, and
# build tools missing here (nasm, the ffnvcodec headers) are unpacked from
# their .debs into $WORK, not installed. The versions below are pinned: when
# Debian's security updates move ffmpeg on, the mirror drops the old source
# and the pin must follow (apt-cache policy ffmpeg).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=${PREFIX:-$ROOT/third_party/ffmpeg-min}
WORK=${WORK:-${TMPDIR:-/tmp}/ffmpeg-min-work}
JOBS=${JOBS:-2}
FFMPEG_EPOCH=7
FFMPEG_VERSION=5.1.9-0+deb12u1
MHD_VERSION=0.9.75-6
SYS=$WORK/sys

mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/src" "$WORK/debs" "$SYS"
cat >"$WORK/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
APT=(apt-get -q -o Dir::Etc::SourceList="$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache="$WORK/apt/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User="$(id -un)")
echo "== apt indexes (private, in $WORK/apt)"
"${APT[@]}" update >"$WORK/apt-update.log" 2>&1 || { tail -5 "$WORK/apt-update.log"; exit 1; }

echo "== sources and build-only packages"
(cd "$WORK/src" &&
    "${APT[@]}" source --download-only "ffmpeg=$FFMPEG_EPOCH:$FFMPEG_VERSION" "libmicrohttpd=$MHD_VERSION" >/dev/null)
# nasm: FFmpeg's x86 assembly (software H.264 decoding and swscale without it
# run several times slower); libffmpeg-nvenc-dev: the ffnvcodec headers
# (NVDEC/NVENC/CUDA loaded at run time, nothing linked); libx264: the encoder.
(cd "$WORK/debs" && "${APT[@]}" download nasm libffmpeg-nvenc-dev libx264-164 libx264-dev >/dev/null)
for f in "$WORK"/debs/*.deb; do dpkg-deb -x "$f" "$SYS"; done
# The unpacked .pc files say prefix=/usr: point them into $SYS.
for pc in "$SYS"/usr/lib/pkgconfig/*.pc "$SYS"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc \
    "$SYS"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed -i "s|=/usr|=$SYS/usr|" "$pc"
done
export PATH=$SYS/usr/bin:$PATH
export PKG_CONFIG_LIBDIR=$SYS/usr/lib/x86_64-linux-gnu/pkgconfig:$SYS/usr/lib/pkgconfig:$SYS/usr/share/pkgconfig
nasm -v

rm -rf "$PREFIX" "$WORK/src/ffmpeg" "$WORK/src/mhd"
(cd "$WORK/src" && dpkg-source -x "ffmpeg_$FFMPEG_VERSION.dsc" ffmpeg >/dev/null &&
    dpkg-source -x "libmicrohttpd_$MHD_VERSION.dsc" mhd >/dev/null)

echo "== FFmpeg $FFMPEG_VERSION (minimal) -> $PREFIX"
cd "$WORK/src/ffmpeg"
# --disable-autodetect: nothing found on this machine (VAAPI, zlib, xcb ...)
# gets linked in unnoticed, so the result needs only glibc and libx264.
# RUNPATH $ORIGIN: configure evaluates the flags once (\$ -> $), make expands
# them twice (library.mak's $(eval), then the recipe: $$$$ -> $$ -> $) and the
# single quotes keep the recipe's shell off the last $.
./configure --prefix="$PREFIX" --enable-shared --disable-static --disable-programs --disable-doc \
    --disable-avdevice --disable-postproc --disable-debug --disable-autodetect --disable-everything \
    --enable-pthreads \
    --enable-gpl --enable-libx264 --enable-ffnvcodec --enable-cuda --enable-nvdec --enable-nvenc \
    --enable-hwaccel=h264_nvdec,hevc_nvdec \
    --enable-decoder=h264,hevc,aac,mp3float \
    --enable-encoder=libx264,h264_nvenc,aac,mjpeg \
    --enable-parser=h264,hevc,aac,mpegaudio \
    --enable-demuxer=mov,matroska,flv,live_flv,mpegts,avi,h264,hevc,aac,mp3,hls \
    --enable-muxer=mp4,mov,matroska,flv,mpegts,avi \
    --enable-protocol=file,pipe,tcp,udp,http,rtmp,hls \
    --enable-bsf=null,h264_mp4toannexb,hevc_mp4toannexb,aac_adtstoasc,extract_extradata \
    --enable-filter=buffer,buffersink,abuffer,abuffersink,scale,format,null,anull \
    --enable-swscale --enable-swresample --enable-avfilter \
    --extra-cflags="-I$SYS/usr/include" --extra-ldflags="-L$SYS/usr/lib/x86_64-linux-gnu" \
    --extra-ldsoflags="-Wl,-rpath,'\\\$\\\$\\\$\\\$ORIGIN'" >"$WORK/ffmpeg-configure.log" 2>&1 ||
    { tail -20 "$WORK/ffmpeg-configure.log"; tail -20 ffbuild/config.log; exit 1; }
# configure drops a component whose dependency it does not find instead of
# failing: check the ones the GPU machine is for.
for c in H264_NVDEC_HWACCEL HEVC_NVDEC_HWACCEL H264_NVENC_ENCODER LIBX264_ENCODER H264_DECODER \
    MOV_DEMUXER MP4_MUXER RTMP_PROTOCOL; do
    grep -q "define CONFIG_$c 1" config_components.h || { echo "FFmpeg configure left out $c" >&2; exit 1; }
done
make -j"$JOBS" >"$WORK/ffmpeg-build.log" 2>&1 || { tail -30 "$WORK/ffmpeg-build.log"; exit 1; }
make install >>"$WORK/ffmpeg-build.log" 2>&1
cp -L "$SYS"/usr/lib/x86_64-linux-gnu/libx264.so.164 "$PREFIX/lib/"
strip --strip-unneeded "$PREFIX"/lib/*.so.*

echo "== libmicrohttpd $MHD_VERSION (static, no TLS) -> $PREFIX"
cd "$WORK/src/mhd"
./configure --prefix="$PREFIX" --enable-static --disable-shared --with-pic --disable-https \
    --disable-doc --disable-examples --disable-curl >"$WORK/mhd-configure.log" 2>&1 ||
    { tail -20 "$WORK/mhd-configure.log"; exit 1; }
make -j"$JOBS" -C src/microhttpd >"$WORK/mhd-build.log" 2>&1 || { tail -30 "$WORK/mhd-build.log"; exit 1; }
make -C src/microhttpd install >>"$WORK/mhd-build.log" 2>&1
make install-pkgconfigDATA >>"$WORK/mhd-build.log" 2>&1
make -C src/include install >>"$WORK/mhd-build.log" 2>&1
rm -f "$PREFIX"/lib/*.la
rm -rf "$PREFIX/share"

echo "== result"
readelf -d "$PREFIX/lib/libavcodec.so" | grep -E 'NEEDED|RUNPATH'
du -sh "$PREFIX" "$ROOT/third_party"
