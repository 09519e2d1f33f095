/* Activation memory planner. A model describes every buffer of its forward
 * pass once per input size as a byte offset in one arena (plan), then the
 * arena allocates the peak in a single block (commit). Forward passes then
 * use fixed pointers and allocate nothing; a new input size re-plans and
 * only grows the block when it needs more.
 *
 * Buffers whose lifetimes end can be given back in stack order
 * (mark/release), so scratch space of one stage is reused by the next; the
 * block's size is the peak of the plan, not the sum of all buffers. Every
 * offset is 64-byte aligned (a cache line, and an AVX-512 vector). */
#ifndef FT_NN_ARENA_H
#define FT_NN_ARENA_H

#include <stddef.h>

#include "core/status.h"

#define FT_NN_ARENA_ALIGN 64

typedef struct ft_nn_arena ft_nn_arena;

typedef struct ft_nn_arena_params {
    /* Allocator for the block, e.g. a backend's device memory. NULL: 64-byte
     * aligned host memory. alloc returns NULL on failure; the memory must be
     * aligned to FT_NN_ARENA_ALIGN. */
    void *(*alloc)(void *user, size_t bytes);
    void (*free)(void *user, void *ptr);
    void *user; /* borrowed, passed to alloc/free */
} ft_nn_arena_params;

/* params may be NULL (host memory); it is copied. *out is returned-owned. */
FT_NODISCARD ft_status ft_nn_arena_create(const ft_nn_arena_params *params, ft_nn_arena **out);

/* Free the block. NULL-safe; sets *a to NULL. */
void ft_nn_arena_destroy(ft_nn_arena **a);

/* Forget the plan (before planning for a new input size). The block is kept
 * and reused if the new plan fits in it. */
void ft_nn_arena_plan_reset(ft_nn_arena *a);

/* Reserve `bytes` on top of the plan and return its offset (a multiple of
 * FT_NN_ARENA_ALIGN). Reserving 0 bytes returns a valid offset too. */
size_t ft_nn_arena_plan(ft_nn_arena *a, size_t bytes);

/* The current top of the plan, to be given to ft_nn_arena_release. */
size_t ft_nn_arena_mark(const ft_nn_arena *a);

/* Let later reservations reuse everything reserved after `mark` (their
 * buffers must no longer be needed at that point of the forward pass). */
void ft_nn_arena_release(ft_nn_arena *a, size_t mark);

/* Allocate a block for the plan's peak unless the current block is already
 * large enough. FT_ERR_NOMEM (logged with the size) on failure. */
FT_NODISCARD ft_status ft_nn_arena_commit(ft_nn_arena *a);

/* Pointer to a planned offset in the committed block. Asserts that the
 * arena is committed and the offset lies inside the plan. */
void *ft_nn_arena_at(const ft_nn_arena *a, size_t offset);

/* The plan's peak in bytes, and the size of the block now held. */
size_t ft_nn_arena_peak(const ft_nn_arena *a);
size_t ft_nn_arena_capacity(const ft_nn_arena *a);

#endif
