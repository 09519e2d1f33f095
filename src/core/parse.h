/* Strict parsing of numbers given on the command line or in text files: the
 * whole string must be the number (no trailing characters, no empty string,
 * no overflow) and within the caller's range. Nothing is written on failure,
 * so a caller can keep its default. */
#ifndef FT_CORE_PARSE_H
#define FT_CORE_PARSE_H

#include <stdbool.h>

/* A base-10 integer in [lo, hi]. */
bool ft_parse_long(const char *s, long lo, long hi, long *out);

/* The same for an int. */
bool ft_parse_int(const char *s, int lo, int hi, int *out);

/* A finite floating-point number in [lo, hi]. */
bool ft_parse_double(const char *s, double lo, double hi, double *out);

/* "WxH" with each side in [1, 100000] (callers narrow it further). */
bool ft_parse_size(const char *s, int *w, int *h);

#endif
