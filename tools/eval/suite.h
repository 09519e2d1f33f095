/* The evaluation suite (eval/suite.yml): fixed scenario seeds rendered with
 * `synth`, run through `batch --track-out`, evaluated, printed as one table
 * and checked against regression thresholds. */
#ifndef FT_TOOLS_SUITE_H
#define FT_TOOLS_SUITE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"

typedef struct ft_eval_suite_params {
    const char *suite;   /* path of suite.yml (borrowed) */
    const char *bin;     /* football-tracker executable to run synth and batch with */
    const char *workdir; /* where clips, truth, tracks and logs go (must exist) */
    bool short_only;     /* only runs marked `short: true`, at the short duration and size */
    FILE *out;           /* the table goes here (borrowed) */
} ft_eval_suite_params;

/* Runs the suite. FT_ERR_CONFIG for a bad suite file (message names the file
 * and key), FT_ERR_RUNTIME when a synth or batch run fails (its log file is
 * named). *failed receives the number of threshold violations, each printed
 * under the table. */
FT_NODISCARD ft_status ft_eval_suite_run(const ft_eval_suite_params *p, int *failed);

#endif
