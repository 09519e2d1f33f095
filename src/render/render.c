/* Renderer: sub-pixel bilinear crop+scale, overlay drawing and the debug
 * composition, on YUV420P/NV12 ft_image views. */
#include "render/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

/* Widest source or output row the scaler handles; row buffers live on the
 * stack so the renderer needs no allocation and is reentrant. */
#define ROW_MAX 8192 /* the reader refuses wider frames (FT_READER_MAX_WIDTH) */

/* Bilinear weights have 7 fractional bits: a horizontally blended sample
 * (255 * 128) fits uint16 and the vertical blend fits int32. */
#define WBITS 7
#define WONE (1 << WBITS)

typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

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

/* The horizontal pass's table: for each output column the offset of its left
 * neighbour in the vertically blended row, and both weights packed as two
 * int16 (left in the low half, right in the high half) so that one 32-bit
 * load of the neighbour pair and one multiply-add of 16-bit pairs give the
 * pixel. */
typedef struct col_table {
    int32_t off[ROW_MAX];
    int32_t wpair[ROW_MAX];
    int lo, span; /* first source column used, columns used */
} col_table;

static void col_table_make(col_table *t, double cx, double cw, int dw, int src_w)
{
    uint16_t wx[ROW_MAX];
    axis_table(cx, cw, dw, src_w, t->off, wx);
    t->lo = t->off[0];
    int hi = t->off[dw - 1] + 1;
    if (hi > src_w - 1)
        hi = src_w - 1;
    t->span = hi - t->lo + 1;
    for (int ox = 0; ox < dw; ox++) {
        t->off[ox] -= t->lo;
        t->wpair[ox] = (int32_t)((uint32_t)wx[ox] << 16 | (uint32_t)(WONE - wx[ox]));
    }
}

/* Vertical blend of two source rows into col[0..n): 16 samples at a time
 * with GCC/Clang vector extensions (-O2 does not vectorise this loop by
 * itself: unknown trip count). */
static void blend_rows(const uint8_t *a, const uint8_t *b, uint16_t w0, uint16_t w1, uint16_t *col,
                       int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 va, vb;
        memcpy(&va, a + i, sizeof va);
        memcpy(&vb, b + i, sizeof vb);
        u16x16 r =
            __builtin_convertvector(va, u16x16) * w0 + __builtin_convertvector(vb, u16x16) * w1;
        memcpy(col + i, &r, sizeof r);
    }
    for (; i < n; i++)
        col[i] = (uint16_t)(a[i] * w0 + b[i] * w1);
}

/* The same for NV12's interleaved chroma: n U/V pairs, blended and split
 * into cu[0..n) and cv[0..n), so that both planes then take the contiguous
 * horizontal pass and each interleaved row is blended once, not once per
 * plane. */
static void blend_rows_uv(const uint8_t *a, const uint8_t *b, uint16_t w0, uint16_t w1,
                          uint16_t *cu, uint16_t *cv, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        u8x16 va, vb;
        memcpy(&va, a + 2 * i, sizeof va);
        memcpy(&vb, b + 2 * i, sizeof vb);
        u16x16 r =
            __builtin_convertvector(va, u16x16) * w0 + __builtin_convertvector(vb, u16x16) * w1;
        u16x8 u = __builtin_shufflevector(r, r, 0, 2, 4, 6, 8, 10, 12, 14);
        u16x8 v = __builtin_shufflevector(r, r, 1, 3, 5, 7, 9, 11, 13, 15);
        memcpy(cu + i, &u, sizeof u);
        memcpy(cv + i, &v, sizeof v);
    }
    for (; i < n; i++) {
        cu[i] = (uint16_t)(a[2 * i] * w0 + b[2 * i] * w1);
        cv[i] = (uint16_t)(a[2 * i + 1] * w0 + b[2 * i + 1] * w1);
    }
}

/* One output pixel from its neighbour pair in col (see col_table). */
static inline uint8_t blend_pair(const uint16_t *col, int32_t off, int32_t wpair)
{
    int32_t w0 = wpair & 0xFFFF, w1 = wpair >> 16;
    return (uint8_t)((col[off] * w0 + col[off + 1] * w1 + (1 << (2 * WBITS - 1))) >> (2 * WBITS));
}

/* Horizontal pass of one row. With AVX-512 or AVX2 (-march=native), 16
 * pixels at a time: a gather of each pixel's neighbour pair as one 32-bit
 * word and a 16-bit multiply-add with the packed weights, bit-exact with the
 * scalar sum (the blended samples are at most 255 * 128 and fit int16); the
 * gather is what makes the pass cheap (1.7x with AVX2, 2.1x with AVX-512 on
 * the whole crop, docs/pipeline.md). col holds one slack element past the
 * span so the pair of the last column stays inside it. */
static void blend_cols(const uint16_t *col, const col_table *t, uint8_t *d, int dw)
{
    int ox = 0;
#if defined(__AVX512BW__)
    const __m512i round16 = _mm512_set1_epi32(1 << (2 * WBITS - 1));
    for (; ox + 16 <= dw; ox += 16) {
        __m512i idx = _mm512_loadu_si512((const void *)(t->off + ox));
        __m512i pairs = _mm512_i32gather_epi32(idx, (const void *)col, 2);
        __m512i w = _mm512_loadu_si512((const void *)(t->wpair + ox));
        __m512i s =
            _mm512_srai_epi32(_mm512_add_epi32(_mm512_madd_epi16(pairs, w), round16), 2 * WBITS);
        _mm_storeu_si128((__m128i *)(d + ox), _mm512_cvtusepi32_epi8(s)); /* s is 0..255 */
    }
#elif defined(__AVX2__)
    const __m256i round = _mm256_set1_epi32(1 << (2 * WBITS - 1));
    for (; ox + 16 <= dw; ox += 16) {
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(t->off + ox));
        __m256i i1 = _mm256_loadu_si256((const __m256i *)(t->off + ox + 8));
        __m256i p0 = _mm256_i32gather_epi32((const int *)col, i0, 2);
        __m256i p1 = _mm256_i32gather_epi32((const int *)col, i1, 2);
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(t->wpair + ox));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(t->wpair + ox + 8));
        __m256i s0 =
            _mm256_srai_epi32(_mm256_add_epi32(_mm256_madd_epi16(p0, w0), round), 2 * WBITS);
        __m256i s1 =
            _mm256_srai_epi32(_mm256_add_epi32(_mm256_madd_epi16(p1, w1), round), 2 * WBITS);
        /* packs works per 128-bit lane: put the 64-bit blocks back in order */
        __m256i s = _mm256_permute4x64_epi64(_mm256_packs_epi32(s0, s1), 0xD8);
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        _mm_storeu_si128((__m128i *)(d + ox), b);
    }
#endif
    for (; ox < dw; ox++)
        d[ox] = blend_pair(col, t->off[ox], t->wpair[ox]);
}

/* Scales the crop (in this plane's pixels) of one plane into dst[0], or of
 * NV12's chroma into dst[0] (U) and dst[1] (V). Vertical pass first: the two
 * source rows are blended over the crop's span into a 16-bit row
 * (contiguous, so it vectorises), then each output pixel blends two
 * neighbours of that row. */
static void scale_plane(const plane_in *p, double cx, double cy, double cw, double ch,
                        uint8_t *const *dst, const int *dst_stride, int dw, int dh)
{
    col_table tx;
    int32_t yi[ROW_MAX];
    uint16_t wy[ROW_MAX];
    uint16_t col[ROW_MAX + 1], col2[ROW_MAX + 1];
    col_table_make(&tx, cx, cw, dw, p->w);
    axis_table(cy, ch, dh, p->h, yi, wy);
    const int st = p->step, span = tx.span;
    for (int oy = 0; oy < dh; oy++) {
        int r0 = yi[oy], r1 = p->h > 1 ? r0 + 1 : r0;
        const uint8_t *a = p->data + (size_t)r0 * p->stride + (size_t)tx.lo * st;
        const uint8_t *b = p->data + (size_t)r1 * p->stride + (size_t)tx.lo * st;
        const uint16_t w1 = wy[oy], w0 = (uint16_t)(WONE - w1);
        if (st == 2)
            blend_rows_uv(a, b, w0, w1, col, col2, span);
        else
            blend_rows(a, b, w0, w1, col, span);
        /* The right neighbour of the last column when the plane is one
         * sample wide (with weight 0): itself. */
        col[span] = col[span - 1];
        blend_cols(col, &tx, dst[0] + (size_t)oy * dst_stride[0], dw);
        if (st == 2) {
            col2[span] = col2[span - 1];
            blend_cols(col2, &tx, dst[1] + (size_t)oy * dst_stride[1], dw);
        }
    }
}

ft_status ft_render_crop(const ft_image *src, const ft_render_rect *crop, ft_image *dst)
{
    if ((src->format != FT_PIX_YUV420P && src->format != FT_PIX_NV12) ||
        dst->format != FT_PIX_YUV420P || dst->width <= 0 || dst->height <= 0 ||
        dst->width > ROW_MAX || dst->height > ROW_MAX || src->width < 2 || src->height < 2 ||
        src->width > ROW_MAX || !(crop->w > 0) || !(crop->h > 0))
        return FT_ERR_INVALID;
    double w = fmin(crop->w, src->width), h = fmin(crop->h, src->height);
    double x = fmin(fmax(crop->x, 0), src->width - w);
    double y = fmin(fmax(crop->y, 0), src->height - h);
    plane_in luma = {src->data[0], src->stride[0], src->width, src->height, 1};
    scale_plane(&luma, x, y, w, h, dst->data, dst->stride, dst->width, dst->height);
    int cw = (src->width + 1) / 2, chh = (src->height + 1) / 2;
    int dcw = (dst->width + 1) / 2, dch = (dst->height + 1) / 2;
    if (src->format == FT_PIX_NV12) { /* both chroma planes from one interleaved pass */
        plane_in uv = {src->data[1], src->stride[1], cw, chh, 2};
        scale_plane(&uv, x / 2, y / 2, w / 2, h / 2, dst->data + 1, dst->stride + 1, dcw, dch);
        return FT_OK;
    }
    for (int c = 1; c <= 2; c++) {
        plane_in pc = {src->data[c], src->stride[c], cw, chh, 1};
        scale_plane(&pc, x / 2, y / 2, w / 2, h / 2, dst->data + c, dst->stride + c, dcw, dch);
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
static void fill_rect(ft_image *dst, int x0, int y0, int w, int h, uint8_t yv, uint8_t u, uint8_t v)
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
    snprintf(line, sizeof line, "%s  %.1f FPS  LATENCY %.0f MS", ov->mode ? ov->mode : "-", ov->fps,
             ov->latency_ms);
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
