/* One-Euro filter and PID controller. */
#include "camera/filters.h"

#include <math.h>

double ft_camera_one_euro_alpha(double cutoff_hz, double te)
{
    const double tau = 1.0 / (2.0 * M_PI * cutoff_hz);
    return 1.0 / (1.0 + tau / te);
}

void ft_camera_one_euro_init(ft_camera_one_euro *f)
{
    f->x_hat = 0.0;
    f->x_prev = 0.0;
    f->dx_hat = 0.0;
    f->primed = false;
}

void ft_camera_one_euro_restart(ft_camera_one_euro *f, double x)
{
    f->x_hat = x;
    f->x_prev = x;
    f->dx_hat = 0.0;
    f->primed = true;
}

double ft_camera_one_euro_filter(ft_camera_one_euro *f, double x, double te, double min_cutoff,
                                 double beta, double d_cutoff)
{
    if (!f->primed) {
        ft_camera_one_euro_restart(f, x);
        return x;
    }
    /* Against the previous raw sample, as in the authors' code: against the
     * lagging filtered value the speed (and so the cutoff) would be
     * overestimated by lag / te on every ramp. */
    const double dx = (x - f->x_prev) / te;
    f->x_prev = x;
    f->dx_hat += ft_camera_one_euro_alpha(d_cutoff, te) * (dx - f->dx_hat);
    const double cutoff = ft_camera_one_euro_cutoff(f, min_cutoff, beta);
    f->x_hat += ft_camera_one_euro_alpha(cutoff, te) * (x - f->x_hat);
    return f->x_hat;
}

double ft_camera_one_euro_cutoff(const ft_camera_one_euro *f, double min_cutoff, double beta)
{
    return min_cutoff + beta * fabs(f->dx_hat);
}

void ft_camera_pid_init(ft_camera_pid *c)
{
    c->integral = 0.0;
    c->prev_meas = 0.0;
    c->prev_dt = 0.0;
    c->primed = false;
}

double ft_camera_pid_step(ft_camera_pid *c, const ft_camera_pid_gains *g, double setpoint,
                          double meas, double dt)
{
    /* Rate of the measurement over the previous step (derivative on
     * measurement: a setpoint jump causes no derivative kick). */
    const double rate = c->primed && c->prev_dt > 0.0 ? (meas - c->prev_meas) / c->prev_dt : 0.0;
    const double e = setpoint - meas;
    /* The spec's gains are per frame at ref_fps. The proportional part is
     * compounded exactly (the error left after one reference frame is 1 - kp
     * whatever the frame rate); the integral gain becomes ki * ref_fps^2 per
     * second^2 and the derivative gain stays kd (units/s against units/s). */
    const double a = 1.0 - pow(1.0 - g->kp, dt * g->ref_fps);
    const double ki = g->ki * g->ref_fps * g->ref_fps;
    /* Integral separation: the camera plant already integrates, so the
     * integral is only there to cancel the small lag behind a steadily moving
     * target; integrating the large errors of a pan would leave a slow tail. */
    double integral = fabs(e) <= g->i_band ? c->integral + e * dt : c->integral;
    if (ki > 0.0 && fabs(ki * integral) > g->max_rate)
        integral = copysign(g->max_rate / ki, integral);
    double disp = a * e + (ki * integral - g->kd * rate) * dt;
    const double lim = g->max_rate * dt;
    if (fabs(disp) > lim) {
        disp = copysign(lim, disp);
        /* Conditional integration: while the output is saturated in the
         * direction of the error, integrating would only wind up. */
        if (disp * e > 0.0)
            integral = c->integral;
    }
    c->integral = integral;
    c->prev_meas = meas;
    c->prev_dt = dt;
    c->primed = true;
    return disp;
}
