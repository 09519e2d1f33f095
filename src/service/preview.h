/* Live preview for the status page: the rendered output, scaled down and
 * JPEG-encoded a few times a second, handed to any number of waiting HTTP
 * connections. Encoding happens on the caller's thread only when a new
 * preview is due, into buffers made at creation. */
#ifndef FT_SERVICE_PREVIEW_H
#define FT_SERVICE_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

typedef struct ft_service_preview ft_service_preview;

/* width x height of the preview (even), at most `fps` previews a second.
 * *out returned-owned. */
FT_NODISCARD ft_status ft_service_preview_create(int width, int height, double fps,
                                                 ft_service_preview **out);

/* Offers a frame (borrowed, YUV420P) seen at monotonic time now_ns; it is
 * encoded only when the previous preview is older than 1/fps. */
FT_NODISCARD ft_status ft_service_preview_push(ft_service_preview *p, const ft_image *img,
                                               int64_t now_ns);

/* Waits up to timeout_ms for a preview newer than *seq (0 = any), copies it
 * into buf and updates *seq. FT_ERR_AGAIN on timeout, FT_ERR_NOMEM when cap
 * is too small, FT_ERR_INTERRUPTED after ft_service_preview_close. */
FT_NODISCARD ft_status ft_service_preview_wait(ft_service_preview *p, uint64_t *seq, uint8_t *buf,
                                               size_t cap, size_t *len, int timeout_ms);

/* Wakes every waiter for good (shutdown). */
void ft_service_preview_close(ft_service_preview *p);

/* Frees (NULL allowed) and sets *p to NULL; no waiter may remain. */
void ft_service_preview_destroy(ft_service_preview **p);

#endif
