/* io: writer -> reader round trips (frames, timestamps, audio, containers),
 * constant-rate resampling, the temp-file protocol and input errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/hwcontext.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ft_test_media.h"
#include "ft_test_rng.h"
#include "io/reader.h"
#include "io/writer.h"
#include "tools/bench/testclip.h"

static char dir[64];

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int count_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' || strstr(e->d_name, ".part") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void remove_all(void)
{
    ft_test_dir_clear(dir, NULL);
}

/* Two MPEG-TS clips of different sizes, byte-concatenated: the second one's
 * timestamps restart and its resolution differs. */
static void test_ts_discontinuity_and_resolution_change(void **state)
{
    (void)state;
    char a[512], b[512], ab[512];
    path_in(a, sizeof a, "a.ts");
    path_in(b, sizeof b, "b.ts");
    path_in(ab, sizeof ab, "ab.ts");
    ft_testclip_params cp = {a, 320, 180, 25.0, 25, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    cp = (ft_testclip_params){b, 160, 96, 25.0, 15, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    ft_test_append_file(ab, a);
    ft_test_append_file(ab, b);
    ft_test_readback rb;
    ft_test_read_all(ab, &rb);
    assert_int_equal(rb.frames, 40);
    assert_int_equal(rb.size_changes, 1);
    assert_int_equal(rb.width, 160);
    assert_true(rb.monotonic);
    /* Video time continues one frame after the first clip's last frame. */
    assert_true(fabs(rb.last_pts - rb.first_pts - 39 / 25.0) < 0.005);
    assert_true(rb.has_audio && rb.last_audio_pts > 1.4);
    remove_all();
}

/* Damaged MPEG-TS packets in the middle: counted, skipped, and the rest of
 * the clip still decodes to its end. */
static void test_corrupt_packets_are_skipped(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "bad.ts");
    ft_testclip_params cp = {p, 320, 180, 25.0, 50, false, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    /* Scramble 40 whole transport packets (header and payload, sync byte
     * kept) starting at the middle of the file. */
    long start = (size / 2 / 188) * 188;
    unsigned x = 12345;
    for (long pos = start; pos < start + 40 * 188 && pos < size; pos++) {
        if ((pos % 188) == 0)
            continue;
        x = x * 1103515245u + 12345u;
        assert_int_equal(fseek(f, pos, SEEK_SET), 0);
        fputc((int)(x >> 16) & 0xff, f);
    }
    fclose(f);
    ft_test_readback rb;
    ft_test_read_all(p, &rb);
    assert_true(rb.corrupt > 0);
    assert_true(rb.frames >= 40 && rb.frames <= 50);
    assert_true(rb.last_pts > 1.9);
    remove_all();
}

/* A one-shot HTTP server: serves files[0] to the first connection and
 * files[1] to the second, each then closed (a live source that drops), and
 * then stops listening (the source is gone for good). */
typedef struct http_src {
    int listen_fd;
    const char *files[2];
} http_src;

static void *http_serve(void *arg)
{
    http_src *h = arg;
    for (int i = 0; i < 2; i++) {
        int c = accept(h->listen_fd, NULL, NULL);
        if (c < 0)
            break;
        char req[2048];
        ssize_t got = read(c, req, sizeof req); /* the request; its content does not matter */
        (void)got;
        const char *hdr = "HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n";
        bool ok = write(c, hdr, strlen(hdr)) == (ssize_t)strlen(hdr);
        FILE *f = fopen(h->files[i], "rb");
        char buf[8192];
        size_t n;
        while (ok && f && (n = fread(buf, 1, sizeof buf, f)) > 0)
            ok = write(c, buf, n) == (ssize_t)n;
        if (f)
            fclose(f);
        close(c);
    }
    close(h->listen_fd);
    return NULL;
}

static void test_live_input_reconnects(void **state)
{
    (void)state;
    char a[512], b[512];
    path_in(a, sizeof a, "live1.ts");
    path_in(b, sizeof b, "live2.ts");
    ft_testclip_params cp = {a, 320, 180, 25.0, 25, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    cp = (ft_testclip_params){b, 320, 180, 25.0, 15, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    http_src h = {socket(AF_INET, SOCK_STREAM, 0), {a, b}};
    assert_true(h.listen_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(h.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(h.listen_fd, 4), 0);
    assert_int_equal(getsockname(h.listen_fd, (struct sockaddr *)&sa, &len), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, http_serve, &h), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/live.ts", ntohs(sa.sin_port));
    ft_reader_params rp = {.url = url, .device = "cpu", .timeout_ms = 3000,
                           .reconnect_attempts = 2, .reconnect_delay_s = 0.05};
    ft_reader *r = NULL;
    assert_int_equal(ft_reader_open(&rp, &r), FT_OK);
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int frames = 0, audio = 0;
    double last = -1;
    bool monotonic = true;
    ft_status st;
    for (;;) {
        ft_reader_item kind;
        double pts;
        st = ft_reader_read(r, f, pkt, &kind, &pts);
        if (st)
            break;
        if (kind == FT_READER_VIDEO) {
            monotonic &= pts > last;
            last = pts;
            frames++;
            av_frame_unref(f);
        } else {
            audio++;
            av_packet_unref(pkt);
        }
    }
    /* Both connections' frames, in one increasing timeline; then the source
     * stays down and the reader gives up. */
    assert_int_equal(st, FT_ERR_INPUT);
    assert_int_equal(frames, 40);
    assert_true(monotonic);
    assert_true(audio > 0);
    assert_int_equal(ft_reader_read(r, f, pkt, &(ft_reader_item){0}, &last), FT_ERR_INPUT);
    av_frame_free(&f);
    av_packet_free(&pkt);
    ft_reader_destroy(&r);
    pthread_join(th, NULL);
    remove_all();
}

static void test_url_allow_list(void **state)
{
    (void)state;
    assert_true(ft_reader_url_allowed("clip.mp4"));
    assert_true(ft_reader_url_allowed("/data/a:b/clip.mkv"));
    assert_true(ft_reader_url_allowed("file:clip.mp4"));
    assert_true(ft_reader_url_allowed("rtmp://host/live/key"));
    assert_true(ft_reader_url_allowed("rtmps://host/live/key"));
    assert_true(ft_reader_url_allowed("srt://host:9000"));
    assert_true(ft_reader_url_allowed("udp://239.0.0.1:1234"));
    assert_true(ft_reader_url_allowed("https://host/x.m3u8"));
    assert_false(ft_reader_url_allowed("concat:a.mp4|b.mp4"));
    assert_false(ft_reader_url_allowed("pipe:0"));
    assert_false(ft_reader_url_allowed("ftp://host/clip.mp4"));
    assert_false(ft_reader_url_allowed(""));
}

static void test_clip_round_trip_with_audio(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "clip.mp4");
    ft_testclip_params cp = {p, 320, 180, 25.0, 30, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    ft_test_readback rb;
    ft_test_read_all(p, &rb);
    assert_int_equal(rb.corrupt, 0);
    assert_int_equal(rb.frames, 30);
    assert_int_equal(rb.width, 320);
    assert_int_equal(rb.height, 180);
    assert_true(rb.monotonic);
    assert_true(fabs(rb.first_pts) < 1e-6);
    assert_true(fabs(rb.last_pts - 29 / 25.0) < 1e-3);
    assert_true(rb.has_audio);
    /* 1.2 s of 48 kHz audio in 1024-sample AAC frames */
    assert_true(rb.audio_packets >= 55);
    assert_true(rb.last_audio_pts > 1.1);
    remove_all();
}

static void test_containers(void **state)
{
    (void)state;
    const char *names[] = {"c.mkv", "c.flv", "c.ts", "c.mov", "c.avi"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[512];
        path_in(p, sizeof p, names[i]);
        ft_testclip_params cp = {p, 160, 96, 25.0, 12, i < 3, NULL};
        assert_int_equal(ft_testclip_write(&cp), FT_OK);
        ft_test_readback rb;
        ft_test_read_all(p, &rb);
        assert_int_equal(rb.frames, 12);
        assert_true(rb.monotonic);
        assert_int_equal(rb.has_audio, i < 3);
    }
    remove_all();
}

static void fill_grey(ft_image *img, uint8_t *buf, int w, int h, uint8_t y)
{
    memset(buf, y, (size_t)w * h);
    memset(buf + w * h, 128, (size_t)w * h / 2);
    *img = (ft_image){.width = w,
                      .height = h,
                      .format = FT_PIX_YUV420P,
                      .data = {buf, buf + w * h, buf + w * h + w * h / 4},
                      .stride = {w, w / 2, w / 2}};
}

static ft_writer *open_small(const char *path, double target_fps, bool atomic)
{
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = path;
    wp.width = 64;
    wp.height = 48;
    wp.codec = "x264";
    wp.preset = "ultrafast";
    wp.target_fps = target_fps;
    wp.atomic = atomic;
    ft_writer *w = NULL;
    assert_int_equal(ft_writer_open(&wp, &w), FT_OK);
    return w;
}

/* Frame times expected from a file, relative to its first frame. */
typedef struct vfr_check {
    const double *times;
    int n, got;
    double first;
} vfr_check;

static void check_vfr_time(void *user, ft_reader_item kind, const AVFrame *f, const AVPacket *pkt,
                           double t)
{
    vfr_check *c = user;
    (void)kind, (void)f, (void)pkt; /* video only: read without audio */
    assert_true(c->got < c->n);
    if (c->got == 0)
        c->first = t;
    assert_true(fabs((t - c->first) - c->times[c->got]) < 0.0015);
    c->got++;
}

/* Variable frame rate: irregular timestamps come back as written. */
static void test_vfr_timestamps_preserved(void **state)
{
    (void)state;
    const double times[] = {0.0, 0.033, 0.1, 0.25, 0.26, 0.9, 0.95};
    const int n = (int)(sizeof times / sizeof times[0]);
    static uint8_t buf[64 * 48 * 3 / 2];
    ft_image img;
    fill_grey(&img, buf, 64, 48, 90);
    const char *names[] = {"vfr.mp4", "vfr.mkv"};
    for (int k = 0; k < 2; k++) {
        char p[512];
        path_in(p, sizeof p, names[k]);
        ft_writer_params wp;
        ft_writer_params_default(&wp);
        wp.url = p;
        wp.width = 64;
        wp.height = 48;
        wp.codec = "x264";
        wp.preset = "ultrafast";
        wp.tb_num = 1;
        wp.tb_den = 1000;
        ft_writer *w = NULL;
        assert_int_equal(ft_writer_open(&wp, &w), FT_OK);
        for (int i = 0; i < n; i++)
            assert_int_equal(ft_writer_write_image(w, &img, times[i]), FT_OK);
        assert_int_equal(ft_writer_close(w), FT_OK);
        ft_writer_destroy(&w);
        vfr_check c = {times, n, 0, 0};
        ft_test_readback rb;
        ft_test_read_each(p, false, check_vfr_time, &c, &rb);
        assert_int_equal(rb.frames, n);
    }
    remove_all();
}

static void test_target_fps_resamples(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "rate.mp4");
    static uint8_t buf[64 * 48 * 3 / 2];
    ft_image img;
    fill_grey(&img, buf, 64, 48, 100);
    /* 25 fps in, 10 fps out: frame i lands on slot round(0.4 i); 50 frames
     * fill slots 0..20, the other 29 are dropped. */
    ft_writer *w = open_small(p, 10.0, false);
    for (int i = 0; i < 50; i++)
        assert_int_equal(ft_writer_write_image(w, &img, i / 25.0), FT_OK);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_stats s;
    ft_writer_stats_get(w, &s);
    assert_int_equal(s.frames_in, 50);
    assert_int_equal(s.frames_encoded, 21);
    assert_int_equal(s.frames_dropped, 29);
    ft_writer_destroy(&w);
    ft_test_readback rb;
    ft_test_read_all(p, &rb);
    assert_int_equal(rb.frames, 21);
    assert_true(fabs(rb.last_pts - 2.0) < 1e-3);
    /* A gap is filled by repeating the previous picture: 0 s and 0.5 s at
     * 10 fps give slots 0..5. */
    w = open_small(p, 10.0, false);
    assert_int_equal(ft_writer_write_image(w, &img, 0.0), FT_OK);
    assert_int_equal(ft_writer_write_image(w, &img, 0.5), FT_OK);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_stats_get(w, &s);
    assert_int_equal(s.frames_repeated, 4);
    ft_writer_destroy(&w);
    ft_test_read_all(p, &rb);
    assert_int_equal(rb.frames, 6);
    remove_all();
}

/* The luma at the centre of the first four 64x48 frames. */
typedef struct luma_probe {
    int lumas[4], n;
} luma_probe;

static void sample_luma(void *user, ft_reader_item kind, const AVFrame *f, const AVPacket *pkt,
                        double t)
{
    luma_probe *lp = user;
    (void)kind, (void)pkt, (void)t; /* video only: read without audio */
    assert_int_equal(f->width, 64);
    if (lp->n < 4)
        lp->lumas[lp->n] = f->data[0][24 * f->linesize[0] + 32];
    lp->n++;
}

/* Pictures in other formats and sizes are converted and scaled: white RGB
 * and a dark NV12 frame come back with the expected luma. */
static void test_writer_converts_formats(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "conv.mkv");
    ft_writer *w = open_small(p, 0, false);
    static uint8_t rgb[32 * 24 * 3], nv12[96 * 72 * 3 / 2];
    memset(rgb, 255, sizeof rgb);
    ft_image a = {.width = 32, .height = 24, .format = FT_PIX_RGB24, .data = {rgb},
                  .stride = {32 * 3}};
    memset(nv12, 40, 96 * 72);
    memset(nv12 + 96 * 72, 128, 96 * 72 / 2);
    ft_image b = {.width = 96, .height = 72, .format = FT_PIX_NV12,
                  .data = {nv12, nv12 + 96 * 72}, .stride = {96, 96}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ft_writer_write_image(w, i < 2 ? &a : &b, i / 25.0), FT_OK);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_destroy(&w);
    luma_probe lp = {{0}, 0};
    ft_test_readback rb;
    ft_test_read_each(p, false, sample_luma, &lp, &rb);
    assert_int_equal(rb.frames, 4);
    assert_true(abs(lp.lumas[0] - 235) <= 3); /* white, limited range */
    assert_true(abs(lp.lumas[3] - 40) <= 3);
    remove_all();
}

static void test_atomic_output(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "final.mp4");
    static uint8_t buf[64 * 48 * 3 / 2];
    ft_image img;
    fill_grey(&img, buf, 64, 48, 60);
    /* Abandoned: neither the file nor its temp file remains. */
    ft_writer *w = open_small(p, 0, true);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ft_writer_write_image(w, &img, i / 25.0), FT_OK);
    assert_int_equal(count_entries(), 1); /* the temp file while writing */
    assert_int_equal(access(p, F_OK), -1);
    ft_writer_destroy(&w);
    assert_int_equal(count_entries(), 0);
    /* Closed: the file appears under its name, no temp file left. */
    w = open_small(p, 0, true);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ft_writer_write_image(w, &img, i / 25.0), FT_OK);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_destroy(&w);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(count_entries(), 1);
    remove_all();
    /* A file: URL is written to its path (its temporary name was taken for
     * a URL with the protocol ".file"). */
    char url[600];
    snprintf(url, sizeof url, "file:%s", p);
    w = open_small(url, 0, true);
    assert_int_equal(ft_writer_write_image(w, &img, 0), FT_OK);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_destroy(&w);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(count_entries(), 1);
    remove_all();
}

static void test_writer_errors(void **state)
{
    (void)state;
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.width = 64;
    wp.height = 48;
    ft_writer *w = NULL;
    char p[512];
    path_in(p, sizeof p, "no-such-dir/out.mp4");
    wp.url = p;
    wp.atomic = true;
    assert_int_equal(ft_writer_open(&wp, &w), FT_ERR_OUTPUT);
    assert_null(w);
    path_in(p, sizeof p, "out.unknownext");
    assert_int_equal(ft_writer_open(&wp, &w), FT_ERR_OUTPUT);
    /* An existing directory as the output fails at open, before any frame
     * is encoded, and is left as it was. */
    path_in(p, sizeof p, "dir.mp4");
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(ft_writer_open(&wp, &w), FT_ERR_OUTPUT);
    assert_null(w);
    assert_int_equal(rmdir(p), 0);
    path_in(p, sizeof p, "out.mp4");
    wp.codec = "vp9";
    assert_int_equal(ft_writer_open(&wp, &w), FT_ERR_CONFIG);
    wp.codec = "x264";
    wp.preset = "not-a-preset";
    assert_int_equal(ft_writer_open(&wp, &w), FT_ERR_CONFIG);
    assert_null(w);
    assert_int_equal(count_entries(), 0);
}

/* Bytes of the video packets of `path` before and from `split_s` seconds. */
static void video_bytes(const char *path, double split_s, int64_t *before, int64_t *after)
{
    AVFormatContext *fmt = NULL;
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    const AVStream *st = fmt->streams[0];
    const double t0 = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time * av_q2d(st->time_base);
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    *before = *after = 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        const double t = pkt->pts * av_q2d(st->time_base) - t0;
        *(t < split_s - 1e-3 ? before : after) += pkt->size;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
}

/* Writes n frames of noise (an encoder at its bitrate cap) from frame k0. */
static void write_noise(ft_writer *w, ft_test_rng *rng, int k0, int n)
{
    enum { NW = 320, NH = 240 };
    static uint8_t buf[NW * NH * 3 / 2];
    ft_image img;
    fill_grey(&img, buf, NW, NH, 0);
    for (int k = k0; k < k0 + n; k++) {
        for (size_t i = 0; i < (size_t)NW * NH; i++)
            buf[i] = (uint8_t)(ft_test_rng_u64(rng) >> 56);
        assert_int_equal(ft_writer_write_image(w, &img, k / 30.0), FT_OK);
    }
}

/* stream.bitrate is hot (the guide's "output bitrate"): a running x264
 * encoder follows ft_writer_set_bitrate without reopening the output. */
static void test_writer_bitrate_retarget(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "rate.ts");
    ft_writer_params wp;
    ft_writer_params_default(&wp);
    wp.url = p;
    wp.width = 320;
    wp.height = 240;
    wp.fps = 30;
    wp.codec = "x264";
    wp.preset = "ultrafast";
    wp.zerolatency = true;
    wp.bitrate = 200000;
    ft_writer *w = NULL;
    assert_int_equal(ft_writer_open(&wp, &w), FT_OK);
    ft_test_rng rng = {11};
    write_noise(w, &rng, 0, 90);
    assert_int_equal(ft_writer_set_bitrate(w, 4000000), FT_OK);
    write_noise(w, &rng, 90, 90);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_destroy(&w);
    /* 3 s at 200 kbit/s (75 kB) against 3 s at 4 Mbit/s (1.5 MB). */
    int64_t low, high;
    video_bytes(p, 3.0, &low, &high);
    assert_true(low > 0 && high > 5 * low);
    /* A writer at constant quality has no bitrate to change. */
    w = open_small(p, 0, false);
    assert_int_equal(ft_writer_set_bitrate(w, 4000000), FT_ERR_INVALID);
    assert_int_equal(ft_writer_close(w), FT_OK);
    ft_writer_destroy(&w);
    remove_all();
}

static void test_reader_errors(void **state)
{
    (void)state;
    ft_reader *r = NULL;
    char p[512];
    path_in(p, sizeof p, "missing.mp4");
    ft_reader_params rp = {.url = p, .device = "cpu"};
    assert_int_equal(ft_reader_open(&rp, &r), FT_ERR_INPUT);
    assert_null(r);
    path_in(p, sizeof p, "notes.mp4");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a video file, just text\n", f);
    fclose(f);
    assert_int_equal(ft_reader_open(&rp, &r), FT_ERR_INPUT);
    rp.url = "concat:a.mp4|b.mp4";
    assert_int_equal(ft_reader_open(&rp, &r), FT_ERR_INPUT);
    assert_null(r);

    /* An explicit "cuda" needs a usable CUDA device (exit 5 otherwise, as
     * for RF-DETR); "auto" falls back to the CPU either way. */
    path_in(p, sizeof p, "clip.mp4");
    ft_testclip_params cp = {p, 64, 48, 25.0, 2, false, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    AVBufferRef *cuda = NULL;
    bool have_cuda = av_hwdevice_ctx_create(&cuda, AV_HWDEVICE_TYPE_CUDA, NULL, NULL, 0) >= 0;
    av_buffer_unref(&cuda);
    rp.url = p;
    rp.device = "cuda";
    assert_int_equal(ft_reader_open(&rp, &r), have_cuda ? FT_OK : FT_ERR_GPU);
    ft_reader_destroy(&r);
    rp.device = "auto";
    assert_int_equal(ft_reader_open(&rp, &r), FT_OK);
    ft_reader_destroy(&r);
    remove_all();
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ft_io_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_all();
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_allow_list),
        cmocka_unit_test(test_clip_round_trip_with_audio),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_ts_discontinuity_and_resolution_change),
        cmocka_unit_test(test_corrupt_packets_are_skipped),
        cmocka_unit_test(test_live_input_reconnects),
        cmocka_unit_test(test_vfr_timestamps_preserved),
        cmocka_unit_test(test_target_fps_resamples),
        cmocka_unit_test(test_writer_converts_formats),
        cmocka_unit_test(test_atomic_output),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_writer_bitrate_retarget),
        cmocka_unit_test(test_reader_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
