#include "core/status.h"

const char *ft_status_str(ft_status st)
{
    switch (st) {
    case FT_OK: return "success";
    case FT_ERR_CONFIG: return "configuration error";
    case FT_ERR_USAGE: return "invalid command line";
    case FT_ERR_MODEL: return "model load failure";
    case FT_ERR_INPUT: return "input source error";
    case FT_ERR_INPUT_EOF: return "end of input";
    case FT_ERR_OUTPUT: return "output destination error";
    case FT_ERR_GPU: return "GPU/CUDA error";
    case FT_ERR_GPU_OOM: return "GPU out of memory";
    case FT_ERR_RUNTIME: return "runtime error";
    case FT_ERR_NOMEM: return "out of memory";
    case FT_ERR_IO: return "file I/O error";
    case FT_ERR_INVALID: return "invalid argument";
    case FT_ERR_INTERRUPTED: return "interrupted";
    case FT_ERR_AGAIN: return "try again";
    }
    return "unknown error";
}

int ft_status_exit_code(ft_status st)
{
    if (st == FT_OK || st == FT_ERR_INPUT_EOF)
        return FT_EXIT_OK;
    /* The hundreds digit of the (negated) code is the exit-code class. */
    int cls = -(int)st / 100;
    if (cls >= FT_EXIT_CONFIG && cls <= FT_EXIT_GPU)
        return cls;
    return FT_EXIT_RUNTIME;
}
