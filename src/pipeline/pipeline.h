/* The processing pipeline for one stream: decode → detect → track+camera →
 * render → encode, each stage in its own thread, joined by bounded queues.
 * Batch mode blocks on full queues (back-pressure, every frame kept); live
 * mode drops the oldest queued frame instead and counts it. Frames carry their
 * input timestamps end to end; audio packets travel with them and are copied
 * to the output. The same object serves `batch` and the stream service. */
#ifndef FT_PIPELINE_PIPELINE_H
#define FT_PIPELINE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h> /* detector.h uses NULL */
#include <stdint.h>

#include "camera/camera.h"
#include "core/status.h"
#include "detect/detector.h"
#include "detect/filters.h"
#include "detect/rfdetr.h"
#include "pipeline/settings.h"
#include "track/tracker.h"

typedef struct ft_pipeline ft_pipeline;

/* Stages, in data-flow order (index into the timing arrays). */
typedef enum ft_pipeline_stage {
    FT_STAGE_DECODE = 0,
    FT_STAGE_DETECT,
    FT_STAGE_TRACK, /* tracker + virtual camera */
    FT_STAGE_RENDER,
    FT_STAGE_ENCODE,
    FT_STAGE_COUNT,
} ft_pipeline_stage;

/* Name of a stage ("decode", ...). */
const char *ft_pipeline_stage_name(ft_pipeline_stage s);

/* Per-frame result handed to the on_frame hook (after encoding). */
typedef struct ft_pipeline_frame {
    int64_t index;        /* output frame number from 0 */
    double pts_s;         /* input timestamp */
    int frame_w, frame_h; /* input frame size */
    const ft_detection *detections; /* after filtering, borrowed for the call */
    int n_detections;
    const ft_track_state *track;     /* tracker state after this frame (borrowed) */
    const char *mode;                /* one-word mode as in the track CSV (static) */
    ft_crop crop;                    /* rendered crop, source pixels */
    double latency_ms;    /* decode to encode end for this frame */
    const ft_image *picture; /* rendered output (YUV420P, borrowed for the call) */
    double stage_ms[FT_STAGE_COUNT]; /* this frame's time in each stage (decode includes
                                        waiting for input) */
} ft_pipeline_frame;

/* Hooks for callers that observe or steer a run (the CLI's --track-out, the
 * stream service's metrics). All optional; called from pipeline threads. */
typedef struct ft_pipeline_hooks {
    void *user;
    /* After each output frame, in order, from the encode thread. A non-OK
     * return stops the run with that status. */
    ft_status (*on_frame)(void *user, const ft_pipeline_frame *f);
} ft_pipeline_hooks;

typedef struct ft_pipeline_params {
    const char *input;       /* path or URL (borrowed) */
    const char *output;      /* path or URL (borrowed) */
    const char *debug_output; /* side-by-side debug video path, NULL = none */
    bool live;               /* drop-oldest queues, zerolatency, no atomic rename */
    bool realtime;           /* read no faster than the input's own clock (a file played
                                as a live source) */
    const char *device;      /* "auto" | "cpu" | "cuda": hardware decode/encode */
    int out_width, out_height; /* output size; 0 = 1280x720 */
    double target_fps;       /* > 0: constant output rate; 0 = input timestamps */
    const char *codec;       /* "auto" | "x264" | "nvenc" */
    const char *preset;      /* x264 preset; NULL = "veryfast" */
    int64_t bitrate;         /* bits/s for live outputs (stream.bitrate); 0 = crf */
    int crf;                 /* x264 CRF of batch files, and of live ones without a
                                bitrate; < 0 = 23 */
    bool zerolatency;        /* tune for latency (always on in live mode) */
    double gop_seconds;      /* <= 0 = 2 */
    int decode_threads;      /* libav decoder threads; 0 = libav's choice */
    int encode_threads;      /* libav encoder threads (also the debug view's); 0 = libav's */
    bool show_stats;         /* draw the overlay */
    bool progress;           /* progress bar on stderr when it is a terminal */
    int queue_depth;         /* frames per queue; 0 = 8 in batch (throughput), 2 live
                                (latency: each queued frame adds a frame of delay) */
    int reader_timeout_ms;   /* network timeout; 0 = 5000 */
    int reader_buffer_size;  /* network receive buffer bytes; 0 = libav default */
    int reconnect_attempts;  /* network inputs: reopen attempts when lost (0 = never) */
    double reconnect_delay_s; /* first reconnect wait, doubling; 0 = 1 s */
    double jitter_buffer_s;  /* live: delay of the output's jitter buffer (pipeline/live.h);
                                0 = none */
    const char *track_out;   /* per-frame track CSV (pipeline/track_csv.h), NULL = none */
    ft_detector *detector;   /* borrowed; NULL = no detections (whole-frame camera) */
    ft_detect_filter *filter; /* borrowed; applied after the detector; NULL = none */
    const ft_tracker_params *tracker; /* borrowed (copied at create); NULL = defaults */
    const ft_camera_params *camera;   /* borrowed (copied at create); NULL = defaults */
    ft_pipeline_hooks hooks;
} ft_pipeline_params;

/* Fills *p with defaults (1280x720, auto codec, veryfast, crf 23, 2 s GOP). */
void ft_pipeline_params_default(ft_pipeline_params *p);

/* Environment variable through which `serve` gives each worker its share of
 * the machine's cores: encoder.threads and decoder.threads left at 0 take it
 * (a process alone leaves them to libav). */
#define FT_PIPELINE_THREAD_SHARE_ENV "FOOTBALL_TRACKER_THREAD_SHARE"

/* Fills *p from the loaded settings (`s` borrowed and must outlive *p): output
 * size, stream, encoder and decoder keys (threads at 0 resolved through
 * FT_PIPELINE_THREAD_SHARE_ENV), device, tracker and camera parameters. The
 * caller sets input, output, live, debug_output, track_out, detector, filter
 * and hooks. */
void ft_pipeline_params_from_settings(const ft_settings *s, ft_pipeline_params *p);

/* The RF-DETR model parameters of the settings' model section (path, size,
 * imgsz, device, threads, warm-up) into *p; strings borrowed from `s`.
 * Used by the rfdetr detector and the shared inference server. */
void ft_pipeline_rfdetr_params_from_settings(const ft_settings *s, ft_rfdetr_params *p);

/* Creates the detector the settings ask for (detector.type: RF-DETR when
 * model.path is set or type is rfdetr, the classic detector otherwise, none
 * for "none", the shared inference server's client for "shared"), or the
 * replay detector when `detections` (a file path) is not NULL, plus the
 * dead-zone/pitch-mask filter. Both returned-owned (*det may
 * be NULL for type none). Errors as the detectors' create functions. */
FT_NODISCARD ft_status ft_pipeline_detector_create(const ft_settings *s, const char *detections,
                                                   ft_detector **det, ft_detect_filter **filter);

/* Counters and timings, readable at any time from any thread. */
typedef struct ft_pipeline_stats {
    int64_t frames_in;      /* decoded */
    int64_t frames_out;     /* encoded (before target_fps resampling) */
    int64_t frames_dropped; /* live mode: queue drops, and frames the output clock did not
                               show (early or late, pipeline/live.h) */
    int64_t corrupt_packets;
    int64_t detections;     /* candidates over all frames */
    double stage_ms[FT_STAGE_COUNT]; /* mean busy time per frame per stage */
    double fps;             /* output frames per second of wall time */
    double elapsed_s;
    double duration_s;      /* input duration when known, else 0 */
    /* live mode (pipeline/live.h): the constant-rate output */
    int64_t frames_sent;     /* output slots filled, repeats included */
    int64_t frames_repeated; /* input stalled: last frame or slate repeated */
    int64_t frames_slate;
    int64_t frames_lost;     /* slots that passed while the output was down */
    int64_t output_reconnects;
    int input_failures;      /* reconnect attempts failed in the current input outage */
    int output_failures;     /* live: the same for the output */
    bool output_up;
    bool input_stalled;      /* live: no input frame for 0.5 s or more */
    double jitter_buffer_s;  /* live: smoothed delay of frames in the output's jitter buffer */
    int64_t clock_corrections; /* live: frames dropped/repeated for drift beyond the slew */
    int64_t input_reanchors; /* live: input time mapped afresh (stall, reconnect, jump) */
    int64_t settings_generation; /* ft_pipeline_update calls applied by every stage */
} ft_pipeline_stats;

/* Opens the input and the output(s) and creates the stages. Errors: input
 * FT_ERR_INPUT, output FT_ERR_OUTPUT, bad params FT_ERR_CONFIG. *out is
 * returned-owned. */
FT_NODISCARD ft_status ft_pipeline_create(const ft_pipeline_params *p, ft_pipeline **out);

/* Runs to the end of the input (or until ft_pipeline_stop), then finalises the
 * output(s); in batch mode the output appears under its name only on success. */
FT_NODISCARD ft_status ft_pipeline_run(ft_pipeline *pl);

/* Asks a running pipeline to stop soon (thread-safe, async-signal-unsafe).
 * ft_pipeline_run then returns FT_ERR_INTERRUPTED. */
void ft_pipeline_stop(ft_pipeline *pl);

void ft_pipeline_stats_get(ft_pipeline *pl, ft_pipeline_stats *out);

/* Hot reload: takes the hot-reloadable values of `s` (borrowed, copied):
 * model.confidence, detector.dead_zones, tracking.*, camera.*,
 * stream.show_stats and stream.bitrate (live: the open encoder is
 * retargeted). Each stage switches at the first frame decoded after the call,
 * so every frame is processed under one consistent set. Thread-safe. */
void ft_pipeline_update(ft_pipeline *pl, const ft_settings *s);

/* Frees everything (NULL allowed) and sets *pl to NULL. */
void ft_pipeline_destroy(ft_pipeline **pl);

#endif
