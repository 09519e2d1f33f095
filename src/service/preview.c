/* Preview JPEGs through libavcodec's MJPEG encoder. */
#include "service/preview.h"

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* Largest JPEG kept; a 640x360 preview at the quality used is ~20-40 kB. */
#define PREVIEW_CAP (512 * 1024)

struct ft_service_preview {
    AVCodecContext *enc;
    AVFrame *small;
    AVPacket *pkt;
    struct SwsContext *sws;
    int src_w, src_h;
    int64_t period_ns, last_ns;
    pthread_mutex_t mu; /* guards jpeg, len, seq, closed */
    pthread_cond_t cv;
    uint8_t *jpeg;
    size_t len;
    uint64_t seq;
    bool closed;
};

ft_status ft_service_preview_create(int width, int height, double fps, ft_service_preview **out)
{
    *out = NULL;
    if (width < 16 || height < 16 || (width & 1) || (height & 1) || !(fps > 0))
        return FT_ERR_INVALID;
    ft_service_preview *p = calloc(1, sizeof *p);
    if (!p)
        return FT_ERR_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->period_ns = (int64_t)(1e9 / fps);
    ft_status st = FT_ERR_NOMEM;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) {
        FT_LOGE("service", "this FFmpeg has no MJPEG encoder: the preview is unavailable");
        st = FT_ERR_RUNTIME;
        goto out;
    }
    if (!(p->enc = avcodec_alloc_context3(codec)) || !(p->small = av_frame_alloc()) ||
        !(p->pkt = av_packet_alloc()) || !(p->jpeg = malloc(PREVIEW_CAP)))
        goto out;
    p->enc->width = width;
    p->enc->height = height;
    p->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    p->enc->time_base = (AVRational){1, 25};
    p->enc->flags |= AV_CODEC_FLAG_QSCALE;
    p->enc->global_quality = FF_QP2LAMBDA * 6;
    if (avcodec_open2(p->enc, codec, NULL) < 0) {
        st = FT_ERR_RUNTIME;
        goto out;
    }
    p->small->format = AV_PIX_FMT_YUVJ420P;
    p->small->width = width;
    p->small->height = height;
    if (av_frame_get_buffer(p->small, 0) < 0)
        goto out;
    st = FT_OK;
out:
    if (st)
        ft_service_preview_destroy(&p);
    *out = p;
    return st;
}

ft_status ft_service_preview_push(ft_service_preview *p, const ft_image *img, int64_t now_ns)
{
    if (p->last_ns && now_ns - p->last_ns < p->period_ns)
        return FT_OK;
    if (img->format != FT_PIX_YUV420P)
        return FT_ERR_INVALID;
    p->last_ns = now_ns;
    /* The output is limited-range YUV; the JPEG is full range: swscale
     * expands the levels while scaling down. */
    p->sws =
        sws_getCachedContext(p->sws, img->width, img->height, AV_PIX_FMT_YUV420P, p->small->width,
                             p->small->height, AV_PIX_FMT_YUVJ420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!p->sws)
        return FT_ERR_RUNTIME;
    const uint8_t *const src[3] = {img->data[0], img->data[1], img->data[2]};
    const int stride[3] = {img->stride[0], img->stride[1], img->stride[2]};
    if (av_frame_make_writable(p->small) < 0)
        return FT_ERR_NOMEM;
    sws_scale(p->sws, src, stride, 0, img->height, p->small->data, p->small->linesize);
    p->small->pts++;
    if (avcodec_send_frame(p->enc, p->small) < 0 || avcodec_receive_packet(p->enc, p->pkt) < 0)
        return FT_ERR_RUNTIME;
    pthread_mutex_lock(&p->mu);
    if ((size_t)p->pkt->size <= PREVIEW_CAP) {
        memcpy(p->jpeg, p->pkt->data, (size_t)p->pkt->size);
        p->len = (size_t)p->pkt->size;
        p->seq++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    av_packet_unref(p->pkt);
    return FT_OK;
}

ft_status ft_service_preview_wait(ft_service_preview *p, uint64_t *seq, uint8_t *buf, size_t cap,
                                  size_t *len, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (int64_t)timeout_ms * 1000000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    ft_status st = FT_OK;
    pthread_mutex_lock(&p->mu);
    while (!p->closed && p->seq == *seq)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl))
            break;
    if (p->closed)
        st = FT_ERR_INTERRUPTED;
    else if (p->seq == *seq)
        st = FT_ERR_AGAIN;
    else if (p->len > cap)
        st = FT_ERR_NOMEM;
    else {
        memcpy(buf, p->jpeg, p->len);
        *len = p->len;
        *seq = p->seq;
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

void ft_service_preview_close(ft_service_preview *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void ft_service_preview_destroy(ft_service_preview **pp)
{
    if (!pp || !*pp)
        return;
    ft_service_preview *p = *pp;
    avcodec_free_context(&p->enc);
    av_frame_free(&p->small);
    av_packet_free(&p->pkt);
    sws_freeContext(p->sws);
    free(p->jpeg);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    *pp = NULL;
}
