/* Regression threshold for the default detector on a short synthetic eval
 * suite (the generator of tools/synth, exact ground truth): the best
 * candidate scoring >= 0.25 must be within 8 px of the ball often enough
 * (recall over frames where the ball is visible) and rarely elsewhere
 * (precision over frames with such a candidate). The dead-zone-free filter
 * with the automatic pitch mask runs after it, as in the pipeline. The
 * frames are the generator's raw ones, not encoded: the eval suite
 * (eval/suite.yml) measures decoded H.264, what the pipeline sees and what
 * the colour weights are fitted on, so recall here is lower than there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "ft_test_classic.h"

enum { FRAMES = 150 };

typedef struct score {
    int visible, hits, reported;
} score;

static void run(ft_synth_scenario scenario, uint64_t seed, score *sc)
{
    ft_synth_params sp;
    ft_synth_params_default(&sp);
    sp.scenario = scenario;
    sp.seed = seed;
    ft_test_classic r;
    ft_test_classic_open(&r, &sp);
    for (int i = 0; i < FRAMES; i++) {
        ft_synth_truth t;
        ft_detection d[FT_DETECT_MAX];
        int n;
        ft_test_classic_next(&r, &t, d, &n);
        bool found = n > 0 && d[0].score >= 0.25f;
        /* 8 px, or half the radius of a larger ball (closeup) */
        float radius = fmaxf(8.f, 0.5f * t.radius);
        bool near =
            found && t.vis == FT_SYNTH_VISIBLE && hypotf(d[0].x - t.x, d[0].y - t.y) <= radius;
        sc->visible += t.vis == FT_SYNTH_VISIBLE;
        sc->reported += found;
        sc->hits += near;
    }
    ft_test_classic_close(&r);
}

/* min_recall: the measured recall of the scenario minus about 0.03. */
static void check(ft_synth_scenario scenario, double min_recall, double min_precision)
{
    score sc = {0};
    run(scenario, 3, &sc);
    run(scenario, 4, &sc);
    double recall = (double)sc.hits / sc.visible, precision = (double)sc.hits / sc.reported;
    printf("%s: recall %.3f precision %.3f (%d of %d visible, %d reported)\n",
           ft_synth_scenario_name(scenario), recall, precision, sc.hits, sc.visible, sc.reported);
    /* Measured recall 0.836 (wide) / 0.916 (night), precision 1.000 / 0.996
     * when the thresholds were set (h35: the continuity prior; h28's choice
     * of the network's candidates 0.795 / 0.899; h24's learned scorer
     * 0.789 / 0.899; before it 0.708 / 0.819 at 0.991 / 0.980); see
     * docs/detector.md. */
    assert_true(recall >= min_recall);
    assert_true(precision >= min_precision);
}

static void test_wide(void **state)
{
    (void)state;
    check(FT_SYNTH_WIDE, 0.86, 0.97);
}

static void test_night(void **state)
{
    (void)state;
    check(FT_SYNTH_NIGHT, 0.93, 0.97);
}

/* The ball 1/27 to 1/13 of the frame height across: measured 0.695 /
 * 1.000 with large_balls (h44), recall 0 without it. */
static void test_closeup(void **state)
{
    (void)state;
    check(FT_SYNTH_CLOSEUP, 0.66, 0.97);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide),
        cmocka_unit_test(test_night),
        cmocka_unit_test(test_closeup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
