/* The camera's building blocks, usable on their own: the One-Euro filter
 * (Casiez, Roussel, Vogel, CHI 2012) and a PID controller per axis. Storage is
 * caller-owned (init, no destroy); both take the time step of each sample. */
#ifndef FT_CAMERA_FILTERS_H
#define FT_CAMERA_FILTERS_H

#include <stdbool.h>

/* One-Euro filter state for one scalar signal. */
typedef struct ft_camera_one_euro {
    double x_hat;  /* last filtered value */
    double x_prev; /* last raw sample */
    double dx_hat; /* last filtered derivative, units per second */
    bool primed;   /* false until the first sample */
} ft_camera_one_euro;

/* Smoothing factor of the published algorithm: 1 / (1 + tau / te) with
 * tau = 1 / (2 pi cutoff); te is the sample period in seconds. */
double ft_camera_one_euro_alpha(double cutoff_hz, double te);

/* Empties the filter: the next sample passes through unchanged. */
void ft_camera_one_euro_init(ft_camera_one_euro *f);

/* Restarts the filter at value x with a zero derivative (continuity without
 * stale velocity, e.g. after the ball was lost). */
void ft_camera_one_euro_restart(ft_camera_one_euro *f, double x);

/* Filters sample x taken te seconds after the previous one (te > 0) as the
 * authors' reference implementation does: derivative against the previous raw
 * sample, low-passed at d_cutoff; cutoff = min_cutoff + beta |dx|; x
 * low-passed at that cutoff. */
double ft_camera_one_euro_filter(ft_camera_one_euro *f, double x, double te, double min_cutoff,
                                 double beta, double d_cutoff);

/* Cutoff (Hz) the filter used for its last sample given min_cutoff and beta. */
double ft_camera_one_euro_cutoff(const ft_camera_one_euro *f, double min_cutoff, double beta);

/* PID gains. kp, ki, kd are the spec's per-frame gains at ref_fps and are
 * converted so that the behaviour does not depend on the actual frame rate. */
typedef struct ft_camera_pid_gains {
    double kp;       /* fraction of the error corrected per reference frame, (0, 1] */
    double ki;       /* integral gain per reference frame */
    double kd;       /* derivative gain on the measurement (damping) */
    double ref_fps;  /* the rate the gains are stated at */
    double max_rate; /* output limit, units per second (> 0) */
    double i_band;   /* the error is integrated only while |error| <= i_band */
} ft_camera_pid_gains;

/* PID state for one axis. */
typedef struct ft_camera_pid {
    double integral;  /* integral of the error, units x seconds */
    double prev_meas; /* measurement of the previous step */
    double prev_dt;   /* length of the previous step, seconds (0 before one) */
    bool primed;
} ft_camera_pid;

void ft_camera_pid_init(ft_camera_pid *c);

/* One control step of dt seconds (dt > 0) from measurement `meas` toward
 * `setpoint`. Returns the displacement to apply to the measured quantity,
 * limited to +-max_rate*dt. Anti-windup: the error is integrated only near the
 * setpoint (i_band) and not while the output saturates in the direction of the
 * error, and the integral term alone never exceeds max_rate. Derivative on
 * measurement, so setpoint jumps cause no kick. */
double ft_camera_pid_step(ft_camera_pid *c, const ft_camera_pid_gains *g, double setpoint,
                          double meas, double dt);

#endif
