/* Internal to src/io: glue between FFmpeg and our logging and status codes. */
#ifndef FT_IO_AV_GLUE_H
#define FT_IO_AV_GLUE_H

#include <stddef.h>

/* Routes FFmpeg's own log output into ft_log at debug level, once per
 * process: our callers report failures with messages naming the URL, and
 * libav's per-packet chatter (corrupt slices, probe noise) would drown them. */
void ft_io_av_log_init(void);

/* Text of a libav error code into buf (returned for convenience). */
const char *ft_io_av_err(int err, char *buf, size_t cap);

#endif
