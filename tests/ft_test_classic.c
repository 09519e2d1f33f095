#include "ft_test_classic.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

void ft_test_classic_open(ft_test_classic *r, const ft_synth_params *sp)
{
    *r = (ft_test_classic){0};
    ft_detect_filter_params fp = {.pitch_mask_auto = true};
    assert_int_equal(ft_synth_create(sp, &r->syn), FT_OK);
    assert_int_equal(ft_detect_classic_create(NULL, &r->det), FT_OK);
    assert_int_equal(ft_detect_filter_create(&fp, &r->filt), FT_OK);
}

void ft_test_classic_next(ft_test_classic *r, ft_synth_truth *truth, ft_detection *d, int *n)
{
    ft_image im;
    assert_int_equal(ft_synth_next(r->syn, &im, truth), FT_OK);
    *n = 0;
    assert_int_equal(ft_detector_detect(r->det, &im, truth->pts, d, FT_DETECT_MAX, n), FT_OK);
    assert_int_equal(ft_detect_filter_apply(r->filt, &im, d, n), FT_OK);
}

void ft_test_classic_close(ft_test_classic *r)
{
    ft_detect_filter_destroy(&r->filt);
    ft_detector_destroy(&r->det);
    ft_synth_destroy(&r->syn);
}
