/* Internal to nn/: a safe reader for the pickle streams inside PyTorch
 * checkpoints. It runs the pickle machine over data only: the few globals a
 * checkpoint needs (see the allow-list in pickle.c and docs/nn.md) are
 * recognised by name and turned into plain values; every other global is
 * refused and nothing is ever executed. The result is a tree of values that
 * pth.c interprets. */
#ifndef FT_NN_PICKLE_H
#define FT_NN_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/tensor.h"

/* Hard limits on what a pickle may make us allocate. */
#define FT_NN_PICKLE_MAX_BYTES ((size_t)256 << 20)
#define FT_NN_PICKLE_MAX_MEMO ((size_t)1 << 24)
#define FT_NN_PICKLE_MAX_MARKS 4096

typedef enum ft_nn_pk_kind {
    FT_NN_PK_NONE = 0,
    FT_NN_PK_BOOL,
    FT_NN_PK_INT,
    FT_NN_PK_FLOAT,
    FT_NN_PK_STR, /* str, bytes, pathlib paths (joined with '/') */
    FT_NN_PK_TUPLE,
    FT_NN_PK_LIST,
    FT_NN_PK_DICT,      /* dict and OrderedDict: items are key, value, key, value... */
    FT_NN_PK_NAMESPACE, /* argparse.Namespace: `attrs` is its attribute dict */
    FT_NN_PK_GLOBAL,    /* an allowed class or function, before it is called */
    FT_NN_PK_STORAGE,   /* a persistent storage reference */
    FT_NN_PK_TENSOR,    /* torch._utils._rebuild_tensor_v2 result */
} ft_nn_pk_kind;

typedef struct ft_nn_pk_tensor {
    const struct ft_nn_pk_value *storage; /* a FT_NN_PK_STORAGE value */
    int64_t offset;                       /* in elements */
    int ndim;
    int64_t shape[FT_NN_MAX_DIMS];
    int64_t stride[FT_NN_MAX_DIMS];
} ft_nn_pk_tensor;

typedef struct ft_nn_pk_value {
    ft_nn_pk_kind kind;
    int64_t i;  /* BOOL, INT; GLOBAL: allow-list index; STORAGE: element count */
    double f;   /* FLOAT */
    char *s;    /* STR (NUL-terminated, len bytes); STORAGE: its key */
    size_t len; /* STR length; TUPLE/LIST/DICT: number of items */
    struct ft_nn_pk_value **items;
    size_t cap;
    struct ft_nn_pk_value *attrs; /* NAMESPACE: a DICT */
    const char *type_name;        /* GLOBAL, STORAGE: "torch.HalfStorage", ... */
    int dtype;                    /* STORAGE: an ft_nn_dtype, or -1 if unsupported */
    ft_nn_pk_tensor *tensor;      /* TENSOR */
} ft_nn_pk_value;

typedef struct ft_nn_pickle ft_nn_pickle;

/* Parse a pickle held in data[0..size) (borrowed; not referenced afterwards).
 * On failure returns FT_ERR_MODEL and writes a message (without file name)
 * into err. *out is returned-owned. */
FT_NODISCARD ft_status ft_nn_pickle_parse(const uint8_t *data, size_t size, char *err,
                                          size_t err_size, ft_nn_pickle **out);

/* The object the pickle produced (borrowed from p). */
const ft_nn_pk_value *ft_nn_pickle_root(const ft_nn_pickle *p);

/* NULL-safe; sets *p to NULL. All values of p become invalid. */
void ft_nn_pickle_destroy(ft_nn_pickle **p);

/* Value of string key `key` in a DICT, or NULL (borrowed). */
const ft_nn_pk_value *ft_nn_pk_dict_get(const ft_nn_pk_value *dict, const char *key);

#endif
