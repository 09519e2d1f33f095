#include "core/text_out.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_path.h"
#include "core/log.h"

ft_status ft_text_out_open(ft_text_out *t, const char *path, bool atomic, const char *what,
                           const char *module)
{
    *t = (ft_text_out){.what = what, .module = module};
    if ((size_t)snprintf(t->path, sizeof t->path, "%s", path) >= sizeof t->path) {
        FT_LOGE(module, "%s file path too long: %.64s...", what, path);
        return FT_ERR_OUTPUT;
    }
    if (atomic && ft_atomic_path_applies(path)) {
        ft_status st = ft_atomic_path_temp(path, module, t->tmp, sizeof t->tmp);
        if (st)
            return st;
    }
    t->f = fopen(t->tmp[0] ? t->tmp : path, "w");
    if (!t->f) {
        FT_LOGE(module, "cannot create %s file '%s': %s", what, path, strerror(errno));
        return FT_ERR_OUTPUT;
    }
    return FT_OK;
}

static ft_status write_failed(const ft_text_out *t)
{
    FT_LOGE(t->module, "cannot write %s file '%s': %s", t->what, t->path, strerror(errno));
    return FT_ERR_OUTPUT;
}

ft_status ft_text_out_check(ft_text_out *t)
{
    return ferror(t->f) ? write_failed(t) : FT_OK;
}

ft_status ft_text_out_flush(ft_text_out *t)
{
    return fflush(t->f) != 0 || ferror(t->f) ? write_failed(t) : FT_OK;
}

ft_status ft_text_out_commit(ft_text_out *t)
{
    ft_status st = ft_text_out_flush(t);
    int rc = fclose(t->f);
    t->f = NULL;
    if (!st && rc != 0)
        st = write_failed(t);
    if (!st && t->tmp[0] && rename(t->tmp, t->path) != 0) {
        FT_LOGE(t->module, "cannot move the finished %s file into place '%s': %s", t->what, t->path,
                strerror(errno));
        st = FT_ERR_OUTPUT;
    }
    if (st && t->tmp[0])
        unlink(t->tmp);
    t->tmp[0] = '\0';
    return st;
}

void ft_text_out_close(ft_text_out *t)
{
    if (!t->f)
        return;
    fclose(t->f);
    t->f = NULL;
    if (t->tmp[0])
        unlink(t->tmp);
    t->tmp[0] = '\0';
}
