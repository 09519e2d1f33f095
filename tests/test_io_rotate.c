/* io: the plane rotation the reader applies to display-rotated input (phone
 * video). Checked against the definition pixel by pixel for one picture,
 * then by identities (90 then 270, 180 twice, four times 90 give the picture
 * back) over the formats decoders deliver, NV12's interleaved chroma turned
 * like YUV420P's separate planes, and the formats that cannot be turned
 * plane by plane refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <libavutil/common.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "io/rotate.h"

static AVFrame *new_frame(int format, int w, int h)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = format;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    return f;
}

/* Width in bytes and height of plane p of f. */
static void plane_size(const AVFrame *f, int p, int *bytes, int *rows)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    bool chroma = p == 1 || p == 2;
    int es = 0;
    for (int c = 0; c < d->nb_components; c++)
        if (d->comp[c].plane == p)
            es = d->comp[c].step;
    *bytes = (chroma ? AV_CEIL_RSHIFT(f->width, d->log2_chroma_w) : f->width) * es;
    *rows = chroma ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
}

static void fill_random(AVFrame *f, unsigned seed)
{
    srand(seed);
    for (int p = 0; p < av_pix_fmt_count_planes(f->format); p++) {
        int bytes, rows;
        plane_size(f, p, &bytes, &rows);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < bytes; x++)
                f->data[p][y * f->linesize[p] + x] = (uint8_t)rand();
    }
}

static bool same_pixels(const AVFrame *a, const AVFrame *b)
{
    if (a->width != b->width || a->height != b->height)
        return false;
    for (int p = 0; p < av_pix_fmt_count_planes(a->format); p++) {
        int bytes, rows;
        plane_size(a, p, &bytes, &rows);
        for (int y = 0; y < rows; y++)
            if (memcmp(a->data[p] + y * a->linesize[p], b->data[p] + y * b->linesize[p],
                       (size_t)bytes))
                return false;
    }
    return true;
}

/* src turned by deg into a new frame. */
static AVFrame *turned(const AVFrame *src, int deg)
{
    AVFrame *dst = deg == 180 ? new_frame(src->format, src->width, src->height)
                              : new_frame(src->format, src->height, src->width);
    ft_io_rotate_frame(src, dst, deg);
    return dst;
}

/* Counterclockwise 90: the source's top-left corner goes to the bottom-left,
 * its top-right to the top-left, as players show such a stream. */
static void test_definition(void **state)
{
    (void)state;
    AVFrame *src = new_frame(AV_PIX_FMT_YUV420P, 34, 22);
    fill_random(src, 1);
    AVFrame *ccw = turned(src, 90), *cw = turned(src, 270), *half = turned(src, 180);
    for (int y = 0; y < 22; y++)
        for (int x = 0; x < 34; x++) {
            uint8_t v = src->data[0][y * src->linesize[0] + x];
            assert_int_equal(ccw->data[0][(33 - x) * ccw->linesize[0] + y], v);
            assert_int_equal(cw->data[0][x * cw->linesize[0] + 21 - y], v);
            assert_int_equal(half->data[0][(21 - y) * half->linesize[0] + 33 - x], v);
        }
    av_frame_free(&src);
    av_frame_free(&ccw);
    av_frame_free(&cw);
    av_frame_free(&half);
}

static void test_identities(void **state)
{
    (void)state;
    const int formats[] = {AV_PIX_FMT_YUV420P,     AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_NV12,
                           AV_PIX_FMT_YUV444P,     AV_PIX_FMT_GRAY8,    AV_PIX_FMT_RGB24,
                           AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_P010LE};
    const int sizes[][2] = {{34, 22}, {33, 21}, {130, 70}}; /* odd, and more than a tile */
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            AVFrame *src = new_frame(formats[i], sizes[s][0], sizes[s][1]);
            fill_random(src, (unsigned)(i * 10 + s));
            AVFrame *a = turned(src, 90), *b = turned(a, 270);
            AVFrame *c = turned(src, 180), *d = turned(c, 180);
            AVFrame *e = turned(a, 90), *g = turned(e, 90), *h = turned(g, 90);
            assert_true(same_pixels(b, src));
            assert_true(same_pixels(d, src));
            assert_true(same_pixels(h, src));
            assert_true(same_pixels(e, c)); /* 90 twice is 180 */
            AVFrame *fr[] = {src, a, b, c, d, e, g, h};
            for (size_t k = 0; k < sizeof fr / sizeof *fr; k++)
                av_frame_free(&fr[k]);
        }
}

/* NV12's chroma pairs move as YUV420P's separate chroma samples do. */
static void test_nv12_like_yuv420p(void **state)
{
    (void)state;
    AVFrame *p = new_frame(AV_PIX_FMT_YUV420P, 34, 22), *n = new_frame(AV_PIX_FMT_NV12, 34, 22);
    fill_random(p, 7);
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 17; x++) {
            n->data[1][y * n->linesize[1] + 2 * x] = p->data[1][y * p->linesize[1] + x];
            n->data[1][y * n->linesize[1] + 2 * x + 1] = p->data[2][y * p->linesize[2] + x];
        }
    const int degs[] = {90, 180, 270};
    for (int i = 0; i < 3; i++) {
        AVFrame *tp = turned(p, degs[i]), *tn = turned(n, degs[i]);
        for (int y = 0; y < AV_CEIL_RSHIFT(tp->height, 1); y++)
            for (int x = 0; x < AV_CEIL_RSHIFT(tp->width, 1); x++) {
                assert_int_equal(tn->data[1][y * tn->linesize[1] + 2 * x],
                                 tp->data[1][y * tp->linesize[1] + x]);
                assert_int_equal(tn->data[1][y * tn->linesize[1] + 2 * x + 1],
                                 tp->data[2][y * tp->linesize[2] + x]);
            }
        av_frame_free(&tp);
        av_frame_free(&tn);
    }
    av_frame_free(&p);
    av_frame_free(&n);
}

static void test_supported(void **state)
{
    (void)state;
    assert_true(ft_io_rotate_supported(AV_PIX_FMT_YUV420P, 90));
    assert_true(ft_io_rotate_supported(AV_PIX_FMT_NV12, 270));
    /* 4:2:2 turned by 90 would be 4:4:0; by 180 it stays 4:2:2. */
    assert_false(ft_io_rotate_supported(AV_PIX_FMT_YUV422P, 90));
    assert_true(ft_io_rotate_supported(AV_PIX_FMT_YUV422P, 180));
    assert_false(ft_io_rotate_supported(AV_PIX_FMT_YUYV422, 180));
    assert_false(ft_io_rotate_supported(AV_PIX_FMT_CUDA, 90));
    assert_false(ft_io_rotate_supported(AV_PIX_FMT_PAL8, 90));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definition),
        cmocka_unit_test(test_identities),
        cmocka_unit_test(test_nv12_like_yuv420p),
        cmocka_unit_test(test_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
