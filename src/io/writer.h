/* Video writer: H.264 encode (libx264 or NVENC) and mux to a file (mp4, mkv,
 * mov, ts, flv) or an RTMP/RTMPS URL, with audio passthrough and an optional
 * constant output rate. Frames are given as ft_image views or AVFrames with
 * their time in seconds; timestamps are kept (variable frame rate safe). */
#ifndef FT_IO_WRITER_H
#define FT_IO_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

struct AVFrame;
struct AVPacket;
struct AVCodecParameters;

typedef struct ft_writer ft_writer;

/* Audio copied through unchanged from an input (see ft_reader_audio). */
typedef struct ft_writer_audio_copy {
    const struct AVCodecParameters *par; /* borrowed for the duration of ft_writer_open */
    int tb_num, tb_den;                  /* time base of the packets that will be written */
} ft_writer_audio_copy;

typedef struct ft_writer_params {
    const char *url;    /* path or rtmp://, rtmps://, srt://, udp:// URL (borrowed) */
    int width, height;  /* encoded size; frames of another size are scaled to it */
    double fps;         /* nominal frame rate: sets the GOP and the encoder's rate hint */
    int tb_num, tb_den; /* time base of the output timestamps; 0 = 1/90000 (ignored with
                           target_fps, which uses 1/target_fps) */
    const char *codec;  /* "auto" (NVENC if usable, else x264), "x264" or "nvenc"; NULL = auto */
    const char *preset; /* x264 preset ("veryfast"...); NULL = "veryfast" */
    int64_t bitrate;    /* bits/s; 0 = constant quality (crf) */
    int crf;            /* x264 CRF when bitrate is 0; < 0 = 23 */
    double gop_seconds; /* keyframe interval; <= 0 = 2 s */
    bool zerolatency;   /* x264 tune zerolatency, no B-frames (live) */
    const char *format; /* muxer name; NULL = from the extension, flv for rtmp(s) */
    bool atomic;        /* write to a temp file beside url, rename on ft_writer_close */
    double target_fps;  /* > 0: constant output rate, frames dropped/repeated by time */
    int threads;        /* encoder threads; 0 = libav's choice */
    const ft_writer_audio_copy *audio; /* NULL = no audio stream */
} ft_writer_params;

/* Fills *p with the defaults above (codec auto, veryfast, crf 23, GOP 2 s). */
void ft_writer_params_default(ft_writer_params *p);

/* Opens the encoder and the muxer and writes the header. On failure returns
 * FT_ERR_OUTPUT (bad path, unwritable, unknown format) or FT_ERR_CONFIG (bad
 * codec/preset) with a message naming the URL; *out is then NULL and no file
 * is left behind in atomic mode. *out is returned-owned. */
FT_NODISCARD ft_status ft_writer_open(const ft_writer_params *p, ft_writer **out);

/* Encodes one picture shown at pts_s seconds (from the start of the input).
 * `img` is borrowed (copied, and converted/scaled to the output size, before
 * returning); any ft_pixfmt. Timestamps must increase; a frame that would
 * land on the previous output timestamp is shifted by one tick. */
FT_NODISCARD ft_status ft_writer_write_image(ft_writer *w, const ft_image *img, double pts_s);

/* Encodes one frame (borrowed; its pts field is ignored in favour of pts_s).
 * Its format may be any software pixel format; it is converted if needed. */
FT_NODISCARD ft_status ft_writer_write_frame(ft_writer *w, const struct AVFrame *frame,
                                             double pts_s);

/* Copies one audio packet (borrowed) whose timestamps are in the time base
 * given in params.audio. Ignored when the writer has no audio stream. */
FT_NODISCARD ft_status ft_writer_write_audio(ft_writer *w, const struct AVPacket *pkt);

/* Retargets the bitrate (bits/s > 0) of a writer opened with one, without
 * reopening the output: libx264 and NVENC pick it up at the next frame (the
 * rate cap and buffer follow as set at open). FT_ERR_INVALID for a writer at
 * constant quality or a bitrate <= 0. */
FT_NODISCARD ft_status ft_writer_set_bitrate(ft_writer *w, int64_t bitrate);

/* Flushes the encoder, writes the trailer and (atomic mode) renames the temp
 * file to url. FT_ERR_OUTPUT if any of that fails; the temp file is removed. */
FT_NODISCARD ft_status ft_writer_close(ft_writer *w);

/* Frees the writer (NULL allowed) and sets *w to NULL. A writer not closed
 * successfully is abandoned: in atomic mode its temp file is deleted. */
void ft_writer_destroy(ft_writer **w);

/* Counters since open. */
typedef struct ft_writer_stats {
    int64_t frames_in;      /* frames given to write_* */
    int64_t frames_encoded; /* frames sent to the encoder (after target_fps) */
    int64_t frames_dropped; /* dropped by target_fps resampling */
    int64_t frames_repeated;
    int64_t audio_packets;
    int64_t bytes;          /* muxed bytes so far (files only; 0 when unknown) */
} ft_writer_stats;

void ft_writer_stats_get(const ft_writer *w, ft_writer_stats *out);

/* Name of the video encoder actually in use ("libx264", "h264_nvenc"). */
const char *ft_writer_encoder_name(const ft_writer *w);

#endif
