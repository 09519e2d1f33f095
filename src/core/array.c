/* See core/array.h. */
#include "core/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

ft_status ft_array_reserve(void *items, size_t *cap, size_t need, size_t elem_size, size_t first)
{
    if (need <= *cap)
        return FT_OK;
    size_t n = *cap ? *cap : first ? first : 1;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return FT_ERR_NOMEM;
        n *= 2;
    }
    if (elem_size && n > SIZE_MAX / elem_size)
        return FT_ERR_NOMEM;
    /* items points at a typed pointer (T **): copied through memcpy, as
     * FFmpeg's av_reallocp does, rather than accessed as a void *. */
    void *old;
    memcpy(&old, items, sizeof old);
    void *grown = realloc(old, n * elem_size);
    if (!grown)
        return FT_ERR_NOMEM;
    memcpy(items, &grown, sizeof grown);
    *cap = n;
    return FT_OK;
}
