/* The detector interface: every ball detector (RF-DETR, the default classical
 * detector, the replay detector) implements this table. */
#ifndef FT_DETECT_DETECTOR_H
#define FT_DETECT_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

/* One candidate, in full-frame pixel coordinates. */
typedef struct ft_detection {
    float x, y;  /* centre */
    float w, h;  /* box size */
    float score; /* calibrated confidence in [0, 1] */
    int label;   /* class id in the model's label space (ball_class_id for balls) */
} ft_detection;

/* Upper bound on candidates returned for one frame. */
#define FT_DETECT_MAX 64

typedef struct ft_detector ft_detector;

typedef struct ft_detector_vtable {
    const char *name;
    /* Detect candidates in one frame. `frame` is borrowed; `pts_s` is its time in
     * seconds. Writes at most `cap` candidates to `out`, sorted by descending
     * score, and their count to `n`. Returns FT_OK even when nothing is found. */
    ft_status (*detect)(ft_detector *d, const ft_image *frame, double pts_s, ft_detection *out,
                        int cap, int *n);
    /* Change a hot-reloadable parameter ("confidence", ...) between frames.
     * FT_ERR_INVALID for a key this detector does not know. */
    ft_status (*set_param)(ft_detector *d, const char *key, double value);
    void (*destroy)(ft_detector *d);
    /* Optional (NULL = never happens): frames that got no detection because
     * the detector could not run them (the shared inference server was
     * away). Callable from any thread. */
    uint64_t (*unavailable)(const ft_detector *d);
    /* Optional (NULL = no): whether detect() reads a frame's device view
     * (ft_image.dev_data) in place when it has one. The pipeline keeps the
     * decoder's GPU surfaces for a detector that does. */
    bool (*device_frames)(const ft_detector *d);
} ft_detector_vtable;

/* Base of every detector object; implementations embed it first. */
struct ft_detector {
    const ft_detector_vtable *vt;
};

static inline ft_status ft_detector_detect(ft_detector *d, const ft_image *frame, double pts_s,
                                           ft_detection *out, int cap, int *n)
{
    return d->vt->detect(d, frame, pts_s, out, cap, n);
}

static inline ft_status ft_detector_set_param(ft_detector *d, const char *key, double value)
{
    return d->vt->set_param ? d->vt->set_param(d, key, value) : FT_ERR_INVALID;
}

/* Frames `d` (NULL allowed) could not run so far; 0 for in-process detectors. */
static inline uint64_t ft_detector_unavailable(const ft_detector *d)
{
    return d && d->vt->unavailable ? d->vt->unavailable(d) : 0;
}

/* Does `d` read device frames in place (see the vtable)? */
static inline bool ft_detector_device_frames(const ft_detector *d)
{
    return d->vt->device_frames && d->vt->device_frames(d);
}

/* Destroys *d (NULL allowed) and sets it to NULL. */
static inline void ft_detector_destroy(ft_detector **d)
{
    if (d && *d) {
        (*d)->vt->destroy(*d);
        *d = NULL;
    }
}

#endif
