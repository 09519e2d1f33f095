/* Generated test clip: pattern frames through ft_writer, AAC tone alongside. */
#include "tools/bench/testclip.h"

#include <libavcodec/avcodec.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/writer.h"

#define AUDIO_RATE 48000

/* Green pitch with darker mowing stripes that scroll (a slow pan), a white
 * line, and a ball circling the centre: enough texture that the encoder
 * does real work, with motion everywhere. */
static void draw_frame(uint8_t *y, uint8_t *u, uint8_t *v, int w, int h, int i)
{
    int pan = i * 3;
    for (int r = 0; r < h; r++) {
        uint8_t *row = y + (size_t)r * w;
        for (int c = 0; c < w; c++) {
            int stripe = ((c + pan) / 96) & 1;
            row[c] = (uint8_t)(96 + stripe * 18 + ((c * 7 + r * 13) & 7));
        }
    }
    int line_x = (w / 2 - pan) % w;
    if (line_x < 0)
        line_x += w;
    for (int r = 0; r < h; r++)
        for (int c = line_x; c < line_x + 4 && c < w; c++)
            y[(size_t)r * w + c] = 220;
    double t = i / 25.0;
    int bx = (int)(w / 2 + w / 4 * cos(t)), by = (int)(h / 2 + h / 4 * sin(1.3 * t));
    int rad = h / 60 > 2 ? h / 60 : 2;
    for (int r = by - rad; r <= by + rad; r++)
        for (int c = bx - rad; c <= bx + rad; c++)
            if (r >= 0 && r < h && c >= 0 && c < w && (r - by) * (r - by) + (c - bx) * (c - bx) <= rad * rad)
                y[(size_t)r * w + c] = 235;
    int cw = w / 2, ch = h / 2;
    memset(u, 100, (size_t)cw * ch);
    memset(v, 95, (size_t)cw * ch);
}

typedef struct tone {
    AVCodecContext *enc;
    AVFrame *frame;
    AVPacket *pkt;
    int64_t samples; /* generated so far */
} tone;

static void tone_free(tone *a)
{
    avcodec_free_context(&a->enc);
    av_frame_free(&a->frame);
    av_packet_free(&a->pkt);
}

static ft_status tone_open(tone *a)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec)
        return FT_ERR_OUTPUT;
    a->enc = avcodec_alloc_context3(codec);
    a->frame = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (!a->enc || !a->frame || !a->pkt)
        return FT_ERR_NOMEM;
    a->enc->sample_rate = AUDIO_RATE;
    a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&a->enc->ch_layout, 1);
    a->enc->bit_rate = 64000;
    a->enc->time_base = (AVRational){1, AUDIO_RATE};
    a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(a->enc, codec, NULL) < 0)
        return FT_ERR_OUTPUT;
    a->frame->format = AV_SAMPLE_FMT_FLTP;
    a->frame->nb_samples = a->enc->frame_size;
    a->frame->sample_rate = AUDIO_RATE;
    if (av_channel_layout_copy(&a->frame->ch_layout, &a->enc->ch_layout) < 0 ||
        av_frame_get_buffer(a->frame, 0) < 0)
        return FT_ERR_NOMEM;
    return FT_OK;
}

/* Encodes one more audio frame (or flushes with end=true) and writes the
 * packets that come out. */
static ft_status tone_step(tone *a, ft_writer *w, bool end)
{
    if (!end) {
        if (av_frame_make_writable(a->frame) < 0)
            return FT_ERR_NOMEM;
        float *s = (float *)a->frame->data[0];
        for (int k = 0; k < a->frame->nb_samples; k++)
            s[k] = 0.3f * (float)sin(2 * M_PI * 440.0 * (double)(a->samples + k) / AUDIO_RATE);
        a->frame->pts = a->samples;
        a->samples += a->frame->nb_samples;
    }
    if (avcodec_send_frame(a->enc, end ? NULL : a->frame) < 0)
        return FT_ERR_OUTPUT;
    while (avcodec_receive_packet(a->enc, a->pkt) == 0) {
        ft_status st = ft_writer_write_audio(w, a->pkt);
        av_packet_unref(a->pkt);
        if (st)
            return st;
    }
    return FT_OK;
}

ft_status ft_testclip_write(const ft_testclip_params *p)
{
    if (!p->path || p->width <= 0 || p->height <= 0 || (p->width | p->height) & 1 ||
        !(p->fps > 0) || p->frames <= 0)
        return FT_ERR_INVALID;
    ft_status st = FT_OK;
    ft_writer *w = NULL;
    tone a = {0};
    size_t ysize = (size_t)p->width * p->height;
    uint8_t *buf = malloc(ysize * 3 / 2);
    if (!buf)
        return FT_ERR_NOMEM;
    AVCodecParameters *apar = NULL;
    ft_writer_audio_copy ac = {0};
    if (p->audio) {
        if ((st = tone_open(&a)))
            goto out;
        apar = avcodec_parameters_alloc();
        if (!apar || avcodec_parameters_from_context(apar, a.enc) < 0) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        ac = (ft_writer_audio_copy){apar, 1, AUDIO_RATE};
    }
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = p->path;
    wp.width = p->width;
    wp.height = p->height;
    wp.fps = p->fps;
    wp.tb_num = 1;
    wp.tb_den = (int)lrint(p->fps * 1000);
    wp.codec = "x264";
    wp.preset = p->preset ? p->preset : "ultrafast";
    wp.crf = 20;
    wp.gop_seconds = 2;
    wp.audio = p->audio ? &ac : NULL;
    if ((st = ft_writer_open(&wp, &w)))
        goto out;
    ft_image img = {.width = p->width,
                    .height = p->height,
                    .format = FT_PIX_YUV420P,
                    .data = {buf, buf + ysize, buf + ysize + ysize / 4},
                    .stride = {p->width, p->width / 2, p->width / 2}};
    for (int i = 0; i < p->frames; i++) {
        double t = i / p->fps;
        draw_frame(img.data[0], img.data[1], img.data[2], p->width, p->height, i);
        if ((st = ft_writer_write_image(w, &img, t)))
            goto out;
        /* Keep the audio a little ahead of the video so the muxer interleaves. */
        while (p->audio && (double)a.samples / AUDIO_RATE < (i + 1) / p->fps)
            if ((st = tone_step(&a, w, false)))
                goto out;
    }
    if (p->audio && (st = tone_step(&a, w, true)))
        goto out;
    st = ft_writer_close(w);
out:
    ft_writer_destroy(&w);
    tone_free(&a);
    avcodec_parameters_free(&apar);
    free(buf);
    if (st)
        FT_LOGE("bench", "%s: cannot write the test clip: %s", p->path, ft_status_str(st));
    return st;
}
