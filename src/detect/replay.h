/* The replay detector: returns detections recorded in a file instead of
 * looking at the picture. Used before a real detector is wired in, to replay
 * another tool's output, and to debug tracking on fixed detections.
 *
 * Formats (chosen by content):
 *
 *   CSV, one detection per row, header naming the columns (any order; w, h,
 *   score optional):
 *       frame,x,y,w,h,score
 *       0,812.5,403.0,12,12,0.91
 *     `frame` is the 0-based frame index; a `pts` column (seconds) may be
 *     used instead of it. Lines starting with '#' are comments.
 *
 *   JSON, frames with a detection list, or a flat list of detections:
 *       [{"frame": 0, "detections": [{"x": 812.5, "y": 403, "w": 12, "h": 12,
 *                                     "score": 0.91}]}, ...]
 *       [{"frame": 0, "x": 812.5, "y": 403, "score": 0.91}, ...]
 *     ("pts" may replace "frame"; "confidence" may replace "score").
 *
 * Frames are matched by index (the n-th call to detect is frame n) or, for
 * pts-keyed files, by timestamp within 2 ms. */
#ifndef FT_DETECT_REPLAY_H
#define FT_DETECT_REPLAY_H

#include <stddef.h> /* detector.h uses NULL */

#include "core/status.h"
#include "detect/detector.h"

typedef struct ft_detect_replay_params {
    const char *path;  /* detections file (borrowed) */
    double confidence; /* detections scoring below this are not returned (hot) */
} ft_detect_replay_params;

/* Loads the whole file (at most 64 MiB). FT_ERR_INPUT with a message naming
 * the file and line for a missing, oversized or malformed file. *out is
 * returned-owned: release it with ft_detector_destroy. */
FT_NODISCARD ft_status ft_detect_replay_create(const ft_detect_replay_params *p,
                                               ft_detector **out);

#endif
