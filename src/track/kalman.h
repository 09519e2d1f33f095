/* Constant-acceleration Kalman filter over [x, y, vx, vy, ax, ay] with
 * position measurements. F, Q, H and R are block-diagonal per axis, so the
 * 6-state filter is stored and run exactly as two independent 3-state blocks
 * [p, v, a] (the cross-axis covariance stays zero). Units: pixels, seconds. */
#ifndef FT_TRACK_KALMAN_H
#define FT_TRACK_KALMAN_H

typedef struct ft_track_kalman {
    double s[2][3];    /* state per axis (x, y): position, velocity, acceleration */
    double P[2][3][3]; /* covariance per axis */
} ft_track_kalman;

/* Starts at position (x, y) at rest with variances r (position), v_var and a_var. */
void ft_track_kalman_init(ft_track_kalman *k, double x, double y, double r, double v_var,
                          double a_var);

/* Predicts dt seconds ahead (dt >= 0). q is the white-jerk spectral density
 * (px^2/s^5); the discretised Q scales with dt^5..dt, so the behaviour does not
 * depend on the frame rate. */
void ft_track_kalman_predict(ft_track_kalman *k, double dt, double q);

/* Squared Mahalanobis distance of measurement (zx, zy) with measurement
 * variance r (2 degrees of freedom). */
double ft_track_kalman_distance2(const ft_track_kalman *k, double zx, double zy, double r);

/* Position std of the larger axis, px. */
double ft_track_kalman_pos_std(const ft_track_kalman *k);

/* Joseph-form update with measurement (zx, zy), variance r. Returns the
 * normalised innovation squared (the distance before the update). */
double ft_track_kalman_update(ft_track_kalman *k, double zx, double zy, double r);

#endif
