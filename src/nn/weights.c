/* Weights container: the file mapping, the tensor table with its name index,
 * the saved args, and format detection. The format readers live in pth.c and
 * safetensors.c. */
#include "nn/weights.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/array.h"
#include "core/log.h"
#include "nn/weights_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error                                                                                             \
    "weights files are little-endian and are mapped as they are; big-endian hosts are not supported"
#endif

struct ft_nn_weights {
    char *path;
    ft_nn_weights_format format;
    uint8_t *map;
    size_t map_size;
    ft_nn_tensor *tensors;
    size_t count, cap;
    uint32_t *index; /* open addressing: tensor number + 1, 0 = empty */
    size_t index_cap;
    void **allocs; /* everything from ft_nn_weights_alloc */
    size_t nallocs, allocs_cap;
    ft_nn_arg *args;
    size_t nargs;
    bool has_args;
    int64_t params;
    char *err;
    size_t err_size;
};

const uint8_t *ft_nn_weights_map(const ft_nn_weights *w, size_t *size)
{
    *size = w->map_size;
    return w->map;
}

void *ft_nn_weights_alloc(ft_nn_weights *w, size_t size)
{
    if (ft_array_reserve(&w->allocs, &w->allocs_cap, w->nallocs + 1, sizeof(*w->allocs), 64))
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, size ? size : 1))
        return NULL;
    w->allocs[w->nallocs++] = p;
    return p;
}

char *ft_nn_weights_strndup(ft_nn_weights *w, const char *s, size_t len)
{
    char *d = ft_nn_weights_alloc(w, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

ft_status ft_nn_weights_add(ft_nn_weights *w, const ft_nn_tensor *t)
{
    ft_status st = ft_array_reserve(&w->tensors, &w->cap, w->count + 1, sizeof(*w->tensors), 256);
    if (st)
        return st;
    w->tensors[w->count++] = *t;
    w->params += ft_nn_tensor_numel(t);
    return FT_OK;
}

void ft_nn_weights_set_args(ft_nn_weights *w, ft_nn_arg *args, size_t n)
{
    w->args = args;
    w->nargs = n;
    w->has_args = true;
}

ft_status ft_nn_weights_fail(ft_nn_weights *w, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    FT_LOGE("nn", "%s: %s", w->path, msg);
    if (w->err && w->err_size)
        snprintf(w->err, w->err_size, "%s: %s", w->path, msg);
    return FT_ERR_MODEL;
}

/* FNV-1a; names are short and few, nothing fancier is needed. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Build the name index once all tensors are in; duplicate names are an error
 * because find() could only ever return one of them. */
static ft_status build_index(ft_nn_weights *w)
{
    size_t cap = 16;
    while (cap < w->count * 2)
        cap *= 2;
    w->index = calloc(cap, sizeof(*w->index));
    if (!w->index)
        return FT_ERR_NOMEM;
    w->index_cap = cap;
    for (size_t i = 0; i < w->count; i++) {
        size_t slot = (size_t)hash_name(w->tensors[i].name) & (cap - 1);
        while (w->index[slot]) {
            if (!strcmp(w->tensors[w->index[slot] - 1].name, w->tensors[i].name))
                return ft_nn_weights_fail(w, "tensor '%s' appears twice", w->tensors[i].name);
            slot = (slot + 1) & (cap - 1);
        }
        w->index[slot] = (uint32_t)(i + 1);
    }
    return FT_OK;
}

static ft_status map_file(ft_nn_weights *w)
{
    ft_status st = FT_OK;
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ft_nn_weights_fail(w, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb)) {
        st = ft_nn_weights_fail(w, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = ft_nn_weights_fail(w, "not a regular file");
        goto out;
    }
    if (sb.st_size == 0) {
        st = ft_nn_weights_fail(w, "empty file (not a model)");
        goto out;
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        st = ft_nn_weights_fail(w, "cannot map: %s", strerror(errno));
        goto out;
    }
    w->map = m;
    w->map_size = (size_t)sb.st_size;
out:
    close(fd);
    return st;
}

/* Decide the format from the first bytes, whatever the file is called. */
static ft_status detect_and_load(ft_nn_weights *w, const ft_nn_weights_params *params)
{
    const uint8_t *m = w->map;
    size_t n = w->map_size;
    if (n >= 4 && m[0] == 'P' && m[1] == 'K' &&
        ((m[2] == 3 && m[3] == 4) || (m[2] == 5 && m[3] == 6))) {
        w->format = FT_NN_WEIGHTS_PTH;
        return ft_nn_pth_load(w, params);
    }
    if (n >= 9) {
        uint64_t hlen = 0;
        for (int k = 0; k < 8; k++)
            hlen |= (uint64_t)m[k] << (8 * k);
        if (hlen >= 2 && hlen <= n - 8 && m[8] == '{') {
            w->format = FT_NN_WEIGHTS_SAFETENSORS;
            if (params->use_ema)
                return ft_nn_weights_fail(w, "safetensors files have no ema_model");
            return ft_nn_safetensors_load(w);
        }
    }
    if (n >= 2 && m[0] == 0x80 && m[1] <= 5)
        return ft_nn_weights_fail(w, "legacy (pre-1.6, non-zip) PyTorch serialization is not "
                                     "supported; re-save it with a current torch.save");
    return ft_nn_weights_fail(w, "not a PyTorch zip checkpoint (.pth) or a safetensors file");
}

ft_status ft_nn_weights_open_params(const ft_nn_weights_params *params, ft_nn_weights **out)
{
    *out = NULL;
    if (!params || !params->path)
        return FT_ERR_INVALID;
    ft_status st = FT_ERR_NOMEM;
    ft_nn_weights *w = calloc(1, sizeof(*w));
    if (!w)
        goto out;
    w->err = params->err;
    w->err_size = params->err_size;
    if (w->err && w->err_size)
        w->err[0] = '\0';
    w->path = strdup(params->path);
    if (!w->path)
        goto out;
    if ((st = map_file(w)))
        goto out;
    if ((st = detect_and_load(w, params)))
        goto out;
    if ((st = build_index(w)))
        goto out;
    /* The caller's buffer is only for this call. */
    w->err = NULL;
    w->err_size = 0;
    FT_LOGD("nn", "%s: %s, %zu tensors, %lld parameters", w->path,
            ft_nn_weights_format_name(w->format), w->count, (long long)w->params);
out:
    if (st == FT_ERR_NOMEM && w && w->path)
        st = ft_nn_weights_fail(w, "out of memory while loading");
    if (st) {
        ft_nn_weights_destroy(&w);
        return st == FT_ERR_NOMEM ? FT_ERR_MODEL : st;
    }
    *out = w;
    return FT_OK;
}

ft_status ft_nn_weights_open(const char *path, ft_nn_weights **out)
{
    ft_nn_weights_params p = {.path = path};
    return ft_nn_weights_open_params(&p, out);
}

void ft_nn_weights_destroy(ft_nn_weights **pw)
{
    if (!pw || !*pw)
        return;
    ft_nn_weights *w = *pw;
    if (w->map)
        munmap(w->map, w->map_size);
    for (size_t i = 0; i < w->nallocs; i++)
        free(w->allocs[i]);
    free(w->allocs);
    free(w->tensors);
    free(w->index);
    free(w->path);
    free(w);
    *pw = NULL;
}

ft_nn_weights_format ft_nn_weights_format_of(const ft_nn_weights *w)
{
    return w->format;
}

const char *ft_nn_weights_format_name(ft_nn_weights_format f)
{
    return f == FT_NN_WEIGHTS_SAFETENSORS ? "safetensors" : "pth";
}

const char *ft_nn_weights_path(const ft_nn_weights *w)
{
    return w->path;
}
size_t ft_nn_weights_count(const ft_nn_weights *w)
{
    return w->count;
}
int64_t ft_nn_weights_param_count(const ft_nn_weights *w)
{
    return w->params;
}

const ft_nn_tensor *ft_nn_weights_at(const ft_nn_weights *w, size_t i)
{
    return i < w->count ? &w->tensors[i] : NULL;
}

const ft_nn_tensor *ft_nn_weights_find(const ft_nn_weights *w, const char *name)
{
    if (!w->index_cap || !name)
        return NULL;
    size_t slot = (size_t)hash_name(name) & (w->index_cap - 1);
    while (w->index[slot]) {
        const ft_nn_tensor *t = &w->tensors[w->index[slot] - 1];
        if (!strcmp(t->name, name))
            return t;
        slot = (slot + 1) & (w->index_cap - 1);
    }
    return NULL;
}

ft_status ft_nn_weights_expect_dims(const ft_nn_weights *w, const char *name, int ndim,
                                    const int64_t *dims, size_t ndims)
{
    /* A count that disagrees with ndim is a bug in the calling model code. */
    assert(ndim >= 0 && ndim <= FT_NN_MAX_DIMS && (size_t)ndim == ndims);
    ft_nn_tensor want;
    ft_nn_tensor_init(&want, FT_NN_F32, 0, NULL, NULL, NULL);
    want.ndim = ndim;
    for (int d = 0; d < ndim; d++)
        want.shape[d] = dims[d];
    char wbuf[128], hbuf[128];
    ft_nn_tensor_shape_str(&want, wbuf, sizeof(wbuf));
    const ft_nn_tensor *t = ft_nn_weights_find(w, name);
    if (!t) {
        FT_LOGE("nn", "%s: tensor %s is missing, expected shape %s from the checkpoint args",
                w->path, name, wbuf);
        return FT_ERR_MODEL;
    }
    if (!ft_nn_tensor_has_shape(t, ndim, dims)) {
        FT_LOGE("nn", "%s: tensor %s has shape %s, expected %s from the checkpoint args", w->path,
                name, ft_nn_tensor_shape_str(t, hbuf, sizeof(hbuf)), wbuf);
        return FT_ERR_MODEL;
    }
    return FT_OK;
}

/* ---- saved args ---- */

bool ft_nn_weights_has_args(const ft_nn_weights *w)
{
    return w->has_args;
}
size_t ft_nn_weights_arg_count(const ft_nn_weights *w)
{
    return w->nargs;
}

const ft_nn_arg *ft_nn_weights_arg_at(const ft_nn_weights *w, size_t i)
{
    return i < w->nargs ? &w->args[i] : NULL;
}

const ft_nn_arg *ft_nn_weights_arg(const ft_nn_weights *w, const char *key)
{
    /* A Namespace has tens of attributes and lookups happen once at model
     * build time: a linear scan is enough. */
    for (size_t i = 0; i < w->nargs; i++)
        if (!strcmp(w->args[i].key, key))
            return &w->args[i];
    return NULL;
}

bool ft_nn_weights_arg_int(const ft_nn_weights *w, const char *key, int64_t *out)
{
    const ft_nn_arg *a = ft_nn_weights_arg(w, key);
    if (!a || a->type != FT_NN_ARG_INT)
        return false;
    *out = a->i;
    return true;
}

bool ft_nn_weights_arg_double(const ft_nn_weights *w, const char *key, double *out)
{
    const ft_nn_arg *a = ft_nn_weights_arg(w, key);
    if (!a || (a->type != FT_NN_ARG_FLOAT && a->type != FT_NN_ARG_INT))
        return false;
    *out = a->type == FT_NN_ARG_INT ? (double)a->i : a->f;
    return true;
}

bool ft_nn_weights_arg_bool(const ft_nn_weights *w, const char *key, bool *out)
{
    const ft_nn_arg *a = ft_nn_weights_arg(w, key);
    if (!a || a->type != FT_NN_ARG_BOOL)
        return false;
    *out = a->b;
    return true;
}

bool ft_nn_weights_arg_str(const ft_nn_weights *w, const char *key, const char **out)
{
    const ft_nn_arg *a = ft_nn_weights_arg(w, key);
    if (!a || a->type != FT_NN_ARG_STR)
        return false;
    *out = a->s;
    return true;
}

bool ft_nn_weights_arg_int_list(const ft_nn_weights *w, const char *key, int64_t *out, size_t cap,
                                size_t *n)
{
    const ft_nn_arg *a = ft_nn_weights_arg(w, key);
    if (!a || a->type != FT_NN_ARG_LIST)
        return false;
    for (size_t k = 0; k < a->len; k++)
        if (a->items[k].type != FT_NN_ARG_INT)
            return false;
    for (size_t k = 0; k < a->len && k < cap; k++)
        out[k] = a->items[k].i;
    *n = a->len;
    return true;
}
