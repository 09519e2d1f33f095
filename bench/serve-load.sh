#!/bin/bash
# Load test of `football-tracker serve` on loopback: N generated live streams
# published to a private nginx-rtmp, one serve worker per stream (default
# detector, 1280x720 output pushed back to nginx), N = 1, 2, ... until a step
# is not real time. A step is real time when, over the measuring window,
# every stream processed at least 97 % of the nominal frames and dropped none
# (ft_frames_dropped_total unchanged) and no output slot went without its
# frame (ft_frames_repeated_total unchanged); MAX_DROP_PCT (default 0)
# tolerates drops and repeats up to that share of the nominal frames. The
# live output's jitter buffer (stream.jitter_buffer_ms, default 100 ms;
# JITTER_MS overrides it) absorbs a publisher or a pipeline that is late by
# less than that; each step also prints the buffer's mean delay and its
# drift corrections and re-anchors. Prints one line per step and the
# largest real-time N. Everything runs on 127.0.0.1 and is stopped at the end.
#
#   bench/serve-load.sh [MAX_N]          (default 6)
#
# Environment: FT_BIN (default build/football-tracker), SIZE (input, default
# 1280x720), FPS (default 30), WARMUP (s, default 8), WINDOW (s, default 15),
# JITTER_MS (stream.jitter_buffer_ms of the workers, default: the built-in),
# THREADS (encoder.threads and decoder.threads of the workers, default: the
# supervisor's share of the cores, docs/serve.md),
# KEEP=1 keeps the work folder, CONTINUE=1 runs every N up to MAX_N even
# after a step that is not real time. Bounded: about (WARMUP + WINDOW + 5) s a step.
set -u
MAX_N=${1:-6}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FT_BIN:-$ROOT/build/football-tracker}
SIZE=${SIZE:-1280x720}
FPS=${FPS:-30}
WARMUP=${WARMUP:-8}
WINDOW=${WINDOW:-15}
MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
for t in nginx ffmpeg curl; do
    command -v $t >/dev/null || { echo "serve-load: needs $t" >&2; exit 1; }
done
[ -r $MODULE ] || { echo "serve-load: needs $MODULE (libnginx-mod-rtmp)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "serve-load: $BIN is not built (set FT_BIN)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ft-serve-load-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "work folder: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RTMP=$(free_port)
HTTP=$(free_port)

echo "serve-load: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "serve-load: input ${SIZE}@${FPS} (synth, looped), output 1280x720, default detector"
"$BIN" synth --out "$WORK/clip.mp4" --seconds 20 --fps "$FPS" --size "$SIZE" --seed 11 \
    >"$WORK/synth.log" 2>&1 || { echo "synth failed" >&2; exit 1; }

cat >"$WORK/nginx.conf" <<NGINX
load_module $MODULE;
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 256; }
rtmp { server { listen 127.0.0.1:$RTMP; application live { live on; record off; } } }
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log" >"$WORK/nginx.out" 2>&1 &
PIDS+=($!)
sleep 0.5

worker_ticks() { # CPU ticks (user + system) of all workers now
    local t=0
    for pid in $(curl -s -m 3 "http://127.0.0.1:$HTTP/status.json" | grep -o '"pid":[0-9]*' | cut -d: -f2); do
        [ -r "/proc/$pid/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo $t
}

metric() { # metric SERIES -> value (0 when absent)
    curl -s -m 3 "http://127.0.0.1:$HTTP/metrics" | awk -v s="$1" '$1 == s { print $2; f=1 } END { if (!f) print 0 }'
}

best=0
for ((n = 1; n <= MAX_N; n++)); do
    # Publishers: one looping ffmpeg per stream, real-time paced.
    pubs=()
    for ((i = 1; i <= n; i++)); do
        ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$WORK/clip.mp4" -c copy -f flv \
            "rtmp://127.0.0.1:$RTMP/live/in$i" >>"$WORK/pub.log" 2>&1 &
        pubs+=($!)
        PIDS+=($!)
    done
    {
        echo "serve:"
        echo "  port: $HTTP"
        echo "  realtime: false"
        echo "  set: {output.width: 1280, output.height: 720, stream.bitrate: 2500k${JITTER_MS:+, stream.jitter_buffer_ms: $JITTER_MS}${THREADS:+, encoder.threads: $THREADS, decoder.threads: $THREADS}}"
        echo "streams:"
        for ((i = 1; i <= n; i++)); do
            echo "  s$i: {input: \"rtmp://127.0.0.1:$RTMP/live/in$i\", output: \"rtmp://127.0.0.1:$RTMP/live/out$i\"}"
        done
    } >"$WORK/streams.yml"
    "$BIN" serve --streams "$WORK/streams.yml" >"$WORK/serve-$n.log" 2>&1 &
    serve=$!
    PIDS+=($serve)
    sleep "$WARMUP"
    declare -A p0 d0 r0
    for ((i = 1; i <= n; i++)); do
        p0[$i]=$(metric "ft_frames_processed_total{stream=\"s$i\"}")
        d0[$i]=$(metric "ft_frames_dropped_total{stream=\"s$i\"}")
        r0[$i]=$(metric "ft_frames_repeated_total{stream=\"s$i\"}")
    done
    cpu0=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
    w0=$(worker_ticks)
    sleep "$WINDOW"
    w1=$(worker_ticks)
    cpu1=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
    per=$(awk -v a="$w0" -v b="$w1" -v hz="$(getconf CLK_TCK)" -v w="$WINDOW" -v n="$n" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / w / n }')
    ok=1
    worst=999
    drops=0
    reps=0
    for ((i = 1; i <= n; i++)); do
        p=$(metric "ft_frames_processed_total{stream=\"s$i\"}")
        d=$(metric "ft_frames_dropped_total{stream=\"s$i\"}")
        r=$(metric "ft_frames_repeated_total{stream=\"s$i\"}")
        pct=$(awk -v a="${p0[$i]}" -v b="$p" -v f="$FPS" -v w="$WINDOW" 'BEGIN { printf "%.1f", 100 * (b - a) / (f * w) }')
        drops=$(awk -v s="$drops" -v a="${d0[$i]}" -v b="$d" 'BEGIN { print s + b - a }')
        reps=$(awk -v s="$reps" -v a="${r0[$i]}" -v b="$r" 'BEGIN { print s + b - a }')
        worst=$(awk -v a="$worst" -v b="$pct" 'BEGIN { print (b < a) ? b : a }')
    done
    jit=$(curl -s -m 3 "http://127.0.0.1:$HTTP/metrics" | awk '
        /^ft_jitter_buffer_seconds[{ ]/ { b += $2; n++ } /^ft_jitter_corrections_total[{ ]/ { c += $2 }
        /^ft_jitter_reanchors_total[{ ]/ { r += $2 }
        END { printf "jitter buffer %s ms, %d corrections, %d re-anchors", n ? sprintf("%.0f", 1000 * b / n) : "n/a", c, r }')
    load=$(metric ft_serve_load)
    lat=$(curl -s -m 3 "http://127.0.0.1:$HTTP/metrics" | awk '/^ft_latency_seconds_sum/ { s += $2 } /^ft_latency_seconds_count/ { c += $2 } END { if (c) printf "%.1f", 1000 * s / c; else print "n/a" }')
    busy=$(echo "$cpu0 $cpu1" | awk '{ printf "%.0f", 100 * ($3 - $1) / (($3 - $1) + ($4 - $2)) }')
    nominal=$((FPS * WINDOW * n))
    droppct=$(awk -v d="$drops" -v r="$reps" -v t="$nominal" 'BEGIN { printf "%.2f", 100 * (d > r ? d : r) / t }')
    awk -v w="$worst" 'BEGIN { exit !(w >= 97) }' || ok=0
    awk -v p="$droppct" -v m="${MAX_DROP_PCT:-0}" 'BEGIN { exit !(p <= m) }' || ok=0
    printf 'N=%d  slowest stream %s%% of %s fps  dropped %s  repeated %s (%s%%)  %s  mean latency %s ms  ft_serve_load %s  CPU per worker %s%% of a core  machine CPU %s%% (load avg %s)  -> %s\n' \
        "$n" "$worst" "$FPS" "$drops" "$reps" "$droppct" "$jit" "$lat" "$load" "$per" "$busy" "$(cut -d' ' -f1 /proc/loadavg)" \
        "$([ $ok = 1 ] && echo 'real time' || echo 'NOT real time')"
    kill -TERM "$serve"
    wait "$serve" 2>/dev/null
    for p in "${pubs[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ $ok = 1 ] && [ $best = $((n - 1)) ] && best=$n
    [ $ok = 1 ] || [ "${CONTINUE:-0}" = 1 ] || break
done
echo "serve-load: largest real-time N = $best (input ${SIZE}@${FPS}, output 1280x720, default detector)"

# Kill check over RTMP: two streams, SIGKILL the worker of s1; s1 must come
# back (new pid, ready, frames) and s2 keep its process and its frame count
# moving throughout.
[ "${KILLCHECK:-1}" = 1 ] || exit 0
pubs=()
for i in 1 2; do
    ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$WORK/clip.mp4" -c copy -f flv \
        "rtmp://127.0.0.1:$RTMP/live/in$i" >>"$WORK/pub.log" 2>&1 &
    pubs+=($!)
    PIDS+=($!)
done
{
    echo "serve: {port: $HTTP, backoff_initial_s: 0.5, set: {output.width: 1280, output.height: 720}}"
    echo "streams:"
    for i in 1 2; do
        echo "  s$i: {input: \"rtmp://127.0.0.1:$RTMP/live/in$i\", output: \"rtmp://127.0.0.1:$RTMP/live/out$i\"}"
    done
} >"$WORK/streams.yml"
"$BIN" serve --streams "$WORK/streams.yml" >"$WORK/serve-kill.log" 2>&1 &
serve=$!
PIDS+=($serve)
sleep "$WARMUP"
pid_of() { curl -s -m 3 "http://127.0.0.1:$HTTP/status.json" | grep -o "\"id\":\"$1\",\"pid\":[0-9]*" | grep -o '[0-9]*$'; }
p1=$(pid_of s1)
p2=$(pid_of s2)
f2a=$(metric 'ft_frames_sent_total{stream="s2"}')
kill -KILL "$p1"
sleep 12
p1b=$(pid_of s1)
p2b=$(pid_of s2)
f2b=$(metric 'ft_frames_sent_total{stream="s2"}')
f1=$(metric 'ft_frames_sent_total{stream="s1"}')
r1=$(metric 'ft_worker_ready{stream="s1"}')
k1=$(metric 'ft_restarts_total{stream="s1",reason="signal"}')
k2=$(metric 'ft_restarts_total{stream="s2",reason="signal"}')
verdict=ok
{ [ "$p1b" != "$p1" ] && [ "${p1b:-0}" -gt 0 ] && [ "$r1" = 1 ] && awk -v f="$f1" 'BEGIN { exit !(f > 0) }'; } || verdict=FAILED
{ [ "$p2b" = "$p2" ] && [ "$k2" = 0 ] && awk -v a="$f2a" -v b="$f2b" 'BEGIN { exit !(b > a) }'; } || verdict=FAILED
printf 'kill check: s1 pid %s -> %s (restarts{signal} %s, ready %s, %s frames sent since), s2 pid %s -> %s, frames sent %s -> %s in 12 s -> %s\n' \
    "$p1" "$p1b" "$k1" "$r1" "$f1" "$p2" "$p2b" "$f2a" "$f2b" "$verdict"
kill -TERM "$serve"
wait "$serve" 2>/dev/null
