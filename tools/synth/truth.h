/* The ground-truth CSV written by `synth --truth FILE` and read by
 * `eval --truth FILE` (also the format for hand annotations of real footage):
 *
 *   # football-tracker truth v1 width=1920 height=1080 fps=30 scenario=wide seed=1
 *   frame,pts,x,y,radius,visibility,ball_z,shot,cam_pan,cam_tilt,cam_focal,cam_x,cam_y,cam_z
 *   0,0.000000,960.02,554.51,2.60,visible,0.000,0,0.000,20.956,1144.0,0.00,-45.00,18.00
 *
 * The reader goes by the header's column names, in any order: `frame`, `x`,
 * `y` and `visibility` are required (visible, occluded or out_of_frame; x and y
 * may be empty when the ball is not visible); `pts` and `radius` are optional
 * and every other column is ignored. Lines starting with '#' are comments. */
#ifndef FT_TOOLS_TRUTH_H
#define FT_TOOLS_TRUTH_H

#include <stddef.h>
#include <stdio.h>

#include "core/status.h"
#include "tools/synth/synth.h"

typedef struct ft_synth_truth_writer ft_synth_truth_writer;

/* Creates `path` and writes the comment line (from `p`) and the header. The
 * rows go to a temporary file beside `path` until ft_synth_truth_writer_finish
 * moves it into place (a failed run leaves no truth that does not match its
 * clip, and keeps an older one). FT_ERR_OUTPUT with a message naming the file.
 * Borrowed args; *out owned. */
FT_NODISCARD ft_status ft_synth_truth_writer_create(const char *path, const ft_synth_params *p,
                                                    ft_synth_truth_writer **out);

/* Appends one row (borrowed). FT_ERR_OUTPUT on a write error. */
FT_NODISCARD ft_status ft_synth_truth_writer_write(ft_synth_truth_writer *w,
                                                   const ft_synth_truth *t);

/* Completes the file: flushes it and moves it into place. FT_ERR_OUTPUT if
 * that fails (disk full). Call once, then destroy. */
FT_NODISCARD ft_status ft_synth_truth_writer_finish(ft_synth_truth_writer *w);

/* Closes the file and frees the writer (NULL allowed), setting *w to NULL;
 * a file not finished is removed. */
void ft_synth_truth_writer_destroy(ft_synth_truth_writer **w);

/* Reads a truth file into *rows (returned-owned, free()) and *n. Rows keep
 * the file's order; missing optional columns read as pts = -1, radius = 0.
 * FT_ERR_INPUT with a message naming the file, line and column. */
FT_NODISCARD ft_status ft_synth_truth_read(const char *path, ft_synth_truth **rows, size_t *n);

#endif
