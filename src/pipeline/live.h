/* Live output of the pipeline (stream mode): a constant-rate output clock
 * in front of the writer, with a jitter buffer. Frames are placed on output
 * slots by their INPUT time (in_s mapped onto the output clock), and a slot
 * goes out `jitter_buffer_s` after the arrival its frame was expected at, so
 * a frame that comes late by less than that changes nothing. A slot with no
 * frame repeats the last one (the buffer ran dry, or the input has a gap);
 * after `slate_after_s` of an empty buffer a darkened "RECONNECTING" slate
 * replaces it, so viewers never lose the stream. A frame later than the
 * buffer takes the next free slot (its own went out as a repeat) and a
 * frame displaced from its slot by a newer one is dropped. The mapping
 * follows the input: the output clock's phase is slewed (at most 1 % of the
 * rate) to keep the buffer at its delay, one frame is dropped or repeated
 * when a drift beyond that leaves the band (counted), and a frame far
 * outside the buffer (a stall, a reconnect, a timestamp jump) re-anchors
 * the mapping with no drop. Output timestamps are slot numbers over the
 * rate: continuous whatever the input does. A failing output is reopened
 * with exponential backoff (the input's reconnect settings), independently
 * of the input; frames due meanwhile are counted as lost. Input audio is
 * copied through on the same mapping (ft_live_output_audio). Internal to the
 * pipeline module; used from the encode thread only (the stats getter is
 * thread-safe). Times are monotonic nanoseconds given by the caller, so the
 * clock can be driven by a fake one in tests. */
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
    double jitter_buffer_s;   /* delay from a frame's expected arrival to its slot: input
                                 jitter up to this is absorbed; added to the latency;
                                 0 = none (each late frame is a repeat and a drop); <= 1 s */
} ft_live_output_params;

typedef struct ft_live_output_stats {
    int64_t frames_sent;     /* output slots filled (real, repeated or slate) */
    int64_t frames_repeated; /* slots without a frame of their own: the last frame again,
                                slate included */
    int64_t frames_slate;
    int64_t frames_early;  /* real frames dropped unshown: a later frame took their slot (input
                              faster than the output, a drift correction), or a burst the
                              buffer could not hold */
    int64_t corrections;   /* drift corrections: the buffer left its band, one frame dropped
                              or repeated to bring it back */
    int64_t reanchors;     /* input time mapped afresh onto the output clock: a frame later
                              than the buffer (hiccup, stall, reconnect) or a timestamp
                              jump; not the first frame */
    double buffer_s;       /* smoothed delay from a frame's arrival to its slot */
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

/* Monotonic time (ns) at which the next slot is due: the caller may wait for
 * frames until then, then calls ft_live_output_tick; INT64_MAX before the
 * first frame. */
int64_t ft_live_output_deadline_ns(const ft_live_output *lo);

/* Offers one rendered frame (borrowed, copied into the buffer; output size,
 * YUV420P) shot at input time in_s, arriving at monotonic time now_ns, then
 * sends the slots that are due (as ft_live_output_tick). Whether it is shown
 * is decided later and counted in the stats. Audio at input time t goes out
 * at the output time the mapping gives t. FT_ERR_OUTPUT once reconnecting
 * gave up; FT_ERR_INVALID for a frame not of the output size. */
FT_NODISCARD ft_status ft_live_output_frame(ft_live_output *lo, const struct AVFrame *f,
                                            double in_s, int64_t now_ns);

/* Copies one input audio packet (borrowed; timestamps in writer.audio's
 * time base, input time; rewritten to the output clock and restored) at
 * monotonic time now_ns. Dropped (counted) without an audio stream, before
 * the first frame, during a stall of 0.5 s or more (silence), while the
 * output is down, or when it would start before the end of the previous
 * packet. A failed write is handled as a lost output, as for frames. */
FT_NODISCARD ft_status ft_live_output_audio(ft_live_output *lo, struct AVPacket *pkt,
                                            int64_t now_ns);

/* Sends every slot due by now_ns: its buffered frame, else the last frame
 * again, then the slate. */
FT_NODISCARD ft_status ft_live_output_tick(ft_live_output *lo, int64_t now_ns);

/* Changes the output bitrate: on the open encoder (ft_writer_set_bitrate)
 * and for later reopenings. */
void ft_live_output_set_bitrate(ft_live_output *lo, int64_t bitrate);

void ft_live_output_stats_get(ft_live_output *lo, ft_live_output_stats *out);

/* Sends the frames still in the buffer on their slots (without waiting),
 * then flushes and closes the writer (when up). */
FT_NODISCARD ft_status ft_live_output_close(ft_live_output *lo);

/* Frees everything (NULL allowed) and sets *lo to NULL. */
void ft_live_output_destroy(ft_live_output **lo);

#endif
