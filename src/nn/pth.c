/* PyTorch checkpoints (torch.save since 1.6): a zip archive holding
 * `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>` (one raw
 * little-endian storage per key) and a few small records. minizip reads the
 * directory; the data itself is used straight from our mapping when stored
 * uncompressed (torch.save never compresses, and aligns each storage to 64
 * bytes), and inflated into a private copy otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minizip/unzip.h>

#include "core/log.h"
#include "nn/pickle.h"
#include "nn/weights_internal.h"

#define MAX_ENTRIES 1000000
#define MAX_NAME 1024
#define MAX_ARG_DEPTH 32

typedef struct zentry {
    char *name;
    bool stored;         /* method 0: bytes in the file as they are */
    uint64_t size;       /* uncompressed */
    uint64_t csize;      /* in the file */
    uint64_t data_off;   /* stored entries: offset of the bytes in the file */
    unz64_file_pos pos;  /* to come back to it for inflating */
    const uint8_t *data; /* resolved bytes (mapping or private copy), lazily */
} zentry;

typedef struct pth {
    ft_nn_weights *w;
    unzFile zip;
    zentry *entries;
    size_t nentries;
    const char *prefix; /* "<archive>/" (borrowed from the data.pkl entry name) */
    size_t prefix_len;
    const uint8_t *map;
    size_t map_size;
} pth;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const zentry *)a)->name, ((const zentry *)b)->name);
}

static zentry *find_entry(pth *p, const char *name)
{
    zentry key = {.name = (char *)name};
    return bsearch(&key, p->entries, p->nentries, sizeof(zentry), cmp_entry);
}

static ft_status read_directory(pth *p)
{
    ft_nn_weights *w = p->w;
    unz_global_info64 gi;
    if (unzGetGlobalInfo64(p->zip, &gi) != UNZ_OK)
        return ft_nn_weights_fail(w, "corrupt zip directory");
    if (gi.number_entry > MAX_ENTRIES)
        return ft_nn_weights_fail(w, "zip archive has %llu entries (limit %d)",
                                  (unsigned long long)gi.number_entry, MAX_ENTRIES);
    p->entries = calloc(gi.number_entry ? gi.number_entry : 1, sizeof(zentry));
    if (!p->entries)
        return FT_ERR_NOMEM;
    int rc = unzGoToFirstFile(p->zip);
    while (rc == UNZ_OK && p->nentries < gi.number_entry) {
        char name[MAX_NAME];
        unz_file_info64 fi;
        if (unzGetCurrentFileInfo64(p->zip, &fi, name, sizeof(name), NULL, 0, NULL, 0) != UNZ_OK)
            return ft_nn_weights_fail(w, "corrupt zip directory entry %zu", p->nentries);
        if (fi.size_filename >= sizeof(name))
            return ft_nn_weights_fail(w, "zip entry name longer than %d bytes", MAX_NAME - 1);
        zentry *e = &p->entries[p->nentries];
        e->name = strdup(name);
        if (!e->name)
            return FT_ERR_NOMEM;
        p->nentries++;
        e->size = fi.uncompressed_size;
        e->csize = fi.compressed_size;
        e->stored = fi.compression_method == 0;
        if (fi.flag & 1)
            return ft_nn_weights_fail(w, "zip entry '%s' is encrypted (unsupported)", name);
        if (!e->stored && fi.compression_method != Z_DEFLATED)
            return ft_nn_weights_fail(w,
                                      "zip entry '%s' uses compression method %lu (only "
                                      "stored and deflate are supported)",
                                      name, (unsigned long)fi.compression_method);
        /* Deflate cannot expand data more than about 1032 times: a larger
         * claimed size is a corrupt or hostile directory. */
        if (!e->stored && e->size / 1032 > e->csize + 1)
            return ft_nn_weights_fail(w, "zip entry '%s' claims an impossible size", name);
        if (unzGetFilePos64(p->zip, &e->pos) != UNZ_OK)
            return ft_nn_weights_fail(w, "corrupt zip directory entry '%s'", name);
        if (e->stored) {
            /* Opening the entry reads its local header, which tells where the
             * bytes really start (the local extra field may differ from the
             * central one). */
            if (unzOpenCurrentFile(p->zip) != UNZ_OK)
                return ft_nn_weights_fail(w, "cannot read zip entry '%s' (truncated or corrupt)",
                                          name);
            e->data_off = unzGetCurrentFileZStreamPos64(p->zip);
            unzCloseCurrentFile(p->zip);
            if (e->size != e->csize || e->data_off > p->map_size ||
                e->size > p->map_size - e->data_off)
                return ft_nn_weights_fail(w,
                                          "zip entry '%s' extends past the end of the file "
                                          "(truncated)",
                                          name);
        }
        rc = unzGoToNextFile(p->zip);
    }
    if (rc != UNZ_OK && rc != UNZ_END_OF_LIST_OF_FILE)
        return ft_nn_weights_fail(w, "corrupt zip directory after entry %zu", p->nentries);
    qsort(p->entries, p->nentries, sizeof(zentry), cmp_entry);
    return FT_OK;
}

/* The bytes of an entry: in place when stored, else inflated once into
 * memory owned by w. */
static ft_status entry_data(pth *p, zentry *e, const uint8_t **out)
{
    if (e->data) {
        *out = e->data;
        return FT_OK;
    }
    if (e->stored) {
        e->data = p->map + e->data_off;
        *out = e->data;
        return FT_OK;
    }
    ft_nn_weights *w = p->w;
    if (e->size > SIZE_MAX / 2)
        return ft_nn_weights_fail(w, "zip entry '%s' is too large", e->name);
    uint8_t *buf = ft_nn_weights_alloc(w, (size_t)e->size);
    if (!buf)
        return FT_ERR_NOMEM;
    if (unzGoToFilePos64(p->zip, &e->pos) != UNZ_OK || unzOpenCurrentFile(p->zip) != UNZ_OK)
        return ft_nn_weights_fail(w, "cannot open zip entry '%s'", e->name);
    uint64_t done = 0;
    while (done < e->size) {
        uint64_t chunk = e->size - done;
        if (chunk > (1u << 30))
            chunk = 1u << 30;
        int n = unzReadCurrentFile(p->zip, buf + done, (unsigned)chunk);
        if (n <= 0) {
            unzCloseCurrentFile(p->zip);
            return ft_nn_weights_fail(w, "zip entry '%s' is truncated or corrupt", e->name);
        }
        done += (uint64_t)n;
    }
    /* unzCloseCurrentFile checks the CRC once everything has been read. */
    if (unzCloseCurrentFile(p->zip) != UNZ_OK)
        return ft_nn_weights_fail(w, "zip entry '%s' fails its CRC check", e->name);
    e->data = buf;
    *out = buf;
    return FT_OK;
}

static ft_status find_pickle(pth *p)
{
    for (size_t i = 0; i < p->nentries; i++) {
        const char *n = p->entries[i].name;
        const char *slash = strchr(n, '/');
        /* "<archive>/data.pkl" at the top level only: nested data.pkl files
         * belong to other records. */
        if (slash && !strcmp(slash + 1, "data.pkl")) {
            p->prefix = n;
            p->prefix_len = (size_t)(slash + 1 - n);
            return FT_OK;
        }
    }
    return ft_nn_weights_fail(p->w, "zip archive has no data.pkl (not a PyTorch checkpoint)");
}

static ft_status check_byteorder(pth *p)
{
    char name[MAX_NAME];
    snprintf(name, sizeof(name), "%.*sbyteorder", (int)p->prefix_len, p->prefix);
    zentry *e = find_entry(p, name);
    if (!e)
        return FT_OK; /* older writers: always little-endian */
    const uint8_t *d;
    ft_status st = entry_data(p, e, &d);
    if (st)
        return st;
    if (e->size != 6 || memcmp(d, "little", 6))
        return ft_nn_weights_fail(p->w, "checkpoint was saved big-endian (unsupported)");
    return FT_OK;
}

/* Convert a pickled value to an ft_nn_arg (owned by w). */
static ft_status convert_arg(ft_nn_weights *w, const ft_nn_pk_value *v, ft_nn_arg *a, int depth)
{
    if (depth > MAX_ARG_DEPTH)
        return ft_nn_weights_fail(w, "saved args nest deeper than %d levels", MAX_ARG_DEPTH);
    switch (v->kind) {
    case FT_NN_PK_NONE:
        a->type = FT_NN_ARG_NONE;
        return FT_OK;
    case FT_NN_PK_BOOL:
        a->type = FT_NN_ARG_BOOL;
        a->b = v->i != 0;
        return FT_OK;
    case FT_NN_PK_INT:
        a->type = FT_NN_ARG_INT;
        a->i = v->i;
        return FT_OK;
    case FT_NN_PK_FLOAT:
        a->type = FT_NN_ARG_FLOAT;
        a->f = v->f;
        return FT_OK;
    case FT_NN_PK_STR:
        a->type = FT_NN_ARG_STR;
        a->s = ft_nn_weights_strndup(w, v->s, v->len);
        a->len = v->len;
        return a->s ? FT_OK : FT_ERR_NOMEM;
    case FT_NN_PK_TUPLE:
    case FT_NN_PK_LIST: {
        a->type = FT_NN_ARG_LIST;
        a->len = v->len;
        ft_nn_arg *items = ft_nn_weights_alloc(w, (v->len ? v->len : 1) * sizeof(*items));
        if (!items)
            return FT_ERR_NOMEM;
        memset(items, 0, (v->len ? v->len : 1) * sizeof(*items));
        for (size_t k = 0; k < v->len; k++) {
            ft_status st = convert_arg(w, v->items[k], &items[k], depth + 1);
            if (st)
                return st;
        }
        a->items = items;
        return FT_OK;
    }
    default:
        a->type = FT_NN_ARG_OTHER;
        return FT_OK;
    }
}

static ft_status load_args(ft_nn_weights *w, const ft_nn_pk_value *args)
{
    const ft_nn_pk_value *d = args->kind == FT_NN_PK_NAMESPACE ? args->attrs : args;
    if (d->kind != FT_NN_PK_DICT) {
        FT_LOGW("nn", "%s: 'args' is neither a Namespace nor a dict; ignored",
                ft_nn_weights_path(w));
        return FT_OK;
    }
    size_t n = d->len / 2;
    ft_nn_arg *out = ft_nn_weights_alloc(w, (n ? n : 1) * sizeof(*out));
    if (!out)
        return FT_ERR_NOMEM;
    memset(out, 0, (n ? n : 1) * sizeof(*out));
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        const ft_nn_pk_value *key = d->items[2 * k];
        if (key->kind != FT_NN_PK_STR)
            continue;
        out[used].key = ft_nn_weights_strndup(w, key->s, key->len);
        if (!out[used].key)
            return FT_ERR_NOMEM;
        ft_status st = convert_arg(w, d->items[2 * k + 1], &out[used], 0);
        if (st)
            return st;
        used++;
    }
    ft_nn_weights_set_args(w, out, used);
    return FT_OK;
}

static ft_status add_tensor(pth *p, const char *name, size_t name_len, const ft_nn_pk_tensor *pt)
{
    ft_nn_weights *w = p->w;
    const ft_nn_pk_value *sv = pt->storage;
    if (sv->dtype < 0)
        return ft_nn_weights_fail(w, "tensor '%s' has unsupported dtype (%s)", name, sv->type_name);
    ft_nn_dtype dt = (ft_nn_dtype)sv->dtype;
    size_t esz = ft_nn_dtype_size(dt);
    char ename[MAX_NAME];
    int n = snprintf(ename, sizeof(ename), "%.*sdata/%s", (int)p->prefix_len, p->prefix, sv->s);
    if (n < 0 || (size_t)n >= sizeof(ename))
        return ft_nn_weights_fail(w, "storage key of tensor '%s' is too long", name);
    zentry *e = find_entry(p, ename);
    if (!e)
        return ft_nn_weights_fail(w, "storage '%s' of tensor '%s' is missing from the archive",
                                  sv->s, name);
    uint64_t numel = (uint64_t)sv->i;
    if (numel > e->size / esz)
        return ft_nn_weights_fail(w,
                                  "storage '%s' holds %llu bytes but claims %llu %s elements "
                                  "(tensor '%s')",
                                  sv->s, (unsigned long long)e->size, (unsigned long long)numel,
                                  ft_nn_dtype_name(dt), name);
    /* The last element the view touches must lie inside the storage. */
    uint64_t last = (uint64_t)pt->offset;
    bool empty = false;
    for (int d = 0; d < pt->ndim; d++) {
        if (pt->shape[d] == 0)
            empty = true;
        else if (pt->stride[d] &&
                 (uint64_t)(pt->shape[d] - 1) > (UINT64_MAX - last) / (uint64_t)pt->stride[d])
            return ft_nn_weights_fail(w, "tensor '%s' has an overflowing shape", name);
        else
            last += (uint64_t)(pt->shape[d] - 1) * (uint64_t)pt->stride[d];
    }
    if (!empty && last >= numel)
        return ft_nn_weights_fail(w,
                                  "tensor '%s' reaches element %llu of storage '%s', which has "
                                  "%llu (storage out of bounds)",
                                  name, (unsigned long long)last, sv->s, (unsigned long long)numel);
    const uint8_t *base;
    ft_status st = entry_data(p, e, &base);
    if (st)
        return st;
    if ((uintptr_t)base % esz) {
        /* Misaligned in the file (not what torch.save writes): copy so that
         * element loads are naturally aligned. */
        uint8_t *copy = ft_nn_weights_alloc(w, (size_t)e->size);
        if (!copy)
            return FT_ERR_NOMEM;
        memcpy(copy, base, (size_t)e->size);
        e->data = copy;
        base = copy;
    }
    ft_nn_tensor t;
    ft_nn_tensor_init(&t, dt, 0, NULL, NULL, NULL);
    t.ndim = pt->ndim;
    for (int d = 0; d < pt->ndim; d++) {
        t.shape[d] = pt->shape[d];
        t.strides[d] = pt->stride[d];
    }
    t.data = (void *)(base + (size_t)pt->offset * esz);
    t.name = ft_nn_weights_strndup(w, name, name_len);
    if (!t.name)
        return FT_ERR_NOMEM;
    return ft_nn_weights_add(w, &t);
}

/* The state dict inside the checkpoint: the "model" (or "ema_model") entry
 * of a training checkpoint, "state_dict" of some other trainers, or the
 * top-level dict itself when the file is a bare state dict. */
static ft_status select_state_dict(pth *p, const ft_nn_pk_value *root, bool use_ema,
                                   const ft_nn_pk_value **out)
{
    ft_nn_weights *w = p->w;
    if (root->kind != FT_NN_PK_DICT)
        return ft_nn_weights_fail(w, "checkpoint does not hold a dict");
    const char *key = use_ema ? "ema_model" : "model";
    const ft_nn_pk_value *sd = ft_nn_pk_dict_get(root, key);
    if (!sd && !use_ema)
        sd = ft_nn_pk_dict_get(root, "state_dict");
    if (!sd && use_ema)
        return ft_nn_weights_fail(w, "checkpoint has no 'ema_model'");
    if (!sd)
        sd = root;
    if (sd->kind != FT_NN_PK_DICT)
        return ft_nn_weights_fail(w, "checkpoint entry '%s' is not a state dict", key);
    *out = sd;
    return FT_OK;
}

/* A complete zip ends with the end-of-central-directory record (22 bytes plus
 * a comment of the length it states). minizip tolerates a few missing bytes
 * there; we do not, because a short file means a cut download or copy. */
static bool has_complete_end_record(const uint8_t *m, size_t n)
{
    if (n < 22)
        return false;
    size_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
    for (size_t pos = n - 22 + 1; pos-- > lowest;) {
        /* The signature may also occur inside a comment: keep looking. */
        if (m[pos] == 'P' && m[pos + 1] == 'K' && m[pos + 2] == 5 && m[pos + 3] == 6) {
            size_t comment = (size_t)m[pos + 20] | (size_t)m[pos + 21] << 8;
            if (pos + 22 + comment == n)
                return true;
        }
    }
    return false;
}

ft_status ft_nn_pth_load(ft_nn_weights *w, const ft_nn_weights_params *params)
{
    pth p = {.w = w};
    ft_nn_pickle *pk = NULL;
    ft_status st = FT_OK;
    p.map = ft_nn_weights_map(w, &p.map_size);
    if (!has_complete_end_record(p.map, p.map_size)) {
        st = ft_nn_weights_fail(w, "truncated zip archive (no complete end-of-directory "
                                   "record)");
        goto out;
    }
    p.zip = unzOpen64(ft_nn_weights_path(w));
    if (!p.zip) {
        st = ft_nn_weights_fail(w, "truncated or corrupt zip archive (no readable central "
                                   "directory)");
        goto out;
    }
    if ((st = read_directory(&p)) || (st = find_pickle(&p)) || (st = check_byteorder(&p)))
        goto out;
    zentry *pe = find_entry(&p, p.prefix);
    if (pe->size > FT_NN_PICKLE_MAX_BYTES) {
        st = ft_nn_weights_fail(w, "data.pkl is %llu bytes (limit %zu)",
                                (unsigned long long)pe->size, FT_NN_PICKLE_MAX_BYTES);
        goto out;
    }
    const uint8_t *pkl;
    if ((st = entry_data(&p, pe, &pkl)))
        goto out;
    char perr[512];
    if (ft_nn_pickle_parse(pkl, (size_t)pe->size, perr, sizeof(perr), &pk)) {
        st = ft_nn_weights_fail(w, "data.pkl: %s", perr);
        goto out;
    }
    const ft_nn_pk_value *root = ft_nn_pickle_root(pk);
    const ft_nn_pk_value *sd = NULL;
    if ((st = select_state_dict(&p, root, params->use_ema, &sd)))
        goto out;
    for (size_t k = 0; k + 1 < sd->len; k += 2) {
        const ft_nn_pk_value *key = sd->items[k], *val = sd->items[k + 1];
        if (key->kind != FT_NN_PK_STR || val->kind != FT_NN_PK_TENSOR)
            continue; /* e.g. a stray counter: not a weight */
        if ((st = add_tensor(&p, key->s, key->len, val->tensor)))
            goto out;
    }
    if (ft_nn_weights_count(w) == 0) {
        st = ft_nn_weights_fail(w, "checkpoint holds no tensors");
        goto out;
    }
    const ft_nn_pk_value *args = sd != root ? ft_nn_pk_dict_get(root, "args") : NULL;
    if (args && (st = load_args(w, args)))
        goto out;
out:
    if (st == FT_ERR_NOMEM)
        st = ft_nn_weights_fail(w, "out of memory while loading");
    ft_nn_pickle_destroy(&pk);
    for (size_t i = 0; i < p.nentries; i++)
        free(p.entries[i].name);
    free(p.entries);
    if (p.zip)
        unzClose(p.zip);
    return st;
}
