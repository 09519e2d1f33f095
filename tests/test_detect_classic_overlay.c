/* A broadcaster's watermark fixed in the frame must not become the ball.
 * The synthetic generator draws one (ball-sized white dots, bottom right)
 * over a panning broadcast camera and over a static wide camera; the default
 * detector, with the pipeline's filter after it, must rarely report a
 * candidate scoring >= 0.25 on it (at most 2 % of the frames), and must
 * still find the ball elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "ft_test_classic.h"

enum { FRAMES = 150 };

typedef struct tally {
    int frames, on_overlay, visible, hits;
} tally;

static void run(ft_synth_scenario scenario, uint64_t seed, tally *t)
{
    ft_synth_params sp;
    ft_synth_params_default(&sp);
    sp.scenario = scenario;
    sp.seed = seed;
    sp.overlay = true;
    float box[4];
    ft_synth_overlay_box(&sp, box);
    ft_test_classic r;
    ft_test_classic_open(&r, &sp);
    for (int i = 0; i < FRAMES; i++) {
        ft_synth_truth truth;
        ft_detection d[FT_DETECT_MAX];
        int n;
        ft_test_classic_next(&r, &truth, d, &n);
        /* The ball itself may pass under the watermark: only candidates
         * away from it count against the detector. */
        bool overlay = false;
        for (int k = 0; k < n && d[k].score >= 0.25f; k++) {
            bool inside = d[k].x >= box[0] - 8.f && d[k].x <= box[2] + 8.f &&
                          d[k].y >= box[1] - 8.f && d[k].y <= box[3] + 8.f;
            overlay |= inside && hypotf(d[k].x - truth.x, d[k].y - truth.y) > 8.f;
        }
        t->frames++;
        t->on_overlay += overlay;
        if (truth.vis == FT_SYNTH_VISIBLE) {
            t->visible++;
            t->hits += n > 0 && d[0].score >= 0.25f &&
                       hypotf(d[0].x - truth.x, d[0].y - truth.y) <= 8.f;
        }
    }
    ft_test_classic_close(&r);
}

static void check(ft_synth_scenario scenario)
{
    tally t = {0};
    run(scenario, 3, &t);
    run(scenario, 4, &t);
    double recall = t.visible ? (double)t.hits / t.visible : 0.0;
    printf("%s with overlay: a candidate on the overlay in %d of %d frames; recall %.3f\n",
           ft_synth_scenario_name(scenario), t.on_overlay, t.frames, recall);
    /* Measured with the learned scorer (h24, which runs on the still wide
     * camera only): on the overlay in 6 of 300 frames (broadcast, while the
     * overlay is being learnt) and 0 (wide); recall 0.681 (broadcast; 0.685
     * before, 0.04 before the detector learnt frame-fixed overlays) and
     * 0.745 (wide; 0.658 before; 0.765 with h28's choice of the
     * network's candidates). See docs/detector.md. */
    assert_true(t.on_overlay * 50 <= t.frames);
    assert_true(recall >= 0.64);
}

static void test_broadcast(void **state)
{
    (void)state;
    check(FT_SYNTH_BROADCAST);
}

static void test_wide(void **state)
{
    (void)state;
    check(FT_SYNTH_WIDE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
