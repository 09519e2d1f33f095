/* Defaults and range checks driven by an option table, shared by every
 * component whose params struct is described by one (track, camera, ...). */
#include "core/options.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ft_options_set_defaults(const ft_option *table, void *params)
{
    for (const ft_option *o = table; o->key; o++) {
        void *f = (char *)params + o->offset;
        switch (o->type) {
        case FT_OPT_BOOL:
            *(bool *)f = !strcmp(o->def, "true");
            break;
        case FT_OPT_INT:
            *(int *)f = (int)strtol(o->def, NULL, 10);
            break;
        case FT_OPT_DOUBLE:
            *(double *)f = strtod(o->def, NULL);
            break;
        default:
            break;
        }
    }
}

ft_status ft_options_check_ranges(const ft_option *table, const void *params, const char *section,
                                  char *err, size_t cap)
{
    for (const ft_option *o = table; o->key; o++) {
        const void *f = (const char *)params + o->offset;
        double v;
        if (o->type == FT_OPT_INT)
            v = *(const int *)f;
        else if (o->type == FT_OPT_DOUBLE)
            v = *(const double *)f;
        else
            continue;
        if (!isfinite(v) || v < o->min || v > o->max) {
            return ft_options_fail(err, cap, "%s.%s: %g is out of range [%g, %g]", section, o->key,
                                   v, o->min, o->max);
        }
    }
    return FT_OK;
}

ft_status ft_options_fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return FT_ERR_CONFIG;
}
