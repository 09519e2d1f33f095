/* The RF-DETR model behind the ft_detector table: preprocess the frame, run
 * the forward pass, post-process, keep ball candidates above the confidence
 * threshold, optional NMS. Buffers are all made at creation. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "detect/rfdetr_internal.h"

typedef struct rfdetr_detector {
    ft_detector base;
    ft_rfdetr *m;
    ft_rfdetr_thresholds th;
    int ball_class_id;
    ft_rfdetr_det *dets; /* num_select entries */
    int cap;
} rfdetr_detector;

int ft_rfdetr_ball_candidates(ft_rfdetr_det *dets, int n, int ball, float iou, ft_detection *out,
                              int cap)
{
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (dets[i].label == ball)
            dets[kept++] = dets[i];
    if (iou > 0.0f && iou < 1.0f)
        ft_rfdetr_nms(dets, &kept, iou);
    int cnt = 0;
    for (int i = 0; i < kept && cnt < cap; i++) {
        const ft_rfdetr_det *s = &dets[i];
        out[cnt++] = (ft_detection){.x = 0.5f * (s->x0 + s->x1),
                                    .y = 0.5f * (s->y0 + s->y1),
                                    .w = s->x1 - s->x0,
                                    .h = s->y1 - s->y0,
                                    .score = s->score,
                                    .label = s->label};
    }
    return cnt;
}

ft_status ft_rfdetr_thresholds_check(const ft_rfdetr_thresholds *t, const char *module)
{
    if (t->confidence < 0.0f || t->confidence > 1.0f) {
        FT_LOGE(module, "confidence %g is outside [0, 1]", (double)t->confidence);
        return FT_ERR_CONFIG;
    }
    return FT_OK;
}

ft_status ft_rfdetr_thresholds_set(ft_rfdetr_thresholds *t, const char *key, double value)
{
    if (!(value >= 0.0 && value <= 1.0))
        return FT_ERR_INVALID;
    if (!strcmp(key, "confidence"))
        t->confidence = (float)value;
    else if (!strcmp(key, "iou_threshold"))
        t->iou = (float)value;
    else
        return FT_ERR_INVALID;
    return FT_OK;
}

static ft_status rd_detect(ft_detector *d, const ft_image *frame, double pts_s, ft_detection *out,
                           int cap, int *n)
{
    (void)pts_s;
    rfdetr_detector *r = (rfdetr_detector *)d;
    *n = 0;
    ft_status st = ft_rfdetr_preprocess(r->m, frame);
    if (!st)
        st = ft_rfdetr_forward(r->m);
    if (st)
        return st;
    int nd = 0;
    ft_rfdetr_postprocess(r->m, frame->width, frame->height, r->th.confidence, r->dets, r->cap,
                          &nd);
    *n = ft_rfdetr_ball_candidates(r->dets, nd, r->ball_class_id, r->th.iou, out, cap);
    return FT_OK;
}

static ft_status rd_set_param(ft_detector *d, const char *key, double value)
{
    return ft_rfdetr_thresholds_set(&((rfdetr_detector *)d)->th, key, value);
}

static void rd_destroy(ft_detector *d)
{
    rfdetr_detector *r = (rfdetr_detector *)d;
    ft_rfdetr_destroy(&r->m);
    free(r->dets);
    free(r);
}

static bool rd_device_frames(const ft_detector *d)
{
    return ft_rfdetr_reads_device_frames(((const rfdetr_detector *)d)->m);
}

static const ft_detector_vtable rd_vt = {
    .name = "rfdetr",
    .detect = rd_detect,
    .set_param = rd_set_param,
    .destroy = rd_destroy,
    .device_frames = rd_device_frames,
};

ft_status ft_rfdetr_detector_create(const ft_rfdetr_detector_params *p, ft_detector **out)
{
    const ft_rfdetr_thresholds th = {p->confidence, p->iou_threshold};
    if (ft_rfdetr_thresholds_check(&th, "rfdetr"))
        return FT_ERR_CONFIG;
    rfdetr_detector *r = calloc(1, sizeof(*r));
    if (!r)
        return FT_ERR_NOMEM;
    r->base.vt = &rd_vt;
    r->th = th;
    r->ball_class_id = p->ball_class_id;
    ft_status st = ft_rfdetr_create(&p->model, &r->m);
    if (st)
        goto out;
    r->cap = ft_rfdetr_arch_get(r->m)->num_select;
    r->dets = malloc(sizeof(*r->dets) * r->cap);
    if (!r->dets) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (r->ball_class_id < 0)
        r->ball_class_id = ft_rfdetr_ball_class_auto(r->m);
    FT_LOGI("rfdetr", "ball class %d (%s)", r->ball_class_id,
            ft_rfdetr_class_name(r->m, r->ball_class_id)
                ? ft_rfdetr_class_name(r->m, r->ball_class_id)
                : "unnamed");
    if (r->ball_class_id >= ft_rfdetr_arch_get(r->m)->num_classes)
        FT_LOGW("rfdetr", "ball_class_id %d is not below the model's %d classes: no candidates",
                r->ball_class_id, ft_rfdetr_arch_get(r->m)->num_classes);
    *out = &r->base;
out:
    if (st)
        rd_destroy(&r->base);
    return st;
}
