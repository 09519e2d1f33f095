/* FFmpeg log routing and error text for the io module. */
#include "io/av_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "core/log.h"

static void av_log_to_ft(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    if (level > AV_LOG_WARNING || ft_log_get_level() > FT_LOG_DEBUG)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n)
        FT_LOGD("libav", "%s", line);
}

static void install_log(void)
{
    av_log_set_callback(av_log_to_ft);
}

void ft_io_av_log_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_log);
}

const char *ft_io_av_err(int err, char *buf, size_t cap)
{
    if (av_strerror(err, buf, cap) < 0)
        snprintf(buf, cap, "libav error %d", err);
    return buf;
}

bool ft_io_url_scheme_in(const char *url, const char *const *schemes)
{
    const char *colon = strchr(url, ':');
    const char *slash = strchr(url, '/');
    if (!colon || (slash && slash < colon))
        return true;
    size_t n = (size_t)(colon - url);
    for (const char *const *s = schemes; *s; s++)
        if (strlen(*s) == n && !strncmp(url, *s, n))
            return true;
    return false;
}

const char *ft_io_url_path(const char *url)
{
    return strncmp(url, "file:", 5) ? url : url + 5;
}
