/* Renderer: sub-pixel crop of a full-resolution frame scaled to the output
 * size, the statistics overlay (ball marker, predicted trail, tracker mode,
 * fps, latency) drawn with a built-in 5x7 bitmap font, and the side-by-side debug
 * view. Works on ft_image views (YUV420P or NV12 in, YUV420P out); never
 * allocates per frame. */
#ifndef FT_RENDER_RENDER_H
#define FT_RENDER_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

/* A rectangle in source-frame pixels; fractional values are honoured. */
typedef struct ft_render_rect {
    double x, y; /* top-left corner */
    double w, h;
} ft_render_rect;

/* Gives `r` the aspect out_w:out_h around its centre by growing its short
 * side (so all that was asked for stays in view), then shrinks it (aspect
 * kept) and shifts it to lie inside a frame_w x frame_h frame. The result
 * never needs letterboxing. */
void ft_render_rect_fit(ft_render_rect *r, int frame_w, int frame_h, int out_w, int out_h);

/* Crops `crop` (clamped into the frame) out of `src` (borrowed, YUV420P or
 * NV12) and scales it bilinearly with sub-pixel accuracy into `dst`
 * (borrowed, YUV420P, its own size is the output size). FT_ERR_INVALID for
 * an unsupported format or an empty rectangle. */
FT_NODISCARD ft_status ft_render_crop(const ft_image *src, const ft_render_rect *crop,
                                      ft_image *dst);

/* What the overlay shows. Positions are in source-frame pixels. */
#define FT_RENDER_TRAIL_MAX 32
typedef struct ft_render_overlay {
    bool ball_visible;
    double ball_x, ball_y;      /* current ball estimate */
    int trail_n;                /* predicted positions, nearest first */
    double trail_x[FT_RENDER_TRAIL_MAX], trail_y[FT_RENDER_TRAIL_MAX];
    const char *mode;           /* tracker mode name ("normal", "chaos"...), borrowed */
    double fps;                 /* processing rate */
    double latency_ms;          /* decode-to-encode latency of this frame */
} ft_render_overlay;

/* Draws the overlay onto `dst` (YUV420P output of ft_render_crop with the
 * same `crop`): marker and trail mapped from source to output coordinates,
 * and a text line with mode, fps and latency. */
void ft_render_overlay_draw(ft_image *dst, const ft_render_rect *crop, const ft_render_overlay *ov);

/* Draws `text` (ASCII; other bytes show as '?') with the built-in 5x7 font at
 * (x, y) in output pixels, each font pixel `scale` pixels wide, in luma `y`
 * with a dark outline so it reads on any background. Clipped to the image. */
void ft_render_text(ft_image *dst, int x, int y, int scale, uint8_t luma, const char *text);

/* The 7 rows of c in the built-in 5x7 font (bit 4 of each row is the leftmost
 * column; returned pointer borrowed from static data), or NULL when the font
 * has no glyph for c. Upper- and lower-case letters are distinct glyphs. */
const uint8_t *ft_render_font_glyph(char c);

/* Draws a rectangle outline in colour (y, u, v), `thickness` pixels wide, clipped. */
void ft_render_box(ft_image *dst, double x, double y, double w, double h, int thickness,
                   uint8_t luma, uint8_t u, uint8_t v);

/* One detection box for the debug view, in source-frame pixels. */
typedef struct ft_render_box_f {
    double x, y, w, h; /* centre and size */
    double score;
} ft_render_box_f;

/* What the debug view shows on the full frame besides the picture. */
typedef struct ft_render_debug {
    const ft_render_box_f *dets; /* borrowed, n_dets entries */
    int n_dets;
    bool gate_valid;             /* tracker's association gate (ellipse approximated by a box) */
    double gate_x, gate_y, gate_rx, gate_ry;
    ft_render_rect crop;         /* the crop the output was rendered from */
} ft_render_debug;

/* Composes the debug frame into `dst` (YUV420P): left half the full frame
 * scaled to fit with detections, gate and crop drawn; right half `out` (the
 * rendered output) scaled to fit. Both halves keep their aspect. */
FT_NODISCARD ft_status ft_render_debug_compose(const ft_image *full, const ft_image *out,
                                               const ft_render_debug *dbg, ft_image *dst);

#endif
