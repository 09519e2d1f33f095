/* Internal to src/io: glue between FFmpeg and our logging and status codes. */
#ifndef FT_IO_AV_GLUE_H
#define FT_IO_AV_GLUE_H

#include <stdbool.h>
#include <stddef.h>

/* Routes FFmpeg's own log output into ft_log at debug level, once per
 * process: our callers report failures with messages naming the URL, and
 * libav's per-packet chatter (corrupt slices, probe noise) would drown them. */
void ft_io_av_log_init(void);

/* Whether url (borrowed) is a plain path (no "scheme:" before its first
 * '/') or uses one of the NULL-terminated schemes, e.g. {"file", "rtmp", NULL}. */
bool ft_io_url_scheme_in(const char *url, const char *const *schemes);

/* The path of a local url (borrowed): a "file:" URL without its scheme, any
 * other url as it is. */
const char *ft_io_url_path(const char *url);

/* Text of a libav error code into buf (returned for convenience). */
const char *ft_io_av_err(int err, char *buf, size_t cap);

#endif
