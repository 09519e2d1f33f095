/* The one place where the tracker's state becomes the virtual camera's target.
 * track/ and camera/ do not know each other (ARCHITECTURE.md), so the code that
 * joins them (the pipeline, and the tests and benchmarks that drive both)
 * converts through this function. */
#ifndef FT_PIPELINE_TRACK_CAMERA_H
#define FT_PIPELINE_TRACK_CAMERA_H

#include "camera/camera.h"
#include "track/tracker.h"

/* The camera target for tracker state `s` (borrowed). */
static inline ft_camera_target ft_pipeline_camera_target(const ft_track_state *s)
{
    ft_camera_target tg = {s->x, s->y, s->vx, s->vy, s->ax, s->ay, s->pos_std, 0};
    if (s->is_tracking)
        tg.flags |= FT_CAMERA_TARGET_VALID;
    if (s->chaos)
        tg.flags |= FT_CAMERA_TARGET_CHAOS;
    if (s->stability_lock)
        tg.flags |= FT_CAMERA_TARGET_STABLE;
    if (s->new_track)
        tg.flags |= FT_CAMERA_TARGET_NEW;
    return tg;
}

#endif
