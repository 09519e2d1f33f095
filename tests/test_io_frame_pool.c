/* io: the frame pool the reader downloads NVDEC frames into. Without a GPU
 * the download itself cannot run here; what matters on the CPU side is that
 * buffers are reused once returned (no allocation per frame in steady state),
 * re-laid out when the format or size changes, that every plane fits its
 * buffer (run under ASan in the sanitizer build), and that frames still held
 * across a re-layout or the pool's destruction stay valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <stdbool.h>
#include <string.h>

#include "io/frame_pool.h"

#define IN_FLIGHT 4

/* Writes every byte of every plane the format has at the frame's size. */
static void fill_planes(AVFrame *f, uint8_t v)
{
    ptrdiff_t ls[4];
    size_t sizes[4];
    for (int i = 0; i < 4; i++)
        ls[i] = f->linesize[i];
    assert_true(av_image_fill_plane_sizes(sizes, f->format, f->height, ls) >= 0);
    for (int i = 0; i < 4; i++)
        if (sizes[i]) {
            assert_non_null(f->data[i]);
            memset(f->data[i], v, sizes[i]);
        }
}

static void test_reuse(void **state)
{
    (void)state;
    ft_io_frame_pool *p = NULL;
    assert_int_equal(ft_io_frame_pool_create(&p), FT_OK);
    AVFrame *f[IN_FLIGHT];
    uint8_t *first[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++) {
        f[i] = av_frame_alloc();
        assert_non_null(f[i]);
        assert_int_equal(ft_io_frame_pool_get(p, f[i], AV_PIX_FMT_NV12, 1920, 1088), FT_OK);
        assert_int_equal(f[i]->format, AV_PIX_FMT_NV12);
        assert_int_equal(f[i]->width, 1920);
        assert_int_equal(f[i]->height, 1088);
        assert_true(f[i]->linesize[0] >= 1920 && f[i]->linesize[0] % 64 == 0);
        assert_true(f[i]->linesize[1] >= 1920 && f[i]->linesize[1] % 64 == 0);
        assert_null(f[i]->data[2]);
        /* the chroma plane after the whole luma plane */
        assert_true(f[i]->data[1] >= f[i]->data[0] + (size_t)f[i]->linesize[0] * 1088);
        assert_true(av_frame_is_writable(f[i]));
        fill_planes(f[i], (uint8_t)i);
        first[i] = f[i]->data[0];
    }
    assert_int_equal(ft_io_frame_pool_allocations(p), IN_FLIGHT);
    /* steady state: frames returned and taken again, never more buffers */
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < IN_FLIGHT; i++) {
            av_frame_unref(f[i]);
            assert_int_equal(ft_io_frame_pool_get(p, f[i], AV_PIX_FMT_NV12, 1920, 1088), FT_OK);
        }
    assert_int_equal(ft_io_frame_pool_allocations(p), IN_FLIGHT);
    for (int i = 0; i < IN_FLIGHT; i++) {
        bool known = false;
        for (int j = 0; j < IN_FLIGHT; j++)
            known = known || f[i]->data[0] == first[j];
        assert_true(known);
    }
    for (int i = 0; i < IN_FLIGHT; i++)
        av_frame_free(&f[i]);
    ft_io_frame_pool_destroy(&p);
    assert_null(p);
    ft_io_frame_pool_destroy(&p); /* NULL-safe */
}

static void test_relayout(void **state)
{
    (void)state;
    ft_io_frame_pool *p = NULL;
    assert_int_equal(ft_io_frame_pool_create(&p), FT_OK);
    AVFrame *held = av_frame_alloc(), *f = av_frame_alloc();
    assert_non_null(held);
    assert_non_null(f);
    assert_int_equal(ft_io_frame_pool_get(p, held, AV_PIX_FMT_NV12, 1280, 720), FT_OK);
    /* another size and format: a new buffer, planes for the new layout */
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_YUV420P, 33, 17), FT_OK);
    assert_int_equal(ft_io_frame_pool_allocations(p), 2);
    assert_non_null(f->data[2]);
    assert_true(f->linesize[1] >= 17 && f->linesize[2] >= 17);
    fill_planes(f, 7);
    /* usable as any FFmpeg frame of that format and size */
    AVFrame *src = av_frame_alloc();
    assert_non_null(src);
    src->format = AV_PIX_FMT_YUV420P;
    src->width = 33;
    src->height = 17;
    assert_true(av_frame_get_buffer(src, 0) >= 0);
    fill_planes(src, 9);
    assert_true(av_frame_copy(f, src) >= 0);
    assert_int_equal(f->data[2][f->linesize[2] * 8 + 16], 9);
    av_frame_free(&src);
    /* the frame from the old layout outlives the re-layout and the pool */
    ft_io_frame_pool_destroy(&p);
    fill_planes(held, 3);
    av_frame_free(&held);
    av_frame_free(&f);
}

static void test_invalid(void **state)
{
    (void)state;
    ft_io_frame_pool *p = NULL;
    assert_int_equal(ft_io_frame_pool_create(&p), FT_OK);
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_CUDA, 64, 64), FT_ERR_INVALID);
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_NONE, 64, 64), FT_ERR_INVALID);
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_NV12, 0, 64), FT_ERR_INVALID);
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_NV12, 64, 40000), FT_ERR_INVALID);
    assert_null(f->buf[0]);
    assert_int_equal(ft_io_frame_pool_allocations(p), 0);
    /* a failed call leaves the pool usable */
    assert_int_equal(ft_io_frame_pool_get(p, f, AV_PIX_FMT_NV12, 64, 64), FT_OK);
    av_frame_free(&f);
    ft_io_frame_pool_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_relayout),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
