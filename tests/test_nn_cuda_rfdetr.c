/* The whole RF-DETR forward pass on the CUDA backend against the CPU engine,
 * on one random-weight checkpoint and one random input: the top detections
 * must have the same labels and queries, with scores and boxes within
 * tolerance. Checked for the FP16 path, its CUDA-graph replay (bit-identical
 * to the eager pass) and the FP32 path.
 *
 * The checkpoint is $FT_RFDETR_CHECKPOINT (scripts/gpu-check.sh writes a
 * random Medium one) or the shared medium-random fixture. Skips when no GPU
 * is usable or no checkpoint is present. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "detect/rfdetr.h"
#include "ft_test_rng.h"

#define TOPN 20    /* CPU detections checked */
#define WINDOW 40  /* GPU ranks searched for each of them */
#define FRAME_W 1920
#define FRAME_H 1080

typedef struct run {
    ft_rfdetr_det det[300];
    int n;
} run;

static char ckpt[4096];

static const char *checkpoint(void)
{
    const char *env = getenv("FT_RFDETR_CHECKPOINT");
    if (env && access(env, R_OK) == 0)
        return env;
    const char *src = getenv("FT_SOURCE_DIR");
    if (!src)
        return NULL;
    snprintf(ckpt, sizeof(ckpt), "%s/../shared/fixtures/rfdetr/medium-random/checkpoint.pth", src);
    return access(ckpt, R_OK) == 0 ? ckpt : NULL;
}

static float *random_input(int size)
{
    ft_test_rng rng = {0x9d7e7c0ull};
    size_t n = 3 * (size_t)size * size;
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)ft_test_rng_normal(&rng);
    return x;
}

/* Create a model on `device` (NULL result when CUDA is unusable). */
static ft_rfdetr *model(const char *path, const char *device)
{
    ft_rfdetr_params p = {.model_path = path, .size = "medium", .device = device};
    ft_rfdetr *m = NULL;
    ft_status st = ft_rfdetr_create(&p, &m);
    if (st == FT_ERR_GPU)
        return NULL;
    assert_int_equal(st, FT_OK);
    return m;
}

static void forward(ft_rfdetr *m, const float *x, run *r)
{
    assert_int_equal(ft_rfdetr_set_input(m, x), FT_OK);
    assert_int_equal(ft_rfdetr_forward(m), FT_OK);
    ft_rfdetr_postprocess(m, FRAME_W, FRAME_H, 0.f, r->det, 300, &r->n);
    assert_true(r->n >= TOPN);
}

/* Each of the CPU's TOPN detections appears among the GPU's first WINDOW
 * with the same query and label, score within score_tol and box corners
 * within box_tol pixels; the best detection is the same. */
static void check_close(const run *cpu, const run *gpu, float score_tol, float box_tol,
                        const char *what)
{
    float worst_s = 0, worst_b = 0;
    for (int i = 0; i < TOPN; i++) {
        const ft_rfdetr_det *c = &cpu->det[i];
        int found = -1;
        for (int j = 0; j < WINDOW && j < gpu->n; j++)
            if (gpu->det[j].query == c->query && gpu->det[j].label == c->label) {
                found = j;
                break;
            }
        if (found < 0)
            print_message("%s: CPU rank %d (query %d label %d score %.4f) not in GPU top %d\n",
                          what, i, c->query, c->label, c->score, WINDOW);
        assert_true(found >= 0);
        const ft_rfdetr_det *g = &gpu->det[found];
        float ds = fabsf(g->score - c->score);
        float db = fmaxf(fmaxf(fabsf(g->x0 - c->x0), fabsf(g->y0 - c->y0)),
                         fmaxf(fabsf(g->x1 - c->x1), fabsf(g->y1 - c->y1)));
        worst_s = fmaxf(worst_s, ds);
        worst_b = fmaxf(worst_b, db);
    }
    print_message("%s: top %d matched; worst score diff %.2e, worst box diff %.3f px "
                  "(tolerances %.0e, %.1f px)\n",
                  what, TOPN, worst_s, worst_b, score_tol, box_tol);
    assert_int_equal(gpu->det[0].label, cpu->det[0].label);
    assert_true(worst_s <= score_tol);
    assert_true(worst_b <= box_tol);
}

static void test_forward_matches_cpu(void **state)
{
    (void)state;
    const char *path = checkpoint();
    if (!path) {
        print_message("no checkpoint (FT_RFDETR_CHECKPOINT or the shared fixture): skipped\n");
        skip();
    }
    ft_rfdetr *gm = model(path, "cuda");
    if (!gm) {
        print_message("no usable CUDA device: skipped\n");
        skip();
    }
    ft_rfdetr *cm = model(path, "cpu");
    float *x = random_input(ft_rfdetr_input_size(cm));
    run *r = calloc(4, sizeof(run));
    assert_non_null(r);
    forward(cm, x, &r[0]);
    forward(gm, x, &r[1]); /* eager */
    check_close(&r[0], &r[1], 2e-2f, 8.f, "cuda fp16 vs cpu");
    /* captured, then replayed: the same kernels on the same data */
    forward(gm, x, &r[2]);
    forward(gm, x, &r[3]);
    for (int k = 2; k < 4; k++) {
        assert_int_equal(r[k].n, r[1].n);
        for (int i = 0; i < r[1].n; i++) {
            assert_int_equal(r[k].det[i].query, r[1].det[i].query);
            assert_int_equal(r[k].det[i].label, r[1].det[i].label);
            assert_true(r[k].det[i].score == r[1].det[i].score);
            assert_true(r[k].det[i].x0 == r[1].det[i].x0 && r[k].det[i].y1 == r[1].det[i].y1);
        }
    }
    print_message("graph capture and replay: bit-identical to the eager pass\n");
    ft_rfdetr_destroy(&gm);

    setenv("FT_CUDA_PRECISION", "fp32", 1);
    ft_rfdetr *g32 = model(path, "cuda");
    unsetenv("FT_CUDA_PRECISION");
    assert_non_null(g32);
    forward(g32, x, &r[1]);
    check_close(&r[0], &r[1], 1e-3f, 0.5f, "cuda fp32 vs cpu");
    ft_rfdetr_destroy(&g32);
    ft_rfdetr_destroy(&cm);
    free(r);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
