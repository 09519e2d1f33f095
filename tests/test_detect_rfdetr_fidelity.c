/* RF-DETR fidelity against the official PyTorch code: the medium-random
 * fixture (../shared/fixtures/rfdetr/medium-random, see its README and
 * manifest.json) holds every intermediate of one forward pass of the official
 * model in fp32. We run the same checkpoint and input through our engine and
 * compare each intermediate through the model's debug taps.
 *
 * Tolerances. The fixture README measured how far a correct fp32
 * implementation moves when only the BLAS changes: ~1.3e-5 absolute, about
 * 2e-6 of a tensor's largest magnitude. Our engine also sums in other orders
 * (row-blocked GEMMs, attention normalised after P·V) and evaluates exp/erf
 * with polynomials (relative error ~2e-7), and those differences grow through
 * 12 ViT layers. Measured on the dev VM: at most 2.6e-6 of the largest
 * magnitude (projector_out), 1.2e-7 on normalised boxes, 2.4e-4 px on the
 * 1920x1080 boxes, 1.2e-7 on scores. We require, for every float tensor,
 *   max |ours - ref| <= 2e-5 * max |ref|   (TOL_REL: ~8x the worst measured,
 *   10x the BLAS-only noise floor, well inside the "order 1e-4" budget)
 * 1e-6 absolute for normalised boxes (they live in [0, 1]), 1e-6 for
 * sigmoid scores and 0.005 px for the pixel boxes of PostProcess.
 * Rank-sensitive steps: the two-stage top-300 has no near-ties closer than
 * 1.67e-5 (manifest topk_sensitivity), so its indices must match exactly;
 * PostProcess has near-ties down to 1e-7 after rank 21, so its top-300 is
 * compared as a set of (query, label) pairs, with the first 21 ranks exact.
 *
 * Missing fixture: a failure when CI=true, a skip otherwise. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/rfdetr.h"
#include "ft_test_fixture.h"

#define TOL_REL 2e-5
#define TOL_BOX 1e-6
#define TOL_SCORE 1e-6
#define TOL_PX 0.005
#define EXACT_RANKS 21

static char fixdir[1024];

static int find_fixture(void)
{
    const char *src = getenv("FT_SOURCE_DIR");
    snprintf(fixdir, sizeof(fixdir), "%s/../shared/fixtures/rfdetr/medium-random", src ? src : ".");
    char p[1100];
    snprintf(p, sizeof(p), "%s/checkpoint.pth", fixdir);
    FILE *f = fopen(p, "rb");
    if (f) {
        fclose(f);
        return 1;
    }
    return 0;
}

static void *read_bin(const char *name, size_t bytes)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s/%s.bin", fixdir, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    void *buf = malloc(bytes);
    assert_non_null(buf);
    size_t got = fread(buf, 1, bytes, f);
    fclose(f);
    assert_int_equal(got, bytes);
    return buf;
}

typedef struct ctx {
    int seen;
    int failed;
    int nchw_c; /* channels of the NCHW reference layout of the current tap */
} ctx;

/* Reference layout: backbone taps and the projector output are NCHW
 * (1, C, H, W); ours are rows of tokens (H*W, C). Everything else matches. */
static int is_nchw(const char *name)
{
    return !strncmp(name, "backbone_", 9) || !strcmp(name, "projector_out");
}

static void on_tap(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
    ctx *c = user;
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    c->seen++;
    if (!strcmp(name, "enc_topk_indices")) {
        int32_t *ref = read_bin(name, n * sizeof(int32_t));
        int bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += (int32_t)data[i] != ref[i];
        printf("  %-26s %zu indices, %d differ\n", name, n, bad);
        c->failed += bad != 0;
        free(ref);
        return;
    }
    float *ref = read_bin(name, n * sizeof(float));
    double maxref = 0, maxdiff = 0;
    size_t rows = ndim == 2 ? (size_t)shape[0] : 1, cols = n / rows;
    for (size_t i = 0; i < n; i++) {
        size_t r = i / cols, col = i % cols;
        float ours = is_nchw(name) ? data[r * cols + col] : data[i];
        float theirs = is_nchw(name) ? ref[col * rows + r] : ref[i];
        maxref = fmax(maxref, fabs(theirs));
        maxdiff = fmax(maxdiff, fabs((double)ours - theirs));
    }
    int box = strstr(name, "boxes") || strstr(name, "ref_points");
    double tol = box ? TOL_BOX : TOL_REL * maxref;
    int ok = maxdiff <= tol && isfinite(maxdiff);
    printf("  %-26s max|ref| %-10.4g max|diff| %-10.3g (%.2e rel) tol %.3g %s\n", name, maxref,
           maxdiff, maxdiff / (maxref > 0 ? maxref : 1), tol, ok ? "ok" : "FAIL");
    c->failed += !ok;
    free(ref);
}

static void test_fidelity(void **state)
{
    (void)state;
    ft_test_require_fixture(find_fixture(), fixdir);
    char path[1100];
    snprintf(path, sizeof(path), "%s/checkpoint.pth", fixdir);
    ft_rfdetr_params p = {.model_path = path};
    ft_rfdetr *m = NULL;
    assert_int_equal(ft_rfdetr_create(&p, &m), FT_OK);
    const ft_rfdetr_arch *a = ft_rfdetr_arch_get(m);
    assert_string_equal(a->size, "medium");
    assert_int_equal(ft_rfdetr_input_size(m), 576);
    assert_int_equal(a->num_classes, 91);

    float *input = read_bin("input", sizeof(float) * 3 * 576 * 576);
    assert_int_equal(ft_rfdetr_set_input(m, input), FT_OK);
    free(input);
    ctx c = {0};
    ft_rfdetr_set_tap(m, on_tap, &c);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    ft_rfdetr_set_tap(m, NULL, NULL);
    /* 8 backbone taps, projector, 6 two-stage, 3 decoder, 2 heads */
    assert_int_equal(c.seen, 20);
    assert_int_equal(c.failed, 0);

    /* PostProcess for the fixture's assumed 1920x1080 original */
    ft_rfdetr_det dets[300];
    int n = 0;
    ft_rfdetr_postprocess(m, 1920, 1080, 0.0f, dets, 300, &n);
    assert_int_equal(n, 300);
    float *rs = read_bin("post_scores", 300 * sizeof(float));
    int32_t *rl = read_bin("post_labels", 300 * sizeof(int32_t));
    int32_t *rq = read_bin("post_query_index", 300 * sizeof(int32_t));
    float *rb = read_bin("post_boxes_xyxy", 300 * 4 * sizeof(float));
    for (int i = 0; i < EXACT_RANKS; i++) {
        assert_int_equal(dets[i].label, rl[i]);
        assert_int_equal(dets[i].query, rq[i]);
    }
    double maxs = 0, maxpx = 0;
    int missing = 0;
    for (int i = 0; i < 300; i++) {
        int j = 0;
        while (j < n && !(dets[j].label == rl[i] && dets[j].query == rq[i]))
            j++;
        if (j == n) {
            missing++;
            continue;
        }
        maxs = fmax(maxs, fabs(dets[j].score - rs[i]));
        const float *b = rb + 4 * i;
        maxpx = fmax(maxpx, fabs(dets[j].x0 - b[0]));
        maxpx = fmax(maxpx, fabs(dets[j].y0 - b[1]));
        maxpx = fmax(maxpx, fabs(dets[j].x1 - b[2]));
        maxpx = fmax(maxpx, fabs(dets[j].y1 - b[3]));
    }
    printf("  postprocess: %d of 300 (query,label) pairs missing, max score diff %.3g, max box "
           "diff %.3g px\n",
           missing, maxs, maxpx);
    assert_int_equal(missing, 0);
    assert_true(maxs <= TOL_SCORE);
    assert_true(maxpx <= TOL_PX);
    free(rs);
    free(rl);
    free(rq);
    free(rb);
    ft_rfdetr_destroy(&m);
    assert_null(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fidelity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
