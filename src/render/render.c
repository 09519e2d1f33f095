/* Renderer: sub-pixel bilinear crop+scale, overlay drawing and the debug
 * composition, on YUV420P/NV12 ft_image views. */
#include "render/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Widest source or output row the scaler handles; row buffers live on the
 * stack so the renderer needs no allocation and is reentrant. */
#define ROW_MAX 8192

/* Bilinear weights have 7 fractional bits: a horizontally blended sample
 * (255 * 128) fits uint16 and the vertical blend fits int32. */
#define WBITS 7
#define WONE (1 << WBITS)

typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));

void ft_render_rect_fit(ft_render_rect *r, int frame_w, int frame_h, int out_w, int out_h)
{
    double aspect = (double)out_w / out_h;
    double cx = r->x + r->w / 2, cy = r->y + r->h / 2;
    double w = r->w > 1 ? r->w : 1, h = r->h > 1 ? r->h : 1;
    /* Grow the short side so everything asked for stays in view. */
    if (w / h < aspect)
        w = h * aspect;
    else
        h = w / aspect;
    /* Then shrink to the frame, keeping the aspect. */
    if (w > frame_w) {
        w = frame_w;
        h = w / aspect;
    }
    if (h > frame_h) {
        h = frame_h;
        w = h * aspect;
    }
    double x = cx - w / 2, y = cy - h / 2;
    if (x < 0)
        x = 0;
    if (y < 0)
        y = 0;
    if (x + w > frame_w)
        x = frame_w - w;
    if (y + h > frame_h)
        y = frame_h - h;
    *r = (ft_render_rect){x, y, w, h};
}

/* One source plane: samples are `step` bytes apart (2 for NV12 chroma). */
typedef struct plane_in {
    const uint8_t *data;
    int stride, w, h, step;
} plane_in;

/* Source position and weight of each output column (or row) for a crop
 * starting at `start` of length `len` mapped onto `n` outputs. Pixel centres
 * are at +0.5 so the crop is exact to a fraction of a pixel. */
static void axis_table(double start, double len, int n, int src_len, int32_t *idx, uint16_t *wt)
{
    double scale = len / n;
    for (int i = 0; i < n; i++) {
        double s = start + (i + 0.5) * scale - 0.5;
        if (s < 0)
            s = 0;
        if (s > src_len - 1)
            s = src_len - 1;
        int i0 = (int)s;
        double f = s - i0;
        if (i0 >= src_len - 1 && src_len > 1) { /* last sample: blend fully onto it */
            i0 = src_len - 2;
            f = 1.0;
        }
        idx[i] = i0;
        wt[i] = (uint16_t)lrint(f * WONE);
    }
}

/* Scales the crop (in this plane's pixels) of one plane into dst. Vertical
 * pass first: the two source rows are blended over the crop's span into a
 * 16-bit row (contiguous, so it vectorises), then each output pixel blends
 * two neighbours of that row. */
static void scale_plane(const plane_in *p, double cx, double cy, double cw, double ch,
                        uint8_t *dst, int dst_stride, int dw, int dh)
{
    int32_t xi[ROW_MAX], yi[ROW_MAX];
    uint16_t wx[ROW_MAX], wy[ROW_MAX];
    uint16_t col[2 * ROW_MAX + 2];
    axis_table(cx, cw, dw, p->w, xi, wx);
    axis_table(cy, ch, dh, p->h, yi, wy);
    const int st = p->step;
    const int x_lo = xi[0];
    int x_hi = xi[dw - 1] + 1;
    if (x_hi > p->w - 1)
        x_hi = p->w - 1;
    const int span = (x_hi - x_lo + 1) * st;
    for (int ox = 0; ox < dw; ox++) /* source column -> offset into col */
        xi[ox] = (xi[ox] - x_lo) * st;
    for (int oy = 0; oy < dh; oy++) {
        int r0 = yi[oy], r1 = p->h > 1 ? r0 + 1 : r0;
        const uint8_t *a = p->data + (size_t)r0 * p->stride + (size_t)x_lo * st;
        const uint8_t *b = p->data + (size_t)r1 * p->stride + (size_t)x_lo * st;
        const uint16_t w1 = wy[oy], w0 = (uint16_t)(WONE - w1);
        int i = 0;
        /* 16 samples at a time with GCC/Clang vector extensions: -O2 does
         * not vectorise this loop by itself (unknown trip count). */
        for (; i + 16 <= span; i += 16) {
            u8x16 va, vb;
            memcpy(&va, a + i, sizeof va);
            memcpy(&vb, b + i, sizeof vb);
            u16x16 r = __builtin_convertvector(va, u16x16) * w0 +
                       __builtin_convertvector(vb, u16x16) * w1;
            memcpy(col + i, &r, sizeof r);
        }
        for (; i < span; i++)
            col[i] = (uint16_t)(a[i] * w0 + b[i] * w1);
        if (x_hi == x_lo) /* a one-sample-wide plane: its right neighbour is itself */
            for (int k = 0; k < st; k++)
                col[st + k] = col[k];
        uint8_t *d = dst + (size_t)oy * dst_stride;
        for (int ox = 0; ox < dw; ox++) {
            const uint16_t *q = col + xi[ox];
            d[ox] = (uint8_t)(((int32_t)q[0] * (WONE - wx[ox]) + (int32_t)q[st] * wx[ox] +
                               (1 << (2 * WBITS - 1))) >>
                              (2 * WBITS));
        }
    }
}

ft_status ft_render_crop(const ft_image *src, const ft_render_rect *crop, ft_image *dst)
{
    if ((src->format != FT_PIX_YUV420P && src->format != FT_PIX_NV12) ||
        dst->format != FT_PIX_YUV420P || dst->width <= 0 || dst->height <= 0 ||
        dst->width > ROW_MAX || dst->height > ROW_MAX || src->width < 2 || src->height < 2 ||
        src->width > ROW_MAX ||
        !(crop->w > 0) || !(crop->h > 0))
        return FT_ERR_INVALID;
    double w = fmin(crop->w, src->width), h = fmin(crop->h, src->height);
    double x = fmin(fmax(crop->x, 0), src->width - w);
    double y = fmin(fmax(crop->y, 0), src->height - h);
    plane_in luma = {src->data[0], src->stride[0], src->width, src->height, 1};
    scale_plane(&luma, x, y, w, h, dst->data[0], dst->stride[0], dst->width, dst->height);
    int cw = (src->width + 1) / 2, chh = (src->height + 1) / 2;
    int dcw = (dst->width + 1) / 2, dch = (dst->height + 1) / 2;
    for (int c = 0; c < 2; c++) {
        plane_in pc;
        if (src->format == FT_PIX_NV12)
            pc = (plane_in){src->data[1] + c, src->stride[1], cw, chh, 2};
        else
            pc = (plane_in){src->data[1 + c], src->stride[1 + c], cw, chh, 1};
        scale_plane(&pc, x / 2, y / 2, w / 2, h / 2, dst->data[1 + c], dst->stride[1 + c], dcw,
                    dch);
    }
    return FT_OK;
}

/* ---- drawing ---- */

/* A hand-made 5x7 font: 7 rows per glyph, bit 4 is the leftmost column.
 * The overlay writes capitals; the lower-case glyphs serve other users of
 * ft_render_font_glyph (the evaluation plots). */
typedef struct glyph {
    char c;
    uint8_t rows[7];
} glyph;

static const glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'a', {0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F}},
    {'c', {0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E}},
    {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
    {'e', {0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
    {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E}},
    {'m', {0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0, 0, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E}},
    {'p', {0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
    {'r', {0, 0, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
    {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D}},
    {'x', {0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
    {'y', {0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
};

const uint8_t *ft_render_font_glyph(char c)
{
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return font[i].rows;
    return NULL;
}

/* The overlay's glyph for c: capitals for letters, '?' for what the font lacks. */
static const uint8_t *glyph_rows(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    const uint8_t *g = ft_render_font_glyph(c);
    return g ? g : ft_render_font_glyph('?');
}

static void fill_luma(ft_image *dst, int x0, int y0, int w, int h, uint8_t luma)
{
    int x1 = x0 + w, y1 = y0 + h;
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > dst->width)
        x1 = dst->width;
    if (y1 > dst->height)
        y1 = dst->height;
    for (int y = y0; y < y1; y++)
        if (x1 > x0)
            memset(dst->data[0] + (size_t)y * dst->stride[0] + x0, luma, (size_t)(x1 - x0));
}

/* Fills a rectangle in all three planes (chroma at half resolution). */
static void fill_rect(ft_image *dst, int x0, int y0, int w, int h, uint8_t yv, uint8_t u,
                      uint8_t v)
{
    fill_luma(dst, x0, y0, w, h, yv);
    int cx0 = x0 >> 1, cy0 = y0 >> 1, cx1 = (x0 + w + 1) >> 1, cy1 = (y0 + h + 1) >> 1;
    int cw = (dst->width + 1) / 2, chh = (dst->height + 1) / 2;
    if (cx0 < 0)
        cx0 = 0;
    if (cy0 < 0)
        cy0 = 0;
    if (cx1 > cw)
        cx1 = cw;
    if (cy1 > chh)
        cy1 = chh;
    for (int y = cy0; y < cy1 && cx1 > cx0; y++) {
        memset(dst->data[1] + (size_t)y * dst->stride[1] + cx0, u, (size_t)(cx1 - cx0));
        memset(dst->data[2] + (size_t)y * dst->stride[2] + cx0, v, (size_t)(cx1 - cx0));
    }
}

void ft_render_text(ft_image *dst, int x, int y, int scale, uint8_t luma, const char *text)
{
    if (scale < 1)
        scale = 1;
    /* Two passes: a dark halo first, then the glyphs, so text reads on grass
     * and on white lines alike. */
    for (int pass = 0; pass < 2; pass++) {
        int pen = x;
        for (const char *c = text; *c; c++, pen += 6 * scale) {
            const uint8_t *g = glyph_rows(*c);
            for (int r = 0; r < 7; r++)
                for (int col = 0; col < 5; col++) {
                    if (!(g[r] & (0x10 >> col)))
                        continue;
                    int px = pen + col * scale, py = y + r * scale;
                    if (pass == 0)
                        fill_luma(dst, px - 1, py - 1, scale + 2, scale + 2, 16);
                    else
                        fill_luma(dst, px, py, scale, scale, luma);
                }
        }
    }
}

void ft_render_box(ft_image *dst, double x, double y, double w, double h, int thickness,
                   uint8_t luma, uint8_t u, uint8_t v)
{
    int x0 = (int)lrint(x), y0 = (int)lrint(y), x1 = (int)lrint(x + w), y1 = (int)lrint(y + h);
    int t = thickness < 1 ? 1 : thickness;
    fill_rect(dst, x0, y0, x1 - x0, t, luma, u, v);
    fill_rect(dst, x0, y1 - t, x1 - x0, t, luma, u, v);
    fill_rect(dst, x0, y0, t, y1 - y0, luma, u, v);
    fill_rect(dst, x1 - t, y0, t, y1 - y0, luma, u, v);
}

/* Colours as Y, U, V (BT.601 limited range). */
#define COL_YELLOW 210, 16, 146
#define COL_RED 81, 90, 240
#define COL_GREEN 145, 54, 34
#define COL_CYAN 170, 166, 16

void ft_render_overlay_draw(ft_image *dst, const ft_render_rect *crop, const ft_render_overlay *ov)
{
    double sx = dst->width / crop->w, sy = dst->height / crop->h;
    int scale = dst->height >= 600 ? 3 : 2;
    for (int i = 0; i < ov->trail_n && i < FT_RENDER_TRAIL_MAX; i++) {
        double px = (ov->trail_x[i] - crop->x) * sx, py = (ov->trail_y[i] - crop->y) * sy;
        fill_rect(dst, (int)lrint(px) - 2, (int)lrint(py) - 2, 4, 4, COL_CYAN);
    }
    if (ov->ball_visible) {
        double px = (ov->ball_x - crop->x) * sx, py = (ov->ball_y - crop->y) * sy;
        int r = 4 * scale;
        ft_render_box(dst, px - r, py - r, 2 * r, 2 * r, scale > 2 ? 3 : 2, COL_YELLOW);
    }
    char line[128];
    /* Labelled: a bare "1982 MS" next to the fps read as a frame time. */
    snprintf(line, sizeof line, "%s  %.1f FPS  LATENCY %.0f MS", ov->mode ? ov->mode : "-",
             ov->fps, ov->latency_ms);
    ft_render_text(dst, 8 * scale, 8 * scale, scale, 235, line);
}

/* A view of the w x h region of a YUV420P image at even (x, y). */
static ft_image sub_image(const ft_image *img, int x, int y, int w, int h)
{
    ft_image s = *img;
    x &= ~1;
    y &= ~1;
    s.width = w;
    s.height = h;
    s.data[0] = img->data[0] + (size_t)y * img->stride[0] + x;
    s.data[1] = img->data[1] + (size_t)(y / 2) * img->stride[1] + x / 2;
    s.data[2] = img->data[2] + (size_t)(y / 2) * img->stride[2] + x / 2;
    return s;
}

/* Scales `src` (whole) to fit the region (rx, ry, rw, rh) of dst, centred,
 * aspect kept; returns the view it drew into. */
static ft_status fit_into(const ft_image *src, ft_image *dst, int rx, int ry, int rw, int rh,
                          ft_image *view)
{
    double s = fmin((double)rw / src->width, (double)rh / src->height);
    int w = (int)(src->width * s) & ~1, h = (int)(src->height * s) & ~1;
    if (w < 2 || h < 2)
        return FT_ERR_INVALID;
    *view = sub_image(dst, rx + (rw - w) / 2, ry + (rh - h) / 2, w, h);
    ft_render_rect all = {0, 0, src->width, src->height};
    return ft_render_crop(src, &all, view);
}

ft_status ft_render_debug_compose(const ft_image *full, const ft_image *out,
                                  const ft_render_debug *dbg, ft_image *dst)
{
    if (dst->format != FT_PIX_YUV420P || dst->width < 8 || dst->height < 4)
        return FT_ERR_INVALID;
    fill_rect(dst, 0, 0, dst->width, dst->height, 16, 128, 128);
    int half = (dst->width / 2) & ~1;
    ft_image left, right;
    ft_status st = fit_into(full, dst, 0, 0, half, dst->height, &left);
    if (st)
        return st;
    if ((st = fit_into(out, dst, half, 0, dst->width - half, dst->height, &right)))
        return st;
    double s = (double)left.width / full->width;
    for (int i = 0; i < dbg->n_dets; i++) {
        const ft_render_box_f *b = &dbg->dets[i];
        ft_render_box(&left, (b->x - b->w / 2) * s - 2, (b->y - b->h / 2) * s - 2, b->w * s + 4,
                      b->h * s + 4, 2, COL_GREEN);
        char sc[16];
        snprintf(sc, sizeof sc, "%.2f", b->score);
        ft_render_text(&left, (int)lrint((b->x + b->w / 2) * s) + 4,
                       (int)lrint((b->y - b->h / 2) * s), 1, 235, sc);
    }
    if (dbg->gate_valid)
        ft_render_box(&left, (dbg->gate_x - dbg->gate_rx) * s, (dbg->gate_y - dbg->gate_ry) * s,
                      2 * dbg->gate_rx * s, 2 * dbg->gate_ry * s, 1, COL_CYAN);
    ft_render_box(&left, dbg->crop.x * s, dbg->crop.y * s, dbg->crop.w * s, dbg->crop.h * s, 2,
                  COL_RED);
    return FT_OK;
}
