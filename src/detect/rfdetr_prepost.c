/* RF-DETR pre- and post-processing, as the official predict() and
 * PostProcess: RGB / 255, normalise with the ImageNet mean/std, antialiased
 * bilinear resize to the square input (torchvision >= 0.17 resizes tensors
 * with antialias=True); sigmoid, top-num_select over queries x classes,
 * cxcywh -> xyxy scaled to the original frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "detect/rfdetr_internal.h"

static const float MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float STD[3] = {0.229f, 0.224f, 0.225f};

static double filter_tri(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys cubic with a = -0.5, the kernel of PyTorch's antialiased bicubic. */
static double filter_cubic(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* One output sample: weights over input [*lo, *lo + *n), normalised. wts has
 * room for the widest support. */
static void aa_weights(int i, int in, int out, int cubic, int *lo, int *n, float *wts)
{
    double scale = (double)in / out;
    double support = (cubic ? 2.0 : 1.0) * (scale >= 1.0 ? scale : 1.0);
    double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    double center = scale * (i + 0.5);
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0)
        xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in)
        xmax = in;
    double total = 0.0;
    double tmp[256];
    int cnt = xmax - xmin;
    if (cnt > 256)
        cnt = 256;
    for (int j = 0; j < cnt; j++) {
        double x = (j + xmin - center + 0.5) * invscale;
        tmp[j] = cubic ? filter_cubic(x) : filter_tri(x);
        total += tmp[j];
    }
    for (int j = 0; j < cnt; j++)
        wts[j] = (float)(total != 0.0 ? tmp[j] / total : 0.0);
    *lo = xmin;
    *n = cnt;
}

void rfdetr_resample(const float *src, int planes, int sh, int sw, float *dst, int dh, int dw,
                     float *tmp, int cubic)
{
    float wts[256];
    int lo, n;
    /* horizontal: planes x sh x sw -> planes x sh x dw */
    for (int x = 0; x < dw; x++) {
        aa_weights(x, sw, dw, cubic, &lo, &n, wts);
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < sh; y++) {
                const float *row = src + ((size_t)p * sh + y) * sw + lo;
                float acc = 0.0f;
                for (int j = 0; j < n; j++)
                    acc += wts[j] * row[j];
                tmp[((size_t)p * sh + y) * dw + x] = acc;
            }
    }
    /* vertical: planes x sh x dw -> planes x dh x dw */
    for (int y = 0; y < dh; y++) {
        aa_weights(y, sh, dh, cubic, &lo, &n, wts);
        for (int p = 0; p < planes; p++) {
            float *orow = dst + ((size_t)p * dh + y) * dw;
            for (int x = 0; x < dw; x++)
                orow[x] = 0.0f;
            for (int j = 0; j < n; j++) {
                const float *irow = tmp + ((size_t)p * sh + lo + j) * dw;
                for (int x = 0; x < dw; x++)
                    orow[x] += wts[j] * irow[x];
            }
        }
    }
}

static inline uint8_t clamp_u8(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)lrintf(v);
}

/* Decode one pixel to RGB bytes. YUV uses BT.601 limited range, what FFmpeg's
 * swscale and OpenCV apply by default, i.e. what the Python system saw. */
static void pixel_rgb(const ft_image *f, int x, int y, uint8_t rgb[3])
{
    int Y, U = 128, V = 128;
    switch (f->format) {
    case FT_PIX_RGB24: {
        const uint8_t *p = f->data[0] + (size_t)y * f->stride[0] + 3 * (size_t)x;
        rgb[0] = p[0];
        rgb[1] = p[1];
        rgb[2] = p[2];
        return;
    }
    case FT_PIX_GRAY8:
        rgb[0] = rgb[1] = rgb[2] = f->data[0][(size_t)y * f->stride[0] + x];
        return;
    case FT_PIX_YUV420P:
        Y = f->data[0][(size_t)y * f->stride[0] + x];
        U = f->data[1][(size_t)(y / 2) * f->stride[1] + x / 2];
        V = f->data[2][(size_t)(y / 2) * f->stride[2] + x / 2];
        break;
    case FT_PIX_NV12:
        Y = f->data[0][(size_t)y * f->stride[0] + x];
        U = f->data[1][(size_t)(y / 2) * f->stride[1] + (x / 2) * 2];
        V = f->data[1][(size_t)(y / 2) * f->stride[1] + (x / 2) * 2 + 1];
        break;
    default:
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    float yy = 1.164383f * (Y - 16);
    rgb[0] = clamp_u8(yy + 1.596027f * (V - 128));
    rgb[1] = clamp_u8(yy - 0.391762f * (U - 128) - 0.812968f * (V - 128));
    rgb[2] = clamp_u8(yy + 2.017232f * (U - 128));
}

/* Frame f (borrowed) into the model input at dst (backend memory). */
static ft_status preprocess_one(ft_rfdetr *m, const ft_image *f, float *dst)
{
    if (!f || f->width <= 0 || f->height <= 0 || !f->data[0] || f->format > FT_PIX_GRAY8) {
        FT_LOGE("rfdetr", "preprocess: empty or unsupported frame");
        return FT_ERR_INVALID;
    }
    int W = f->width, H = f->height, S = m->size;
    if (m->be->ops->image_to_tensor && (f->format == FT_PIX_YUV420P || f->format == FT_PIX_NV12)) {
        /* the backend converts on its device after one upload of the 8-bit
         * planes, or straight from the frame's device view when it has one */
        m->be->ops->image_to_tensor(m->be, f, S, S, MEAN, STD, dst);
        return FT_OK;
    }
    size_t need = 3 * (size_t)W * H + 3 * (size_t)H * S;
    if (m->h_tmp_cap < need) { /* once per frame size */
        free(m->h_tmp);
        m->h_tmp = malloc(need * sizeof(float));
        m->h_tmp_cap = m->h_tmp ? need : 0;
        if (!m->h_tmp)
            return FT_ERR_NOMEM;
    }
    float *planes = m->h_tmp, *tmp = m->h_tmp + 3 * (size_t)W * H;
    float sc[3], of[3];
    for (int c = 0; c < 3; c++) {
        sc[c] = 1.0f / (255.0f * STD[c]);
        of[c] = -MEAN[c] / STD[c];
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t rgb[3];
            pixel_rgb(f, x, y, rgb);
            for (int c = 0; c < 3; c++)
                planes[((size_t)c * H + y) * W + x] = rgb[c] * sc[c] + of[c];
        }
    if (W == S && H == S)
        memcpy(m->h_in, planes, sizeof(float) * 3 * (size_t)S * S);
    else
        rfdetr_resample(planes, 3, H, W, m->h_in, S, S, tmp, 0);
    /* the upload copies h_in before returning, so the next frame may reuse it */
    m->be->ops->upload(m->be, dst, m->h_in, sizeof(float) * 3 * (size_t)S * S);
    return FT_OK;
}

bool ft_rfdetr_reads_device_frames(const ft_rfdetr *m)
{
    /* image_to_tensor is the GPU backends' (docs/cuda.md: device frames) */
    return m->be->ops->image_to_tensor != NULL;
}

ft_status ft_rfdetr_preprocess(ft_rfdetr *m, const ft_image *f)
{
    return ft_rfdetr_preprocess_batch(m, &f, 1);
}

ft_status ft_rfdetr_preprocess_batch(ft_rfdetr *m, const ft_image *const *frames, int n)
{
    if (!frames || n < 1 || n > m->max_batch) {
        FT_LOGE("rfdetr", "preprocess: batch of %d frames, the model was planned for 1..%d", n,
                m->max_batch);
        return FT_ERR_INVALID;
    }
    size_t per = 3 * (size_t)m->size * m->size;
    for (int b = 0; b < n; b++) {
        ft_status st = preprocess_one(m, frames[b], m->img + (size_t)b * per);
        if (st)
            return st;
    }
    m->nb = n;
    return FT_OK;
}

void ft_rfdetr_postprocess(ft_rfdetr *m, int width, int height, float threshold, ft_rfdetr_det *out,
                           int cap, int *n)
{
    ft_rfdetr_postprocess_image(m, 0, width, height, threshold, out, cap, n);
}

void ft_rfdetr_postprocess_image(ft_rfdetr *m, int image, int width, int height, float threshold,
                                 ft_rfdetr_det *out, int cap, int *n)
{
    const ft_rfdetr_arch *a = &m->a;
    int k = m->nsel;
    *n = 0;
    if (image < 0 || image >= m->nb)
        return;
    /* the top-k over queries x classes ran at the end of the forward pass
     * (sigmoid is monotonic, so on the logits); its indices count from frame
     * 0's first logit */
    const int32_t *idx = m->sel_idx + (size_t)image * k;
    const float *val = m->sel_val + (size_t)image * k;
    int32_t first = image * a->num_queries * a->num_classes;
    const float *boxes = m->h_boxes + (size_t)image * a->num_queries * 4;
    int cnt = 0;
    for (int i = 0; i < k && cnt < cap; i++) {
        float score = 1.0f / (1.0f + expf(-val[i]));
        if (score < threshold)
            break; /* sorted: the rest are lower */
        int q = (idx[i] - first) / a->num_classes;
        const float *b = boxes + (size_t)q * 4;
        float w = b[2] > 0.0f ? b[2] : 0.0f, h = b[3] > 0.0f ? b[3] : 0.0f;
        ft_rfdetr_det *d = &out[cnt++];
        d->score = score;
        d->label = (idx[i] - first) % a->num_classes;
        d->query = q;
        d->x0 = (b[0] - 0.5f * w) * width;
        d->y0 = (b[1] - 0.5f * h) * height;
        d->x1 = (b[0] + 0.5f * w) * width;
        d->y1 = (b[1] + 0.5f * h) * height;
    }
    *n = cnt;
}

static float iou(const ft_rfdetr_det *a, const ft_rfdetr_det *b)
{
    float ix = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0);
    float iy = fminf(a->y1, b->y1) - fmaxf(a->y0, b->y0);
    if (ix <= 0.0f || iy <= 0.0f)
        return 0.0f;
    float inter = ix * iy;
    float ua = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
    return ua > 0.0f ? inter / ua : 0.0f;
}

void ft_rfdetr_nms(ft_rfdetr_det *dets, int *n, float thr)
{
    int kept = 0;
    for (int i = 0; i < *n; i++) {
        bool keep = true;
        for (int j = 0; j < kept && keep; j++)
            keep = dets[j].label != dets[i].label || iou(&dets[j], &dets[i]) <= thr;
        if (keep)
            dets[kept++] = dets[i];
    }
    *n = kept;
}
