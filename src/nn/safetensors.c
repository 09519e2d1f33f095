/* safetensors: 8-byte little-endian header length N, N bytes of JSON
 * describing each tensor (dtype, shape, [begin, end) byte offsets into the
 * data section that follows), then the data. The JSON is read by a small
 * bounded parser that understands exactly this layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/weights_internal.h"

#define MAX_HEADER ((uint64_t)100 << 20)
#define MAX_DEPTH 64
#define MAX_META 4096

typedef struct json {
    ft_nn_weights *w;
    const char *s;
    size_t n, pos;
    char *buf; /* scratch for decoded strings, n + 1 bytes */
} json;

static ft_status jfail(json *j, const char *what)
{
    return ft_nn_weights_fail(j->w, "safetensors header: %s at byte %zu", what, 8 + j->pos);
}

static void ws(json *j)
{
    while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' ||
                             j->s[j->pos] == '\r'))
        j->pos++;
}

static bool accept(json *j, char c)
{
    ws(j);
    if (j->pos < j->n && j->s[j->pos] == c) {
        j->pos++;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(json *j, uint32_t *out)
{
    if (j->n - j->pos < 4)
        return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(j->s[j->pos + k]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    j->pos += 4;
    *out = v;
    return true;
}

/* Parse a JSON string into j->buf (decoded UTF-8, NUL-terminated). */
static ft_status jstring(json *j, size_t *len)
{
    if (!accept(j, '"'))
        return jfail(j, "expected a string");
    size_t o = 0;
    while (j->pos < j->n) {
        char c = j->s[j->pos++];
        if (c == '"') {
            j->buf[o] = '\0';
            *len = o;
            return FT_OK;
        }
        if ((unsigned char)c < 0x20)
            return jfail(j, "control character in string");
        if (c != '\\') {
            j->buf[o++] = c;
            continue;
        }
        if (j->pos >= j->n)
            break;
        c = j->s[j->pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            j->buf[o++] = c;
            break;
        case 'b':
            j->buf[o++] = '\b';
            break;
        case 'f':
            j->buf[o++] = '\f';
            break;
        case 'n':
            j->buf[o++] = '\n';
            break;
        case 'r':
            j->buf[o++] = '\r';
            break;
        case 't':
            j->buf[o++] = '\t';
            break;
        case 'u': {
            /* \uXXXX is 6 input bytes and at most 3 output bytes (4 for a
             * surrogate pair of 12 input bytes), so buf never overflows. */
            uint32_t cp;
            if (!read_hex4(j, &cp))
                return jfail(j, "bad \\u escape");
            if (cp >= 0xd800 && cp < 0xdc00) {
                uint32_t lo;
                if (j->n - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
                    return jfail(j, "unpaired surrogate");
                j->pos += 2;
                if (!read_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return jfail(j, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp < 0x80) {
                j->buf[o++] = (char)cp;
            } else if (cp < 0x800) {
                j->buf[o++] = (char)(0xc0 | (cp >> 6));
                j->buf[o++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                j->buf[o++] = (char)(0xe0 | (cp >> 12));
                j->buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                j->buf[o++] = (char)(0x80 | (cp & 0x3f));
            } else {
                j->buf[o++] = (char)(0xf0 | (cp >> 18));
                j->buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                j->buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                j->buf[o++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return jfail(j, "bad escape");
        }
    }
    return jfail(j, "unterminated string");
}

static ft_status juint(json *j, uint64_t *out)
{
    ws(j);
    size_t start = j->pos;
    uint64_t v = 0;
    while (j->pos < j->n && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
        unsigned d = (unsigned)(j->s[j->pos] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return jfail(j, "integer too large");
        v = v * 10 + d;
        j->pos++;
    }
    if (j->pos == start)
        return jfail(j, "expected a non-negative integer");
    *out = v;
    return FT_OK;
}

/* Skip any JSON value (used for keys we do not need). */
static ft_status jskip(json *j, int depth)
{
    if (depth > MAX_DEPTH)
        return jfail(j, "nesting too deep");
    ws(j);
    if (j->pos >= j->n)
        return jfail(j, "unexpected end");
    char c = j->s[j->pos];
    size_t len;
    if (c == '"')
        return jstring(j, &len);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->pos++;
        if (accept(j, close))
            return FT_OK;
        do {
            ft_status st;
            if (c == '{') {
                if ((st = jstring(j, &len)))
                    return st;
                if (!accept(j, ':'))
                    return jfail(j, "expected ':'");
            }
            if ((st = jskip(j, depth + 1)))
                return st;
        } while (accept(j, ','));
        return accept(j, close) ? FT_OK : jfail(j, "unterminated object or array");
    }
    /* number, true, false, null */
    size_t start = j->pos;
    while (j->pos < j->n && strchr("+-.0123456789eEtruefalsn", j->s[j->pos]))
        j->pos++;
    return j->pos > start ? FT_OK : jfail(j, "unexpected character");
}

static bool parse_dtype(const char *s, ft_nn_dtype *dt)
{
    static const struct {
        const char *name;
        ft_nn_dtype dt;
    } k[] = {{"F32", FT_NN_F32}, {"F16", FT_NN_F16}, {"BF16", FT_NN_BF16}, {"I64", FT_NN_I64},
             {"I32", FT_NN_I32}, {"U8", FT_NN_U8},   {"BOOL", FT_NN_U8}};
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        if (!strcmp(s, k[i].name)) {
            *dt = k[i].dt;
            return true;
        }
    return false;
}

/* One tensor description: {"dtype": .., "shape": [..], "data_offsets": [b, e]}. */
static ft_status parse_tensor(json *j, const char *name, const uint8_t *data, uint64_t data_size)
{
    ft_nn_weights *w = j->w;
    ft_nn_tensor t;
    ft_nn_tensor_init(&t, FT_NN_F32, 0, NULL, NULL, NULL);
    bool have_dtype = false, have_shape = false, have_off = false;
    uint64_t begin = 0, end = 0;
    int64_t shape[FT_NN_MAX_DIMS];
    int ndim = 0;
    ft_status st;
    size_t len;
    if (!accept(j, '{'))
        return jfail(j, "expected a tensor description object");
    if (!accept(j, '}')) {
        do {
            if ((st = jstring(j, &len)))
                return st;
            if (!accept(j, ':'))
                return jfail(j, "expected ':'");
            if (!strcmp(j->buf, "dtype")) {
                if ((st = jstring(j, &len)))
                    return st;
                if (!parse_dtype(j->buf, &t.dtype))
                    return ft_nn_weights_fail(w, "tensor '%s' has unsupported dtype %s", name,
                                              j->buf);
                have_dtype = true;
            } else if (!strcmp(j->buf, "shape")) {
                if (!accept(j, '['))
                    return jfail(j, "expected a shape array");
                if (!accept(j, ']')) {
                    do {
                        uint64_t v;
                        if (ndim == FT_NN_MAX_DIMS)
                            return ft_nn_weights_fail(w, "tensor '%s' has more than %d dimensions",
                                                      name, FT_NN_MAX_DIMS);
                        if ((st = juint(j, &v)))
                            return st;
                        if (v > INT64_MAX / 2)
                            return jfail(j, "dimension too large");
                        shape[ndim++] = (int64_t)v;
                    } while (accept(j, ','));
                    if (!accept(j, ']'))
                        return jfail(j, "unterminated shape");
                }
                have_shape = true;
            } else if (!strcmp(j->buf, "data_offsets")) {
                if (!accept(j, '[') || (st = juint(j, &begin)) || !accept(j, ',') ||
                    (st = juint(j, &end)) || !accept(j, ']'))
                    return st ? st : jfail(j, "expected [begin, end] data offsets");
                have_off = true;
            } else if ((st = jskip(j, 1))) {
                return st;
            }
        } while (accept(j, ','));
        if (!accept(j, '}'))
            return jfail(j, "unterminated tensor description");
    }
    if (!have_dtype || !have_shape || !have_off)
        return ft_nn_weights_fail(w, "tensor '%s' lacks dtype, shape or data_offsets", name);
    ft_nn_dtype dt = t.dtype;
    uint64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] && numel > UINT64_MAX / 16 / (uint64_t)shape[d])
            return ft_nn_weights_fail(w, "tensor '%s' is impossibly large", name);
        numel *= (uint64_t)shape[d];
    }
    if (begin > end || end > data_size)
        return ft_nn_weights_fail(w,
                                  "tensor '%s' data [%llu, %llu) lies outside the %llu-byte data "
                                  "section (truncated file?)",
                                  name, (unsigned long long)begin, (unsigned long long)end,
                                  (unsigned long long)data_size);
    if (end - begin != numel * ft_nn_dtype_size(dt))
        return ft_nn_weights_fail(w, "tensor '%s' has %llu bytes of data, its shape needs %llu",
                                  name, (unsigned long long)(end - begin),
                                  (unsigned long long)(numel * ft_nn_dtype_size(dt)));
    const uint8_t *src = data + begin;
    void *p = (void *)src;
    if ((uintptr_t)src % ft_nn_dtype_size(dt)) {
        /* The format does not promise alignment: copy misaligned tensors. */
        p = ft_nn_weights_alloc(w, (size_t)(end - begin));
        if (!p)
            return FT_ERR_NOMEM;
        memcpy(p, src, (size_t)(end - begin));
    }
    const char *owned = ft_nn_weights_strndup(w, name, strlen(name));
    if (!owned)
        return FT_ERR_NOMEM;
    ft_nn_tensor_init(&t, dt, ndim, shape, p, owned);
    return ft_nn_weights_add(w, &t);
}

/* "__metadata__": {"key": "value", ...} becomes string args. */
static ft_status parse_metadata(json *j, ft_nn_arg *meta, size_t *nmeta)
{
    ft_status st;
    size_t len;
    if (!accept(j, '{'))
        return jfail(j, "__metadata__ must be an object");
    if (accept(j, '}'))
        return FT_OK;
    do {
        if ((st = jstring(j, &len)))
            return st;
        if (*nmeta == MAX_META)
            return jfail(j, "too many metadata entries");
        ft_nn_arg *a = &meta[*nmeta];
        memset(a, 0, sizeof(*a));
        if (!(a->key = ft_nn_weights_strndup(j->w, j->buf, len)))
            return FT_ERR_NOMEM;
        if (!accept(j, ':'))
            return jfail(j, "expected ':'");
        if ((st = jstring(j, &len)))
            return st;
        if (!(a->s = ft_nn_weights_strndup(j->w, j->buf, len)))
            return FT_ERR_NOMEM;
        a->type = FT_NN_ARG_STR;
        a->len = len;
        (*nmeta)++;
    } while (accept(j, ','));
    return accept(j, '}') ? FT_OK : jfail(j, "unterminated __metadata__");
}

ft_status ft_nn_safetensors_load(ft_nn_weights *w)
{
    size_t size;
    const uint8_t *m = ft_nn_weights_map(w, &size);
    uint64_t hlen = 0;
    for (int k = 0; k < 8; k++)
        hlen |= (uint64_t)m[k] << (8 * k);
    if (hlen > MAX_HEADER)
        return ft_nn_weights_fail(w, "safetensors header of %llu bytes exceeds the limit",
                                  (unsigned long long)hlen);
    json j = {.w = w, .s = (const char *)m + 8, .n = (size_t)hlen};
    ft_status st = FT_ERR_NOMEM;
    ft_nn_arg *meta = NULL;
    size_t nmeta = 0;
    j.buf = malloc(j.n + 1);
    if (!j.buf)
        goto out;
    /* Scratch for the metadata; only what is used is kept (below). */
    meta = malloc(MAX_META * sizeof(*meta));
    if (!meta)
        goto out;
    const uint8_t *data = m + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    size_t len;
    if (!accept(&j, '{')) {
        st = jfail(&j, "expected '{'");
        goto out;
    }
    st = FT_OK;
    if (!accept(&j, '}')) {
        do {
            if ((st = jstring(&j, &len)))
                goto out;
            if (!accept(&j, ':')) {
                st = jfail(&j, "expected ':'");
                goto out;
            }
            if (!strcmp(j.buf, "__metadata__")) {
                st = parse_metadata(&j, meta, &nmeta);
            } else {
                /* parse_tensor reuses j.buf, so keep the name elsewhere. */
                char *name = strdup(j.buf);
                if (!name) {
                    st = FT_ERR_NOMEM;
                    goto out;
                }
                st = parse_tensor(&j, name, data, data_size);
                free(name);
            }
            if (st)
                goto out;
        } while (accept(&j, ','));
        if (!accept(&j, '}')) {
            st = jfail(&j, "expected ',' or '}'");
            goto out;
        }
    }
    ws(&j);
    if (j.pos != j.n) {
        st = jfail(&j, "trailing characters");
        goto out;
    }
    if (ft_nn_weights_count(w) == 0) {
        st = ft_nn_weights_fail(w, "safetensors file holds no tensors");
        goto out;
    }
    if (nmeta) {
        ft_nn_arg *kept = ft_nn_weights_alloc(w, nmeta * sizeof(*kept));
        if (!kept) {
            st = FT_ERR_NOMEM;
            goto out;
        }
        memcpy(kept, meta, nmeta * sizeof(*kept));
        ft_nn_weights_set_args(w, kept, nmeta);
    }
out:
    free(meta);
    free(j.buf);
    return st;
}
