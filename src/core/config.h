/* Configuration loading over option tables (see core/options.h).
 *
 * A schema is a list of sections; each section is one top-level key of a YAML
 * file ("model", "stream", ...), one option table and the place of its params
 * struct inside an aggregate values struct (ft_settings for the program). A
 * loaded ft_config owns one copy of that aggregate plus, for every option, the
 * origin of its value. Precedence, lowest first:
 *
 *   defaults < files (model_config.yml, stream_config.yml) < environment < CLI
 *
 * Environment: an option's own `env` name (LOG_LEVEL, RTMP_TIMEOUT, ...), then
 * the generic FT_<SECTION>_<KEY> form (FT_MODEL_CONFIDENCE), which wins when
 * both are set. Every error names where the value came from (file:line, env
 * VAR or CLI flag), the key and the reason, and maps to FT_ERR_CONFIG. */
#ifndef FT_CORE_CONFIG_H
#define FT_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/options.h"
#include "core/status.h"

/* The configuration files a section can belong to. */
typedef enum ft_config_file {
    FT_CONFIG_FILE_MODEL = 0, /* model_config.yml */
    FT_CONFIG_FILE_STREAM,    /* stream_config.yml */
    FT_CONFIG_FILE_COUNT,
} ft_config_file;

/* File name of a configuration file kind ("model_config.yml"). */
const char *ft_config_file_name(ft_config_file f);

typedef struct ft_config_section {
    const char *name;         /* top-level YAML key, e.g. "model" */
    ft_config_file file;      /* the file it is documented in */
    const ft_option *options; /* table ended by FT_OPTION_END */
    size_t offset;            /* offsetof(aggregate struct, this section's params) */
    /* Optional cross-field check of the section's params (borrowed), run after
     * every layer is applied: writes a reason naming the key to err and
     * returns non-OK when the combination is invalid. NULL = none. */
    ft_status (*validate)(const void *params, char *err, size_t cap);
} ft_config_section;

typedef struct ft_config_schema {
    const ft_config_section *sections; /* ended by a row whose name is NULL */
    size_t size;                       /* sizeof(aggregate struct) */
} ft_config_schema;

/* Longest "section.key", override value and origin label. */
#define FT_CONFIG_KEYLEN 96
#define FT_CONFIG_ORIGINLEN 160
/* Upper bound on CLI overrides and on the size of a YAML file (1 MiB). */
#define FT_CONFIG_MAX_OVERRIDES 64
#define FT_CONFIG_MAX_FILE_BYTES (1u << 20)

/* One command-line override of "section.key". */
typedef struct ft_config_override {
    char key[FT_CONFIG_KEYLEN];       /* "model.confidence" */
    char value[FT_OPT_STRLEN];        /* text, parsed like a file value */
    char origin[FT_CONFIG_ORIGINLEN]; /* shown by config --print, e.g. "CLI --confidence" */
} ft_config_override;

/* Where values come from. Paths are optional ("" = no file: defaults,
 * environment and CLI only); a path that is given must exist. */
typedef struct ft_config_sources {
    char files[FT_CONFIG_FILE_COUNT][FT_OPT_STRLEN];
    ft_config_override overrides[FT_CONFIG_MAX_OVERRIDES];
    int n_overrides;
    bool no_env; /* skip the environment (tests of the lower layers) */
} ft_config_sources;

typedef struct ft_config ft_config;

/* Applies defaults, files, environment and overrides in that order, validates,
 * and returns a new config in *out (returned-owned; destroy with
 * ft_config_destroy). `schema` is borrowed and must outlive the config;
 * `src` is copied. On error *out is NULL, `err` (cap bytes, may be NULL)
 * holds one line per problem ("file:line: section.key: reason") and the
 * status is FT_ERR_CONFIG (FT_ERR_NOMEM if memory ran out). */
FT_NODISCARD ft_status ft_config_load(const ft_config_schema *schema, const ft_config_sources *src,
                                      ft_config **out, char *err, size_t cap);

/* Frees *cfg (NULL allowed) and sets it to NULL. */
void ft_config_destroy(ft_config **cfg);

/* The aggregate values struct (borrowed; valid while cfg lives). Cast it to the
 * schema's struct type (ft_settings_of() in pipeline/settings.h does that). */
const void *ft_config_values(const ft_config *cfg);

/* The sources the config was loaded from (borrowed). */
const ft_config_sources *ft_config_get_sources(const ft_config *cfg);

/* Re-reads the files of `old` with the environment and overrides layered again
 * into a NEW config (*out, returned-owned). Fails with FT_ERR_CONFIG when the
 * files are invalid or when a key that is not hot-reloadable changed (the
 * message lists them); `old` is never modified, so it stays in force. */
FT_NODISCARD ft_status ft_config_reload(const ft_config *old, ft_config **out, char *err,
                                        size_t cap);

/* Writes the "section.key" names whose values differ between a and b (same
 * schema) and are not FT_OPT_HOT into `out` as a comma-separated list (may be
 * NULL) and returns how many there are; 0 means b may replace a while running. */
int ft_config_cold_changes(const ft_config *a, const ft_config *b, char *out, size_t cap);

/* Sets one "section.key" from text in a new copy of `cfg` (*out,
 * returned-owned), recording `origin` ("PATCH /config"). With `hot_only`, keys
 * that are not FT_OPT_HOT are refused. Errors as for ft_config_load. */
FT_NODISCARD ft_status ft_config_set(const ft_config *cfg, const char *key, const char *value,
                                     const char *origin, bool hot_only, ft_config **out, char *err,
                                     size_t cap);

/* Finds "section.key" in a schema. Returns false if there is no such key. */
bool ft_config_find(const ft_config_schema *schema, const char *key,
                    const ft_config_section **section, const ft_option **opt);

/* Origin of the value of "section.key" ("default", "path:line", "env VAR",
 * "CLI --flag"), or NULL for an unknown key. Borrowed. */
const char *ft_config_origin(const ft_config *cfg, const char *key);

/* Formats the current value of one option as text, the way it would be written
 * in YAML (polygons as flow sequences; SECRET strings as "***" when set). */
void ft_config_format_value(const ft_config *cfg, const ft_config_section *section,
                            const ft_option *opt, char *out, size_t cap);

/* Writes the effective configuration, one line per key with its origin,
 * grouped by file and section (the output of `config --print`). */
void ft_config_print(const ft_config *cfg, FILE *out);

/* The same as one JSON object: {"section":{"key":{"value":V,"origin":"...",
 * "hot":true|false},...},...}, bitrates in bits/s, secrets as "***"
 * (for GET /config and `config --print --json`). */
void ft_config_print_json(const ft_config *cfg, FILE *out);

/* Writes the Markdown reference of every key (type, default, range, hot,
 * environment variables, description) of a schema. */
void ft_config_reference(const ft_config_schema *schema, FILE *out);

#endif
