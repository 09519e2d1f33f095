/* A borrowed view of one picture in memory. Modules below the pipeline (detect,
 * render, tools) see frames through this view, so they do not depend on FFmpeg;
 * the pipeline wraps decoded AVFrames in it without copying. */
#ifndef FT_CORE_IMAGE_H
#define FT_CORE_IMAGE_H

#include <stdint.h>

typedef enum ft_pixfmt {
    FT_PIX_YUV420P = 0, /* planar Y, U, V; chroma halved both ways (decoder default) */
    FT_PIX_NV12,        /* Y plane + interleaved UV plane */
    FT_PIX_RGB24,       /* packed R, G, B */
    FT_PIX_GRAY8,       /* Y only */
} ft_pixfmt;

typedef struct ft_image {
    int width, height;
    ft_pixfmt format;
    uint8_t *data[3]; /* borrowed planes */
    int stride[3];    /* bytes per row of each plane */
    /* Optional device view of the same picture: NV12 (format is FT_PIX_NV12)
     * Y and UV planes in CUDA device memory of device 0, in the CUDA
     * runtime's primary context (an NVDEC surface), and their pitches.
     * Borrowed, valid until the frame's producer releases it (the pipeline:
     * right after detection). Written on that context's legacy default
     * stream: a reader on another stream must wait for it first. dev_data[0]
     * NULL = none. Only a GPU backend reads it (RF-DETR on CUDA, instead of
     * uploading data[]); everything else uses data[]. */
    const uint8_t *dev_data[2];
    int dev_stride[2];
} ft_image;

#endif
