/* The application's settings: every configurable section of the program in
 * one aggregate struct, and the schema (section list) that loads it from
 * model_config.yml, stream_config.yml, the environment and the command line.
 *
 * Typical use (the batch/stream commands go through cli/common.h):
 *
 *     ft_config *cfg = NULL;
 *     if (ft_config_load(&ft_settings_schema, &sources, &cfg, err, sizeof err)) ...
 *     const ft_settings *s = ft_settings_of(cfg);
 *     ... s->model.confidence, s->stream.bitrate ...
 *     ft_config_destroy(&cfg);
 *
 * A section is one row of ft_settings_sections[] in settings.c; a module that
 * owns its parameters (tracker, camera, log) exports its params struct and
 * option table and the row points at them. */
#ifndef FT_PIPELINE_SETTINGS_H
#define FT_PIPELINE_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "camera/camera.h"
#include "core/config.h"
#include "core/log.h"
#include "core/options.h"
#include "track/tracker.h"

/* model.device */
enum { FT_DEVICE_AUTO = 0, FT_DEVICE_CUDA, FT_DEVICE_CPU };

/* model.size: RF-DETR variant; auto reads it from the checkpoint. */
enum {
    FT_MODEL_SIZE_AUTO = 0,
    FT_MODEL_SIZE_NANO,
    FT_MODEL_SIZE_SMALL,
    FT_MODEL_SIZE_MEDIUM,
    FT_MODEL_SIZE_BASE,
    FT_MODEL_SIZE_LARGE,
    FT_MODEL_SIZE_LARGE_LEGACY,
    FT_MODEL_SIZE_XL,
    FT_MODEL_SIZE_2XL,
};

/* detector.type: auto = RF-DETR when model.path is set, else the classic detector;
 * shared = RF-DETR run by the shared inference server at model.server. */
enum {
    FT_DETECTOR_AUTO = 0,
    FT_DETECTOR_RFDETR,
    FT_DETECTOR_CLASSIC,
    FT_DETECTOR_NONE,
    FT_DETECTOR_SHARED
};

/* encoder.codec: auto = NVENC when usable, else x264. */
enum { FT_CODEC_AUTO = 0, FT_CODEC_X264, FT_CODEC_NVENC };

/* model_config.yml `model:` */
typedef struct ft_model_settings {
    char path[FT_OPT_STRLEN]; /* .pth or .safetensors checkpoint; "" = none */
    double confidence;        /* detection threshold (hot) */
    double iou_threshold;     /* NMS IoU threshold */
    int device;               /* FT_DEVICE_* */
    bool half_precision;      /* FP16 on the GPU */
    int imgsz;                /* model input resolution (square); 0 = the checkpoint's */
    int warmup_iterations;
    int ball_class_id;          /* -1 = auto: "sports ball" for COCO checkpoints, else 0 */
    int size;                   /* FT_MODEL_SIZE_* */
    int threads;                /* CPU threads; 0 = one per core */
    char server[FT_OPT_STRLEN]; /* detector.type shared: the inference server's socket */
    int server_timeout_ms;      /* longest wait for its answer to one frame */
} ft_model_settings;

/* model_config.yml `output:` */
typedef struct ft_output_settings {
    int width, height; /* rendered virtual-camera frame size */
} ft_output_settings;

/* model_config.yml `detector:` */
typedef struct ft_detector_settings {
    int type;                  /* FT_DETECTOR_* */
    ft_polygon_set dead_zones; /* candidates inside are dropped (hot) */
    ft_polygon_set pitch_mask; /* candidates outside are dropped (empty = whole frame) */
    bool pitch_mask_auto;      /* estimate the pitch from grass colour */
} ft_detector_settings;

/* stream_config.yml `stream:` */
typedef struct ft_stream_settings {
    int target_fps;             /* constant output rate; 0 = keep input timestamps */
    int64_t bitrate;            /* bits/s (hot) */
    char preset[FT_OPT_STRLEN]; /* encoder preset ("veryfast", "p4") */
    bool debug_mode;
    bool show_stats;
    int reconnect_attempts; /* input reconnects before giving up */
    double reconnect_delay; /* first reconnect delay, seconds (doubles each try) */
    int jitter_buffer_ms;   /* live output jitter buffer delay (pipeline/live.h) */
    int timeout_ms;         /* network I/O timeout */
    int buffer_size;        /* network buffer, bytes */
    int memory_limit_mb;    /* stream service address-space cap (RLIMIT_AS), 0 = none */
    char alert_webhook[FT_OPT_STRLEN]; /* http:// URL POSTed after 5 failed reconnects (secret) */
    char listen_allow[FT_OPT_STRLEN];      /* stream --listen: IPv4 CIDRs allowed to publish */
    char listen_token_file[FT_OPT_STRLEN]; /* stream --listen: file holding the stream key */
} ft_stream_settings;

/* stream_config.yml `encoder:` */
typedef struct ft_encoder_settings {
    int codec;          /* FT_CODEC_* */
    int crf;            /* x264 constant rate factor when no bitrate applies */
    double gop_seconds; /* keyframe interval */
    bool zerolatency;
    int threads; /* libav encoder threads; 0 = automatic (ft_pipeline_params_from_settings) */
} ft_encoder_settings;

/* stream_config.yml `decoder:` */
typedef struct ft_decoder_settings {
    int threads; /* libav software decoder threads; 0 = automatic, as encoder.threads */
} ft_decoder_settings;

/* stream_config.yml `http:` */
typedef struct ft_http_settings {
    char bind[FT_OPT_STRLEN];
    int port;
    char token_file[FT_OPT_STRLEN]; /* file holding the bearer token for /config (secret) */
} ft_http_settings;

typedef struct ft_settings {
    ft_model_settings model;
    ft_tracker_params tracking; /* track/tracker.h */
    ft_output_settings output;
    ft_detector_settings detector;
    ft_stream_settings stream;
    ft_camera_params camera; /* camera/camera.h */
    ft_encoder_settings encoder;
    ft_decoder_settings decoder;
    ft_http_settings http;
    ft_log_params logging; /* core/log.h */
} ft_settings;

/* The sections (ended by a NULL name) and the schema over ft_settings. */
extern const ft_config_section ft_settings_sections[];
extern const ft_config_schema ft_settings_schema;

/* The settings held by a config loaded with ft_settings_schema (borrowed). */
static inline const ft_settings *ft_settings_of(const ft_config *cfg)
{
    return (const ft_settings *)ft_config_values(cfg);
}

#endif
