/* Safe pickle reader. Only what torch.save emits for state dicts and saved
 * args is implemented (protocols 2 to 5, binary opcodes); each global is
 * looked up in a fixed allow-list and becomes a tagged value, so nothing in
 * the file can make us call code. The reader owns every value it makes and
 * frees them all at once. */
#include "nn/pickle.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"

typedef enum pk_global {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR,
    G_REBUILD_PARAMETER,
    G_STORAGE,
    G_NAMESPACE,
    G_PATH,
    G_CODECS_ENCODE,
} pk_global;

/* The allow-list. Storage types we cannot load (double, ...) are still known
 * here so that the error says "unsupported dtype" rather than "disallowed". */
static const struct {
    const char *module, *name;
    pk_global kind;
    int dtype; /* storages: ft_nn_dtype or -1 */
} k_allowed[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, -1},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, -1},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, -1},
    {"torch", "FloatStorage", G_STORAGE, FT_NN_F32},
    {"torch", "HalfStorage", G_STORAGE, FT_NN_F16},
    {"torch", "BFloat16Storage", G_STORAGE, FT_NN_BF16},
    {"torch", "LongStorage", G_STORAGE, FT_NN_I64},
    {"torch", "IntStorage", G_STORAGE, FT_NN_I32},
    {"torch", "ByteStorage", G_STORAGE, FT_NN_U8},
    {"torch", "BoolStorage", G_STORAGE, FT_NN_U8},
    {"torch", "DoubleStorage", G_STORAGE, -1},
    {"torch", "ShortStorage", G_STORAGE, -1},
    {"torch", "CharStorage", G_STORAGE, -1},
    {"torch", "ComplexFloatStorage", G_STORAGE, -1},
    {"torch", "ComplexDoubleStorage", G_STORAGE, -1},
    {"argparse", "Namespace", G_NAMESPACE, -1},
    {"pathlib", "PosixPath", G_PATH, -1},
    {"pathlib", "WindowsPath", G_PATH, -1},
    {"pathlib", "PurePosixPath", G_PATH, -1},
    {"pathlib", "PureWindowsPath", G_PATH, -1},
    {"pathlib", "Path", G_PATH, -1},
    {"_codecs", "encode", G_CODECS_ENCODE, -1},
};
#define N_ALLOWED (sizeof(k_allowed) / sizeof(k_allowed[0]))
#define ALLOWED_NAME_MAX 64

#define VALUES_PER_BLOCK 1024

typedef struct value_block {
    struct value_block *next;
    size_t used;
    ft_nn_pk_value v[VALUES_PER_BLOCK];
} value_block;

struct ft_nn_pickle {
    value_block *blocks;
    const ft_nn_pk_value *root;
    char global_names[N_ALLOWED][ALLOWED_NAME_MAX];
};

typedef struct reader {
    ft_nn_pickle *p;
    const uint8_t *data;
    size_t size, pos;
    ft_nn_pk_value **stack;
    size_t sp, stack_cap;
    size_t marks[FT_NN_PICKLE_MAX_MARKS];
    size_t nmarks;
    ft_nn_pk_value **memo;
    size_t memo_cap, memo_count; /* memo_count: entries set, MEMOIZE's next index */
    char *err;
    size_t err_size;
} reader;

FT_NODISCARD __attribute__((format(printf, 2, 3))) static ft_status fail(reader *r, const char *fmt,
                                                                         ...)
{
    if (r->err && r->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->err_size, fmt, ap);
        va_end(ap);
    }
    return FT_ERR_MODEL;
}

static ft_nn_pk_value *new_value(reader *r, ft_nn_pk_kind kind)
{
    value_block *b = r->p->blocks;
    if (!b || b->used == VALUES_PER_BLOCK) {
        b = calloc(1, sizeof(*b));
        if (!b)
            return NULL;
        b->next = r->p->blocks;
        r->p->blocks = b;
    }
    ft_nn_pk_value *v = &b->v[b->used++];
    v->kind = kind;
    return v;
}

static ft_status push(reader *r, ft_nn_pk_value *v)
{
    if (!v)
        return FT_ERR_NOMEM;
    ft_status st = ft_array_reserve(&r->stack, &r->stack_cap, r->sp + 1, sizeof(*r->stack), 256);
    if (st)
        return st;
    r->stack[r->sp++] = v;
    return FT_OK;
}

/* Pop one value, refusing to cross the innermost mark. */
static ft_status pop(reader *r, ft_nn_pk_value **out)
{
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->sp <= floor)
        return fail(r, "pickle stack underflow at offset %zu", r->pos);
    *out = r->stack[--r->sp];
    return FT_OK;
}

static ft_status top(reader *r, ft_nn_pk_value **out)
{
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->sp <= floor)
        return fail(r, "pickle stack underflow at offset %zu", r->pos);
    *out = r->stack[r->sp - 1];
    return FT_OK;
}

static ft_status append_item(ft_nn_pk_value *c, ft_nn_pk_value *item)
{
    ft_status st = ft_array_reserve(&c->items, &c->cap, c->len + 1, sizeof(*c->items), 8);
    if (st)
        return st;
    c->items[c->len++] = item;
    return FT_OK;
}

/* Pop everything above the innermost mark into a new container of `kind`. */
static ft_status collect_mark(reader *r, ft_nn_pk_kind kind, ft_nn_pk_value **out)
{
    if (!r->nmarks)
        return fail(r, "pickle: no mark at offset %zu", r->pos);
    size_t m = r->marks[--r->nmarks];
    ft_nn_pk_value *c = new_value(r, kind);
    if (!c)
        return FT_ERR_NOMEM;
    for (size_t k = m; k < r->sp; k++) {
        ft_status st = append_item(c, r->stack[k]);
        if (st)
            return st;
    }
    r->sp = m;
    *out = c;
    return FT_OK;
}

static ft_status need(reader *r, size_t n)
{
    if (r->size - r->pos < n)
        return fail(r, "pickle truncated at offset %zu (needs %zu more bytes)", r->pos, n);
    return FT_OK;
}

static uint64_t read_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static ft_status make_str(reader *r, const uint8_t *src, size_t len, ft_nn_pk_value **out)
{
    ft_nn_pk_value *v = new_value(r, FT_NN_PK_STR);
    if (!v)
        return FT_ERR_NOMEM;
    v->s = malloc(len + 1);
    if (!v->s)
        return FT_ERR_NOMEM;
    memcpy(v->s, src, len);
    v->s[len] = '\0';
    v->len = len;
    *out = v;
    return FT_OK;
}

/* Read a length-prefixed string/bytes of `lenbytes` length bytes. */
static ft_status op_sized_str(reader *r, size_t lenbytes)
{
    ft_status st = need(r, lenbytes);
    if (st)
        return st;
    uint64_t len = read_le(r->data + r->pos, lenbytes);
    r->pos += lenbytes;
    if (len > r->size - r->pos)
        return fail(r, "pickle string of %llu bytes runs past the end at offset %zu",
                    (unsigned long long)len, r->pos);
    ft_nn_pk_value *v = NULL;
    st = make_str(r, r->data + r->pos, (size_t)len, &v);
    if (st)
        return st;
    r->pos += (size_t)len;
    return push(r, v);
}

static ft_status push_int(reader *r, ft_nn_pk_kind kind, int64_t i)
{
    ft_nn_pk_value *v = new_value(r, kind);
    if (!v)
        return FT_ERR_NOMEM;
    v->i = i;
    return push(r, v);
}

/* LONG1/LONG4: little-endian two's complement of n bytes, at most 8. */
static ft_status op_long(reader *r, size_t lenbytes)
{
    ft_status st = need(r, lenbytes);
    if (st)
        return st;
    uint64_t n = read_le(r->data + r->pos, lenbytes);
    r->pos += lenbytes;
    if (n > 8)
        return fail(r, "pickle integer of %llu bytes is too large at offset %zu",
                    (unsigned long long)n, r->pos);
    if ((st = need(r, (size_t)n)))
        return st;
    uint64_t u = read_le(r->data + r->pos, (size_t)n);
    if (n > 0 && n < 8 && (r->data[r->pos + n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    r->pos += (size_t)n;
    int64_t i;
    memcpy(&i, &u, sizeof(i));
    return push_int(r, FT_NN_PK_INT, i);
}

static ft_status memo_put(reader *r, uint64_t idx)
{
    ft_nn_pk_value *v = NULL;
    ft_status st = top(r, &v);
    if (st)
        return st;
    /* Writers number memo entries from 0 and each entry costs at least two
     * bytes of pickle, so an index beyond the size is hostile or corrupt (and
     * would make us allocate a huge table). */
    if (idx >= FT_NN_PICKLE_MAX_MEMO || idx > r->size)
        return fail(r, "pickle memo index %llu too large at offset %zu", (unsigned long long)idx,
                    r->pos);
    size_t old_cap = r->memo_cap;
    st = ft_array_reserve(&r->memo, &r->memo_cap, (size_t)idx + 1, sizeof(*r->memo), 1024);
    if (st)
        return st;
    memset(r->memo + old_cap, 0, (r->memo_cap - old_cap) * sizeof(*r->memo));
    if (!r->memo[idx])
        r->memo_count++;
    r->memo[idx] = v;
    return FT_OK;
}

static ft_status memo_get(reader *r, uint64_t idx)
{
    if (idx >= r->memo_cap || !r->memo[idx])
        return fail(r, "pickle refers to unset memo entry %llu at offset %zu",
                    (unsigned long long)idx, r->pos);
    return push(r, r->memo[idx]);
}

static ft_status push_global(reader *r, const char *module, size_t mlen, const char *name,
                             size_t nlen)
{
    for (size_t k = 0; k < N_ALLOWED; k++) {
        if (strlen(k_allowed[k].module) == mlen && !memcmp(k_allowed[k].module, module, mlen) &&
            strlen(k_allowed[k].name) == nlen && !memcmp(k_allowed[k].name, name, nlen)) {
            ft_nn_pk_value *v = new_value(r, FT_NN_PK_GLOBAL);
            if (!v)
                return FT_ERR_NOMEM;
            v->i = (int64_t)k;
            snprintf(r->p->global_names[k], ALLOWED_NAME_MAX, "%s.%s", k_allowed[k].module,
                     k_allowed[k].name);
            v->type_name = r->p->global_names[k];
            return push(r, v);
        }
    }
    /* Print at most 200 bytes of each part, escaping nothing: we only ever
     * print, never interpret, what the file says. */
    return fail(r,
                "pickle uses disallowed global '%.*s.%.*s' (not a plain checkpoint; refusing "
                "to load)",
                (int)(mlen > 200 ? 200 : mlen), module, (int)(nlen > 200 ? 200 : nlen), name);
}

/* GLOBAL: "module\nname\n" in the opcode stream. */
static ft_status op_global(reader *r)
{
    const uint8_t *start = r->data + r->pos;
    size_t left = r->size - r->pos;
    const uint8_t *nl1 = memchr(start, '\n', left);
    if (!nl1)
        return fail(r, "pickle GLOBAL truncated at offset %zu", r->pos);
    const uint8_t *nl2 = memchr(nl1 + 1, '\n', left - (size_t)(nl1 + 1 - start));
    if (!nl2)
        return fail(r, "pickle GLOBAL truncated at offset %zu", r->pos);
    r->pos += (size_t)(nl2 + 1 - start);
    return push_global(r, (const char *)start, (size_t)(nl1 - start), (const char *)(nl1 + 1),
                       (size_t)(nl2 - nl1 - 1));
}

static ft_status op_stack_global(reader *r)
{
    ft_nn_pk_value *name = NULL, *module = NULL;
    ft_status st;
    if ((st = pop(r, &name)) || (st = pop(r, &module)))
        return st;
    if (module->kind != FT_NN_PK_STR || name->kind != FT_NN_PK_STR)
        return fail(r, "pickle STACK_GLOBAL expects two strings at offset %zu", r->pos);
    return push_global(r, module->s, module->len, name->s, name->len);
}

static bool is_int(const ft_nn_pk_value *v)
{
    return v && v->kind == FT_NN_PK_INT;
}

static bool is_seq(const ft_nn_pk_value *v)
{
    return v && (v->kind == FT_NN_PK_TUPLE || v->kind == FT_NN_PK_LIST);
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta]) */
static ft_status rebuild_tensor(reader *r, const ft_nn_pk_value *args, ft_nn_pk_value **out)
{
    if (!is_seq(args) || args->len < 4 || args->items[0]->kind != FT_NN_PK_STORAGE ||
        !is_int(args->items[1]) || !is_seq(args->items[2]) || !is_seq(args->items[3]))
        return fail(r, "pickle: malformed _rebuild_tensor_v2 arguments at offset %zu", r->pos);
    const ft_nn_pk_value *size = args->items[2], *stride = args->items[3];
    if (size->len > FT_NN_MAX_DIMS || stride->len != size->len)
        return fail(r,
                    "pickle: tensor with %zu dimensions (at most %d supported) or mismatched "
                    "strides at offset %zu",
                    size->len, FT_NN_MAX_DIMS, r->pos);
    ft_nn_pk_value *v = new_value(r, FT_NN_PK_TENSOR);
    if (!v)
        return FT_ERR_NOMEM;
    v->tensor = calloc(1, sizeof(*v->tensor));
    if (!v->tensor)
        return FT_ERR_NOMEM;
    ft_nn_pk_tensor *t = v->tensor;
    t->storage = args->items[0];
    t->offset = args->items[1]->i;
    t->ndim = (int)size->len;
    if (t->offset < 0)
        return fail(r, "pickle: negative tensor storage offset at offset %zu", r->pos);
    for (int d = 0; d < t->ndim; d++) {
        if (!is_int(size->items[d]) || !is_int(stride->items[d]) || size->items[d]->i < 0 ||
            stride->items[d]->i < 0)
            return fail(r, "pickle: bad tensor size or stride at offset %zu", r->pos);
        t->shape[d] = size->items[d]->i;
        t->stride[d] = stride->items[d]->i;
    }
    *out = v;
    return FT_OK;
}

/* pathlib paths pickle as the class applied to their parts. */
static ft_status make_path(reader *r, const ft_nn_pk_value *args, ft_nn_pk_value **out)
{
    if (!is_seq(args))
        return fail(r, "pickle: malformed path arguments at offset %zu", r->pos);
    size_t total = 1;
    for (size_t k = 0; k < args->len; k++) {
        if (args->items[k]->kind != FT_NN_PK_STR)
            return fail(r, "pickle: path part is not a string at offset %zu", r->pos);
        total += args->items[k]->len + 1;
    }
    ft_nn_pk_value *v = new_value(r, FT_NN_PK_STR);
    if (!v || !(v->s = malloc(total)))
        return FT_ERR_NOMEM;
    size_t pos = 0;
    for (size_t k = 0; k < args->len; k++) {
        const ft_nn_pk_value *part = args->items[k];
        if (pos && v->s[pos - 1] != '/')
            v->s[pos++] = '/';
        memcpy(v->s + pos, part->s, part->len);
        pos += part->len;
    }
    v->s[pos] = '\0';
    v->len = pos;
    *out = v;
    return FT_OK;
}

/* _codecs.encode(text, 'latin1') is how protocol 2 stores bytes objects. */
static ft_status codecs_encode(reader *r, const ft_nn_pk_value *args, ft_nn_pk_value **out)
{
    if (!is_seq(args) || args->len != 2 || args->items[0]->kind != FT_NN_PK_STR ||
        args->items[1]->kind != FT_NN_PK_STR ||
        (strcmp(args->items[1]->s, "latin1") && strcmp(args->items[1]->s, "latin-1")))
        return fail(r, "pickle: _codecs.encode supported only for latin1 text at offset %zu",
                    r->pos);
    const ft_nn_pk_value *text = args->items[0];
    ft_nn_pk_value *v = new_value(r, FT_NN_PK_STR);
    if (!v || !(v->s = malloc(text->len + 1)))
        return FT_ERR_NOMEM;
    /* UTF-8 code points below 256 become one byte each. */
    size_t o = 0;
    for (size_t k = 0; k < text->len; k++) {
        uint8_t c = (uint8_t)text->s[k];
        if (c < 0x80) {
            v->s[o++] = (char)c;
        } else if ((c & 0xe0) == 0xc0 && c <= 0xc3 && k + 1 < text->len) {
            v->s[o++] = (char)(((c & 0x03) << 6) | ((uint8_t)text->s[k + 1] & 0x3f));
            k++;
        } else {
            return fail(r, "pickle: text not encodable as latin1 at offset %zu", r->pos);
        }
    }
    v->s[o] = '\0';
    v->len = o;
    *out = v;
    return FT_OK;
}

/* Apply an allowed callable (REDUCE / NEWOBJ). Returns the resulting value. */
static ft_status call_global(reader *r, const ft_nn_pk_value *fn, const ft_nn_pk_value *args,
                             ft_nn_pk_value **out)
{
    if (fn->kind != FT_NN_PK_GLOBAL)
        return fail(r, "pickle: calling a non-callable value at offset %zu", r->pos);
    switch (k_allowed[fn->i].kind) {
    case G_ORDERED_DICT:
        if (is_seq(args) && args->len)
            return fail(r, "pickle: OrderedDict with constructor arguments at offset %zu", r->pos);
        *out = new_value(r, FT_NN_PK_DICT);
        return *out ? FT_OK : FT_ERR_NOMEM;
    case G_NAMESPACE:
        *out = new_value(r, FT_NN_PK_NAMESPACE);
        if (!*out)
            return FT_ERR_NOMEM;
        (*out)->attrs = new_value(r, FT_NN_PK_DICT);
        return (*out)->attrs ? FT_OK : FT_ERR_NOMEM;
    case G_REBUILD_TENSOR:
        return rebuild_tensor(r, args, out);
    case G_REBUILD_PARAMETER:
        if (!is_seq(args) || args->len < 1 || args->items[0]->kind != FT_NN_PK_TENSOR)
            return fail(r, "pickle: malformed _rebuild_parameter at offset %zu", r->pos);
        *out = args->items[0];
        return FT_OK;
    case G_PATH:
        return make_path(r, args, out);
    case G_CODECS_ENCODE:
        return codecs_encode(r, args, out);
    case G_STORAGE:
        break;
    }
    return fail(r, "pickle: '%s' cannot be called at offset %zu", fn->type_name, r->pos);
}

static ft_status op_reduce(reader *r)
{
    ft_nn_pk_value *args = NULL, *fn = NULL, *res = NULL;
    ft_status st;
    if ((st = pop(r, &args)) || (st = pop(r, &fn)))
        return st;
    if ((st = call_global(r, fn, args, &res)))
        return st;
    return push(r, res);
}

static ft_status op_newobj_ex(reader *r)
{
    ft_nn_pk_value *kwargs = NULL, *args = NULL, *cls = NULL, *res = NULL;
    ft_status st;
    if ((st = pop(r, &kwargs)) || (st = pop(r, &args)) || (st = pop(r, &cls)))
        return st;
    if (kwargs->kind != FT_NN_PK_DICT || kwargs->len)
        return fail(r, "pickle: NEWOBJ_EX with keyword arguments at offset %zu", r->pos);
    if ((st = call_global(r, cls, args, &res)))
        return st;
    return push(r, res);
}

static ft_status op_build(reader *r)
{
    ft_nn_pk_value *state = NULL, *obj = NULL;
    ft_status st;
    if ((st = pop(r, &state)) || (st = top(r, &obj)))
        return st;
    switch (obj->kind) {
    case FT_NN_PK_NAMESPACE:
        /* State is the attribute dict, or (dict, slot dict). */
        if (state->kind == FT_NN_PK_TUPLE && state->len == 2)
            state = state->items[0];
        if (state->kind != FT_NN_PK_DICT)
            return fail(r, "pickle: Namespace state is not a dict at offset %zu", r->pos);
        obj->attrs = state;
        return FT_OK;
    case FT_NN_PK_DICT:
        /* OrderedDict state: a state dict's `_metadata` (version numbers),
         * which inference does not need. */
        return FT_OK;
    case FT_NN_PK_TENSOR:
        return FT_OK; /* tensor attributes (e.g. a Parameter's) carry no data */
    default:
        return fail(r, "pickle: BUILD on an unsupported object at offset %zu", r->pos);
    }
}

/* BINPERSID: ('storage', StorageType, key, location, numel). */
static ft_status op_persid(reader *r)
{
    ft_nn_pk_value *pid = NULL;
    ft_status st = pop(r, &pid);
    if (st)
        return st;
    if (!is_seq(pid) || pid->len < 5 || pid->items[0]->kind != FT_NN_PK_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != FT_NN_PK_GLOBAL ||
        k_allowed[pid->items[1]->i].kind != G_STORAGE || pid->items[2]->kind != FT_NN_PK_STR ||
        !is_int(pid->items[4]) || pid->items[4]->i < 0)
        return fail(r,
                    "pickle: unsupported persistent id at offset %zu (expected a torch "
                    "storage reference)",
                    r->pos);
    ft_nn_pk_value *v = new_value(r, FT_NN_PK_STORAGE);
    if (!v)
        return FT_ERR_NOMEM;
    v->s = pid->items[2]->s;
    v->len = pid->items[2]->len;
    v->i = pid->items[4]->i;
    v->type_name = pid->items[1]->type_name;
    v->dtype = k_allowed[pid->items[1]->i].dtype;
    return push(r, v);
}

static ft_status op_setitems(reader *r)
{
    ft_nn_pk_value *items = NULL, *dict = NULL;
    ft_status st = collect_mark(r, FT_NN_PK_LIST, &items);
    if (st)
        return st;
    if ((st = top(r, &dict)))
        return st;
    if (dict->kind != FT_NN_PK_DICT)
        return fail(r, "pickle: SETITEMS on a non-dict at offset %zu", r->pos);
    if (items->len % 2)
        return fail(r, "pickle: odd number of SETITEMS values at offset %zu", r->pos);
    for (size_t k = 0; k < items->len; k++)
        if ((st = append_item(dict, items->items[k])))
            return st;
    return FT_OK;
}

static ft_status op_appends(reader *r)
{
    ft_nn_pk_value *items = NULL, *list = NULL;
    ft_status st = collect_mark(r, FT_NN_PK_LIST, &items);
    if (st)
        return st;
    if ((st = top(r, &list)))
        return st;
    if (list->kind != FT_NN_PK_LIST)
        return fail(r, "pickle: APPENDS on a non-list at offset %zu", r->pos);
    for (size_t k = 0; k < items->len; k++)
        if ((st = append_item(list, items->items[k])))
            return st;
    return FT_OK;
}

static ft_status op_tuple_n(reader *r, size_t n)
{
    ft_nn_pk_value *t = new_value(r, FT_NN_PK_TUPLE);
    if (!t)
        return FT_ERR_NOMEM;
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->sp - floor < n)
        return fail(r, "pickle stack underflow at offset %zu", r->pos);
    for (size_t k = r->sp - n; k < r->sp; k++) {
        ft_status st = append_item(t, r->stack[k]);
        if (st)
            return st;
    }
    r->sp -= n;
    return push(r, t);
}

static ft_status run(reader *r)
{
    ft_status st = FT_OK;
    while (!st) {
        if (r->pos >= r->size)
            return fail(r, "pickle ends without STOP (truncated at %zu bytes)", r->size);
        uint8_t op = r->data[r->pos++];
        ft_nn_pk_value *v = NULL, *w = NULL;
        switch (op) {
        case 0x80: /* PROTO */
            if ((st = need(r, 1)))
                break;
            if (r->data[r->pos] < 2 || r->data[r->pos] > 5)
                return fail(r, "unsupported pickle protocol %u", r->data[r->pos]);
            r->pos++;
            break;
        case 0x95: /* FRAME: a length hint only */
            if (!(st = need(r, 8)))
                r->pos += 8;
            break;
        case '.': /* STOP */
            if (r->sp != 1 || r->nmarks)
                return fail(r, "pickle STOP with %zu values on the stack", r->sp);
            r->p->root = r->stack[0];
            return FT_OK;
        case '(': /* MARK */
            if (r->nmarks == FT_NN_PICKLE_MAX_MARKS)
                return fail(r, "pickle nests deeper than %d levels", FT_NN_PICKLE_MAX_MARKS);
            r->marks[r->nmarks++] = r->sp;
            break;
        case '0': /* POP */
            st = pop(r, &v);
            break;
        case '1': /* POP_MARK */
            st = collect_mark(r, FT_NN_PK_LIST, &v);
            break;
        case '2': /* DUP */
            if (!(st = top(r, &v)))
                st = push(r, v);
            break;
        case 'N':
            st = push(r, new_value(r, FT_NN_PK_NONE));
            break;
        case 0x88: /* NEWTRUE */
            st = push_int(r, FT_NN_PK_BOOL, 1);
            break;
        case 0x89: /* NEWFALSE */
            st = push_int(r, FT_NN_PK_BOOL, 0);
            break;
        case 'J': /* BININT */
            if (!(st = need(r, 4))) {
                int32_t i = (int32_t)(uint32_t)read_le(r->data + r->pos, 4);
                r->pos += 4;
                st = push_int(r, FT_NN_PK_INT, i);
            }
            break;
        case 'K': /* BININT1 */
            if (!(st = need(r, 1)))
                st = push_int(r, FT_NN_PK_INT, r->data[r->pos++]);
            break;
        case 'M': /* BININT2 */
            if (!(st = need(r, 2))) {
                int64_t i = (int64_t)read_le(r->data + r->pos, 2);
                r->pos += 2;
                st = push_int(r, FT_NN_PK_INT, i);
            }
            break;
        case 0x8a: /* LONG1 */
            st = op_long(r, 1);
            break;
        case 0x8b: /* LONG4 */
            st = op_long(r, 4);
            break;
        case 'G': /* BINFLOAT: big-endian double */
            if (!(st = need(r, 8))) {
                uint64_t u = 0;
                for (int k = 0; k < 8; k++)
                    u = (u << 8) | r->data[r->pos + k];
                r->pos += 8;
                if (!(v = new_value(r, FT_NN_PK_FLOAT)))
                    return FT_ERR_NOMEM;
                memcpy(&v->f, &u, sizeof(v->f));
                st = push(r, v);
            }
            break;
        case 'X': /* BINUNICODE */
            st = op_sized_str(r, 4);
            break;
        case 0x8c: /* SHORT_BINUNICODE */
            st = op_sized_str(r, 1);
            break;
        case 0x8d: /* BINUNICODE8 */
            st = op_sized_str(r, 8);
            break;
        case 'T': /* BINSTRING */
            st = op_sized_str(r, 4);
            break;
        case 'U': /* SHORT_BINSTRING */
            st = op_sized_str(r, 1);
            break;
        case 'B': /* BINBYTES */
            st = op_sized_str(r, 4);
            break;
        case 'C': /* SHORT_BINBYTES */
            st = op_sized_str(r, 1);
            break;
        case 0x8e: /* BINBYTES8 */
            st = op_sized_str(r, 8);
            break;
        case 0x96: /* BYTEARRAY8 */
            st = op_sized_str(r, 8);
            break;
        case ')': /* EMPTY_TUPLE */
            st = push(r, new_value(r, FT_NN_PK_TUPLE));
            break;
        case 't': /* TUPLE */
            if (!(st = collect_mark(r, FT_NN_PK_TUPLE, &v)))
                st = push(r, v);
            break;
        case 0x85:
            st = op_tuple_n(r, 1);
            break;
        case 0x86:
            st = op_tuple_n(r, 2);
            break;
        case 0x87:
            st = op_tuple_n(r, 3);
            break;
        case ']': /* EMPTY_LIST */
            st = push(r, new_value(r, FT_NN_PK_LIST));
            break;
        case 0x8f: /* EMPTY_SET: as a list */
            st = push(r, new_value(r, FT_NN_PK_LIST));
            break;
        case 'l':  /* LIST */
        case 0x91: /* FROZENSET */
            if (!(st = collect_mark(r, FT_NN_PK_LIST, &v)))
                st = push(r, v);
            break;
        case 'a': /* APPEND */
            if (!(st = pop(r, &v)) && !(st = top(r, &w))) {
                if (w->kind != FT_NN_PK_LIST)
                    return fail(r, "pickle: APPEND on a non-list at offset %zu", r->pos);
                st = append_item(w, v);
            }
            break;
        case 'e':  /* APPENDS */
        case 0x90: /* ADDITEMS */
            st = op_appends(r);
            break;
        case '}': /* EMPTY_DICT */
            st = push(r, new_value(r, FT_NN_PK_DICT));
            break;
        case 'd': /* DICT */
            if (!(st = collect_mark(r, FT_NN_PK_DICT, &v))) {
                if (v->len % 2)
                    return fail(r, "pickle: odd number of DICT values at offset %zu", r->pos);
                st = push(r, v);
            }
            break;
        case 's': { /* SETITEM */
            ft_nn_pk_value *val = NULL, *key = NULL, *d = NULL;
            if ((st = pop(r, &val)) || (st = pop(r, &key)) || (st = top(r, &d)))
                break;
            if (d->kind != FT_NN_PK_DICT)
                return fail(r, "pickle: SETITEM on a non-dict at offset %zu", r->pos);
            if (!(st = append_item(d, key)))
                st = append_item(d, val);
            break;
        }
        case 'u': /* SETITEMS */
            st = op_setitems(r);
            break;
        case 'c': /* GLOBAL */
            st = op_global(r);
            break;
        case 0x93: /* STACK_GLOBAL */
            st = op_stack_global(r);
            break;
        case 'R': /* REDUCE */
            st = op_reduce(r);
            break;
        case 0x81: /* NEWOBJ: (cls, args) like REDUCE */
            st = op_reduce(r);
            break;
        case 0x92: /* NEWOBJ_EX */
            st = op_newobj_ex(r);
            break;
        case 'b': /* BUILD */
            st = op_build(r);
            break;
        case 'Q': /* BINPERSID */
            st = op_persid(r);
            break;
        case 'q': /* BINPUT */
            if (!(st = need(r, 1)))
                st = memo_put(r, r->data[r->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if (!(st = need(r, 4))) {
                uint64_t idx = read_le(r->data + r->pos, 4);
                r->pos += 4;
                st = memo_put(r, idx);
            }
            break;
        case 0x94: /* MEMOIZE: the index is the memo's current size */
            st = memo_put(r, r->memo_count);
            break;
        case 'h': /* BINGET */
            if (!(st = need(r, 1)))
                st = memo_get(r, r->data[r->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if (!(st = need(r, 4))) {
                uint64_t idx = read_le(r->data + r->pos, 4);
                r->pos += 4;
                st = memo_get(r, idx);
            }
            break;
        default:
            return fail(r, "unsupported pickle opcode 0x%02x at offset %zu", op, r->pos - 1);
        }
    }
    return st;
}

ft_status ft_nn_pickle_parse(const uint8_t *data, size_t size, char *err, size_t err_size,
                             ft_nn_pickle **out)
{
    *out = NULL;
    reader r = {.data = data, .size = size, .err = err, .err_size = err_size};
    if (size > FT_NN_PICKLE_MAX_BYTES) {
        return fail(&r, "pickle of %zu bytes is larger than the %zu-byte limit", size,
                    FT_NN_PICKLE_MAX_BYTES);
    }
    ft_status st = FT_ERR_NOMEM;
    r.p = calloc(1, sizeof(*r.p));
    if (!r.p)
        goto out;
    st = run(&r);
    if (st == FT_ERR_NOMEM)
        st = fail(&r, "out of memory while reading the pickle");
out:
    free(r.stack);
    free(r.memo);
    if (st) {
        ft_nn_pickle_destroy(&r.p);
        return st;
    }
    *out = r.p;
    return FT_OK;
}

const ft_nn_pk_value *ft_nn_pickle_root(const ft_nn_pickle *p)
{
    return p->root;
}

void ft_nn_pickle_destroy(ft_nn_pickle **pp)
{
    if (!pp || !*pp)
        return;
    ft_nn_pickle *p = *pp;
    value_block *b = p->blocks;
    while (b) {
        value_block *next = b->next;
        for (size_t k = 0; k < b->used; k++) {
            ft_nn_pk_value *v = &b->v[k];
            free(v->items);
            free(v->tensor);
            if (v->kind == FT_NN_PK_STR)
                free(v->s); /* STORAGE values borrow their key string */
        }
        free(b);
        b = next;
    }
    free(p);
    *pp = NULL;
}

const ft_nn_pk_value *ft_nn_pk_dict_get(const ft_nn_pk_value *dict, const char *key)
{
    if (!dict || dict->kind != FT_NN_PK_DICT)
        return NULL;
    /* Later entries win, as in a Python dict built item by item. */
    for (size_t k = dict->len; k >= 2; k -= 2) {
        const ft_nn_pk_value *kv = dict->items[k - 2];
        if (kv->kind == FT_NN_PK_STR && !strcmp(kv->s, key))
            return dict->items[k - 1];
    }
    return NULL;
}
