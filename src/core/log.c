#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

static ft_log_level g_level = FT_LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ft_log_set_level(ft_log_level level) { g_level = level; }
ft_log_level ft_log_get_level(void) { return g_level; }
void ft_log_set_format(ft_log_format format) { (void)format; }
void ft_log_set_stream_id(const char *id) { (void)id; }

void ft_log_v(ft_log_level level, const char *module, const char *fmt, va_list ap)
{
    if (level < g_level || level >= FT_LOG_OFF)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    pthread_mutex_lock(&g_lock);
    fprintf(stderr, "%s [%s] %s\n", level_names[level], module ? module : "-", msg);
    pthread_mutex_unlock(&g_lock);
}

void ft_log(ft_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ft_log_v(level, module, fmt, ap);
    va_end(ap);
}
