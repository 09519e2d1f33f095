/* The default detector as the pipeline runs it (classic detector, then the
 * filter with the automatic pitch mask) over synthetic frames, for the tests
 * that score it against the generator's truth. */
#ifndef FT_TEST_CLASSIC_H
#define FT_TEST_CLASSIC_H

#include "detect/classic.h"
#include "detect/filters.h"
#include "tools/synth/synth.h"

typedef struct ft_test_classic {
    ft_synth *syn;
    ft_detector *det;
    ft_detect_filter *filt;
} ft_test_classic;

/* Creates the generator for `sp` (borrowed) and the detector and filter;
 * fails the test on error. */
void ft_test_classic_open(ft_test_classic *r, const ft_synth_params *sp);

/* Renders the next frame and detects on it: its truth in *truth, the
 * filtered candidates (best first) in d[0..*n), d holding FT_DETECT_MAX. */
void ft_test_classic_next(ft_test_classic *r, ft_synth_truth *truth, ft_detection *d, int *n);

void ft_test_classic_close(ft_test_classic *r);

#endif
