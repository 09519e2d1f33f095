/* Output files written under a temporary name beside their destination and
 * renamed into place once complete: a failed or interrupted run leaves no
 * partial file and does not destroy the file a previous run wrote. */
#ifndef FT_CORE_ATOMIC_PATH_H
#define FT_CORE_ATOMIC_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* True when `path` (borrowed) can be written that way: it does not exist yet
 * or is a regular file. Devices, FIFOs and the like (/dev/null, /dev/stdout)
 * are written in place; renaming over them would replace them. */
bool ft_atomic_path_applies(const char *path);

/* Writes the temporary name for `path`, "dir/.name.<pid>.part", into buf.
 * FT_ERR_OUTPUT (logged under `module`) when it does not fit. */
FT_NODISCARD ft_status ft_atomic_path_temp(const char *path, const char *module, char *buf,
                                           size_t size);

#endif
