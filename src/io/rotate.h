/* Internal to src/io: turns a decoded picture the way a player shows a
 * stream whose display matrix rotates it (phone video), so that detection,
 * tracking and rendering see it upright. */
#ifndef FT_IO_ROTATE_H
#define FT_IO_ROTATE_H

#include <stdbool.h>

struct AVFrame;

/* Can pictures in `format` (an AVPixelFormat) be turned by `degrees` (90,
 * 180 or 270) plane by plane? Not hardware, bitstream, palette or Bayer
 * formats, nor packed subsampled ones (YUYV); for 90 and 270 only formats
 * subsampled alike in both directions (4:2:0, 4:4:4, NV12, gray, RGB), as
 * 4:2:2 would turn into 4:4:0. */
bool ft_io_rotate_supported(int format, int degrees);

/* Writes src (borrowed) turned counterclockwise, as displayed, by `degrees`
 * (90, 180 or 270) into dst (borrowed), whose planes the caller gave the
 * same format and the turned size (width and height swapped for 90 and 270).
 * The format must be ft_io_rotate_supported. */
void ft_io_rotate_frame(const struct AVFrame *src, struct AVFrame *dst, int degrees);

#endif
