/* Virtual camera: turns the tracked ball into a smooth crop rectangle of the
 * full frame. Trajectory predictor (anticipation), dead zone, One-Euro
 * smoothing with adaptive beta, PID per axis with velocity limits, zoom driven
 * by ball speed and track uncertainty, crop clamped to the frame with the output
 * aspect ratio.
 *
 * Pure and deterministic, no allocation after ft_camera_create, all float (no
 * integer truncation). Time comes from timestamps; per-frame numbers of the spec
 * are taken at FT_CAMERA_REF_FPS and pixel numbers at FT_CAMERA_REF_HEIGHT, then
 * converted (see docs/tracking.md). Depends on core/ only: the pipeline fills an
 * ft_camera_target from the tracker state. */
#ifndef FT_CAMERA_CAMERA_H
#define FT_CAMERA_CAMERA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/options.h"
#include "core/status.h"

#define FT_CAMERA_REF_FPS 30.0
#define FT_CAMERA_REF_HEIGHT 1080.0

/* Target flags. */
enum {
    FT_CAMERA_TARGET_VALID = 1u << 0,  /* a live ball estimate (tracker is_tracking) */
    FT_CAMERA_TARGET_CHAOS = 1u << 1,  /* tracker chaos: zoom 1.0, ultra-smoothing */
    FT_CAMERA_TARGET_STABLE = 1u << 2, /* tracker stability lock: fc_min 0.08, slow limits */
    FT_CAMERA_TARGET_NEW = 1u << 3,    /* a new track started: restart smoothing state */
};

/* What the camera follows, in full-frame pixels. The pipeline fills it from
 * ft_track_state: x,y,vx,vy,ax,ay,pos_std copied; flags from is_tracking,
 * chaos, stability_lock, new_track. When VALID is clear the position is ignored. */
typedef struct ft_camera_target {
    float x, y;    /* px */
    float vx, vy;  /* px/s */
    float ax, ay;  /* px/s^2 */
    float pos_std; /* position uncertainty, px */
    unsigned flags;
} ft_camera_target;

/* Crop rectangle in full-frame pixels (top-left corner and size), float so that
 * the renderer can resample sub-pixel positions. w/h equals the output aspect. */
typedef struct ft_crop {
    float x, y, w, h;
} ft_crop;

/* Parameters: YAML section `camera`. Per-frame quantities are at
 * FT_CAMERA_REF_FPS, pixels at FT_CAMERA_REF_HEIGHT. */
typedef struct ft_camera_params {
    double dead_zone;            /* fraction of the crop size the aim may move without a pan */
    double anticipation;         /* weight of the predicted position (0 = none, 1 = full) */
    double zoom_padding;         /* crop half-size >= padding x (3 sigma + travel) */
    double smoothing_min_cutoff; /* One-Euro fc_min, Hz (0.6) */
    double smoothing_beta;       /* One-Euro beta, per ref px/s (0.004) */
    bool use_pid;                /* PID positioning (else the smoothed aim directly) */
    int prediction_steps;        /* look-ahead, frames at the reference rate */
    double smoothing_d_cutoff;   /* One-Euro derivative cutoff, Hz (1.0) */
    double stable_min_cutoff;    /* fc_min in stability lock, Hz (0.08) */
    double chaos_min_cutoff;     /* fc_min in chaos (ultra-smoothing), Hz */
    double beta_speed_ref;       /* ball speed (ref px/s) doubling the velocity factor */
    double beta_jerk_ref;        /* aim jerk (ref px/s^3) halving the jerk factor */
    double pid_kp;               /* proportional gain per reference frame (0.8) */
    double pid_ki;               /* integral gain per reference frame (0.01) */
    double pid_kd;               /* derivative gain, on the measurement (0.15) */
    double max_speed_px;         /* pan limit, ref px per reference frame (500) */
    double stable_max_speed_px;  /* pan limit in stability lock (100) */
    double zoom_min;             /* widest zoom: 1.0 = the largest crop that fits the frame */
    double zoom_max;             /* tightest zoom */
    double zoom_speed_ref;       /* ball speed (ref px/s) at which the zoom halves */
    double zoom_time_constant;   /* zoom follows its target with this time constant, s */
    double lost_time_constant;   /* when lost: zoom-out and drift to the centre, s */
    double chaos_time_constant;  /* when chaos starts: zoom to 1.0 with this time constant, s */
} ft_camera_params;

/* Option rows over ft_camera_params (YAML section `camera`), ended by a NULL key. */
extern const ft_option ft_camera_options[];

/* Fills *p with the defaults of ft_camera_options. */
void ft_camera_params_default(ft_camera_params *p);

/* Range and cross-field checks; writes a message naming the key to err (may be
 * NULL) and returns FT_ERR_CONFIG on error. */
FT_NODISCARD ft_status ft_camera_params_validate(const ft_camera_params *p, char *err,
                                                 size_t err_size);

typedef struct ft_camera ft_camera;

/* Creates a camera cropping frame_w x frame_h frames for an out_w x out_h
 * output (only its aspect ratio matters). `p` borrowed (copied); *cam
 * returned-owned. FT_ERR_CONFIG for bad params, FT_ERR_INVALID for bad sizes. */
FT_NODISCARD ft_status ft_camera_create(const ft_camera_params *p, int frame_w, int frame_h,
                                        int out_w, int out_h, ft_camera **cam);

/* Advances the camera to time t (seconds, non-decreasing) towards `target`
 * (borrowed) and writes the crop to *out. FT_ERR_INVALID (camera unchanged) for
 * a timestamp going back or not finite, or a non-finite valid target. */
FT_NODISCARD ft_status ft_camera_update(ft_camera *cam, double t_seconds,
                                        const ft_camera_target *target, ft_crop *out);

/* Current zoom (1.0 = widest) after the last update. */
float ft_camera_zoom(const ft_camera *cam);

/* Swaps parameters between frames (hot reload); the motion state is kept.
 * FT_ERR_CONFIG (camera unchanged) when `p` (borrowed) is invalid. */
FT_NODISCARD ft_status ft_camera_set_params(ft_camera *cam, const ft_camera_params *p);

/* Destroys *cam (NULL allowed) and sets it to NULL. */
void ft_camera_destroy(ft_camera **cam);

#endif
