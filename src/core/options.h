/* Options as data: each component describes its parameters once, as a table
 * of ft_option rows over its own params struct. The config loader, environment
 * and CLI overrides, validation, `config --print` and the README's
 * configuration reference are all driven by these tables. */
#ifndef FT_CORE_OPTIONS_H
#define FT_CORE_OPTIONS_H

#include <stddef.h>

#include "core/status.h"

typedef enum ft_opt_type {
    FT_OPT_BOOL,     /* bool */
    FT_OPT_INT,      /* int, range-checked against min/max */
    FT_OPT_DOUBLE,   /* double, range-checked against min/max */
    FT_OPT_STRING,   /* char[FT_OPT_STRLEN] */
    FT_OPT_ENUM,     /* int: index into choices[] */
    FT_OPT_BITRATE,  /* int64_t bits/s, written like "4000k" or "4M" */
    FT_OPT_POLYGONS, /* ft_polygon_set: list of polygons, each a list of [x, y] */
} ft_opt_type;

enum {
    FT_OPT_HOT = 1u << 0,    /* may change while running (hot reload, PATCH /config) */
    FT_OPT_SECRET = 1u << 1, /* never printed in full (tokens) */
    /* ENUM: choices' NULL is followed by (alias, choice) pairs and a second
     * NULL; an alias is read as its choice and never printed. */
    FT_OPT_ALIASES = 1u << 2,
};

#define FT_OPT_STRLEN 512
#define FT_POLY_MAX_POINTS 32
#define FT_POLY_MAX 16

/* Polygons in frame pixel coordinates, or in [0,1] fractions of the frame when
 * every coordinate is within [0,1]. */
typedef struct ft_polygon {
    int n;
    float x[FT_POLY_MAX_POINTS];
    float y[FT_POLY_MAX_POINTS];
} ft_polygon;

typedef struct ft_polygon_set {
    int count;
    ft_polygon poly[FT_POLY_MAX];
} ft_polygon_set;

typedef struct ft_option {
    const char *key;           /* key inside its YAML section, e.g. "confidence" */
    const char *help;          /* one sentence for --help, `config --print`, README */
    ft_opt_type type;
    size_t offset;             /* offsetof(params struct, field) */
    const char *def;           /* default, as text parsed like a file value */
    double min, max;           /* inclusive range for INT/DOUBLE/BITRATE */
    unsigned flags;            /* FT_OPT_HOT, FT_OPT_SECRET, FT_OPT_ALIASES */
    const char *env;           /* environment variable overriding it, or NULL */
    const char *const *choices; /* NULL-terminated names for FT_OPT_ENUM */
} ft_option;

/* A table ends with a row whose key is NULL. */
#define FT_OPTION_END {0}

/* Table helpers for a component's params struct. `table` and `params` are
 * borrowed; `params` is the struct the table's offsets point into. */

/* Writes each BOOL, INT and DOUBLE row's default (its `def` text) into its
 * field of params; other fields are not touched (the config loader parses the
 * other types). */
void ft_options_set_defaults(const ft_option *table, void *params);

/* Checks every INT and DOUBLE field of params against its row's [min, max]
 * (NaN and infinity are out of range). On the first field out of range writes
 * "<section>.<key>: <value> is out of range [min, max]" to err (cap bytes, may
 * be NULL) and returns FT_ERR_CONFIG; FT_OK when all are in range. */
FT_NODISCARD ft_status ft_options_check_ranges(const ft_option *table, const void *params,
                                               const char *section, char *err, size_t cap);

/* Index among o's choices of `text` (any case), or of the choice its alias
 * names (FT_OPT_ALIASES); -1 when it is neither. */
int ft_option_choice_index(const ft_option *o, const char *text);

/* Writes a formatted reason to err (cap bytes, may be NULL) and returns
 * FT_ERR_CONFIG: the one way params checks report a bad value. */
FT_NODISCARD ft_status ft_options_fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
