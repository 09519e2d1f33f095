/* From the loaded settings to pipeline parameters and a detector: the one
 * place where configuration keys meet the stages, shared by batch and the
 * stream service. */
#include <string.h>

#include "core/log.h"
#include "detect/classic.h"
#include "detect/replay.h"
#include "pipeline/pipeline.h"

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
    p->show_stats = s->stream.show_stats;
    p->reader_timeout_ms = s->stream.timeout_ms;
    p->tracker = &s->tracking;
    p->camera = &s->camera;
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
    } else if (s->detector.type == FT_DETECTOR_RFDETR ||
               (s->detector.type == FT_DETECTOR_AUTO && s->model.path[0])) {
        /* The RF-DETR adapter (detect/rfdetr.h) is wired in here once it is
         * part of the tree; until then a model cannot be used. */
        FT_LOGE("pipeline", "model '%s': the RF-DETR detector is not in this build yet; use "
                            "detector.type=classic or --detections FILE", s->model.path);
        st = FT_ERR_MODEL;
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
