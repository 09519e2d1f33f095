/* Live output of the pipeline (stream mode): a constant-rate output clock
 * in front of the writer. Real frames take the next output slot as they
 * arrive (early ones are dropped so latency stays bounded); when no frame
 * comes, the last one is repeated, and after `slate_after_s` a darkened
 * "RECONNECTING" slate replaces it, so viewers never lose the stream.
 * Output timestamps are slot numbers over the rate: continuous whatever
 * the input does. A failing output is reopened with exponential backoff
 * (the input's reconnect settings), independently of the input; frames due
 * meanwhile are counted as lost. Input audio is copied through on the same
 * clock (ft_live_output_audio). Internal to the pipeline module; used from
 * the encode thread only (the stats getter is thread-safe). */
#ifndef FT_PIPELINE_LIVE_H
#define FT_PIPELINE_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "io/writer.h"

struct AVFrame;
struct AVPacket;

typedef struct ft_live_output ft_live_output;

typedef struct ft_live_output_params {
    ft_writer_params writer;  /* copied; writer.url borrowed and must outlive the object;
                                 writer.audio (NULL = no audio) and its codec parameters
                                 copied, so a reopened output gets the same audio stream */
    double fps;               /* output rate (> 0) */
    int reconnect_attempts;   /* reopen attempts after an output failure (0 = fail at once) */
    double reconnect_delay_s; /* first wait, doubled per attempt up to 60 s; 0 = 1 s */
    double slate_after_s;     /* repeat the last frame this long, then the slate; 0 = 1 s */
} ft_live_output_params;

typedef struct ft_live_output_stats {
    int64_t frames_sent;     /* output slots filled (real, repeated or slate) */
    int64_t frames_repeated; /* repeats of the last frame, slate included */
    int64_t frames_slate;
    int64_t frames_early;  /* real frames dropped for arriving ahead of the clock */
    int64_t frames_lost;   /* slots that passed while the output was down */
    int64_t reconnects;    /* output reopened successfully */
    int64_t audio_packets; /* audio packets written */
    int64_t audio_dropped; /* before the first frame, during a stall or an outage, overlapping */
    int failures;          /* reopen attempts failed in the current outage */
    bool output_up;
    bool stalled; /* no input frame for 0.5 s or more */
} ft_live_output_stats;

/* Opens the writer. Errors as ft_writer_open (no retry at start: a wrong URL
 * should fail fast). *out returned-owned. */
FT_NODISCARD ft_status ft_live_output_create(const ft_live_output_params *p, ft_live_output **out);

/* Monotonic time (ns) until which the caller may wait for the next frame
 * before calling ft_live_output_tick; INT64_MAX before the first frame. */
int64_t ft_live_output_deadline_ns(const ft_live_output *lo);

/* Offers one rendered frame (borrowed; output size, YUV420P) shot at input
 * time in_s, at monotonic time now_ns. *sent tells whether it took a slot
 * (false: dropped early). A frame that takes a slot more than one period off
 * the audio mapping (the first one, the first after a stall, or drift)
 * re-anchors it: audio at input time in_s goes out with this slot.
 * FT_ERR_OUTPUT once reconnecting gave up. */
FT_NODISCARD ft_status ft_live_output_frame(ft_live_output *lo, const struct AVFrame *f,
                                            double in_s, int64_t now_ns, bool *sent);

/* Copies one input audio packet (borrowed; timestamps in writer.audio's
 * time base, input time; rewritten to the output clock and restored) at
 * monotonic time now_ns. Dropped (counted) without an audio stream, before
 * the first frame, during a stall of 0.5 s or more (silence), while the
 * output is down, or when it would start before the end of the previous
 * packet. A failed write is handled as a lost output, as for frames. */
FT_NODISCARD ft_status ft_live_output_audio(ft_live_output *lo, struct AVPacket *pkt,
                                            int64_t now_ns);

/* Fills the slots that passed without a frame (repeat, then slate). */
FT_NODISCARD ft_status ft_live_output_tick(ft_live_output *lo, int64_t now_ns);

/* Changes the output bitrate: on the open encoder (ft_writer_set_bitrate)
 * and for later reopenings. */
void ft_live_output_set_bitrate(ft_live_output *lo, int64_t bitrate);

void ft_live_output_stats_get(ft_live_output *lo, ft_live_output_stats *out);

/* Flushes and closes the writer (when up). */
FT_NODISCARD ft_status ft_live_output_close(ft_live_output *lo);

/* Frees everything (NULL allowed) and sets *lo to NULL. */
void ft_live_output_destroy(ft_live_output **lo);

#endif
