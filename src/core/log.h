/* Logging: levels, text or JSON lines, secrets masked. Thread-safe. */
#ifndef FT_CORE_LOG_H
#define FT_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/options.h"
#include "core/status.h"

typedef enum ft_log_level {
    FT_LOG_DEBUG = 0,
    FT_LOG_INFO = 1,
    FT_LOG_WARN = 2,
    FT_LOG_ERROR = 3,
    FT_LOG_OFF = 4,
} ft_log_level;

typedef enum ft_log_format {
    FT_LOG_FORMAT_AUTO = 0, /* text on a terminal, JSON lines otherwise */
    FT_LOG_FORMAT_TEXT,
    FT_LOG_FORMAT_JSON,
} ft_log_format;

/* Log one message. `module` is a short subsystem name ("io", "track"). The
 * formatted message is sanitised before it is written (see ft_log_sanitize). */
void ft_log(ft_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ft_log_v(ft_log_level level, const char *module, const char *fmt, va_list ap);

#define FT_LOGD(mod, ...) ft_log(FT_LOG_DEBUG, mod, __VA_ARGS__)
#define FT_LOGI(mod, ...) ft_log(FT_LOG_INFO, mod, __VA_ARGS__)
#define FT_LOGW(mod, ...) ft_log(FT_LOG_WARN, mod, __VA_ARGS__)
#define FT_LOGE(mod, ...) ft_log(FT_LOG_ERROR, mod, __VA_ARGS__)

/* One structured field of a record: a JSON field in JSON lines, "key=value"
 * after the message in text. Both strings are borrowed and sanitised. */
typedef struct ft_log_field {
    const char *key;
    const char *value;
} ft_log_field;

/* Log one message with `n` extra fields (borrowed). */
void ft_log_fields(ft_log_level level, const char *module, const ft_log_field *fields, int n,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copies `in` to `out` (cap bytes, always terminated, truncated if needed) with
 * secrets masked and control characters escaped: the stream key of
 * rtmp(s):// URLs (last path element), the values of token=, key=, password=,
 * secret= (any case, also in query strings) and user:password@ in URLs become
 * "***"; bytes below 0x20 and 0x7f become \n, \t, \r or \xHH, and so do
 * bytes that are not part of valid UTF-8 (the output is always valid UTF-8;
 * truncation never splits an escape or a character). Returns the length
 * written. For anything user-supplied that is shown (status page,
 * metrics labels). */
size_t ft_log_sanitize(const char *in, char *out, size_t cap);

/* The logging section of the configuration (stream_config.yml `logging:`). */
typedef struct ft_log_params {
    int level;                     /* ft_log_level (LOG_LEVEL) */
    char file[FT_OPT_STRLEN];      /* append records to this file instead of stderr; "" = stderr
                                      (LOG_FILE) */
    int format;                    /* ft_log_format */
    bool cloudwatch_emf;           /* services write CloudWatch EMF records (ft_log_emf) */
    int cloudwatch_emf_interval_s; /* seconds each EMF record covers */
} ft_log_params;

/* Option table over ft_log_params. */
extern const ft_option ft_log_options[];

/* Applies level, format and file. FT_ERR_CONFIG (and a message on stderr
 * naming the file) when the log file cannot be opened; the previous
 * destination stays in use then. */
FT_NODISCARD ft_status ft_log_configure(const ft_log_params *p);

void ft_log_set_level(ft_log_level level);
ft_log_level ft_log_get_level(void);
void ft_log_set_format(ft_log_format format);
/* Stream id added to every record (NULL for none). The string is copied. */
void ft_log_set_stream_id(const char *id);

/* Whether records are written as JSON lines now (format json, or auto on
 * something other than a terminal). */
bool ft_log_json_lines(void);

/* One value of a CloudWatch embedded metric format record. `name` and `unit`
 * (a CloudWatch unit such as "Percent") are borrowed. */
typedef struct ft_log_metric {
    const char *name;
    const char *unit;
    double value;
} ft_log_metric;

/* Writes one CloudWatch embedded metric format record (EMF) with the `n`
 * metrics (borrowed) in namespace `ns` to the log destination: always one
 * JSON line, whatever the format of the other records and whatever the level
 * (metrics are not messages). Dimension sets: the stream id as dimension
 * "Stream" when one is set, and the empty set, so that the same values are
 * also published without dimensions (an alarm that names none matches them).
 * Non-finite values are left out. */
void ft_log_emf(const char *ns, const ft_log_metric *m, int n);

#endif
