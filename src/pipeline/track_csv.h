/* The per-frame track file written by `batch --track-out FILE` and read by
 * `eval --track FILE`: one CSV row per processed frame with the detector's
 * candidates, the tracker's estimate and mode, and the virtual camera's crop.
 *
 * Format (documented in README.md, "Synthetic footage and evaluation"):
 *
 *   # football-tracker track v1
 *   frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,crop_h,candidates
 *   0,0.000000,2,tracking,812.50,403.00,normal,480.00,200.00,960.00,540.00,812.5:403.0:0.910 ...
 *
 * frame: 0-based index of the frame in the input; pts: its presentation time in
 * seconds; detections: number of candidates listed in the last column;
 * state: tracking (a measurement was accepted this frame), predicted (no
 * measurement, the estimate is a prediction) or lost (no estimate; x and y are
 * empty); x, y: estimated ball centre in source pixels; mode: lost,
 * acquiring, normal, recovering, coasting, chaos or stability; crop_*: the crop rectangle in source
 * pixels (top-left corner and size); candidates: space-separated `x:y:score` triples in source
 * pixels, as the detector returned them after filtering. Lines starting with '#' are comments. */
#ifndef FT_PIPELINE_TRACK_CSV_H
#define FT_PIPELINE_TRACK_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "detect/detector.h"

typedef enum ft_track_csv_state {
    FT_TRACK_CSV_NO_ESTIMATE = 0, /* no estimate */
    FT_TRACK_CSV_PREDICTED = 1,   /* estimate without a measurement this frame */
    FT_TRACK_CSV_TRACKING = 2,    /* a measurement was accepted this frame */
} ft_track_csv_state;

/* The tracker's mode as one word: its base mode (track/tracker.h), replaced by
 * "chaos" while chaos mode is active, else by "stability" while the stability
 * lock is on. */
typedef enum ft_track_csv_mode {
    FT_TRACK_CSV_LOST = 0,
    FT_TRACK_CSV_ACQUIRING = 1,
    FT_TRACK_CSV_NORMAL = 2,
    FT_TRACK_CSV_RECOVERING = 3,
    FT_TRACK_CSV_COASTING = 4,
    FT_TRACK_CSV_CHAOS = 5,
    FT_TRACK_CSV_STABILITY = 6,
    FT_TRACK_CSV_MODE_COUNT
} ft_track_csv_mode;

/* One candidate as stored in the file (label and box size are not kept). */
typedef struct ft_track_csv_cand {
    float x, y, score;
} ft_track_csv_cand;

typedef struct ft_track_csv_row {
    int64_t frame;
    double pts; /* seconds */
    int n_det;  /* candidates in det[], 0..FT_DETECT_MAX */
    ft_track_csv_cand det[FT_DETECT_MAX];
    ft_track_csv_state state;
    float x, y; /* estimate; ignored (written empty) when state is NO_ESTIMATE */
    ft_track_csv_mode mode;
    float crop_x, crop_y, crop_w, crop_h;
} ft_track_csv_row;

/* A whole track file in memory. */
typedef struct ft_track_csv {
    ft_track_csv_row *rows; /* owned, `count` rows in file order */
    size_t count;
} ft_track_csv;

typedef struct ft_track_csv_writer ft_track_csv_writer;

/* Name of a state / mode as written in the file ("tracking", "chaos"). */
const char *ft_track_csv_state_name(ft_track_csv_state s);
const char *ft_track_csv_mode_name(ft_track_csv_mode m);

/* Fills row->det / row->n_det from detector output (`det` borrowed; at most
 * FT_DETECT_MAX are kept). */
void ft_track_csv_row_set_detections(ft_track_csv_row *row, const ft_detection *det, int n);

/* Creates `path` and writes the header. `atomic` (batch runs): the rows go to
 * a temporary file beside it that ft_track_csv_writer_finish renames into
 * place, so a failed run neither leaves a partial track nor destroys an older
 * one; otherwise (live, where the file is read while it grows) `path` is
 * written directly. FT_ERR_OUTPUT when the file cannot be created. `path` is
 * borrowed; *out is returned-owned. */
FT_NODISCARD ft_status ft_track_csv_writer_create(const char *path, bool atomic,
                                                  ft_track_csv_writer **out);

/* Appends one row (`row` borrowed). Rows need no allocation. FT_ERR_OUTPUT on a
 * write error, FT_ERR_INVALID for an out-of-range n_det, state or mode. */
FT_NODISCARD ft_status ft_track_csv_writer_write(ft_track_csv_writer *w,
                                                 const ft_track_csv_row *row);

/* Pushes the rows written so far to the file: FT_ERR_OUTPUT (logged) when
 * that fails (disk full), so a caller can learn it before committing the
 * files that go with the track. */
FT_NODISCARD ft_status ft_track_csv_writer_flush(ft_track_csv_writer *w);

/* Completes the file: flushes it and moves an atomic file into place.
 * FT_ERR_OUTPUT if that fails (disk full). Call once, then destroy. */
FT_NODISCARD ft_status ft_track_csv_writer_finish(ft_track_csv_writer *w);

/* Closes the file and frees the writer (NULL allowed), setting *w to NULL.
 * An atomic file not finished is removed. */
void ft_track_csv_writer_destroy(ft_track_csv_writer **w);

/* Reads a whole track file. Errors name the file and line: FT_ERR_INPUT when it
 * cannot be opened or a row is malformed, FT_ERR_NOMEM. *out is returned-owned. */
FT_NODISCARD ft_status ft_track_csv_read(const char *path, ft_track_csv **out);

/* Frees a track read by ft_track_csv_read (NULL allowed), setting *t to NULL. */
void ft_track_csv_destroy(ft_track_csv **t);

#endif
