/* A text file written row by row (the track CSV, the synth truth CSV) whose
 * failures are logged once with the file's name and come back as
 * FT_ERR_OUTPUT: the part the CSV writers share. Optionally atomic
 * (core/atomic_path.h): the rows go to a temporary file that
 * ft_text_out_commit renames into place. */
#ifndef FT_CORE_TEXT_OUT_H
#define FT_CORE_TEXT_OUT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"

typedef struct ft_text_out {
    FILE *f;            /* write rows with stdio; check them with ft_text_out_check */
    char path[512];     /* the destination, for messages */
    char tmp[560];      /* where an atomic file is written until committed; "" = in place */
    const char *what;   /* "track", "truth": the messages say "<what> file" */
    const char *module; /* log module of the owner */
} ft_text_out;

/* Creates `path` for writing, under a temporary name when `atomic` and the
 * path allows it (a regular or new file). `what` and `module` are borrowed
 * and must outlive `t` (string literals). FT_ERR_OUTPUT with a message naming
 * the file and the system's reason. */
FT_NODISCARD ft_status ft_text_out_open(ft_text_out *t, const char *path, bool atomic,
                                        const char *what, const char *module);

/* FT_ERR_OUTPUT (logged) when a write since opening failed. */
FT_NODISCARD ft_status ft_text_out_check(ft_text_out *t);

/* Pushes buffered rows to the file; FT_ERR_OUTPUT (logged) on failure. */
FT_NODISCARD ft_status ft_text_out_flush(ft_text_out *t);

/* Finishes the file: flush, close and, when atomic, rename into place.
 * FT_ERR_OUTPUT (logged) when any step fails; the temporary file is gone
 * either way. */
FT_NODISCARD ft_status ft_text_out_commit(ft_text_out *t);

/* Closes a file that was not committed, removing its temporary file (a
 * partial atomic file never appears under its name). NULL-safe for a file
 * never opened; a no-op after ft_text_out_commit. */
void ft_text_out_close(ft_text_out *t);

#endif
