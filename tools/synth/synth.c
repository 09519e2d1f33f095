/* Renderer of the synthetic match: a pinhole camera without roll looks at a
 * textured pitch inside a box of stands; players, goals and the ball are drawn
 * over it in depth order. Because the camera never rolls, every image row is a
 * straight line on the grass, so the ground is sampled with no division per
 * pixel; a static camera's background (pitch, stands, floodlights) is rendered
 * once and copied each frame. */
#include "tools/synth/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/synth/match.h"
#include "render/render.h"

#define WALL_X 62.0f /* stands stand on the box |x| = WALL_X, |y| = WALL_Y */
#define WALL_Y 48.0f
#define STAND_H 22.0f /* height of the stands, metres */
#define GT_PPM 16     /* ground texture resolution, texels per metre */
#define ST_PPM 8      /* stand texture resolution */
#define ST_SEG 130    /* metres of stand texture per wall */
#define LINE_W 0.12f  /* painted line width, metres */
#define NOISE_N 65536
#define MAIN_CAM_X 0.0f
#define MAIN_CAM_Y -45.0f
#define MAIN_CAM_Z 18.0f
#define MAIN_HFOV_DEG 80.0
#define EXPOSURE 0.5f /* shutter open for half a frame: motion blur length */

typedef struct yuv {
    uint8_t y, u, v;
} yuv;

/* A YUV 4:4:4 texture. */
typedef struct tex {
    int w, h;
    uint8_t *p[3];
} tex;

typedef enum cam_kind { CAM_MAIN, CAM_REVERSE, CAM_FOLLOW } cam_kind;

typedef struct camera {
    float px, py, pz; /* position, metres */
    float pan, tilt;  /* radians */
    float focal;      /* pixels */
    float F[3], R[3], U[3];
} camera;

typedef struct palette {
    yuv grass[2], line, sky_top, sky_low, ball, lamp, skin, hair;
    yuv shirt[3], shorts[3], socks[3], gk_shirt[2], boots[4];
    float shadow;      /* luma factor under a shadow */
    float noise_sigma; /* luma noise, code values */
} palette;

typedef struct scr_player {
    float uf, vf, h; /* feet centre and height on screen, pixels */
    float depth;     /* along the optical axis, metres */
    float swing;     /* leg swing, -1..1 */
    int index;
} scr_player;

struct ft_synth {
    ft_synth_params p;
    match m;
    synth_rng rng; /* rendering randomness (noise), separate from the match */
    palette pal;
    tex ground, stand;
    uint8_t *frame, *bg; /* YUV420P buffers */
    camera cam, bg_cam;
    bool bg_valid;
    int8_t *noise;
    int64_t index;
    /* Cameras */
    float base_focal;
    cam_kind shot_kind;
    int shot;
    double shot_end;
    float look_x, look_y, zoom; /* smoothed follow-camera state */
    uint8_t boot_kind[MATCH_PLAYERS];
    scr_player sp[MATCH_PLAYERS];
};

static const char *const scenario_names[] = {"wide", "broadcast", "night", "cuts", "closeup"};
static const char *const vis_names[] = {"visible", "occluded", "out_of_frame"};

const char *ft_synth_scenario_name(ft_synth_scenario s)
{
    return (unsigned)s < FT_SYNTH_SCENARIO_COUNT ? scenario_names[s] : "?";
}

int ft_synth_scenario_from_name(const char *name)
{
    for (int i = 0; i < FT_SYNTH_SCENARIO_COUNT; i++)
        if (!strcmp(name, scenario_names[i]))
            return i;
    return -1;
}

const char *ft_synth_visibility_name(ft_synth_visibility v)
{
    return (unsigned)v < 3 ? vis_names[v] : "?";
}

int ft_synth_visibility_from_name(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, vis_names[i]))
            return i;
    return -1;
}

void ft_synth_params_default(ft_synth_params *p)
{
    *p = (ft_synth_params){.width = 1920,
                           .height = 1080,
                           .fps = 30.0,
                           .seed = 1,
                           .scenario = FT_SYNTH_WIDE,
                           .noise = true,
                           .draw_ball = true};
}

/* ---- colours ---- */

static uint8_t clamp8(float v)
{
    return v < 0.0f ? 0 : v > 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

/* BT.601 limited range, what H.264 players assume for yuv420p. */
static yuv rgb(float r, float g, float b)
{
    return (yuv){clamp8(16.0f + (65.481f * r + 128.553f * g + 24.966f * b) / 255.0f),
                 clamp8(128.0f + (-37.797f * r - 74.203f * g + 112.0f * b) / 255.0f),
                 clamp8(128.0f + (112.0f * r - 93.786f * g - 18.214f * b) / 255.0f)};
}

static yuv scale_luma(yuv c, float k)
{
    return (yuv){clamp8(16.0f + (c.y - 16) * k), c.u, c.v};
}

static yuv mix(yuv a, yuv b, float t)
{
    return (yuv){clamp8(a.y + (b.y - a.y) * t), clamp8(a.u + (b.u - a.u) * t),
                 clamp8(a.v + (b.v - a.v) * t)};
}

/* Kits: shirt, shorts, socks. Whites are on purpose: white shirts, socks and
 * boots are the classic false positives of a ball detector. */
static const float kits[][3][3] = {
    {{200, 30, 35}, {240, 240, 240}, {200, 30, 35}},     /* red, white shorts */
    {{245, 245, 245}, {245, 245, 245}, {245, 245, 245}}, /* all white */
    {{30, 60, 160}, {30, 60, 160}, {240, 240, 240}},     /* blue, white socks */
    {{240, 210, 40}, {20, 20, 20}, {240, 210, 40}},      /* yellow and black */
    {{120, 180, 230}, {245, 245, 245}, {30, 30, 60}},    /* sky blue */
    {{25, 25, 25}, {25, 25, 25}, {245, 245, 245}},       /* black, white socks */
    {{240, 130, 30}, {240, 240, 240}, {240, 130, 30}},   /* orange */
    {{110, 40, 120}, {110, 40, 120}, {240, 240, 240}},   /* purple */
};
#define KIT_COUNT 8

static void palette_init(palette *pal, synth_rng *r, bool night)
{
    float k = night ? 0.5f : 1.0f;
    pal->grass[0] = rgb(58 * k, 128 * k, 46 * k);
    pal->grass[1] = rgb(70 * k, 145 * k, 55 * k);
    pal->line = rgb(232 * k, 234 * k, 230 * k);
    pal->sky_top = night ? rgb(6, 8, 16) : rgb(120, 160, 210);
    pal->sky_low = night ? rgb(22, 24, 36) : rgb(200, 210, 225);
    pal->ball = night ? rgb(225, 225, 220) : rgb(250, 250, 248);
    pal->lamp = night ? rgb(255, 255, 250) : rgb(215, 218, 220);
    pal->skin = rgb(200 * k, 150 * k, 120 * k);
    pal->hair = rgb(40 * k, 30 * k, 25 * k);
    /* Team 0 wears white in half the matches; the other kit differs. */
    int a = (rng_u64(r) & 1) ? 1 : (int)(rng_u64(r) % KIT_COUNT);
    int b = (int)(rng_u64(r) % KIT_COUNT);
    if (b == a)
        b = (b + 3) % KIT_COUNT;
    const int team_kit[2] = {a, b};
    for (int t = 0; t < 2; t++) {
        const float(*c)[3] = kits[team_kit[t]];
        pal->shirt[t] = rgb(c[0][0] * k, c[0][1] * k, c[0][2] * k);
        pal->shorts[t] = rgb(c[1][0] * k, c[1][1] * k, c[1][2] * k);
        pal->socks[t] = rgb(c[2][0] * k, c[2][1] * k, c[2][2] * k);
    }
    pal->shirt[2] = rgb(20 * k, 20 * k, 20 * k); /* referee */
    pal->shorts[2] = pal->shirt[2];
    pal->socks[2] = pal->shirt[2];
    pal->gk_shirt[0] = rgb(60 * k, 200 * k, 80 * k);
    pal->gk_shirt[1] = rgb(230 * k, 100 * k, 180 * k);
    pal->boots[0] = rgb(20 * k, 20 * k, 20 * k);
    pal->boots[1] = rgb(245 * k, 245 * k, 245 * k);
    pal->boots[2] = rgb(240 * k, 90 * k, 20 * k);
    pal->boots[3] = rgb(40 * k, 120 * k, 230 * k);
    pal->shadow = night ? 0.78f : 0.6f;
    pal->noise_sigma = night ? 4.5f : 2.0f;
}

/* ---- textures ---- */

static ft_status tex_alloc(tex *t, int w, int h)
{
    t->w = w;
    t->h = h;
    for (int i = 0; i < 3; i++) {
        t->p[i] = malloc((size_t)w * h);
        if (!t->p[i])
            return FT_ERR_NOMEM;
    }
    return FT_OK;
}

static void tex_free(tex *t)
{
    for (int i = 0; i < 3; i++)
        free(t->p[i]);
}

static void tex_put(tex *t, int x, int y, yuv c)
{
    size_t o = (size_t)y * t->w + x;
    t->p[0][o] = c.y;
    t->p[1][o] = c.u;
    t->p[2][o] = c.v;
}

/* Distance from (x, y) to the segment a-b. */
static float seg_dist(float x, float y, float ax, float ay, float bx, float by)
{
    float dx = bx - ax, dy = by - ay;
    float t = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy);
    t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    return hypotf(x - ax - t * dx, y - ay - t * dy);
}

/* Distance to the painted markings (lines, circle, arcs) and whether the
 * point is on a spot. Markings follow the Laws of the Game. */
static float marking_dist(float x, float y)
{
    const float hx = PITCH_HALF_X, hy = PITCH_HALF_Y;
    float d = fminf(fabsf(fabsf(y) - hy) + (fabsf(x) > hx ? fabsf(x) - hx : 0.0f),
                    fabsf(fabsf(x) - hx) + (fabsf(y) > hy ? fabsf(y) - hy : 0.0f));
    d = fminf(d, fabsf(x) + (fabsf(y) > hy ? fabsf(y) - hy : 0.0f)); /* halfway line */
    d = fminf(d, fabsf(hypotf(x, y) - 9.15f));                       /* centre circle */
    float ax = fabsf(x), ay = fabsf(y);
    /* penalty area 16.5 x 40.32, goal area 5.5 x 18.32 */
    d = fminf(d, seg_dist(ax, ay, hx - 16.5f, 0.0f, hx - 16.5f, 20.16f));
    d = fminf(d, seg_dist(ax, ay, hx - 16.5f, 20.16f, hx, 20.16f));
    d = fminf(d, seg_dist(ax, ay, hx - 5.5f, 0.0f, hx - 5.5f, 9.16f));
    d = fminf(d, seg_dist(ax, ay, hx - 5.5f, 9.16f, hx, 9.16f));
    /* penalty arc: the part of the 9.15 m circle around the spot outside the area */
    if (ax < hx - 16.5f)
        d = fminf(d, fabsf(hypotf(ax - (hx - 11.0f), ay) - 9.15f));
    /* corner arcs */
    d = fminf(d, fabsf(hypotf(ax - hx, ay - hy) - 1.0f) + (ax > hx || ay > hy ? 10.0f : 0.0f));
    return d;
}

/* Cells of 1 m around the pitch that hold part of a marking or spot: most
 * texels are far from every marking and skip the distance computation. */
#define NEAR_HX 56
#define NEAR_HY 38
#define NEAR_W (2 * NEAR_HX)

static void mark_near_cells(bool *near)
{
    for (int cy = 0; cy < 2 * NEAR_HY; cy++)
        for (int cx = 0; cx < NEAR_W; cx++) {
            float x = cx - NEAR_HX + 0.5f, y = cy - NEAR_HY + 0.5f;
            float d = fminf(marking_dist(x, y),
                            fminf(hypotf(x, y), hypotf(fabsf(x) - (PITCH_HALF_X - 11.0f), y)));
            near[cy * NEAR_W + cx] = d < 0.85f; /* half-diagonal 0.71 m + line + margin */
        }
}

static void render_ground(tex *g, const palette *pal, synth_rng *r)
{
    bool near[2 * NEAR_HY * NEAR_W];
    mark_near_cells(near);
    const float stripe = 2.0f * PITCH_HALF_X / 18.0f; /* mowing stripes */
    /* Low-frequency wear: a few random blobs of worn, lighter grass. */
    float wx[6], wy[6];
    for (int i = 0; i < 6; i++) {
        wx[i] = rng_range(r, -45.0f, 45.0f);
        wy[i] = rng_range(r, -25.0f, 25.0f);
    }
    for (int j = 0; j < g->h; j++) {
        float y = WALL_Y - (j + 0.5f) / GT_PPM; /* texture row 0 is the far side */
        for (int i = 0; i < g->w; i++) {
            float x = (i + 0.5f) / GT_PPM - WALL_X;
            int band = (int)floorf((x + PITCH_HALF_X) / stripe);
            yuv c = pal->grass[band & 1];
            float wear = 0.0f;
            for (int k = 0; k < 6; k++) {
                float d2 = (x - wx[k]) * (x - wx[k]) + (y - wy[k]) * (y - wy[k]);
                if (d2 < 150.0f) /* beyond, the blob adds less than 1 % */
                    wear += expf(-d2 / 30.0f);
            }
            c = scale_luma(c, 1.0f + 0.12f * fminf(wear, 1.0f));
            if (fabsf(x) < PITCH_HALF_X + 3.0f && fabsf(y) < PITCH_HALF_Y + 3.0f) {
                if (!near[(int)(y + NEAR_HY) * NEAR_W + (int)(x + NEAR_HX)]) {
                    tex_put(g, i, j, c);
                    continue;
                }
                float d = marking_dist(x, y);
                /* spots: centre and penalty spots, 0.22 m across like a ball */
                float spot = fminf(hypotf(x, y), hypotf(fabsf(x) - (PITCH_HALF_X - 11.0f), y));
                float cov = fminf(1.0f, fmaxf(0.0f, (LINE_W * 0.5f - d) * GT_PPM + 0.5f));
                cov = fmaxf(cov, fminf(1.0f, fmaxf(0.0f, (0.11f - spot) * GT_PPM + 0.5f)));
                if (cov > 0.0f)
                    c = mix(c, pal->line, cov * 0.92f);
            } else {
                c = scale_luma(c, 0.8f); /* the strip around the pitch */
            }
            tex_put(g, i, j, c);
        }
    }
}

/* Stands: advertising boards at the bottom, then rows of seats, some taken by
 * spectators whose shirts and faces are ball-sized blobs at a distance. */
static void render_stand(tex *s, const palette *pal, synth_rng *r, bool night)
{
    float k = night ? 0.45f : 1.0f;
    yuv concrete = rgb(105 * k, 105 * k, 112 * k), seat = rgb(150 * k, 30 * k, 40 * k);
    yuv roof = rgb(60 * k, 62 * k, 70 * k);
    const float board_h = 0.9f, gap_h = 2.5f, row_h = 0.8f, seat_w = 0.5f;
    int board_len = 6 * ST_PPM;
    yuv boards[8];
    for (int i = 0; i < 8; i++)
        boards[i] =
            rgb(rng_range(r, 30, 255) * k, rng_range(r, 30, 255) * k, rng_range(r, 30, 255) * k);
    for (int i = 0; i < s->w; i++)
        for (int j = 0; j < s->h; j++)
            tex_put(s, i, j, concrete);
    for (int i = 0; i < s->w; i++) {
        yuv b = boards[(i / board_len) % 8];
        for (int j = 0; j < (int)(board_h * ST_PPM); j++) {
            /* white lettering blocks on some boards */
            bool letter =
                ((i / board_len) % 3 == 0) && (j % 4 == 1 || j % 4 == 2) && ((i / 3) % 3 != 0);
            tex_put(s, i, s->h - 1 - j, letter ? rgb(240 * k, 240 * k, 240 * k) : b);
        }
    }
    int cols = (int)(s->w / (seat_w * ST_PPM));
    int rows = (int)((STAND_H - gap_h - 1.5f) / row_h);
    for (int row = 0; row < rows; row++) {
        float z0 = gap_h + row * row_h;
        for (int col = 0; col < cols; col++) {
            int x0 = (int)(col * seat_w * ST_PPM);
            int y0 = s->h - 1 - (int)((z0 + row_h) * ST_PPM);
            bool taken = rng_unit(r) < 0.7;
            yuv body = taken ? rgb(rng_range(r, 0, 255) * k, rng_range(r, 0, 255) * k,
                                   rng_range(r, 0, 255) * k)
                             : seat;
            if (taken && rng_unit(r) < 0.2)
                body = rgb(240 * k, 240 * k, 240 * k);
            for (int dy = 0; dy < (int)(row_h * ST_PPM); dy++)
                for (int dx = 0; dx < (int)(seat_w * ST_PPM); dx++) {
                    int x = x0 + dx, y = y0 + dy;
                    if (x >= s->w || y < 0 || y >= s->h)
                        continue;
                    bool head = taken && dy < 2 && dx >= 1 && dx <= 2;
                    bool torso = dy >= 2 && dx < 4 && taken;
                    tex_put(s, x, y, head ? pal->skin : torso ? body : dx == 3 ? concrete : seat);
                }
        }
    }
    for (int i = 0; i < s->w; i++)
        for (int j = 0; j < (int)(1.5f * ST_PPM); j++)
            tex_put(s, i, j, roof);
}

/* Bilinear sample of a texture at texel coordinates (u, v). */
static yuv tex_sample(const tex *t, float u, float v, bool chroma)
{
    u -= 0.5f;
    v -= 0.5f;
    int x0 = (int)floorf(u), y0 = (int)floorf(v);
    float fx = u - x0, fy = v - y0;
    if (x0 < 0) {
        x0 = 0;
        fx = 0.0f;
    }
    if (y0 < 0) {
        y0 = 0;
        fy = 0.0f;
    }
    if (x0 > t->w - 2) {
        x0 = t->w - 2;
        fx = 1.0f;
    }
    if (y0 > t->h - 2) {
        y0 = t->h - 2;
        fy = 1.0f;
    }
    size_t o = (size_t)y0 * t->w + x0;
    yuv out = {0, 128, 128};
    uint8_t *dst[3] = {&out.y, &out.u, &out.v};
    for (int c = 0; c < (chroma ? 3 : 1); c++) {
        const uint8_t *p = t->p[c] + o;
        float top = p[0] + (p[1] - p[0]) * fx;
        float bot = p[t->w] + (p[t->w + 1] - p[t->w]) * fx;
        *dst[c] = (uint8_t)(top + (bot - top) * fy + 0.5f);
    }
    return out;
}

/* ---- camera ---- */

static void camera_setup(camera *c)
{
    float cp = cosf(c->pan), sp = sinf(c->pan), ct = cosf(c->tilt), st = sinf(c->tilt);
    c->F[0] = sp * ct;
    c->F[1] = cp * ct;
    c->F[2] = -st;
    c->R[0] = cp;
    c->R[1] = -sp;
    c->R[2] = 0.0f;
    /* U = R x F */
    c->U[0] = c->R[1] * c->F[2] - c->R[2] * c->F[1];
    c->U[1] = c->R[2] * c->F[0] - c->R[0] * c->F[2];
    c->U[2] = c->R[0] * c->F[1] - c->R[1] * c->F[0];
}

static void camera_look(camera *c, float tx, float ty, float tz)
{
    float dx = tx - c->px, dy = ty - c->py, dz = tz - c->pz;
    c->pan = atan2f(dx, dy);
    c->tilt = atan2f(-dz, hypotf(dx, dy));
    camera_setup(c);
}

/* Projects a world point; returns its depth along the optical axis (<= 0 when
 * behind the camera, then u and v are not set). */
static float project(const camera *c, int w, int h, float x, float y, float z, float *u, float *v)
{
    float d[3] = {x - c->px, y - c->py, z - c->pz};
    float zc = d[0] * c->F[0] + d[1] * c->F[1] + d[2] * c->F[2];
    if (zc <= 0.1f)
        return 0.0f;
    *u = w * 0.5f + c->focal * (d[0] * c->R[0] + d[1] * c->R[1] + d[2] * c->R[2]) / zc;
    *v = h * 0.5f - c->focal * (d[0] * c->U[0] + d[1] * c->U[1] + d[2] * c->U[2]) / zc;
    return zc;
}

/* ---- background ---- */

/* Colour seen along a ray that does not hit the grass: stands or sky. */
static yuv shade_far(const ft_synth *s, const camera *c, const float dir[3], bool chroma)
{
    float tx = dir[0] > 0   ? (WALL_X - c->px) / dir[0]
               : dir[0] < 0 ? (-WALL_X - c->px) / dir[0]
                            : 1e30f;
    float ty = dir[1] > 0   ? (WALL_Y - c->py) / dir[1]
               : dir[1] < 0 ? (-WALL_Y - c->py) / dir[1]
                            : 1e30f;
    float t = fminf(tx, ty);
    float z = c->pz + t * dir[2];
    if (z >= 0.0f && z < STAND_H) {
        float along;
        int seg;
        if (tx < ty) {
            along = c->py + t * dir[1];
            seg = dir[0] > 0 ? 2 : 3;
        } else {
            along = c->px + t * dir[0];
            seg = dir[1] > 0 ? 0 : 1;
        }
        float u = (seg * ST_SEG + along + ST_SEG * 0.5f) * ST_PPM;
        return tex_sample(&s->stand, u, (STAND_H - z) * ST_PPM, chroma);
    }
    float len = sqrtf(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
    float e = fminf(1.0f, fmaxf(0.0f, dir[2] / len * 3.0f));
    return mix(s->pal.sky_low, s->pal.sky_top, e);
}

/* The frame's pixel box covering [fx0, fx1] x [fy0, fy1] (rounded outwards,
 * clipped to the frame; empty when x0 > x1 or y0 > y1). */
static void pixel_box(const ft_synth *s, float fx0, float fy0, float fx1, float fy1, int *x0,
                      int *y0, int *x1, int *y1)
{
    *x0 = (int)floorf(fx0);
    *y0 = (int)floorf(fy0);
    *x1 = (int)ceilf(fx1);
    *y1 = (int)ceilf(fy1);
    if (*x0 < 0)
        *x0 = 0;
    if (*y0 < 0)
        *y0 = 0;
    if (*x1 > s->p.width - 1)
        *x1 = s->p.width - 1;
    if (*y1 > s->p.height - 1)
        *y1 = s->p.height - 1;
}

static void draw_disc(ft_synth *s, uint8_t *buf, float cx, float cy, float r, yuv c, float alpha);

/* Bilinear luma of the ground texture at 16.16 fixed-point texel coordinates
 * of the texel-centre grid, clamped to the texture. */
static inline int ground_luma(const tex *g, int32_t u, int32_t v)
{
    int x0 = u >> 16, y0 = v >> 16;
    int fx = (u >> 8) & 255, fy = (v >> 8) & 255;
    if (x0 < 0 || x0 > g->w - 2 || y0 < 0 || y0 > g->h - 2) {
        x0 = x0 < 0 ? 0 : x0 > g->w - 2 ? g->w - 2 : x0;
        y0 = y0 < 0 ? 0 : y0 > g->h - 2 ? g->h - 2 : y0;
        fx = fy = 0;
    }
    const uint8_t *p = g->p[0] + (size_t)y0 * g->w + x0;
    int top = p[0] * 256 + (p[1] - p[0]) * fx;
    int bot = p[g->w] * 256 + (p[g->w + 1] - p[g->w]) * fx;
    return top * 256 + (bot - top) * fy; /* luma << 16 */
}

#define SUB_MAX 4

static void render_background(ft_synth *s, const camera *c)
{
    const int W = s->p.width, H = s->p.height;
    uint8_t *Y = s->bg, *Ub = s->bg + (size_t)W * H, *Vb = Ub + (size_t)W * H / 4;
    for (int j = 0; j < H; j++) {
        bool crow = (j & 1) == 0;
        /* dir(i) = A + i * R, and R has no z: the row's ground hit is linear in i. */
        float A[3];
        for (int k = 0; k < 3; k++)
            A[k] =
                c->F[k] * c->focal + c->R[k] * (0.5f - W * 0.5f) - c->U[k] * (j + 0.5f - H * 0.5f);
        /* Rows seen at a grazing angle cover many texels: average sub-rows,
         * each again a straight line of texels (start u0, v0; step du, dv). */
        int sub = 1;
        float u0[SUB_MAX], v0[SUB_MAX], du[SUB_MAX], dv[SUB_MAX];
        if (A[2] < 0.0f) {
            float t0 = -c->pz / A[2];
            float A2 = A[2] - c->U[2];
            float t1 = A2 < 0.0f ? -c->pz / A2 : t0 * 4.0f;
            float dy = fabsf(t1 * (A[1] - c->U[1]) - t0 * A[1]);
            float dx = fabsf(t1 * (A[0] - c->U[0]) - t0 * A[0]);
            float foot = fmaxf(dx, dy) * GT_PPM;
            sub = foot > 1.5f ? (foot > 3.0f ? (foot > 4.5f ? 4 : 3) : 2) : 1;
            for (int k = 0; k < sub; k++) {
                float o = (k + 0.5f) / sub - 0.5f;
                float dz = A[2] - c->U[2] * o;
                float t = dz < 0.0f ? -c->pz / dz : t0;
                u0[k] = (c->px + t * (A[0] - c->U[0] * o) + WALL_X) * GT_PPM;
                v0[k] = (WALL_Y - (c->py + t * (A[1] - c->U[1] * o))) * GT_PPM;
                du[k] = t * c->R[0] * GT_PPM;
                dv[k] = -t * c->R[1] * GT_PPM;
            }
        }
        const float gw = 2.0f * WALL_X * GT_PPM, gh = 2.0f * WALL_Y * GT_PPM;
        /* Fixed-point stepping along the row (texel centres at .5). */
        int32_t fu[SUB_MAX], fv[SUB_MAX], fdu[SUB_MAX], fdv[SUB_MAX];
        for (int k = 0; k < sub; k++) {
            fu[k] = (int32_t)lrintf((u0[k] - 0.5f) * 65536.0f);
            fv[k] = (int32_t)lrintf((v0[k] - 0.5f) * 65536.0f);
            fdu[k] = (int32_t)lrintf(du[k] * 65536.0f);
            fdv[k] = (int32_t)lrintf(dv[k] * 65536.0f);
        }
        const tex *g = &s->ground;
        const int64_t recip = 65536 / sub; /* no integer division in the loop */
        /* The texel coordinates are linear in i, so the pixels that see the
         * grass form one span [i0, i1) found without a per-pixel test. */
        int i0 = W, i1 = W;
        if (A[2] < 0.0f) {
            int m = sub / 2;
            double lo = 0.0, hi = W;
            const double a[2] = {u0[m], v0[m]}, b[2] = {du[m], dv[m]}, top[2] = {gw, gh};
            for (int k = 0; k < 2; k++) {
                if (b[k] == 0.0) {
                    if (!(a[k] > 0.0 && a[k] < top[k]))
                        hi = lo;
                    continue;
                }
                double e0 = (0.0 - a[k]) / b[k], e1 = (top[k] - a[k]) / b[k];
                lo = fmax(lo, fmin(e0, e1));
                hi = fmin(hi, fmax(e0, e1));
            }
            if (hi > lo) {
                i0 = (int)ceil(lo);
                i1 = (int)ceil(hi);
                i1 = i1 > W ? W : i1;
            }
        }
        uint8_t *yrow = Y + (size_t)j * W;
        for (int i = 0; i < W; i++) {
            if (i == i0) { /* the grass span */
                if (sub == 1) {
                    for (; i < i1; i++)
                        yrow[i] =
                            (uint8_t)((ground_luma(g, fu[0] + i * fdu[0], fv[0] + i * fdv[0]) +
                                       (1 << 15)) >>
                                      16);
                } else {
                    for (; i < i1; i++) {
                        int acc = 0;
                        for (int k = 0; k < sub; k++)
                            acc += ground_luma(g, fu[k] + i * fdu[k], fv[k] + i * fdv[k]) >> 8;
                        yrow[i] = (uint8_t)(((int64_t)acc * recip + (1 << 23)) >> 24);
                    }
                }
                if (crow) {
                    int m = sub / 2;
                    for (int k = (i0 + 1) & ~1; k < i1; k += 2) {
                        int cu = (int)(u0[m] + k * du[m]), cv = (int)(v0[m] + k * dv[m]);
                        cu = cu < 0 ? 0 : cu >= g->w ? g->w - 1 : cu;
                        cv = cv < 0 ? 0 : cv >= g->h ? g->h - 1 : cv;
                        size_t o = (size_t)cv * g->w + cu;
                        Ub[(size_t)(j / 2) * (W / 2) + k / 2] = g->p[1][o];
                        Vb[(size_t)(j / 2) * (W / 2) + k / 2] = g->p[2][o];
                    }
                }
                if (i >= W)
                    break;
            }
            bool cc = crow && (i & 1) == 0;
            float dir[3] = {A[0] + i * c->R[0], A[1] + i * c->R[1], A[2]};
            yuv col = shade_far(s, c, dir, cc);
            yrow[i] = col.y;
            if (cc) {
                Ub[(size_t)(j / 2) * (W / 2) + i / 2] = col.u;
                Vb[(size_t)(j / 2) * (W / 2) + i / 2] = col.v;
            }
        }
    }
    /* Floodlight banks on the roofs of both long stands: bright, round and
     * small at a distance, a classic false positive for a ball detector. */
    bool night = s->p.scenario == FT_SYNTH_NIGHT;
    for (int side = -1; side <= 1; side += 2)
        for (int bank = -2; bank <= 2; bank++)
            for (int row = 0; row < 2; row++)
                for (int col = 0; col < 5; col++) {
                    float u, v;
                    float lx = bank * 24.0f + (col - 2) * 0.9f, lz = STAND_H + 1.0f + row * 0.9f;
                    float zc = project(c, W, H, lx, side * WALL_Y, lz, &u, &v);
                    if (zc <= 0.0f)
                        continue;
                    float r = 0.35f * c->focal / zc;
                    if (night)
                        draw_disc(s, s->bg, u, v, r * 4.0f, s->pal.lamp, 0.25f);
                    draw_disc(s, s->bg, u, v, r, s->pal.lamp, 1.0f);
                }
    s->bg_cam = *c;
    s->bg_valid = true;
}

/* ---- drawing primitives on a YUV420P buffer ---- */

static void blend_px(ft_synth *s, uint8_t *buf, int x, int y, yuv c, float a)
{
    const int W = s->p.width, H = s->p.height;
    uint8_t *py = buf + (size_t)y * W + x;
    *py = clamp8(*py + (c.y - *py) * a);
    if (((x | y) & 1) == 0) {
        size_t o = (size_t)W * H + (size_t)(y / 2) * (W / 2) + x / 2;
        buf[o] = clamp8(buf[o] + (c.u - buf[o]) * a);
        o += (size_t)W * H / 4;
        buf[o] = clamp8(buf[o] + (c.v - buf[o]) * a);
    }
}

static void draw_disc(ft_synth *s, uint8_t *buf, float cx, float cy, float r, yuv c, float alpha)
{
    int x0, y0, x1, y1;
    pixel_box(s, cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1, &x0, &y0, &x1, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float d = hypotf(x + 0.5f - cx, y + 0.5f - cy);
            float cov = fminf(1.0f, fmaxf(0.0f, r + 0.5f - d));
            if (cov > 0.0f)
                blend_px(s, buf, x, y, c, cov * alpha);
        }
}

/* Darkens an ellipse on the ground (a shadow); rx, ry in pixels. */
static void draw_shadow(ft_synth *s, float cx, float cy, float rx, float ry, float k)
{
    int x0, y0, x1, y1;
    pixel_box(s, cx - rx, cy - ry, cx + rx, cy + ry, &x0, &y0, &x1, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float dx = (x + 0.5f - cx) / rx, dy = (y + 0.5f - cy) / ry;
            float d2 = dx * dx + dy * dy;
            if (d2 < 1.0f) {
                uint8_t *p = s->frame + (size_t)y * s->p.width + x;
                float f = 1.0f - (1.0f - k) * fminf(1.0f, (1.0f - d2) * 3.0f);
                *p = clamp8(16.0f + (*p - 16) * f);
            }
        }
}

/* Thick anti-aliased segment (goal frame). */
static void draw_segment(ft_synth *s, float ax, float ay, float bx, float by, float w, yuv c)
{
    int x0, y0, x1, y1;
    pixel_box(s, fminf(ax, bx) - w - 1, fminf(ay, by) - w - 1, fmaxf(ax, bx) + w + 1,
              fmaxf(ay, by) + w + 1, &x0, &y0, &x1, &y1);
    if (hypotf(bx - ax, by - ay) < 1e-3f)
        return;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float d = seg_dist(x + 0.5f, y + 0.5f, ax, ay, bx, by);
            float cov = fminf(1.0f, fmaxf(0.0f, w * 0.5f + 0.5f - d));
            if (cov > 0.0f)
                blend_px(s, s->frame, x, y, c, cov);
        }
}

/* ---- players ---- */

/* Whether screen point (x, y) is on player sp, and its colour. The body is
 * built from simple parts in units of the on-screen height. */
static bool player_sample(const ft_synth *s, const scr_player *sp, float x, float y, yuv *out)
{
    float h = sp->h;
    float rx = (x - sp->uf) / h, ry = (y - (sp->vf - h)) / h;
    if (ry < 0.0f || ry > 1.0f || fabsf(rx) > 0.3f)
        return false;
    const match_player *p = &s->m.p[sp->index];
    int team = p->team;
    yuv shirt = p->keeper ? s->pal.gk_shirt[team] : s->pal.shirt[team];
    float hd = hypotf(rx, ry - 0.07f);
    if (hd < 0.065f) {
        *out = ry < 0.04f ? s->pal.hair : s->pal.skin;
        return true;
    }
    float sw = sp->swing;
    if (ry >= 0.13f && ry < 0.5f) {
        if (fabsf(rx) < 0.115f + 0.02f * (0.5f - ry)) {
            *out = shirt;
            return true;
        }
        /* arms swing against the legs */
        float arm_x = 0.15f + 0.02f * sw * (ry - 0.15f);
        if (ry < 0.45f && fabsf(fabsf(rx) - arm_x) < 0.03f) {
            *out = ry < 0.25f ? shirt : s->pal.skin;
            return true;
        }
    }
    if (ry >= 0.5f && ry < 0.62f && fabsf(rx) < 0.125f) {
        *out = s->pal.shorts[team];
        return true;
    }
    for (int leg = -1; leg <= 1; leg += 2) {
        float hx = leg * 0.055f;
        float fx = hx + leg * sw * 0.13f;
        float d = seg_dist(rx, ry, hx, 0.62f, fx, 0.975f);
        if (d < 0.042f) {
            float t = (ry - 0.62f) / 0.355f;
            *out = t < 0.48f   ? s->pal.skin
                   : t < 0.88f ? s->pal.socks[team]
                               : s->pal.boots[s->boot_kind[sp->index]];
            return true;
        }
    }
    return false;
}

static void draw_player(ft_synth *s, const scr_player *sp)
{
    float h = sp->h;
    int x0, y0, x1, y1;
    pixel_box(s, sp->uf - 0.3f * h, sp->vf - h, sp->uf + 0.3f * h, sp->vf, &x0, &y0, &x1, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            yuv c;
            if (player_sample(s, sp, x + 0.5f, y + 0.5f, &c))
                blend_px(s, s->frame, x, y, c, 1.0f);
        }
}

/* ---- ball ---- */

typedef struct scr_ball {
    float u, v, r;        /* centre at the frame time, radius */
    float au, av, bu, bv; /* centre at the start and end of the exposure */
    float depth;
} scr_ball;

static void draw_ball(ft_synth *s, const scr_ball *b)
{
    float len = hypotf(b->bu - b->au, b->bv - b->av);
    int n = (int)ceilf(len / fmaxf(0.5f, b->r * 0.5f)) + 1;
    if (n > 16)
        n = 16;
    float r = b->r;
    int x0, y0, x1, y1;
    pixel_box(s, fminf(b->au, b->bu) - r - 1, fminf(b->av, b->bv) - r - 1,
              fmaxf(b->au, b->bu) + r + 1, fmaxf(b->av, b->bv) + r + 1, &x0, &y0, &x1, &y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float cov = 0.0f, shade = 0.0f;
            for (int k = 0; k < n; k++) {
                float t = n > 1 ? (float)k / (n - 1) : 0.5f;
                float cx = b->au + (b->bu - b->au) * t, cy = b->av + (b->bv - b->av) * t;
                float dy = y + 0.5f - cy;
                float c = fminf(1.0f, fmaxf(0.0f, r + 0.5f - hypotf(x + 0.5f - cx, dy)));
                cov += c;
                /* lit from above: the lower part is darker */
                shade += c * (1.0f - 0.22f * fminf(1.0f, fmaxf(0.0f, dy / r * 0.5f + 0.5f)));
            }
            if (cov <= 0.0f)
                continue;
            blend_px(s, s->frame, x, y, scale_luma(s->pal.ball, shade / cov), cov / n);
        }
}

/* ---- cameras per scenario ---- */

/* The broadcast operator's pan lag, seconds. */
#define BROADCAST_LAG 0.45f
/* The close-up: 6 times the broadcast zoom puts the ball at 1/27 (fast play)
 * to 1/13 (slow play) of a 1080p frame's height at the centre of the pitch,
 * and only a short lag keeps a ball that size in the frame. */
#define CLOSEUP_ZOOM 6.0f
#define CLOSEUP_LAG 0.12f

static void main_camera(const ft_synth *s, camera *c, bool reverse)
{
    c->px = MAIN_CAM_X;
    c->py = reverse ? -MAIN_CAM_Y : MAIN_CAM_Y;
    c->pz = MAIN_CAM_Z;
    c->focal = s->base_focal;
    camera_look(c, 0.0f, reverse ? -2.0f : 2.0f, 0.0f);
}

/* A camera operator: pans after the ball with a lag of `lag` seconds, zooms
 * in when play is slow and out when the ball moves fast, `zoom` times as far
 * as the broadcast camera. `reset` frames the ball at once. */
static void follow_camera(ft_synth *s, camera *c, float dt, bool reset, float zoom, float lag)
{
    const match_ball *b = &s->m.ball;
    float speed = hypotf(b->vx, b->vy);
    float want_zoom = fminf(2.6f, fmaxf(1.3f, 2.6f - speed * 0.07f)) * zoom;
    if (reset) {
        s->look_x = b->x;
        s->look_y = b->y;
        s->zoom = want_zoom;
    } else {
        float a = 1.0f - expf(-dt / lag), az = 1.0f - expf(-dt / 1.5f);
        s->look_x += (b->x - s->look_x) * a;
        s->look_y += (b->y - s->look_y) * a;
        s->zoom += (want_zoom - s->zoom) * az;
    }
    c->px = MAIN_CAM_X;
    c->py = MAIN_CAM_Y;
    c->pz = MAIN_CAM_Z;
    c->focal = s->base_focal * s->zoom;
    camera_look(c, s->look_x, s->look_y, 0.0f);
}

static void choose_camera(ft_synth *s, double t, float dt)
{
    switch (s->p.scenario) {
    case FT_SYNTH_WIDE:
    case FT_SYNTH_NIGHT:
        main_camera(s, &s->cam, false);
        return;
    case FT_SYNTH_BROADCAST:
        follow_camera(s, &s->cam, dt, s->index == 0, 1.0f, BROADCAST_LAG);
        return;
    case FT_SYNTH_CLOSEUP:
        follow_camera(s, &s->cam, dt, s->index == 0, CLOSEUP_ZOOM, CLOSEUP_LAG);
        return;
    case FT_SYNTH_CUTS:
        break;
    case FT_SYNTH_SCENARIO_COUNT:
        break;
    }
    bool cut = s->index == 0 || t >= s->shot_end;
    if (cut) {
        if (s->index > 0) {
            s->shot++;
            s->shot_kind = (cam_kind)((s->shot_kind + 1 + (rng_u64(&s->rng) & 1)) % 3);
        }
        s->shot_end = t + rng_range(&s->rng, 2.0f, 6.0f);
    }
    if (s->shot_kind == CAM_FOLLOW)
        follow_camera(s, &s->cam, dt, cut, 1.0f, BROADCAST_LAG);
    else
        main_camera(s, &s->cam, s->shot_kind == CAM_REVERSE);
}

/* ---- public ---- */

ft_status ft_synth_create(const ft_synth_params *p, ft_synth **out)
{
    *out = NULL;
    if (p->width < 64 || p->width > 7680 || p->height < 64 || p->height > 4320 || (p->width & 1) ||
        (p->height & 1) || !(p->fps >= 1.0 && p->fps <= 240.0) ||
        (unsigned)p->scenario >= FT_SYNTH_SCENARIO_COUNT)
        return FT_ERR_INVALID;
    ft_status st = FT_OK;
    ft_synth *s = calloc(1, sizeof(*s));
    if (!s)
        return FT_ERR_NOMEM;
    s->p = *p;
    match_init(&s->m, p->seed);
    s->rng.s = p->seed ^ 0x5851f42d4c957f2dull;
    bool night = p->scenario == FT_SYNTH_NIGHT;
    palette_init(&s->pal, &s->rng, night);
    for (int i = 0; i < MATCH_PLAYERS; i++) {
        double r = rng_unit(&s->rng);
        s->boot_kind[i] = r < 0.45 ? 0 : r < 0.7 ? 1 : r < 0.85 ? 2 : 3;
    }
    size_t fsz = (size_t)p->width * p->height * 3 / 2;
    s->frame = malloc(fsz);
    s->bg = malloc(fsz);
    s->noise = malloc(NOISE_N + (size_t)p->width);
    if (!s->frame || !s->bg || !s->noise) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    st = tex_alloc(&s->ground, (int)(2 * WALL_X * GT_PPM), (int)(2 * WALL_Y * GT_PPM));
    if (!st)
        st = tex_alloc(&s->stand, 4 * ST_SEG * ST_PPM, (int)(STAND_H * ST_PPM));
    if (st)
        goto out;
    render_ground(&s->ground, &s->pal, &s->rng);
    render_stand(&s->stand, &s->pal, &s->rng, night);
    /* Gaussian noise table (Box-Muller), indexed from a random offset per row. */
    for (size_t i = 0; i < NOISE_N + (size_t)p->width; i++) {
        double u1 = rng_unit(&s->rng) + 1e-12, u2 = rng_unit(&s->rng);
        double g = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * s->pal.noise_sigma;
        s->noise[i] = (int8_t)(g < -127 ? -127 : g > 127 ? 127 : lrint(g));
    }
    s->base_focal = (float)(p->width * 0.5 / tan(MAIN_HFOV_DEG * 0.5 * 3.14159265358979 / 180.0));
    s->shot_kind = CAM_MAIN;
out:
    if (st)
        ft_synth_destroy(&s);
    *out = s;
    return st;
}

void ft_synth_destroy(ft_synth **ps)
{
    if (!ps || !*ps)
        return;
    ft_synth *s = *ps;
    tex_free(&s->ground);
    tex_free(&s->stand);
    free(s->frame);
    free(s->bg);
    free(s->noise);
    free(s);
    *ps = NULL;
}

static bool same_camera(const camera *a, const camera *b)
{
    return a->px == b->px && a->py == b->py && a->pz == b->pz && a->pan == b->pan &&
           a->tilt == b->tilt && a->focal == b->focal;
}

static int cmp_depth_desc(const void *a, const void *b)
{
    float da = ((const scr_player *)a)->depth, db = ((const scr_player *)b)->depth;
    return da < db   ? 1
           : da > db ? -1
                     : ((const scr_player *)a)->index - ((const scr_player *)b)->index;
}

static void add_noise(ft_synth *s)
{
    const int W = s->p.width, H = s->p.height;
    for (int j = 0; j < H; j++) {
        const int8_t *n = s->noise + (rng_u64(&s->rng) % NOISE_N);
        uint8_t *row = s->frame + (size_t)j * W;
        for (int i = 0; i < W; i++) {
            int v = row[i] + n[i];
            row[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* A broadcaster's watermark: text in the renderer's 5x7 font, each font
 * pixel a ball-sized white dot, blended over the picture after the camera
 * (no sensor noise on it) at a fixed place in the frame. When the camera
 * pans, it stays put while the pitch under it moves, which is what the
 * detector must not mistake for a moving ball. */
static const char overlay_text[] = "SYNTH.FC 1:0";

void ft_synth_overlay_box(const ft_synth_params *p, float box[4])
{
    const float pitch = (float)p->height / 160.0f;
    box[2] = (float)p->width * 0.97f;
    box[3] = (float)p->height * 0.94f;
    box[0] = box[2] - (float)(sizeof(overlay_text) - 1) * 6.0f * pitch;
    box[1] = box[3] - 7.0f * pitch;
}

static void draw_overlay(ft_synth *s)
{
    const yuv white = {235, 128, 128};
    const float pitch = (float)s->p.height / 160.0f;
    float box[4];
    ft_synth_overlay_box(&s->p, box);
    const float x0 = box[0], y0 = box[1];
    for (size_t k = 0; overlay_text[k]; k++) {
        const uint8_t *g = ft_render_font_glyph(overlay_text[k]);
        for (int row = 0; g && row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col))
                    draw_disc(s, s->frame, x0 + ((float)k * 6.0f + (float)col + 0.5f) * pitch,
                              y0 + ((float)row + 0.5f) * pitch, 0.42f * pitch, white, 0.8f);
    }
}

/* Goal frames: posts and crossbar, drawn in depth order with the players. */
static void draw_goal(ft_synth *s, int side)
{
    const camera *c = &s->cam;
    const int W = s->p.width, H = s->p.height;
    float gx = side * PITCH_HALF_X;
    float pts[4][3] = {{gx, -GOAL_HALF_W, 0},
                       {gx, -GOAL_HALF_W, GOAL_H},
                       {gx, GOAL_HALF_W, GOAL_H},
                       {gx, GOAL_HALF_W, 0}};
    float u[4], v[4], zc[4];
    for (int k = 0; k < 4; k++) {
        zc[k] = project(c, W, H, pts[k][0], pts[k][1], pts[k][2], &u[k], &v[k]);
        if (zc[k] <= 0.0f)
            return;
    }
    float w = 0.12f * c->focal / zc[1];
    for (int k = 0; k < 3; k++)
        draw_segment(s, u[k], v[k], u[k + 1], v[k + 1], w, s->pal.line);
}

ft_status ft_synth_next(ft_synth *s, ft_image *frame, ft_synth_truth *truth)
{
    const int W = s->p.width, H = s->p.height;
    const float dt = (float)(1.0 / s->p.fps);
    double t = (double)s->index / s->p.fps;
    if (s->index > 0)
        match_step(&s->m, dt);
    choose_camera(s, t, dt);
    const camera *c = &s->cam;
    if (!s->bg_valid || !same_camera(c, &s->bg_cam))
        render_background(s, c);
    memcpy(s->frame, s->bg, (size_t)W * H * 3 / 2);

    /* Sun (or the main floodlight at night) casts shadows towards +x, -y. */
    const float sun_x = 0.45f, sun_y = -0.3f;
    const match_ball *mb = &s->m.ball;

    /* Players on screen, sorted far to near. */
    int n = 0;
    for (int i = 0; i < MATCH_PLAYERS; i++) {
        const match_player *p = &s->m.p[i];
        float uf, vf, uh, vh;
        float zc = project(c, W, H, p->x, p->y, 0.0f, &uf, &vf);
        if (zc <= 0.0f || project(c, W, H, p->x, p->y, p->height, &uh, &vh) <= 0.0f)
            continue;
        float hgt = vf - vh;
        if (hgt < 2.0f || uf < -hgt || uf > W + hgt || vh > H || vf < 0)
            continue;
        float speed = hypotf(p->vx, p->vy);
        s->sp[n] = (scr_player){.uf = uf,
                                .vf = vf,
                                .h = hgt,
                                .depth = zc,
                                .swing = sinf(p->phase) * fminf(1.0f, speed / 3.0f),
                                .index = i};
        /* shadow */
        float su, sv;
        if (project(c, W, H, p->x + sun_x * 0.8f, p->y + sun_y * 0.8f, 0.0f, &su, &sv) > 0.0f) {
            float ppm = c->focal / zc;
            float flat = fmaxf(0.15f, c->pz / hypotf(c->pz, zc));
            draw_shadow(s, su, sv, 0.5f * ppm, 0.5f * ppm * flat, s->pal.shadow);
        }
        n++;
    }
    qsort(s->sp, (size_t)n, sizeof(s->sp[0]), cmp_depth_desc);

    /* Ball: centre at the frame time; blur over the exposure. */
    scr_ball sb = {0};
    float bz = mb->z + BALL_R;
    sb.depth = project(c, W, H, mb->x, mb->y, bz, &sb.u, &sb.v);
    bool in_front = sb.depth > 0.0f;
    if (in_front) {
        sb.r = BALL_R * c->focal / sb.depth;
        float e = EXPOSURE * dt * 0.5f;
        float a_u, a_v, b_u, b_v;
        if (project(c, W, H, mb->x - mb->vx * e, mb->y - mb->vy * e, bz - mb->vz * e, &a_u, &a_v) >
                0.0f &&
            project(c, W, H, mb->x + mb->vx * e, mb->y + mb->vy * e, bz + mb->vz * e, &b_u, &b_v) >
                0.0f) {
            sb.au = a_u;
            sb.av = a_v;
            sb.bu = b_u;
            sb.bv = b_v;
        } else {
            sb.au = sb.bu = sb.u;
            sb.av = sb.bv = sb.v;
        }
        if (s->p.draw_ball) {
            float su, sv;
            float zs = project(c, W, H, mb->x + sun_x * bz, mb->y + sun_y * bz, 0.0f, &su, &sv);
            if (zs > 0.0f) {
                float ppm = c->focal / zs;
                float flat = fmaxf(0.15f, c->pz / hypotf(c->pz, zs));
                float k = s->pal.shadow + (1.0f - s->pal.shadow) * fminf(1.0f, mb->z / 8.0f);
                draw_shadow(s, su, sv, 0.13f * ppm, 0.13f * ppm * flat, k);
            }
        }
    }

    /* Depth order: goals are far objects at the pitch ends. */
    float goal_depth[2];
    for (int g = 0; g < 2; g++) {
        float u, v;
        goal_depth[g] = project(c, W, H, (g ? 1 : -1) * PITCH_HALF_X, 0.0f, 1.0f, &u, &v);
    }
    bool ball_drawn = !(in_front && s->p.draw_ball);
    bool goal_drawn[2] = {goal_depth[0] <= 0.0f, goal_depth[1] <= 0.0f};
    for (int k = 0; k <= n; k++) {
        float d = k < n ? s->sp[k].depth : -1.0f;
        for (int g = 0; g < 2; g++)
            if (!goal_drawn[g] && goal_depth[g] > d) {
                draw_goal(s, g ? 1 : -1);
                goal_drawn[g] = true;
            }
        if (!ball_drawn && sb.depth > d) {
            draw_ball(s, &sb);
            ball_drawn = true;
        }
        if (k < n)
            draw_player(s, &s->sp[k]);
    }

    /* Truth: visibility from the disc pixels hidden by nearer players. */
    ft_synth_visibility vis = FT_SYNTH_OUT_OF_FRAME;
    if (in_front && sb.u >= 0.0f && sb.u < W && sb.v >= 0.0f && sb.v < H) {
        int total = 0, hidden = 0;
        float r = fmaxf(sb.r, 0.5f);
        for (int y = (int)floorf(sb.v - r); y <= (int)ceilf(sb.v + r); y++)
            for (int x = (int)floorf(sb.u - r); x <= (int)ceilf(sb.u + r); x++) {
                if (hypotf(x + 0.5f - sb.u, y + 0.5f - sb.v) > r || x < 0 || y < 0 || x >= W ||
                    y >= H)
                    continue;
                total++;
                for (int k = 0; k < n; k++) {
                    yuv col;
                    if (s->sp[k].depth < sb.depth &&
                        player_sample(s, &s->sp[k], x + 0.5f, y + 0.5f, &col)) {
                        hidden++;
                        break;
                    }
                }
            }
        vis = (total == 0 || hidden * 2 > total) ? FT_SYNTH_OCCLUDED : FT_SYNTH_VISIBLE;
    }

    if (s->p.noise)
        add_noise(s);
    if (s->p.overlay)
        draw_overlay(s);

    *truth = (ft_synth_truth){.frame = s->index,
                              .pts = t,
                              .x = sb.u,
                              .y = sb.v,
                              .radius = sb.r,
                              .vis = vis,
                              .ball_z = mb->z,
                              .shot = s->shot,
                              .cam_pan = c->pan * 57.29578f,
                              .cam_tilt = c->tilt * 57.29578f,
                              .cam_focal = c->focal,
                              .cam_x = c->px,
                              .cam_y = c->py,
                              .cam_z = c->pz};
    *frame = (ft_image){
        .width = W,
        .height = H,
        .format = FT_PIX_YUV420P,
        .data = {s->frame, s->frame + (size_t)W * H, s->frame + (size_t)W * H + (size_t)W * H / 4},
        .stride = {W, W / 2, W / 2}};
    s->index++;
    return FT_OK;
}
