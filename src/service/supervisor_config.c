/* streams.yml: the list of streams `serve` runs (format in docs/serve.md).
 * Parsed with libyaml's document API; every error names the file, the line
 * and the key. The file is small and read once per (re)load. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "service/supervisor.h"

#define STREAMS_FILE_MAX (1u << 20)

typedef struct parse_ctx {
    const char *path;
    char dir[FT_SERVE_PATH_MAX]; /* folder of the file, for relative config paths */
    yaml_document_t *doc;
    char *err;
    size_t cap;
} parse_ctx;

/* Records the first error only: later ones are usually its consequences. */
__attribute__((format(printf, 3, 4))) static ft_status fail(parse_ctx *c, const yaml_node_t *n,
                                                            const char *fmt, ...)
{
    if (c->err[0] == '\0') {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->cap, "%s:%lu: %s", c->path,
                 n ? (unsigned long)n->start_mark.line + 1 : 0UL, msg);
    }
    return FT_ERR_CONFIG;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static ft_status get_string(parse_ctx *c, const yaml_node_t *v, const char *key, char *out,
                            size_t cap)
{
    const char *s = scalar(v);
    if (!s)
        return fail(c, v, "%s: expected a string", key);
    if (strlen(s) >= cap)
        return fail(c, v, "%s: value too long", key);
    snprintf(out, cap, "%s", s);
    return FT_OK;
}

static ft_status get_number(parse_ctx *c, const yaml_node_t *v, const char *key, double lo,
                            double hi, double *out)
{
    const char *s = scalar(v);
    char *end = NULL;
    errno = 0;
    double x = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end != '\0' || errno || !isfinite(x) || x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, "[%g, %g]", lo, hi);
        return fail(c, v, "%s: expected a number in %s", key, range);
    }
    *out = x;
    return FT_OK;
}

static ft_status get_bool(parse_ctx *c, const yaml_node_t *v, const char *key, bool *out)
{
    const char *s = scalar(v);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
        *out = true;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
        *out = false;
    else
        return fail(c, v, "%s: expected true or false", key);
    return FT_OK;
}

/* A config file path: relative ones are taken from the streams file's folder
 * so the file can be moved together with its configs. */
static ft_status get_path(parse_ctx *c, const yaml_node_t *v, const char *key, char *out,
                          size_t cap)
{
    char raw[FT_SERVE_PATH_MAX];
    ft_status st = get_string(c, v, key, raw, sizeof raw);
    if (st)
        return st;
    int n = raw[0] == '/' || raw[0] == '\0' ? snprintf(out, cap, "%s", raw)
                                            : snprintf(out, cap, "%s/%s", c->dir, raw);
    if (n < 0 || (size_t)n >= cap)
        return fail(c, v, "%s: path too long", key);
    return FT_OK;
}

/* `set:` mapping of configuration keys to values, appended as "key=value". */
static ft_status get_sets(parse_ctx *c, const yaml_node_t *map, ft_serve_stream *s)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, "set: expected a mapping of section.key: value");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *ks = scalar(k), *vs = scalar(v);
        if (!ks || !strchr(ks, '.'))
            return fail(c, k, "set: keys are section.key (got '%s')", ks ? ks : "?");
        if (!vs)
            return fail(c, v, "set.%s: expected a scalar value", ks);
        /* A later `set` (the stream's) replaces an earlier one (the defaults'). */
        size_t kl = strlen(ks);
        int slot = s->n_sets;
        for (int i = 0; i < s->n_sets; i++)
            if (!strncmp(s->sets[i], ks, kl) && s->sets[i][kl] == '=')
                slot = i;
        if (slot == FT_SERVE_MAX_SETS)
            return fail(c, k, "set: more than 32 keys");
        int n = snprintf(s->sets[slot], FT_SERVE_SET_MAX, "%s=%s", ks, vs);
        if (n < 0 || n >= FT_SERVE_SET_MAX)
            return fail(c, v, "set.%s: value too long", ks);
        if (slot == s->n_sets)
            s->n_sets++;
    }
    return FT_OK;
}

/* Keys a stream entry and the serve-level defaults share. */
static ft_status stream_key(parse_ctx *c, const char *key, const yaml_node_t *v, ft_serve_stream *s,
                            bool *used)
{
    *used = true;
    if (!strcmp(key, "model_config"))
        return get_path(c, v, key, s->model_config, sizeof s->model_config);
    if (!strcmp(key, "stream_config"))
        return get_path(c, v, key, s->stream_config, sizeof s->stream_config);
    if (!strcmp(key, "realtime"))
        return get_bool(c, v, key, &s->realtime);
    if (!strcmp(key, "set"))
        return get_sets(c, v, s);
    *used = false;
    return FT_OK;
}

static ft_status parse_serve(parse_ctx *c, const yaml_node_t *map, ft_serve_config *cfg,
                             ft_serve_stream *defaults)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, "serve: expected a mapping");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        if (!key)
            return fail(c, k, "serve: keys must be strings");
        bool used = false;
        ft_status st = stream_key(c, key, v, defaults, &used);
        double port = 0;
        if (used) {
        } else if (!strcmp(key, "bind")) {
            st = get_string(c, v, "serve.bind", cfg->bind, sizeof cfg->bind);
        } else if (!strcmp(key, "port")) {
            st = get_number(c, v, "serve.port", 1, 65535, &port);
            if (!st && port != floor(port))
                st = fail(c, v, "serve.port: expected an integer");
            cfg->port = (int)port;
        } else if (!strcmp(key, "rss_limit_mb")) {
            st = get_number(c, v, "serve.rss_limit_mb", 0, 1e7, &cfg->rss_limit_mb);
        } else if (!strcmp(key, "vram_limit_mb")) {
            st = get_number(c, v, "serve.vram_limit_mb", 0, 1e7, &cfg->vram_limit_mb);
        } else if (!strcmp(key, "stuck_seconds")) {
            st = get_number(c, v, "serve.stuck_seconds", 2, 3600, &cfg->stuck_seconds);
        } else if (!strcmp(key, "start_grace_seconds")) {
            st = get_number(c, v, "serve.start_grace_seconds", 1, 3600, &cfg->start_grace_seconds);
        } else if (!strcmp(key, "backoff_initial_s")) {
            st = get_number(c, v, "serve.backoff_initial_s", 0.05, 600, &cfg->backoff_initial_s);
        } else if (!strcmp(key, "shard_service")) {
            st = get_string(c, v, "serve.shard_service", cfg->shard_service,
                            sizeof cfg->shard_service);
        } else if (!strcmp(key, "backoff_max_s")) {
            st = get_number(c, v, "serve.backoff_max_s", 0.05, 3600, &cfg->backoff_max_s);
        } else if (!strcmp(key, "shared_inference")) {
            st = get_bool(c, v, "serve.shared_inference", &cfg->shared_inference);
        } else if (!strcmp(key, "inference_socket")) {
            st = get_path(c, v, "serve.inference_socket", cfg->inference_socket,
                          sizeof cfg->inference_socket);
        } else if (!strcmp(key, "inference_max_batch")) {
            double b = 0;
            st = get_number(c, v, "serve.inference_max_batch", 1, 256, &b);
            if (!st && b != floor(b))
                st = fail(c, v, "serve.inference_max_batch: expected an integer");
            cfg->inference_max_batch = (int)b;
        } else if (!strcmp(key, "inference_batch_window_ms")) {
            st = get_number(c, v, "serve.inference_batch_window_ms", 0, 1000,
                            &cfg->inference_batch_window_ms);
        } else {
            st = fail(c, k,
                      "serve.%s: unknown key (bind, port, rss_limit_mb, vram_limit_mb, "
                      "stuck_seconds, start_grace_seconds, backoff_initial_s, "
                      "backoff_max_s, shard_service, shared_inference, inference_socket, "
                      "inference_max_batch, inference_batch_window_ms, model_config, "
                      "stream_config, realtime, set)",
                      key);
        }
        if (st)
            return st;
    }
    return FT_OK;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n < FT_SERVE_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static ft_status parse_stream(parse_ctx *c, const yaml_node_t *k, const yaml_node_t *map,
                              const ft_serve_stream *defaults, ft_serve_stream *s)
{
    const char *id = scalar(k);
    if (!id || !valid_id(id))
        return fail(c, k, "streams: id '%s' must be 1-63 characters of A-Z a-z 0-9 _ -",
                    id ? id : "?");
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, "streams.%s: expected a mapping (input, output, ...)", id);
    *s = *defaults;
    snprintf(s->id, sizeof s->id, "%s", id);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kk = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(kk);
        if (!key)
            return fail(c, kk, "streams.%s: keys must be strings", id);
        bool used = false;
        ft_status st = stream_key(c, key, v, s, &used);
        if (used) {
        } else if (!strcmp(key, "input")) {
            st = get_string(c, v, "input", s->input, sizeof s->input);
        } else if (!strcmp(key, "output")) {
            st = get_string(c, v, "output", s->output, sizeof s->output);
        } else {
            st = fail(c, kk,
                      "streams.%s.%s: unknown key (input, output, model_config, "
                      "stream_config, realtime, set)",
                      id, key);
        }
        if (st)
            return st;
    }
    if (!s->input[0] || !s->output[0])
        return fail(c, map, "streams.%s: input and output are required", id);
    return FT_OK;
}

static ft_status parse_root(parse_ctx *c, ft_serve_config *cfg)
{
    const yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return fail(c, root, "expected a mapping with 'streams' (and optionally 'serve')");
    ft_serve_stream *defaults = calloc(1, sizeof *defaults);
    if (!defaults)
        return FT_ERR_NOMEM;
    ft_status st = FT_OK;
    const yaml_node_t *streams = NULL;
    /* serve: first, wherever it is, since its defaults apply to every stream. */
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top && !st; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        if (key && !strcmp(key, "serve"))
            st = parse_serve(c, v, cfg, defaults);
        else if (key && !strcmp(key, "streams"))
            streams = v;
        else
            st = fail(c, k, "%s: unknown top-level key (serve, streams)", key ? key : "?");
    }
    /* The inference server runs with the serve-level defaults. */
    cfg->inference = *defaults;
    snprintf(cfg->inference.id, sizeof cfg->inference.id, "%s", FT_SERVE_INFER_ID);
    if (!st && cfg->backoff_max_s < cfg->backoff_initial_s)
        st = fail(c, root, "serve.backoff_max_s is below serve.backoff_initial_s");
    if (!st && !streams)
        st = fail(c, root, "streams: missing (a mapping of stream id to input/output)");
    if (!st && streams->type == YAML_SCALAR_NODE && !strcmp(scalar(streams), ""))
        goto out; /* `streams:` with nothing under it: no streams (all removed) */
    if (!st && streams->type != YAML_MAPPING_NODE)
        st = fail(c, streams, "streams: expected a mapping of stream id to input/output");
    for (yaml_node_pair_t *p = st ? NULL : streams->data.mapping.pairs.start;
         p && p < streams->data.mapping.pairs.top && !st; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (cfg->n_streams == FT_SERVE_MAX_STREAMS) {
            st = fail(c, k, "streams: more than %d streams", FT_SERVE_MAX_STREAMS);
            break;
        }
        ft_serve_stream *s = &cfg->streams[cfg->n_streams];
        st = parse_stream(c, k, v, defaults, s);
        for (int i = 0; i < cfg->n_streams && !st; i++)
            if (!strcmp(cfg->streams[i].id, s->id))
                st = fail(c, k, "streams.%s: duplicate stream id", s->id);
        if (!st && cfg->shared_inference && !strcmp(s->id, FT_SERVE_INFER_ID))
            st = fail(c, k,
                      "streams.%s: this id names the inference server with "
                      "serve.shared_inference",
                      s->id);
        if (!st)
            cfg->n_streams++;
    }
out:
    free(defaults);
    return st;
}

ft_status ft_service_serve_config_load(const char *path, ft_serve_config *out, char *err,
                                       size_t cap)
{
    memset(out, 0, sizeof *out);
    snprintf(out->bind, sizeof out->bind, "127.0.0.1");
    out->port = 9090;
    out->stuck_seconds = 15;
    out->start_grace_seconds = 60;
    out->backoff_initial_s = 1;
    out->backoff_max_s = 60;
    out->inference_max_batch = 8;
    out->inference_batch_window_ms = 3;
    err[0] = '\0';
    parse_ctx c = {.path = path, .err = err, .cap = cap};
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(c.dir, sizeof c.dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    else
        snprintf(c.dir, sizeof c.dir, ".");
    ft_status st = FT_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false;
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb)) {
        snprintf(err, cap, "%s: cannot open: %s", path, strerror(errno));
        st = FT_ERR_CONFIG;
        goto out;
    }
    /* A directory would read as "YAML error: input error". */
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, cap, "%s: not a regular file", path);
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (sb.st_size > (off_t)STREAMS_FILE_MAX) {
        snprintf(err, cap, "%s: larger than 1 MiB", path);
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, cap, "%s:%lu: YAML error: %s", path,
                 (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown");
        st = FT_ERR_CONFIG;
        goto out;
    }
    doc_ok = true;
    c.doc = &doc;
    if (!yaml_document_get_root_node(&doc)) {
        snprintf(err, cap, "%s: empty file (expected 'streams:')", path);
        st = FT_ERR_CONFIG;
        goto out;
    }
    st = parse_root(&c, out);
out:
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (f)
        fclose(f);
    return st;
}

bool ft_service_serve_stream_equal(const ft_serve_stream *a, const ft_serve_stream *b)
{
    if (strcmp(a->id, b->id) || strcmp(a->input, b->input) || strcmp(a->output, b->output) ||
        strcmp(a->model_config, b->model_config) || strcmp(a->stream_config, b->stream_config) ||
        a->realtime != b->realtime || a->n_sets != b->n_sets)
        return false;
    for (int i = 0; i < a->n_sets; i++)
        if (strcmp(a->sets[i], b->sets[i]))
            return false;
    return true;
}

/* 64-bit FNV-1a of id, a separator and the ordinal, finished with the
 * splitmix64 mixer so nearby ordinals give unrelated weights. */
static uint64_t shard_weight(const char *id, int ordinal)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (int i = 0; i < 4; i++)
        h = (h ^ (unsigned)((ordinal >> (8 * i)) & 0xff)) * 1099511628211ULL;
    h += 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

bool ft_service_serve_shard_owns(const char *id, int ordinal, int pods)
{
    int best = 0;
    uint64_t best_w = 0;
    for (int k = 0; k < pods; k++) {
        uint64_t w = shard_weight(id, k);
        if (k == 0 || w > best_w) {
            best = k;
            best_w = w;
        }
    }
    return best == ordinal;
}
