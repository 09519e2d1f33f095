/* See ft_test_media.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include <dirent.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ft_test_media.h"

void ft_test_read_each(const char *path, bool with_audio, ft_test_item_fn on_item, void *user,
                       ft_test_readback *rb)
{
    memset(rb, 0, sizeof *rb);
    rb->monotonic = true;
    ft_reader_params rp = {.url = path, .device = "cpu"};
    ft_reader *r = NULL;
    assert_int_equal(ft_reader_open(&rp, &r), FT_OK);
    rb->has_audio = ft_reader_get_info(r)->has_audio;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = with_audio ? av_packet_alloc() : NULL;
    for (;;) {
        ft_reader_item kind;
        double pts;
        ft_status st = ft_reader_read(r, f, pkt, &kind, &pts);
        if (st == FT_ERR_INPUT_EOF)
            break;
        assert_int_equal(st, FT_OK);
        if (on_item)
            on_item(user, kind, f, pkt, pts);
        if (kind == FT_READER_VIDEO) {
            if (rb->frames == 0)
                rb->first_pts = pts;
            else if (pts <= rb->last_pts)
                rb->monotonic = false;
            rb->last_pts = pts;
            rb->size_changes += rb->frames && (f->width != rb->width || f->height != rb->height);
            rb->width = f->width;
            rb->height = f->height;
            rb->frames++;
            av_frame_unref(f);
        } else {
            rb->audio_packets++;
            rb->last_audio_pts = pts;
            av_packet_unref(pkt);
        }
    }
    rb->corrupt = ft_reader_corrupt_packets(r);
    av_frame_free(&f);
    av_packet_free(&pkt);
    ft_reader_destroy(&r);
    assert_null(r);
}

void ft_test_read_all(const char *path, ft_test_readback *rb)
{
    ft_test_read_each(path, true, NULL, NULL, rb);
}

void ft_test_append_file(const char *dst, const char *src)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "ab");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

void ft_test_dir_clear(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (keep && !strcmp(e->d_name, keep)))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
}
