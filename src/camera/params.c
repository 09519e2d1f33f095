/* The `camera` option table and its defaults and checks. */
#include <string.h>

#include "camera/camera.h"

#define OFF(f) offsetof(ft_camera_params, f)

const ft_option ft_camera_options[] = {
    {"dead_zone", "Fraction of the crop size the aim may move around the centre without a pan",
     FT_OPT_DOUBLE, OFF(dead_zone), "0.1", 0, 0.9, FT_OPT_HOT, NULL, NULL},
    {"anticipation", "Weight of the predicted ball position in the aim (0 = none, 1 = full)",
     FT_OPT_DOUBLE, OFF(anticipation), "0.5", 0, 2, FT_OPT_HOT, NULL, NULL},
    {"zoom_padding", "Crop half-size is at least this multiple of the ball's 3-sigma uncertainty",
     FT_OPT_DOUBLE, OFF(zoom_padding), "1.5", 1, 10, FT_OPT_HOT, NULL, NULL},
    {"smoothing_min_cutoff", "One-Euro minimum cutoff fc_min, Hz", FT_OPT_DOUBLE,
     OFF(smoothing_min_cutoff), "0.6", 0.001, 100, FT_OPT_HOT, NULL, NULL},
    {"smoothing_beta", "One-Euro speed coefficient beta, per px/s at 1080p", FT_OPT_DOUBLE,
     OFF(smoothing_beta), "0.004", 0, 10, FT_OPT_HOT, NULL, NULL},
    {"use_pid", "Position the camera with a PID per axis (else follow the smoothed aim)",
     FT_OPT_BOOL, OFF(use_pid), "true", 0, 0, FT_OPT_HOT, NULL, NULL},
    {"prediction_steps", "Look-ahead of the trajectory predictor, frames at 30 fps", FT_OPT_INT,
     OFF(prediction_steps), "5", 0, 300, FT_OPT_HOT, NULL, NULL},
    {"smoothing_d_cutoff", "One-Euro derivative cutoff, Hz", FT_OPT_DOUBLE, OFF(smoothing_d_cutoff),
     "1.0", 0.001, 100, FT_OPT_HOT, NULL, NULL},
    {"stable_min_cutoff", "One-Euro fc_min while the tracker's stability lock holds, Hz",
     FT_OPT_DOUBLE, OFF(stable_min_cutoff), "0.08", 0.001, 100, FT_OPT_HOT, NULL, NULL},
    {"chaos_min_cutoff", "One-Euro fc_min in chaos mode (ultra-smoothing), Hz", FT_OPT_DOUBLE,
     OFF(chaos_min_cutoff), "0.1", 0.001, 100, FT_OPT_HOT, NULL, NULL},
    {"beta_speed_ref",
     "Ball speed (px/s at 1080p) that doubles the adaptive beta's velocity factor", FT_OPT_DOUBLE,
     OFF(beta_speed_ref), "500", 1, 1e6, FT_OPT_HOT, NULL, NULL},
    {"beta_jerk_ref", "Aim jerk (px/s^3 at 1080p) that halves the adaptive beta's jerk factor",
     FT_OPT_DOUBLE, OFF(beta_jerk_ref), "50000", 1, 1e9, FT_OPT_HOT, NULL, NULL},
    {"pid_kp", "PID proportional gain: fraction of the error corrected per 30-fps frame",
     FT_OPT_DOUBLE, OFF(pid_kp), "0.8", 0.001, 1, FT_OPT_HOT, NULL, NULL},
    {"pid_ki", "PID integral gain per 30-fps frame (anti-windup)", FT_OPT_DOUBLE, OFF(pid_ki),
     "0.01", 0, 1, FT_OPT_HOT, NULL, NULL},
    {"pid_kd", "PID derivative gain, on the measurement", FT_OPT_DOUBLE, OFF(pid_kd), "0.15", 0, 10,
     FT_OPT_HOT, NULL, NULL},
    {"max_speed_px", "Pan speed limit, px per 30-fps frame at 1080p", FT_OPT_DOUBLE,
     OFF(max_speed_px), "500", 1, 1e5, FT_OPT_HOT, NULL, NULL},
    {"stable_max_speed_px", "Pan speed limit in stability lock, px per 30-fps frame at 1080p",
     FT_OPT_DOUBLE, OFF(stable_max_speed_px), "100", 1, 1e5, FT_OPT_HOT, NULL, NULL},
    {"zoom_min", "Widest zoom (1.0 = the largest crop of the output aspect in the frame)",
     FT_OPT_DOUBLE, OFF(zoom_min), "1.0", 1, 20, FT_OPT_HOT, NULL, NULL},
    {"zoom_max", "Tightest zoom, for a slow, certain ball (2.5: crop 40 % of a 16:9 frame's width)",
     FT_OPT_DOUBLE, OFF(zoom_max), "2.5", 1, 20, FT_OPT_HOT, NULL, NULL},
    {"zoom_speed_ref",
     "Ball speed (px/s at 1080p) at which the speed-driven zoom halves (1500: a pass keeps "
     "about half the frame width)",
     FT_OPT_DOUBLE, OFF(zoom_speed_ref), "1500", 1, 1e6, FT_OPT_HOT, NULL, NULL},
    {"zoom_time_constant", "Time constant of the zoom following its target, s", FT_OPT_DOUBLE,
     OFF(zoom_time_constant), "1.0", 0.01, 100, FT_OPT_HOT, NULL, NULL},
    {"lost_time_constant",
     "When lost: time constant of the zoom-out and the drift to the centre, s", FT_OPT_DOUBLE,
     OFF(lost_time_constant), "3.0", 0.01, 100, FT_OPT_HOT, NULL, NULL},
    {"chaos_time_constant", "In chaos: time constant of the zoom-out to 1.0, s", FT_OPT_DOUBLE,
     OFF(chaos_time_constant), "0.5", 0.01, 100, FT_OPT_HOT, NULL, NULL},
    FT_OPTION_END,
};

void ft_camera_params_default(ft_camera_params *p)
{
    memset(p, 0, sizeof(*p));
    ft_options_set_defaults(ft_camera_options, p);
}

ft_status ft_camera_params_validate(const ft_camera_params *p, char *err, size_t err_size)
{
    ft_status st = ft_options_check_ranges(ft_camera_options, p, "camera", err, err_size);
    if (st != FT_OK)
        return st;
    if (p->zoom_min > p->zoom_max)
        return ft_options_fail(err, err_size, "camera.zoom_min: %g is above zoom_max %g",
                               p->zoom_min, p->zoom_max);
    return FT_OK;
}
