/* Ball tracker: a constant-acceleration Kalman filter over [x, y, vx, vy, ax, ay]
 * with Mahalanobis gating, association over the whole candidate list of a frame,
 * and the operational modes of the spec (normal, recovering, chaos, stability
 * lock, lost); with no track, a weak candidate must be confirmed by a few
 * sightings on one path, missed frames allowed, before a track starts on it
 * (docs/tracking.md).
 *
 * Pure and deterministic: the same candidates at the same timestamps give the
 * same states. No allocation after ft_tracker_create. Time comes from the frame
 * timestamps (variable frame rate safe); every per-frame number of the spec is
 * converted to seconds at FT_TRACK_REF_FPS and every pixel number is relative to
 * a FT_TRACK_REF_HEIGHT-pixel-high frame (see docs/tracking.md). */
#ifndef FT_TRACK_TRACKER_H
#define FT_TRACK_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/options.h"
#include "core/status.h"

/* The spec states per-frame numbers at 30 fps and pixel numbers at 1080p. */
#define FT_TRACK_REF_FPS 30.0
#define FT_TRACK_REF_HEIGHT 1080.0
/* Largest chaos_jump_count (the tracker keeps that many jump times). */
#define FT_TRACK_CHAOS_JUMPS_MAX 16

/* One ball candidate of a frame, in full-frame pixels. The pipeline copies the
 * fields of its detections (detect/detector.h ft_detection) into these; track/
 * does not include detect/ so that it depends on core/ only. */
typedef struct ft_track_candidate {
    float x, y;  /* centre */
    float w, h;  /* box size (used for the IoU association test) */
    float score; /* confidence in [0, 1] */
} ft_track_candidate;

/* Parameters: YAML section `tracking`. Frame counts are frames at
 * FT_TRACK_REF_FPS, pixels are pixels of a FT_TRACK_REF_HEIGHT-high frame, both
 * converted to seconds / frame pixels internally. */
typedef struct ft_tracker_params {
    int max_lost_frames;              /* prediction without detections before Lost (10) */
    double min_confidence;            /* candidates below this score are ignored (0.25) */
    double recovering_min_confidence; /* weakest far candidate a recovering track takes (0.4) */
    /* No track: a candidate this confident starts one at once (0.5); a weaker
     * one must be sighted acquire_frames (3) times on one path, over at least
     * acquire_frames - 1 frames, within acquire_window_frames (6) first. */
    double acquire_min_confidence;
    int acquire_frames;
    int acquire_window_frames;
    double iou_threshold; /* IoU with the predicted box that accepts a candidate outside the gate */
    bool adaptive_noise;  /* adapt Q to the innovation and R to stability/confidence */
    double gate_chi2;     /* Mahalanobis gate (2 dof) while tracking: 9.21 = 99 % */
    double gate_chi2_recovering;     /* relaxed gate while recovering: 13.82 = 99.9 % */
    double process_noise;            /* base Q: white-jerk density in px^2 per ref frame^5 (0.01) */
    double process_noise_max_factor; /* adaptive Q may grow up to this multiple of the base */
    double recovering_noise_factor;  /* Q multiple while predicting without detections */
    double measurement_noise_min;    /* R (px^2) for stable, confident detections (3) */
    double measurement_noise_max;    /* R (px^2) for unstable or weak detections (10) */
    int normal_min_frames;           /* consecutive detections before Normal: more than 15 */
    int recovering_frames;           /* lost frames counted as Recovering (1..5); then Coasting */
    double chaos_jump_px;       /* a candidate this far from the prediction is a huge jump (120) */
    int chaos_jump_count;       /* this many erratic huge jumps ... (3) */
    int chaos_window_frames;    /* ... within this many frames start chaos (30 = 1 s) */
    int chaos_frames;           /* chaos duration (120 frames = 4 s) */
    double chaos_radius_px;     /* while in chaos only candidates this close are accepted (80) */
    double stability_motion_px; /* stability lock: movement below this per frame (5) ... */
    int stability_frames;       /* ... for this many frames (25) */
    double stability_radius_px; /* acceptance radius while locked (80) */
    double max_ball_speed_px;   /* recovering: reach (px per ref frame) that restarts the filter */
    int relocate_frames; /* unsupported far candidate confirmed this long: the track moves there */
    double init_velocity_std; /* initial velocity std of a new track, ref px/s */
    double init_accel_std;    /* initial acceleration std of a new track, ref px/s^2 */
    /* Largest ball (box side, px at 1080p) at the zoom chaos_jump_px is meant
     * for; accepted balls consistently larger scale it (0 = never). */
    double ball_size_px;
} ft_tracker_params;

/* Option rows over ft_tracker_params (YAML section `tracking`), ended by a NULL key. */
extern const ft_option ft_tracker_options[];

/* Fills *p with the defaults of ft_tracker_options (no config system needed). */
void ft_tracker_params_default(ft_tracker_params *p);

/* Checks every field against its option range and the cross-field rules
 * (e.g. min <= max). On error writes a message naming the key to err (may be
 * NULL) and returns FT_ERR_CONFIG. */
FT_NODISCARD ft_status ft_tracker_params_validate(const ft_tracker_params *p, char *err,
                                                  size_t err_size);

/* Base mode. Chaos and stability lock are flags on top (see ft_track_state). */
typedef enum ft_track_mode {
    FT_TRACK_LOST = 0,   /* no track (weak candidates may be being confirmed, unreported) */
    FT_TRACK_ACQUIRING,  /* tracking, not yet normal_min_frames consecutive detections */
    FT_TRACK_NORMAL,     /* more than normal_min_frames consecutive detections */
    FT_TRACK_RECOVERING, /* 1..recovering_frames without detection: relaxed gate */
    FT_TRACK_COASTING,   /* more lost frames, up to max_lost_frames: prediction only */
    FT_TRACK_MODE_COUNT
} ft_track_mode;

/* Short lower-case name of a mode ("normal", ...). Never NULL. */
const char *ft_track_mode_name(ft_track_mode m);

typedef struct ft_track_stats {
    uint64_t frames;                           /* updates */
    uint64_t mode_frames[FT_TRACK_MODE_COUNT]; /* updates spent in each base mode */
    uint64_t chaos_frames;                     /* updates with chaos active */
    uint64_t lock_frames;                      /* updates with stability lock active */
    uint64_t accepted;                         /* candidates accepted as the ball */
    uint64_t rejected;                         /* confident candidates rejected (gate, radius) */
    uint64_t low_confidence;                   /* candidates below min_confidence */
    uint64_t jumps;                            /* erratic huge jumps (rejected or reseeded) */
    uint64_t chaos_starts;                     /* chaos activations */
    uint64_t acquisitions;                     /* new tracks started */
    uint64_t confirmed;                        /* ... on a weak path, after acquire_frames */
    uint64_t losses;                           /* tracks lost */
    uint64_t relocations;                      /* tracks moved to a confirmed far candidate */
} ft_track_stats;

/* The tracker's state after an update (the spec's get_state()). */
typedef struct ft_track_state {
    double t; /* timestamp of the update, seconds */
    ft_track_mode mode;
    bool is_tracking;         /* mode != LOST: x, y is a live estimate */
    bool measured;            /* a candidate was accepted in this update (never invented) */
    bool chaos;               /* chaos mode active */
    bool stability_lock;      /* stability lock active */
    bool new_track;           /* this update started a track: downstream smoothing restarts */
    int candidate;            /* index of the accepted candidate in this update's list, or -1 */
    uint32_t track_id;        /* increments with each acquisition (0 before the first) */
    int lost_frames;          /* consecutive updates without an accepted candidate */
    float x, y;               /* estimated position, frame px (last estimate when lost) */
    float vx, vy;             /* velocity, frame px/s (0 when lost) */
    float ax, ay;             /* acceleration, frame px/s^2 (0 when lost) */
    float pos_std;            /* position uncertainty (largest axis std), frame px */
    float velocity_magnitude; /* |v|, frame px/s */
    ft_track_stats stats;
} ft_track_state;

typedef struct ft_tracker ft_tracker;

/* Creates a tracker for frames of frame_w x frame_h pixels. `p` is borrowed
 * (copied); *out is returned-owned (free with ft_tracker_destroy). FT_ERR_CONFIG
 * for invalid parameters (logged with the key), FT_ERR_INVALID for a bad size. */
FT_NODISCARD ft_status ft_tracker_create(const ft_tracker_params *p, int frame_w, int frame_h,
                                         ft_tracker **out);

/* Processes one frame at time t (seconds, non-decreasing) with all its
 * candidates (`cands` borrowed, n >= 0, NULL allowed when n == 0). Writes the
 * new state to *out (may be NULL). FT_ERR_INVALID for a timestamp going back or
 * not finite, or a bad list; the tracker is unchanged then. Candidates with
 * non-finite fields are ignored. */
FT_NODISCARD ft_status ft_tracker_update(ft_tracker *t, double t_seconds,
                                         const ft_track_candidate *cands, int n,
                                         ft_track_state *out);

/* Copies the state of the last update (a zeroed LOST state before any). */
void ft_tracker_get_state(const ft_tracker *t, ft_track_state *out);

/* Swaps parameters between frames (hot reload); the filter state is kept.
 * FT_ERR_CONFIG (tracker unchanged) when `p` (borrowed) is invalid. */
FT_NODISCARD ft_status ft_tracker_set_params(ft_tracker *t, const ft_tracker_params *p);

/* Destroys *t (NULL allowed) and sets it to NULL. */
void ft_tracker_destroy(ft_tracker **t);

#endif
