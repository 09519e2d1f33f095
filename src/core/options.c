/* Defaults and range checks driven by an option table, shared by every
 * component whose params struct is described by one (track, camera, ...). */
#include "core/options.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int ft_option_choice_index(const ft_option *o, const char *text)
{
    int n = 0;
    for (; o->choices[n]; n++)
        if (!strcasecmp(o->choices[n], text))
            return n;
    if (!(o->flags & FT_OPT_ALIASES))
        return -1;
    for (const char *const *a = o->choices + n + 1; *a; a += 2)
        if (!strcasecmp(a[0], text))
            for (int i = 0; i < n; i++)
                if (!strcmp(o->choices[i], a[1]))
                    return i;
    return -1;
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
