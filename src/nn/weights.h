/* Model weights files: PyTorch checkpoints (.pth, a zip holding a pickle and
 * raw storages) and safetensors. The file is memory-mapped; tensors point into
 * the mapping without copies where the data is stored uncompressed and
 * aligned, and into private copies otherwise. The pickle is read by a small
 * safe reader that builds data only: it executes nothing and accepts only an
 * allow-list of globals (see docs/nn.md).
 *
 * An opened ft_nn_weights is never modified again, so any number of threads
 * may query it at once.
 *
 * Every error while opening is FT_ERR_MODEL (exit 2) and is logged with the
 * file name and what was wrong; the message is also copied into the caller's
 * buffer when one is given in the params. */
#ifndef FT_NN_WEIGHTS_H
#define FT_NN_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/tensor.h"

typedef struct ft_nn_weights ft_nn_weights;

typedef enum ft_nn_weights_format {
    FT_NN_WEIGHTS_PTH = 0,         /* torch.save zip archive */
    FT_NN_WEIGHTS_SAFETENSORS = 1, /* safetensors */
} ft_nn_weights_format;

typedef struct ft_nn_weights_params {
    const char *path; /* borrowed, required */
    /* For checkpoints that hold several state dicts: load "ema_model" instead
     * of "model". Missing ema_model is an error when set. */
    bool use_ema;
    /* Optional (borrowed): receives the error message when opening fails. */
    char *err;
    size_t err_size;
} ft_nn_weights_params;

/* Open a weights file with default params (the "model" state dict). The format
 * is detected from the content, not the name. *out is returned-owned. */
FT_NODISCARD ft_status ft_nn_weights_open(const char *path, ft_nn_weights **out);

/* Open with explicit params. *out is returned-owned. */
FT_NODISCARD ft_status ft_nn_weights_open_params(const ft_nn_weights_params *params,
                                                 ft_nn_weights **out);

/* Release everything (mapping, copies, names). NULL-safe; sets *w to NULL.
 * Every tensor pointer obtained from w becomes invalid. */
void ft_nn_weights_destroy(ft_nn_weights **w);

ft_nn_weights_format ft_nn_weights_format_of(const ft_nn_weights *w);
/* "pth" or "safetensors". */
const char *ft_nn_weights_format_name(ft_nn_weights_format f);
/* The path given at open (borrowed). */
const char *ft_nn_weights_path(const ft_nn_weights *w);

/* Number of tensors; they are numbered 0..count-1 in file order. */
size_t ft_nn_weights_count(const ft_nn_weights *w);
/* Tensor i (borrowed, valid until destroy), or NULL when i >= count. */
const ft_nn_tensor *ft_nn_weights_at(const ft_nn_weights *w, size_t i);
/* Tensor by its state-dict name (borrowed), or NULL when absent. O(1). */
const ft_nn_tensor *ft_nn_weights_find(const ft_nn_weights *w, const char *name);
/* Sum of the element counts of all tensors. */
int64_t ft_nn_weights_param_count(const ft_nn_weights *w);

/* Check that tensor `name` exists and has ndim dimensions equal to the
 * values given after ndim (any integer type; -1 accepts any size in that
 * position). On mismatch returns FT_ERR_MODEL and logs "<file>: tensor X has
 * shape [a,b], expected [c,d] from the checkpoint args"; a missing tensor is
 * FT_ERR_MODEL too. A macro, so that every dimension is converted to int64_t
 * whatever type the caller passes: ft_nn_weights_expect(w, "x", 2, rows, 256). */
#define ft_nn_weights_expect(w, name, ndim, ...)                                                   \
    ft_nn_weights_expect_dims((w), (name), (ndim), (const int64_t[]){__VA_ARGS__},                 \
                              sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* The function behind ft_nn_weights_expect: dims[0..ndim) (borrowed); ndims
 * is the number of values given, which must equal ndim (asserted). */
FT_NODISCARD ft_status ft_nn_weights_expect_dims(const ft_nn_weights *w, const char *name, int ndim,
                                                 const int64_t *dims, size_t ndims);

/* ---- saved training arguments (the checkpoint's `args`) ----
 * .pth checkpoints from the official trainers save an argparse.Namespace;
 * its attributes are kept as a flat list of values. safetensors files have
 * none (their string metadata, if any, is exposed as FT_NN_ARG_STR). */

typedef enum ft_nn_arg_type {
    FT_NN_ARG_NONE = 0, /* Python None */
    FT_NN_ARG_BOOL,
    FT_NN_ARG_INT,
    FT_NN_ARG_FLOAT,
    FT_NN_ARG_STR,   /* str, bytes and pathlib paths */
    FT_NN_ARG_LIST,  /* list or tuple */
    FT_NN_ARG_OTHER, /* anything else (dicts, ...): present, no typed value */
} ft_nn_arg_type;

typedef struct ft_nn_arg {
    const char *key; /* attribute name; NULL for list items */
    ft_nn_arg_type type;
    bool b;
    int64_t i;
    double f;
    const char *s;                 /* NUL-terminated */
    size_t len;                    /* LIST: number of items */
    const struct ft_nn_arg *items; /* LIST: the items */
} ft_nn_arg;

/* Whether the file carried saved args. */
bool ft_nn_weights_has_args(const ft_nn_weights *w);
/* Number of saved args and arg i (borrowed), in the order they were saved. */
size_t ft_nn_weights_arg_count(const ft_nn_weights *w);
const ft_nn_arg *ft_nn_weights_arg_at(const ft_nn_weights *w, size_t i);
/* Saved arg by name (borrowed), or NULL. */
const ft_nn_arg *ft_nn_weights_arg(const ft_nn_weights *w, const char *key);

/* Typed lookups: return true and set *out when `key` is present with a value
 * of that type; false (out untouched) when absent, None or another type.
 * arg_double accepts ints; arg_str returns a borrowed string. */
bool ft_nn_weights_arg_int(const ft_nn_weights *w, const char *key, int64_t *out);
bool ft_nn_weights_arg_double(const ft_nn_weights *w, const char *key, double *out);
bool ft_nn_weights_arg_bool(const ft_nn_weights *w, const char *key, bool *out);
bool ft_nn_weights_arg_str(const ft_nn_weights *w, const char *key, const char **out);
/* A list of ints: copies up to `cap` items into out and sets *n to the list
 * length (which may exceed cap). False if absent or any item is not an int. */
bool ft_nn_weights_arg_int_list(const ft_nn_weights *w, const char *key, int64_t *out, size_t cap,
                                size_t *n);

#endif
