/* Virtual camera: predictor -> One-Euro -> dead zone -> PID -> limits -> zoom
 * -> crop. Motion state is in frame pixels; every per-second or per-frame
 * constant is scaled by the frame height relative to FT_CAMERA_REF_HEIGHT. */
#include "camera/camera.h"

#include <math.h>
#include <stdlib.h>

#include "camera/filters.h"
#include "core/log.h"

struct ft_camera {
    ft_camera_params p;
    double frame_w, frame_h;
    double base_w, base_h; /* largest crop with the output aspect at zoom 1.0 */
    double scale;          /* frame pixels per reference pixel */
    bool has_time;
    double t_prev;
    double cx, cy; /* crop centre */
    double zoom;
    double aim_x, aim_y;     /* last aim (held and drifted while lost) */
    double prev_ax, prev_ay; /* target acceleration of the previous update, px/s^2 */
    ft_camera_one_euro fx, fy;
    ft_camera_pid px, py;
};

ft_status ft_camera_create(const ft_camera_params *p, int frame_w, int frame_h, int out_w,
                           int out_h, ft_camera **cam)
{
    ft_status st = FT_OK;
    ft_camera *c = NULL;
    char err[256];
    if (!p || !cam || frame_w <= 0 || frame_h <= 0 || out_w <= 0 || out_h <= 0) {
        FT_LOGE("camera", "camera: invalid sizes (frame %dx%d, output %dx%d)", frame_w, frame_h,
                out_w, out_h);
        st = FT_ERR_INVALID;
        goto out;
    }
    st = ft_camera_params_validate(p, err, sizeof(err));
    if (st) {
        FT_LOGE("camera", "%s", err);
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    c->p = *p;
    c->frame_w = frame_w;
    c->frame_h = frame_h;
    const double aspect = (double)out_w / out_h;
    if (c->frame_w / c->frame_h > aspect) {
        c->base_h = c->frame_h;
        c->base_w = c->frame_h * aspect;
    } else {
        c->base_w = c->frame_w;
        c->base_h = c->frame_w / aspect;
    }
    c->scale = c->frame_h / FT_CAMERA_REF_HEIGHT;
    c->cx = c->aim_x = 0.5 * c->frame_w;
    c->cy = c->aim_y = 0.5 * c->frame_h;
    c->zoom = p->zoom_min;
    ft_camera_one_euro_init(&c->fx);
    ft_camera_one_euro_init(&c->fy);
    ft_camera_pid_init(&c->px);
    ft_camera_pid_init(&c->py);
out:
    if (cam)
        *cam = st ? NULL : c;
    if (st)
        free(c);
    return st;
}

void ft_camera_destroy(ft_camera **cam)
{
    if (cam && *cam) {
        free(*cam);
        *cam = NULL;
    }
}

ft_status ft_camera_set_params(ft_camera *cam, const ft_camera_params *p)
{
    char err[256];
    if (!cam || !p)
        return FT_ERR_INVALID;
    ft_status st = ft_camera_params_validate(p, err, sizeof(err));
    if (st) {
        FT_LOGE("camera", "%s", err);
        return st;
    }
    cam->p = *p;
    return FT_OK;
}

float ft_camera_zoom(const ft_camera *cam)
{
    return (float)cam->zoom;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The part of offset d beyond a dead band of half-width z. */
static double dead_band(double d, double z)
{
    return d > z ? d - z : d < -z ? d + z : 0.0;
}

/* Exponential approach factor over dt for time constant tc: exact, so the
 * same motion results at any frame rate. */
static double approach(double dt, double tc)
{
    return 1.0 - exp(-dt / tc);
}

static void write_crop(const ft_camera *c, ft_crop *out)
{
    const double w = c->base_w / c->zoom, h = c->base_h / c->zoom;
    out->x = (float)(c->cx - 0.5 * w);
    out->y = (float)(c->cy - 0.5 * h);
    out->w = (float)w;
    out->h = (float)h;
}

/* Keeps the crop of the current zoom inside the frame. */
static void clamp_centre(ft_camera *c)
{
    const double hw = 0.5 * c->base_w / c->zoom, hh = 0.5 * c->base_h / c->zoom;
    c->cx = clampd(c->cx, hw, c->frame_w - hw);
    c->cy = clampd(c->cy, hh, c->frame_h - hh);
}

/* Where the camera should look: the ball extrapolated prediction_steps
 * reference frames ahead with its velocity and acceleration, weighted by
 * anticipation; while lost, a slow drift toward the pitch centre. */
static void update_aim(ft_camera *c, const ft_camera_target *tg, bool valid, bool chaos, double dt)
{
    if (!valid) {
        const double k = approach(dt, c->p.lost_time_constant);
        c->aim_x += (0.5 * c->frame_w - c->aim_x) * k;
        c->aim_y += (0.5 * c->frame_h - c->aim_y) * k;
        return;
    }
    /* In chaos the estimate is suspect: no extrapolation of its motion. */
    const double w = chaos ? 0.0 : c->p.anticipation;
    const double T = c->p.prediction_steps / FT_CAMERA_REF_FPS;
    c->aim_x = clampd(tg->x + w * (tg->vx * T + 0.5 * tg->ax * T * T), 0.0, c->frame_w);
    c->aim_y = clampd(tg->y + w * (tg->vy * T + 0.5 * tg->ay * T * T), 0.0, c->frame_h);
}

/* The spec's adaptive beta: beta x velocity x jerk x stability factors,
 * clipped to [0.5, 3] x beta; returned per frame px/s. */
static double adaptive_beta(ft_camera *c, const ft_camera_target *tg, bool valid, bool stable,
                            double dt)
{
    const double beta = c->p.smoothing_beta;
    double speed = 0.0, jerk = 0.0;
    if (valid) {
        speed = hypot(tg->vx, tg->vy) / c->scale;
        jerk = hypot(tg->ax - c->prev_ax, tg->ay - c->prev_ay) / c->scale / dt;
        c->prev_ax = tg->ax;
        c->prev_ay = tg->ay;
    }
    const double velocity_factor = 1.0 + speed / c->p.beta_speed_ref;
    const double jerk_factor = 1.0 / (1.0 + jerk / c->p.beta_jerk_ref);
    const double stability_factor = stable ? 0.5 : 1.0;
    const double b =
        clampd(beta * velocity_factor * jerk_factor * stability_factor, 0.5 * beta, 3.0 * beta);
    return b / c->scale;
}

/* Zoom target: tighter for a slow, certain ball; never so tight that the
 * crop's half-height is below zoom_padding x 3 sigma. Chaos forces 1.0. */
static double zoom_target(const ft_camera *c, const ft_camera_target *tg, bool valid, bool chaos)
{
    const ft_camera_params *p = &c->p;
    if (chaos)
        return 1.0;
    if (!valid)
        return p->zoom_min;
    const double speed = hypot(tg->vx, tg->vy) / c->scale;
    double z = p->zoom_max / (1.0 + speed / p->zoom_speed_ref);
    const double need = p->zoom_padding * 3.0 * tg->pos_std;
    if (need > 0.0)
        z = fmin(z, 0.5 * c->base_h / need);
    return clampd(z, p->zoom_min, p->zoom_max);
}

ft_status ft_camera_update(ft_camera *c, double t, const ft_camera_target *tg, ft_crop *out)
{
    if (!c || !tg || !out || !isfinite(t) || (c->has_time && t < c->t_prev)) {
        FT_LOGE("camera", "camera update: invalid arguments (t=%g after %g)", t,
                c ? c->t_prev : 0.0);
        return FT_ERR_INVALID;
    }
    const bool valid = tg->flags & FT_CAMERA_TARGET_VALID;
    if (valid && !(isfinite(tg->x) && isfinite(tg->y) && isfinite(tg->vx) && isfinite(tg->vy) &&
                   isfinite(tg->ax) && isfinite(tg->ay) && isfinite(tg->pos_std))) {
        FT_LOGE("camera", "camera update: non-finite target at t=%g", t);
        return FT_ERR_INVALID;
    }
    const bool chaos = tg->flags & FT_CAMERA_TARGET_CHAOS;
    const bool stable = (tg->flags & FT_CAMERA_TARGET_STABLE) && !chaos;
    const ft_camera_params *p = &c->p;

    if (!c->has_time) {
        /* First frame: start on the ball (or the centre) instead of panning
         * in from an arbitrary place. Nothing of it is remembered as a
         * reference afterwards. */
        c->has_time = true;
        c->t_prev = t;
        update_aim(c, tg, valid, chaos, 0.0);
        c->cx = c->aim_x;
        c->cy = c->aim_y;
        clamp_centre(c);
        ft_camera_one_euro_restart(&c->fx, c->cx);
        ft_camera_one_euro_restart(&c->fy, c->cy);
        write_crop(c, out);
        return FT_OK;
    }
    const double dt = t - c->t_prev;
    c->t_prev = t;
    if (dt <= 0.0) {
        write_crop(c, out);
        return FT_OK;
    }
    if (tg->flags & FT_CAMERA_TARGET_NEW) {
        /* A new track: keep the smoothed position (no jump) but forget the
         * old track's velocity and the PID's integral. */
        ft_camera_one_euro_restart(&c->fx, c->fx.x_hat);
        ft_camera_one_euro_restart(&c->fy, c->fy.x_hat);
        c->px.integral = c->py.integral = 0.0;
        c->prev_ax = tg->ax;
        c->prev_ay = tg->ay;
    }
    update_aim(c, tg, valid, chaos, dt);

    /* Zoom first: the dead zone and the reachable range depend on the crop. */
    const double tc = chaos   ? p->chaos_time_constant
                      : valid ? p->zoom_time_constant
                              : p->lost_time_constant;
    c->zoom += (zoom_target(c, tg, valid, chaos) - c->zoom) * approach(dt, tc);

    const double fc_min = chaos    ? p->chaos_min_cutoff
                          : stable ? p->stable_min_cutoff
                                   : p->smoothing_min_cutoff;
    const double beta = chaos ? 0.0 : adaptive_beta(c, tg, valid, stable, dt);
    const double sx =
        ft_camera_one_euro_filter(&c->fx, c->aim_x, dt, fc_min, beta, p->smoothing_d_cutoff);
    const double sy =
        ft_camera_one_euro_filter(&c->fy, c->aim_y, dt, fc_min, beta, p->smoothing_d_cutoff);

    const double hw = 0.5 * c->base_w / c->zoom, hh = 0.5 * c->base_h / c->zoom;
    /* Setpoint: move only by the part of the smoothed aim outside the dead
     * zone, and never beyond the reachable range (else the PID winds up
     * against the frame edge). */
    const double set_x =
        clampd(c->cx + dead_band(sx - c->cx, p->dead_zone * hw), hw, c->frame_w - hw);
    const double set_y =
        clampd(c->cy + dead_band(sy - c->cy, p->dead_zone * hh), hh, c->frame_h - hh);
    const double vmax =
        (stable ? p->stable_max_speed_px : p->max_speed_px) * FT_CAMERA_REF_FPS * c->scale;
    double mx, my;
    if (p->use_pid) {
        /* Integrate only within a tenth of a reference frame's largest pan. */
        const ft_camera_pid_gains g = {p->pid_kp, p->pid_ki,
                                       p->pid_kd, FT_CAMERA_REF_FPS,
                                       vmax,      0.1 * vmax / FT_CAMERA_REF_FPS};
        /* Inside the dead zone the framing is right by definition: nothing
         * left to integrate, and a leftover integral must not drift it. */
        if (set_x == c->cx)
            c->px.integral = 0.0;
        if (set_y == c->cy)
            c->py.integral = 0.0;
        mx = ft_camera_pid_step(&c->px, &g, set_x, c->cx, dt);
        my = ft_camera_pid_step(&c->py, &g, set_y, c->cy, dt);
    } else {
        mx = clampd(set_x - c->cx, -vmax * dt, vmax * dt);
        my = clampd(set_y - c->cy, -vmax * dt, vmax * dt);
    }
    c->cx += mx;
    c->cy += my;
    clamp_centre(c);
    write_crop(c, out);
    return FT_OK;
}
