/* Logging: levels, text or JSON lines, secrets masked. Thread-safe. */
#ifndef FT_CORE_LOG_H
#define FT_CORE_LOG_H

#include <stdarg.h>

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

void ft_log_set_level(ft_log_level level);
ft_log_level ft_log_get_level(void);
void ft_log_set_format(ft_log_format format);
/* Stream id added to every record (NULL for none). The string is copied. */
void ft_log_set_stream_id(const char *id);

#endif
