/* RF-DETR beyond the fidelity fixture: other sizes built from checkpoints of
 * their shapes, a fine-tuned class count, architecture errors and input-size
 * errors, several frames per forward pass against one at a time, the
 * detector adapter and the detect command.
 *
 * There is no PyTorch here, so the other sizes' checkpoints are written by
 * this test as safetensors (no saved args: the architecture must be inferred
 * from names and shapes): the medium-random tensors, with the tensors whose
 * shapes differ between sizes (position grid, patch kernel, decoder depth,
 * class heads, and for XL the ViT-B / 512-wide widths) replaced by random
 * ones of the target size. The outputs are
 * then only checked for sanity (finite, boxes in range); exact numerics are
 * the fidelity test's job, and every size runs the same code path.
 *
 * Missing fixture: a failure when CI=true, a skip otherwise. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "detect/rfdetr.h"
#include "ft_test_fixture.h"
#include "nn/weights.h"

static char fixdir[1024], ckpt[1100], workdir[1024];

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("FT_SOURCE_DIR"), *bld = getenv("FT_BUILD_DIR");
    snprintf(fixdir, sizeof(fixdir), "%s/../shared/fixtures/rfdetr/medium-random", src ? src : ".");
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoint.pth", fixdir);
    snprintf(workdir, sizeof(workdir), "%s", bld ? bld : ".");
    return 0;
}

static void need_fixture(void)
{
    ft_test_require_fixture_file(ckpt);
}

/* ---- a safetensors writer for derived checkpoints ---- */

typedef struct variant {
    int pos_grid;   /* side of the position grid */
    int patch;      /* patch kernel */
    int dec_layers; /* decoder layers kept (at most the fixture's 4) */
    int classes;    /* head size; 0 keeps 91 */
    int wide;       /* 1: ViT-B (768) backbone and a 512-wide transformer, as XL/2XL;
                       2: ViT-B, 384-wide, P3 + P5 projector, 4 points, as the legacy Large */
    int bad_ffn;    /* decoder layer 1's FFN narrower than layer 0's: an inconsistent file */
} variant;

typedef struct dim_map {
    int64_t from, to;
} dim_map;

/* Medium -> XL/2XL widths, by part of the model. The dims that occur in
 * each part are distinct, so a value maps unambiguously. */
static const dim_map wide_vit[] = {{384, 768}, {1536, 3072}, {0, 0}};
static const dim_map wide_proj[] = {{256, 512}, {1536, 3072}, {128, 256}, {640, 1280}, {0, 0}};
static const dim_map wide_rest[] = {{256, 512}, {768, 1536}, {512, 1024},
                                    {64, 256},  {32, 128},   {0, 0}};
/* legacy Large: 24 cross-attention heads x 2 levels x 4 points */
static const dim_map legacy_proj[] = {{256, 384}, {128, 192}, {640, 960}, {0, 0}};
static const dim_map legacy_rest[] = {{256, 384}, {768, 1152}, {512, 768},
                                      {64, 384},  {32, 192},   {0, 0}};

typedef struct out_tensor {
    char name[160];
    int ndim;
    int64_t shape[4];
    size_t n;
    const ft_nn_tensor *src; /* copy it, or NULL: random data */
} out_tensor;

static uint32_t rng_state = 12345;
static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((float)(rng_state >> 8) / 16777216.0f - 0.5f) * 0.04f;
}

static int drop_tensor(const char *name, const variant *v)
{
    int l;
    if (sscanf(name, "transformer.decoder.layers.%d.", &l) == 1 && l >= v->dec_layers)
        return 1;
    /* only group 0 of the two-stage heads is used at inference */
    const char *g = strstr(name, "transformer.enc_out");
    if (g) {
        const char *dot = strchr(g + strlen("transformer.enc_out"), '.');
        return dot && dot[1] != '0';
    }
    return 0;
}

/* The tensor's shape in the derived size; returns 1 when it changed (the
 * data is then random). */
static int reshape_tensor(const char *name, const variant *v, int ndim, int64_t *shape)
{
    int changed = 0;
    if (v->wide) {
        int proj = !strncmp(name, "backbone.0.projector", 20);
        const dim_map *map = !strncmp(name, "backbone.0.encoder.", 19) ? wide_vit
                             : v->wide == 2 ? (proj ? legacy_proj : legacy_rest)
                             : proj         ? wide_proj
                                            : wide_rest;
        for (int d = 0; d < ndim; d++)
            for (const dim_map *mp = map; mp->from; mp++)
                if (shape[d] == mp->from) {
                    shape[d] = mp->to;
                    changed = 1;
                    break;
                }
    }
    if (v->bad_ffn && !strcmp(name, "transformer.decoder.layers.1.linear1.weight")) {
        shape[0] = 2000;
        changed = 1;
    }
    if (strstr(name, "position_embeddings")) {
        shape[1] = 1 + (int64_t)v->pos_grid * v->pos_grid;
        changed = 1;
    }
    if (strstr(name, "patch_embeddings.projection.weight")) {
        shape[2] = shape[3] = v->patch;
        changed = 1;
    }
    if (v->classes && (strstr(name, "class_embed.weight") || strstr(name, "class_embed.bias") ||
                       strstr(name, "enc_out_class_embed.0."))) {
        shape[0] = v->classes;
        changed = 1;
    }
    return changed;
}

/* Appends a random tensor (the legacy Large's second projector level). */
static void add_random(out_tensor *ts, size_t *nt, const char *name, int ndim, int64_t d0,
                       int64_t d1, int64_t d2, int64_t d3)
{
    out_tensor *o = &ts[(*nt)++];
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    o->n = 1;
    for (int i = 0; i < ndim; i++) {
        o->shape[i] = d[i];
        o->n *= (size_t)d[i];
    }
    o->src = NULL;
}

/* The tensors the legacy Large has beyond the fixture's: per tap a 2x2
 * transposed conv (P3) and a 3x3 stride-2 conv + LayerNorm (P5), and the
 * P5 level's C2f (input 4 x 768). */
static void add_legacy_levels(out_tensor *ts, size_t *nt)
{
    char n[160];
    for (int j = 0; j < 4; j++) {
        snprintf(n, sizeof(n), "backbone.0.projector.stages_sampling.0.%d.0.weight", j);
        add_random(ts, nt, n, 4, 768, 384, 2, 2);
        snprintf(n, sizeof(n), "backbone.0.projector.stages_sampling.0.%d.0.bias", j);
        add_random(ts, nt, n, 1, 384, 0, 0, 0);
        snprintf(n, sizeof(n), "backbone.0.projector.stages_sampling.1.%d.0.conv.weight", j);
        add_random(ts, nt, n, 4, 768, 768, 3, 3);
        snprintf(n, sizeof(n), "backbone.0.projector.stages_sampling.1.%d.0.bn.weight", j);
        add_random(ts, nt, n, 1, 768, 0, 0, 0);
        snprintf(n, sizeof(n), "backbone.0.projector.stages_sampling.1.%d.0.bn.bias", j);
        add_random(ts, nt, n, 1, 768, 0, 0, 0);
    }
    const char *p = "backbone.0.projector.stages.1.";
#define ADD(suffix, ...)                                                                           \
    (snprintf(n, sizeof(n), "%s%s", p, suffix), add_random(ts, nt, n, __VA_ARGS__))
    ADD("0.cv1.conv.weight", 4, 384, 3072, 1, 1);
    ADD("0.cv1.bn.weight", 1, 384, 0, 0, 0);
    ADD("0.cv1.bn.bias", 1, 384, 0, 0, 0);
    for (int b = 0; b < 3; b++)
        for (int k = 1; k <= 2; k++) {
            char sfx[64];
            snprintf(sfx, sizeof(sfx), "0.m.%d.cv%d.conv.weight", b, k);
            ADD(sfx, 4, 192, 192, 3, 3);
            snprintf(sfx, sizeof(sfx), "0.m.%d.cv%d.bn.weight", b, k);
            ADD(sfx, 1, 192, 0, 0, 0);
            snprintf(sfx, sizeof(sfx), "0.m.%d.cv%d.bn.bias", b, k);
            ADD(sfx, 1, 192, 0, 0, 0);
        }
    ADD("0.cv2.conv.weight", 4, 384, 960, 1, 1);
    ADD("0.cv2.bn.weight", 1, 384, 0, 0, 0);
    ADD("0.cv2.bn.bias", 1, 384, 0, 0, 0);
    ADD("1.weight", 1, 384, 0, 0, 0);
    ADD("1.bias", 1, 384, 0, 0, 0);
#undef ADD
}

/* Writes the fixture's tensors, resized for variant v, as an F32
 * safetensors file, streaming one tensor at a time. */
static void write_variant(const char *path, const variant *v)
{
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open(ckpt, &w), FT_OK);
    size_t count = ft_nn_weights_count(w);
    out_tensor *ts = calloc(count + 128, sizeof(*ts));
    assert_non_null(ts);
    size_t nt = 0, maxn = 0;
    for (size_t i = 0; i < count; i++) {
        const ft_nn_tensor *t = ft_nn_weights_at(w, i);
        if (!ft_nn_dtype_is_float(t->dtype) || drop_tensor(t->name, v))
            continue;
        out_tensor *o = &ts[nt++];
        snprintf(o->name, sizeof(o->name), "%s", t->name);
        o->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++)
            o->shape[d] = t->shape[d];
        o->src = reshape_tensor(t->name, v, o->ndim, o->shape) ? NULL : t;
        o->n = 1;
        for (int d = 0; d < o->ndim; d++)
            o->n *= (size_t)o->shape[d];
    }
    if (v->wide == 2)
        add_legacy_levels(ts, &nt);
    for (size_t i = 0; i < nt; i++)
        maxn = ts[i].n > maxn ? ts[i].n : maxn;
    size_t hcap = nt * 256 + 64, hl = 0, off = 0;
    char *hdr = malloc(hcap);
    float *buf = malloc(maxn * sizeof(float));
    assert_non_null(hdr);
    assert_non_null(buf);
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "{");
    for (size_t i = 0; i < nt; i++) {
        out_tensor *o = &ts[i];
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                               i ? "," : "", o->name);
        for (int d = 0; d < o->ndim; d++)
            hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s%lld", d ? "," : "",
                                   (long long)o->shape[d]);
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "],\"data_offsets\":[%zu,%zu]}", off,
                               off + o->n * 4);
        off += o->n * 4;
    }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "}");
    while (hl % 8) /* keep the data 8-byte aligned */
        hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t len = hl;
    assert_int_equal(fwrite(&len, 8, 1, f), 1);
    assert_int_equal(fwrite(hdr, 1, hl, f), hl);
    for (size_t i = 0; i < nt; i++) {
        if (ts[i].src)
            assert_int_equal(ft_nn_tensor_to_f32(ts[i].src, buf, ts[i].n), FT_OK);
        else
            for (size_t k = 0; k < ts[i].n; k++)
                buf[k] = rnd();
        assert_int_equal(fwrite(buf, 4, ts[i].n, f), ts[i].n);
    }
    assert_int_equal(fclose(f), 0);
    ft_nn_weights_destroy(&w);
    free(buf);
    free(hdr);
    free(ts);
}

/* Loads `path`, runs one forward pass on a fixed pseudo-image and checks the
 * outputs are finite with boxes inside a sane range. */
static void run_sane(const char *path, const char *size, int imgsz, ft_rfdetr_arch *arch)
{
    ft_rfdetr_params p = {.model_path = path, .size = size, .imgsz = imgsz};
    ft_rfdetr *m = NULL;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_OK);
    *arch = *ft_rfdetr_arch_get(m);
    int S = ft_rfdetr_input_size(m);
    size_t n = 3 * (size_t)S * S;
    float *in = malloc(n * sizeof(float));
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (float)((i * 2654435761u) % 4096) / 1024.0f - 2.0f;
    assert_int_equal(ft_rfdetr_set_input(m, in), FT_OK);
    free(in);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    ft_rfdetr_det d[300];
    int nd = 0;
    ft_rfdetr_postprocess(m, 1000, 1000, 0.0f, d, 300, &nd);
    assert_int_equal(nd, arch->num_select);
    for (int i = 0; i < nd; i++) {
        assert_true(isfinite(d[i].score) && d[i].score >= 0.0f && d[i].score <= 1.0f);
        assert_true(i == 0 || d[i].score <= d[i - 1].score);
        assert_true(d[i].label >= 0 && d[i].label < arch->num_classes);
        assert_true(isfinite(d[i].x0) && isfinite(d[i].y1));
        assert_true(d[i].x0 <= d[i].x1 && d[i].y0 <= d[i].y1);
        assert_true(d[i].x0 > -1e5f && d[i].x1 < 1e5f);
    }
    ft_rfdetr_destroy(&m);
}

static void test_sizes_from_shapes(void **state)
{
    (void)state;
    need_fixture();
    struct {
        const char *name;
        variant v;
        int res, windows, vit_layers, num_select, imgsz;
    } cases[] = {
        {"nano", {24, 16, 2, 0, 0, 0}, 384, 2, 12, 300, 0},
        {"base", {37, 14, 3, 0, 0, 0}, 560, 4, 11, 300, 0},
        {"large", {44, 16, 4, 0, 0, 0}, 704, 2, 12, 100, 0},
        /* ViT-B, plain (one window), 512-wide transformer; run at 400 px
         * (20 x 20 patches) to keep the test short */
        {"xl", {35, 20, 4, 0, 1, 0}, 700, 1, 12, 100, 400},
        /* ViT-B with 4 windows, P3 (32 x 32) + P5 (8 x 8) levels at 224 px */
        {"large-legacy", {37, 14, 3, 0, 2, 0}, 560, 4, 11, 300, 224},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/rfdetr-%s-random.safetensors", workdir, cases[i].name);
        write_variant(path, &cases[i].v);
        ft_rfdetr_arch a;
        run_sane(path, NULL, cases[i].imgsz, &a);
        printf("  %s: detected %s, %d px, %d windows, %d ViT layers, %d decoder layers\n",
               cases[i].name, a.size, a.resolution, a.windows, a.vit_layers, a.dec_layers);
        assert_string_equal(a.size, cases[i].name);
        assert_int_equal(a.resolution, cases[i].res);
        assert_int_equal(a.windows, cases[i].windows);
        assert_int_equal(a.vit_layers, cases[i].vit_layers);
        assert_int_equal(a.dec_layers, cases[i].v.dec_layers);
        assert_int_equal(a.num_select, cases[i].num_select);
        assert_int_equal(a.vit_dim, cases[i].v.wide ? 768 : 384);
        assert_int_equal(a.hidden, cases[i].v.wide == 1 ? 512 : cases[i].v.wide ? 384 : 256);
        assert_int_equal(a.dec_points, cases[i].v.wide ? 4 : 2);
        assert_int_equal(a.levels, cases[i].v.wide == 2 ? 2 : 1);
        remove(path);
    }
}

static void test_custom_classes(void **state)
{
    (void)state;
    need_fixture();
    char path[1200];
    snprintf(path, sizeof(path), "%s/rfdetr-nano-3class.safetensors", workdir);
    variant v = {24, 16, 2, 3, 0, 0};
    write_variant(path, &v);
    ft_rfdetr_arch a;
    run_sane(path, NULL, 0, &a);
    assert_int_equal(a.num_classes, 3);
    /* the detector adapter: no class names, not COCO -> ball class 0 */
    ft_rfdetr_detector_params dp = {.model = {.model_path = path},
                                    .confidence = 0.0f,
                                    .ball_class_id = -1,
                                    .iou_threshold = 0.5f};
    ft_detector *det = NULL;
    assert_int_equal(ft_rfdetr_detector_create(&dp, &det), FT_OK);
    uint8_t px[64 * 48 * 3];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = (uint8_t)(i * 31);
    ft_image img = {
        .width = 64, .height = 48, .format = FT_PIX_RGB24, .data = {px}, .stride = {64 * 3}};
    ft_detection out[FT_DETECT_MAX];
    int n = -1;
    assert_int_equal(ft_detector_detect(det, &img, 0.0, out, FT_DETECT_MAX, &n), FT_OK);
    assert_true(n > 0 && n <= FT_DETECT_MAX);
    for (int i = 0; i < n; i++)
        assert_int_equal(out[i].label, 0);
    assert_int_equal(ft_detector_set_param(det, "confidence", 1.0), FT_OK);
    assert_int_equal(ft_detector_detect(det, &img, 0.04, out, FT_DETECT_MAX, &n), FT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ft_detector_set_param(det, "no_such_key", 1.0), FT_ERR_INVALID);
    ft_detector_destroy(&det);
    assert_null(det);
    remove(path);
}

static void test_errors(void **state)
{
    (void)state;
    need_fixture();
    ft_rfdetr *m = NULL;
    /* a preset whose shapes contradict the file: position grid 24 vs 36 */
    ft_rfdetr_params p = {.model_path = ckpt, .size = "nano"};
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_MODEL);
    assert_null(m);
    p.size = "huge";
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_CONFIG);
    p.size = NULL;
    p.imgsz = 500; /* not a multiple of 16 x 2 */
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_CONFIG);
    p.imgsz = 0;
    p.device = "tpu";
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_CONFIG);
    p.device = NULL;
    p.max_batch = FT_RFDETR_MAX_BATCH + 1;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_CONFIG);
    p.max_batch = -1;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_CONFIG);
    assert_null(m);
    p.max_batch = 0;
    /* a file whose tensors contradict each other (FFN width inferred from
     * layer 0, layer 1 differs) */
    char bad[1200];
    snprintf(bad, sizeof(bad), "%s/rfdetr-inconsistent.safetensors", workdir);
    variant v = {24, 16, 2, 0, 0, 1};
    write_variant(bad, &v);
    p.model_path = bad;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_MODEL);
    assert_null(m);
    remove(bad);
    char foreign[1200];
    snprintf(foreign, sizeof(foreign), "%s/manifest.json", fixdir);
    p.model_path = foreign;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_ERR_MODEL);
    assert_null(m);
}

static void test_other_input_size(void **state)
{
    (void)state;
    need_fixture();
    /* 512 = 32 x 16: the 36-grid position table is resized (bicubic) to 32 */
    ft_rfdetr_arch a;
    run_sane(ckpt, NULL, 512, &a);
    assert_string_equal(a.size, "medium");
}

/* ---- several frames per forward pass ---- */

#define BATCH_W 1000
#define BATCH_H 800

static float *pseudo_image(int S, uint32_t seed)
{
    size_t n = 3 * (size_t)S * S;
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 8388608.0f - 1.0f; /* [-1, 1) */
    }
    return x;
}

typedef struct dets {
    ft_rfdetr_det d[300];
    int n;
} dets;

/* Worst differences between two detection lists (score-sorted top-k over
 * queries x classes). Each (query, label) pair of one is looked up in the
 * other: near-tied scores (random weights give ties to 1e-8) may swap
 * places, and a pair may be missing only where it ties with the cut-off. */
static void compare_dets(const dets *a, const dets *b, double *ds, double *db)
{
    assert_int_equal(a->n, b->n);
    assert_true(a->n > 0);
    for (int i = 0; i < a->n; i++) {
        const ft_rfdetr_det *x = &a->d[i], *y = NULL;
        for (int j = 0; j < b->n && !y; j++)
            if (b->d[j].query == x->query && b->d[j].label == x->label)
                y = &b->d[j];
        if (!y) {
            assert_true(fabs((double)x->score - b->d[b->n - 1].score) <= 1e-6);
            continue;
        }
        *ds = fmax(*ds, fabs((double)x->score - y->score));
        double e[4] = {x->x0 - y->x0, x->y0 - y->y0, x->x1 - y->x1, x->y1 - y->y1};
        for (int j = 0; j < 4; j++)
            *db = fmax(*db, fabs(e[j]));
    }
}

/* Frames 0, 1, 0 as one batch of three against each frame alone, on the
 * same model and on a model planned for one frame. The model is planned for
 * 4 frames: 3 has no plan of its own (plans are 1, 2, 4), so the batch runs
 * the 4-frame plan with one unused slot. */
static void batch_vs_single(const char *path, int imgsz)
{
    ft_rfdetr_params p = {.model_path = path, .imgsz = imgsz, .max_batch = 4};
    ft_rfdetr *m = NULL, *m1 = NULL;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_OK);
    p.max_batch = 0;
    assert_int_equal(ft_rfdetr_create(&p, &m1), FT_OK);
    int S = ft_rfdetr_input_size(m), order[3] = {0, 1, 0};
    size_t per = 3 * (size_t)S * S;
    float *img[2] = {pseudo_image(S, 1), pseudo_image(S, 2)};
    float *all = malloc(3 * per * sizeof(float));
    assert_non_null(all);
    for (int b = 0; b < 3; b++)
        memcpy(all + b * per, img[order[b]], per * sizeof(float));
    static dets ref[2], ref1, got[3], again;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ft_rfdetr_set_input(m, img[i]), FT_OK);
        assert_int_equal(ft_rfdetr_forward(m), FT_OK);
        ft_rfdetr_postprocess(m, BATCH_W, BATCH_H, 0.0f, ref[i].d, 300, &ref[i].n);
    }
    assert_int_equal(ft_rfdetr_set_input(m1, img[0]), FT_OK);
    assert_int_equal(ft_rfdetr_forward(m1), FT_OK);
    ft_rfdetr_postprocess(m1, BATCH_W, BATCH_H, 0.0f, ref1.d, 300, &ref1.n);
    assert_int_equal(ft_rfdetr_set_input_batch(m, all, 3), FT_OK);
    assert_int_equal(ft_rfdetr_batch(m), 3);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    for (int b = 0; b < 3; b++)
        ft_rfdetr_postprocess_image(m, b, BATCH_W, BATCH_H, 0.0f, got[b].d, 300, &got[b].n);
    int none = -1;
    ft_rfdetr_postprocess_image(m, 3, BATCH_W, BATCH_H, 0.0f, again.d, 300, &none);
    assert_int_equal(none, 0);
    /* back to one frame after the batch */
    assert_int_equal(ft_rfdetr_set_input(m, img[0]), FT_OK);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    ft_rfdetr_postprocess(m, BATCH_W, BATCH_H, 0.0f, again.d, 300, &again.n);

    double ds = 0, db = 0, ds1 = 0, db1 = 0;
    assert_true(ref[0].n > 0);
    for (int b = 0; b < 3; b++)
        compare_dets(&ref[order[b]], &got[b], &ds, &db);
    compare_dets(&ref[0], &ref1, &ds1, &db1);
    compare_dets(&ref[0], &again, &ds1, &db1);
    printf("  %s at %d px: batch of 3 (4-frame plan) vs one frame at a time: worst score diff "
           "%.3g, box diff "
           "%.3g px; batch-1 on the models planned for 4 and for 1: %.3g, %.3g px\n",
           path, S, ds, db, ds1, db1);
    assert_true(ds <= 1e-6 && db <= 1e-3);
    assert_true(ds1 == 0.0 && db1 == 0.0); /* the plan for one frame is the same code path */

    /* counts outside 1..max_batch are refused */
    assert_int_equal(ft_rfdetr_set_input_batch(m, all, 5), FT_ERR_INVALID);
    assert_int_equal(ft_rfdetr_set_input_batch(m, all, 0), FT_ERR_INVALID);
    assert_int_equal(ft_rfdetr_set_input_batch(m1, all, 2), FT_ERR_INVALID);
    free(all);
    free(img[0]);
    free(img[1]);
    ft_rfdetr_destroy(&m1);
    ft_rfdetr_destroy(&m);
}

/* ft_rfdetr_preprocess_batch: frames of different sizes and formats, each
 * as ft_rfdetr_preprocess would make it. */
static void preprocess_batch_vs_single(void)
{
    ft_rfdetr_params p = {.model_path = ckpt, .imgsz = 320, .max_batch = 2};
    ft_rfdetr *m = NULL;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_OK);
    static uint8_t rgb[96 * 64 * 3], gray[50 * 70];
    for (size_t i = 0; i < sizeof(rgb); i++)
        rgb[i] = (uint8_t)(i * 37 + (i / 288) * 11);
    for (size_t i = 0; i < sizeof(gray); i++)
        gray[i] = (uint8_t)(i * 13);
    ft_image f0 = {
        .width = 96, .height = 64, .format = FT_PIX_RGB24, .data = {rgb}, .stride = {288}};
    ft_image f1 = {
        .width = 50, .height = 70, .format = FT_PIX_GRAY8, .data = {gray}, .stride = {50}};
    const ft_image *frames[2] = {&f0, &f1};
    static dets ref[2], got[2];
    for (int b = 0; b < 2; b++) {
        assert_int_equal(ft_rfdetr_preprocess(m, frames[b]), FT_OK);
        assert_int_equal(ft_rfdetr_forward(m), FT_OK);
        ft_rfdetr_postprocess(m, frames[b]->width, frames[b]->height, 0.0f, ref[b].d, 300,
                              &ref[b].n);
    }
    assert_int_equal(ft_rfdetr_preprocess_batch(m, frames, 2), FT_OK);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    double ds = 0, db = 0;
    for (int b = 0; b < 2; b++) {
        ft_rfdetr_postprocess_image(m, b, frames[b]->width, frames[b]->height, 0.0f, got[b].d, 300,
                                    &got[b].n);
        compare_dets(&ref[b], &got[b], &ds, &db);
    }
    assert_true(ds <= 1e-6 && db <= 1e-3);
    const ft_image *bad[2] = {&f0, NULL};
    assert_int_equal(ft_rfdetr_preprocess_batch(m, bad, 2), FT_ERR_INVALID);
    assert_int_equal(ft_rfdetr_preprocess_batch(m, frames, 3), FT_ERR_INVALID);
    ft_rfdetr_destroy(&m);
}

static void test_batch(void **state)
{
    (void)state;
    need_fixture();
    /* Medium at 320 px (20 x 20 patches: fast); the legacy Large's P3 + P5
     * projector (two memory levels) and 4 windows at 168 px */
    batch_vs_single(ckpt, 320);
    char path[1200];
    snprintf(path, sizeof(path), "%s/rfdetr-large-legacy-batch.safetensors", workdir);
    variant v = {37, 14, 3, 0, 2, 0};
    write_variant(path, &v);
    batch_vs_single(path, 168);
    remove(path);
    preprocess_batch_vs_single();
}

static int run_cli(const char *args)
{
    const char *bin = getenv("FT_BIN");
    assert_non_null(bin);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>&1", bin, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_detect_command(void **state)
{
    (void)state;
    need_fixture();
    char args[4096], json[1200];
    snprintf(json, sizeof(json), "%s/rfdetr-detect.jsonl", workdir);
    snprintf(args, sizeof(args),
             "detect --model '%s' --input '%s/input.png' --confidence 0.06 "
             "--json '%s'",
             ckpt, fixdir, json);
    assert_int_equal(run_cli(args), 0);
    FILE *f = fopen(json, "r");
    assert_non_null(f);
    char line[8192];
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    remove(json);
    /* the official top-4 of the fixture (post_scores/labels/boxes, rescaled
     * from the assumed 1920x1080 frame to this 576x576 image) */
    assert_non_null(strstr(line, "\"width\":576,\"height\":576"));
    assert_non_null(strstr(line, "{\"score\":0.071684,\"label\":46,\"name\":null,"
                                 "\"box\":[155.37,22.98,183.71,52.86]}"));
    const char *p = line;
    int n = 0;
    while ((p = strstr(p, "\"score\"")))
        n++, p++;
    assert_int_equal(n, 4);
    /* exit codes: shape mismatch 2, bad imgsz 1, missing input 3, bad option 1 */
    snprintf(args, sizeof(args), "detect --model '%s' --input '%s/input.png' --size nano", ckpt,
             fixdir);
    assert_int_equal(run_cli(args), 2);
    snprintf(args, sizeof(args), "detect --model '%s' --input '%s/input.png' --imgsz 500", ckpt,
             fixdir);
    assert_int_equal(run_cli(args), 1);
    snprintf(args, sizeof(args), "detect --model '%s' --input '%s/no-such.mp4'", ckpt, fixdir);
    assert_int_equal(run_cli(args), 3);
    /* A failed run leaves an earlier --json file as it was, and no temp file. */
    snprintf(json, sizeof(json), "%s/rfdetr-keep.jsonl", workdir);
    f = fopen(json, "w");
    assert_non_null(f);
    fputs("{\"kept\":1}\n", f);
    fclose(f);
    snprintf(args, sizeof(args), "detect --model '%s' --input '%s/no-such.mp4' --json '%s'", ckpt,
             fixdir, json);
    assert_int_equal(run_cli(args), 3);
    f = fopen(json, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "{\"kept\":1}\n");
    remove(json);
    DIR *d = opendir(workdir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, "rfdetr-keep"))
            fail_msg("left behind: %s", e->d_name);
    closedir(d);
    assert_int_equal(run_cli("detect --model x --input y --confidence 2"), 1);
    assert_int_equal(run_cli("detect --help"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_sizes_from_shapes),
        cmocka_unit_test(test_custom_classes), cmocka_unit_test(test_other_input_size),
        cmocka_unit_test(test_batch),          cmocka_unit_test(test_detect_command),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
