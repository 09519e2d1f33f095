/* The default ball detector: no model file, classical image processing on a
 * downscaled copy of the frame. It finds small bright compact blobs, scores
 * them on appearance (contrast, roundness, whiteness, grass around them, size
 * expected at that image row) and motion (against a background model that
 * follows camera pans), and returns several candidates with confidences for
 * the tracker to choose from. It skips blobs off the grass (the automatic
 * pitch mask of detect/filters.h); the configured dead zones and pitch mask
 * are applied afterwards by detect/filters.h, as for every detector. */
#ifndef FT_DETECT_CLASSIC_H
#define FT_DETECT_CLASSIC_H

#include <stdbool.h>

#include "core/options.h"
#include "core/status.h"
#include "detect/detector.h"

typedef struct ft_detect_classic_params {
    double confidence; /* candidates scoring below this are not returned (hot: "confidence") */
    int work_width;    /* the frame is box-downscaled by an integer factor to about this width */
    int label;         /* label written into each detection (the model's ball class id) */
} ft_detect_classic_params;

/* The confidence the continuity prior raises a look-alike next to the
 * remembered ball to: under the tracker's recovering_min_confidence and
 * acquire_min_confidence defaults, so it keeps a track alive but never makes
 * it jump or start (docs/detector.md, "The continuity prior (h35)"). */
#define FT_DETECT_CLASSIC_RAISE_CAP 0.39

/* The parameter table (defaults, ranges, help) over ft_detect_classic_params. */
extern const ft_option ft_detect_classic_options[];

/* Fills `p` with the defaults of ft_detect_classic_options. */
void ft_detect_classic_params_default(ft_detect_classic_params *p);

/* Creates the detector; `p` is borrowed (copied), NULL means defaults. Buffers
 * are sized on the first frame and again only when the frame size changes.
 * FT_ERR_CONFIG for values out of range. *out is returned-owned: release it
 * with ft_detector_destroy. */
FT_NODISCARD ft_status ft_detect_classic_create(const ft_detect_classic_params *p,
                                                ft_detector **out);

/* Whether `d` (borrowed, not NULL) was made by ft_detect_classic_create. */
bool ft_detect_classic_is(const ft_detector *d);

#endif
