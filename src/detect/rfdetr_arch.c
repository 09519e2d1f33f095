/* RF-DETR architecture resolution: presets of the official sizes, the saved
 * training args, and the shapes of the checkpoint's tensors. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "detect/rfdetr_internal.h"

#define VIT "backbone.0.encoder.encoder."

/* The detection sizes of the official repo (rfdetr/config.py at the
 * reference commit; XL/2XL from rfdetr/platform/models.py). The last ones
 * subclass a config without num_select, hence top-100. */
typedef struct preset {
    const char *name;
    int res, patch, win, vit_dim, taps0, hidden, dec, points, nsel, pe;
    int multiscale; /* projector P3 + P5 instead of P4 */
} preset;

static const preset presets[] = {
    {"nano", 384, 16, 2, 384, 3, 256, 2, 2, 300, 24, 0},
    {"small", 512, 16, 2, 384, 3, 256, 3, 2, 300, 32, 0},
    {"medium", 576, 16, 2, 384, 3, 256, 4, 2, 300, 36, 0},
    {"large", 704, 16, 2, 384, 3, 256, 4, 2, 100, 44, 0},
    {"base", 560, 14, 4, 384, 2, 256, 3, 2, 300, 37, 0},
    {"large-legacy", 560, 14, 4, 768, 2, 384, 3, 4, 300, 37, 1},
    {"xl", 700, 20, 1, 768, 3, 512, 5, 4, 100, 35, 0},
    {"2xl", 880, 20, 2, 768, 3, 512, 5, 4, 100, 44, 0},
};
#define NPRESETS ((int)(sizeof(presets) / sizeof(presets[0])))

static int count_prefixed(const ft_nn_weights *w, const char *fmt)
{
    char name[160];
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof(name), fmt, n);
        if (!ft_nn_weights_find(w, name))
            return n;
    }
}

static void apply_preset(const preset *p, ft_rfdetr_arch *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->size, sizeof(a->size), "%s", p->name);
    a->resolution = p->res;
    a->patch = p->patch;
    a->windows = p->win;
    a->vit_dim = p->vit_dim;
    a->vit_heads = p->vit_dim / 64;
    a->vit_mlp = 4 * p->vit_dim;
    a->ntaps = 4;
    for (int i = 0; i < 4; i++)
        a->taps[i] = p->taps0 + 3 * i;
    a->pos_grid = p->pe;
    a->hidden = p->hidden;
    a->proj_blocks = 3;
    a->sa_heads = p->hidden / 32;
    a->ca_heads = p->hidden / 16;
    a->dec_layers = p->dec;
    a->dec_points = p->points;
    a->ffn = 2048;
    a->num_queries = 300;
    a->num_select = p->nsel;
    a->num_classes = 91;
    a->levels = p->multiscale ? 2 : 1;
    a->level_scale[0] = p->multiscale ? 1 : 0;
    a->level_scale[1] = -1;
}

/* Projector levels from args.projector_scale ("P3", "P4", "P5"), else from
 * which projector tensors exist. */
static ft_status resolve_levels(const ft_nn_weights *w, ft_rfdetr_arch *a)
{
    const char *path = ft_nn_weights_path(w);
    const ft_nn_arg *ps = ft_nn_weights_arg(w, "projector_scale");
    if (ps && ps->type == FT_NN_ARG_LIST && ps->len > 0) {
        if (ps->len > FT_RFDETR_MAX_LEVELS) {
            FT_LOGE("rfdetr", "%s: args.projector_scale has %zu levels (at most %d)", path, ps->len,
                    FT_RFDETR_MAX_LEVELS);
            return FT_ERR_MODEL;
        }
        for (size_t i = 0; i < ps->len; i++) {
            const char *v = ps->items[i].type == FT_NN_ARG_STR ? ps->items[i].s : "";
            int sc = !strcmp(v, "P3") ? 1 : !strcmp(v, "P4") ? 0 : !strcmp(v, "P5") ? -1 : 9;
            if (sc == 9) {
                FT_LOGE("rfdetr",
                        "%s: args.projector_scale entry '%s' is not supported (P3, P4, "
                        "P5)",
                        path, v);
                return FT_ERR_MODEL;
            }
            a->level_scale[i] = sc;
        }
        a->levels = (int)ps->len;
        return FT_OK;
    }
    int n = count_prefixed(w, "backbone.0.projector.stages.%d.0.cv1.conv.weight");
    if (n < 1 || n > FT_RFDETR_MAX_LEVELS) {
        FT_LOGE("rfdetr", "%s: %d projector stages found (1..%d supported)", path, n,
                FT_RFDETR_MAX_LEVELS);
        return FT_ERR_MODEL;
    }
    a->levels = n;
    for (int l = 0; l < n; l++) {
        char name[128];
        snprintf(name, sizeof(name), "backbone.0.projector.stages_sampling.%d.0.0.weight", l);
        const ft_nn_tensor *up = ft_nn_weights_find(w, name);
        snprintf(name, sizeof(name), "backbone.0.projector.stages_sampling.%d.0.0.conv.weight", l);
        a->level_scale[l] = up && up->ndim == 4 && up->shape[2] == 2 ? 1
                            : ft_nn_weights_find(w, name)            ? -1
                                                                     : 0;
    }
    return FT_OK;
}

static ft_status need(const ft_nn_weights *w, const char *name, const ft_nn_tensor **t)
{
    *t = ft_nn_weights_find(w, name);
    if (!*t) {
        FT_LOGE("rfdetr", "%s: tensor '%s' is missing: not an RF-DETR detection checkpoint",
                ft_nn_weights_path(w), name);
        return FT_ERR_MODEL;
    }
    return FT_OK;
}

static void arg_int(const ft_nn_weights *w, const char *key, int *dst)
{
    int64_t v;
    if (ft_nn_weights_arg_int(w, key, &v) && v > 0 && v < (1 << 20))
        *dst = (int)v;
}

ft_status ft_rfdetr_arch_resolve(const ft_nn_weights *w, const char *size, ft_rfdetr_arch *a)
{
    ft_status st = FT_OK;
    const char *path = ft_nn_weights_path(w);
    const ft_nn_tensor *cls, *pe, *pw, *ce;
    if ((st = need(w, VIT "embeddings.cls_token", &cls)) ||
        (st = need(w, VIT "embeddings.position_embeddings", &pe)) ||
        (st = need(w, VIT "embeddings.patch_embeddings.projection.weight", &pw)) ||
        (st = need(w, "class_embed.bias", &ce)))
        return st;
    if (cls->ndim != 3 || pe->ndim != 3 || pw->ndim != 4 || ce->ndim != 1) {
        FT_LOGE("rfdetr", "%s: embedding tensors have unexpected ranks", path);
        return FT_ERR_MODEL;
    }
    int vit_dim = (int)cls->shape[2];
    int patch = (int)pw->shape[2];
    int grid = (int)lrint(sqrt((double)(pe->shape[1] - 1)));

    const preset *p = NULL;
    bool override = size && *size && strcmp(size, "auto");
    if (override) {
        for (int i = 0; i < NPRESETS; i++)
            if (!strcmp(presets[i].name, size))
                p = &presets[i];
        if (!p) {
            FT_LOGE("rfdetr",
                    "model.size '%s' is not a known size (nano, small, medium, large, "
                    "base, large-legacy, xl, 2xl, auto)",
                    size);
            return FT_ERR_CONFIG;
        }
    } else {
        for (int i = 0; i < NPRESETS; i++)
            if (presets[i].patch == patch && presets[i].pe == grid && presets[i].vit_dim == vit_dim)
                p = &presets[i];
        if (!p) /* unknown combination: the closest family, then args and shapes */
            for (int i = 0; i < NPRESETS && !p; i++)
                if (presets[i].patch == patch && presets[i].vit_dim == vit_dim)
                    p = &presets[i];
        if (!p) {
            FT_LOGE("rfdetr",
                    "%s: ViT width %d with patch %d matches no RF-DETR size; set "
                    "model.size",
                    path, vit_dim, patch);
            return FT_ERR_MODEL;
        }
    }
    apply_preset(p, a);

    if (!override) {
        /* The checkpoint's own numbers: saved args, then tensor shapes. */
        if ((st = resolve_levels(w, a)))
            return st;
        a->vit_dim = vit_dim;
        a->vit_heads = vit_dim / 64;
        a->patch = patch;
        a->pos_grid = grid;
        arg_int(w, "resolution", &a->resolution);
        arg_int(w, "num_windows", &a->windows);
        arg_int(w, "hidden_dim", &a->hidden);
        arg_int(w, "sa_nheads", &a->sa_heads);
        arg_int(w, "ca_nheads", &a->ca_heads);
        arg_int(w, "dec_layers", &a->dec_layers);
        arg_int(w, "dec_n_points", &a->dec_points);
        arg_int(w, "dim_feedforward", &a->ffn);
        arg_int(w, "num_queries", &a->num_queries);
        arg_int(w, "num_select", &a->num_select);
        int64_t taps[8];
        size_t nt = 0;
        if (ft_nn_weights_arg_int_list(w, "out_feature_indexes", taps, 8, &nt)) {
            if (nt < 1 || nt > FT_RFDETR_MAX_TAPS) {
                FT_LOGE("rfdetr", "%s: args.out_feature_indexes has %zu entries (1..%d supported)",
                        path, nt, FT_RFDETR_MAX_TAPS);
                return FT_ERR_MODEL;
            }
            a->ntaps = (int)nt;
            for (size_t i = 0; i < nt; i++)
                a->taps[i] = (int)taps[i];
        }
        if (!ft_nn_weights_has_args(w)) {
            /* no args: everything the shapes tell */
            const ft_nn_tensor *t = ft_nn_weights_find(w, "transformer.enc_output.0.weight");
            if (t && t->ndim == 2)
                a->hidden = (int)t->shape[0];
            a->sa_heads = a->hidden / 32;
            a->ca_heads = a->hidden / 16;
            int dl = count_prefixed(w, "transformer.decoder.layers.%d.norm1.weight");
            if (dl > 0)
                a->dec_layers = dl;
            t = ft_nn_weights_find(w, "transformer.decoder.layers.0.linear1.weight");
            if (t && t->ndim == 2)
                a->ffn = (int)t->shape[0];
            t = ft_nn_weights_find(
                w, "transformer.decoder.layers.0.cross_attn.attention_weights.bias");
            if (t && t->ndim == 1 && a->ca_heads > 0)
                a->dec_points = (int)t->shape[0] / (a->ca_heads * a->levels);
        }
    }
    a->num_classes = (int)ce->shape[0];
    const ft_nn_tensor *fc1 = ft_nn_weights_find(w, VIT "encoder.layer.0.mlp.fc1.weight");
    if (fc1 && fc1->ndim == 2)
        a->vit_mlp = (int)fc1->shape[0];
    a->proj_blocks = count_prefixed(w, "backbone.0.projector.stages.0.0.m.%d.cv1.conv.weight");
    a->vit_layers = 0;
    for (int i = 0; i < a->ntaps; i++)
        a->vit_layers = a->taps[i] > a->vit_layers ? a->taps[i] : a->vit_layers;

    if (ft_nn_weights_find(w, "segmentation_head.bias"))
        FT_LOGW("rfdetr", "%s: segmentation head ignored (boxes only)", path);
    if (a->vit_dim % 64 || a->hidden <= 0 || a->sa_heads <= 0 || a->ca_heads <= 0 ||
        a->hidden % a->sa_heads || a->hidden % a->ca_heads || a->dec_layers <= 0 ||
        a->dec_points <= 0 || a->dec_points > 16 || a->windows <= 0 || a->proj_blocks <= 0 ||
        a->num_queries <= 0 || a->num_select <= 0 || a->num_classes <= 0 || a->vit_layers <= 0) {
        FT_LOGE("rfdetr",
                "%s: inconsistent architecture (vit %d, hidden %d, heads %d/%d, "
                "decoder %d x %d points, windows %d, queries %d)",
                path, a->vit_dim, a->hidden, a->sa_heads, a->ca_heads, a->dec_layers, a->dec_points,
                a->windows, a->num_queries);
        return FT_ERR_MODEL;
    }
    for (int i = 0; i < a->ntaps; i++)
        if (a->taps[i] < 1 || (i && a->taps[i] <= a->taps[i - 1])) {
            FT_LOGE("rfdetr", "%s: feature taps must be increasing and >= 1", path);
            return FT_ERR_MODEL;
        }
    return FT_OK;
}
