/* pipeline: `batch` end to end (frame count, duration, audio, debug video,
 * track CSV, replayed detections), its exit codes for bad inputs/outputs, the
 * no-partial-file guarantee (also on SIGINT), the replay detector's file
 * formats, the host path kept for a detector that reads device frames
 * when frames are decoded on the CPU, the warning for a tracker minimum
 * under the default detector's continuity cap, and a phone video's display
 * rotation applied as ffmpeg's autorotate applies it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detect/replay.h"
#include "ft_test_media.h"
#include "pipeline/pipeline.h"
#include "pipeline/track_csv.h"
#include "tools/bench/testclip.h"

#define W 320
#define H 180
#define FPS 25.0
#define FRAMES 40

static char dir[64];
static char clip[128];
static const char *bin;

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs the program with `args`; returns its exit code, stderr in err. */
static int run(const char *args, char *err, size_t cap)
{
    char cmd[2048], errpath[256];
    path_in(errpath, sizeof errpath, "stderr.txt");
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", bin, args, errpath);
    int rc = system(cmd);
    FILE *f = fopen(errpath, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(errpath);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Files in dir other than the input clip (temp files included). */
static int stray_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "clip.mp4"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void remove_except_clip(void)
{
    ft_test_dir_clear(dir, "clip.mp4");
}

static void test_batch_round_trip(void **state)
{
    (void)state;
    char out[256], args[1024], err[4096];
    path_in(out, sizeof out, "out.mp4");
    snprintf(args, sizeof args,
             "batch --input %s --output %s --no-progress --debug --set output.width=320 "
             "--set output.height=180 --set stream.show_stats=true",
             clip, out);
    assert_int_equal(run(args, err, sizeof err), 0);
    ft_test_readback in, o, dbg;
    ft_test_read_all(clip, &in);
    ft_test_read_all(out, &o);
    assert_int_equal(o.frames, FRAMES);
    assert_int_equal(o.frames, in.frames);
    assert_true(fabs(o.last_pts - in.last_pts) < 1e-3);
    assert_true(o.has_audio);
    assert_int_equal(o.width, 320);
    assert_int_equal(o.height, 180);
    char dbgp[256];
    path_in(dbgp, sizeof dbgp, "out.debug.mp4");
    ft_test_read_all(dbgp, &dbg);
    assert_int_equal(dbg.frames, FRAMES);
    assert_int_equal(dbg.width, 640);
    assert_int_equal(stray_files(), 2); /* out.mp4 and out.debug.mp4, no temp files */
    remove_except_clip();
}

/* The testclip ball: see tools/bench/testclip.c. */
static void ball_at(int i, double *x, double *y)
{
    double t = i / 25.0;
    *x = (int)(W / 2 + W / 4 * cos(t));
    *y = (int)(H / 2 + H / 4 * sin(1.3 * t));
}

static void test_batch_replay_and_track_out(void **state)
{
    (void)state;
    char det[256], track[256], out[256], args[1024], err[4096];
    path_in(det, sizeof det, "dets.csv");
    path_in(track, sizeof track, "track.csv");
    path_in(out, sizeof out, "out.mkv");
    FILE *f = fopen(det, "w");
    assert_non_null(f);
    fprintf(f, "# ball positions of the test clip\nframe,x,y,w,h,score\n");
    for (int i = 0; i < FRAMES; i++) {
        double x, y;
        ball_at(i, &x, &y);
        fprintf(f, "%d,%.1f,%.1f,6,6,0.9\n", i, x, y);
        if (i % 4 == 0) /* a weak distractor, filtered by --confidence */
            fprintf(f, "%d,5,5,6,6,0.1\n", i);
    }
    fclose(f);
    snprintf(args, sizeof args,
             "batch --input %s --output %s --no-progress --detections %s --track-out %s "
             "--confidence 0.5 --set output.width=320 --set output.height=180",
             clip, out, det, track);
    assert_int_equal(run(args, err, sizeof err), 0);
    ft_track_csv *t = NULL;
    assert_int_equal(ft_track_csv_read(track, &t), FT_OK);
    assert_int_equal(t->count, FRAMES);
    int tracking = 0;
    for (size_t i = 0; i < t->count; i++) {
        const ft_track_csv_row *row = &t->rows[i];
        double x, y;
        ball_at((int)i, &x, &y);
        assert_int_equal(row->frame, (int64_t)i);
        assert_true(fabs(row->pts - i / FPS) < 1e-3);
        assert_int_equal(row->n_det, 1);
        assert_true(fabs(row->det[0].x - x) < 0.01 && fabs(row->det[0].y - y) < 0.01);
        assert_true(row->crop_w > 0 && row->crop_h > 0);
        assert_true(fabs(row->crop_w / row->crop_h - 16.0 / 9.0) < 1e-3);
        tracking += row->state == FT_TRACK_CSV_TRACKING;
    }
    /* Every frame has the ball: after acquisition the tracker follows it. */
    assert_true(tracking > FRAMES / 2);
    ft_track_csv_destroy(&t);
    ft_test_readback o;
    ft_test_read_all(out, &o);
    assert_int_equal(o.frames, FRAMES);
    remove_except_clip();
}

/* Mid-stream resolution change and timestamp reset (two MPEG-TS clips back
 * to back): every frame comes out, at the output size, with audio. */
static void test_batch_resolution_change(void **state)
{
    (void)state;
    char a[256], b[256], ab[256], out[256], args[1024], err[4096];
    path_in(a, sizeof a, "a.ts");
    path_in(b, sizeof b, "b.ts");
    path_in(ab, sizeof ab, "ab.ts");
    path_in(out, sizeof out, "ab.mp4");
    ft_testclip_params cp = {a, W, H, FPS, 20, true, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    cp = (ft_testclip_params){b, 192, 144, FPS, 15, true, NULL}; /* 4:3 */
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    ft_test_append_file(ab, a);
    ft_test_append_file(ab, b);
    snprintf(args, sizeof args,
             "batch --input %s --output %s --no-progress --set output.width=320 "
             "--set output.height=180",
             ab, out);
    assert_int_equal(run(args, err, sizeof err), 0);
    ft_test_readback o;
    ft_test_read_all(out, &o);
    assert_int_equal(o.frames, 35);
    assert_int_equal(o.width, 320);
    assert_true(o.has_audio);
    assert_true(fabs(o.last_pts - o.first_pts - 34 / FPS) < 0.005);
    remove_except_clip();
}

/* A tracker minimum under the default detector's continuity cap is a
 * warning on stderr, not an error: the run succeeds. */
static void test_batch_warns_under_raise_cap(void **state)
{
    (void)state;
    char out[256], args[1024], err[8192];
    path_in(out, sizeof out, "out.mp4");
    snprintf(args, sizeof args,
             "batch --input %s --output %s --no-progress --set output.width=320 "
             "--set output.height=180 --set tracking.recovering_min_confidence=0.35",
             clip, out);
    assert_int_equal(run(args, err, sizeof err), 0);
    if (!strstr(err, "tracking.recovering_min_confidence 0.35 is at or under the default "
                     "detector's continuity cap 0.39: candidates it raises next to the ball can "
                     "move the track (docs/detector.md)"))
        fail_msg("no warning for recovering_min_confidence 0.35: %s", err);
    assert_null(strstr(err, "acquire_min_confidence"));
    remove_except_clip();
}

static void test_batch_bad_inputs_exit_3(void **state)
{
    (void)state;
    char args[1024], err[4096], p[256], out[256];
    path_in(out, sizeof out, "out.mp4");
    path_in(p, sizeof p, "missing.mp4");
    snprintf(args, sizeof args, "batch --input %s --output %s", p, out);
    assert_int_equal(run(args, err, sizeof err), 3);
    assert_non_null(strstr(err, "missing.mp4"));
    assert_non_null(strstr(err, "No such file"));

    path_in(p, sizeof p, "notes.mp4");
    char text[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(text, "not a video at all\n");
    write_text(p, text);
    snprintf(args, sizeof args, "batch --input %s --output %s", p, out);
    assert_int_equal(run(args, err, sizeof err), 3);
    assert_non_null(strstr(err, "notes.mp4: not a video file"));

    snprintf(args, sizeof args, "batch --input ftp://example.com/a.mp4 --output %s", out);
    assert_int_equal(run(args, err, sizeof err), 3);
    assert_non_null(strstr(err, "unsupported URL scheme"));

    /* An empty --input or --output (an unset shell variable) is a command
     * line error naming the option: it was exit 3 "no input given", and
     * exit 1 "writer: need an output URL" after opening the input. */
    snprintf(args, sizeof args, "batch --input '' --output %s", out);
    assert_int_equal(run(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "--input: empty value"));
    snprintf(args, sizeof args, "batch --input %s --output=", clip);
    assert_int_equal(run(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "--output: empty value"));
    /* A directory as --detections was "too large (limit 64 MiB)". */
    snprintf(args, sizeof args, "batch --input %s --output %s --detections %s", clip, out, dir);
    assert_int_equal(run(args, err, sizeof err), 3);
    assert_non_null(strstr(err, ": not a regular file"));
    unlink(p);
    assert_int_equal(stray_files(), 0);
}

/* Copies the first n bytes of src to dst. */
static void copy_head(const char *src, const char *dst, long n)
{
    static char buf[1 << 20];
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    size_t got = fread(buf, 1, sizeof buf, in);
    fclose(in);
    assert_true(n >= 0 && (size_t)n <= got);
    FILE *out = fopen(dst, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, (size_t)n, out), (size_t)n);
    fclose(out);
}

/* Offset of the top-level MP4 box `type` in path, and the file's size. */
static long mp4_box(const char *path, const char *type, long *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char h[8];
    long pos = 0, found = -1;
    while (found < 0 && fseek(f, pos, SEEK_SET) == 0 && fread(h, 1, 8, f) == 8) {
        long len = (long)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
        if (!memcmp(h + 4, type, 4))
            found = pos;
        assert_true(len >= 8);
        pos += len;
    }
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fclose(f);
    assert_true(found >= 0);
    return found;
}

/* Inputs that open but cannot be used as they are: frames too small for
 * the detector (was exit 6, "invalid argument"), an MP4 cut where its
 * frames begin (was exit 0 and an empty video), one cut inside its header
 * (was "not a video file", nothing about the damage), one cut in the middle
 * (processed, now with a warning that it ends early), and a network source
 * that does not answer (was libav's "Immediate exit requested"). */
static void test_batch_damaged_inputs(void **state)
{
    (void)state;
    char args[1024], err[4096], p[256], cut[256], out[256];
    path_in(out, sizeof out, "out.mp4");
    path_in(p, sizeof p, "tiny.mp4");
    ft_testclip_params tiny = {p, 8, 8, FPS, 5, false, NULL};
    assert_int_equal(ft_testclip_write(&tiny), FT_OK);
    snprintf(args, sizeof args, "batch --input %s --output %s --no-progress", p, out);
    assert_int_equal(run(args, err, sizeof err), 3);
    if (!strstr(err, "tiny.mp4: 8x8 frames are not supported (at least 16x16, at most 8192 wide)"))
        fail_msg("tiny frames: %s", err);
    path_in(p, sizeof p, "wide.mkv"); /* was exit 6 too, from the renderer */
    ft_testclip_params wide = {p, 8200, 16, FPS, 2, false, NULL};
    assert_int_equal(ft_testclip_write(&wide), FT_OK);
    snprintf(args, sizeof args, "batch --input %s --output %s --no-progress", p, out);
    assert_int_equal(run(args, err, sizeof err), 3);
    if (!strstr(err, "wide.mkv: 8200x16 frames are not supported"))
        fail_msg("wide frames: %s", err);
    unlink(p);
    path_in(p, sizeof p, "tiny.mp4");
    unlink(p);

    /* 4 s without audio; mp4 files are written with their index (moov)
     * before the frames (mdat). */
    path_in(p, sizeof p, "whole.mp4");
    ft_testclip_params cp = {p, W, H, FPS, 100, false, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    long size, mdat = mp4_box(p, "mdat", &size);
    path_in(cut, sizeof cut, "cut.mp4");
    snprintf(args, sizeof args,
             "batch --input %s --output %s --no-progress --set output.width=320 "
             "--set output.height=180",
             cut, out);
    copy_head(p, cut, mdat + 8);
    assert_int_equal(run(args, err, sizeof err), 3);
    if (!strstr(err, "cut.mp4: no video frame could be decoded (empty, cut short or damaged)"))
        fail_msg("no frames: %s", err);
    copy_head(p, cut, mdat / 2);
    assert_int_equal(run(args, err, sizeof err), 3);
    if (!strstr(err, "cut.mp4: damaged video file: its mov,mp4,m4a,3gp,3g2,mj2 header cannot be "
                     "read"))
        fail_msg("header cut: %s", err);
    assert_int_equal(stray_files(), 2); /* whole.mp4, cut.mp4: no output */
    copy_head(p, cut, mdat + (size - mdat) / 3);
    assert_int_equal(run(args, err, sizeof err), 0);
    if (!strstr(err, "cut.mp4: the video ends at ") || !strstr(err, "but the file declares 4.00 s"))
        fail_msg("cut in the middle: %s", err);
    ft_test_readback rb;
    ft_test_read_all(out, &rb);
    assert_true(rb.frames > 10 && rb.frames < 60);

    /* Nothing listens there: the open gives up after stream.timeout_ms. */
    snprintf(args, sizeof args,
             "batch --input udp://127.0.0.1:%d --output %s --set stream.timeout_ms=300",
             40000 + (int)(getpid() % 20000), out);
    unlink(out);
    assert_int_equal(run(args, err, sizeof err), 3);
    if (!strstr(err, "cannot open input: no answer within 300 ms (stream.timeout_ms)"))
        fail_msg("udp timeout: %s", err);
    remove_except_clip();
}

/* Copies the video of src into the mp4 dst with a display matrix asking
 * players to rotate it by `angle` degrees, as phones store portrait video. */
static void remux_rotated(const char *src, const char *dst, double angle)
{
    AVFormatContext *in = NULL, *out = NULL;
    assert_int_equal(avformat_open_input(&in, src, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(in, NULL) >= 0);
    int v = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    assert_true(v >= 0);
    assert_true(avformat_alloc_output_context2(&out, NULL, NULL, dst) >= 0);
    AVStream *os = avformat_new_stream(out, NULL);
    assert_non_null(os);
    assert_true(avcodec_parameters_copy(os->codecpar, in->streams[v]->codecpar) >= 0);
    os->codecpar->codec_tag = 0;
    os->time_base = in->streams[v]->time_base;
    uint8_t *m = av_stream_new_side_data(os, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
    assert_non_null(m);
    av_display_rotation_set((int32_t *)m, angle);
    assert_true(avio_open(&out->pb, dst, AVIO_FLAG_WRITE) >= 0);
    assert_true(avformat_write_header(out, NULL) >= 0);
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    while (av_read_frame(in, pkt) >= 0) {
        if (pkt->stream_index == v) {
            av_packet_rescale_ts(pkt, in->streams[v]->time_base, os->time_base);
            pkt->stream_index = 0;
            assert_true(av_interleaved_write_frame(out, pkt) >= 0);
        }
        av_packet_unref(pkt);
    }
    assert_true(av_write_trailer(out) >= 0);
    av_packet_free(&pkt);
    avio_closep(&out->pb);
    avformat_free_context(out);
    avformat_close_input(&in);
}

/* Runs a shell command quietly; true when it exits 0. */
static bool shell_ok(const char *cmd)
{
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

/* The first frame of `path` as ffmpeg shows it (autorotated, as players
 * do): n = width x height gray pixels into buf. */
static void first_frame_gray(const char *path, uint8_t *buf, size_t n)
{
    char cmd[1024], raw[256];
    path_in(raw, sizeof raw, "frame.gray");
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -i %s -frames:v 1 -f rawvideo -pix_fmt gray %s", path,
             raw);
    assert_true(shell_ok(cmd));
    FILE *f = fopen(raw, "rb");
    assert_non_null(f);
    size_t got = fread(buf, 1, n, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    unlink(raw);
    assert_int_equal(got, n);
    assert_false(more);
}

/* Centre of the pixels brighter than 200 (the white corner block). */
static void bright_centre(const uint8_t *g, int w, int h, double *cx, double *cy)
{
    double sx = 0, sy = 0, n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (g[y * w + x] > 200) {
                sx += x;
                sy += y;
                n++;
            }
    assert_true(n > 0);
    *cx = sx / n;
    *cy = sy / n;
}

/* A phone video's display rotation is applied as players apply it: the
 * frames come out turned (90 and 270 swap the size), upright in an output
 * that carries no rotation, and the first output frame shows what ffmpeg's
 * autorotate shows. The picture is told apart from its turns by a white
 * block in one corner and a grey one in another. With output.width/height
 * set to the turned size, the camera's first crop (zoom 1.0, centred) is the
 * whole frame, so the two frames compare pixel for pixel. */
static void test_batch_applies_rotation(void **state)
{
    (void)state;
    if (!shell_ok("command -v ffmpeg >/dev/null 2>&1"))
        skip();
    enum { CW = 320, CH = 192 }; /* the corner clip */
    char cmd[1024], args[1024], err[8192], src[256], p[256], out[256];
    path_in(src, sizeof src, "corner.mp4");
    path_in(p, sizeof p, "rotated.mp4");
    path_in(out, sizeof out, "out.mp4");
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i color=black:s=%dx%d:r=10,"
             "drawbox=x=0:y=0:w=80:h=48:color=white:t=fill,"
             "drawbox=x=280:y=0:w=40:h=20:color=gray:t=fill "
             "-frames:v 3 -pix_fmt yuv420p -c:v libx264 %s",
             CW, CH, src);
    if (!shell_ok(cmd))
        skip(); /* an ffmpeg without lavfi or libx264 */
    static uint8_t want[CW * CH], got[CW * CH];
    const double angles[] = {90, 180, 270};
    for (int i = 0; i < 3; i++) {
        remux_rotated(src, p, angles[i]);
        bool swap = angles[i] != 180;
        int w = swap ? CH : CW, h = swap ? CW : CH;
        snprintf(args, sizeof args,
                 "batch --input %s --output %s --no-progress --set output.width=%d "
                 "--set output.height=%d",
                 p, out, w, h);
        assert_int_equal(run(args, err, sizeof err), 0);
        char applied[96];
        snprintf(applied, sizeof applied, "degrees applied (frames turned to %dx%d)", w, h);
        if (!strstr(err, "rotated.mp4: display rotation of ") || !strstr(err, applied))
            fail_msg("rotation %.0f not applied: %s", angles[i], err);
        ft_test_readback rb;
        ft_test_read_all(out, &rb);
        assert_int_equal(rb.width, w);
        assert_int_equal(rb.height, h);
        first_frame_gray(p, want, (size_t)w * h);
        first_frame_gray(out, got, (size_t)w * h);
        double wx, wy, gx, gy, diff = 0;
        bright_centre(want, w, h, &wx, &wy);
        bright_centre(got, w, h, &gx, &gy);
        if (fabs(wx - gx) > 4 || fabs(wy - gy) > 4)
            fail_msg("rotation %.0f: white block at (%.0f, %.0f), ffmpeg shows it at (%.0f, %.0f)",
                     angles[i], gx, gy, wx, wy);
        for (int k = 0; k < w * h; k++)
            diff += abs(want[k] - got[k]);
        if (diff / (w * h) > 8)
            fail_msg("rotation %.0f: mean difference %.1f from ffmpeg's frame", angles[i],
                     diff / (w * h));
    }
    /* Other angles are only warned about: the frames pass as stored. */
    remux_rotated(src, p, 45);
    snprintf(args, sizeof args, "batch --input %s --output %s --no-progress", p, out);
    assert_int_equal(run(args, err, sizeof err), 0);
    if (!strstr(err, "rotated.mp4: carries a display transform (rotation ") ||
        !strstr(err, "frames are processed as stored and the output is not rotated") ||
        strstr(err, "degrees applied"))
        fail_msg("rotation 45: %s", err);
    remove_except_clip();
}

static void test_batch_unwritable_output_exit_4(void **state)
{
    (void)state;
    char args[1024], err[4096], out[256], blocker[256];
    snprintf(args, sizeof args, "batch --input %s --output %s", clip, clip);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "is also the input file"));
    /* The input as a file: URL (it was read to the end, then replaced). */
    struct stat before, after;
    assert_int_equal(stat(clip, &before), 0);
    snprintf(args, sizeof args, "batch --input file://%s --output %s --no-progress", clip, clip);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "is also the input file"));
    assert_int_equal(stat(clip, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_size, before.st_size);
    /* Schemes libavformat knows but we do not write to. */
    snprintf(args, sizeof args, "batch --input %s --output gopher://127.0.0.1:1/o.mp4", clip);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "gopher://127.0.0.1:1/o.mp4: unsupported URL scheme"));
    path_in(out, sizeof out, "no-such-dir/out.mp4");
    snprintf(args, sizeof args, "batch --input %s --output %s", clip, out);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "no-such-dir/out.mp4"));
    /* A path through a regular file (root ignores permissions, not this). */
    path_in(blocker, sizeof blocker, "file");
    write_text(blocker, "x");
    path_in(out, sizeof out, "file/out.mp4");
    snprintf(args, sizeof args, "batch --input %s --output %s", clip, out);
    assert_int_equal(run(args, err, sizeof err), 4);
    unlink(blocker);
    assert_int_equal(stray_files(), 0);

    /* A --track-out that is the input (it was truncated while being read) or
     * an output under another spelling (the video replaced the track). */
    snprintf(args, sizeof args, "batch --input %s --output %s/o.mp4 --track-out %s", clip, dir,
             clip);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "is also the input file"));
    assert_int_equal(stat(clip, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    snprintf(args, sizeof args, "batch --input %s --output %s/o.mp4 --track-out %s/./o.mp4", clip,
             dir, dir);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "is also --output"));
    snprintf(args, sizeof args,
             "batch --input %s --output %s/o.mp4 --debug --track-out %s/o.debug.mp4", clip, dir,
             dir);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "is also the debug video"));
    assert_int_equal(stray_files(), 0);
}

/* SIGINT in the middle of a run: exit 6, and neither the video, nor the
 * --track-out CSV, nor their temp files are left behind. The signal is sent
 * once the CSV's temp file (".track.csv.<pid>.part") has its first rows on
 * disk (stdio flushes it every 4 KiB, about 50 frames), far from the end of a
 * 1500-frame clip. */
static void test_sigint_leaves_no_output(void **state)
{
    (void)state;
    char in[256], out[256], csv[256], part[256], name[64];
    remove_except_clip(); /* what a failed earlier test left would count as ours */
    path_in(in, sizeof in, "long.mp4");
    path_in(out, sizeof out, "out.mp4");
    path_in(csv, sizeof csv, "track.csv");
    ft_testclip_params cp = {in, W, H, FPS, 1500, false, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(bin, bin, "batch", "--input", in, "--output", out, "--track-out", csv,
              "--no-progress", (char *)NULL);
        _exit(127);
    }
    snprintf(name, sizeof name, ".track.csv.%ld.part", (long)pid);
    path_in(part, sizeof part, name);
    struct stat sb;
    bool started = false;
    for (int i = 0; i < 600 && !started; i++) {
        started = stat(part, &sb) == 0 && sb.st_size > 0;
        if (!started)
            usleep(50000);
    }
    int rc;
    if (!started) { /* never wrote a row: stop it before failing */
        kill(pid, SIGKILL);
        waitpid(pid, &rc, 0);
        fail_msg("batch wrote no track rows within 30 s");
    }
    assert_int_equal(kill(pid, SIGINT), 0);
    assert_int_equal(waitpid(pid, &rc, 0), pid);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 6);
    assert_int_not_equal(stat(out, &sb), 0);
    assert_int_not_equal(stat(csv, &sb), 0);
    unlink(in);
    assert_int_equal(stray_files(), 0);
}

/* A track written to a pipe whose reader is gone (`--track-out /dev/stdout
 * | head`): SIGPIPE killed the program, with no message and the video's
 * temporary file left behind; now a write error, exit 4, nothing left. */
static void test_broken_pipe_exit_4(void **state)
{
    (void)state;
    char out[256], errpath[256];
    path_in(out, sizeof out, "out.mp4");
    path_in(errpath, sizeof errpath, "stderr.txt");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]); /* every write to fds[1] fails with EPIPE */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fds[1], 1);
        dup2(err, 2);
        execl(bin, bin, "batch", "--input", clip, "--output", out, "--track-out", "/dev/stdout",
              "--no-progress", "--set", "output.width=320", "--set", "output.height=180",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    int rc;
    assert_int_equal(waitpid(pid, &rc, 0), pid);
    char err[4096];
    FILE *f = fopen(errpath, "r");
    size_t n = f ? fread(err, 1, sizeof err - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    unlink(errpath);
    if (!WIFEXITED(rc))
        fail_msg("batch died from signal %d", WTERMSIG(rc));
    assert_int_equal(WEXITSTATUS(rc), 4);
    assert_non_null(strstr(err, "cannot write track file '/dev/stdout': Broken pipe"));
    assert_int_equal(stray_files(), 0);
}

/* Output files are replaced only by a complete run: a failed run keeps the
 * track CSV an earlier run wrote, and a device given as the track file is
 * written in place, never renamed over or removed. */
static void test_failed_run_keeps_older_track(void **state)
{
    (void)state;
    char args[1024], err[4096], out[256], csv[256], missing[256], buf[64] = "";
    path_in(out, sizeof out, "out.mp4");
    path_in(csv, sizeof csv, "track.csv");
    path_in(missing, sizeof missing, "missing.mp4");
    write_text(csv, "older run\n");
    snprintf(args, sizeof args, "batch --input %s --output %s --track-out %s --no-progress",
             missing, out, csv);
    assert_int_equal(run(args, err, sizeof err), 3);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "older run\n");
    unlink(csv);
    assert_int_equal(stray_files(), 0);

    snprintf(args, sizeof args,
             "batch --input %s --output %s --track-out /dev/null --no-progress "
             "--set output.width=320 --set output.height=180",
             clip, out);
    assert_int_equal(run(args, err, sizeof err), 0);
    struct stat sb;
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    unlink(out);
    assert_int_equal(stray_files(), 0);

    /* A track that fails only when its last rows are flushed (a full disk;
     * 10 rows stay in stdio's buffer until then) fails the run before the
     * video is moved into place: it was left under its name with exit 4. */
    char short_clip[256];
    path_in(short_clip, sizeof short_clip, "short.mp4");
    ft_testclip_params cp = {short_clip, W, H, FPS, 10, false, NULL};
    assert_int_equal(ft_testclip_write(&cp), FT_OK);
    snprintf(args, sizeof args,
             "batch --input %s --output %s --track-out /dev/full --no-progress "
             "--set output.width=320 --set output.height=180",
             short_clip, out);
    assert_int_equal(run(args, err, sizeof err), 4);
    assert_non_null(strstr(err, "cannot write track file '/dev/full'"));
    assert_int_equal(access(out, F_OK), -1);
    unlink(short_clip);
    assert_int_equal(stray_files(), 0);
}

/* Defaults for a quiet in-process run of the test clip into out (borrowed). */
static void clip_params(ft_pipeline_params *p, const char *out)
{
    ft_pipeline_params_default(p);
    p->input = clip;
    p->output = out;
    p->out_width = W;
    p->out_height = H;
    p->progress = false;
}

static ft_status fail_at_10(void *user, const ft_pipeline_frame *f)
{
    (void)user;
    return f->index == 10 ? FT_ERR_OUTPUT : FT_OK;
}

static void test_failed_run_leaves_no_file(void **state)
{
    (void)state;
    char out[256];
    path_in(out, sizeof out, "partial.mp4");
    ft_pipeline_params p;
    clip_params(&p, out);
    p.hooks.on_frame = fail_at_10;
    ft_pipeline *pl = NULL;
    assert_int_equal(ft_pipeline_create(&p, &pl), FT_OK);
    assert_int_equal(ft_pipeline_run(pl), FT_ERR_OUTPUT);
    ft_pipeline_stats s;
    ft_pipeline_stats_get(pl, &s);
    assert_true(s.frames_out >= 10 && s.frames_out < FRAMES);
    ft_pipeline_destroy(&pl);
    assert_null(pl);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(stray_files(), 0);
}

typedef struct stopper {
    ft_pipeline *pl;
    int64_t at; /* input frame index to stop at */
    bool stopped;
} stopper;

/* ">=": live mode may drop the frame itself (the file is read faster than
 * it is encoded, so the input queue drops its oldest frames). */
static ft_status stop_at(void *user, const ft_pipeline_frame *f)
{
    stopper *sp = user;
    if (f->index >= sp->at && !sp->stopped) {
        sp->stopped = true;
        ft_pipeline_stop(sp->pl);
    }
    return FT_OK;
}

/* Stopping: a batch run leaves nothing under its name; a live run finalises
 * what it wrote, at the constant output rate asked for. */
static void test_stop_batch_and_live(void **state)
{
    (void)state;
    for (int live = 0; live < 2; live++) {
        char out[256];
        path_in(out, sizeof out, live ? "live.flv" : "batch.mp4");
        ft_pipeline_params p;
        clip_params(&p, out);
        p.live = live;
        p.realtime = live; /* played like a live source */
        p.target_fps = live ? 10 : 0;
        /* Live: stop 1.2 s into the played clip, so the 10 fps output has
         * written about 12 frames whatever the start-up delay on a busy
         * machine (at 0.4 s it could be fewer than 4). */
        stopper sp = {NULL, live ? 30 : 10, false};
        p.hooks.on_frame = stop_at;
        p.hooks.user = &sp;
        assert_int_equal(ft_pipeline_create(&p, &sp.pl), FT_OK);
        assert_int_equal(ft_pipeline_run(sp.pl), FT_ERR_INTERRUPTED);
        ft_pipeline_stats st;
        ft_pipeline_stats_get(sp.pl, &st);
        assert_true(st.frames_out > sp.at - st.frames_dropped && st.frames_out < FRAMES);
        ft_pipeline_destroy(&sp.pl);
        if (!live) {
            assert_int_equal(access(out, F_OK), -1);
            assert_int_equal(stray_files(), 0);
            continue;
        }
        ft_test_readback o;
        ft_test_read_all(out, &o);
        assert_true(o.frames >= 4);
        /* 10 fps: one frame per 0.1 s */
        assert_true(fabs(o.last_pts - o.first_pts - (o.frames - 1) * 0.1) < 0.002);
        remove_except_clip();
    }
}

/* A detector that says it reads device frames (as RF-DETR on CUDA) and
 * counts what the pipeline hands it. */
typedef struct devcount {
    ft_detector base;
    int frames, with_host, with_device, bad_device;
} devcount;

static ft_status devcount_detect(ft_detector *d, const ft_image *f, double pts_s,
                                 ft_detection *out, int cap, int *n)
{
    (void)pts_s;
    (void)out;
    (void)cap;
    devcount *c = (devcount *)d;
    c->frames++;
    c->with_host += f->data[0] != NULL && f->data[1] != NULL;
    if (f->dev_data[0]) {
        c->with_device++;
        c->bad_device += f->format != FT_PIX_NV12 || !f->dev_data[1] ||
                         f->dev_stride[0] < f->width || f->dev_stride[1] < f->width;
    }
    *n = 0;
    return FT_OK;
}

static bool devcount_device_frames(const ft_detector *d)
{
    (void)d;
    return true;
}

static void devcount_destroy(ft_detector *d)
{
    (void)d;
}

/* Software decoding with a detector that reads device frames: every frame
 * arrives with host planes and no device view, unchanged. With "auto" (NVDEC
 * where a GPU is, as in the GPU check's suite), every frame or none has a
 * well-formed device view, and always its host planes. */
static void test_device_frames_fallback(void **state)
{
    (void)state;
    static const ft_detector_vtable vt = {.name = "devcount",
                                          .detect = devcount_detect,
                                          .destroy = devcount_destroy,
                                          .device_frames = devcount_device_frames};
    const char *devices[2] = {"cpu", "auto"};
    for (int i = 0; i < 2; i++) {
        devcount c = {.base = {&vt}};
        char out[256];
        path_in(out, sizeof out, "devframes.mp4");
        ft_pipeline_params p;
        clip_params(&p, out);
        p.device = devices[i];
        p.detector = &c.base;
        ft_pipeline *pl = NULL;
        assert_int_equal(ft_pipeline_create(&p, &pl), FT_OK);
        assert_int_equal(ft_pipeline_run(pl), FT_OK);
        ft_pipeline_destroy(&pl);
        print_message("device %s: %d frames, %d with host planes, %d with a device view\n",
                      devices[i], c.frames, c.with_host, c.with_device);
        assert_int_equal(c.frames, FRAMES);
        assert_int_equal(c.with_host, FRAMES);
        assert_int_equal(c.bad_device, 0);
        if (i == 0)
            assert_int_equal(c.with_device, 0);
        else
            assert_true(c.with_device == 0 || c.with_device == FRAMES);
        remove_except_clip();
    }
}

static void detect_n(ft_detector *d, int frames, int *counts, ft_detection *last)
{
    ft_image img = {0};
    for (int i = 0; i < frames; i++) {
        ft_detection out[FT_DETECT_MAX];
        int n = -1;
        assert_int_equal(ft_detector_detect(d, &img, i / FPS, out, FT_DETECT_MAX, &n), FT_OK);
        counts[i] = n;
        if (n > 0)
            *last = out[0];
    }
}

static void test_replay_formats(void **state)
{
    (void)state;
    char p[256];
    path_in(p, sizeof p, "dets.json");
    ft_detector *d = NULL;
    ft_detect_replay_params rp = {p, 0.0};
    int counts[4];
    ft_detection last = {0};
    /* Frames with nested lists, the frame key after the list. */
    write_text(p, "[{\"detections\": [{\"x\": 10, \"y\": 20, \"w\": 4, \"h\": 4, \"score\": 0.5},"
                  " {\"x\": 30, \"y\": 40, \"confidence\": 0.8}], \"frame\": 1},\n"
                  " {\"frame\": 3, \"detections\": [{\"x\": 7.5, \"y\": 8, \"score\": 0.9}]}]");
    assert_int_equal(ft_detect_replay_create(&rp, &d), FT_OK);
    detect_n(d, 4, counts, &last);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 0);
    assert_int_equal(counts[3], 1);
    assert_true(fabs(last.x - 7.5) < 1e-6 && fabs(last.score - 0.9) < 1e-6);
    ft_detector_destroy(&d);
    /* Flat list keyed by pts, highest score first, confidence filter. */
    write_text(p, "[{\"pts\": 0.04, \"x\": 1, \"y\": 2, \"score\": 0.3},"
                  " {\"pts\": 0.04, \"x\": 5, \"y\": 6, \"score\": 0.7}]");
    rp.confidence = 0.5;
    assert_int_equal(ft_detect_replay_create(&rp, &d), FT_OK);
    detect_n(d, 3, counts, &last);
    assert_int_equal(counts[1], 1);
    assert_true(fabs(last.x - 5) < 1e-6);
    assert_int_equal(ft_detector_set_param(d, "confidence", 0.1), FT_OK);
    assert_int_equal(ft_detector_set_param(d, "nonsense", 0.1), FT_ERR_INVALID);
    ft_detector_destroy(&d);
    /* Malformed files are input errors. */
    const char *bad[] = {"[{\"frame\": 0, \"x\": 1, \"y\": }]", "[{\"x\": 1, \"y\": 2}]",
                         "frame,x\n0,1\n", "frame,x,y\n0,1,abc\n", "frame,x,y\n-1,1,2\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(p, bad[i]);
        assert_int_equal(ft_detect_replay_create(&rp, &d), FT_ERR_INPUT);
        assert_null(d);
    }
    path_in(p, sizeof p, "absent.csv");
    assert_int_equal(ft_detect_replay_create(&rp, &d), FT_ERR_INPUT);
    remove_except_clip();
}

static int setup(void **state)
{
    (void)state;
    bin = getenv("FT_BIN");
    if (!bin)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/ft_pipeline_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    path_in(clip, sizeof clip, "clip.mp4");
    ft_testclip_params cp = {clip, W, H, FPS, FRAMES, true, NULL};
    return ft_testclip_write(&cp) == FT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_except_clip();
    unlink(clip);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_batch_replay_and_track_out),
        cmocka_unit_test(test_batch_resolution_change),
        cmocka_unit_test(test_batch_warns_under_raise_cap),
        cmocka_unit_test(test_batch_bad_inputs_exit_3),
        cmocka_unit_test(test_batch_damaged_inputs),
        cmocka_unit_test(test_batch_applies_rotation),
        cmocka_unit_test(test_batch_unwritable_output_exit_4),
        cmocka_unit_test(test_failed_run_leaves_no_file),
        cmocka_unit_test(test_stop_batch_and_live),
        cmocka_unit_test(test_sigint_leaves_no_output),
        cmocka_unit_test(test_failed_run_keeps_older_track),
        cmocka_unit_test(test_broken_pipe_exit_4),
        cmocka_unit_test(test_replay_formats),
        cmocka_unit_test(test_device_frames_fallback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
