/* The wire protocol between the shared inference server (service/infer_server.h)
 * and its clients (detect/infer_client.h), both on the same host.
 *
 * Transport: a SOCK_SEQPACKET unix socket (message boundaries kept, a peer
 * that dies is seen as end of file). Frames and results do not travel on the
 * socket: each client owns a shared-memory file (memfd, sealed against
 * shrinking so the server's reads can never fault) that it passes to the
 * server with SCM_RIGHTS in a request carrying FT_INFER_NEW_SHM, and again
 * whenever it had to grow it (a larger frame). The file holds, at offset 0,
 * the result area (result_cap ft_rfdetr_det entries), then the frame's planes.
 *
 *   server -> client, once on accept:   ft_infer_hello
 *   client -> server, per frame:        ft_infer_request (+ fd when NEW_SHM)
 *   server -> client, per frame:        ft_infer_reply once the results are
 *                                       in the client's result area
 *
 * A client has at most one request in flight; the structures are exchanged
 * raw (same host, same build). */
#ifndef FT_DETECT_INFER_PROTO_H
#define FT_DETECT_INFER_PROTO_H

#include <stdint.h>

#include "core/image.h"

#define FT_INFER_MAGIC 0x31495446u /* "FTI1" little-endian; bumped with the layout */

/* ft_infer_request.flags */
#define FT_INFER_NEW_SHM 1u /* an fd rides along: it replaces the client's shared memory */

typedef struct ft_infer_hello {
    uint32_t magic;
    int32_t status;          /* FT_OK, or why the client is refused (FT_ERR_AGAIN: full) */
    int32_t input_size;      /* model input side, pixels */
    int32_t num_select;      /* most detections one frame returns */
    int32_t num_classes;     /* logits per query */
    int32_t ball_class_auto; /* ft_rfdetr_ball_class_auto of the model */
    int32_t max_batch;       /* frames per forward pass */
} ft_infer_hello;

typedef struct ft_infer_request {
    uint32_t magic;
    uint32_t seq;                  /* echoed in the reply */
    uint32_t flags;                /* FT_INFER_* */
    int32_t width, height, format; /* ft_image geometry and ft_pixfmt */
    uint64_t offset[3];            /* plane offsets in the shared memory */
    int32_t stride[3];
    float threshold;    /* keep detections scoring at least this */
    int32_t result_cap; /* ft_rfdetr_det entries the result area holds */
} ft_infer_request;

typedef struct ft_infer_reply {
    uint32_t magic;
    uint32_t seq;
    int32_t status; /* FT_OK, FT_ERR_INVALID (bad request), or the forward pass's error */
    int32_t n;      /* detections written at offset 0 of the shared memory */
} ft_infer_reply;

/* Planes of an ft_pixfmt (0 for an unknown one) and, for plane `plane`, the
 * bytes of one row and the number of rows (chroma of YUV420P/NV12 rounds
 * odd sizes up). Client and server size the shared memory with it. */
static inline int ft_infer_plane_geometry(int format, int width, int height, int plane,
                                          int64_t *row_bytes, int64_t *rows)
{
    int64_t w = width, h = height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    int planes = 0;
    *row_bytes = *rows = 0;
    switch (format) {
    case FT_PIX_YUV420P:
        planes = 3;
        *row_bytes = plane ? cw : w;
        *rows = plane ? ch : h;
        break;
    case FT_PIX_NV12:
        planes = 2;
        *row_bytes = plane ? 2 * cw : w;
        *rows = plane ? ch : h;
        break;
    case FT_PIX_RGB24:
        planes = 1;
        *row_bytes = 3 * w;
        *rows = h;
        break;
    case FT_PIX_GRAY8:
        planes = 1;
        *row_bytes = w;
        *rows = h;
        break;
    default:
        break;
    }
    if (plane >= planes)
        *row_bytes = *rows = 0;
    return planes;
}

#endif
