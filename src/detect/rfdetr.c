/* RF-DETR model: weight loading, buffer planning and the forward pass, all
 * through the nn backend table (see nn/backend.h). One code path runs every
 * size; the numbers come from ft_rfdetr_arch.
 *
 * Layouts: activations are row-major token matrices. The ViT keeps its hidden
 * state in window order (win² windows of [CLS, patches row-major]), so
 * windowed layers attend within batch = win² sequences and global layers
 * attend over one sequence of all rows, as the official code does by
 * reshaping. The projector works on HWC maps: 1x1 convs are linears, 3x3 convs
 * are im2col + linear, and the channel LayerNorm2d is a row LayerNorm. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "detect/rfdetr_internal.h"
#include "nn/backend.h"
#include "nn/weights.h"

#define VIT "backbone.0.encoder.encoder."
#define PROJ "backbone.0.projector."
#define VIT_EPS 1e-6f  /* DINOv2 layer_norm_eps */
#define PROJ_EPS 1e-6f /* projector LayerNorm2d */
#define DEC_EPS 1e-5f  /* nn.LayerNorm default in the transformer */
#define MAX_CLASS_NAMES 1024
/* ---------------------------------------------------------------- loading */

typedef struct loader {
    ft_rfdetr *m;
    const ft_nn_weights *w;
    int pass;     /* 0: check shapes and size the buffer; 1: convert and upload */
    size_t off;   /* floats reserved so far */
    float *stage; /* pass 1: conversion buffer */
    size_t stage_cap;
    ft_status st;
} loader;

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Reserve n floats of weight memory; the pointer in pass 1, NULL in pass 0. */
static float *wreserve(loader *L, size_t n)
{
    float *p = L->pass ? (float *)L->m->wmem + L->off : NULL;
    L->off += round16(n);
    return p;
}

/* Load tensor `name`, checked against the dims (ndim ints; -1 any), keeping
 * only its first `rows` rows when rows > 0. Consecutive calls place tensors
 * back to back, which is how q|k|v and offsets|weights are fused. */
static const float *wload_rows(loader *L, const char *name, int64_t rows, int ndim, ...)
{
    if (L->st)
        return NULL;
    int64_t d[4] = {0};
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++)
        d[i] = va_arg(ap, int64_t);
    va_end(ap);
    ft_status st = FT_OK;
    switch (ndim) {
    case 1:
        st = ft_nn_weights_expect(L->w, name, 1, d[0]);
        break;
    case 2:
        st = ft_nn_weights_expect(L->w, name, 2, d[0], d[1]);
        break;
    case 3:
        st = ft_nn_weights_expect(L->w, name, 3, d[0], d[1], d[2]);
        break;
    default:
        st = ft_nn_weights_expect(L->w, name, 4, d[0], d[1], d[2], d[3]);
        break;
    }
    if (st) {
        L->st = st;
        return NULL;
    }
    const ft_nn_tensor *t = ft_nn_weights_find(L->w, name);
    int64_t numel = ft_nn_tensor_numel(t);
    size_t used = (size_t)numel;
    if (rows > 0) {
        if (t->shape[0] < rows) {
            FT_LOGE("rfdetr", "%s: tensor %s has %lld rows, the args need %lld",
                    ft_nn_weights_path(L->w), name, (long long)t->shape[0], (long long)rows);
            L->st = FT_ERR_MODEL;
            return NULL;
        }
        used = (size_t)(numel / t->shape[0] * rows);
    }
    if (!ft_nn_dtype_is_float(t->dtype)) {
        FT_LOGE("rfdetr", "%s: tensor %s has dtype %s, expected a float type",
                ft_nn_weights_path(L->w), name, ft_nn_dtype_name(t->dtype));
        L->st = FT_ERR_MODEL;
        return NULL;
    }
    if (L->pass == 0) {
        if ((size_t)numel > L->stage_cap)
            L->stage_cap = (size_t)numel;
        L->off += round16(used);
        return NULL;
    }
    float *dst = wreserve(L, used);
    L->st = ft_nn_tensor_to_f32(t, L->stage, L->stage_cap);
    if (!L->st)
        L->m->be->ops->upload(L->m->be, dst, L->stage, used * sizeof(float));
    return dst;
}

#define WL(L, name, ...) wload_rows(L, name, 0, __VA_ARGS__)
#define I(x) ((int64_t)(x))

/* Host copy of a small tensor as f32 (pass 1 only). */
static ft_status host_f32(const ft_nn_weights *w, const char *name, float **out, size_t *n)
{
    const ft_nn_tensor *t = ft_nn_weights_find(w, name);
    size_t numel = (size_t)ft_nn_tensor_numel(t);
    *out = malloc(numel * sizeof(float));
    if (!*out)
        return FT_ERR_NOMEM;
    *n = numel;
    return ft_nn_tensor_to_f32(t, *out, numel);
}

/* Position embeddings for this input: row 0 (CLS) goes to the embedding
 * buffer's last row with the CLS token added; the patch rows, resized with
 * PyTorch's antialiased bicubic when the grid differs and repeated per frame
 * of a batch, become the residual of the patch-embedding linear. */
static void load_pos(loader *L)
{
    ft_rfdetr *m = L->m;
    const ft_rfdetr_arch *a = &m->a;
    int D = a->vit_dim, pe = a->pos_grid;
    if (L->st)
        return;
    if ((L->st = ft_nn_weights_expect(L->w, VIT "embeddings.position_embeddings", 3, I(1),
                                      I(1 + pe * pe), I(D))) ||
        (L->st = ft_nn_weights_expect(L->w, VIT "embeddings.cls_token", 3, I(1), I(1), I(D))))
        return;
    size_t per = (size_t)m->hw * D;
    float *rows = wreserve(L, (size_t)m->max_batch * per);
    m->pos_rows = rows;
    if (L->pass == 0 || L->st)
        return;
    float *pos = NULL, *cls = NULL, *cm = NULL, *grid = NULL, *out = NULL, *tmp = NULL;
    size_t np, nc;
    ft_status st = host_f32(L->w, VIT "embeddings.position_embeddings", &pos, &np);
    if (!st)
        st = host_f32(L->w, VIT "embeddings.cls_token", &cls, &nc);
    size_t g2 = (size_t)m->gw * m->gw;
    if (!st) {
        cm = malloc(sizeof(float) * D * (size_t)pe * pe);
        grid = malloc(sizeof(float) * D * g2);
        out = malloc(sizeof(float) * D * g2);
        tmp = malloc(sizeof(float) * D * (size_t)pe * m->gw);
        if (!cm || !grid || !out || !tmp)
            st = FT_ERR_NOMEM;
    }
    if (!st) {
        if (pe == m->gw) {
            memcpy(out, pos + D, sizeof(float) * D * g2);
        } else {
            /* to channel planes, resize, back to rows */
            for (int p = 0; p < pe * pe; p++)
                for (int c = 0; c < D; c++)
                    cm[(size_t)c * pe * pe + p] = pos[(size_t)(1 + p) * D + c];
            rfdetr_resample(cm, D, pe, pe, grid, m->gw, m->gw, tmp, 1);
            for (size_t p = 0; p < g2; p++)
                for (int c = 0; c < D; c++)
                    out[p * D + c] = grid[(size_t)c * g2 + p];
        }
        for (int b = 0; b < m->max_batch; b++)
            m->be->ops->upload(m->be, rows + b * per, out, sizeof(float) * per);
        for (int c = 0; c < D; c++)
            cls[c] += pos[c];
        m->be->ops->upload(m->be, m->emb + m->max_batch * per, cls, sizeof(float) * D);
    }
    free(pos);
    free(cls);
    free(cm);
    free(grid);
    free(out);
    free(tmp);
    if (st)
        L->st = st;
}

static void load_conv_ln(loader *L, conv_ln *cv, const char *prefix, int o, int i, int k)
{
    char n[160];
    snprintf(n, sizeof(n), "%sconv.weight", prefix);
    cv->w = WL(L, n, 4, I(o), I(i), I(k), I(k));
    snprintf(n, sizeof(n), "%sbn.weight", prefix);
    cv->lnw = WL(L, n, 1, I(o));
    snprintf(n, sizeof(n), "%sbn.bias", prefix);
    cv->lnb = WL(L, n, 1, I(o));
}

static void load_mlp3(loader *L, mlp3 *p, const char *prefix, int hid, int out)
{
    char n[160];
    for (int i = 0; i < 3; i++) {
        int o = i == 2 ? out : hid;
        snprintf(n, sizeof(n), "%s.layers.%d.weight", prefix, i);
        p->w[i] = WL(L, n, 2, I(o), I(hid));
        snprintf(n, sizeof(n), "%s.layers.%d.bias", prefix, i);
        p->b[i] = WL(L, n, 1, I(o));
    }
}

/* A 2x2 stride-2 transposed convolution (weight [D, D/2, 2, 2]) as a linear
 * D -> 4 x D/2 whose output row holds the four sub-pixels (dy, dx) one after
 * the other: w'[(q * D/2 + o)][c] = w[c][o][dy][dx], q = 2 dy + dx, and the
 * bias repeated per sub-pixel. A gather then shuffles the sub-pixels. */
static void load_upconv(loader *L, int l, int j, const float **w, const float **b)
{
    ft_rfdetr *m = L->m;
    int D = m->a.vit_dim, o2 = D / 2;
    char nw[128], nb[128];
    snprintf(nw, sizeof(nw), PROJ "stages_sampling.%d.%d.0.weight", l, j);
    snprintf(nb, sizeof(nb), PROJ "stages_sampling.%d.%d.0.bias", l, j);
    if (L->st)
        return;
    if ((L->st = ft_nn_weights_expect(L->w, nw, 4, I(D), I(o2), I(2), I(2))) ||
        (L->st = ft_nn_weights_expect(L->w, nb, 1, I(o2))))
        return;
    float *dw = wreserve(L, (size_t)4 * o2 * D), *db = wreserve(L, (size_t)4 * o2);
    *w = dw;
    *b = db;
    size_t n = (size_t)4 * o2 * D;
    if (L->pass == 0) {
        if (n > L->stage_cap)
            L->stage_cap = n;
        return;
    }
    float *t = malloc(n * sizeof(float)), *bias = malloc(sizeof(float) * 4 * o2);
    if (!t || !bias) {
        free(t);
        free(bias);
        L->st = FT_ERR_NOMEM;
        return;
    }
    L->st = ft_nn_tensor_to_f32(ft_nn_weights_find(L->w, nw), L->stage, L->stage_cap);
    if (!L->st) {
        for (int c = 0; c < D; c++)
            for (int o = 0; o < o2; o++)
                for (int q = 0; q < 4; q++)
                    t[((size_t)q * o2 + o) * D + c] = L->stage[((size_t)c * o2 + o) * 4 + q];
        L->st = ft_nn_tensor_to_f32(ft_nn_weights_find(L->w, nb), L->stage, L->stage_cap);
    }
    if (!L->st) {
        for (int q = 0; q < 4; q++)
            memcpy(bias + (size_t)q * o2, L->stage, sizeof(float) * o2);
        m->be->ops->upload(m->be, dw, t, n * sizeof(float));
        m->be->ops->upload(m->be, db, bias, sizeof(float) * 4 * o2);
    }
    free(t);
    free(bias);
}

/* Projector level l: its resampling of each tap, then C2f + LayerNorm. */
static void load_level(loader *L, int l)
{
    ft_rfdetr *m = L->m;
    const ft_rfdetr_arch *a = &m->a;
    proj_level *lv = &m->lv[l];
    int D = a->vit_dim, H = a->hidden, c = m->c;
    char n[160];
    for (int j = 0; j < a->ntaps; j++) {
        if (lv->scale > 0) {
            load_upconv(L, l, j, &lv->up_w[j], &lv->up_b[j]);
        } else if (lv->scale < 0) {
            snprintf(n, sizeof(n), PROJ "stages_sampling.%d.%d.0.", l, j);
            load_conv_ln(L, &lv->down[j], n, D, D, 3);
        }
    }
    snprintf(n, sizeof(n), PROJ "stages.%d.0.cv1.", l);
    load_conv_ln(L, &lv->cv1, n, 2 * c, lv->cin, 1);
    for (int b = 0; b < a->proj_blocks; b++) {
        snprintf(n, sizeof(n), PROJ "stages.%d.0.m.%d.cv1.", l, b);
        load_conv_ln(L, &lv->bott[2 * b], n, c, c, 3);
        snprintf(n, sizeof(n), PROJ "stages.%d.0.m.%d.cv2.", l, b);
        load_conv_ln(L, &lv->bott[2 * b + 1], n, c, c, 3);
    }
    snprintf(n, sizeof(n), PROJ "stages.%d.0.cv2.", l);
    load_conv_ln(L, &lv->cv2, n, H, (2 + a->proj_blocks) * c, 1);
    snprintf(n, sizeof(n), PROJ "stages.%d.1.weight", l);
    lv->ln_w = WL(L, n, 1, I(H));
    snprintf(n, sizeof(n), PROJ "stages.%d.1.bias", l);
    lv->ln_b = WL(L, n, 1, I(H));
}

static void load_all(loader *L)
{
    ft_rfdetr *m = L->m;
    const ft_rfdetr_arch *a = &m->a;
    int D = a->vit_dim, P = a->patch, H = a->hidden, C = a->num_classes;
    char n[192];

    m->patch_w =
        WL(L, VIT "embeddings.patch_embeddings.projection.weight", 4, I(D), I(3), I(P), I(P));
    m->patch_b = WL(L, VIT "embeddings.patch_embeddings.projection.bias", 1, I(D));
    load_pos(L);
    for (int i = 0; i < a->vit_layers; i++) {
        vit_layer *v = &m->vit[i];
#define VL(field, suffix, ...)                                                                     \
    snprintf(n, sizeof(n), VIT "encoder.layer.%d.%s", i, suffix);                                  \
    v->field = WL(L, n, __VA_ARGS__)
        VL(n1w, "norm1.weight", 1, I(D));
        VL(n1b, "norm1.bias", 1, I(D));
        /* query, key, value back to back: one [3D, D] projection */
        VL(qkv_w, "attention.attention.query.weight", 2, I(D), I(D));
        WL(L, (snprintf(n, sizeof(n), VIT "encoder.layer.%d.attention.attention.key.weight", i), n),
           2, I(D), I(D));
        WL(L,
           (snprintf(n, sizeof(n), VIT "encoder.layer.%d.attention.attention.value.weight", i), n),
           2, I(D), I(D));
        VL(qkv_b, "attention.attention.query.bias", 1, I(D));
        WL(L, (snprintf(n, sizeof(n), VIT "encoder.layer.%d.attention.attention.key.bias", i), n),
           1, I(D));
        WL(L, (snprintf(n, sizeof(n), VIT "encoder.layer.%d.attention.attention.value.bias", i), n),
           1, I(D));
        VL(o_w, "attention.output.dense.weight", 2, I(D), I(D));
        VL(o_b, "attention.output.dense.bias", 1, I(D));
        VL(ls1, "layer_scale1.lambda1", 1, I(D));
        VL(n2w, "norm2.weight", 1, I(D));
        VL(n2b, "norm2.bias", 1, I(D));
        VL(fc1_w, "mlp.fc1.weight", 2, I(a->vit_mlp), I(D));
        VL(fc1_b, "mlp.fc1.bias", 1, I(a->vit_mlp));
        VL(fc2_w, "mlp.fc2.weight", 2, I(D), I(a->vit_mlp));
        VL(fc2_b, "mlp.fc2.bias", 1, I(D));
        VL(ls2, "layer_scale2.lambda1", 1, I(D));
#undef VL
    }
    m->vit_ln_w = WL(L, VIT "layernorm.weight", 1, I(D));
    m->vit_ln_b = WL(L, VIT "layernorm.bias", 1, I(D));

    for (int l = 0; l < a->levels; l++)
        load_level(L, l);

    m->enc_w = WL(L, "transformer.enc_output.0.weight", 2, I(H), I(H));
    m->enc_b = WL(L, "transformer.enc_output.0.bias", 1, I(H));
    m->enc_ln_w = WL(L, "transformer.enc_output_norm.0.weight", 1, I(H));
    m->enc_ln_b = WL(L, "transformer.enc_output_norm.0.bias", 1, I(H));
    m->enc_cls_w = WL(L, "transformer.enc_out_class_embed.0.weight", 2, I(C), I(H));
    m->enc_cls_b = WL(L, "transformer.enc_out_class_embed.0.bias", 1, I(C));
    load_mlp3(L, &m->enc_box, "transformer.enc_out_bbox_embed.0", H, 4);

    int nq = a->num_queries;
    m->refpoint = wload_rows(L, "refpoint_embed.weight", nq, 2, I(-1), I(4));
    m->query_feat = wload_rows(L, "query_feat.weight", nq, 2, I(-1), I(H));
    for (int i = 0; i < 2; i++) {
        snprintf(n, sizeof(n), "transformer.decoder.ref_point_head.layers.%d.weight", i);
        m->rph_w[i] = WL(L, n, 2, I(H), I(i ? H : 2 * H));
        snprintf(n, sizeof(n), "transformer.decoder.ref_point_head.layers.%d.bias", i);
        m->rph_b[i] = WL(L, n, 1, I(H));
    }
    int nsamp = a->ca_heads * a->dec_points * a->levels;
    for (int l = 0; l < a->dec_layers; l++) {
        dec_layer *dl = &m->dec[l];
#define DL(field, suffix, ...)                                                                     \
    snprintf(n, sizeof(n), "transformer.decoder.layers.%d.%s", l, suffix);                         \
    dl->field = WL(L, n, __VA_ARGS__)
        DL(in_w, "self_attn.in_proj_weight", 2, I(3 * H), I(H));
        DL(in_b, "self_attn.in_proj_bias", 1, I(3 * H));
        DL(out_w, "self_attn.out_proj.weight", 2, I(H), I(H));
        DL(out_b, "self_attn.out_proj.bias", 1, I(H));
        DL(n1w, "norm1.weight", 1, I(H));
        DL(n1b, "norm1.bias", 1, I(H));
        /* sampling offsets then attention weights: one [3 nsamp, H] projection */
        DL(off_w, "cross_attn.sampling_offsets.weight", 2, I(2 * nsamp), I(H));
        WL(L,
           (snprintf(n, sizeof(n),
                     "transformer.decoder.layers.%d.cross_attn.attention_weights.weight", l),
            n),
           2, I(nsamp), I(H));
        DL(off_b, "cross_attn.sampling_offsets.bias", 1, I(2 * nsamp));
        WL(L,
           (snprintf(n, sizeof(n),
                     "transformer.decoder.layers.%d.cross_attn.attention_weights.bias", l),
            n),
           1, I(nsamp));
        DL(val_w, "cross_attn.value_proj.weight", 2, I(H), I(H));
        DL(val_b, "cross_attn.value_proj.bias", 1, I(H));
        DL(op_w, "cross_attn.output_proj.weight", 2, I(H), I(H));
        DL(op_b, "cross_attn.output_proj.bias", 1, I(H));
        DL(n2w, "norm2.weight", 1, I(H));
        DL(n2b, "norm2.bias", 1, I(H));
        DL(l1_w, "linear1.weight", 2, I(a->ffn), I(H));
        DL(l1_b, "linear1.bias", 1, I(a->ffn));
        DL(l2_w, "linear2.weight", 2, I(H), I(a->ffn));
        DL(l2_b, "linear2.bias", 1, I(H));
        DL(n3w, "norm3.weight", 1, I(H));
        DL(n3b, "norm3.bias", 1, I(H));
#undef DL
    }
    m->dec_ln_w = WL(L, "transformer.decoder.norm.weight", 1, I(H));
    m->dec_ln_b = WL(L, "transformer.decoder.norm.bias", 1, I(H));
    m->cls_w = WL(L, "class_embed.weight", 2, I(C), I(H));
    m->cls_b = WL(L, "class_embed.bias", 1, I(C));
    load_mlp3(L, &m->box, "bbox_embed", H, 4);

    /* two-stage grid proposals (cx, cy, w, h) per level, w = h = 0.05 * 2^level;
     * invalid ones are 0 and mask their memory row (in every frame's memory).
     * One copy per frame: the top-k indices of frame b are rows of frame b. */
    float *prop = wreserve(L, (size_t)m->max_batch * m->hw_all * 4);
    m->proposals = prop;
    if (L->pass == 1 && !L->st) {
        float *hp = L->stage; /* stage holds at least hw_all * 4 floats (see create) */
        size_t nmask = (size_t)m->max_batch * m->hw_all;
        int32_t *mask = malloc(sizeof(int32_t) * nmask);
        if (!mask) {
            L->st = FT_ERR_NOMEM;
            return;
        }
        for (int l = 0; l < a->levels; l++) {
            const proj_level *lv = &m->lv[l];
            float wh = 0.05f * (float)(1 << l);
            for (int y = 0; y < lv->g; y++)
                for (int x = 0; x < lv->g; x++) {
                    int i = lv->start + y * lv->g + x;
                    float p[4] = {(x + 0.5f) / lv->g, (y + 0.5f) / lv->g, wh, wh};
                    bool ok = true;
                    for (int j = 0; j < 4; j++)
                        ok = ok && p[j] > 0.01f && p[j] < 0.99f;
                    for (int j = 0; j < 4; j++)
                        hp[i * 4 + j] = ok ? p[j] : 0.0f;
                    for (int b = 0; b < m->max_batch; b++)
                        mask[(size_t)b * m->hw_all + i] = ok ? b * m->hw_all + i : -1;
                }
        }
        for (int b = 0; b < m->max_batch; b++)
            m->be->ops->upload(m->be, prop + (size_t)b * 4 * m->hw_all, hp,
                               sizeof(float) * 4 * m->hw_all);
        if (m->masked)
            m->be->ops->upload(m->be, m->midx, mask, sizeof(int32_t) * nmask);
        free(mask);
    }
}

/* ---------------------------------------------------------------- planning */

typedef struct planner {
    size_t off;
    int pass;
    float *base;
} planner;

static float *areserve(planner *p, size_t n)
{
    float *r = p->pass ? p->base + p->off : NULL;
    p->off += round16(n);
    return r;
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Every activation for max_batch frames: frame b's rows follow frame a's in
 * each token matrix, so a GEMM, layer norm or row-wise operator runs once
 * over the whole batch. */
static void plan_acts(ft_rfdetr *m, planner *p)
{
    const ft_rfdetr_arch *a = &m->a;
    size_t B = (size_t)m->max_batch;
    size_t HW = (size_t)m->hw, T = (size_t)m->tokens, D = (size_t)a->vit_dim;
    size_t H = (size_t)a->hidden, C = (size_t)a->num_classes, nq = (size_t)a->num_queries;
    size_t k = (size_t)m->k, c = (size_t)m->c, P = (size_t)a->patch, M = (size_t)m->hw_all;
    size_t nsamp = (size_t)a->ca_heads * a->dec_points * a->levels;
    /* the column scratch serves the patch embedding and every projector
     * level: sized for the largest */
    size_t col = B * HW * 3 * P * P, lmax = 0, cinmax = 0;
    bool up = false;
    for (int l = 0; l < a->levels; l++) {
        const proj_level *lv = &m->lv[l];
        col = max_sz(col, B * lv->hw * 9 * c);
        if (lv->scale < 0)
            col = max_sz(col, B * lv->hw * 9 * D);
        lmax = max_sz(lmax, (size_t)lv->hw);
        up = up || lv->scale > 0;
    }
    m->img = areserve(p, B * 3 * m->size * m->size);
    m->col = areserve(p, col);
    m->emb = areserve(p, (B * HW + 1) * D); /* every frame's patch rows, then CLS */
    m->x = areserve(p, B * T * D);
    m->ln = areserve(p, B * T * D);
    m->qkv = areserve(p, B * T * 3 * D);
    m->ao = areserve(p, B * T * D);
    m->hmlp = areserve(p, B * T * a->vit_mlp);
    m->cat = areserve(p, B * HW * a->ntaps * D);
    for (int l = 0; l < a->levels; l++) {
        proj_level *lv = &m->lv[l];
        lv->cat = lv->scale == 0 ? m->cat : areserve(p, B * lv->hw * lv->cin);
        cinmax = max_sz(cinmax, (size_t)lv->cin);
    }
    m->up = up ? areserve(p, B * HW * 2 * D) : NULL;
    m->pcat = areserve(p, B * lmax * (2 + a->proj_blocks) * c);
    m->psrc = areserve(p, B * max_sz(lmax * c, HW * D));
    m->pt = areserve(p, B * lmax * c);
    m->mem = areserve(p, B * M * H);
    m->pmem = a->levels > 1 && B > 1 ? areserve(p, B * M * H) : NULL;
    m->memm = m->masked ? areserve(p, B * M * H) : m->mem;
    m->eo = areserve(p, B * M * H);
    m->el = areserve(p, B * M * C);
    m->mx = areserve(p, B * M);
    m->tkv = areserve(p, B * k);
    m->tm = areserve(p, B * k * H);
    m->tlog = areserve(p, k * C); /* debug tap of frame 0 only */
    m->ma = areserve(p, B * nq * H);
    m->mb = areserve(p, B * nq * H);
    m->d = areserve(p, B * nq * 4);
    m->ts = areserve(p, B * k * 4);
    m->refs = areserve(p, B * nq * 4);
    m->sine = areserve(p, B * nq * 2 * H);
    m->qpos = areserve(p, B * nq * H);
    m->tgt = areserve(p, B * nq * H);
    m->qk_in = areserve(p, B * nq * H);
    m->qk = areserve(p, B * nq * 2 * H);
    m->v = areserve(p, B * nq * H);
    m->att = areserve(p, B * nq * H);
    m->value = areserve(p, B * M * H);
    m->offlog = areserve(p, B * nq * 3 * nsamp);
    m->ffn = areserve(p, B * nq * (size_t)a->ffn);
    m->hs = areserve(p, (size_t)a->dec_layers * B * nq * H);
    m->logits = areserve(p, B * nq * C);
    m->boxes = areserve(p, B * nq * 4);
    m->selv = areserve(p, B * (size_t)m->nsel);
}

static size_t iota_len(const ft_rfdetr *m)
{
    return (size_t)m->max_batch * max_sz((size_t)m->hw_all, (size_t)m->hw);
}

static bool has_lidx(const ft_rfdetr *m)
{
    return m->a.levels > 1 && m->max_batch > 1;
}

/* int32 tables, each for max_batch frames: window gather, tap un-windowing,
 * identity, query of each decoder row, proposal mask, top-k, P3 sub-pixel
 * shuffle, level-major -> image-major memory rows */
static size_t plan_index(ft_rfdetr *m, int32_t *base)
{
    size_t off = 0, B = (size_t)m->max_batch;
#define IRES(field, n)                                                                             \
    do {                                                                                           \
        if (base)                                                                                  \
            m->field = base + off;                                                                 \
        off += round16(n);                                                                         \
    } while (0)
    IRES(widx, B * m->tokens);
    IRES(tidx, B * m->hw);
    IRES(iota, iota_len(m));
    IRES(qidx, B * m->a.num_queries);
    IRES(midx, B * m->hw_all);
    IRES(tki, B * m->k);
    IRES(upidx, B * 4 * m->hw);
    IRES(seli, B * m->nsel);
    if (has_lidx(m))
        IRES(lidx, B * m->hw_all);
#undef IRES
    return off;
}

static ft_status upload_index(ft_rfdetr *m)
{
    int win = m->a.windows, pw = m->gw / win, g = m->gw, nq = m->a.num_queries;
    size_t B = (size_t)m->max_batch, T = (size_t)m->tokens, HW = (size_t)m->hw;
    size_t M = (size_t)m->hw_all, n_iota = iota_len(m);
    size_t total = B * (T + HW + 4 * HW + (size_t)nq + M) + n_iota;
    int32_t *h = malloc(sizeof(int32_t) * total);
    if (!h)
        return FT_ERR_NOMEM;
    int32_t *widx = h, *tidx = h + B * T, *iota = tidx + B * HW, *upidx = iota + n_iota;
    int32_t cls = (int32_t)(B * HW); /* the embedding buffer's CLS row */
    int32_t *qidx = upidx + B * 4 * HW, *lidx = qidx + B * nq;
    for (int wy = 0; wy < win; wy++)
        for (int wx = 0; wx < win; wx++) {
            int w = wy * win + wx;
            widx[w * m->wtok] = cls; /* every window gets its own CLS copy */
            for (int r = 0; r < pw; r++)
                for (int cc = 0; cc < pw; cc++) {
                    int y = wy * pw + r, x = wx * pw + cc;
                    widx[w * m->wtok + 1 + r * pw + cc] = y * g + x;
                    tidx[y * g + x] = w * m->wtok + 1 + r * pw + cc;
                }
        }
    for (size_t i = 0; i < n_iota; i++)
        iota[i] = (int32_t)i;
    /* output pixel (2y+dy, 2x+dx) of the 2x map = sub-pixel q = 2dy+dx of input (y, x) */
    for (int y = 0; y < 2 * g; y++)
        for (int x = 0; x < 2 * g; x++)
            upidx[y * 2 * g + x] = ((y / 2) * g + x / 2) * 4 + (y % 2) * 2 + x % 2;
    /* frame b: the same tables shifted to its rows (CLS is shared) */
    for (size_t b = 1; b < B; b++) {
        for (size_t i = 0; i < T; i++)
            widx[b * T + i] = widx[i] == cls ? cls : (int32_t)(b * HW) + widx[i];
        for (size_t i = 0; i < HW; i++)
            tidx[b * HW + i] = (int32_t)(b * T) + tidx[i];
        for (size_t i = 0; i < 4 * HW; i++)
            upidx[b * 4 * HW + i] = (int32_t)(b * 4 * HW) + upidx[i];
    }
    for (size_t i = 0; i < B * nq; i++)
        qidx[i] = (int32_t)(i % nq);
    /* level l of frame b lies at rows start * max_batch + b * hw of the
     * level-major projector output */
    for (size_t b = 0; b < B; b++)
        for (int l = 0; l < m->a.levels; l++) {
            const proj_level *lv = &m->lv[l];
            for (int i = 0; i < lv->hw; i++)
                lidx[b * M + lv->start + i] = (int32_t)((size_t)lv->start * B + b * lv->hw + i);
        }
    m->be->ops->upload(m->be, m->widx, widx, sizeof(int32_t) * B * T);
    m->be->ops->upload(m->be, m->tidx, tidx, sizeof(int32_t) * B * HW);
    m->be->ops->upload(m->be, m->iota, iota, sizeof(int32_t) * n_iota);
    m->be->ops->upload(m->be, m->qidx, qidx, sizeof(int32_t) * B * nq);
    m->be->ops->upload(m->be, m->upidx, upidx, sizeof(int32_t) * B * 4 * HW);
    if (has_lidx(m))
        m->be->ops->upload(m->be, m->lidx, lidx, sizeof(int32_t) * B * M);
    free(h);
    return FT_OK;
}

/* ---------------------------------------------------------------- forward */

static void tap_rows(ft_rfdetr *m, const char *name, const float *src, int rows, int cols, int ld)
{
    if (!m->tap_fn)
        return;
    for (int r = 0; r < rows; r++)
        if (m->be->ops->download(m->be, m->h_tap + (size_t)r * cols, src + (size_t)r * ld,
                                 sizeof(float) * cols))
            return;
    int64_t shape[2] = {rows, cols};
    m->tap_fn(m->tap_user, name, m->h_tap, 2, shape);
}

static void tap_index(ft_rfdetr *m, const char *name, const int32_t *src, int n)
{
    if (!m->tap_fn)
        return;
    if (m->be->ops->download(m->be, m->h_tapi, src, sizeof(int32_t) * n))
        return;
    for (int i = 0; i < n; i++)
        m->h_tap[i] = (float)m->h_tapi[i];
    int64_t shape[1] = {n};
    m->tap_fn(m->tap_user, name, m->h_tap, 1, shape);
}

static void lin(ft_rfdetr *m, int rows, int n, int k, const float *x, int ldx, const float *w,
                const float *b, ft_nn_act act, const float *res, int ldres, const float *scale,
                float *y, int ldy)
{
    ft_nn_linear_args la = {rows, n, k, x, ldx, w, b, act, res, ldres, scale, y, ldy};
    m->macs += (double)rows * n * k;
    m->be->ops->linear(m->be, &la);
}

/* y = act(LayerNorm(x)) row-wise, contiguous rows of n. */
static void lnorm(ft_rfdetr *m, int rows, int n, const float *x, const float *g, const float *b,
                  float eps, ft_nn_act act, float *y)
{
    m->be->ops->layernorm(m->be, rows, n, x, n, g, b, eps, act, y, n);
}

static void mlp3_run(ft_rfdetr *m, const mlp3 *p, int rows, int hid, const float *x, float *out)
{
    lin(m, rows, hid, hid, x, hid, p->w[0], p->b[0], FT_NN_ACT_RELU, NULL, 0, NULL, m->ma, hid);
    lin(m, rows, hid, hid, m->ma, hid, p->w[1], p->b[1], FT_NN_ACT_RELU, NULL, 0, NULL, m->mb, hid);
    lin(m, rows, 4, hid, m->mb, hid, p->w[2], p->b[2], FT_NN_ACT_NONE, NULL, 0, NULL, out, 4);
}

static void forward_backbone(ft_rfdetr *m)
{
    const ft_rfdetr_arch *a = &m->a;
    ft_nn_backend *be = m->be;
    int B = m->pb, D = a->vit_dim, P = a->patch, T = m->tokens, HW = m->hw;
    ft_nn_im2col_args ic = {FT_NN_CHW, 3, m->size, m->size, P, P, 0, m->img, m->col, B};
    be->ops->im2col(be, &ic);
    lin(m, B * HW, D, 3 * P * P, m->col, 3 * P * P, m->patch_w, m->patch_b, FT_NN_ACT_NONE,
        m->pos_rows, D, NULL, m->emb, D);
    be->ops->gather_rows(be, B * T, D, m->emb, D, m->widx, m->x, D);

    int tap = 0;
    for (int i = 0; i < a->vit_layers; i++) {
        const vit_layer *v = &m->vit[i];
        /* the layer after each tap attends globally (one sequence per frame);
         * the others per window */
        bool global = false;
        for (int t = 0; t < a->ntaps; t++)
            global = global || a->taps[t] == i;
        int seqs = global ? B : B * m->nwin, len = global ? T : m->wtok;
        lnorm(m, B * T, D, m->x, v->n1w, v->n1b, VIT_EPS, FT_NN_ACT_NONE, m->ln);
        lin(m, B * T, 3 * D, D, m->ln, D, v->qkv_w, v->qkv_b, FT_NN_ACT_NONE, NULL, 0, NULL, m->qkv,
            3 * D);
        ft_nn_attention_args at = {seqs,  len,        len,   a->vit_heads,   64,    0.125f, m->qkv,
                                   3 * D, m->qkv + D, 3 * D, m->qkv + 2 * D, 3 * D, m->ao,  D};
        m->macs += 2.0 * seqs * a->vit_heads * (double)len * len * 64;
        be->ops->attention(be, &at);
        lin(m, B * T, D, D, m->ao, D, v->o_w, v->o_b, FT_NN_ACT_NONE, m->x, D, v->ls1, m->x, D);
        lnorm(m, B * T, D, m->x, v->n2w, v->n2b, VIT_EPS, FT_NN_ACT_NONE, m->ln);
        lin(m, B * T, a->vit_mlp, D, m->ln, D, v->fc1_w, v->fc1_b, FT_NN_ACT_GELU, NULL, 0, NULL,
            m->hmlp, a->vit_mlp);
        lin(m, B * T, D, a->vit_mlp, m->hmlp, a->vit_mlp, v->fc2_w, v->fc2_b, FT_NN_ACT_NONE, m->x,
            D, v->ls2, m->x, D);
        if (tap < a->ntaps && a->taps[tap] == i + 1) {
            char name[48];
            if (m->tap_fn) {
                be->ops->gather_rows(be, HW, D, m->x, D, m->tidx, m->ao, D);
                snprintf(name, sizeof(name), "backbone_block%d_pre_ln", i + 1);
                tap_rows(m, name, m->ao, HW, D, D);
            }
            lnorm(m, B * T, D, m->x, m->vit_ln_w, m->vit_ln_b, VIT_EPS, FT_NN_ACT_NONE, m->ln);
            float *dst = m->cat + (size_t)tap * D;
            be->ops->gather_rows(be, B * HW, D, m->ln, D, m->tidx, dst, a->ntaps * D);
            snprintf(name, sizeof(name), "backbone_block%d_post_ln", i + 1);
            tap_rows(m, name, dst, HW, D, a->ntaps * D);
            tap++;
        }
    }
}

/* Resamples the taps for a P3 or P5 level into lv->cat (P4 reads the taps
 * concat directly). */
static void forward_sampling(ft_rfdetr *m, const proj_level *lv)
{
    const ft_rfdetr_arch *a = &m->a;
    ft_nn_backend *be = m->be;
    int B = m->pb, D = a->vit_dim, HW = m->hw, ld = a->ntaps * D;
    for (int j = 0; j < a->ntaps; j++) {
        const float *tap = m->cat + (size_t)j * D;
        if (lv->scale > 0) {
            /* transposed conv: 4 sub-pixels per input pixel, then shuffled */
            lin(m, B * HW, 2 * D, D, tap, ld, lv->up_w[j], lv->up_b[j], FT_NN_ACT_NONE, NULL, 0,
                NULL, m->up, 2 * D);
            be->ops->gather_rows(be, B * 4 * HW, D / 2, m->up, D / 2, m->upidx,
                                 lv->cat + (size_t)j * (D / 2), lv->cin);
        } else {
            /* 3x3 stride-2 conv, channel LayerNorm, ReLU */
            be->ops->gather_rows(be, B * HW, D, tap, ld, m->iota, m->psrc, D);
            ft_nn_im2col_args ic = {FT_NN_HWC, D, m->gw, m->gw, 3, 2, 1, m->psrc, m->col, B};
            be->ops->im2col(be, &ic);
            float *dst = lv->cat + (size_t)j * D;
            lin(m, B * lv->hw, D, 9 * D, m->col, 9 * D, lv->down[j].w, NULL, FT_NN_ACT_NONE, NULL,
                0, NULL, dst, lv->cin);
            be->ops->layernorm(be, B * lv->hw, D, dst, lv->cin, lv->down[j].lnw, lv->down[j].lnb,
                               PROJ_EPS, FT_NN_ACT_RELU, dst, lv->cin);
        }
    }
}

/* C2f (cv1, chained 3x3 bottlenecks without shortcut, cv2; convs + channel
 * LayerNorm + SiLU) and the final LayerNorm of one level, into its memory
 * rows: the transformer memory itself with one level, else level-major rows
 * of the projector output when the batch has several frames. */
static void forward_c2f(ft_rfdetr *m, const proj_level *lv)
{
    const ft_rfdetr_arch *a = &m->a;
    ft_nn_backend *be = m->be;
    int B = m->pb, HW = B * lv->hw, c = m->c, H = a->hidden, cin = lv->cin;
    int ldp = (2 + a->proj_blocks) * c;
    float *out = a->levels > 1 && B > 1 ? m->pmem + (size_t)lv->start * m->max_batch * H
                                        : m->mem + (size_t)lv->start * H;
    lin(m, HW, 2 * c, cin, lv->cat, cin, lv->cv1.w, NULL, FT_NN_ACT_NONE, NULL, 0, NULL, m->pcat,
        ldp);
    be->ops->layernorm(be, HW, 2 * c, m->pcat, ldp, lv->cv1.lnw, lv->cv1.lnb, PROJ_EPS,
                       FT_NN_ACT_SILU, m->pcat, ldp);
    /* each bottleneck reads the previous chunk (first: the second half of cv1) */
    const float *prev = m->pcat + c;
    ft_nn_im2col_args ic = {FT_NN_HWC, c, lv->g, lv->g, 3, 1, 1, m->psrc, m->col, B};
    for (int b = 0; b < a->proj_blocks; b++) {
        be->ops->gather_rows(be, HW, c, prev, ldp, m->iota, m->psrc, c);
        ic.x = m->psrc;
        be->ops->im2col(be, &ic);
        const conv_ln *c1 = &lv->bott[2 * b], *c2 = &lv->bott[2 * b + 1];
        lin(m, HW, c, 9 * c, m->col, 9 * c, c1->w, NULL, FT_NN_ACT_NONE, NULL, 0, NULL, m->pt, c);
        lnorm(m, HW, c, m->pt, c1->lnw, c1->lnb, PROJ_EPS, FT_NN_ACT_SILU, m->pt);
        ic.x = m->pt;
        be->ops->im2col(be, &ic);
        float *dst = m->pcat + (size_t)(2 + b) * c;
        lin(m, HW, c, 9 * c, m->col, 9 * c, c2->w, NULL, FT_NN_ACT_NONE, NULL, 0, NULL, dst, ldp);
        be->ops->layernorm(be, HW, c, dst, ldp, c2->lnw, c2->lnb, PROJ_EPS, FT_NN_ACT_SILU, dst,
                           ldp);
        prev = dst;
    }
    lin(m, HW, H, ldp, m->pcat, ldp, lv->cv2.w, NULL, FT_NN_ACT_NONE, NULL, 0, NULL, out, H);
    lnorm(m, HW, H, out, lv->cv2.lnw, lv->cv2.lnb, PROJ_EPS, FT_NN_ACT_SILU, out);
    lnorm(m, HW, H, out, lv->ln_w, lv->ln_b, PROJ_EPS, FT_NN_ACT_NONE, out);
}

static void forward_projector(ft_rfdetr *m)
{
    const ft_rfdetr_arch *a = &m->a;
    for (int l = 0; l < a->levels; l++) {
        if (m->lv[l].scale)
            forward_sampling(m, &m->lv[l]);
        forward_c2f(m, &m->lv[l]);
    }
    /* several levels and frames: each frame's levels back together */
    if (a->levels > 1 && m->pb > 1)
        m->be->ops->gather_rows(m->be, m->pb * m->hw_all, a->hidden, m->pmem, a->hidden, m->lidx,
                                m->mem, a->hidden);
    tap_rows(m, "projector_out", m->mem, m->hw_all, a->hidden, a->hidden);
}

static void forward_two_stage(ft_rfdetr *m)
{
    const ft_rfdetr_arch *a = &m->a;
    ft_nn_backend *be = m->be;
    int B = m->pb, M = m->hw_all, H = a->hidden, C = a->num_classes, k = m->k;
    int nq = a->num_queries;
    if (m->masked)
        be->ops->gather_rows(be, B * M, H, m->mem, H, m->midx, m->memm, H);
    lin(m, B * M, H, H, m->memm, H, m->enc_w, m->enc_b, FT_NN_ACT_NONE, NULL, 0, NULL, m->eo, H);
    lnorm(m, B * M, H, m->eo, m->enc_ln_w, m->enc_ln_b, DEC_EPS, FT_NN_ACT_NONE, m->eo);
    lin(m, B * M, C, H, m->eo, H, m->enc_cls_w, m->enc_cls_b, FT_NN_ACT_NONE, NULL, 0, NULL, m->el,
        C);
    tap_rows(m, "enc_class_logits_all", m->el, M, C, C);
    be->ops->rowmax(be, B * M, C, m->el, C, m->mx);
    /* the selection is per frame; its indices are rows of the whole batch */
    be->ops->topk(be, B, M, k, m->mx, m->tki, m->tkv);
    be->ops->gather_rows(be, B * k, H, m->eo, H, m->tki, m->tm, H);
    tap_index(m, "enc_topk_indices", m->tki, k);
    tap_rows(m, "enc_topk_scores", m->tkv, 1, k, k);
    tap_rows(m, "enc_topk_memory", m->tm, k, H, H);
    if (m->tap_fn) {
        be->ops->gather_rows(be, k, C, m->el, C, m->tki, m->tlog, C);
        tap_rows(m, "enc_topk_logits", m->tlog, k, C, C);
    }
    mlp3_run(m, &m->enc_box, B * k, H, m->tm, m->d);
    be->ops->box_refine(be, B * k, m->d, 4, m->proposals, m->tki, m->ts);
    tap_rows(m, "enc_topk_boxes", m->ts, k, 4, 4);
    /* initial references: learned refpoints reparametrised on the proposals
     * (the refpoints repeated per frame when there are several) */
    const float *rp = m->refpoint;
    if (B > 1) {
        be->ops->gather_rows(be, B * nq, 4, m->refpoint, 4, m->qidx, m->d, 4);
        rp = m->d;
    }
    be->ops->box_refine(be, B * nq, rp, 4, m->ts, NULL, m->refs);
    tap_rows(m, "decoder_ref_points", m->refs, nq, 4, 4);
}

/* decoder_hs of frame 0: nq rows per layer, layers B x nq rows apart. */
static void tap_hs(ft_rfdetr *m)
{
    const ft_rfdetr_arch *a = &m->a;
    size_t per = (size_t)a->num_queries * a->hidden;
    if (!m->tap_fn)
        return;
    for (int l = 0; l < a->dec_layers; l++)
        if (m->be->ops->download(m->be, m->h_tap + l * per, m->hs + (size_t)l * m->pb * per,
                                 sizeof(float) * per))
            return;
    int64_t shape[2] = {(int64_t)a->dec_layers * a->num_queries, a->hidden};
    m->tap_fn(m->tap_user, "decoder_hs", m->h_tap, 2, shape);
}

static void forward_decoder(ft_rfdetr *m)
{
    const ft_rfdetr_arch *a = &m->a;
    ft_nn_backend *be = m->be;
    int B = m->pb, M = m->hw_all, H = a->hidden, C = a->num_classes, nq = a->num_queries;
    int R = B * nq; /* query rows of the batch */
    int nsamp = a->ca_heads * a->dec_points * a->levels;
    be->ops->sine_embed(be, R, H / 2, m->refs, m->sine);
    lin(m, R, H, 2 * H, m->sine, 2 * H, m->rph_w[0], m->rph_b[0], FT_NN_ACT_RELU, NULL, 0, NULL,
        m->ma, H);
    lin(m, R, H, H, m->ma, H, m->rph_w[1], m->rph_b[1], FT_NN_ACT_NONE, NULL, 0, NULL, m->qpos, H);
    tap_rows(m, "decoder_query_pos", m->qpos, nq, H, H);
    be->ops->gather_rows(be, R, H, m->query_feat, H, m->qidx, m->tgt, H);
    for (int l = 0; l < a->dec_layers; l++) {
        const dec_layer *dl = &m->dec[l];
        /* self-attention among each frame's queries: q = k = tgt + qpos, v = tgt */
        be->ops->add(be, R * H, m->tgt, m->qpos, m->qk_in);
        lin(m, R, 2 * H, H, m->qk_in, H, dl->in_w, dl->in_b, FT_NN_ACT_NONE, NULL, 0, NULL, m->qk,
            2 * H);
        lin(m, R, H, H, m->tgt, H, dl->in_w + (size_t)2 * H * H, dl->in_b + 2 * H, FT_NN_ACT_NONE,
            NULL, 0, NULL, m->v, H);
        int dh = H / a->sa_heads;
        ft_nn_attention_args at = {
            B,     nq,   nq, a->sa_heads, dh, 1.0f / sqrtf((float)dh), m->qk, 2 * H, m->qk + H,
            2 * H, m->v, H,  m->att,      H};
        m->macs += 2.0 * B * a->sa_heads * (double)nq * nq * dh;
        be->ops->attention(be, &at);
        lin(m, R, H, H, m->att, H, dl->out_w, dl->out_b, FT_NN_ACT_NONE, m->tgt, H, NULL, m->tgt,
            H);
        lnorm(m, R, H, m->tgt, dl->n1w, dl->n1b, DEC_EPS, FT_NN_ACT_NONE, m->tgt);
        /* deformable cross-attention into each frame's projector map */
        be->ops->add(be, R * H, m->tgt, m->qpos, m->qk_in);
        lin(m, B * M, H, H, m->mem, H, dl->val_w, dl->val_b, FT_NN_ACT_NONE, NULL, 0, NULL,
            m->value, H);
        lin(m, R, 3 * nsamp, H, m->qk_in, H, dl->off_w, dl->off_b, FT_NN_ACT_NONE, NULL, 0, NULL,
            m->offlog, 3 * nsamp);
        ft_nn_msda_args ms = {.nq = nq,
                              .heads = a->ca_heads,
                              .dh = H / a->ca_heads,
                              .levels = a->levels,
                              .points = a->dec_points,
                              .batch = B,
                              .frame_rows = M,
                              .value = m->value,
                              .ref = m->refs,
                              .offsets = m->offlog,
                              .ldoff = 3 * nsamp,
                              .logits = m->offlog + 2 * nsamp,
                              .ldlog = 3 * nsamp,
                              .out = m->att,
                              .ldo = H};
        for (int lv = 0; lv < a->levels; lv++) {
            ms.level_hw[2 * lv] = ms.level_hw[2 * lv + 1] = m->lv[lv].g;
            ms.level_start[lv] = m->lv[lv].start;
        }
        be->ops->msda(be, &ms);
        lin(m, R, H, H, m->att, H, dl->op_w, dl->op_b, FT_NN_ACT_NONE, m->tgt, H, NULL, m->tgt, H);
        lnorm(m, R, H, m->tgt, dl->n2w, dl->n2b, DEC_EPS, FT_NN_ACT_NONE, m->tgt);
        lin(m, R, a->ffn, H, m->tgt, H, dl->l1_w, dl->l1_b, FT_NN_ACT_RELU, NULL, 0, NULL, m->ffn,
            a->ffn);
        lin(m, R, H, a->ffn, m->ffn, a->ffn, dl->l2_w, dl->l2_b, FT_NN_ACT_NONE, m->tgt, H, NULL,
            m->tgt, H);
        lnorm(m, R, H, m->tgt, dl->n3w, dl->n3b, DEC_EPS, FT_NN_ACT_NONE, m->tgt);
        lnorm(m, R, H, m->tgt, m->dec_ln_w, m->dec_ln_b, DEC_EPS, FT_NN_ACT_NONE,
              m->hs + (size_t)l * R * H);
    }
    tap_hs(m);
    const float *last = m->hs + (size_t)(a->dec_layers - 1) * R * H;
    lin(m, R, C, H, last, H, m->cls_w, m->cls_b, FT_NN_ACT_NONE, NULL, 0, NULL, m->logits, C);
    mlp3_run(m, &m->box, R, H, last, m->d);
    be->ops->box_refine(be, R, m->d, 4, m->refs, NULL, m->boxes);
    tap_rows(m, "pred_logits", m->logits, nq, C, C);
    tap_rows(m, "pred_boxes", m->boxes, nq, 4, 4);
    /* PostProcess's top-k over queries x classes per frame (sigmoid is
     * monotonic, so on the logits): only the selection is downloaded */
    be->ops->topk(be, B, nq * C, m->nsel, m->logits, m->seli, m->selv);
}

static void record(ft_nn_backend *be, void *user)
{
    (void)be;
    const rfdetr_plan *plan = user;
    ft_rfdetr *m = plan->m;
    m->pb = plan->batch;
    m->macs = 0;
    forward_backbone(m);
    forward_projector(m);
    forward_two_stage(m);
    forward_decoder(m);
    m->flops_frame = 2.0 * m->macs / plan->batch;
}

ft_status ft_rfdetr_forward(ft_rfdetr *m)
{
    ft_nn_backend *be = m->be;
    const ft_rfdetr_arch *a = &m->a;
    size_t rows = (size_t)m->nb * a->num_queries, sel = (size_t)m->nb * m->nsel;
    /* a count without a plan of its own runs the next larger one: its extra
     * frames compute on whatever their input slots hold and are not read,
     * which bounds the CUDA graphs and GEMM shapes to log2(max_batch) + 2
     * plans instead of one per count */
    int p = 0;
    while (m->plans[p].batch < m->nb)
        p++;
    ft_status st = be->ops->run(be, record, &m->plans[p], m->tap_fn ? FT_NN_RUN_EAGER : 0);
    if (!st)
        st = be->ops->download(be, m->sel_idx, m->seli, sizeof(int32_t) * sel);
    if (!st)
        st = be->ops->download(be, m->sel_val, m->selv, sizeof(float) * sel);
    if (!st)
        st = be->ops->download(be, m->h_boxes, m->boxes, sizeof(float) * rows * 4);
    if (st)
        FT_LOGE("rfdetr", "forward pass failed on %s: %s", be->ops->name, ft_status_str(st));
    return st;
}

/* ---------------------------------------------------------------- lifecycle */

static ft_status load_class_names(ft_rfdetr *m, const ft_nn_weights *w)
{
    const ft_nn_arg *arg = ft_nn_weights_arg(w, "class_names");
    if (!arg || arg->type != FT_NN_ARG_LIST || arg->len == 0)
        return FT_OK;
    int n = arg->len > MAX_CLASS_NAMES ? MAX_CLASS_NAMES : (int)arg->len;
    m->class_names = calloc((size_t)n, sizeof(char *));
    if (!m->class_names)
        return FT_ERR_NOMEM;
    m->n_class_names = n;
    for (int i = 0; i < n; i++)
        if (arg->items[i].type == FT_NN_ARG_STR && arg->items[i].s) {
            m->class_names[i] = strdup(arg->items[i].s);
            if (!m->class_names[i])
                return FT_ERR_NOMEM;
        }
    return FT_OK;
}

const char *ft_rfdetr_class_name(const ft_rfdetr *m, int label)
{
    /* Roboflow fine-tunes: label = category id, names exclude the id-0
     * supercategory when the head has one more class than names. */
    int i;
    if (m->a.num_classes == m->n_class_names + 1)
        i = label - 1;
    else if (m->a.num_classes == m->n_class_names) /* YOLO-style datasets: 0-based */
        i = label;
    else /* e.g. 80 COCO names on the 91-id head: ids have gaps we do not map */
        return NULL;
    if (i < 0 || i >= m->n_class_names)
        return NULL;
    return m->class_names[i];
}

int ft_rfdetr_ball_class_auto(const ft_rfdetr *m)
{
    for (int label = 0; label < m->a.num_classes; label++) {
        const char *name = ft_rfdetr_class_name(m, label);
        if (name && strcasestr(name, "ball"))
            return label;
    }
    return m->a.num_classes == 91 ? 37 : 0; /* COCO category id of "sports ball" */
}

static ft_status plan_check(ft_rfdetr *m, const ft_rfdetr_params *p, const char *path)
{
    const ft_rfdetr_arch *a = &m->a;
    m->size = p->imgsz > 0 ? p->imgsz : a->resolution;
    int mult = a->patch * a->windows;
    if (m->size % mult) {
        FT_LOGE("rfdetr",
                "imgsz %d is not a multiple of %d (patch %d x %d windows) required by "
                "%s (%s)",
                m->size, mult, a->patch, a->windows, path, a->size);
        return FT_ERR_CONFIG;
    }
    m->gw = m->size / a->patch;
    m->hw = m->gw * m->gw;
    m->nwin = a->windows * a->windows;
    m->wtok = 1 + m->hw / m->nwin;
    m->tokens = m->nwin * m->wtok;
    m->c = a->hidden / 2;
    /* projector levels: sizes and their rows in the transformer memory */
    m->hw_all = 0;
    m->masked = false;
    for (int l = 0; l < a->levels; l++) {
        proj_level *lv = &m->lv[l];
        lv->scale = a->level_scale[l];
        lv->g = lv->scale > 0 ? 2 * m->gw : lv->scale < 0 ? (m->gw - 1) / 2 + 1 : m->gw;
        lv->hw = lv->g * lv->g;
        lv->start = m->hw_all;
        lv->cin = a->ntaps * (lv->scale > 0 ? a->vit_dim / 2 : a->vit_dim);
        m->hw_all += lv->hw;
        float wh = 0.05f * (float)(1 << l);
        m->masked = m->masked || !(wh > 0.01f && wh < 0.99f);
        for (int x = 0; x < lv->g; x++) {
            float cx = (x + 0.5f) / lv->g;
            m->masked = m->masked || !(cx > 0.01f && cx < 0.99f);
        }
    }
    if (m->hw_all < a->num_queries) {
        FT_LOGE("rfdetr", "imgsz %d gives %d tokens, fewer than the %d queries of %s", m->size,
                m->hw_all, a->num_queries, path);
        return FT_ERR_CONFIG;
    }
    m->k = a->num_queries;
    int total = a->num_queries * a->num_classes;
    m->nsel = a->num_select < total ? a->num_select : total;
    return FT_OK;
}

static ft_status create_on(const ft_rfdetr_params *p, ft_rfdetr **out);

ft_status ft_rfdetr_create(const ft_rfdetr_params *p, ft_rfdetr **out)
{
    ft_status st = create_on(p, out);
    if (st == FT_ERR_GPU_OOM) {
        FT_LOGW("rfdetr", "CUDA out of memory: falling back to the CPU");
        ft_rfdetr_params cpu = *p;
        cpu.device = "cpu";
        st = create_on(&cpu, out);
    }
    return st;
}

static ft_status create_on(const ft_rfdetr_params *p, ft_rfdetr **out)
{
    ft_status st = FT_OK;
    ft_nn_weights *w = NULL;
    ft_rfdetr *m = calloc(1, sizeof(*m));
    if (!m)
        return FT_ERR_NOMEM;
    if (!p->model_path || !*p->model_path) {
        FT_LOGE("rfdetr", "no model file given");
        st = FT_ERR_CONFIG;
        goto out;
    }
    if ((st = ft_nn_weights_open(p->model_path, &w)))
        goto out;
    if ((st = ft_rfdetr_arch_resolve(w, p->size, &m->a)))
        goto out;
    if ((st = plan_check(m, p, p->model_path)))
        goto out;
    if (p->max_batch < 0 || p->max_batch > FT_RFDETR_MAX_BATCH) {
        FT_LOGE("rfdetr", "%s: max batch %d is outside 1..%d", p->model_path, p->max_batch,
                FT_RFDETR_MAX_BATCH);
        st = FT_ERR_CONFIG;
        goto out;
    }
    m->max_batch = p->max_batch > 0 ? p->max_batch : 1;
    m->nb = 1;
    if ((st = load_class_names(m, w)))
        goto out;
    const ft_rfdetr_arch *a = &m->a;
    m->vit = calloc((size_t)a->vit_layers, sizeof(*m->vit));
    m->dec = calloc((size_t)a->dec_layers, sizeof(*m->dec));
    /* powers of two below max_batch (at most 31 of them), then max_batch */
    m->plans = calloc(sizeof(int) * 8, sizeof(*m->plans));
    bool ok = m->vit && m->dec && m->plans;
    for (int b = 1; ok && b < m->max_batch; b *= 2)
        m->plans[m->nplans++] = (rfdetr_plan){m, b};
    if (ok)
        m->plans[m->nplans++] = (rfdetr_plan){m, m->max_batch};
    for (int l = 0; l < a->levels; l++) {
        m->lv[l].bott = calloc((size_t)a->proj_blocks * 2, sizeof(*m->lv[l].bott));
        ok = ok && m->lv[l].bott;
    }
    if (!ok) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    ft_nn_backend_params bp = {.device = p->device, .threads = p->threads};
    if ((st = ft_nn_backend_create(&bp, &m->be)))
        goto out;

    /* activations and index tables first: the weight pass writes CLS into emb */
    planner pl = {0, 0, NULL};
    plan_acts(m, &pl);
    double act_mib = (double)pl.off * sizeof(float) / (1 << 20);
    if ((st = m->be->ops->alloc(m->be, pl.off * sizeof(float), FT_NN_MEM_ACT, &m->amem)))
        goto out;
    pl = (planner){0, 1, m->amem};
    plan_acts(m, &pl);
    size_t ni = plan_index(m, NULL);
    if ((st = m->be->ops->alloc(m->be, ni * sizeof(int32_t), FT_NN_MEM_ACT, &m->imem)))
        goto out;
    plan_index(m, m->imem);
    if ((st = upload_index(m)))
        goto out;

    loader L = {m, w, 0, 0, NULL, 0, FT_OK};
    load_all(&L);
    if ((st = L.st))
        goto out;
    if (L.stage_cap < (size_t)m->hw_all * 4)
        L.stage_cap = (size_t)m->hw_all * 4;
    L.stage = malloc(L.stage_cap * sizeof(float));
    if (!L.stage) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if ((st = m->be->ops->alloc(m->be, L.off * sizeof(float), FT_NN_MEM_WEIGHT, &m->wmem))) {
        free(L.stage);
        goto out;
    }
    L.pass = 1;
    L.off = 0;
    load_all(&L);
    free(L.stage);
    if ((st = L.st))
        goto out;

    size_t nq = (size_t)m->max_batch * a->num_queries;
    m->h_boxes = malloc(nq * 4 * sizeof(float));
    m->h_in = malloc(sizeof(float) * 3 * (size_t)m->size * m->size);
    m->sel_idx = malloc(sizeof(int32_t) * m->max_batch * m->nsel);
    m->sel_val = malloc(sizeof(float) * m->max_batch * m->nsel);
    if (!m->h_boxes || !m->h_in || !m->sel_idx || !m->sel_val) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    FT_LOGI("rfdetr",
            "%s: RF-DETR %s, %dx%d input, ViT %d/%d layers, %d classes, %d queries, "
            "up to %d frames per pass (%.0f MiB of activations), backend %s",
            p->model_path, a->size, m->size, m->size, a->vit_dim, a->vit_layers, a->num_classes,
            a->num_queries, m->max_batch, act_mib, m->be->ops->name);
    ft_nn_weights_destroy(&w); /* everything was converted and uploaded */
    for (int i = 0; i < p->warmup_iterations; i++) {
        memset(m->h_in, 0, sizeof(float) * 3 * (size_t)m->size * m->size);
        if ((st = ft_rfdetr_set_input(m, m->h_in)) || (st = ft_rfdetr_forward(m)))
            goto out;
    }
    *out = m;
out:
    ft_nn_weights_destroy(&w);
    if (st)
        ft_rfdetr_destroy(&m);
    return st;
}

void ft_rfdetr_destroy(ft_rfdetr **pm)
{
    if (!pm || !*pm)
        return;
    ft_rfdetr *m = *pm;
    if (m->be) {
        m->be->ops->free(m->be, m->wmem);
        m->be->ops->free(m->be, m->amem);
        m->be->ops->free(m->be, m->imem);
        ft_nn_backend_destroy(&m->be);
    }
    free(m->plans);
    free(m->vit);
    free(m->dec);
    for (int l = 0; l < FT_RFDETR_MAX_LEVELS; l++)
        free(m->lv[l].bott);
    free(m->h_boxes);
    free(m->h_tmp);
    free(m->h_in);
    free(m->sel_idx);
    free(m->sel_val);
    free(m->h_tap);
    free(m->h_tapi);
    for (int i = 0; i < m->n_class_names; i++)
        free(m->class_names[i]);
    free(m->class_names);
    free(m);
    *pm = NULL;
}

const ft_rfdetr_arch *ft_rfdetr_arch_get(const ft_rfdetr *m)
{
    return &m->a;
}

int ft_rfdetr_input_size(const ft_rfdetr *m)
{
    return m->size;
}

double ft_rfdetr_flops(const ft_rfdetr *m)
{
    return m->flops_frame;
}

int ft_rfdetr_batch(const ft_rfdetr *m)
{
    return m->nb;
}

void ft_rfdetr_set_tap(ft_rfdetr *m, ft_rfdetr_tap_fn fn, void *user)
{
    if (fn && !m->h_tap) {
        const ft_rfdetr_arch *a = &m->a;
        size_t n = (size_t)m->hw * a->vit_dim;
        size_t alt[] = {(size_t)m->hw_all * a->num_classes,
                        (size_t)a->dec_layers * a->num_queries * a->hidden,
                        (size_t)m->hw_all * a->hidden};
        for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++)
            n = alt[i] > n ? alt[i] : n;
        m->h_tap = malloc(n * sizeof(float));
        m->h_tapi = malloc((size_t)m->k * sizeof(int32_t));
        if (!m->h_tap || !m->h_tapi) {
            FT_LOGE("rfdetr", "out of memory for debug taps; taps disabled");
            free(m->h_tap);
            free(m->h_tapi);
            m->h_tap = NULL;
            m->h_tapi = NULL;
            return;
        }
    }
    m->tap_fn = fn;
    m->tap_user = user;
}

ft_status ft_rfdetr_set_input(ft_rfdetr *m, const float *chw)
{
    return ft_rfdetr_set_input_batch(m, chw, 1);
}

ft_status ft_rfdetr_set_input_batch(ft_rfdetr *m, const float *chw, int n)
{
    if (n < 1 || n > m->max_batch) {
        FT_LOGE("rfdetr", "batch of %d frames: the model was planned for 1..%d", n, m->max_batch);
        return FT_ERR_INVALID;
    }
    m->be->ops->upload(m->be, m->img, chw, sizeof(float) * 3 * (size_t)n * m->size * m->size);
    m->nb = n;
    return FT_OK;
}
