/* The `tracking` option table and its defaults and checks. */
#include <string.h>

#include "track/tracker.h"

#define OFF(f) offsetof(ft_tracker_params, f)

const ft_option ft_tracker_options[] = {
    {"max_lost_frames",
     "Frames (at 30 fps) of prediction without detections before the track is lost", FT_OPT_INT,
     OFF(max_lost_frames), "10", 1, 3000, FT_OPT_HOT, NULL, NULL},
    {"min_confidence", "Candidates with a lower confidence are ignored by the tracker",
     FT_OPT_DOUBLE, OFF(min_confidence), "0.25", 0, 1, FT_OPT_HOT, NULL, NULL},
    {"iou_threshold", "IoU with the predicted ball box that accepts a candidate outside the gate",
     FT_OPT_DOUBLE, OFF(iou_threshold), "0.3", 0.01, 1, FT_OPT_HOT, NULL, NULL},
    {"adaptive_noise", "Adapt process noise to the innovation and measurement noise to stability",
     FT_OPT_BOOL, OFF(adaptive_noise), "true", 0, 0, FT_OPT_HOT, NULL, NULL},
    {"gate_chi2", "Mahalanobis gate while tracking (chi-square, 2 dof; 9.21 = 99 %)", FT_OPT_DOUBLE,
     OFF(gate_chi2), "9.21", 1, 1000, FT_OPT_HOT, NULL, NULL},
    {"gate_chi2_recovering", "Relaxed Mahalanobis gate while recovering (13.82 = 99.9 %)",
     FT_OPT_DOUBLE, OFF(gate_chi2_recovering), "13.82", 1, 1000, FT_OPT_HOT, NULL, NULL},
    {"process_noise", "Base process noise Q: white-jerk density, px^2 per 30-fps frame^5 at 1080p",
     FT_OPT_DOUBLE, OFF(process_noise), "0.01", 1e-6, 1e6, FT_OPT_HOT, NULL, NULL},
    {"process_noise_max_factor", "Largest multiple of Q the innovation may raise it to",
     FT_OPT_DOUBLE, OFF(process_noise_max_factor), "10000", 1, 1e9, FT_OPT_HOT, NULL, NULL},
    {"recovering_noise_factor", "Multiple of Q while predicting without detections", FT_OPT_DOUBLE,
     OFF(recovering_noise_factor), "1000", 1, 1e9, FT_OPT_HOT, NULL, NULL},
    {"measurement_noise_min", "Measurement noise R (px^2 at 1080p) for confident moving detections",
     FT_OPT_DOUBLE, OFF(measurement_noise_min), "3", 0.01, 1e4, FT_OPT_HOT, NULL, NULL},
    {"measurement_noise_max",
     "Measurement noise R (px^2 at 1080p) for weak or stationary detections", FT_OPT_DOUBLE,
     OFF(measurement_noise_max), "10", 0.01, 1e4, FT_OPT_HOT, NULL, NULL},
    {"normal_min_frames",
     "Normal mode after more than this many consecutive detections (30-fps frames)", FT_OPT_INT,
     OFF(normal_min_frames), "15", 0, 3000, FT_OPT_HOT, NULL, NULL},
    {"recovering_frames", "Lost frames (30-fps) with the relaxed gate before coasting", FT_OPT_INT,
     OFF(recovering_frames), "5", 1, 3000, FT_OPT_HOT, NULL, NULL},
    {"chaos_jump_px", "A candidate this far (px at 1080p) from the prediction is a huge jump",
     FT_OPT_DOUBLE, OFF(chaos_jump_px), "120", 1, 1e5, FT_OPT_HOT, NULL, NULL},
    {"chaos_jump_count",
     "Chaos starts after this many erratic huge jumps (far from the prediction and from each "
     "other) within chaos_window_frames; a single outlier is only rejected",
     FT_OPT_INT, OFF(chaos_jump_count), "3", 1, FT_TRACK_CHAOS_JUMPS_MAX, FT_OPT_HOT, NULL, NULL},
    {"chaos_window_frames", "Window (30-fps frames) in which chaos_jump_count jumps start chaos",
     FT_OPT_INT, OFF(chaos_window_frames), "30", 1, 100000, FT_OPT_HOT, NULL, NULL},
    {"chaos_frames", "Chaos mode duration (30-fps frames; 120 = 4 s)", FT_OPT_INT,
     OFF(chaos_frames), "120", 1, 100000, FT_OPT_HOT, NULL, NULL},
    {"chaos_radius_px", "In chaos, candidates farther than this (px at 1080p) are rejected",
     FT_OPT_DOUBLE, OFF(chaos_radius_px), "80", 1, 1e5, FT_OPT_HOT, NULL, NULL},
    {"stability_motion_px",
     "Stability lock: ball movement below this (px per 30-fps frame at 1080p)", FT_OPT_DOUBLE,
     OFF(stability_motion_px), "5", 0, 1e4, FT_OPT_HOT, NULL, NULL},
    {"stability_frames", "... for this many 30-fps frames engages the lock", FT_OPT_INT,
     OFF(stability_frames), "25", 1, 100000, FT_OPT_HOT, NULL, NULL},
    {"stability_radius_px", "Acceptance radius (px at 1080p) while the stability lock holds",
     FT_OPT_DOUBLE, OFF(stability_radius_px), "80", 1, 1e5, FT_OPT_HOT, NULL, NULL},
    {"max_ball_speed_px",
     "Recovering: a candidate within this reach (px per 30-fps frame at 1080p) of "
     "the last detection restarts the filter there",
     FT_OPT_DOUBLE, OFF(max_ball_speed_px), "60", 1, 1e4, FT_OPT_HOT, NULL, NULL},
    {"recovering_min_confidence",
     "Recovering: a candidate farther than chaos_radius_px from the prediction is taken only "
     "at this confidence or more (a weaker one must be confirmed like a relocation)",
     FT_OPT_DOUBLE, OFF(recovering_min_confidence), "0.4", 0, 1, FT_OPT_HOT, NULL, NULL},
    {"acquire_min_confidence",
     "No track: a candidate at this confidence or more starts one at once; a weaker one must "
     "first be confirmed for acquire_frames",
     FT_OPT_DOUBLE, OFF(acquire_min_confidence), "0.5", 0, 1, FT_OPT_HOT, NULL, NULL},
    {"acquire_frames",
     "No track: a weaker candidate starts one only after this many sightings on one path (each "
     "within gate_chi2 of the path's prediction), spanning at least this many 30-fps frames less "
     "one, within acquire_window_frames; 1 = at once, as the spec",
     FT_OPT_INT, OFF(acquire_frames), "3", 1, 300, FT_OPT_HOT, NULL, NULL},
    {"acquire_window_frames",
     "No track: a weak path's acquire_frames sightings must fall within this many 30-fps frames "
     "of its first one; frames without a sighting in between are predicted over",
     FT_OPT_INT, OFF(acquire_window_frames), "6", 0, 3000, FT_OPT_HOT, NULL, NULL},
    {"relocate_frames",
     "A far candidate confirmed at one place for this many 30-fps frames while nothing supports "
     "the "
     "track (a scene cut) restarts the track there; 0 = never",
     FT_OPT_INT, OFF(relocate_frames), "5", 0, 100000, FT_OPT_HOT, NULL, NULL},
    {"init_velocity_std", "Velocity std of a new track (px/s at 1080p)", FT_OPT_DOUBLE,
     OFF(init_velocity_std), "1000", 1, 1e6, FT_OPT_HOT, NULL, NULL},
    {"init_accel_std", "Acceleration std of a new track (px/s^2 at 1080p)", FT_OPT_DOUBLE,
     OFF(init_accel_std), "3000", 1, 1e7, FT_OPT_HOT, NULL, NULL},
    {"ball_size_px",
     "Largest ball box (px at 1080p) at the zoom chaos_jump_px is meant for; while the accepted "
     "balls are larger (median of the last 5: a close-up, a phone near play), chaos_jump_px is "
     "scaled by their size over this, up to 8 times; 0 = never",
     FT_OPT_DOUBLE, OFF(ball_size_px), "24", 0, 1e4, FT_OPT_HOT, NULL, NULL},
    FT_OPTION_END,
};

void ft_tracker_params_default(ft_tracker_params *p)
{
    memset(p, 0, sizeof(*p));
    ft_options_set_defaults(ft_tracker_options, p);
}

ft_status ft_tracker_params_validate(const ft_tracker_params *p, char *err, size_t err_size)
{
    ft_status st = ft_options_check_ranges(ft_tracker_options, p, "tracking", err, err_size);
    if (st != FT_OK)
        return st;
    if (p->measurement_noise_min > p->measurement_noise_max)
        return ft_options_fail(err, err_size,
                               "tracking.measurement_noise_min: %g is above "
                               "measurement_noise_max %g",
                               p->measurement_noise_min, p->measurement_noise_max);
    if (p->gate_chi2 > p->gate_chi2_recovering)
        return ft_options_fail(err, err_size,
                               "tracking.gate_chi2: %g is above gate_chi2_recovering %g",
                               p->gate_chi2, p->gate_chi2_recovering);
    if (p->acquire_window_frames < p->acquire_frames - 1)
        return ft_options_fail(err, err_size,
                               "tracking.acquire_window_frames: %d is below acquire_frames - 1 "
                               "(%d): no path could be confirmed",
                               p->acquire_window_frames, p->acquire_frames - 1);
    if (p->recovering_frames > p->max_lost_frames)
        return ft_options_fail(err, err_size,
                               "tracking.recovering_frames: %d is above max_lost_frames %d",
                               p->recovering_frames, p->max_lost_frames);
    return FT_OK;
}
