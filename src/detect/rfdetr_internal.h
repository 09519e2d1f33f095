/* Internal to the RF-DETR implementation (src/detect/rfdetr*.c). */
#ifndef FT_DETECT_RFDETR_INTERNAL_H
#define FT_DETECT_RFDETR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/rfdetr.h"
#include "nn/backend.h"
#include "nn/weights.h"

typedef struct vit_layer {
    const float *n1w, *n1b, *qkv_w, *qkv_b, *o_w, *o_b, *ls1;
    const float *n2w, *n2b, *fc1_w, *fc1_b, *fc2_w, *fc2_b, *ls2;
} vit_layer;

typedef struct conv_ln {
    const float *w, *lnw, *lnb; /* conv weight (no bias) and its channel LayerNorm */
} conv_ln;

typedef struct dec_layer {
    const float *in_w, *in_b, *out_w, *out_b, *n1w, *n1b;
    const float *off_w, *off_b, *val_w, *val_b, *op_w, *op_b, *n2w, *n2b;
    const float *l1_w, *l1_b, *l2_w, *l2_b, *n3w, *n3b;
} dec_layer;

typedef struct mlp3 {
    const float *w[3], *b[3];
} mlp3;

/* One projector output level (P3, P4 or P5 of the official code). */
typedef struct proj_level {
    int scale; /* +1: 2x up (P3, transposed conv), 0: P4, -1: 2x down (P5, 3x3 stride 2) */
    int g, hw; /* map side and g * g tokens */
    int start; /* first row of this level in one image's transformer memory */
    int cin;   /* C2f input channels (taps concatenated after resampling) */
    const float *up_w[FT_RFDETR_MAX_TAPS], *up_b[FT_RFDETR_MAX_TAPS]; /* P3 */
    conv_ln down[FT_RFDETR_MAX_TAPS];                                 /* P5 (ReLU) */
    conv_ln cv1, cv2, *bott; /* C2f; bott: 2 per bottleneck */
    const float *ln_w, *ln_b;
    float *cat; /* C2f input, hw x cin (P4: the taps concat itself) */
} proj_level;

/* A forward-pass plan for one batch count: the `user` pointer of the
 * backend's run, so the CUDA backend keeps one graph per plan. */
typedef struct rfdetr_plan {
    struct ft_rfdetr *m;
    int batch;
} rfdetr_plan;

struct ft_rfdetr {
    ft_rfdetr_arch a;
    int max_batch;      /* frames the buffers are planned for */
    int nb;             /* frames in the current batch */
    int pb;             /* frames of the pass being recorded: its plan's count, >= nb */
    rfdetr_plan *plans; /* counts 1, 2, 4, ... below max_batch, then max_batch */
    int nplans;
    int size;       /* input side */
    int gw, hw;     /* patch grid side, gw * gw tokens */
    int nwin, wtok; /* windows and tokens per window (1 + patches) */
    int tokens;     /* nwin * wtok */
    int c;          /* projector hidden channels (hidden / 2) */
    int k;          /* two-stage selections: num_queries */
    int nsel;       /* PostProcess selections: min(num_select, queries x classes) */
    proj_level lv[FT_RFDETR_MAX_LEVELS];
    int hw_all;  /* memory rows: tokens of all levels */
    bool masked; /* some proposals invalid: the encoder memory is masked */
    ft_nn_backend *be;
    void *wmem, *amem, *imem;

    /* weights */
    const float *patch_w, *patch_b, *pos_rows, *vit_ln_w, *vit_ln_b, *proposals;
    vit_layer *vit;
    const float *enc_w, *enc_b, *enc_ln_w, *enc_ln_b, *enc_cls_w, *enc_cls_b;
    mlp3 enc_box, box;
    const float *refpoint, *query_feat, *rph_w[2], *rph_b[2];
    dec_layer *dec;
    const float *dec_ln_w, *dec_ln_b, *cls_w, *cls_b;

    /* activations */
    float *img, *col, *emb, *x, *ln, *qkv, *ao, *hmlp, *cat, *pcat, *psrc, *pt, *mem, *memm;
    float *pmem; /* several levels and frames: projector output, level-major */
    float *up;   /* P3: transposed-conv output before the pixel shuffle */
    float *eo, *el, *mx, *tkv, *tm, *tlog, *ma, *mb, *d, *ts, *refs, *sine, *qpos, *tgt;
    float *qk_in, *qk, *v, *att, *value, *offlog, *ffn, *hs, *logits, *boxes;
    float *selv; /* PostProcess top-k logits of each frame (nsel) */
    int32_t *widx, *tidx, *iota, *qidx, *midx, *tki, *upidx, *seli;
    int32_t *lidx; /* several levels: image-major memory row <- level-major row */

    /* host side */
    float *h_boxes;
    float *h_tmp; /* preprocessing: RGB planes of the frame, then the resize pass */
    size_t h_tmp_cap;
    float *h_in; /* 3 x size x size (one frame) */
    ft_rfdetr_tap_fn tap_fn;
    void *tap_user;
    float *h_tap;
    int32_t *h_tapi;
    double macs;        /* multiply-adds recorded in the current pass */
    double flops_frame; /* 2 x macs per frame of the last recorded pass */
    int32_t *sel_idx;   /* host copies of seli and selv (max_batch x nsel) */
    float *sel_val;
    char **class_names;
    int n_class_names;
};

/* Separable antialiased resampling of `planes` float planes, as PyTorch's
 * interpolate(antialias=True, align_corners=False): filter support scales
 * with the downscale factor, weights are normalised per output sample.
 * cubic selects the a = -0.5 cubic kernel, else the triangle (bilinear).
 * src: planes x sh x sw (row stride sw); dst: planes x dh x dw; tmp holds
 * planes x sh x dw floats. All borrowed. */
void rfdetr_resample(const float *src, int planes, int sh, int sw, float *dst, int dh, int dw,
                     float *tmp, int cubic);

#endif
