/* Detection filters shared by every detector (RF-DETR, the classical detector,
 * replay): dead-zone polygons, and the pitch-area mask made of configured
 * polygons and/or an estimate of the grass area from the frame's colours.
 * The pipeline runs one filter after whichever detector it uses. */
#ifndef FT_DETECT_FILTERS_H
#define FT_DETECT_FILTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/options.h"
#include "core/status.h"
#include "detect/detector.h"

/* What the filter keeps. Polygon coordinates are frame pixels, or fractions of
 * the frame for a polygon whose coordinates all lie within [0, 1]. */
typedef struct ft_detect_filter_params {
    ft_polygon_set dead_zones; /* a candidate whose centre lies inside any of them is dropped */
    ft_polygon_set pitch_mask; /* when not empty, a candidate outside all of them is dropped */
    bool pitch_mask_auto;      /* also drop candidates away from the grass seen in the frame */
} ft_detect_filter_params;

typedef struct ft_detect_filter ft_detect_filter;

/* Checks polygons (3 to FT_POLY_MAX_POINTS points, finite coordinates).
 * FT_ERR_CONFIG with a logged message naming the polygon otherwise. */
FT_NODISCARD ft_status ft_detect_filter_params_check(const ft_detect_filter_params *p);

/* Creates a filter; `p` is borrowed (copied). FT_ERR_CONFIG for bad polygons. */
FT_NODISCARD ft_status ft_detect_filter_create(const ft_detect_filter_params *p,
                                               ft_detect_filter **out);

/* Destroys *f (NULL allowed) and sets it to NULL. */
void ft_detect_filter_destroy(ft_detect_filter **f);

/* Replaces the parameters between frames (hot reload); `p` is borrowed. On
 * error the previous parameters stay in force. */
FT_NODISCARD ft_status ft_detect_filter_set_params(ft_detect_filter *f,
                                                   const ft_detect_filter_params *p);

/* Updates the automatic pitch mask from `frame` (borrowed) when enabled, then
 * removes the rejected candidates from dets[0..*n) in place, keeping order.
 * FT_ERR_INVALID for an empty frame. Allocates nothing. */
FT_NODISCARD ft_status ft_detect_filter_apply(ft_detect_filter *f, const ft_image *frame,
                                              ft_detection *dets, int *n);

/* Whether a point in frame pixels passes the filter for the last frame seen
 * by ft_detect_filter_apply (of size w x h). */
bool ft_detect_filter_allows(const ft_detect_filter *f, float x, float y, int w, int h);

/* Y, U, V of the pixel at (x, y) in full-frame coordinates (clamped to the
 * frame), whatever the frame's format; U = V = 128 for grey frames. */
void ft_detect_sample_yuv(const ft_image *frame, int x, int y, uint8_t yuv[3]);

/* Whether a colour looks like grass: green clearly above blue, not much below
 * red (artificial and dry turf is yellowish), neither black nor white. */
static inline bool ft_detect_is_grass(int y, int u, int v)
{
    /* G - B and G - R from BT.601 YUV, scaled by 1000 to stay in integers. */
    int du = u - 128, dv = v - 128;
    int g_minus_b = -2116 * du - 714 * dv;
    int g_minus_r = -344 * du - 2116 * dv;
    return y >= 20 && y <= 210 && g_minus_b > 8000 && g_minus_r > -10000;
}

#endif
