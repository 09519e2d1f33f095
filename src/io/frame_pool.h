/* Internal to src/io: reusable buffers for software frames that the reader
 * must allocate per decoded picture (NVDEC frames downloaded from the GPU).
 * FFmpeg's av_hwframe_transfer_data allocates a fresh frame buffer for every
 * download unless the destination already has one; this pool gives it one
 * from a small set that grows to the number of frames in flight and is then
 * reused, made again only when the format or size changes. */
#ifndef FT_IO_FRAME_POOL_H
#define FT_IO_FRAME_POOL_H

#include <stdint.h>

#include "core/status.h"

struct AVFrame;
typedef struct ft_io_frame_pool ft_io_frame_pool;

FT_NODISCARD ft_status ft_io_frame_pool_create(ft_io_frame_pool **out);
/* NULL-safe; sets *p to NULL. Frames still holding pool buffers stay valid
 * (each buffer returns to FFmpeg's refcounted pool, freed with the last). */
void ft_io_frame_pool_destroy(ft_io_frame_pool **p);

/* Gives `frame` (borrowed; must hold no buffers) planes for `format`
 * (an AVPixelFormat, software) at width x height: format, width, height,
 * data, linesize and buf[0] set, rows 64-byte aligned. The buffer returns
 * to the pool when the frame's last reference is dropped. A format or size
 * other than the previous call's starts a new pool. FT_ERR_INVALID for a
 * hardware or unknown format or a bad size, FT_ERR_NOMEM on allocation
 * failure. */
FT_NODISCARD ft_status ft_io_frame_pool_get(ft_io_frame_pool *p, struct AVFrame *frame, int format,
                                            int width, int height);

/* Buffers allocated so far over the pool's life (all sizes): constant in a
 * steady state, which is what the tests check. */
int64_t ft_io_frame_pool_allocations(const ft_io_frame_pool *p);

#endif
