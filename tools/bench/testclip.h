/* A generated H.264 test clip (moving pattern and a white "ball" on green,
 * optional AAC sine-tone audio) written through the io writer: the input of
 * `bench pipeline` and of the io/pipeline tests, so neither needs a file in
 * the repository. */
#ifndef FT_TOOLS_BENCH_TESTCLIP_H
#define FT_TOOLS_BENCH_TESTCLIP_H

#include <stdbool.h>

#include "core/status.h"

typedef struct ft_testclip_params {
    const char *path;   /* output file; container from the extension (borrowed) */
    int width, height;  /* even */
    double fps;
    int frames;
    bool audio;         /* add a 48 kHz mono AAC 440 Hz tone covering the clip */
    const char *preset; /* x264 preset; NULL = "ultrafast" */
} ft_testclip_params;

/* Writes the clip. Frame i is a deterministic function of i, so two clips
 * made with the same params are identical. FT_ERR_OUTPUT when the file cannot
 * be written. */
FT_NODISCARD ft_status ft_testclip_write(const ft_testclip_params *p);

#endif
