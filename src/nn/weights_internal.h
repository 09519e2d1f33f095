/* Internal to nn/: what the format readers (pth.c, safetensors.c) share with
 * weights.c. */
#ifndef FT_NN_WEIGHTS_INTERNAL_H
#define FT_NN_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/weights.h"

/* The mapped file (borrowed from w, valid until destroy). */
const uint8_t *ft_nn_weights_map(const ft_nn_weights *w, size_t *size);

/* Memory owned by w, freed at destroy; 64-byte aligned. NULL when out of memory. */
void *ft_nn_weights_alloc(ft_nn_weights *w, size_t size);

/* A NUL-terminated copy of s[0..len) owned by w, or NULL when out of memory. */
char *ft_nn_weights_strndup(ft_nn_weights *w, const char *s, size_t len);

/* Append a tensor descriptor (copied). Its name and data must stay valid
 * until destroy (owned by w or pointing into the mapping). */
FT_NODISCARD ft_status ft_nn_weights_add(ft_nn_weights *w, const ft_nn_tensor *t);

/* Record the saved args: an array of n args allocated with
 * ft_nn_weights_alloc (taken). */
void ft_nn_weights_set_args(ft_nn_weights *w, ft_nn_arg *args, size_t n);

/* Log "<path>: <message>", copy it to the caller's error buffer and return
 * FT_ERR_MODEL. */
FT_NODISCARD ft_status ft_nn_weights_fail(ft_nn_weights *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Format readers: fill w from its mapping. They report errors with
 * ft_nn_weights_fail. */
FT_NODISCARD ft_status ft_nn_pth_load(ft_nn_weights *w, const ft_nn_weights_params *params);
FT_NODISCARD ft_status ft_nn_safetensors_load(ft_nn_weights *w);

#endif
