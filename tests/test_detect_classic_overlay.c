/* A broadcaster's watermark fixed in the frame must not become the ball.
 * The synthetic generator draws one (ball-sized white dots, bottom right)
 * over a panning broadcast camera and over a static wide camera; the default
 * detector, with the pipeline's filter after it, must rarely report a
 * candidate scoring >= 0.25 on it (at most 2 % of the frames), and must
 * still find the ball elsewhere. On the real LaLiga clip (optional: skipped
 * when the shared footage is absent), the big score graphic of the first
 * 4.5 s must not hold the track while the camera pans behind it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ft_test_classic.h"
#include "pipeline/track_csv.h"

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
     * network's candidates, 0.809 with h35's continuity prior). See
     * docs/detector.md. */
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

/* The score graphic (1280x720 frame: x 140-1140, y 530-665) stays on screen
 * for frames 0-140 while the camera pans 4-7 px per frame behind it; the
 * graphic keeps the zero shift's profile cost low, which once hid that pan
 * from overlay learning, and the track sat on the graphic in 128 of those
 * frames. Measured since (h31): 41, the track then follows the ball. */
static void test_real_score_graphic(void **state)
{
    (void)state;
    const char *bin = getenv("FT_BIN"), *src = getenv("FT_SOURCE_DIR");
    if (!bin || !src)
        skip();
    char clip[512];
    snprintf(clip, sizeof(clip), "%s/../shared/footage/laliga_rma_sev_main_cam_720p.mp4", src);
    if (access(clip, R_OK))
        skip();
    char dir[] = "/tmp/ft_overlay_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048], csv[64];
    snprintf(csv, sizeof(csv), "%s/t.csv", dir);
    snprintf(cmd, sizeof(cmd),
             "'%s' batch --input '%s' --output %s/o.mp4 --track-out %s >/dev/null 2>&1", bin,
             clip, dir, csv);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    ft_track_csv *t = NULL;
    assert_int_equal(ft_track_csv_read(csv, &t), FT_OK);
    int on_graphic = 0;
    for (size_t i = 0; i < t->count && t->rows[i].frame <= 140; i++) {
        const ft_track_csv_row *r = &t->rows[i];
        on_graphic += r->state != FT_TRACK_CSV_NO_ESTIMATE && r->x >= 140.f && r->x <= 1140.f &&
                      r->y >= 530.f && r->y <= 665.f;
    }
    ft_track_csv_destroy(&t);
    printf("LaLiga: the track on the score graphic in %d of frames 0-140\n", on_graphic);
    assert_true(on_graphic <= 64);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_wide),
        cmocka_unit_test(test_real_score_graphic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
