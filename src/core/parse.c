#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* strtol on the start of s; *end is where the digits stopped. */
static bool leading_long(const char *s, long lo, long hi, long *out, const char **end)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (e == s || errno || v < lo || v > hi)
        return false;
    *out = v;
    *end = e;
    return true;
}

bool ft_parse_long(const char *s, long lo, long hi, long *out)
{
    long v;
    const char *end;
    if (!leading_long(s, lo, hi, &v, &end) || *end)
        return false;
    *out = v;
    return true;
}

bool ft_parse_int(const char *s, int lo, int hi, int *out)
{
    long v;
    if (!ft_parse_long(s, lo, hi, &v))
        return false;
    *out = (int)v;
    return true;
}

bool ft_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool ft_parse_size(const char *s, int *w, int *h)
{
    long a, b;
    const char *end;
    if (!leading_long(s, 1, 100000, &a, &end) || *end != 'x' ||
        !ft_parse_long(end + 1, 1, 100000, &b))
        return false;
    *w = (int)a;
    *h = (int)b;
    return true;
}
