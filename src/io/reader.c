/* Video reader: demux + decode with FFmpeg, scheme allow-list, NVDEC with
 * software fallback, corrupt-packet skipping, timestamps relative to the
 * stream start for video frames and audio packets alike. */
#include "io/reader.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/av_glue.h"
#include "io/frame_pool.h"
#include "io/rotate.h"

struct ft_reader {
    char url[4096];
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVBufferRef *hw_device;
    AVFrame *hw_frame;         /* NVDEC output before download; after it, the surface kept
                                  for ft_reader_take_device_frame */
    int device_frames;         /* ft_reader_params.device_frames */
    ft_io_frame_pool *dl_pool; /* host buffers the NVDEC frames are downloaded into */
    int rotation;              /* display rotation applied to every frame: 0, 90, 180, 270
                                  degrees counterclockwise (the first open's stream) */
    ft_io_frame_pool *rot_pool; /* host buffers the frames are rotated into */
    AVFrame *rot_frame;         /* the frame being rotated into, empty between reads */
    AVPacket *pkt;        /* packet being decoded */
    char open_url[4200]; /* url as given to libavformat ("file:" prefixed for paths) */
    bool local;
    bool listen; /* RTMP server mode (URL suffix "?ft_listen"): wait for a publisher */
    char device[16];
    int threads, buffer_size, reconnect_attempts;
    double reconnect_delay_s;
    bool hw_tried;
    bool dead;            /* reconnecting failed: every later read fails */
    bool lost;            /* live input lost: reconnect once the decoder is drained */
    int lost_err;
    int vidx, aidx;       /* stream indices (aidx -1 without audio) */
    AVRational vtb;       /* current video stream time base */
    AVRational atb;       /* audio time base of the packets we return (first open's) */
    double start_s;       /* first open's stream start, subtracted from every time */
    int64_t last_pts;     /* for frames without a timestamp, in vtb */
    int64_t frames;       /* frames delivered */
    double last_pts_s;    /* time of the last frame delivered */
    bool warned_short;    /* the end was checked against the declared duration (once) */
    double offset_s[2];   /* added to a stream's timestamps after a discontinuity */
    double last_dts_s[2]; /* last packet time per stream (0 video, 1 audio), offset applied */
    bool have_dts[2];
    bool draining;        /* demuxer at EOF, decoder being flushed */
    int64_t corrupt;
    atomic_int failures; /* reopen attempts failed in the current outage */
    atomic_bool interrupted;
    bool fifo;               /* a local FIFO or device: a read can block in the kernel */
    atomic_bool reading;     /* ... and read_thread is inside av_read_frame */
    pthread_t read_thread;
    int64_t deadline_us;  /* network open/read deadline, 0 = none */
    int64_t timeout_us;
    ft_reader_info info;
};

/* Schemes we open; everything else (concat:, subfile:, pipe:, data:, ...)
 * could read arbitrary local data on behalf of a remote caller. */
static const char *const allowed_schemes[] = {"file", "rtmp", "rtmps", "srt",
                                              "udp",  "http", "https", NULL};

bool ft_reader_url_allowed(const char *url)
{
    return url && *url && ft_io_url_scheme_in(url, allowed_schemes);
}

/* SIGURG (ignored by default) gets a handler that does nothing but, with
 * no SA_RESTART, makes a blocked read() return EINTR: libavformat then
 * consults the interrupt callback. Only sent to our own reading thread. */
static void wake_handler(int sig)
{
    (void)sig;
}

static void install_wake_handler(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = wake_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, NULL);
}

/* A local path that is a FIFO or a character device: its reads may block
 * with no deadline (a writer that sends nothing). */
static bool is_fifo(const char *url)
{
    struct stat sb;
    return !stat(ft_io_url_path(url), &sb) && (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode));
}

static bool is_local(const char *url)
{
    static const char *const file[] = {"file", NULL};
    return ft_io_url_scheme_in(url, file);
}

static int interrupt_cb(void *opaque)
{
    ft_reader *r = opaque;
    if (atomic_load(&r->interrupted))
        return 1;
    return r->deadline_us && av_gettime_relative() > r->deadline_us;
}

static void arm_deadline(ft_reader *r)
{
    r->deadline_us = r->timeout_us ? av_gettime_relative() + r->timeout_us : 0;
}

/* Text for a libav error into buf. Our deadline makes libav give up with
 * AVERROR_EXIT ("Immediate exit requested"), which would read as if someone
 * had stopped the program: say that the source did not answer in time. */
static const char *read_error(const ft_reader *r, int err, char *buf, size_t cap)
{
    if (err == AVERROR_EXIT && !atomic_load(&r->interrupted) && r->deadline_us &&
        av_gettime_relative() > r->deadline_us) {
        snprintf(buf, cap, "no answer within %lld ms (stream.timeout_ms)",
                 (long long)(r->timeout_us / 1000));
        return buf;
    }
    return ft_io_av_err(err, buf, cap);
}

static enum AVPixelFormat pick_hw_format(AVCodecContext *c, const enum AVPixelFormat *fmts)
{
    for (const enum AVPixelFormat *f = fmts; *f != AV_PIX_FMT_NONE; f++)
        if (*f == AV_PIX_FMT_CUDA)
            return *f;
    /* The stream cannot be decoded on the GPU (e.g. 4:4:4): take the first
     * software format, which libav lists after the hardware ones. */
    for (const enum AVPixelFormat *f = fmts; *f != AV_PIX_FMT_NONE; f++)
        if (!(av_pix_fmt_desc_get(*f)->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *f;
    (void)c;
    return AV_PIX_FMT_NONE;
}

/* Opens CUDA device 0 for NVDEC in the CUDA runtime's primary context
 * (hwcontext_cuda's "primary_ctx"). By default FFmpeg makes a context of its
 * own: every process then held two, which costs VRAM and made MPS run out of
 * client contexts past about 24 streams per H100 ("Generic error in an
 * external library" here), and its frames' device pointers would not be
 * valid in our CUDA runtime calls. FFmpeg takes the primary context only with
 * the blocking-sync scheduling flag (the CUDA backend sets it, docs/cuda.md);
 * one made active earlier with other flags is refused (ENOTSUP), and then
 * NVDEC gets a context of its own as before, without zero-copy frames. */
static int create_cuda_device(ft_reader *r)
{
    AVDictionary *opts = NULL;
    int err = av_dict_set(&opts, "primary_ctx", "1", 0);
    if (err >= 0)
        err = av_hwdevice_ctx_create(&r->hw_device, AV_HWDEVICE_TYPE_CUDA, NULL, opts, 0);
    av_dict_free(&opts);
    if (err >= 0)
        r->info.hw_primary_ctx = true;
    if (err != AVERROR(ENOTSUP)) /* no GPU, no driver...: the same answer either way */
        return err;
    char eb[128];
    FT_LOGI("io", "%s: NVDEC cannot share the CUDA primary context (%s); it uses a context of its "
                  "own (frames go to the detector through host memory)",
            r->url, ft_io_av_err(err, eb, sizeof eb));
    return av_hwdevice_ctx_create(&r->hw_device, AV_HWDEVICE_TYPE_CUDA, NULL, NULL, 0);
}

/* NVDEC for "cuda" and "auto" when a CUDA device opens; otherwise software
 * decoding. "cuda" asks for the GPU explicitly: without a usable CUDA device
 * that is FT_ERR_GPU (exit 5) whatever the detector, as RF-DETR does, and
 * "auto" is the setting that falls back to the CPU. */
static ft_status try_hw(ft_reader *r, const char *device, const AVCodec *codec)
{
    bool required = !strcmp(device, "cuda");
    if (!required && strcmp(device, "auto"))
        return FT_OK;
    bool codec_ok = false;
    for (int i = 0;; i++) {
        const AVCodecHWConfig *hc = avcodec_get_hw_config(codec, i);
        if (!hc)
            break;
        if (hc->device_type == AV_HWDEVICE_TYPE_CUDA &&
            (hc->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX))
            codec_ok = true;
    }
    /* An explicit "cuda" checks for the device even when this codec has no
     * NVDEC decoder, so that the answer does not depend on the input. */
    int err = codec_ok || required ? create_cuda_device(r) : AVERROR(ENOSYS);
    char eb[128];
    if (err < 0 && required) {
        FT_LOGE("io",
                "%s: device 'cuda' (model.device / --device) asked for, but no usable CUDA "
                "device: %s; use --device auto or cpu",
                r->url, ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_GPU;
    }
    if (err >= 0 && !codec_ok) {
        av_buffer_unref(&r->hw_device);
        r->info.hw_primary_ctx = false;
        err = AVERROR(ENOSYS);
    }
    if (err < 0) {
        /* One warning per process, so that a GPU-less deployment is noticed
         * without every reopened input repeating it. */
        static atomic_flag warned = ATOMIC_FLAG_INIT;
        ft_log(atomic_flag_test_and_set(&warned) ? FT_LOG_DEBUG : FT_LOG_WARN, "io",
               "%s: NVDEC unavailable (%s); decoding on the CPU", r->url,
               codec_ok ? ft_io_av_err(err, eb, sizeof eb) : "no CUDA decoder for this codec");
        return FT_OK;
    }
    r->info.hw_decode = true;
    return FT_OK;
}

/* The container a local file's first bytes show (not its name), or NULL:
 * told apart from a file that is no video at all, one whose header
 * libavformat rejects (an MP4 cut before its index) is reported as damaged. */
static const char *probed_format(const ft_reader *r)
{
    AVIOContext *pb = NULL;
    unsigned char buf[4096 + AVPROBE_PADDING_SIZE] = {0};
    if (!r->local || avio_open(&pb, r->open_url, AVIO_FLAG_READ) < 0)
        return NULL;
    int n = avio_read(pb, buf, 4096);
    avio_closep(&pb);
    AVProbeData pd = {.filename = "", .buf = buf, .buf_size = n > 0 ? n : 0};
    int score = AVPROBE_SCORE_RETRY; /* weaker guesses are noise */
    const AVInputFormat *fmt = n > 0 ? av_probe_input_format2(&pd, 1, &score) : NULL;
    return fmt ? fmt->name : NULL;
}

/* Probe rounds of about a second each that a network input may take to show
 * its video stream (longer than a 2 s keyframe interval). */
#define PROBE_ROUNDS_MAX 4

/* Opens the container and picks the streams. Failures are logged at `lvl`
 * (errors at the first open, warnings while reconnecting). */
static ft_status open_demuxer(ft_reader *r, ft_log_level lvl)
{
    char eb[128];
    AVDictionary *opts = NULL;
    ft_status st = FT_ERR_INPUT;
    r->fmt = avformat_alloc_context();
    if (!r->fmt)
        return FT_ERR_NOMEM;
    r->fmt->interrupt_callback = (AVIOInterruptCB){interrupt_cb, r};
    if (r->local) {
        av_dict_set(&opts, "protocol_whitelist", "file", 0);
    } else {
        av_dict_set(&opts, "protocol_whitelist",
                    "rtmp,rtmps,srt,udp,rtp,http,https,tcp,tls,crypto,httpproxy", 0);
        av_dict_set_int(&opts, "rw_timeout", r->timeout_us, 0);
        if (r->buffer_size > 0)
            av_dict_set_int(&opts, "buffer_size", r->buffer_size, 0);
        /* RTMP announces its streams as they come: libav would wait its
         * default 5 s for an audio stream that may never appear, delaying
         * every (re)connect and delivering those seconds as one burst. */
        av_dict_set_int(&opts, "analyzeduration", 1000000, 0);
    }
    if (r->listen) {
        /* Waiting for a publisher is not a stalled read: no deadline, but
         * libavformat's own accept timeout (seconds) so that the open
         * returns now and then and a stop request is seen. */
        av_dict_set(&opts, "listen", "1", 0);
        av_dict_set_int(&opts, "timeout", r->timeout_us > 1000000 ? r->timeout_us / 1000000 : 1,
                        0);
        r->deadline_us = 0;
    } else {
        arm_deadline(r);
    }
    int err = avformat_open_input(&r->fmt, r->open_url, NULL, &opts);
    if (err < 0 && r->listen)
        lvl = FT_LOG_DEBUG; /* no publisher yet, or one the gate refused (and logged) */
    if (err < 0) { /* avformat_open_input freed the context */
        /* A header cut short reads as either of these two. */
        const char *known =
            err == AVERROR_INVALIDDATA || err == AVERROR_EOF ? probed_format(r) : NULL;
        if (known)
            ft_log(lvl, "io",
                   "%s: damaged video file: its %s header cannot be read (cut short, or still "
                   "being written?)",
                   r->url, known);
        else if (err == AVERROR_INVALIDDATA)
            ft_log(lvl, "io", "%s: not a video file (no known container format)", r->url);
        else
            ft_log(lvl, "io", "%s: cannot open input: %s", r->url,
                   read_error(r, err, eb, sizeof eb));
        goto out;
    }
    /* A fresh deadline for probing: had the connect used most of it, the
     * interrupt would cut a packet in half inside the probe, which still
     * succeeds and leaves the RTMP chunk stream out of step for every
     * later read ("packet size mismatch", then EIO). */
    for (int round = 1;; round++) {
        arm_deadline(r);
        err = avformat_find_stream_info(r->fmt, NULL);
        if (err < 0) {
            ft_log(lvl, "io", "%s: cannot read stream information: %s", r->url,
                   read_error(r, err, eb, sizeof eb));
            goto out;
        }
        r->vidx = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        /* A live input announces its streams as their packets arrive: joined
         * between two keyframes, RTMP delivers audio alone until the next
         * one. Probe on, a second more each round, rather than refuse it. */
        if (r->vidx >= 0 || r->local || round >= PROBE_ROUNDS_MAX)
            break;
        r->fmt->max_analyze_duration = (int64_t)(round + 1) * 1000000;
    }
    if (r->vidx < 0) {
        ft_log(lvl, "io", "%s: not a video (%s)", r->url,
               r->vidx == AVERROR_DECODER_NOT_FOUND ? "no decoder for its video stream"
                                                    : "no video stream found");
        goto out;
    }
    AVStream *vs = r->fmt->streams[r->vidx];
    if (vs->codecpar->width <= 0 || vs->codecpar->height <= 0) {
        ft_log(lvl, "io", "%s: not a video (video stream has no picture size)", r->url);
        goto out;
    }
    r->vtb = vs->time_base;
    int a = av_find_best_stream(r->fmt, AVMEDIA_TYPE_AUDIO, -1, r->vidx, NULL, 0);
    r->aidx = a >= 0 ? a : -1;
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if ((int)i != r->vidx && (int)i != r->aidx)
            r->fmt->streams[i]->discard = AVDISCARD_ALL;
    st = FT_OK;
out:
    av_dict_free(&opts);
    if (st)
        avformat_close_input(&r->fmt);
    return st;
}

/* Frames' NVDEC surfaces are kept for the caller (ft_reader_take_device_frame).
 * Not for a rotated input: the detector would read the surface as stored,
 * sideways, while tracking and rendering use the rotated host frame. */
static bool keeps_surfaces(const ft_reader *r)
{
    return r->device_frames > 0 && r->hw_device && r->info.hw_primary_ctx && !r->rotation;
}

/* The display rotation of the video stream that we apply: players show a
 * phone's portrait video upright by turning the stored landscape pictures,
 * and so do we, so that the ball is followed in the picture people see.
 * av_display_rotation_get gives the counterclockwise angle the picture is
 * turned by for display (ffmpeg's autorotate turns it the same way). A
 * mirrored matrix or an angle other than a right one is only warned about. */
static int display_rotation(const ft_reader *r, const AVStream *vs)
{
    const int32_t *m =
        (const int32_t *)av_stream_get_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    double angle = m ? av_display_rotation_get(m) : 0;
    if (!isfinite(angle))
        return 0;
    /* The matrix is stored in 16.16 fixed point: a right angle reads back
     * within a fraction of a degree (ffmpeg allows one degree too). */
    double quarters = round(angle / 90);
    bool right = fabs(angle - 90 * quarters) < 1.0;
    long deg = right ? (((long)quarters % 4 + 4) % 4) * 90 : lrint(angle);
    /* A negative determinant of the 2x2 part: the matrix also mirrors. */
    bool mirrored = m && (double)m[0] * m[4] - (double)m[1] * m[3] < 0;
    if (right && !deg && !mirrored)
        return 0;
    if (mirrored || !right) {
        FT_LOGW("io",
                "%s: carries a display transform (rotation %.0f degrees%s) that players apply; "
                "only rotations by 90, 180 or 270 degrees are applied here, so frames are "
                "processed as stored and the output is not rotated",
                r->url, angle, mirrored ? ", mirrored" : "");
        return 0;
    }
    return (int)deg;
}

/* Opens the decoder for the chosen video stream (on the GPU when NVDEC was
 * set up at the first open). */
static ft_status open_decoder(ft_reader *r, ft_log_level lvl)
{
    char eb[128];
    AVStream *vs = r->fmt->streams[r->vidx];
    const AVCodec *codec = avcodec_find_decoder(vs->codecpar->codec_id);
    if (!codec) {
        ft_log(lvl, "io", "%s: not a video (no decoder for its video stream)", r->url);
        return FT_ERR_INPUT;
    }
    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec || avcodec_parameters_to_context(r->dec, vs->codecpar) < 0)
        return FT_ERR_NOMEM;
    r->dec->pkt_timebase = vs->time_base;
    r->dec->thread_count = r->threads;
    r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (!r->hw_tried) { /* once: a reconnect keeps the first open's choice */
        r->hw_tried = true;
        ft_status st = try_hw(r, r->device, codec);
        if (st)
            return st;
    }
    if (r->hw_device) {
        r->dec->hw_device_ctx = av_buffer_ref(r->hw_device);
        r->dec->get_format = pick_hw_format;
        if (keeps_surfaces(r)) {
            /* NVDEC's pool has the DPB plus a few surfaces; every decoded
             * frame that waits for the detector holds one more (the +1: the
             * frame being handed over). Frame threads would add one surface
             * each (16 on a big machine), and the pool must stay within
             * NVDEC's 32, while the GPU decodes and there is nothing to thread. */
            r->dec->extra_hw_frames = r->device_frames + 1;
            r->dec->thread_type = FF_THREAD_SLICE;
        }
    }
    int err = avcodec_open2(r->dec, codec, NULL);
    if (err < 0) {
        ft_log(lvl, "io", "%s: cannot open the %s decoder: %s", r->url, codec->name,
               ft_io_av_err(err, eb, sizeof eb));
        return FT_ERR_INPUT;
    }
    return FT_OK;
}

ft_status ft_reader_open(const ft_reader_params *p, ft_reader **out)
{
    *out = NULL;
    ft_io_av_log_init();
    if (!p || !p->url || !*p->url) {
        FT_LOGE("io", "no input given");
        return FT_ERR_INPUT;
    }
    if (!ft_reader_url_allowed(p->url)) {
        FT_LOGE("io", "%s: unsupported URL scheme (allowed: a file path, file, rtmp, rtmps, srt, "
                      "udp, http, https)", p->url);
        return FT_ERR_INPUT;
    }
    ft_status st = FT_ERR_INPUT;
    ft_reader *r = calloc(1, sizeof *r);
    if (!r)
        return FT_ERR_NOMEM;
    r->aidx = -1;
    r->local = is_local(p->url);
    r->fifo = r->local && is_fifo(p->url);
    if (r->fifo) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, install_wake_handler);
    }
    if ((size_t)snprintf(r->url, sizeof r->url, "%s", p->url) >= sizeof r->url) {
        FT_LOGE("io", "input URL too long: %.64s...", p->url);
        goto out;
    }
    /* "file:" keeps a path containing ':' from being read as a protocol. */
    snprintf(r->open_url, sizeof r->open_url, "%s%s",
             r->local && strncmp(p->url, "file:", 5) ? "file:" : "", p->url);
    snprintf(r->device, sizeof r->device, "%s", p->device ? p->device : "auto");
    r->threads = p->threads;
    r->buffer_size = p->buffer_size;
    r->reconnect_attempts = r->local ? 0 : p->reconnect_attempts;
    r->device_frames = p->device_frames > 0 ? p->device_frames : 0;
    r->reconnect_delay_s = p->reconnect_delay_s > 0 ? p->reconnect_delay_s : 1.0;
    r->timeout_us = r->local ? 0 : (int64_t)(p->timeout_ms > 0 ? p->timeout_ms : 5000) * 1000;
    size_t ul = strlen(r->open_url), sl = strlen(FT_READER_LISTEN_SUFFIX);
    if (!strncmp(p->url, "rtmp://", 7) && ul > sl &&
        !strcmp(r->open_url + ul - sl, FT_READER_LISTEN_SUFFIX)) {
        r->listen = true;
        r->open_url[ul - sl] = '\0';
        /* A listener waits for the next publisher as long as it runs. */
        r->reconnect_attempts = INT_MAX;
        r->reconnect_delay_s = 0.2;
    }
    r->pkt = av_packet_alloc();
    r->hw_frame = av_frame_alloc();
    if (!r->pkt || !r->hw_frame || ft_io_frame_pool_create(&r->dl_pool)) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if ((st = open_demuxer(r, FT_LOG_ERROR)))
        goto out;
    AVStream *vs = r->fmt->streams[r->vidx];
    /* Before the decoder opens: a rotated input keeps no NVDEC surfaces.
     * Reconnects keep it, as they keep the choice of decoder. */
    r->rotation = display_rotation(r, vs);
    if (r->rotation && (!(r->rot_frame = av_frame_alloc()) ||
                        ft_io_frame_pool_create(&r->rot_pool))) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if ((st = open_decoder(r, FT_LOG_ERROR)))
        goto out;
    r->start_s = r->fmt->start_time != AV_NOPTS_VALUE ? (double)r->fmt->start_time / AV_TIME_BASE
                                                       : 0;
    r->last_pts = AV_NOPTS_VALUE;
    ft_reader_info *in = &r->info;
    bool swap = r->rotation == 90 || r->rotation == 270;
    in->width = swap ? vs->codecpar->height : vs->codecpar->width;
    in->height = swap ? vs->codecpar->width : vs->codecpar->height;
    in->tb_num = vs->time_base.num;
    in->tb_den = vs->time_base.den;
    AVRational fr = vs->avg_frame_rate.num ? vs->avg_frame_rate : vs->r_frame_rate;
    in->fps = fr.num && fr.den ? av_q2d(fr) : 0;
    in->duration_s = r->fmt->duration > 0 ? (double)r->fmt->duration / AV_TIME_BASE : 0;
    in->frame_count = vs->nb_frames > 0 ? vs->nb_frames : 0;
    in->format_name = r->fmt->iformat->name;
    if (r->aidx >= 0) {
        AVStream *as = r->fmt->streams[r->aidx];
        in->has_audio = true;
        in->audio_par = as->codecpar;
        r->atb = as->time_base;
        in->audio_tb_num = r->atb.num;
        in->audio_tb_den = r->atb.den;
    }
    FT_LOGI("io", "reading %s: %s %dx%d %.3f fps%s%s", p->url, r->dec->codec->name, in->width,
            in->height, in->fps, in->has_audio ? ", audio" : "", in->hw_decode ? ", NVDEC" : "");
    if (r->rotation)
        FT_LOGI("io", "%s: display rotation of %d degrees applied (frames turned to %dx%d)",
                p->url, r->rotation, in->width, in->height);
    st = FT_OK;
out:
    if (st)
        ft_reader_destroy(&r);
    *out = r;
    return st;
}

/* Sleeps `s` seconds unless interrupted first (then returns true). */
static bool sleep_interruptible(ft_reader *r, double s)
{
    int64_t end = av_gettime_relative() + (int64_t)(s * 1e6);
    while (av_gettime_relative() < end) {
        if (atomic_load(&r->interrupted))
            return true;
        av_usleep(20000);
    }
    return atomic_load(&r->interrupted);
}

/* The guide's "Stream Disconnection" recovery: reopen the input with
 * exponential backoff (reconnect_delay, doubling, at most 60 s), an error
 * log line after the fifth failure for alerting, FT_ERR_INPUT after the
 * last. Frames still inside the old decoder are lost; timestamps go on
 * through the discontinuity handling. */
static ft_status reconnect(ft_reader *r, int why)
{
    char eb[128];
    ft_io_av_err(why, eb, sizeof eb);
    double delay = r->reconnect_delay_s;
    /* A listener re-listens at once: there is no server to spare. */
    for (int i = 1; i <= r->reconnect_attempts;
         i++, delay = r->listen ? delay : fmin(2 * delay, 60.0)) {
        avcodec_free_context(&r->dec);
        avformat_close_input(&r->fmt);
        if (r->listen && i == 1)
            FT_LOGW("io", "%s: publisher gone (%s); listening for the next one", r->url, eb);
        else if (!r->listen)
            FT_LOGW("io", "%s: input lost (%s); reconnecting in %.2f s (attempt %d of %d)",
                    r->url, eb, delay, i, r->reconnect_attempts);
        if (i == 6)
            FT_LOGE("io", "%s: still down after 5 reconnect attempts", r->url);
        if (sleep_interruptible(r, delay))
            return FT_ERR_INTERRUPTED;
        if (open_demuxer(r, FT_LOG_WARN) || open_decoder(r, FT_LOG_WARN)) {
            atomic_store(&r->failures, i);
            continue;
        }
        atomic_store(&r->failures, 0);
        if (!r->info.has_audio)
            r->aidx = -1; /* the output has no audio stream to put it in */
        else if (r->aidx >= 0)
            r->info.audio_par = r->fmt->streams[r->aidx]->codecpar;
        r->draining = false;
        FT_LOGI("io", "%s: reconnected after %d attempt%s", r->url, i, i > 1 ? "s" : "");
        return FT_OK;
    }
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    r->dead = true;
    FT_LOGE("io", "%s: input lost; gave up after %d reconnect attempts", r->url,
            r->reconnect_attempts);
    return FT_ERR_INPUT;
}

/* Replaces the software frame by its rotation (r->rotation), written into a
 * pooled buffer: the decoder's own buffers cannot be turned in place. */
static ft_status rotate(ft_reader *r, AVFrame *frame)
{
    if (!ft_io_rotate_supported(frame->format, r->rotation)) {
        FT_LOGE("io", "%s: cannot apply the display rotation to %s frames", r->url,
                av_get_pix_fmt_name(frame->format) ? av_get_pix_fmt_name(frame->format) : "?");
        av_frame_unref(frame);
        return FT_ERR_INPUT;
    }
    bool swap = r->rotation != 180;
    AVFrame *dst = r->rot_frame;
    ft_status st = ft_io_frame_pool_get(r->rot_pool, dst, frame->format,
                                        swap ? frame->height : frame->width,
                                        swap ? frame->width : frame->height);
    if (!st && av_frame_copy_props(dst, frame) < 0)
        st = FT_ERR_NOMEM;
    if (st) {
        FT_LOGE("io", "%s: cannot rotate a %dx%d frame: %s", r->url, frame->width, frame->height,
                ft_status_str(st));
        av_frame_unref(dst);
        av_frame_unref(frame);
        return st;
    }
    ft_io_rotate_frame(frame, dst, r->rotation);
    if (swap && frame->sample_aspect_ratio.num)
        dst->sample_aspect_ratio = av_inv_q(frame->sample_aspect_ratio);
    /* Upright now: a matrix left on the frame would ask for a second turn. */
    av_frame_remove_side_data(dst, AV_FRAME_DATA_DISPLAYMATRIX);
    av_frame_unref(frame);
    av_frame_move_ref(frame, dst);
    return FT_OK;
}

/* Converts a decoded frame into what the caller gets: downloaded from the
 * GPU when needed, timestamp filled in, time in seconds from the start. */
static ft_status deliver(ft_reader *r, AVFrame *frame, double *pts_s)
{
    if (frame->format == AV_PIX_FMT_CUDA) {
        av_frame_unref(r->hw_frame);
        av_frame_move_ref(r->hw_frame, frame);
        /* Into a pooled buffer: given an empty frame, libavutil would
         * allocate a new one per picture. Sized like libavutil's own (the
         * frames context's coded size), then cropped to the picture. */
        const AVBufferRef *fc = r->hw_frame->hw_frames_ctx;
        const AVHWFramesContext *hw = fc ? (const AVHWFramesContext *)fc->data : NULL;
        ft_status pst =
            hw ? ft_io_frame_pool_get(r->dl_pool, frame, hw->sw_format, hw->width, hw->height)
               : FT_ERR_INVALID;
        int err = pst == FT_ERR_NOMEM ? AVERROR(ENOMEM)
                  : pst               ? AVERROR(EINVAL)
                                      : av_hwframe_transfer_data(frame, r->hw_frame, 0);
        if (err >= 0) {
            frame->width = r->hw_frame->width;
            frame->height = r->hw_frame->height;
        }
        if (err < 0 || av_frame_copy_props(frame, r->hw_frame) < 0) {
            char eb[128];
            FT_LOGE("io", "%s: cannot download a decoded frame from the GPU: %s", r->url,
                    ft_io_av_err(err, eb, sizeof eb));
            av_frame_unref(frame);
            return FT_ERR_INPUT;
        }
        /* The surface stays for ft_reader_take_device_frame when it can be
         * read in place: NV12 (what the detector's kernel reads) in the
         * context our CUDA runtime uses. */
        if (!keeps_surfaces(r) || hw->sw_format != AV_PIX_FMT_NV12)
            av_frame_unref(r->hw_frame);
    }
    if (r->rotation) {
        ft_status rst = rotate(r, frame);
        if (rst)
            return rst;
    }
    /* Other sizes fail the detector or the renderer (a 2x2 clip, a 16K-wide
     * panorama), whichever frame of the input they start at. */
    if (frame->width < FT_READER_MIN_SIZE || frame->height < FT_READER_MIN_SIZE ||
        frame->width > FT_READER_MAX_WIDTH) {
        FT_LOGE("io", "%s: %dx%d frames are not supported (at least %dx%d, at most %d wide)",
                r->url, frame->width, frame->height, FT_READER_MIN_SIZE, FT_READER_MIN_SIZE,
                FT_READER_MAX_WIDTH);
        av_frame_unref(frame);
        return FT_ERR_INPUT;
    }
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) {
        /* No timestamp: one nominal frame after the previous one. */
        AVStream *vs = r->fmt->streams[r->vidx];
        int64_t step = r->info.fps > 0 ? av_rescale_q(1, av_inv_q(av_d2q(r->info.fps, 100000)),
                                                      vs->time_base)
                                       : 1;
        pts = r->last_pts == AV_NOPTS_VALUE ? llrint(r->start_s / av_q2d(r->vtb))
                                            : r->last_pts + step;
    }
    r->last_pts = pts;
    frame->pts = pts;
    *pts_s = (double)pts * av_q2d(r->vtb) - r->start_s;
    r->frames++;
    r->last_pts_s = *pts_s;
    return FT_OK;
}

/* The end of the input. Not one frame decoded is an error: an empty or cut
 * file would otherwise give an empty output and success. A file that ends
 * more than a second before the duration its header declares for the video
 * stream (MP4/MOV cut short) is only warned about: its frames are all processed.
 * Durations libavformat estimated from timestamps or the bitrate (MPEG-TS)
 * are not declared, and timestamp resets make them wrong. */
static ft_status end_of_input(ft_reader *r)
{
    if (atomic_load(&r->interrupted))
        return FT_ERR_INPUT_EOF;
    if (!r->frames) {
        FT_LOGE("io", "%s: no video frame could be decoded (empty, cut short or damaged)", r->url);
        return FT_ERR_INPUT;
    }
    const AVStream *vs = r->fmt->streams[r->vidx];
    if (r->local && !r->warned_short && vs->duration > 0 &&
        r->fmt->duration_estimation_method == AVFMT_DURATION_FROM_STREAM) {
        double start =
            vs->start_time != AV_NOPTS_VALUE ? vs->start_time * av_q2d(vs->time_base) : r->start_s;
        double end = start - r->start_s + vs->duration * av_q2d(vs->time_base);
        if (r->last_pts_s < end - 1.0)
            FT_LOGW("io",
                    "%s: the video ends at %.2f s but the file declares %.2f s (cut short or "
                    "damaged?): %lld frames read",
                    r->url, r->last_pts_s, end, (long long)r->frames);
        r->warned_short = true;
    }
    return FT_ERR_INPUT_EOF;
}

/* Keeps time moving forward across timestamp resets (concatenated MPEG-TS,
 * a restarted RTMP publisher): when a stream's packet time goes back by more
 * than half a second, or (for formats that declare discontinuities) jumps
 * ahead by more than 10 s, that stream's later timestamps are shifted to
 * follow its previous packet. Each stream keeps its own offset because the
 * two streams cross the reset at different points of the interleaving; both
 * resume where they ended, so they stay in sync within a frame. */
static void fix_discontinuity(ft_reader *r, AVPacket *pkt)
{
    int k = pkt->stream_index == r->vidx ? 0 : 1;
    AVRational tb = r->fmt->streams[pkt->stream_index]->time_base;
    int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (ts == AV_NOPTS_VALUE)
        return;
    double t = ts * av_q2d(tb) + r->offset_s[k];
    bool discont_fmt = r->fmt->iformat->flags & AVFMT_TS_DISCONT;
    if (r->have_dts[k] && (t < r->last_dts_s[k] - 0.5 || (discont_fmt && t > r->last_dts_s[k] + 10))) {
        /* One packet duration after the previous packet (muxers need
         * strictly increasing timestamps). */
        double step = pkt->duration > 0 ? pkt->duration * av_q2d(tb)
                      : k == 0          ? (r->info.fps > 0 ? 1.0 / r->info.fps : 0.04)
                                        : 0.02;
        double delta = r->last_dts_s[k] + step - t;
        r->offset_s[k] += delta;
        t += delta;
        FT_LOGW("io", "%s: %s timestamps jumped by %.3f s; continuing from %.3f s", r->url,
                k == 0 ? "video" : "audio", -delta, r->last_dts_s[k]);
    }
    r->last_dts_s[k] = t;
    r->have_dts[k] = true;
    if (r->offset_s[k] != 0) {
        int64_t off = llrint(r->offset_s[k] / av_q2d(tb));
        if (pkt->pts != AV_NOPTS_VALUE)
            pkt->pts += off;
        if (pkt->dts != AV_NOPTS_VALUE)
            pkt->dts += off;
    }
}

ft_status ft_reader_read(ft_reader *r, AVFrame *frame, AVPacket *pkt, ft_reader_item *item,
                         double *pts_s)
{
    char eb[128];
    /* A surface the caller did not take goes back before the next frame. */
    av_frame_unref(r->hw_frame);
    if (r->dead)
        return FT_ERR_INPUT;
    for (;;) {
        int err = avcodec_receive_frame(r->dec, frame);
        if (err >= 0) {
            *item = FT_READER_VIDEO;
            return deliver(r, frame, pts_s);
        }
        if (err == AVERROR_EOF || (err == AVERROR(EAGAIN) && r->draining)) {
            /* Decoder drained. A lost live input is reopened now that every
             * frame it delivered has been returned. */
            if (!r->lost)
                return end_of_input(r);
            r->lost = false;
            ft_status st = reconnect(r, r->lost_err);
            if (st)
                return st;
            continue;
        }
        if (err == AVERROR_INVALIDDATA) {
            r->corrupt++; /* a broken picture: skip it, keep going */
            continue;
        }
        if (err != AVERROR(EAGAIN)) {
            FT_LOGE("io", "%s: decoding failed: %s", r->url, ft_io_av_err(err, eb, sizeof eb));
            return FT_ERR_INPUT;
        }
        arm_deadline(r);
        if (r->fifo) {
            r->read_thread = pthread_self();
            atomic_store(&r->reading, true);
        }
        err = av_read_frame(r->fmt, r->pkt);
        atomic_store(&r->reading, false);
        bool at_end = err == AVERROR_EOF || (err < 0 && r->fmt->pb && avio_feof(r->fmt->pb));
        /* A network input that breaks, or ends without having a duration
         * (live), is reconnected once the decoder has drained. A listener's
         * publisher may announce a duration (ffmpeg -t writes one into the
         * FLV metadata), but its leaving is never the end of the stream. */
        if (err < 0 && !r->local && r->reconnect_attempts > 0 && !atomic_load(&r->interrupted) &&
            (!at_end || r->info.duration_s <= 0 || r->listen)) {
            r->lost = true;
            r->lost_err = err;
            at_end = true;
        }
        if (at_end) {
            r->draining = true;
            avcodec_send_packet(r->dec, NULL);
            continue;
        }
        if (err < 0) {
            if (atomic_load(&r->interrupted))
                return FT_ERR_INTERRUPTED;
            FT_LOGE("io", "%s: read failed: %s", r->url, read_error(r, err, eb, sizeof eb));
            return FT_ERR_INPUT;
        }
        if (r->pkt->stream_index == r->vidx || r->pkt->stream_index == r->aidx)
            fix_discontinuity(r, r->pkt);
        if (r->pkt->stream_index == r->aidx) {
            if (!pkt) {
                av_packet_unref(r->pkt);
                continue;
            }
            /* In the first open's audio time base (a reconnected source may
             * use another), from the stream start like the video. */
            av_packet_rescale_ts(r->pkt, r->fmt->streams[r->aidx]->time_base, r->atb);
            int64_t start = llrint(r->start_s / av_q2d(r->atb));
            if (r->pkt->pts != AV_NOPTS_VALUE)
                r->pkt->pts -= start;
            if (r->pkt->dts != AV_NOPTS_VALUE)
                r->pkt->dts -= start;
            av_packet_move_ref(pkt, r->pkt);
            *pts_s = pkt->pts != AV_NOPTS_VALUE ? (double)pkt->pts * av_q2d(r->atb) : 0;
            *item = FT_READER_AUDIO;
            return FT_OK;
        }
        if (r->pkt->stream_index != r->vidx) {
            av_packet_unref(r->pkt);
            continue;
        }
        if (r->pkt->flags & AV_PKT_FLAG_CORRUPT)
            r->corrupt++; /* the decoder conceals what it can; count it */
        err = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (err == AVERROR_INVALIDDATA)
            r->corrupt++;
        else if (err < 0 && err != AVERROR(EAGAIN)) {
            FT_LOGE("io", "%s: decoder failed: %s", r->url, ft_io_av_err(err, eb, sizeof eb));
            return FT_ERR_INPUT;
        }
    }
}

bool ft_reader_take_device_frame(ft_reader *r, AVFrame *dst)
{
    if (!r->hw_frame->buf[0])
        return false;
    av_frame_move_ref(dst, r->hw_frame);
    return true;
}

const ft_reader_info *ft_reader_get_info(const ft_reader *r)
{
    return &r->info;
}

int ft_reader_reconnect_failures(const ft_reader *r)
{
    return atomic_load(&r->failures);
}

int64_t ft_reader_corrupt_packets(const ft_reader *r)
{
    return r->corrupt;
}

void ft_reader_interrupt(ft_reader *r)
{
    atomic_store(&r->interrupted, true);
    /* A FIFO read blocked in the kernel sees the flag only once woken.
     * (A stop that lands between libavformat's last check and the read()
     * is seen at the next data or a second stop.) */
    if (r->fifo && atomic_load(&r->reading) && !pthread_equal(pthread_self(), r->read_thread))
        pthread_kill(r->read_thread, SIGURG);
}

void ft_reader_destroy(ft_reader **pr)
{
    if (!pr || !*pr)
        return;
    ft_reader *r = *pr;
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    av_buffer_unref(&r->hw_device);
    av_frame_free(&r->hw_frame);
    ft_io_frame_pool_destroy(&r->dl_pool);
    av_frame_free(&r->rot_frame);
    ft_io_frame_pool_destroy(&r->rot_pool);
    av_packet_free(&r->pkt);
    free(r);
    *pr = NULL;
}
