/* Weights loading: the official RF-DETR fixture checkpoint, and small .pth /
 * safetensors files built here (pickle bytes assembled opcode by opcode,
 * zipped with minizip) to cover every error path: truncated zip, disallowed
 * global, missing data.pkl, storage out of bounds, unsupported dtype, foreign
 * file, shape mismatch. */
/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <minizip/zip.h>

#include "core/log.h"
#include "nn/weights.h"

/* ---- scratch files ---- */

static char g_dir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return d;
}

/* ---- a pickle writer (protocol 2 opcodes, as torch.save emits) ---- */

typedef struct pbuf {
    uint8_t d[8192];
    size_t n;
} pbuf;

static void p_bytes(pbuf *p, const void *src, size_t n)
{
    assert_true(p->n + n <= sizeof(p->d));
    memcpy(p->d + p->n, src, n);
    p->n += n;
}
static void p_op(pbuf *p, uint8_t op)
{
    p_bytes(p, &op, 1);
}
static void p_str(pbuf *p, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    p_op(p, 'X');
    p_bytes(p, &n, 4);
    p_bytes(p, s, n);
}
static void p_int(pbuf *p, int32_t v)
{
    p_op(p, 'J');
    p_bytes(p, &v, 4);
}
static void p_float(pbuf *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t be[8];
    for (int k = 0; k < 8; k++)
        be[k] = (uint8_t)(u >> (56 - 8 * k));
    p_op(p, 'G');
    p_bytes(p, be, 8);
}
static void p_global(pbuf *p, const char *module, const char *name)
{
    p_op(p, 'c');
    p_bytes(p, module, strlen(module));
    p_op(p, '\n');
    p_bytes(p, name, strlen(name));
    p_op(p, '\n');
}

/* _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset,
 * size, stride, False, OrderedDict()) */
static void p_tensor(pbuf *p, const char *storage_type, const char *key, int numel, int offset,
                     int ndim, const int *size, const int *stride)
{
    p_global(p, "torch._utils", "_rebuild_tensor_v2");
    p_op(p, '(');
    p_op(p, '(');
    p_str(p, "storage");
    p_global(p, "torch", storage_type);
    p_str(p, key);
    p_str(p, "cpu");
    p_int(p, numel);
    p_op(p, 't');
    p_op(p, 'Q'); /* BINPERSID */
    p_int(p, offset);
    p_op(p, '(');
    for (int d = 0; d < ndim; d++)
        p_int(p, size[d]);
    p_op(p, 't');
    p_op(p, '(');
    for (int d = 0; d < ndim; d++)
        p_int(p, stride[d]);
    p_op(p, 't');
    p_op(p, 0x89); /* NEWFALSE */
    p_global(p, "collections", "OrderedDict");
    p_op(p, ')');
    p_op(p, 'R');
    p_op(p, 't');
    p_op(p, 'R');
}

typedef enum variant {
    V_GOOD,
    V_BAD_GLOBAL,    /* an os.system call hidden in the optimizer entry */
    V_OUT_OF_BOUNDS, /* a view reaching past its storage */
    V_DOUBLE,        /* a float64 tensor */
    V_BARE,          /* a bare state dict, no 'model' key */
} variant;

/* The checkpoint pickle: {'model': OrderedDict(w: f32 [2,3], b: i64 [2],
 * wt: f32 [3,2] view of w's storage transposed), 'optimizer': {...},
 * 'args': Namespace(...), 'ema_model': OrderedDict(b_ema: i64 [1], the
 * second element of b's storage), 'epoch': 3}. */
static void build_pickle(pbuf *p, variant v)
{
    static const int s23[] = {2, 3}, st23[] = {3, 1}, s32[] = {3, 2}, st32[] = {1, 3};
    static const int s2[] = {2}, st1[] = {1};
    p->n = 0;
    p_op(p, 0x80);
    p_op(p, 2);
    if (v != V_BARE) {
        p_op(p, '}');
        p_op(p, '(');
        p_str(p, "model");
    }
    p_global(p, "collections", "OrderedDict");
    p_op(p, ')');
    p_op(p, 'R');
    p_op(p, '(');
    p_str(p, "w");
    if (v == V_OUT_OF_BOUNDS) {
        static const int big[] = {3, 3};
        p_tensor(p, "FloatStorage", "0", 6, 0, 2, big, st23);
    } else {
        p_tensor(p, v == V_DOUBLE ? "DoubleStorage" : "FloatStorage", "0", 6, 0, 2, s23, st23);
    }
    p_str(p, "b");
    p_tensor(p, "LongStorage", "1", 2, 0, 1, s2, st1);
    p_str(p, "wt");
    p_tensor(p, "FloatStorage", "0", 6, 0, 2, s32, st32);
    p_op(p, 'u'); /* SETITEMS */
    if (v == V_BARE) {
        p_op(p, '.');
        return;
    }
    p_str(p, "optimizer");
    if (v == V_BAD_GLOBAL) {
        p_global(p, "os", "system");
        p_op(p, '(');
        p_str(p, "echo owned");
        p_op(p, 't');
        p_op(p, 'R');
    } else {
        p_op(p, '}');
    }
    p_str(p, "args");
    p_global(p, "argparse", "Namespace");
    p_op(p, ')');
    p_op(p, 0x81); /* NEWOBJ */
    p_op(p, '}');
    p_op(p, '(');
    p_str(p, "hidden_dim");
    p_int(p, 8);
    p_str(p, "encoder");
    p_str(p, "dinov2_windowed_small");
    p_str(p, "lr");
    p_float(p, 1.5e-4);
    p_str(p, "amp");
    p_op(p, 0x88);
    p_str(p, "pretrain_weights");
    p_op(p, 'N');
    p_str(p, "out_feature_indexes");
    p_op(p, ']');
    p_op(p, '(');
    p_int(p, 3);
    p_int(p, -6);
    p_op(p, 'e');
    p_str(p, "output_dir");
    p_global(p, "pathlib", "PosixPath");
    p_op(p, '(');
    p_str(p, "/");
    p_str(p, "runs");
    p_str(p, "x");
    p_op(p, 't');
    p_op(p, 'R');
    p_op(p, 'u');
    p_op(p, 'b'); /* BUILD */
    p_str(p, "ema_model");
    p_global(p, "collections", "OrderedDict");
    p_op(p, ')');
    p_op(p, 'R');
    p_str(p, "b_ema");
    p_tensor(p, "LongStorage", "1", 2, 1, 1, (const int[]){1}, st1);
    p_op(p, 's'); /* SETITEM */
    p_str(p, "epoch");
    p_int(p, 3);
    p_op(p, 'u');
    p_op(p, '.');
}

static const float k_w[6] = {1.0f, -2.0f, 3.5f, 0.25f, -0.125f, 1e-3f};
static const int64_t k_b[2] = {-7, 1LL << 40};

/* Write a .pth zip at path. `method` 0 stores, Z_DEFLATED compresses. */
static void write_pth(const char *path, variant v, int method, bool with_pickle)
{
    zipFile z = zipOpen64(path, 0);
    assert_non_null(z);
    pbuf *p = malloc(sizeof(*p));
    assert_non_null(p);
    build_pickle(p, v);
    struct {
        const char *name;
        const void *data;
        size_t n;
    } e[] = {
        {"archive/data.pkl", p->d, p->n},
        {"archive/data/0", k_w, sizeof(k_w)},
        {"archive/data/1", k_b, sizeof(k_b)},
        {"archive/version", "3\n", 2},
    };
    for (size_t i = with_pickle ? 0 : 1; i < sizeof(e) / sizeof(e[0]); i++) {
        zip_fileinfo zi = {0};
        assert_int_equal(zipOpenNewFileInZip64(z, e[i].name, &zi, NULL, 0, NULL, 0, NULL, method,
                                               method ? 6 : 0, 0),
                         ZIP_OK);
        assert_int_equal(zipWriteInFileInZip(z, e[i].data, (unsigned)e[i].n), ZIP_OK);
        assert_int_equal(zipCloseFileInZip(z), ZIP_OK);
    }
    assert_int_equal(zipClose(z, NULL), ZIP_OK);
    free(p);
}

/* Open path expecting failure; return the error message. */
static const char *open_fails(const char *path)
{
    static char err[512];
    ft_nn_weights_params params = {.path = path, .err = err, .err_size = sizeof(err)};
    ft_nn_weights *w = (ft_nn_weights *)1;
    assert_int_equal(ft_nn_weights_open_params(&params, &w), FT_ERR_MODEL);
    assert_null(w);
    assert_non_null(strstr(err, path)); /* the message names the file */
    return err;
}

static void check_small(ft_nn_weights *w)
{
    assert_int_equal(ft_nn_weights_count(w), 3);
    assert_int_equal(ft_nn_weights_param_count(w), 6 + 2 + 6);
    const ft_nn_tensor *t = ft_nn_weights_find(w, "w");
    assert_non_null(t);
    assert_int_equal(t->dtype, FT_NN_F32);
    assert_true(ft_nn_tensor_has_shape(t, 2, (const int64_t[]){2, 3}));
    assert_memory_equal(t->data, k_w, sizeof(k_w));
    const ft_nn_tensor *b = ft_nn_weights_find(w, "b");
    assert_int_equal(b->dtype, FT_NN_I64);
    assert_memory_equal(b->data, k_b, sizeof(k_b));
    /* The transposed view shares w's storage: wt[i][j] = w[j][i]. */
    const ft_nn_tensor *wt = ft_nn_weights_find(w, "wt");
    assert_false(ft_nn_tensor_is_contiguous(wt));
    float out[6];
    assert_int_equal(ft_nn_tensor_to_f32(wt, out, 6), FT_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            assert_true(out[i * 2 + j] == k_w[j * 3 + i]);
    assert_null(ft_nn_weights_find(w, "missing"));
    assert_ptr_equal(ft_nn_weights_at(w, 0), t); /* file order */
    assert_null(ft_nn_weights_at(w, 3));
}

static void test_small_pth(void **state)
{
    (void)state;
    const int methods[] = {0, Z_DEFLATED};
    for (int m = 0; m < 2; m++) {
        const char *path = tmp_path("small.pth");
        write_pth(path, V_GOOD, methods[m], true);
        ft_nn_weights *w = NULL;
        assert_int_equal(ft_nn_weights_open(path, &w), FT_OK);
        assert_int_equal(ft_nn_weights_format_of(w), FT_NN_WEIGHTS_PTH);
        check_small(w);

        assert_true(ft_nn_weights_has_args(w));
        assert_int_equal(ft_nn_weights_arg_count(w), 7);
        int64_t i = 0;
        double d = 0;
        bool b = false;
        const char *s = NULL;
        assert_true(ft_nn_weights_arg_int(w, "hidden_dim", &i));
        assert_int_equal(i, 8);
        assert_true(ft_nn_weights_arg_double(w, "lr", &d));
        assert_true(d == 1.5e-4);
        assert_true(ft_nn_weights_arg_double(w, "hidden_dim", &d)); /* ints widen */
        assert_true(d == 8.0);
        assert_false(ft_nn_weights_arg_int(w, "lr", &i)); /* floats do not narrow */
        assert_true(ft_nn_weights_arg_bool(w, "amp", &b));
        assert_true(b);
        assert_true(ft_nn_weights_arg_str(w, "encoder", &s));
        assert_string_equal(s, "dinov2_windowed_small");
        assert_true(ft_nn_weights_arg_str(w, "output_dir", &s));
        assert_string_equal(s, "/runs/x");
        assert_false(ft_nn_weights_arg_str(w, "pretrain_weights", &s)); /* None */
        assert_int_equal(ft_nn_weights_arg(w, "pretrain_weights")->type, FT_NN_ARG_NONE);
        assert_false(ft_nn_weights_arg_int(w, "absent", &i));
        int64_t list[1];
        size_t n = 0;
        assert_true(ft_nn_weights_arg_int_list(w, "out_feature_indexes", list, 1, &n));
        assert_int_equal(n, 2);
        assert_int_equal(list[0], 3);
        ft_nn_weights_destroy(&w);
        assert_null(w);
        ft_nn_weights_destroy(&w); /* NULL-safe */
    }
}

static void test_ema_model(void **state)
{
    (void)state;
    const char *path = tmp_path("ema.pth");
    write_pth(path, V_GOOD, 0, true);
    ft_nn_weights_params p = {.path = path, .use_ema = true};
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open_params(&p, &w), FT_OK);
    assert_int_equal(ft_nn_weights_count(w), 1);
    const ft_nn_tensor *t = ft_nn_weights_find(w, "b_ema");
    assert_non_null(t);
    assert_int_equal(*(const int64_t *)t->data, k_b[1]); /* storage offset 1 */
    assert_null(ft_nn_weights_find(w, "w"));
    assert_true(ft_nn_weights_has_args(w)); /* args come with either state dict */
    ft_nn_weights_destroy(&w);
}

static void test_bare_state_dict(void **state)
{
    (void)state;
    const char *path = tmp_path("bare.pth");
    write_pth(path, V_BARE, 0, true);
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open(path, &w), FT_OK);
    check_small(w);
    assert_false(ft_nn_weights_has_args(w));
    ft_nn_weights_destroy(&w);
}

static void test_truncated_zip(void **state)
{
    (void)state;
    const char *good = tmp_path("good.pth");
    write_pth(good, V_GOOD, 0, true);
    size_t n;
    uint8_t *d = read_file(good, &n);
    /* Cut at several points: inside the data, just before the end of the
     * central directory, one byte short. */
    const size_t cuts[] = {n / 2, n - 30, n - 1};
    for (size_t c = 0; c < 3; c++) {
        const char *path = tmp_path("truncated.pth");
        write_file(path, d, cuts[c]);
        const char *err = open_fails(path);
        assert_non_null(strstr(err, "truncated"));
    }
    free(d);
}

/* Checkpoints that are valid zips but wrong inside: each error names the
 * file and says what is wrong (and where, for a tensor). */
static void test_bad_checkpoints(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        variant v;
        bool with_pickle;
        const char *says[2]; /* substrings of the message; NULL = none */
    } cases[] = {
        {"evil.pth", V_BAD_GLOBAL, true, {"disallowed global 'os.system'", NULL}},
        {"nopkl.pth", V_GOOD, false, {"no data.pkl", NULL}},
        {"oob.pth", V_OUT_OF_BOUNDS, true, {"out of bounds", "'w'"}},
        {"f64.pth", V_DOUBLE, true, {"unsupported dtype", "DoubleStorage"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = tmp_path(cases[i].file);
        write_pth(path, cases[i].v, 0, cases[i].with_pickle);
        const char *err = open_fails(path);
        for (int k = 0; k < 2 && cases[i].says[k]; k++)
            assert_non_null(strstr(err, cases[i].says[k]));
    }
}

static void test_foreign_files(void **state)
{
    (void)state;
    const char *path = tmp_path("foreign.bin");
    write_file(path, "hello, this is not a model\n", 27);
    assert_non_null(strstr(open_fails(path), "not a PyTorch zip checkpoint"));
    write_file(path, "", 0);
    assert_non_null(strstr(open_fails(path), "empty"));
    /* A legacy (non-zip) torch pickle. */
    write_file(path, "\x80\x02\x8a\x0alz", 6);
    assert_non_null(strstr(open_fails(path), "legacy"));
    assert_non_null(strstr(open_fails(tmp_path("does-not-exist.pth")), "cannot open"));
}

/* Pickle streams that are broken rather than hostile. */
static void test_bad_pickles(void **state)
{
    (void)state;
    /* S() gives a literal and its length without the terminating NUL. */
#define S(lit) lit, sizeof(lit) - 1
    static const struct {
        const char *bytes;
        size_t n;
        const char *msg;
    } cases[] = {
        {S("\x80\x02}"), "without STOP"},
        {S("\x80\x02h\x05."), "memo"},
        {S("\x80\x02\x82\x01."), "unsupported pickle opcode 0x82"},
        {S("\x80\x02((((((((((((((((("), "without STOP"},
        {S("\x80\x02X\xff\xff\xff\x7f"), "past the end"},
        {S("\x80\x02\x8c\x05posix\x8c\x06system\x93."), "disallowed global 'posix.system'"},
        {S("\x80\x02}0."), "STOP with 0"},
        {S("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."), "too large"},
    };
#undef S
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const char *path = tmp_path("badpkl.pth");
        zipFile z = zipOpen64(path, 0);
        zip_fileinfo zi = {0};
        assert_int_equal(
            zipOpenNewFileInZip64(z, "a/data.pkl", &zi, NULL, 0, NULL, 0, NULL, 0, 0, 0), ZIP_OK);
        assert_int_equal(zipWriteInFileInZip(z, cases[c].bytes, (unsigned)cases[c].n), ZIP_OK);
        zipCloseFileInZip(z);
        zipClose(z, NULL);
        const char *err = open_fails(path);
        if (!strstr(err, cases[c].msg))
            fail_msg("case %zu: '%s' lacks '%s'", c, err, cases[c].msg);
    }
}

/* ---- safetensors ---- */

static void write_safetensors(const char *path, const char *header, const void *data, size_t n)
{
    size_t hl = strlen(header);
    uint8_t *buf = malloc(8 + hl + n);
    assert_non_null(buf);
    uint64_t h = hl;
    memcpy(buf, &h, 8);
    memcpy(buf + 8, header, hl);
    memcpy(buf + 8 + hl, data, n);
    write_file(path, buf, 8 + hl + n);
    free(buf);
}

static void test_safetensors(void **state)
{
    (void)state;
    /* Header padded with spaces to 8 bytes (as writers do); an f16 [2,2],
     * an i32 [3] and a u8 scalar, plus metadata with an escaped string. */
    uint8_t data[8 + 12 + 1];
    const uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001}; /* 1, -2, 65504, 2^-24 */
    const int32_t iv[3] = {5, -6, 7};
    memcpy(data, h, 8);
    memcpy(data + 8, iv, 12);
    data[20] = 9;
    char header[512];
    snprintf(header, sizeof(header),
             "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\\"b\\u00e9\"},"
             "\"x.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
             "\"idx\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[8,20]},"
             "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[20,21]}}");
    size_t hl = strlen(header);
    while ((8 + hl) % 8) {
        header[hl++] = ' ';
        header[hl] = '\0';
    }
    const char *path = tmp_path("small.safetensors");
    write_safetensors(path, header, data, sizeof(data));
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open(path, &w), FT_OK);
    assert_int_equal(ft_nn_weights_format_of(w), FT_NN_WEIGHTS_SAFETENSORS);
    assert_int_equal(ft_nn_weights_count(w), 3);
    const ft_nn_tensor *x = ft_nn_weights_find(w, "x.weight");
    assert_non_null(x);
    assert_int_equal(x->dtype, FT_NN_F16);
    float f[4];
    assert_int_equal(ft_nn_tensor_to_f32(x, f, 4), FT_OK);
    assert_true(f[0] == 1.0f && f[1] == -2.0f && f[2] == 65504.0f && f[3] == ldexpf(1, -24));
    const ft_nn_tensor *idx = ft_nn_weights_find(w, "idx");
    assert_int_equal(idx->dtype, FT_NN_I32);
    assert_memory_equal(idx->data, iv, 12);
    const ft_nn_tensor *flag = ft_nn_weights_find(w, "flag");
    assert_int_equal(flag->ndim, 0);
    assert_int_equal(flag->dtype, FT_NN_U8);
    assert_int_equal(*(const uint8_t *)flag->data, 9);
    const char *s;
    assert_true(ft_nn_weights_arg_str(w, "note", &s));
    assert_string_equal(s, "a\"b\xc3\xa9");
    ft_nn_weights_destroy(&w);

    /* Errors: data past the end, a dtype we cannot load, size mismatch, bad JSON. */
    static const struct {
        const char *header;
        const char *msg;
    } bad[] = {
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "outside"},
        {"{\"t\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
         "unsupported dtype F64"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "shape needs 12"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "expected ',' or '}'"},
        {"{}", "no tensors"},
    };
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        write_safetensors(path, bad[c].header, data, 8);
        const char *err = open_fails(path);
        if (!strstr(err, bad[c].msg))
            fail_msg("case %zu: '%s' lacks '%s'", c, err, bad[c].msg);
    }
}

/* ---- the official fixture ---- */

static bool in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && (!strcmp(ci, "true") || !strcmp(ci, "1"));
}

/* Path of the fixture checkpoint, or NULL (test skipped) when it is absent
 * outside CI; in CI a missing fixture fails. */
static const char *fixture_path(void)
{
    static char path[1024];
    const char *src = getenv("FT_SOURCE_DIR");
    if (!src)
        fail_msg("FT_SOURCE_DIR is not set");
    snprintf(path, sizeof(path), "%s/../shared/fixtures/rfdetr/medium-random/checkpoint.pth", src);
    struct stat sb;
    if (stat(path, &sb)) {
        if (in_ci())
            fail_msg("fixture %s is missing (required in CI)", path);
        return NULL;
    }
    return path;
}

static double tensor_sum(const ft_nn_tensor *t)
{
    size_t n = (size_t)ft_nn_tensor_numel(t);
    float *f = malloc(n * sizeof(float));
    assert_non_null(f);
    assert_int_equal(ft_nn_tensor_to_f32(t, f, n), FT_OK);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += f[i];
    free(f);
    return s;
}

static void test_fixture(void **state)
{
    (void)state;
    const char *path = fixture_path();
    if (!path) {
        skip();
        return;
    }
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open(path, &w), FT_OK);
    assert_int_equal(ft_nn_weights_format_of(w), FT_NN_WEIGHTS_PTH);
    /* Counts from the fixture README: 509 tensors, 33,687,458 parameters,
     * every floating tensor float16. */
    assert_int_equal(ft_nn_weights_count(w), 509);
    assert_int_equal(ft_nn_weights_param_count(w), 33687458);
    for (size_t i = 0; i < ft_nn_weights_count(w); i++) {
        const ft_nn_tensor *t = ft_nn_weights_at(w, i);
        assert_int_equal(t->dtype, FT_NN_F16);
        assert_ptr_equal(ft_nn_weights_find(w, t->name), t);
    }
    /* Values read independently with Python's zipfile and pickle modules:
     * the first elements (exact f16 values) and the f64 sum of each tensor. */
    const ft_nn_tensor *bias =
        ft_nn_weights_find(w, "transformer.decoder.layers.0.self_attn.in_proj_bias");
    assert_non_null(bias);
    float first[3];
    ft_nn_tensor head = *bias;
    head.shape[0] = 3;
    assert_int_equal(ft_nn_tensor_to_f32(&head, first, 3), FT_OK);
    assert_true(first[0] == 0.05047607421875f && first[1] == -0.00496673583984375f &&
                first[2] == -0.0059661865234375f);
    assert_float_equal(tensor_sum(bias), 0.1292425394, 1e-8);
    const ft_nn_tensor *pos =
        ft_nn_weights_find(w, "backbone.0.encoder.encoder.embeddings.position_embeddings");
    assert_true(ft_nn_tensor_has_shape(pos, 3, (const int64_t[]){1, 1297, 384}));
    assert_float_equal(tensor_sum(pos), 10.0437099338, 1e-6);
    const ft_nn_tensor *qf = ft_nn_weights_find(w, "query_feat.weight");
    assert_float_equal(tensor_sum(qf), 161.7723084688, 1e-5);
    /* torch.save aligns every storage to 64 bytes: mapped tensors keep it. */
    assert_int_equal((uintptr_t)qf->data % 64, 0);

    /* Shape checks as the model builder does them. */
    assert_int_equal(ft_nn_weights_expect(w, "query_feat.weight", 2, 3900, 256), FT_OK);
    assert_int_equal(ft_nn_weights_expect(w, "query_feat.weight", 2, -1, 256), FT_OK);
    assert_int_equal(ft_nn_weights_expect(w, "query_feat.weight", 2, 3900, 384), FT_ERR_MODEL);
    assert_int_equal(ft_nn_weights_expect(w, "query_feat.weight", 1, 3900), FT_ERR_MODEL);
    assert_int_equal(ft_nn_weights_expect(w, "no.such.tensor", 1, 1), FT_ERR_MODEL);

    /* The saved argparse.Namespace. */
    assert_true(ft_nn_weights_has_args(w));
    int64_t i = 0;
    bool b = false;
    const char *s = NULL;
    assert_true(ft_nn_weights_arg_int(w, "hidden_dim", &i));
    assert_int_equal(i, 256);
    assert_true(ft_nn_weights_arg_int(w, "resolution", &i));
    assert_int_equal(i, 576);
    assert_true(ft_nn_weights_arg_str(w, "encoder", &s));
    assert_string_equal(s, "dinov2_windowed_small");
    assert_true(ft_nn_weights_arg_bool(w, "amp", &b));
    assert_true(b);
    int64_t taps[8];
    size_t n = 0;
    assert_true(ft_nn_weights_arg_int_list(w, "out_feature_indexes", taps, 8, &n));
    assert_int_equal(n, 4);
    assert_true(taps[0] == 3 && taps[1] == 6 && taps[2] == 9 && taps[3] == 12);
    const ft_nn_arg *ps = ft_nn_weights_arg(w, "projector_scale");
    assert_non_null(ps);
    assert_int_equal(ps->type, FT_NN_ARG_LIST);
    assert_int_equal(ps->len, 1);
    assert_string_equal(ps->items[0].s, "P4");
    ft_nn_weights_destroy(&w);

    /* It has no EMA copy: asking for one is a clear error. */
    char err[512];
    ft_nn_weights_params p = {.path = path, .use_ema = true, .err = err, .err_size = sizeof(err)};
    assert_int_equal(ft_nn_weights_open_params(&p, &w), FT_ERR_MODEL);
    assert_non_null(strstr(err, "ema_model"));
}

/* Copy the fixture's tensors into a safetensors file, reload it, compare:
 * both readers must agree tensor by tensor. */
static void test_fixture_as_safetensors(void **state)
{
    (void)state;
    const char *path = fixture_path();
    if (!path) {
        skip();
        return;
    }
    ft_nn_weights *w = NULL;
    assert_int_equal(ft_nn_weights_open(path, &w), FT_OK);
    size_t cap = 1 << 16, hl = 0, dl = 0;
    char *header = malloc(cap);
    size_t total = 0;
    for (size_t i = 0; i < ft_nn_weights_count(w); i++)
        total += ft_nn_tensor_nbytes(ft_nn_weights_at(w, i));
    uint8_t *data = malloc(total);
    assert_non_null(header);
    assert_non_null(data);
    hl += (size_t)snprintf(header + hl, cap - hl, "{");
    for (size_t i = 0; i < ft_nn_weights_count(w); i++) {
        const ft_nn_tensor *t = ft_nn_weights_at(w, i);
        assert_true(ft_nn_tensor_is_contiguous(t));
        size_t nb = ft_nn_tensor_nbytes(t);
        char shape[128];
        if (cap - hl < 512) {
            cap *= 2;
            header = realloc(header, cap);
            assert_non_null(header);
        }
        hl += (size_t)snprintf(
            header + hl, cap - hl,
            "%s\"%s\":{\"dtype\":\"F16\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", i ? "," : "",
            t->name, ft_nn_tensor_shape_str(t, shape, 128), dl, dl + nb);
        memcpy(data + dl, t->data, nb);
        dl += nb;
    }
    snprintf(header + hl, cap - hl, "}");
    const char *out = tmp_path("fixture.safetensors");
    write_safetensors(out, header, data, dl);
    ft_nn_weights *s = NULL;
    assert_int_equal(ft_nn_weights_open(out, &s), FT_OK);
    assert_int_equal(ft_nn_weights_count(s), ft_nn_weights_count(w));
    assert_int_equal(ft_nn_weights_param_count(s), ft_nn_weights_param_count(w));
    for (size_t i = 0; i < ft_nn_weights_count(w); i++) {
        const ft_nn_tensor *a = ft_nn_weights_at(w, i);
        const ft_nn_tensor *b = ft_nn_weights_find(s, a->name);
        assert_non_null(b);
        assert_true(ft_nn_tensor_has_shape(b, a->ndim, a->shape));
        assert_memory_equal(a->data, b->data, ft_nn_tensor_nbytes(a));
    }
    ft_nn_weights_destroy(&s);
    ft_nn_weights_destroy(&w);
    free(header);
    free(data);
}

/* ---- the inspect command (through the built program) ---- */

/* Run FT_BIN with args, capture stdout+stderr into out, return exit code. */
static int run_cli(const char *args, char *out, size_t cap)
{
    const char *bin = getenv("FT_BIN");
    if (!bin)
        fail_msg("FT_BIN is not set");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", bin, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int rc = pclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_inspect_cli(void **state)
{
    (void)state;
    static char out[1 << 17];
    char args[1024];
    write_pth(tmp_path("cli.pth"), V_GOOD, 0, true);
    snprintf(args, sizeof(args), "inspect '%s'", tmp_path("cli.pth"));
    assert_int_equal(run_cli(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "format: pth"));
    assert_non_null(strstr(out, "hidden_dim = 8"));
    assert_non_null(strstr(out, "lr = 0.00015"));
    assert_non_null(strstr(out, "output_dir = \"/runs/x\""));
    assert_non_null(strstr(out, "parameters: 14"));
    assert_non_null(strstr(out, "rfdetr: none")); /* no RF-DETR tensors */
    snprintf(args, sizeof(args), "inspect --json '%s'", tmp_path("cli.pth"));
    assert_int_equal(run_cli(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "{\"name\": \"wt\", \"dtype\": \"f32\", \"shape\": [3,2]}"));
    assert_non_null(strstr(out, "\"out_feature_indexes\": [3, -6]"));

    write_pth(tmp_path("cli-evil.pth"), V_BAD_GLOBAL, 0, true);
    snprintf(args, sizeof(args), "inspect '%s'", tmp_path("cli-evil.pth"));
    assert_int_equal(run_cli(args, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "os.system"));
    assert_null(strstr(out, "owned")); /* nothing was executed */
    assert_int_equal(run_cli("inspect", out, sizeof(out)), 1);
    assert_int_equal(run_cli("inspect --help", out, sizeof(out)), 0);

    /* RF-DETR's tensors with a ViT width no size has: readable (exit 0), but
     * named as a model the detector would refuse, with the reason. */
    static uint8_t zeros[100 + 500 + 14700 + 3];
    char header[1024];
    snprintf(
        header, sizeof(header),
        "{\"backbone.0.encoder.encoder.embeddings.cls_token\":{\"dtype\":\"U8\","
        "\"shape\":[1,1,100],\"data_offsets\":[0,100]},"
        "\"backbone.0.encoder.encoder.embeddings.position_embeddings\":{\"dtype\":\"U8\","
        "\"shape\":[1,5,100],\"data_offsets\":[100,600]},"
        "\"backbone.0.encoder.encoder.embeddings.patch_embeddings.projection.weight\":"
        "{\"dtype\":\"U8\",\"shape\":[100,3,7,7],\"data_offsets\":[600,15300]},"
        "\"class_embed.bias\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[15300,15303]}}");
    size_t hl = strlen(header);
    while ((8 + hl) % 8) {
        header[hl++] = ' ';
        header[hl] = '\0';
    }
    write_safetensors(tmp_path("odd.safetensors"), header, zeros, sizeof(zeros));
    snprintf(args, sizeof(args), "inspect --args-only '%s'", tmp_path("odd.safetensors"));
    assert_int_equal(run_cli(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "rfdetr: unsupported"));
    assert_non_null(strstr(out, "matches no RF-DETR size"));

    const char *fx = fixture_path();
    if (fx) {
        snprintf(args, sizeof(args), "inspect '%s'", fx);
        assert_int_equal(run_cli(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "tensor count: 509"));
        assert_non_null(strstr(out, "parameters: 33687458"));
        assert_non_null(strstr(out, "encoder = \"dinov2_windowed_small\""));
        /* the size the detector resolves, not only the raw args */
        assert_non_null(strstr(out, "rfdetr: medium (input 576, patch 16, 2 windows per side"));
        snprintf(args, sizeof(args), "inspect --json --args-only '%s'", fx);
        assert_int_equal(run_cli(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "\"rfdetr\": {\"size\": \"medium\", \"resolution\": 576"));
    }
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/ft_nn_weights_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        return -1;
    /* Expected errors are asserted on; keep them out of the test log. */
    ft_log_set_level(FT_LOG_OFF);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_pth),
        cmocka_unit_test(test_ema_model),
        cmocka_unit_test(test_bare_state_dict),
        cmocka_unit_test(test_truncated_zip),
        cmocka_unit_test(test_bad_checkpoints),
        cmocka_unit_test(test_foreign_files),
        cmocka_unit_test(test_bad_pickles),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_fixture_as_safetensors),
        cmocka_unit_test(test_inspect_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
