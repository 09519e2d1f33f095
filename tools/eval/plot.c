/* The evaluation plot: three panels over time (x, y, tracking error) drawn
 * with our own point and line rasteriser into an RGB buffer, saved by libpng.
 * Colours: truth green (grey while hidden), estimate red, crop band light
 * blue with its centre in blue, error orange with the match radius in grey. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "render/render.h"
#include "tools/eval/eval.h"

#define PLOT_W 1200
#define PANEL_H 260
#define MARGIN 16
#define FOOTER 20 /* frame-range labels under the last panel */
#define PLOT_H (3 * PANEL_H + 4 * MARGIN + FOOTER)
#define GLYPH_SCALE 2

typedef struct canvas {
    uint8_t *px; /* PLOT_W x PLOT_H RGB */
} canvas;

typedef struct rgb8 {
    uint8_t r, g, b;
} rgb8;

static const rgb8 C_TRUTH = {20, 160, 60}, C_HIDDEN = {150, 150, 150}, C_EST = {220, 30, 30},
                  C_BAND = {205, 225, 250}, C_CROP = {40, 80, 220}, C_ERR = {240, 130, 0},
                  C_AXIS = {90, 90, 90}, C_RADIUS = {170, 170, 170};

static void put(canvas *c, int x, int y, rgb8 col)
{
    if (x < 0 || y < 0 || x >= PLOT_W || y >= PLOT_H)
        return;
    uint8_t *p = c->px + ((size_t)y * PLOT_W + x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

/* Bresenham line. */
static void line(canvas *c, int x0, int y0, int x1, int y1, rgb8 col)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        put(c, x0, y0, col);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

static void point(canvas *c, int x, int y, rgb8 col)
{
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
            put(c, x + dx, y + dy, col);
}

/* Draws `str` with its top-left corner at (x, y); characters without a glyph
 * are blanks. Returns the x after the text. */
static int text(canvas *c, int x, int y, const char *str, rgb8 col)
{
    for (; *str; str++, x += 6 * GLYPH_SCALE) {
        /* the renderer's built-in 5x7 font, scaled up */
        const uint8_t *g = ft_render_font_glyph(*str);
        if (!g)
            continue;
        for (int r = 0; r < 7; r++)
            for (int b = 0; b < 5; b++)
                if (g[r] & (0x10 >> b))
                    for (int k = 0; k < GLYPH_SCALE * GLYPH_SCALE; k++)
                        put(c, x + b * GLYPH_SCALE + k % GLYPH_SCALE,
                            y + r * GLYPH_SCALE + k / GLYPH_SCALE, col);
    }
    return x;
}

/* A panel maps (frame, value) to pixels. */
typedef struct panel {
    int top;
    double f0, f1, v0, v1;
} panel;

static int px_x(const panel *p, double f)
{
    return MARGIN + (int)lround((f - p->f0) / (p->f1 - p->f0) * (PLOT_W - 2 * MARGIN - 1));
}

static int px_y(const panel *p, double v)
{
    double t = (v - p->v0) / (p->v1 - p->v0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return p->top + PANEL_H - 1 - (int)lround(t * (PANEL_H - 1));
}

static void frame_box(canvas *c, const panel *p)
{
    int x0 = MARGIN - 1, x1 = PLOT_W - MARGIN, y0 = p->top - 1, y1 = p->top + PANEL_H;
    line(c, x0, y0, x1, y0, C_AXIS);
    line(c, x0, y1, x1, y1, C_AXIS);
    line(c, x0, y0, x0, y1, C_AXIS);
    line(c, x1, y0, x1, y1, C_AXIS);
}

static void range_add(double *lo, double *hi, double v)
{
    if (isfinite(v)) {
        *lo = fmin(*lo, v);
        *hi = fmax(*hi, v);
    }
}

/* One coordinate panel: axis 0 is x, 1 is y. */
static void coord_panel(canvas *c, panel *pn, const ft_track_csv *tr, const ft_synth_truth *truth,
                        const long *idx, int axis)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < tr->count; i++) {
        const ft_track_csv_row *r = &tr->rows[i];
        range_add(&lo, &hi, axis ? r->crop_y : r->crop_x);
        range_add(&lo, &hi, axis ? r->crop_y + r->crop_h : r->crop_x + r->crop_w);
        if (r->state != FT_TRACK_CSV_NO_ESTIMATE)
            range_add(&lo, &hi, axis ? r->y : r->x);
        long k = idx ? idx[r->frame] : -1;
        if (k >= 0 && truth[k].vis != FT_SYNTH_OUT_OF_FRAME)
            range_add(&lo, &hi, axis ? truth[k].y : truth[k].x);
    }
    if (!(hi > lo)) {
        lo = 0.0;
        hi = 1.0;
    }
    pn->v0 = lo - 0.03 * (hi - lo);
    pn->v1 = hi + 0.03 * (hi - lo);
    for (size_t i = 0; i < tr->count; i++) { /* crop band first, under everything */
        const ft_track_csv_row *r = &tr->rows[i];
        int x0 = px_x(pn, (double)r->frame);
        int x1 = i + 1 < tr->count ? px_x(pn, (double)tr->rows[i + 1].frame) - 1 : x0;
        double a = axis ? r->crop_y : r->crop_x, w = axis ? r->crop_h : r->crop_w;
        for (int x = x0; x <= x1 && x < x0 + PLOT_W; x++)
            line(c, x, px_y(pn, a), x, px_y(pn, a + w), C_BAND);
    }
    frame_box(c, pn);
    for (size_t i = 1; i < tr->count; i++) {
        const ft_track_csv_row *a = &tr->rows[i - 1], *b = &tr->rows[i];
        double ca = axis ? a->crop_y + a->crop_h * 0.5 : a->crop_x + a->crop_w * 0.5;
        double cb = axis ? b->crop_y + b->crop_h * 0.5 : b->crop_x + b->crop_w * 0.5;
        line(c, px_x(pn, (double)a->frame), px_y(pn, ca), px_x(pn, (double)b->frame), px_y(pn, cb),
             C_CROP);
    }
    for (size_t i = 0; i < tr->count; i++) {
        long k = idx ? idx[tr->rows[i].frame] : -1;
        if (k < 0 || truth[k].vis == FT_SYNTH_OUT_OF_FRAME)
            continue;
        point(c, px_x(pn, (double)truth[k].frame), px_y(pn, axis ? truth[k].y : truth[k].x),
              truth[k].vis == FT_SYNTH_VISIBLE ? C_TRUTH : C_HIDDEN);
    }
    for (size_t i = 1; i < tr->count; i++) {
        const ft_track_csv_row *a = &tr->rows[i - 1], *b = &tr->rows[i];
        if (a->state == FT_TRACK_CSV_NO_ESTIMATE || b->state == FT_TRACK_CSV_NO_ESTIMATE)
            continue;
        line(c, px_x(pn, (double)a->frame), px_y(pn, axis ? a->y : a->x),
             px_x(pn, (double)b->frame), px_y(pn, axis ? b->y : b->x), C_EST);
    }
    char label[64];
    snprintf(label, sizeof(label), "%s px %.0f to %.0f", axis ? "y" : "x", pn->v0, pn->v1);
    text(c, MARGIN + 6, pn->top + 6, label, C_AXIS);
}

static void error_panel(canvas *c, panel *pn, const ft_eval_params *p, const ft_track_csv *tr,
                        const ft_synth_truth *truth, const long *idx)
{
    pn->v0 = 0.0;
    pn->v1 = 4.0 * p->radius;
    frame_box(c, pn);
    int y = px_y(pn, p->radius);
    for (int x = MARGIN; x < PLOT_W - MARGIN; x += 6)
        line(c, x, y, x + 2, y, C_RADIUS);
    char label[64];
    snprintf(label, sizeof(label), "error px 0 to %.0f  radius %.0f", pn->v1, p->radius);
    text(c, MARGIN + 6, pn->top + 6, label, C_AXIS);
    if (!idx)
        return;
    int px_prev = -1, py_prev = 0;
    for (size_t i = 0; i < tr->count; i++) {
        const ft_track_csv_row *r = &tr->rows[i];
        long k = idx[r->frame];
        if (k < 0 || truth[k].vis != FT_SYNTH_VISIBLE || r->state == FT_TRACK_CSV_NO_ESTIMATE) {
            px_prev = -1;
            continue;
        }
        int x = px_x(pn, (double)r->frame);
        int yy = px_y(pn, hypot(r->x - truth[k].x, r->y - truth[k].y));
        if (px_prev >= 0)
            line(c, px_prev, py_prev, x, yy, C_ERR);
        else
            point(c, x, yy, C_ERR);
        px_prev = x;
        py_prev = yy;
    }
}

static ft_status save_png(const char *path, const canvas *c)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        FT_LOGE("eval", "cannot create plot '%s': %s", path, strerror(errno));
        return FT_ERR_OUTPUT;
    }
    ft_status st = FT_OK;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        FT_LOGE("eval", "cannot write plot '%s'", path);
        st = FT_ERR_OUTPUT;
        goto out;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, PLOT_W, PLOT_H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < PLOT_H; y++)
        png_write_row(png, c->px + (size_t)y * PLOT_W * 3);
    png_write_end(png, NULL);
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(f) != 0 && !st) {
        FT_LOGE("eval", "cannot write plot '%s': %s", path, strerror(errno));
        st = FT_ERR_OUTPUT;
    }
    return st;
}

ft_status ft_eval_plot_png(const char *path, const ft_eval_params *p, const ft_synth_truth *truth,
                           size_t n_truth, const ft_track_csv *tr)
{
    ft_status st = FT_OK;
    canvas c = {malloc((size_t)PLOT_W * PLOT_H * 3)};
    long *idx = NULL;
    if (!c.px)
        return FT_ERR_NOMEM;
    memset(c.px, 255, (size_t)PLOT_W * PLOT_H * 3);
    int64_t f0 = tr->count ? tr->rows[0].frame : 0, f1 = f0 + 1;
    for (size_t i = 0; i < tr->count; i++) {
        f0 = tr->rows[i].frame < f0 ? tr->rows[i].frame : f0;
        f1 = tr->rows[i].frame > f1 ? tr->rows[i].frame : f1;
    }
    if (truth) {
        idx = ft_eval_truth_index(truth, n_truth, f1);
        if (!idx) {
            st = FT_ERR_NOMEM;
            goto out;
        }
    }
    panel pn[3];
    for (int k = 0; k < 3; k++)
        pn[k] = (panel){.top = MARGIN + k * (PANEL_H + MARGIN), .f0 = (double)f0, .f1 = (double)f1};
    coord_panel(&c, &pn[0], tr, truth, idx, 0);
    coord_panel(&c, &pn[1], tr, truth, idx, 1);
    error_panel(&c, &pn[2], p, tr, truth, idx);
    /* Legend (top right) and the frame range under the last panel. */
    static const struct {
        const char *word;
        rgb8 col;
    } legend[] = {{"truth", C_TRUTH}, {"hidden", C_HIDDEN}, {"estimate", C_EST}, {"crop", C_CROP}};
    int x = PLOT_W - MARGIN - 6 - 12 * (5 + 1 + 6 + 1 + 8 + 1 + 4);
    for (size_t k = 0; k < sizeof(legend) / sizeof(legend[0]); k++)
        x = text(&c, x, pn[0].top + 6, legend[k].word, legend[k].col) + 12;
    char label[48];
    int ybot = pn[2].top + PANEL_H + 4;
    snprintf(label, sizeof(label), "frame %lld", (long long)f0);
    text(&c, MARGIN, ybot, label, C_AXIS);
    snprintf(label, sizeof(label), "%lld", (long long)f1);
    text(&c, PLOT_W - MARGIN - 12 * (int)strlen(label), ybot, label, C_AXIS);
    st = save_png(path, &c);
out:
    free(idx);
    free(c.px);
    return st;
}
