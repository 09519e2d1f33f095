/* Synthetic football match: a small match simulation (22 players, a referee
 * and a ball with passes, lofted balls, shots, bounces and restarts) rendered
 * as a camera would see it, with exact per-frame ground truth for the ball.
 * Everything is deterministic for a given seed (own PRNG, no global state):
 * the same params give byte-identical frames and truth on every machine. */
#ifndef FT_TOOLS_SYNTH_H
#define FT_TOOLS_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"

typedef enum ft_synth_scenario {
    FT_SYNTH_WIDE = 0,      /* static high camera at the halfway line (the main use) */
    FT_SYNTH_BROADCAST = 1, /* the same position, panning and zooming after the ball */
    FT_SYNTH_NIGHT = 2,     /* static, floodlit, darker and noisier */
    FT_SYNTH_CUTS = 3,      /* shots of 2-6 s from three cameras, hard cuts between them */
    FT_SYNTH_CLOSEUP = 4,   /* the broadcast camera zoomed in on the ball: 1/27-1/13 of the
                               frame height across, players larger than the frame's half */
    FT_SYNTH_SCENARIO_COUNT
} ft_synth_scenario;

typedef enum ft_synth_visibility {
    FT_SYNTH_VISIBLE = 0,      /* centre in the frame, at most half the disc hidden */
    FT_SYNTH_OCCLUDED = 1,     /* centre in the frame, more than half hidden by players */
    FT_SYNTH_OUT_OF_FRAME = 2, /* centre outside the picture (or behind the camera) */
} ft_synth_visibility;

typedef struct ft_synth_params {
    int width, height; /* frame size, even, 64..7680 x 64..4320 */
    double fps;        /* frames per second, 1..240 */
    uint64_t seed;     /* everything random derives from it */
    ft_synth_scenario scenario;
    bool noise;     /* sensor noise (on by default; tests turn it off for pixel checks) */
    bool draw_ball; /* draw the ball and its shadow (off: a ball-free plate, same seed) */
    bool overlay;   /* a broadcaster's watermark fixed in the frame, bottom right, made of
                       ball-sized white dots (off by default; the match is unchanged) */
} ft_synth_params;

/* Ground truth for one frame. Image coordinates are pixels of the rendered
 * frame, origin at the top-left pixel's corner. */
typedef struct ft_synth_truth {
    int64_t frame;
    double pts;   /* frame / fps, seconds */
    float x, y;   /* ball centre (also when occluded or out of the frame) */
    float radius; /* projected ball radius in pixels */
    ft_synth_visibility vis;
    float ball_z;              /* height of the ball's bottom above the grass, metres */
    int shot;                  /* camera shot number; changes at each cut */
    float cam_pan;             /* camera yaw, degrees (0 looks across the pitch, + to the right) */
    float cam_tilt;            /* camera pitch below the horizon, degrees */
    float cam_focal;           /* focal length in pixels (zoom) */
    float cam_x, cam_y, cam_z; /* camera position in pitch metres (origin at the centre spot) */
} ft_synth_truth;

typedef struct ft_synth ft_synth;

/* Defaults: 1920x1080, 30 fps, seed 1, wide, noise on, ball drawn, no overlay. */
void ft_synth_params_default(ft_synth_params *p);

/* Scenario name ("wide") and lookup by name (-1 when unknown). */
const char *ft_synth_scenario_name(ft_synth_scenario s);
int ft_synth_scenario_from_name(const char *name);
const char *ft_synth_visibility_name(ft_synth_visibility v);
int ft_synth_visibility_from_name(const char *name);

/* Allocates all buffers (nothing is allocated per frame afterwards).
 * FT_ERR_INVALID for out-of-range params. `p` is borrowed; *out returned-owned. */
FT_NODISCARD ft_status ft_synth_create(const ft_synth_params *p, ft_synth **out);

/* Advances the match by one frame and renders it. *frame is a YUV420P view of
 * the generator's own buffer, valid until the next call or destroy. */
FT_NODISCARD ft_status ft_synth_next(ft_synth *s, ft_image *frame, ft_synth_truth *truth);

/* Where the watermark of params.overlay is drawn (whether or not it is on):
 * box = {x0, y0, x1, y1} in frame pixels. `p` is borrowed. */
void ft_synth_overlay_box(const ft_synth_params *p, float box[4]);

/* Frees the generator (NULL allowed) and sets *s to NULL. */
void ft_synth_destroy(ft_synth **s);

#endif
