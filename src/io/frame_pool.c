/* Pool of software frame buffers (see frame_pool.h). */
#include "io/frame_pool.h"

#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/log.h"

/* Row and plane alignment: what FFmpeg's own frame allocation gives SIMD
 * code (swscale, x264) at most. */
#define ALIGN 64
/* Slack after the last plane for SIMD readers that overshoot a row. */
#define PADDING 64

struct ft_io_frame_pool {
    AVBufferPool *pool; /* NULL until the first get */
    int format, width, height;
    int linesize[4];
    size_t offset[4]; /* of each plane in a buffer */
    int planes;
    atomic_llong allocations;
};

ft_status ft_io_frame_pool_create(ft_io_frame_pool **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? FT_OK : FT_ERR_NOMEM;
}

void ft_io_frame_pool_destroy(ft_io_frame_pool **p)
{
    if (!p || !*p)
        return;
    av_buffer_pool_uninit(&(*p)->pool);
    free(*p);
    *p = NULL;
}

int64_t ft_io_frame_pool_allocations(const ft_io_frame_pool *p)
{
    return atomic_load(&p->allocations);
}

/* Called by av_buffer_pool_get when no returned buffer is free: the only
 * allocation, counted. The pool calls it only while it is ours, so the
 * opaque pointer is alive. */
static AVBufferRef *pool_alloc(void *opaque, size_t size)
{
    ft_io_frame_pool *p = opaque;
    AVBufferRef *b = av_buffer_alloc(size);
    if (b)
        atomic_fetch_add(&p->allocations, 1);
    return b;
}

/* Plane layout of format at width x height, and a pool of buffers of that
 * size in place of the previous one (whose buffers live on in their
 * frames until released). */
static ft_status relayout(ft_io_frame_pool *p, int format, int width, int height)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(format);
    if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) || width <= 0 || height <= 0 || width > 32768 ||
        height > 32768) {
        FT_LOGE("io", "frame pool: cannot lay out %s %dx%d", d ? d->name : "unknown format", width,
                height);
        return FT_ERR_INVALID;
    }
    int ls[4];
    if (av_image_fill_linesizes(ls, format, FFALIGN(width, ALIGN)) < 0)
        return FT_ERR_INVALID;
    ptrdiff_t pls[4];
    for (int i = 0; i < 4; i++)
        pls[i] = ls[i] = FFALIGN(ls[i], ALIGN);
    size_t sizes[4];
    if (av_image_fill_plane_sizes(sizes, format, height, pls) < 0)
        return FT_ERR_INVALID;
    size_t total = 0;
    p->planes = 0;
    for (int i = 0; i < 4; i++) {
        p->linesize[i] = ls[i];
        p->offset[i] = total;
        if (sizes[i])
            p->planes = i + 1;
        total += FFALIGN(sizes[i], ALIGN);
    }
    av_buffer_pool_uninit(&p->pool);
    p->pool = av_buffer_pool_init2(total + PADDING, p, pool_alloc, NULL);
    if (!p->pool)
        return FT_ERR_NOMEM;
    p->format = format;
    p->width = width;
    p->height = height;
    return FT_OK;
}

ft_status ft_io_frame_pool_get(ft_io_frame_pool *p, AVFrame *frame, int format, int width,
                               int height)
{
    if (!p->pool || format != p->format || width != p->width || height != p->height) {
        ft_status st = relayout(p, format, width, height);
        if (st)
            return st;
    }
    AVBufferRef *b = av_buffer_pool_get(p->pool);
    if (!b)
        return FT_ERR_NOMEM;
    frame->buf[0] = b;
    frame->format = format;
    frame->width = width;
    frame->height = height;
    for (int i = 0; i < 4; i++) {
        frame->data[i] = i < p->planes ? b->data + p->offset[i] : NULL;
        frame->linesize[i] = i < p->planes ? p->linesize[i] : 0;
    }
    frame->extended_data = frame->data;
    return FT_OK;
}
