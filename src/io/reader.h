/* Video reader: demux and decode a file or a network stream (rtmp, rtmps,
 * srt, udp, http/https incl. HLS) with FFmpeg. Yields refcounted decoded
 * frames with their time in seconds, and the input's audio packets for
 * passthrough. Corrupt packets are counted and skipped; the frame size may
 * change mid-stream. A display rotation of 90, 180 or 270 degrees (phone
 * video) is applied: frames are delivered as players show them. */
#ifndef FT_IO_READER_H
#define FT_IO_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

struct AVFrame;
struct AVPacket;
struct AVCodecParameters;

typedef struct ft_reader ft_reader;

typedef struct ft_reader_params {
    const char *url;    /* path, file: URL or an allowed network URL (borrowed) */
    const char *device; /* "cpu" (software), "cuda" (NVDEC, fall back with a warning),
                           "auto" (NVDEC when available); NULL = "auto" */
    int timeout_ms;     /* network open/read timeout; 0 = 5000 (RTMP_TIMEOUT) */
    int buffer_size;    /* network receive buffer bytes; 0 = libav default (RTMP_BUFFER_SIZE) */
    int threads;        /* decoder threads; 0 = libav's choice */
    int reconnect_attempts;   /* network inputs: reopen this many times when the input breaks
                                 or a live one ends (0 = never; stream.reconnect_attempts) */
    double reconnect_delay_s; /* first wait before reopening, doubled each try up to 60 s;
                                 0 = 1 s (stream.reconnect_delay) */
    int device_frames; /* NVDEC surfaces the caller may hold at once through
                          ft_reader_take_device_frame (frames between decoding and a GPU
                          detector); 0 = none: frames are only downloaded */
} ft_reader_params;

/* What ft_reader_read produced. */
typedef enum ft_reader_item {
    FT_READER_VIDEO = 0, /* `frame` holds a decoded picture */
    FT_READER_AUDIO = 1, /* `pkt` holds an audio packet (ft_reader_info.audio_tb) */
} ft_reader_item;

typedef struct ft_reader_info {
    int width, height;       /* of the first frame as delivered, i.e. after the display
                                rotation (may change later) */
    int tb_num, tb_den;      /* video time base */
    double fps;              /* average/nominal frame rate, 0 when unknown */
    double duration_s;       /* 0 when unknown (live) */
    int64_t frame_count;     /* from the container, 0 when unknown */
    bool has_audio;
    const struct AVCodecParameters *audio_par; /* owned by the reader; NULL without audio */
    int audio_tb_num, audio_tb_den;
    bool hw_decode;          /* NVDEC in use */
    bool hw_primary_ctx;     /* ... in the CUDA runtime's primary context of device 0, so
                                its frames' device pointers are valid in runtime calls */
    const char *format_name; /* demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
} ft_reader_info;

/* Appended to an rtmp://127.0.0.1:PORT/app/name URL, opens it in RTMP
 * server mode (libavformat listen=1): the open waits for one publisher
 * (returning after timeout_ms without one), a lost input re-listens without
 * backoff. Only behind the stream service's gate (service/rtmp_gate.h),
 * which checks the publisher's address and stream key first. */
#define FT_READER_LISTEN_SUFFIX "?ft_listen"

/* Smallest frame width and height, and largest width, delivered: other
 * pictures fail the read with FT_ERR_INPUT (the detectors and the renderer
 * need 16x16; the renderer's row buffers hold 8192 pixels, render.c). */
#define FT_READER_MIN_SIZE 16
#define FT_READER_MAX_WIDTH 8192

/* Is `url` a local path or does it use an allowed scheme (file, rtmp, rtmps,
 * srt, udp, http, https)? */
bool ft_reader_url_allowed(const char *url);

/* Opens and probes the input. FT_ERR_INPUT with a message naming the URL when
 * it is missing, unreadable, not a video, or uses a scheme outside the
 * allow-list. *out is returned-owned. */
FT_NODISCARD ft_status ft_reader_open(const ft_reader_params *p, ft_reader **out);

/* Reads the next item. A lost network input is reopened as configured (one
 * warning per attempt, an error after the fifth); time continues across the
 * gap. On FT_READER_VIDEO, `frame` (caller-owned, must be
 * empty) receives a refcounted software frame (YUV420P, NV12, ... — any
 * format libswscale reads) whose pts is in the video time base (that of the
 * stream currently open: use *pts_s, which stays continuous across
 * reconnects), and *pts_s its time in seconds from the stream start. On
 * FT_READER_AUDIO, `pkt` (caller owned, must be empty; NULL = skip audio)
 * receives the packet, timestamps in ft_reader_info's audio time base. Returns
 * FT_ERR_INPUT_EOF at the end, FT_ERR_INPUT on a read failure (or when
 * reconnecting gave up, a frame's size is out of those bounds, or the input
 * ended without one frame), FT_ERR_INTERRUPTED after ft_reader_interrupt. */
FT_NODISCARD ft_status ft_reader_read(ft_reader *r, struct AVFrame *frame, struct AVPacket *pkt,
                                      ft_reader_item *item, double *pts_s);

/* After a read that gave FT_READER_VIDEO, with params.device_frames > 0:
 * moves that frame's NVDEC surface into `dst` (caller-owned, must be empty)
 * as a refcounted AV_PIX_FMT_CUDA frame (NV12; data[0], data[1] are device
 * pointers in the CUDA runtime's primary context, linesize[] their pitches)
 * and returns true. False, dst untouched, when the frame has none (software
 * decoding, NVDEC in a context of its own, not NV12, a display-rotated
 * input, already taken). The
 * host frame is delivered as usual. The decoder's surface pool is sized for
 * device_frames surfaces held by the caller: hold no more, and unref each
 * as soon as it is no longer needed, or decoding stalls. */
bool ft_reader_take_device_frame(ft_reader *r, struct AVFrame *dst);

/* Stream properties, valid after open (pointer borrowed from the reader). */
const ft_reader_info *ft_reader_get_info(const ft_reader *r);

/* Packets that failed to decode and were skipped. */
int64_t ft_reader_corrupt_packets(const ft_reader *r);

/* Reopen attempts that failed in the current outage (0 while the input is
 * up); thread-safe, for alerting on a long outage. */
int ft_reader_reconnect_failures(const ft_reader *r);

/* Asks a blocking read to give up soon (thread-safe and async-signal-safe;
 * used on shutdown). A read blocked on a local FIFO or device is woken
 * with SIGURG, for which the reader installs a no-op handler when it opens
 * such an input. */
void ft_reader_interrupt(ft_reader *r);

/* Closes the input (NULL allowed) and sets *r to NULL. */
void ft_reader_destroy(ft_reader **r);

#endif
