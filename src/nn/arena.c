#include "nn/arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/log.h"

struct ft_nn_arena {
    ft_nn_arena_params params;
    void *block;
    size_t capacity;
    size_t top, peak;
};

static void *host_alloc(void *user, size_t bytes)
{
    (void)user;
    return aligned_alloc(FT_NN_ARENA_ALIGN, bytes);
}

static void host_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

ft_status ft_nn_arena_create(const ft_nn_arena_params *params, ft_nn_arena **out)
{
    *out = NULL;
    ft_nn_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return FT_ERR_NOMEM;
    if (params && params->alloc && params->free)
        a->params = *params;
    else
        a->params = (ft_nn_arena_params){.alloc = host_alloc, .free = host_free};
    *out = a;
    return FT_OK;
}

void ft_nn_arena_destroy(ft_nn_arena **pa)
{
    if (!pa || !*pa)
        return;
    ft_nn_arena *a = *pa;
    if (a->block)
        a->params.free(a->params.user, a->block);
    free(a);
    *pa = NULL;
}

void ft_nn_arena_plan_reset(ft_nn_arena *a)
{
    a->top = 0;
    a->peak = 0;
}

static size_t align_up(size_t n)
{
    return (n + FT_NN_ARENA_ALIGN - 1) & ~(size_t)(FT_NN_ARENA_ALIGN - 1);
}

size_t ft_nn_arena_plan(ft_nn_arena *a, size_t bytes)
{
    /* A plan larger than the address space is a caller bug (sizes come from
     * validated model dimensions), not a runtime condition. */
    assert(bytes <= SIZE_MAX / 2 && a->top <= SIZE_MAX / 2 - bytes);
    size_t off = a->top;
    a->top = off + align_up(bytes);
    if (a->top > a->peak)
        a->peak = a->top;
    return off;
}

size_t ft_nn_arena_mark(const ft_nn_arena *a)
{
    return a->top;
}

void ft_nn_arena_release(ft_nn_arena *a, size_t mark)
{
    assert(mark <= a->top && mark % FT_NN_ARENA_ALIGN == 0);
    a->top = mark;
}

ft_status ft_nn_arena_commit(ft_nn_arena *a)
{
    if (a->block && a->capacity >= a->peak)
        return FT_OK;
    if (a->block)
        a->params.free(a->params.user, a->block);
    a->block = NULL;
    a->capacity = 0;
    size_t bytes = a->peak ? a->peak : FT_NN_ARENA_ALIGN;
    a->block = a->params.alloc(a->params.user, bytes);
    if (!a->block) {
        FT_LOGE("nn", "arena: cannot allocate %zu bytes of activations", bytes);
        return FT_ERR_NOMEM;
    }
    assert((uintptr_t)a->block % FT_NN_ARENA_ALIGN == 0);
    a->capacity = bytes;
    return FT_OK;
}

void *ft_nn_arena_at(const ft_nn_arena *a, size_t offset)
{
    assert(a->block && offset <= a->peak && a->peak <= a->capacity);
    return (char *)a->block + offset;
}

size_t ft_nn_arena_peak(const ft_nn_arena *a)
{
    return a->peak;
}
size_t ft_nn_arena_capacity(const ft_nn_arena *a)
{
    return a->capacity;
}
