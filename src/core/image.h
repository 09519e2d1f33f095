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
} ft_image;

#endif
