/* From the loaded settings to pipeline parameters and a detector: the one
 * place where configuration keys meet the stages, shared by batch and the
 * stream service. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/parse.h"
#include "detect/classic.h"
#include "detect/infer_client.h"
#include "detect/replay.h"
#include "detect/rfdetr.h"
#include "pipeline/pipeline.h"

/* detector.type shared: how long a starting worker waits for the inference
 * server to listen (serve starts the server first; after a crash of both the
 * server reloads its model meanwhile). */
#define SHARED_CONNECT_WAIT_MS 30000

static const char *device_name(int device)
{
    switch (device) {
    case FT_DEVICE_CUDA:
        return "cuda";
    case FT_DEVICE_CPU:
        return "cpu";
    default:
        return "auto";
    }
}

/* The thread share `serve` passes its workers (2 x cores / streams), for
 * encoder.threads / decoder.threads left at 0; 0 without one (libav's
 * choice: about one thread per core each, which 30 streams on 16 cores turn
 * into hundreds of runnable threads). */
static int thread_share(void)
{
    int share = 0;
    const char *e = getenv(FT_PIPELINE_THREAD_SHARE_ENV);
    if (!e)
        return 0;
    if (!ft_parse_int(e, 1, 64, &share)) {
        FT_LOGW("pipeline", "%s=%s: not a thread count in [1, 64]; ignored",
                FT_PIPELINE_THREAD_SHARE_ENV, e);
        return 0;
    }
    return share;
}

void ft_pipeline_params_from_settings(const ft_settings *s, ft_pipeline_params *p)
{
    ft_pipeline_params_default(p);
    p->device = device_name(s->model.device);
    p->out_width = s->output.width;
    p->out_height = s->output.height;
    p->target_fps = s->stream.target_fps;
    p->codec = s->encoder.codec == FT_CODEC_X264    ? "x264"
               : s->encoder.codec == FT_CODEC_NVENC ? "nvenc"
                                                    : "auto";
    p->preset = s->stream.preset;
    p->bitrate = s->stream.bitrate;
    p->crf = s->encoder.crf;
    p->gop_seconds = s->encoder.gop_seconds;
    p->zerolatency = s->encoder.zerolatency;
    /* a value set anywhere wins over the share */
    const int share = thread_share();
    p->encode_threads = s->encoder.threads > 0 ? s->encoder.threads : share;
    p->decode_threads = s->decoder.threads > 0 ? s->decoder.threads : share;
    p->show_stats = s->stream.show_stats;
    p->reader_timeout_ms = s->stream.timeout_ms;
    p->reader_buffer_size = s->stream.buffer_size;
    p->reconnect_attempts = s->stream.reconnect_attempts;
    p->reconnect_delay_s = s->stream.reconnect_delay;
    p->jitter_buffer_s = s->stream.jitter_buffer_ms / 1000.0;
    p->tracker = &s->tracking;
    p->camera = &s->camera;
}

/* model.size as its configuration name ("medium"), read from the option
 * table so the names are spelled in one place. */
static const char *model_size_name(int size)
{
    for (const ft_config_section *sec = ft_settings_sections; sec->name; sec++) {
        if (strcmp(sec->name, "model"))
            continue;
        for (const ft_option *o = sec->options; o->key; o++)
            if (!strcmp(o->key, "size") && o->choices)
                for (int i = 0; o->choices[i]; i++)
                    if (i == size)
                        return o->choices[i];
    }
    return "auto";
}

void ft_pipeline_rfdetr_params_from_settings(const ft_settings *s, ft_rfdetr_params *p)
{
    *p = (ft_rfdetr_params){.model_path = s->model.path,
                            .size = model_size_name(s->model.size),
                            .imgsz = s->model.imgsz,
                            .device = device_name(s->model.device),
                            .threads = s->model.threads,
                            .warmup_iterations = s->model.warmup_iterations};
}

ft_status ft_pipeline_detector_create(const ft_settings *s, const char *detections,
                                      ft_detector **det, ft_detect_filter **filter)
{
    *det = NULL;
    *filter = NULL;
    ft_status st;
    if (detections) {
        ft_detect_replay_params rp = {detections, s->model.confidence};
        st = ft_detect_replay_create(&rp, det);
    } else if (s->detector.type == FT_DETECTOR_NONE) {
        FT_LOGI("pipeline", "detector disabled: the camera shows the whole frame");
        st = FT_OK;
    } else if (s->detector.type == FT_DETECTOR_SHARED) {
        /* The server may be (re)loading its model: wait for it a while. */
        ft_infer_detector_params ip = {
            .client = {.socket_path = s->model.server,
                       .timeout_ms = s->model.server_timeout_ms,
                       .connect_wait_ms = SHARED_CONNECT_WAIT_MS},
            .confidence = (float)s->model.confidence,
            .ball_class_id = s->model.ball_class_id,
            .iou_threshold = (float)s->model.iou_threshold,
        };
        st = ft_detect_infer_detector_create(&ip, det);
    } else if (s->detector.type == FT_DETECTOR_RFDETR ||
               (s->detector.type == FT_DETECTOR_AUTO && s->model.path[0])) {
        ft_rfdetr_detector_params rp = {
            .confidence = (float)s->model.confidence,
            .ball_class_id = s->model.ball_class_id,
            .iou_threshold = (float)s->model.iou_threshold,
        };
        ft_pipeline_rfdetr_params_from_settings(s, &rp.model);
        st = ft_rfdetr_detector_create(&rp, det);
    } else {
        ft_detect_classic_params cp;
        ft_detect_classic_params_default(&cp);
        cp.confidence = s->model.confidence;
        st = ft_detect_classic_create(&cp, det);
    }
    if (st)
        return st;
    ft_detect_filter_params fp = {s->detector.dead_zones, s->detector.pitch_mask,
                                  s->detector.pitch_mask_auto};
    if ((st = ft_detect_filter_create(&fp, filter)))
        ft_detector_destroy(det);
    return st;
}
