#include "core/atomic_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

bool ft_atomic_path_applies(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT;
    return S_ISREG(sb.st_mode);
}

ft_status ft_atomic_path_temp(const char *path, const char *module, char *buf, size_t size)
{
    /* Same directory, so that the final rename is atomic; hidden and unique
     * per process. */
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    int n = snprintf(buf, size, "%.*s.%s.%ld.part", dir_len, path, base, (long)getpid());
    if (n < 0 || (size_t)n >= size) {
        FT_LOGE(module, "output path too long: %s", path);
        return FT_ERR_OUTPUT;
    }
    return FT_OK;
}
