/* `bench pipeline`: our threaded pipeline (detector off) against a bare
 * libav decode -> swscale -> libx264 -> mp4 loop over the same generated
 * 1080p25 clip, same output size, preset, CRF and GOP, in the same run. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/parse.h"
#include "pipeline/pipeline.h"
#include "tools/bench/bench.h"
#include "tools/bench/testclip.h"

typedef struct bench_opts {
    int seconds, runs, out_w, out_h;
    const char *input; /* NULL = generate */
    const char *preset;
    const char *keep;  /* keep the generated clip here */
} bench_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds used by the whole process (all threads): on a shared machine
 * this is steadier than wall time and shows the work each variant costs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends frame (NULL: flush) to enc and writes every packet it gives back to
 * ost of ofmt; pkt is scratch. Negative on an encoder or muxer error. */
static int encode_write(AVCodecContext *enc, const AVFrame *frame, AVPacket *pkt,
                        AVFormatContext *ofmt, const AVStream *ost)
{
    if (avcodec_send_frame(enc, frame) < 0)
        return -1;
    while (avcodec_receive_packet(enc, pkt) == 0) {
        av_packet_rescale_ts(pkt, enc->time_base, ost->time_base);
        pkt->stream_index = ost->index;
        if (av_interleaved_write_frame(ofmt, pkt) < 0)
            return -1;
    }
    return 0;
}

/* The baseline: the straight-line transcode any libav user would write, with
 * libav's own threading in the decoder and the encoder. Returns frames, or
 * -1 on error. */
static long bare_transcode(const char *in, const char *out, const bench_opts *o)
{
    long frames = -1;
    AVFormatContext *ifmt = NULL, *ofmt = NULL;
    AVCodecContext *dec = NULL, *enc = NULL;
    struct SwsContext *sws = NULL;
    AVFrame *f = av_frame_alloc(), *sf = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc(), *opkt = av_packet_alloc();
    AVDictionary *eo = NULL;
    const AVCodec *dc = NULL;
    if (!f || !sf || !pkt || !opkt || avformat_open_input(&ifmt, in, NULL, NULL) < 0 ||
        avformat_find_stream_info(ifmt, NULL) < 0)
        goto out;
    int vi = av_find_best_stream(ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dc, 0);
    if (vi < 0)
        goto out;
    AVStream *ist = ifmt->streams[vi];
    dec = avcodec_alloc_context3(dc);
    if (!dec || avcodec_parameters_to_context(dec, ist->codecpar) < 0)
        goto out;
    dec->thread_count = 0; /* libav's choice, as the pipeline's reader does */
    dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (avcodec_open2(dec, dc, NULL) < 0)
        goto out;
    const AVCodec *ec = avcodec_find_encoder_by_name("libx264");
    if (!ec || avformat_alloc_output_context2(&ofmt, NULL, "mp4", out) < 0)
        goto out;
    enc = avcodec_alloc_context3(ec);
    if (!enc)
        goto out;
    enc->width = o->out_w;
    enc->height = o->out_h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = ist->time_base;
    enc->framerate = ist->avg_frame_rate;
    enc->gop_size = (int)(2 * av_q2d(ist->avg_frame_rate) + 0.5);
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    enc->thread_count = 0; /* x264's own choice, as the pipeline's writer does */
    av_dict_set(&eo, "preset", o->preset, 0);
    av_dict_set(&eo, "crf", "23", 0);
    if (avcodec_open2(enc, ec, &eo) < 0)
        goto out;
    AVStream *ost = avformat_new_stream(ofmt, NULL);
    if (!ost || avcodec_parameters_from_context(ost->codecpar, enc) < 0)
        goto out;
    ost->time_base = enc->time_base;
    if (avio_open(&ofmt->pb, out, AVIO_FLAG_WRITE) < 0 || avformat_write_header(ofmt, NULL) < 0)
        goto out;
    sf->format = AV_PIX_FMT_YUV420P;
    sf->width = o->out_w;
    sf->height = o->out_h;
    if (av_frame_get_buffer(sf, 0) < 0)
        goto out;
    long n = 0;
    bool in_eof = false;
    for (;;) {
        int err = avcodec_receive_frame(dec, f);
        if (err == AVERROR_EOF)
            break;
        if (err == AVERROR(EAGAIN)) {
            if (in_eof)
                break;
            if (av_read_frame(ifmt, pkt) < 0) {
                in_eof = true;
                avcodec_send_packet(dec, NULL);
            } else {
                if (pkt->stream_index == vi)
                    avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
            }
            continue;
        }
        if (err < 0)
            goto out;
        /* The centre 16:9 crop is the whole frame here; scale it. */
        sws = sws_getCachedContext(sws, f->width, f->height, f->format, o->out_w, o->out_h,
                                   AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
        if (!sws || av_frame_make_writable(sf) < 0)
            goto out;
        sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, sf->data,
                  sf->linesize);
        sf->pts = f->best_effort_timestamp;
        av_frame_unref(f);
        if (encode_write(enc, sf, opkt, ofmt, ost) < 0)
            goto out;
        n++;
    }
    if (encode_write(enc, NULL, opkt, ofmt, ost) < 0)
        goto out;
    if (av_write_trailer(ofmt) < 0)
        goto out;
    frames = n;
out:
    if (ofmt && ofmt->pb)
        avio_closep(&ofmt->pb);
    avformat_free_context(ofmt);
    avformat_close_input(&ifmt);
    avcodec_free_context(&dec);
    avcodec_free_context(&enc);
    sws_freeContext(sws);
    av_frame_free(&f);
    av_frame_free(&sf);
    av_packet_free(&pkt);
    av_packet_free(&opkt);
    av_dict_free(&eo);
    return frames;
}

static long our_pipeline(const char *in, const char *out, const bench_opts *o,
                         ft_pipeline_stats *stats)
{
    ft_pipeline_params p;
    ft_pipeline_params_default(&p);
    p.input = in;
    p.output = out;
    p.out_width = o->out_w;
    p.out_height = o->out_h;
    p.codec = "x264";
    p.device = "cpu";
    p.preset = o->preset;
    p.crf = 23;
    p.progress = false;
    ft_pipeline *pl = NULL;
    if (ft_pipeline_create(&p, &pl))
        return -1;
    ft_status st = ft_pipeline_run(pl);
    ft_pipeline_stats_get(pl, stats);
    ft_pipeline_destroy(&pl);
    return st ? -1 : (long)stats->frames_out;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorted in place). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker bench pipeline [--seconds N] [--runs N] [--input FILE]\n"
            "                                       [--preset P] [--keep-clip PATH]\n"
            "\n"
            "Transcodes a generated 1080p25 H.264 clip (or FILE) to 1280x720 with x264\n"
            "(veryfast, CRF 23, 2 s GOP) through the pipeline with the detector off, and\n"
            "through a bare libav decode+scale+encode loop, alternating, --runs times;\n"
            "prints the best frame rate of each and the median of the per-run ratios\n"
            "(each pipeline run against the baseline run just before it, so load on a\n"
            "shared machine affects both alike). Default: 8 s, 3 runs.\n");
}

int ft_bench_pipeline(int argc, char **argv)
{
    bench_opts o = {8, 3, 1280, 720, NULL, "veryfast", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FT_EXIT_OK;
        }
        bool ok = v != NULL;
        if (ok && !strcmp(a, "--seconds"))
            ok = ft_parse_int(v, 1, 600, &o.seconds);
        else if (ok && !strcmp(a, "--runs"))
            ok = ft_parse_int(v, 1, 20, &o.runs);
        else if (ok && !strcmp(a, "--input"))
            o.input = v;
        else if (ok && !strcmp(a, "--preset"))
            o.preset = v;
        else if (ok && !strcmp(a, "--keep-clip"))
            o.keep = v;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench pipeline: bad option or value: %s\n", a);
            usage(stderr);
            return FT_EXIT_CONFIG;
        }
        i++;
    }
    char tmpdir[] = "/tmp/ft_bench_XXXXXX";
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "bench pipeline: cannot create a temporary directory\n");
        return FT_EXIT_RUNTIME;
    }
    char clip[64], out_a[64], out_b[64];
    snprintf(clip, sizeof clip, "%s/in.mp4", tmpdir);
    snprintf(out_a, sizeof out_a, "%s/bare.mp4", tmpdir);
    snprintf(out_b, sizeof out_b, "%s/pipeline.mp4", tmpdir);
    const char *in = o.input ? o.input : (o.keep ? o.keep : clip);
    av_log_set_level(AV_LOG_ERROR); /* the baseline's encoder statistics are noise here */
    int rc = FT_EXIT_OK;
    ft_log_level saved = ft_log_get_level();
    if (!o.input) {
        printf("generating %d s of 1080p25 H.264 into %s ...\n", o.seconds, in);
        fflush(stdout);
        ft_testclip_params cp = {in, 1920, 1080, 25.0, o.seconds * 25, false, "ultrafast"};
        if (ft_testclip_write(&cp)) {
            rc = FT_EXIT_OUTPUT;
            goto out;
        }
    }
    ft_log_set_level(FT_LOG_WARN); /* no per-run open/close chatter in the figures */
    double best_bare = 0, best_pipe = 0, cpu_bare = 1e30, cpu_pipe = 1e30;
    double ratio[20], cpu_ratio[20];
    long frames_bare = 0, frames_pipe = 0;
    ft_pipeline_stats best_stats = {0};
    for (int r = 0; r < o.runs; r++) {
        double t0 = now_s(), c0 = cpu_s();
        long n = bare_transcode(in, out_a, &o);
        double t1 = now_s(), c1 = cpu_s();
        ft_pipeline_stats s;
        long m = our_pipeline(in, out_b, &o, &s);
        double t2 = now_s(), c2 = cpu_s();
        if (n <= 0 || m <= 0) {
            fprintf(stderr, "bench pipeline: %s run failed on %s\n", n <= 0 ? "bare" : "pipeline",
                    in);
            rc = n <= 0 ? FT_EXIT_RUNTIME : FT_EXIT_INPUT;
            goto out;
        }
        double fa = n / (t1 - t0), fb = m / (t2 - t1);
        double ca = 1000 * (c1 - c0) / n, cb = 1000 * (c2 - c1) / m;
        ratio[r] = fb / fa;
        cpu_ratio[r] = ca / cb;
        printf("run %d: bare %.1f fps (%.1f CPU ms/frame), pipeline %.1f fps (%.1f CPU ms/frame)\n",
               r + 1, fa, ca, fb, cb);
        frames_bare = n;
        frames_pipe = m;
        if (fa > best_bare)
            best_bare = fa;
        if (ca < cpu_bare)
            cpu_bare = ca;
        if (cb < cpu_pipe)
            cpu_pipe = cb;
        if (fb > best_pipe) {
            best_pipe = fb;
            best_stats = s;
        }
    }
    printf("input: %s (%ld frames), %ld CPUs online\n", in, frames_bare,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("bare libav decode+scale+x264 %s: %.1f fps, %.1f CPU ms/frame\n", o.preset, best_bare,
           cpu_bare);
    printf("pipeline (detector off)         : %.1f fps, %.1f CPU ms/frame (%ld frames out)\n",
           best_pipe, cpu_pipe, frames_pipe);
    printf("pipeline per frame: decode %.2f ms, track %.3f ms, render %.2f ms, encode %.2f ms\n",
           best_stats.stage_ms[FT_STAGE_DECODE], best_stats.stage_ms[FT_STAGE_TRACK],
           best_stats.stage_ms[FT_STAGE_RENDER], best_stats.stage_ms[FT_STAGE_ENCODE]);
    double med = median(ratio, o.runs);
    printf("ratio pipeline/bare (median of %d paired runs): %.2fx by fps, %.2fx by CPU time\n"
           "targets: ratio >= 0.90x: %s; pipeline >= 60 fps: %s\n",
           o.runs, med, median(cpu_ratio, o.runs), med >= 0.90 ? "met" : "not met",
           best_pipe >= 60.0 ? "met" : "not met (on this machine, at this load)");
out:
    ft_log_set_level(saved);
    unlink(out_a);
    unlink(out_b);
    unlink(clip);
    rmdir(tmpdir);
    return rc;
}
