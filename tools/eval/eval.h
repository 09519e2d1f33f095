/* Evaluation of a track file (pipeline/track_csv.h) against ground truth
 * (tools/synth/truth.h), or on its own for real footage without truth.
 * Definitions of every figure are in docs/synth-eval.md. */
#ifndef FT_TOOLS_EVAL_H
#define FT_TOOLS_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/status.h"
#include "pipeline/track_csv.h"
#include "tools/synth/synth.h"

typedef struct ft_eval_params {
    double radius; /* a candidate or estimate within this many pixels is "on the ball" (8) */
    /* Source frame size for the framing figures; 0 = unknown: the widest crop
     * of the track then stands for the frame width and zoom 1.0. */
    int frame_w, frame_h;
} ft_eval_params;

/* Figures that cannot be computed (no visible frame, no detection...) are NAN. */
typedef struct ft_eval_result {
    bool has_truth;
    size_t frames;         /* track rows evaluated */
    size_t truth_frames;   /* track rows with a truth row of the same frame */
    size_t visible_frames; /* ... where the ball is visible */
    /* detection: one-to-one matching of candidates to the visible ball */
    size_t tp, fp, fn;
    double precision, recall, f1; /* percent */
    /* tracking error over visible frames with an estimate, pixels */
    size_t err_frames;
    double err_p50, err_p95, err_max;
    /* ball inside the crop / inside its central 60 %, percent of visible frames */
    double in_crop, in_crop_center;
    /* camera smoothness from the crop centre: px/frame^2 and px/frame^3; zoom
     * jerk is the third difference of ln(crop width) in percent/frame^3 */
    double acc_rms, acc_p95, jerk_rms, jerk_p95, zoom_jerk_rms, zoom_jerk_p95;
    /* re-acquisition after the ball was hidden or out of the frame */
    size_t occlusions, reacquired;
    double reacq_mean_s, reacq_max_s;
    /* truth-free */
    /* framing: crop width as a fraction of the frame width (mean, median);
     * zoom = widest crop of the output aspect / crop width, its mean and the
     * percent of frames at zoom <= 1.05 (a full-frame camera: 100) */
    double crop_frac_mean, crop_frac_p50, zoom_mean, full_frame_pct;
    double lost_pct;      /* frames whose state is not "tracking" */
    double chaos_pct;     /* frames in chaos mode */
    double det_per_frame; /* mean number of candidates */
} ft_eval_result;

void ft_eval_params_default(ft_eval_params *p);

/* Computes every figure. `truth` may be NULL (n_truth 0): then only the
 * truth-free ones. Rows are matched by frame index. Scratch memory is
 * allocated and freed inside. All pointers borrowed. FT_ERR_INVALID for a bad
 * radius, FT_ERR_NOMEM. */
FT_NODISCARD ft_status ft_eval_compute(const ft_eval_params *p, const ft_synth_truth *truth,
                                       size_t n_truth, const ft_track_csv *track,
                                       ft_eval_result *out);

/* Prints the figures as a two-column table (`out` borrowed). */
void ft_eval_print_table(FILE *out, const ft_eval_result *r);

/* Writes the figures as one JSON object (NAN as null). FT_ERR_OUTPUT with a
 * message naming the file. */
FT_NODISCARD ft_status ft_eval_write_json(const char *path, const ft_eval_result *r);

/* Draws a PNG: x and y over time (truth, estimate, crop band and centre) and
 * the tracking error over time (see docs/synth-eval.md for the colours).
 * `truth` may be NULL. FT_ERR_OUTPUT with a message naming the file. */
FT_NODISCARD ft_status ft_eval_plot_png(const char *path, const ft_eval_params *p,
                                        const ft_synth_truth *truth, size_t n_truth,
                                        const ft_track_csv *track);

/* The figure named `key` (the JSON key, e.g. "recall", "err_p95") in *v.
 * FT_ERR_INVALID for an unknown key. */
FT_NODISCARD ft_status ft_eval_result_get(const ft_eval_result *r, const char *key, double *v);

/* Index from frame number to truth row (-1 where none) for frames
 * 0..max_frame, returned-owned (free()); NULL on allocation failure. */
long *ft_eval_truth_index(const ft_synth_truth *truth, size_t n_truth, int64_t max_frame);

#endif
