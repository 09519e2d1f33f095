/* Dead zones and the pitch-area mask (see filters.h). */
#include "detect/filters.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The automatic pitch mask lives on a coarse grid: the ball is small compared
 * with a cell, and a coarse grid is cheap enough to refresh every frame. */
enum { GRID_W = 32, GRID_H = 18, CELL_SAMPLES = 4 };

/* A cell is grass when this share of its samples is; the temporal average
 * keeps a passing player from punching a hole in the mask. */
#define GRASS_CELL_FRACTION 0.35f
#define GRASS_EMA 0.3f
/* With fewer grass cells than this the frame shows no pitch we can trust
 * (close-up, replay graphic), and the automatic mask lets everything through. */
#define MIN_GRASS_CELLS 4

struct ft_detect_filter {
    ft_detect_filter_params p;
    int w, h;                      /* size of the last frame seen (0 before the first) */
    bool auto_valid;               /* the automatic mask applies to the last frame */
    bool warned_grey;              /* logged once that a grey frame disables the mask */
    float grass[GRID_H][GRID_W];   /* temporal average of each cell's grass fraction */
    uint8_t pitch[GRID_H][GRID_W]; /* 1 where candidates are allowed */
};

ft_status ft_detect_filter_params_check(const ft_detect_filter_params *p)
{
    if (!p)
        return FT_ERR_INVALID;
    const ft_polygon_set *sets[2] = {&p->dead_zones, &p->pitch_mask};
    const char *names[2] = {"dead_zones", "pitch_mask"};
    for (int s = 0; s < 2; s++) {
        if (sets[s]->count < 0 || sets[s]->count > FT_POLY_MAX) {
            FT_LOGE("detect", "detector.%s: %d polygons (at most %d)", names[s], sets[s]->count,
                    FT_POLY_MAX);
            return FT_ERR_CONFIG;
        }
        for (int i = 0; i < sets[s]->count; i++) {
            const ft_polygon *poly = &sets[s]->poly[i];
            if (poly->n < 3 || poly->n > FT_POLY_MAX_POINTS) {
                FT_LOGE("detect", "detector.%s[%d]: %d points (need 3 to %d)", names[s], i,
                        poly->n, FT_POLY_MAX_POINTS);
                return FT_ERR_CONFIG;
            }
            for (int k = 0; k < poly->n; k++) {
                if (!isfinite(poly->x[k]) || !isfinite(poly->y[k])) {
                    FT_LOGE("detect", "detector.%s[%d]: point %d is not a finite number",
                            names[s], i, k);
                    return FT_ERR_CONFIG;
                }
            }
        }
    }
    return FT_OK;
}

ft_status ft_detect_filter_create(const ft_detect_filter_params *p, ft_detect_filter **out)
{
    ft_status st = FT_OK;
    ft_detect_filter *f = NULL;
    if (!out)
        return FT_ERR_INVALID;
    *out = NULL;
    st = ft_detect_filter_params_check(p);
    if (st)
        goto out;
    f = calloc(1, sizeof(*f));
    if (!f) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    f->p = *p;
    *out = f;
    f = NULL;
out:
    free(f);
    return st;
}

void ft_detect_filter_destroy(ft_detect_filter **f)
{
    if (f && *f) {
        free(*f);
        *f = NULL;
    }
}

ft_status ft_detect_filter_set_params(ft_detect_filter *f, const ft_detect_filter_params *p)
{
    if (!f)
        return FT_ERR_INVALID;
    ft_status st = ft_detect_filter_params_check(p);
    if (st)
        return st;
    f->p = *p;
    return FT_OK;
}

void ft_detect_sample_yuv(const ft_image *im, int x, int y, uint8_t yuv[3])
{
    x = x < 0 ? 0 : (x >= im->width ? im->width - 1 : x);
    y = y < 0 ? 0 : (y >= im->height ? im->height - 1 : y);
    switch (im->format) {
    case FT_PIX_YUV420P:
        yuv[0] = im->data[0][(size_t)y * im->stride[0] + x];
        yuv[1] = im->data[1][(size_t)(y / 2) * im->stride[1] + x / 2];
        yuv[2] = im->data[2][(size_t)(y / 2) * im->stride[2] + x / 2];
        return;
    case FT_PIX_NV12: {
        const uint8_t *uv = im->data[1] + (size_t)(y / 2) * im->stride[1] + (x / 2) * 2;
        yuv[0] = im->data[0][(size_t)y * im->stride[0] + x];
        yuv[1] = uv[0];
        yuv[2] = uv[1];
        return;
    }
    case FT_PIX_RGB24: {
        /* BT.601 limited range, like the decoder's output. */
        const uint8_t *px = im->data[0] + (size_t)y * im->stride[0] + (size_t)x * 3;
        int r = px[0], g = px[1], b = px[2];
        yuv[0] = (uint8_t)((66 * r + 129 * g + 25 * b + 128) / 256 + 16);
        yuv[1] = (uint8_t)((-38 * r - 74 * g + 112 * b + 128) / 256 + 128);
        yuv[2] = (uint8_t)((112 * r - 94 * g - 18 * b + 128) / 256 + 128);
        return;
    }
    case FT_PIX_GRAY8:
        break;
    }
    yuv[0] = im->data[0][(size_t)y * im->stride[0] + x];
    yuv[1] = yuv[2] = 128;
}

/* Even-odd rule; the polygon is scaled to the frame when it is fractional. */
static bool polygon_contains(const ft_polygon *poly, float x, float y, int w, int h)
{
    bool fractional = true;
    for (int k = 0; k < poly->n && fractional; k++)
        fractional = poly->x[k] >= 0.f && poly->x[k] <= 1.f && poly->y[k] >= 0.f &&
                     poly->y[k] <= 1.f;
    float sx = fractional ? (float)w : 1.f, sy = fractional ? (float)h : 1.f;
    bool inside = false;
    for (int i = 0, j = poly->n - 1; i < poly->n; j = i++) {
        float xi = poly->x[i] * sx, yi = poly->y[i] * sy;
        float xj = poly->x[j] * sx, yj = poly->y[j] * sy;
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            inside = !inside;
    }
    return inside;
}

static bool set_contains(const ft_polygon_set *set, float x, float y, int w, int h)
{
    for (int i = 0; i < set->count; i++)
        if (polygon_contains(&set->poly[i], x, y, w, h))
            return true;
    return false;
}

/* Refreshes the grass average of every cell, then derives the pitch: grass
 * cells, cells enclosed by grass along both their row and their column
 * (players, lines and the ball on the pitch), and one cell of margin so a ball
 * on the touchline or just above the far side's grass is kept. */
static void update_auto_mask(ft_detect_filter *f, const ft_image *im, bool reset)
{
    /* First the luma of every grass-coloured sample: trees, hedges and
     * green-painted stands are green too, but much darker or brighter than the
     * pitch, which is most of the green in a football picture. */
    uint8_t luma[GRID_H][GRID_W][CELL_SAMPLES * CELL_SAMPLES];
    int hist[256] = {0}, n_green = 0;
    for (int gy = 0; gy < GRID_H; gy++) {
        for (int gx = 0; gx < GRID_W; gx++) {
            for (int sy = 0; sy < CELL_SAMPLES; sy++) {
                int y = (int)(((gy * CELL_SAMPLES + sy) * 2 + 1) * (int64_t)im->height /
                              (2 * GRID_H * CELL_SAMPLES));
                for (int sx = 0; sx < CELL_SAMPLES; sx++) {
                    int x = (int)(((gx * CELL_SAMPLES + sx) * 2 + 1) * (int64_t)im->width /
                                  (2 * GRID_W * CELL_SAMPLES));
                    uint8_t yuv[3];
                    ft_detect_sample_yuv(im, x, y, yuv);
                    bool green = ft_detect_is_grass(yuv[0], yuv[1], yuv[2]);
                    /* 0 marks a sample that is not green at all. */
                    luma[gy][gx][sy * CELL_SAMPLES + sx] = green ? (yuv[0] ? yuv[0] : 1) : 0;
                    if (green) {
                        hist[yuv[0]]++;
                        n_green++;
                    }
                }
            }
        }
    }
    int median = 0;
    for (int acc = 0; median < 255 && acc + hist[median] <= n_green / 2; median++)
        acc += hist[median];
    int tol = median * 2 / 5 > 25 ? median * 2 / 5 : 25;

    uint8_t grass[GRID_H][GRID_W];
    int n_grass = 0;
    for (int gy = 0; gy < GRID_H; gy++) {
        for (int gx = 0; gx < GRID_W; gx++) {
            int hits = 0;
            for (int k = 0; k < CELL_SAMPLES * CELL_SAMPLES; k++) {
                int l = luma[gy][gx][k];
                hits += l && abs(l - median) <= tol;
            }
            float frac = (float)hits / (CELL_SAMPLES * CELL_SAMPLES);
            float *avg = &f->grass[gy][gx];
            *avg = reset ? frac : *avg + GRASS_EMA * (frac - *avg);
            grass[gy][gx] = *avg >= GRASS_CELL_FRACTION;
            n_grass += grass[gy][gx];
        }
    }
    f->auto_valid = n_grass >= MIN_GRASS_CELLS;
    if (!f->auto_valid)
        return;

    int row_lo[GRID_H], row_hi[GRID_H], col_lo[GRID_W], col_hi[GRID_W];
    for (int gy = 0; gy < GRID_H; gy++) {
        row_lo[gy] = GRID_W;
        row_hi[gy] = -1;
    }
    for (int gx = 0; gx < GRID_W; gx++) {
        col_lo[gx] = GRID_H;
        col_hi[gx] = -1;
    }
    for (int gy = 0; gy < GRID_H; gy++)
        for (int gx = 0; gx < GRID_W; gx++)
            if (grass[gy][gx]) {
                row_lo[gy] = gx < row_lo[gy] ? gx : row_lo[gy];
                row_hi[gy] = gx > row_hi[gy] ? gx : row_hi[gy];
                col_lo[gx] = gy < col_lo[gx] ? gy : col_lo[gx];
                col_hi[gx] = gy > col_hi[gx] ? gy : col_hi[gx];
            }
    uint8_t filled[GRID_H][GRID_W];
    for (int gy = 0; gy < GRID_H; gy++)
        for (int gx = 0; gx < GRID_W; gx++)
            filled[gy][gx] = grass[gy][gx] || (gx > row_lo[gy] && gx < row_hi[gy] &&
                                               gy > col_lo[gx] && gy < col_hi[gx]);
    for (int gy = 0; gy < GRID_H; gy++) {
        for (int gx = 0; gx < GRID_W; gx++) {
            uint8_t any = 0;
            for (int dy = -1; dy <= 1 && !any; dy++)
                for (int dx = -1; dx <= 1 && !any; dx++) {
                    int y = gy + dy, x = gx + dx;
                    any = y >= 0 && y < GRID_H && x >= 0 && x < GRID_W && filled[y][x];
                }
            f->pitch[gy][gx] = any;
        }
    }
}

bool ft_detect_filter_allows(const ft_detect_filter *f, float x, float y, int w, int h)
{
    if (set_contains(&f->p.dead_zones, x, y, w, h))
        return false;
    if (f->p.pitch_mask.count > 0 && !set_contains(&f->p.pitch_mask, x, y, w, h))
        return false;
    if (f->p.pitch_mask_auto && f->auto_valid && w > 0 && h > 0) {
        int gx = (int)(x * GRID_W / (float)w), gy = (int)(y * GRID_H / (float)h);
        gx = gx < 0 ? 0 : (gx >= GRID_W ? GRID_W - 1 : gx);
        gy = gy < 0 ? 0 : (gy >= GRID_H ? GRID_H - 1 : gy);
        if (!f->pitch[gy][gx])
            return false;
    }
    return true;
}

ft_status ft_detect_filter_apply(ft_detect_filter *f, const ft_image *frame, ft_detection *dets,
                                 int *n)
{
    if (!f || !frame || !n || (*n > 0 && !dets) || frame->width <= 0 || frame->height <= 0 ||
        !frame->data[0])
        return FT_ERR_INVALID;
    bool reset = frame->width != f->w || frame->height != f->h;
    f->w = frame->width;
    f->h = frame->height;
    if (f->p.pitch_mask_auto) {
        if (frame->format == FT_PIX_GRAY8) {
            if (!f->warned_grey)
                FT_LOGW("detect", "pitch_mask_auto needs colour frames; grey input is not masked");
            f->warned_grey = true;
            f->auto_valid = false;
        } else {
            update_auto_mask(f, frame, reset);
        }
    }
    int kept = 0;
    for (int i = 0; i < *n; i++)
        if (ft_detect_filter_allows(f, dets[i].x, dets[i].y, f->w, f->h))
            dets[kept++] = dets[i];
    *n = kept;
    return FT_OK;
}
