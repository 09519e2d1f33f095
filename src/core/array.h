/* Growable heap arrays: the one place that doubles a capacity, checks the
 * size arithmetic for overflow and reallocs, for every module that appends
 * to an array of unknown final length (parsers, loaders). */
#ifndef FT_CORE_ARRAY_H
#define FT_CORE_ARRAY_H

#include <stddef.h>

#include "core/status.h"

/* Makes room for at least `need` elements of elem_size bytes. items is the
 * address of the caller's element pointer (e.g. &v->items; the pointer may be
 * NULL when *cap is 0) and is updated; *cap is the capacity in elements. It
 * grows to `first` elements (at least 1), then doubles until need fits; new
 * elements are uninitialised. Nothing happens when need <= *cap. On failure
 * (out of memory, size overflow) returns FT_ERR_NOMEM and leaves the array
 * and *cap as they were. */
FT_NODISCARD ft_status ft_array_reserve(void *items, size_t *cap, size_t need, size_t elem_size,
                                        size_t first);

#endif
