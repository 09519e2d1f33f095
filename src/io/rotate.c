/* Plane rotation for display-rotated input (io/rotate.h). */
#include "io/rotate.h"

#include <assert.h>
#include <libavutil/common.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <stdint.h>
#include <string.h>

/* Source pixels are read in square tiles: a whole destination row would read
 * one source column, one cache line per pixel of a 1080-row picture. */
#define TILE 64

bool ft_io_rotate_supported(int format, int degrees)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(format);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM |
                           AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BAYER)))
        return false;
    bool subsampled = d->log2_chroma_w || d->log2_chroma_h;
    if (subsampled && !(d->flags & AV_PIX_FMT_FLAG_PLANAR))
        return false;
    return degrees == 180 || d->log2_chroma_w == d->log2_chroma_h;
}

/* Bytes per element of plane p: one pixel of that plane, e.g. 1 for
 * YUV420P, 2 for NV12's interleaved chroma, 3 for RGB24. */
static int element_size(const AVPixFmtDescriptor *d, int p)
{
    for (int c = 0; c < d->nb_components; c++)
        if (d->comp[c].plane == p)
            return d->comp[c].step;
    return 0;
}

/* Turns one plane of w x h elements of `es` bytes counterclockwise by
 * `degrees`, reading for each destination element (x, y) its source (sx, sy). */
static void rotate_plane(const uint8_t *src, int sls, uint8_t *dst, int dls, int w, int h, int es,
                         int degrees)
{
    int dw = degrees == 180 ? w : h, dh = degrees == 180 ? h : w;
    for (int ty = 0; ty < dh; ty += TILE)
        for (int tx = 0; tx < dw; tx += TILE)
            for (int y = ty; y < FFMIN(ty + TILE, dh); y++) {
                uint8_t *out = dst + (ptrdiff_t)y * dls;
                for (int x = tx; x < FFMIN(tx + TILE, dw); x++) {
                    /* Counterclockwise 90: the top row becomes the left
                     * column read bottom-up; 270 (clockwise 90) the right
                     * column read top-down. */
                    int sx = degrees == 90 ? w - 1 - y : degrees == 270 ? y : w - 1 - x;
                    int sy = degrees == 90 ? x : degrees == 270 ? h - 1 - x : h - 1 - y;
                    const uint8_t *in = src + (ptrdiff_t)sy * sls + (ptrdiff_t)sx * es;
                    if (es == 1)
                        out[x] = *in;
                    else
                        memcpy(out + (ptrdiff_t)x * es, in, (size_t)es);
                }
            }
}

void ft_io_rotate_frame(const AVFrame *src, AVFrame *dst, int degrees)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    assert(d && dst->format == src->format && ft_io_rotate_supported(src->format, degrees));
    assert(degrees == 180 ? dst->width == src->width && dst->height == src->height
                          : dst->width == src->height && dst->height == src->width);
    int planes = av_pix_fmt_count_planes(src->format);
    for (int p = 0; p < planes; p++) {
        /* Planes 1 and 2 hold chroma; 0 luma (or packed pixels), 3 alpha. */
        bool chroma = p == 1 || p == 2;
        int w = chroma ? AV_CEIL_RSHIFT(src->width, d->log2_chroma_w) : src->width;
        int h = chroma ? AV_CEIL_RSHIFT(src->height, d->log2_chroma_h) : src->height;
        rotate_plane(src->data[p], src->linesize[p], dst->data[p], dst->linesize[p], w, h,
                     element_size(d, p), degrees);
    }
}
