/* Video writer: libx264/NVENC encode, muxing, audio copy, constant-rate
 * resampling and the temp-file-then-rename protocol of batch mode. */
#include "io/writer.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_path.h"
#include "core/log.h"
#include "io/av_glue.h"

struct ft_writer {
    char url[4096];
    char tmp_path[4200]; /* atomic mode: where the file is written until close */
    bool atomic;
    bool header_written;
    bool closed;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *vst;
    AVStream *ast;      /* NULL without audio */
    AVRational audio_in_tb;
    AVFrame *frame;     /* encoder input buffer, YUV420P at the output size */
    AVFrame *prev;      /* last frame sent (target_fps repeats it) */
    AVFrame *ref;       /* reference to a caller's frame while it is encoded */
    AVPacket *pkt;      /* encoder output */
    AVPacket *apkt;     /* audio packet being written */
    struct SwsContext *sws;
    double target_fps;
    int64_t next_out;   /* target_fps: next output slot */
    int64_t last_pts;   /* last pts given to the encoder */
    bool have_prev;
    ft_writer_stats stats;
};

void ft_writer_params_default(ft_writer_params *p)
{
    memset(p, 0, sizeof *p);
    p->width = 1280;
    p->height = 720;
    p->fps = 25.0;
    p->codec = "auto";
    p->preset = "veryfast";
    p->crf = 23;
    p->gop_seconds = 2.0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_network(const char *url)
{
    return strstr(url, "://") != NULL && !has_prefix(url, "file:");
}

/* The muxer for url: explicit name, flv for RTMP, MPEG-TS for SRT/UDP, else
 * from the file extension. */
static const AVOutputFormat *pick_format(const ft_writer_params *p)
{
    if (p->format && *p->format)
        return av_guess_format(p->format, NULL, NULL);
    if (has_prefix(p->url, "rtmp://") || has_prefix(p->url, "rtmps://"))
        return av_guess_format("flv", NULL, NULL);
    if (has_prefix(p->url, "srt://") || has_prefix(p->url, "udp://"))
        return av_guess_format("mpegts", NULL, NULL);
    return av_guess_format(NULL, p->url, NULL);
}

/* x264 preset names mapped onto NVENC's p1 (fastest) .. p7 (best). */
static const char *nvenc_preset(const char *x264_preset)
{
    static const char *const map[][2] = {
        {"ultrafast", "p1"}, {"superfast", "p1"}, {"veryfast", "p2"}, {"faster", "p3"},
        {"fast", "p3"},      {"medium", "p4"},    {"slow", "p5"},     {"slower", "p6"},
        {"veryslow", "p7"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], x264_preset))
            return map[i][1];
    return x264_preset; /* already an NVENC name such as "p4" */
}

/* Configures and opens one encoder. Returns the libav error code. */
static int open_encoder(ft_writer *w, const ft_writer_params *p, const AVCodec *codec, bool nvenc)
{
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c)
        return AVERROR(ENOMEM);
    double fps = p->target_fps > 0 ? p->target_fps : (p->fps > 0 ? p->fps : 25.0);
    c->width = p->width;
    c->height = p->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational){1, 1};
    if (p->target_fps > 0)
        c->time_base = av_d2q(1.0 / p->target_fps, 1000000);
    else if (p->tb_num > 0 && p->tb_den > 0)
        c->time_base = (AVRational){p->tb_num, p->tb_den};
    else
        c->time_base = (AVRational){1, 90000};
    c->framerate = av_d2q(fps, 100000);
    double gop_s = p->gop_seconds > 0 ? p->gop_seconds : 2.0;
    c->gop_size = (int)lrint(gop_s * fps) > 0 ? (int)lrint(gop_s * fps) : 1;
    c->thread_count = p->threads;
    if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    const char *preset = p->preset && *p->preset ? p->preset : "veryfast";
    int crf = p->crf >= 0 ? p->crf : 23;
    AVDictionary *opts = NULL;
    if (p->bitrate > 0) {
        c->bit_rate = p->bitrate;
        if (p->zerolatency) { /* live: cap the rate so the link is not flooded */
            c->rc_max_rate = p->bitrate;
            c->rc_buffer_size = (int)(p->bitrate > INT32_MAX / 2 ? INT32_MAX : p->bitrate * 2);
        }
    }
    if (nvenc) {
        av_dict_set(&opts, "preset", nvenc_preset(preset), 0);
        if (p->bitrate <= 0)
            av_dict_set_int(&opts, "cq", crf, 0);
        if (p->zerolatency) {
            av_dict_set(&opts, "tune", "ull", 0);
            av_dict_set(&opts, "zerolatency", "1", 0);
        }
    } else {
        av_dict_set(&opts, "preset", preset, 0);
        if (p->bitrate <= 0)
            av_dict_set_int(&opts, "crf", crf, 0);
        if (p->zerolatency)
            av_dict_set(&opts, "tune", "zerolatency", 0);
    }
    int err = avcodec_open2(c, codec, &opts);
    AVDictionaryEntry *left = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    if (!err && left) {
        FT_LOGE("io", "encoder %s does not accept %s=%s", codec->name, left->key, left->value);
        err = AVERROR(EINVAL);
    }
    av_dict_free(&opts);
    if (err < 0) {
        avcodec_free_context(&c);
        return err;
    }
    w->enc = c;
    return 0;
}

/* NVENC when asked for or (auto) when it opens, else libx264 with one
 * warning per process. */
static ft_status choose_encoder(ft_writer *w, const ft_writer_params *p)
{
    const char *codec = p->codec && *p->codec ? p->codec : "auto";
    bool want_nvenc = !strcmp(codec, "nvenc") || !strcmp(codec, "h264_nvenc");
    bool try_nvenc = want_nvenc || !strcmp(codec, "auto");
    if (!try_nvenc && strcmp(codec, "x264") && strcmp(codec, "libx264")) {
        FT_LOGE("io", "%s: unknown encoder '%s' (expected auto, x264 or nvenc)", p->url, codec);
        return FT_ERR_CONFIG;
    }
    char eb[128];
    if (try_nvenc) {
        const AVCodec *nv = avcodec_find_encoder_by_name("h264_nvenc");
        int err = nv ? open_encoder(w, p, nv, true) : AVERROR_ENCODER_NOT_FOUND;
        if (err >= 0)
            return FT_OK;
        /* One warning per process (the debug video and reopened live
         * outputs probe again). */
        static atomic_flag warned = ATOMIC_FLAG_INIT;
        ft_log(atomic_flag_test_and_set(&warned) ? FT_LOG_DEBUG : FT_LOG_WARN, "io",
               "%s: NVENC unavailable (h264_nvenc: %s); encoding with libx264", p->url,
               ft_io_av_err(err, eb, sizeof eb));
    }
    const AVCodec *x = avcodec_find_encoder_by_name("libx264");
    if (!x) {
        FT_LOGE("io", "%s: libx264 encoder not available in this FFmpeg build", p->url);
        return FT_ERR_OUTPUT;
    }
    int err = open_encoder(w, p, x, false);
    if (err < 0) {
        FT_LOGE("io", "%s: cannot open libx264 (preset '%s'): %s", p->url,
                p->preset ? p->preset : "veryfast", ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_CONFIG;
    }
    return FT_OK;
}

static ft_status add_audio(ft_writer *w, const ft_writer_params *p)
{
    const ft_writer_audio_copy *a = p->audio;
    if (!a || !a->par || a->tb_num <= 0 || a->tb_den <= 0)
        return FT_OK;
    /* 0 = known unsupported; a negative answer means the muxer keeps no list
     * (MPEG-TS), and writing the header will tell. */
    if (avformat_query_codec(w->fmt->oformat, a->par->codec_id, FF_COMPLIANCE_NORMAL) == 0) {
        FT_LOGW("io", "%s: the %s container cannot carry %s audio; audio dropped", p->url,
                w->fmt->oformat->name, avcodec_get_name(a->par->codec_id));
        return FT_OK;
    }
    w->ast = avformat_new_stream(w->fmt, NULL);
    if (!w->ast || avcodec_parameters_copy(w->ast->codecpar, a->par) < 0)
        return FT_ERR_NOMEM;
    w->ast->codecpar->codec_tag = 0;
    w->audio_in_tb = (AVRational){a->tb_num, a->tb_den};
    w->ast->time_base = w->audio_in_tb;
    return FT_OK;
}

ft_status ft_writer_open(const ft_writer_params *p, ft_writer **out)
{
    *out = NULL;
    ft_io_av_log_init();
    if (!p || !p->url || !*p->url || p->width <= 0 || p->height <= 0 || (p->width & 1) ||
        (p->height & 1)) {
        FT_LOGE("io", "writer: need an output URL and an even, positive size (got %dx%d)",
                p ? p->width : 0, p ? p->height : 0);
        return FT_ERR_CONFIG;
    }
    /* Files and the live protocols only: libavformat would also try to
     * write to ftp:, gopher:, pipe: ... and fail, if at all, with "Protocol
     * not found" or "Connection refused". */
    static const char *const schemes[] = {"file", "rtmp", "rtmps", "srt", "udp", NULL};
    if (!ft_io_url_scheme_in(p->url, schemes)) {
        FT_LOGE("io",
                "%s: unsupported URL scheme (allowed: a file path, file, rtmp, rtmps, srt, "
                "udp)",
                p->url);
        return FT_ERR_OUTPUT;
    }
    /* From here on a file: URL is its path, as for the reader (libavformat
     * would see a protocol in the temporary name ".file:NAME.PID.part"). */
    ft_writer_params local = *p;
    local.url = ft_io_url_path(local.url);
    p = &local;
    ft_status st = FT_OK;
    char eb[128];
    AVDictionary *mux_opts = NULL;
    ft_writer *w = calloc(1, sizeof *w);
    if (!w)
        return FT_ERR_NOMEM;
    if ((size_t)snprintf(w->url, sizeof w->url, "%s", p->url) >= sizeof w->url) {
        FT_LOGE("io", "output URL too long: %.64s...", p->url);
        st = FT_ERR_OUTPUT;
        goto out;
    }
    /* Caught here, not when the finished file is renamed over it: a whole
     * run would otherwise be encoded for nothing. */
    struct stat sb;
    if (!is_network(p->url) && stat(p->url, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        FT_LOGE("io", "%s: is a directory; the output must name a file (e.g. out.mp4 in it)",
                p->url);
        st = FT_ERR_OUTPUT;
        goto out;
    }
    const AVOutputFormat *ofmt = pick_format(p);
    if (!ofmt) {
        FT_LOGE("io", "%s: cannot tell the container format (use .mp4, .mkv, .mov, .ts or .flv)",
                p->url);
        st = FT_ERR_OUTPUT;
        goto out;
    }
    w->atomic = p->atomic && !is_network(p->url) && ft_atomic_path_applies(p->url);
    if (w->atomic && (st = ft_atomic_path_temp(p->url, "io", w->tmp_path, sizeof w->tmp_path)))
        goto out;
    const char *path = w->atomic ? w->tmp_path : w->url;
    int err = avformat_alloc_output_context2(&w->fmt, ofmt, NULL, path);
    if (err < 0 || !w->fmt) {
        FT_LOGE("io", "%s: cannot create the %s muxer: %s", p->url, ofmt->name,
                ft_io_av_err(err, eb, sizeof eb));
        st = FT_ERR_OUTPUT;
        goto out;
    }
    if ((st = choose_encoder(w, p)))
        goto out;
    w->vst = avformat_new_stream(w->fmt, NULL);
    if (!w->vst) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    w->vst->time_base = w->enc->time_base;
    w->vst->avg_frame_rate = w->enc->framerate;
    if (avcodec_parameters_from_context(w->vst->codecpar, w->enc) < 0) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if ((st = add_audio(w, p)))
        goto out;
    if (!(ofmt->flags & AVFMT_NOFILE)) {
        err = avio_open2(&w->fmt->pb, path, AVIO_FLAG_WRITE, NULL, NULL);
        if (err < 0) {
            FT_LOGE("io", "%s: cannot open for writing: %s", p->url,
                    ft_io_av_err(err, eb, sizeof eb));
            st = FT_ERR_OUTPUT;
            goto out;
        }
    }
    if (!strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov"))
        av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    err = avformat_write_header(w->fmt, &mux_opts);
    if (err < 0) {
        FT_LOGE("io", "%s: cannot write the %s header: %s", p->url, ofmt->name,
                ft_io_av_err(err, eb, sizeof eb));
        st = FT_ERR_OUTPUT;
        goto out;
    }
    w->header_written = true;
    w->frame = av_frame_alloc();
    w->prev = av_frame_alloc();
    w->ref = av_frame_alloc();
    w->pkt = av_packet_alloc();
    w->apkt = av_packet_alloc();
    if (!w->frame || !w->prev || !w->ref || !w->pkt || !w->apkt) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        AVFrame *f = i ? w->prev : w->frame;
        f->format = AV_PIX_FMT_YUV420P;
        f->width = p->width;
        f->height = p->height;
        if (av_frame_get_buffer(f, 0) < 0) {
            st = FT_ERR_NOMEM;
            goto out;
        }
    }
    w->target_fps = p->target_fps > 0 ? p->target_fps : 0;
    w->last_pts = INT64_MIN;
    FT_LOGI("io", "writing %s: %s %dx%d, %s%s", p->url, w->enc->codec->name, p->width, p->height,
            ofmt->name, w->ast ? " + audio copy" : "");
out:
    av_dict_free(&mux_opts);
    if (st)
        ft_writer_destroy(&w);
    *out = w;
    return st;
}

/* Sends one frame (or NULL to flush) and muxes whatever the encoder returns. */
static ft_status encode(ft_writer *w, AVFrame *f)
{
    char eb[128];
    int err = avcodec_send_frame(w->enc, f);
    if (err < 0) {
        FT_LOGE("io", "%s: encoder rejected a frame: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_OUTPUT;
    }
    if (f)
        w->stats.frames_encoded++;
    for (;;) {
        err = avcodec_receive_packet(w->enc, w->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
            return FT_OK;
        if (err < 0) {
            FT_LOGE("io", "%s: encoding failed: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
            return FT_ERR_OUTPUT;
        }
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->vst->time_base);
        w->pkt->stream_index = w->vst->index;
        err = av_interleaved_write_frame(w->fmt, w->pkt);
        if (err < 0) {
            FT_LOGE("io", "%s: write failed: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
            return FT_ERR_OUTPUT;
        }
    }
}

/* Gives `f` (the converted picture at pts_s) to the encoder, applying the
 * constant-rate resampling when target_fps is set. */
static ft_status submit(ft_writer *w, AVFrame *f, double pts_s)
{
    w->stats.frames_in++;
    if (w->target_fps <= 0) {
        int64_t pts = llrint(pts_s / av_q2d(w->enc->time_base));
        if (w->last_pts != INT64_MIN && pts <= w->last_pts)
            pts = w->last_pts + 1; /* encoders need strictly increasing pts */
        w->last_pts = pts;
        f->pts = pts;
        return encode(w, f);
    }
    /* Output slot i shows the newest input frame whose time is <= i/fps,
     * rounded to the nearest slot: late slots repeat the previous frame,
     * frames that fall on an already-filled slot are dropped. */
    int64_t slot = llrint(pts_s * w->target_fps);
    if (slot < w->next_out) {
        w->stats.frames_dropped++;
        return FT_OK;
    }
    ft_status st = FT_OK;
    while (w->next_out < slot && w->have_prev) {
        w->prev->pts = w->next_out++;
        if ((st = encode(w, w->prev)))
            return st;
        w->stats.frames_repeated++;
    }
    w->next_out = slot;
    f->pts = w->next_out++;
    if ((st = encode(w, f)))
        return st;
    /* A copy into our own buffer rather than a reference, so that w->frame
     * stays writable and no buffer is allocated per frame. */
    if (av_frame_make_writable(w->prev) < 0 || av_frame_copy(w->prev, f) < 0)
        return FT_ERR_NOMEM;
    w->have_prev = true;
    return FT_OK;
}

/* Makes w->frame writable (the encoder or w->prev may still hold it). */
static ft_status writable_frame(ft_writer *w)
{
    if (av_frame_make_writable(w->frame) < 0)
        return FT_ERR_NOMEM;
    return FT_OK;
}

static ft_status convert_into_frame(ft_writer *w, const uint8_t *const data[4], const int linesize[4],
                                    int width, int height, enum AVPixelFormat fmt)
{
    ft_status st = writable_frame(w);
    if (st)
        return st;
    w->sws = sws_getCachedContext(w->sws, width, height, fmt, w->frame->width, w->frame->height,
                                  AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!w->sws) {
        FT_LOGE("io", "%s: cannot convert %dx%d %s frames", w->url, width, height,
                av_get_pix_fmt_name(fmt));
        return FT_ERR_INVALID;
    }
    sws_scale(w->sws, data, linesize, 0, height, w->frame->data, w->frame->linesize);
    return FT_OK;
}

static enum AVPixelFormat av_fmt_of(ft_pixfmt f)
{
    switch (f) {
    case FT_PIX_YUV420P:
        return AV_PIX_FMT_YUV420P;
    case FT_PIX_NV12:
        return AV_PIX_FMT_NV12;
    case FT_PIX_RGB24:
        return AV_PIX_FMT_RGB24;
    case FT_PIX_GRAY8:
        return AV_PIX_FMT_GRAY8;
    }
    return AV_PIX_FMT_NONE;
}

ft_status ft_writer_write_image(ft_writer *w, const ft_image *img, double pts_s)
{
    enum AVPixelFormat fmt = av_fmt_of(img->format);
    if (fmt == AV_PIX_FMT_NONE || img->width <= 0 || img->height <= 0)
        return FT_ERR_INVALID;
    ft_status st;
    if (fmt == AV_PIX_FMT_YUV420P && img->width == w->frame->width &&
        img->height == w->frame->height) {
        /* Same layout: a plane copy, no scaler. */
        if ((st = writable_frame(w)))
            return st;
        for (int pl = 0; pl < 3; pl++) {
            int sh = pl ? 1 : 0;
            av_image_copy_plane(w->frame->data[pl], w->frame->linesize[pl], img->data[pl],
                                img->stride[pl], (img->width + sh) >> sh, (img->height + sh) >> sh);
        }
    } else {
        const uint8_t *data[4] = {img->data[0], img->data[1], img->data[2], NULL};
        int ls[4] = {img->stride[0], img->stride[1], img->stride[2], 0};
        if ((st = convert_into_frame(w, data, ls, img->width, img->height, fmt)))
            return st;
    }
    return submit(w, w->frame, pts_s);
}

ft_status ft_writer_write_frame(ft_writer *w, const AVFrame *frame, double pts_s)
{
    if (frame->format == AV_PIX_FMT_YUV420P && frame->width == w->frame->width &&
        frame->height == w->frame->height) {
        /* Encode the caller's buffers directly (a new reference, no copy). */
        if (av_frame_ref(w->ref, frame) < 0)
            return FT_ERR_NOMEM;
        ft_status st = submit(w, w->ref, pts_s);
        av_frame_unref(w->ref);
        return st;
    }
    ft_status st = convert_into_frame(w, (const uint8_t *const *)frame->data, frame->linesize,
                                      frame->width, frame->height, frame->format);
    if (st)
        return st;
    return submit(w, w->frame, pts_s);
}

ft_status ft_writer_write_audio(ft_writer *w, const AVPacket *pkt)
{
    if (!w->ast)
        return FT_OK;
    if (av_packet_ref(w->apkt, pkt) < 0)
        return FT_ERR_NOMEM;
    av_packet_rescale_ts(w->apkt, w->audio_in_tb, w->ast->time_base);
    w->apkt->stream_index = w->ast->index;
    w->apkt->pos = -1;
    int err = av_interleaved_write_frame(w->fmt, w->apkt); /* takes the reference */
    av_packet_unref(w->apkt);
    if (err < 0) {
        char eb[128];
        FT_LOGE("io", "%s: audio write failed: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_OUTPUT;
    }
    w->stats.audio_packets++;
    return FT_OK;
}

ft_status ft_writer_set_bitrate(ft_writer *w, int64_t bitrate)
{
    if (!w->enc || w->enc->bit_rate <= 0 || bitrate <= 0)
        return FT_ERR_INVALID;
    /* libx264 and NVENC compare these fields with their running settings
     * before every frame and reconfigure the encoder in place. */
    w->enc->bit_rate = bitrate;
    if (w->enc->rc_max_rate > 0) {
        w->enc->rc_max_rate = bitrate;
        w->enc->rc_buffer_size = (int)(bitrate > INT32_MAX / 2 ? INT32_MAX : bitrate * 2);
    }
    return FT_OK;
}

ft_status ft_writer_close(ft_writer *w)
{
    if (w->closed)
        return FT_OK;
    char eb[128];
    ft_status st = encode(w, NULL);
    if (st)
        return st;
    int err = av_write_trailer(w->fmt);
    if (err < 0) {
        FT_LOGE("io", "%s: cannot finish the file: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_OUTPUT;
    }
    if (w->fmt->pb) {
        w->stats.bytes = avio_size(w->fmt->pb);
        if (!(w->fmt->oformat->flags & AVFMT_NOFILE) && (err = avio_closep(&w->fmt->pb)) < 0) {
            FT_LOGE("io", "%s: close failed: %s", w->url, ft_io_av_err(err, eb, sizeof eb));
            return FT_ERR_OUTPUT;
        }
    }
    if (w->atomic && rename(w->tmp_path, w->url) != 0) {
        FT_LOGE("io", "%s: cannot move the finished file into place: %s", w->url,
                strerror(errno));
        return FT_ERR_OUTPUT;
    }
    w->closed = true;
    return FT_OK;
}

void ft_writer_destroy(ft_writer **pw)
{
    if (!pw || !*pw)
        return;
    ft_writer *w = *pw;
    if (w->fmt) {
        if (w->fmt->pb && !(w->fmt->oformat->flags & AVFMT_NOFILE))
            avio_closep(&w->fmt->pb);
        avformat_free_context(w->fmt);
    }
    if (w->atomic && !w->closed && w->tmp_path[0])
        unlink(w->tmp_path); /* abandoned: never leave a partial file behind */
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_frame_free(&w->prev);
    av_frame_free(&w->ref);
    av_packet_free(&w->pkt);
    av_packet_free(&w->apkt);
    sws_freeContext(w->sws);
    free(w);
    *pw = NULL;
}

void ft_writer_stats_get(const ft_writer *w, ft_writer_stats *out)
{
    *out = w->stats;
    if (!w->closed && w->fmt && w->fmt->pb)
        out->bytes = avio_tell(w->fmt->pb);
}

const char *ft_writer_encoder_name(const ft_writer *w)
{
    return w->enc ? w->enc->codec->name : "none";
}
