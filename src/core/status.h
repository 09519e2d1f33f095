/* Status codes shared by every module, and their mapping to exit codes. */
#ifndef FT_CORE_STATUS_H
#define FT_CORE_STATUS_H

/* Fallible functions return ft_status and must have their result checked. */
#define FT_NODISCARD __attribute__((warn_unused_result))

/* 0 is success, errors are negative. The numbers never change: they appear in
 * logs and metrics. Each error belongs to one exit-code class (see
 * ft_status_exit_code). */
typedef enum ft_status {
    FT_OK = 0,
    /* configuration (exit 1) */
    FT_ERR_CONFIG = -100,    /* bad configuration value, key or file */
    FT_ERR_USAGE = -101,     /* bad command line */
    /* model (exit 2) */
    FT_ERR_MODEL = -200,     /* model file cannot be loaded or is unsupported */
    /* input (exit 3) */
    FT_ERR_INPUT = -300,     /* input cannot be opened or read */
    FT_ERR_INPUT_EOF = -301, /* clean end of input (not an error for callers that expect it) */
    /* output (exit 4) */
    FT_ERR_OUTPUT = -400,    /* output cannot be opened or written */
    /* GPU (exit 5) */
    FT_ERR_GPU = -500,       /* CUDA error, or a GPU was required and none is usable */
    FT_ERR_GPU_OOM = -501,   /* GPU out of memory (recoverable: retry FP32, then CPU) */
    /* runtime (exit 6) */
    FT_ERR_RUNTIME = -600,   /* anything else that went wrong while running */
    FT_ERR_NOMEM = -601,     /* host allocation failed */
    FT_ERR_IO = -602,        /* local file I/O failed (not the video input/output) */
    FT_ERR_INVALID = -603,   /* invalid argument to an API (a caller bug or bad data) */
    FT_ERR_INTERRUPTED = -604, /* stopped by a signal */
    FT_ERR_AGAIN = -605,     /* nothing available yet; try again */
} ft_status;

/* Process exit codes documented in the README. */
enum {
    FT_EXIT_OK = 0,
    FT_EXIT_CONFIG = 1,
    FT_EXIT_MODEL = 2,
    FT_EXIT_INPUT = 3,
    FT_EXIT_OUTPUT = 4,
    FT_EXIT_GPU = 5,
    FT_EXIT_RUNTIME = 6,
};

/* Short English description of a status ("configuration error", ...). Never NULL. */
const char *ft_status_str(ft_status st);

/* The process exit code for a status (FT_EXIT_*). Unknown codes map to FT_EXIT_RUNTIME. */
int ft_status_exit_code(ft_status st);

#endif
