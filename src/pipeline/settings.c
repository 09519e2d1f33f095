/* The application's option tables and its list of configuration sections. */
#include "pipeline/settings.h"

#include <stddef.h>
#include <stdio.h>

static const char *const device_names[] = {"auto", "cuda", "cpu", NULL};
static const char *const size_names[] = {"auto",  "nano",         "small", "medium", "base",
                                         "large", "large-legacy", "xl",    "2xl",    NULL};
static const char *const detector_names[] = {"auto", "rfdetr", "classic", "none", "shared", NULL};
static const char *const codec_names[] = {"auto", "x264", "nvenc", NULL};

#define M(f) offsetof(ft_model_settings, f)
static const ft_option model_options[] = {
    {"path", "Model checkpoint (.pth or .safetensors); \"\" = no model (classic detector).",
     FT_OPT_STRING, M(path), "", 0, 0, 0, NULL, NULL},
    {"confidence", "Detection confidence threshold.", FT_OPT_DOUBLE, M(confidence), "0.25", 0, 1,
     FT_OPT_HOT, NULL, NULL},
    {"iou_threshold", "NMS IoU threshold.", FT_OPT_DOUBLE, M(iou_threshold), "0.5", 0, 1, 0, NULL,
     NULL},
    {"device", "Processing device; auto = CUDA when a usable GPU is present, else CPU.",
     FT_OPT_ENUM, M(device), "auto", 0, 0, 0, NULL, device_names},
    {"half_precision", "FP16 inference on the GPU (FP32 accumulation).", FT_OPT_BOOL,
     M(half_precision), "true", 0, 0, 0, NULL, NULL},
    {"imgsz", "Model input resolution in pixels; 0 = the checkpoint's own.", FT_OPT_INT, M(imgsz),
     "0", 0, 2048, 0, NULL, NULL},
    {"warmup_iterations", "Inference runs on a blank frame before the first real one.", FT_OPT_INT,
     M(warmup_iterations), "3", 0, 100, 0, NULL, NULL},
    {"ball_class_id",
     "Class id of the ball; -1 = auto (COCO 'sports ball' for COCO checkpoints, "
     "else 0).",
     FT_OPT_INT, M(ball_class_id), "-1", -1, 10000, 0, NULL, NULL},
    {"size", "RF-DETR variant; auto = read from the checkpoint.", FT_OPT_ENUM, M(size), "auto", 0,
     0, 0, NULL, size_names},
    {"threads",
     "CPU inference threads; 0 = FT_THREADS, else OMP_NUM_THREADS, else one per usable core.",
     FT_OPT_INT, M(threads), "0", 0, 256, 0, NULL, NULL},
    {"server",
     "detector.type shared: unix socket of the shared inference server (`football-tracker "
     "infer`; set by serve with serve.shared_inference).",
     FT_OPT_STRING, M(server), "", 0, 0, 0, NULL, NULL},
    {"server_timeout_ms",
     "detector.type shared: longest wait for the server's answer to one frame; a frame "
     "without one gets no detections.",
     FT_OPT_INT, M(server_timeout_ms), "1000", 10, 60000, 0, NULL, NULL},
    FT_OPTION_END,
};
#undef M

#define O(f) offsetof(ft_output_settings, f)
static const ft_option output_options[] = {
    {"width", "Output (virtual camera) width in pixels.", FT_OPT_INT, O(width), "1280", 64, 7680, 0,
     NULL, NULL},
    {"height", "Output (virtual camera) height in pixels.", FT_OPT_INT, O(height), "720", 64, 4320,
     0, NULL, NULL},
    FT_OPTION_END,
};
#undef O

#define D(f) offsetof(ft_detector_settings, f)
static const ft_option detector_options[] = {
    {"type",
     "Ball detector; auto = RF-DETR when model.path is set, else classic; shared = RF-DETR "
     "in the shared inference server at model.server.",
     FT_OPT_ENUM, D(type), "auto", 0, 0, 0, NULL, detector_names},
    {"dead_zones",
     "Polygons (list of [x, y] points, pixels or 0..1 fractions) whose candidates "
     "are dropped (scoreboards, crowd).",
     FT_OPT_POLYGONS, D(dead_zones), "[]", 0, 0, FT_OPT_HOT, NULL, NULL},
    {"pitch_mask", "Polygons outside which candidates are dropped; [] = the whole frame.",
     FT_OPT_POLYGONS, D(pitch_mask), "[]", 0, 0, 0, NULL, NULL},
    {"pitch_mask_auto", "Estimate the pitch area from grass colour.", FT_OPT_BOOL,
     D(pitch_mask_auto), "false", 0, 0, 0, NULL, NULL},
    FT_OPTION_END,
};
#undef D

#define S(f) offsetof(ft_stream_settings, f)
static const ft_option stream_options[] = {
    {"target_fps", "Constant output frame rate; 0 = keep the input timestamps.", FT_OPT_INT,
     S(target_fps), "0", 0, 240, 0, NULL, NULL},
    {"bitrate", "Output video bitrate (e.g. 4000k, 6M).", FT_OPT_BITRATE, S(bitrate), "4000k",
     100e3, 100e6, FT_OPT_HOT, NULL, NULL},
    {"preset", "Encoder preset (x264: ultrafast..veryslow; NVENC: p1..p7).", FT_OPT_STRING,
     S(preset), "veryfast", 0, 0, 0, NULL, NULL},
    {"debug_mode", "Write a side-by-side debug view (detections, track, crop).", FT_OPT_BOOL,
     S(debug_mode), "false", 0, 0, 0, NULL, NULL},
    {"show_stats", "Draw the statistics overlay (fps, mode) on the output.", FT_OPT_BOOL,
     S(show_stats), "false", 0, 0, FT_OPT_HOT, NULL, NULL},
    {"reconnect_attempts", "Input reconnects before giving up (live inputs).", FT_OPT_INT,
     S(reconnect_attempts), "10", 0, 1000000, 0, "RTMP_RECONNECT_ATTEMPTS", NULL},
    {"reconnect_delay", "First reconnect delay in seconds; doubles on each try.", FT_OPT_DOUBLE,
     S(reconnect_delay), "1.0", 0.01, 300, 0, "RTMP_RECONNECT_DELAY", NULL},
    {"jitter_buffer_ms",
     "Live output jitter buffer: frames are placed on the output clock by their timestamps "
     "and sent this long after their expected arrival, so one up to that late costs nothing "
     "(a later one costs repeats, not drops). Adds to the latency; 0 = only the delay that "
     "late frames force.",
     FT_OPT_INT, S(jitter_buffer_ms), "100", 0, 1000, 0, NULL, NULL},
    {"timeout_ms", "Network read/connect timeout in milliseconds.", FT_OPT_INT, S(timeout_ms),
     "5000", 100, 600000, 0, "RTMP_TIMEOUT", NULL},
    {"buffer_size", "Network buffer size in bytes.", FT_OPT_INT, S(buffer_size), "4096000", 4096,
     1073741824, 0, "RTMP_BUFFER_SIZE", NULL},
    {"memory_limit_mb",
     "Address-space cap (RLIMIT_AS) of the stream service in MiB; 0 = none. Leave it 0 with "
     "CUDA, which reserves large address ranges.",
     FT_OPT_INT, S(memory_limit_mb), "0", 0, 1048576, 0, NULL, NULL},
    {"alert_webhook",
     "http:// URL that receives a JSON POST when the input or output stays down through 5 "
     "reconnect attempts; \"\" = none.",
     FT_OPT_STRING, S(alert_webhook), "", 0, 0, FT_OPT_SECRET, NULL, NULL},
    {"listen_allow",
     "stream --listen: IPv4 addresses/CIDRs allowed to publish, comma separated "
     "(\"127.0.0.1, 10.0.0.0/8\"); others are refused.",
     FT_OPT_STRING, S(listen_allow), "127.0.0.1/32", 0, 0, 0, NULL, NULL},
    {"listen_token_file",
     "stream --listen: file whose first line is the stream key publishers must use.", FT_OPT_STRING,
     S(listen_token_file), "", 0, 0, 0, NULL, NULL},
    FT_OPTION_END,
};
#undef S

#define E(f) offsetof(ft_encoder_settings, f)
static const ft_option encoder_options[] = {
    {"codec", "H.264 encoder; auto = NVENC when usable, else x264.", FT_OPT_ENUM, E(codec), "auto",
     0, 0, 0, NULL, codec_names},
    {"crf", "x264 constant rate factor, used when no bitrate applies (files).", FT_OPT_INT, E(crf),
     "23", 0, 51, 0, NULL, NULL},
    {"gop_seconds", "Keyframe interval in seconds.", FT_OPT_DOUBLE, E(gop_seconds), "2", 0.1, 60, 0,
     NULL, NULL},
    {"zerolatency",
     "Tune the encoder for latency (no B-frames, no look-ahead); stream mode "
     "always does.",
     FT_OPT_BOOL, E(zerolatency), "false", 0, 0, 0, NULL, NULL},
    {"threads",
     "Encoder threads (libx264); 0 = automatic: libav's choice (about 1.5 per core) for a "
     "process alone, the worker's share of the cores (2 x cores / streams, at least 1) under "
     "serve. Bound it when many streams share a machine.",
     FT_OPT_INT, E(threads), "0", 0, 64, 0, NULL, NULL},
    FT_OPTION_END,
};
#undef E

#define DEC(f) offsetof(ft_decoder_settings, f)
static const ft_option decoder_options[] = {
    {"threads",
     "Video decoder threads (libav; with NVDEC they only hand packets to the GPU); 0 = "
     "automatic, as encoder.threads.",
     FT_OPT_INT, DEC(threads), "0", 0, 64, 0, NULL, NULL},
    FT_OPTION_END,
};
#undef DEC

#define H(f) offsetof(ft_http_settings, f)
static const ft_option http_options[] = {
    {"bind", "Address the HTTP endpoints listen on.", FT_OPT_STRING, H(bind), "127.0.0.1", 0, 0, 0,
     NULL, NULL},
    {"port", "HTTP port (/health, /ready, /metrics, /status, /config).", FT_OPT_INT, H(port),
     "8080", 1, 65535, 0, "FT_HTTP_PORT", NULL},
    {"token_file",
     "File holding the bearer token required by PATCH /config; \"\" = read-only "
     "/config.",
     FT_OPT_STRING, H(token_file), "", 0, 0, FT_OPT_SECRET, NULL, NULL},
    FT_OPTION_END,
};
#undef H

/* H.264 in 4:2:0 needs even frame sizes. */
static ft_status validate_output(const void *params, char *err, size_t cap)
{
    const ft_output_settings *o = params;
    if (o->width % 2 || o->height % 2) {
        snprintf(err, cap, "output.width and output.height must be even (got %dx%d)", o->width,
                 o->height);
        return FT_ERR_CONFIG;
    }
    return FT_OK;
}

static ft_status validate_tracking(const void *params, char *err, size_t cap)
{
    return ft_tracker_params_validate(params, err, cap);
}

static ft_status validate_camera(const void *params, char *err, size_t cap)
{
    return ft_camera_params_validate(params, err, cap);
}

/* One row per section. Modules that own their parameters (tracker, camera,
 * log) export the table; the rest are defined above. */
#define SECTION(name, file, table, member, check)                                                  \
    {                                                                                              \
        name, file, table, offsetof(ft_settings, member), check                                    \
    }
const ft_config_section ft_settings_sections[] = {
    SECTION("model", FT_CONFIG_FILE_MODEL, model_options, model, NULL),
    SECTION("tracking", FT_CONFIG_FILE_MODEL, ft_tracker_options, tracking, validate_tracking),
    SECTION("output", FT_CONFIG_FILE_MODEL, output_options, output, validate_output),
    SECTION("detector", FT_CONFIG_FILE_MODEL, detector_options, detector, NULL),
    SECTION("stream", FT_CONFIG_FILE_STREAM, stream_options, stream, NULL),
    SECTION("camera", FT_CONFIG_FILE_STREAM, ft_camera_options, camera, validate_camera),
    SECTION("encoder", FT_CONFIG_FILE_STREAM, encoder_options, encoder, NULL),
    SECTION("decoder", FT_CONFIG_FILE_STREAM, decoder_options, decoder, NULL),
    SECTION("http", FT_CONFIG_FILE_STREAM, http_options, http, NULL),
    SECTION("logging", FT_CONFIG_FILE_STREAM, ft_log_options, logging, NULL),
    {NULL, 0, NULL, 0, NULL},
};
#undef SECTION

const ft_config_schema ft_settings_schema = {ft_settings_sections, sizeof(ft_settings)};
