/* Configuration loading over option tables: defaults, YAML files (libyaml),
 * environment and CLI overrides, with the origin of every value. */
#include "core/config.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

struct ft_config {
    const ft_config_schema *schema; /* borrowed */
    ft_config_sources src;
    unsigned char *values;                /* schema->size bytes */
    char (*origins)[FT_CONFIG_ORIGINLEN]; /* one per option, in schema order */
    int n_opts;
};

/* Accumulates one error line per problem into the caller's buffer. */
typedef struct errlist {
    char *buf;
    size_t cap, len;
    int count;
} errlist;

static void __attribute__((format(printf, 2, 3))) err_add(errlist *e, const char *fmt, ...)
{
    e->count++;
    if (!e->buf || e->cap == 0 || e->len + 1 >= e->cap)
        return;
    if (e->len > 0)
        e->buf[e->len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->len += (size_t)n < e->cap - e->len ? (size_t)n : e->cap - e->len - 1;
    e->buf[e->len] = '\0';
}

const char *ft_config_file_name(ft_config_file f)
{
    return f == FT_CONFIG_FILE_MODEL ? "model_config.yml" : "stream_config.yml";
}

/* ---- schema walking ------------------------------------------------------ */

static int opt_count(const ft_option *t)
{
    int n = 0;
    while (t[n].key)
        n++;
    return n;
}

/* Position of an option in the flat, schema-ordered origin array. */
static int flat_index(const ft_config_schema *s, const ft_config_section *sec, const ft_option *opt)
{
    int idx = 0;
    for (const ft_config_section *x = s->sections; x->name; x++) {
        if (x == sec)
            return idx + (int)(opt - sec->options);
        idx += opt_count(x->options);
    }
    return -1;
}

static const ft_config_section *find_section(const ft_config_schema *s, const char *name,
                                             size_t len)
{
    for (const ft_config_section *x = s->sections; x->name; x++)
        if (strlen(x->name) == len && !strncmp(x->name, name, len))
            return x;
    return NULL;
}

static const ft_option *find_option(const ft_config_section *sec, const char *key)
{
    for (const ft_option *o = sec->options; o->key; o++)
        if (!strcmp(o->key, key))
            return o;
    return NULL;
}

bool ft_config_find(const ft_config_schema *schema, const char *key,
                    const ft_config_section **section, const ft_option **opt)
{
    const char *dot = strchr(key, '.');
    if (!dot)
        return false;
    const ft_config_section *sec = find_section(schema, key, (size_t)(dot - key));
    const ft_option *o = sec ? find_option(sec, dot + 1) : NULL;
    if (!o)
        return false;
    if (section)
        *section = sec;
    if (opt)
        *opt = o;
    return true;
}

/* ---- "did you mean" ------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Keeps `cand` in *best when it is closer to `word` than what is there and
 * close enough to be a plausible typo. */
static void suggest(const char *word, const char *cand, const char **best, size_t *best_d)
{
    size_t d = edit_distance(word, cand);
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    if (d <= limit && d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

static void hint_key(const ft_config_section *sec, const char *key, char *out, size_t cap)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const ft_option *o = sec->options; o->key; o++)
        suggest(key, o->key, &best, &best_d);
    if (best)
        snprintf(out, cap, " (did you mean '%s'?)", best);
    else
        out[0] = '\0';
}

static void hint_section(const ft_config_schema *s, const char *name, char *out, size_t cap)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (const ft_config_section *x = s->sections; x->name; x++)
        suggest(name, x->name, &best, &best_d);
    if (best)
        snprintf(out, cap, " (did you mean '%s'?)", best);
    else
        out[0] = '\0';
}

/* "section.key" suggestions: the closest key over every section. */
static void hint_dotted(const ft_config_schema *s, const char *key, char *out, size_t cap)
{
    char cand[FT_CONFIG_KEYLEN], best[FT_CONFIG_KEYLEN] = "";
    size_t best_d = SIZE_MAX;
    for (const ft_config_section *x = s->sections; x->name; x++) {
        for (const ft_option *o = x->options; o->key; o++) {
            snprintf(cand, sizeof(cand), "%s.%s", x->name, o->key);
            const char *b = NULL;
            suggest(key, cand, &b, &best_d);
            if (b)
                snprintf(best, sizeof(best), "%s", cand);
        }
    }
    if (best[0])
        snprintf(out, cap, " (did you mean '%s'?)", best);
    else
        out[0] = '\0';
}

/* ---- value parsing ------------------------------------------------------- */

static bool has_range(const ft_option *o)
{
    return o->max > o->min;
}

static bool parse_bool(const char *t, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(t, yes[i])) {
            *v = true;
            return true;
        }
        if (!strcasecmp(t, no[i])) {
            *v = false;
            return true;
        }
    }
    return false;
}

static bool parse_number(const char *t, double *v)
{
    if (!*t || isspace((unsigned char)*t))
        return false;
    char *end;
    errno = 0;
    double d = strtod(t, &end);
    if (end == t || *end || errno == ERANGE || !isfinite(d))
        return false;
    *v = d;
    return true;
}

/* "4000k", "4M", "4000000", "2.5M" -> bits/s. */
static bool parse_bitrate(const char *t, double *v)
{
    if (!*t || isspace((unsigned char)*t))
        return false;
    char *end;
    errno = 0;
    double d = strtod(t, &end);
    if (end == t || errno == ERANGE || !isfinite(d))
        return false;
    double mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1e6, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1e9, end++;
    if (*end)
        return false;
    *v = round(d * mul);
    return true;
}

static void choices_list(const ft_option *o, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *const *c = o->choices; *c && len < cap; c++) {
        int n = snprintf(out + len, cap - len, "%s%s", c == o->choices ? "" : ", ", *c);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static bool check_range(const ft_option *o, double v, char *why, size_t cap)
{
    if (has_range(o) && (v < o->min || v > o->max)) {
        snprintf(why, cap, "%g is out of range [%g, %g]", v, o->min, o->max);
        return false;
    }
    return true;
}

static bool polygons_from_node(yaml_document_t *doc, yaml_node_t *n, const ft_option *o,
                               ft_polygon_set *out, char *why, size_t cap);

/* Parses polygons written as YAML flow text ("[[[0,0],[10,0],[10,10]]]"). */
static bool polygons_from_text(const char *t, const ft_option *o, ft_polygon_set *out, char *why,
                               size_t cap)
{
    yaml_parser_t p;
    yaml_document_t doc;
    bool ok = false;
    if (!yaml_parser_initialize(&p)) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)t, strlen(t));
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(why, cap, "not a YAML list of polygons: %s",
                 p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return false;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        memset(out, 0, sizeof(*out));
        ok = true;
    } else {
        ok = polygons_from_node(&doc, root, o, out, why, cap);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return ok;
}

/* Parses text into the field of option `o` at `field`. On failure leaves the
 * field alone and writes the reason to `why`. */
static bool set_from_text(const ft_option *o, void *field, const char *t, char *why, size_t cap)
{
    double d;
    switch (o->type) {
    case FT_OPT_BOOL: {
        bool b;
        if (!parse_bool(t, &b)) {
            snprintf(why, cap, "expected true or false, got '%.64s'", t);
            return false;
        }
        *(bool *)field = b;
        return true;
    }
    case FT_OPT_INT:
        if (!parse_number(t, &d) || d != floor(d) || fabs(d) > INT32_MAX) {
            snprintf(why, cap, "expected an integer, got '%.64s'", t);
            return false;
        }
        if (!check_range(o, d, why, cap))
            return false;
        *(int *)field = (int)d;
        return true;
    case FT_OPT_DOUBLE:
        if (!parse_number(t, &d)) {
            snprintf(why, cap, "expected a number, got '%.64s'", t);
            return false;
        }
        if (!check_range(o, d, why, cap))
            return false;
        *(double *)field = d;
        return true;
    case FT_OPT_BITRATE:
        if (!parse_bitrate(t, &d) || fabs(d) > 9e15) {
            snprintf(why, cap, "expected a bitrate like 4000k or 4M, got '%.64s'", t);
            return false;
        }
        if (!check_range(o, d, why, cap))
            return false;
        *(int64_t *)field = (int64_t)d;
        return true;
    case FT_OPT_STRING:
        if (strlen(t) >= FT_OPT_STRLEN) {
            snprintf(why, cap, "value too long (%zu bytes, limit %d)", strlen(t),
                     FT_OPT_STRLEN - 1);
            return false;
        }
        snprintf((char *)field, FT_OPT_STRLEN, "%s", t);
        return true;
    case FT_OPT_ENUM: {
        const int index = ft_option_choice_index(o, t);
        if (index >= 0) {
            *(int *)field = index;
            return true;
        }
        char list[96];
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        choices_list(o, list, sizeof(list));
        for (int i = 0; o->choices[i]; i++)
            suggest(t, o->choices[i], &best, &best_d);
        snprintf(why, cap, "'%.48s' is not one of: %s%s%.32s%s", t, list,
                 best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        return false;
    }
    case FT_OPT_POLYGONS: {
        ft_polygon_set tmp;
        if (!polygons_from_text(t, o, &tmp, why, cap))
            return false;
        *(ft_polygon_set *)field = tmp;
        return true;
    }
    }
    snprintf(why, cap, "unsupported option type");
    return false;
}

static const char *scalar_text(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static const char *node_kind(yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE    ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a value";
}

static bool polygons_from_node(yaml_document_t *doc, yaml_node_t *n, const ft_option *o,
                               ft_polygon_set *out, char *why, size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
        return true; /* "dead_zones:" with nothing: no polygons */
    if (n->type != YAML_SEQUENCE_NODE) {
        snprintf(why, cap, "expected a list of polygons, each a list of [x, y] points");
        return false;
    }
    yaml_node_item_t *pi = n->data.sequence.items.start;
    for (int p = 0; pi < n->data.sequence.items.top; pi++, p++) {
        yaml_node_t *pn = yaml_document_get_node(doc, *pi);
        if (p >= FT_POLY_MAX) {
            snprintf(why, cap, "too many polygons (limit %d)", FT_POLY_MAX);
            return false;
        }
        if (!pn || pn->type != YAML_SEQUENCE_NODE) {
            snprintf(why, cap, "polygon %d (line %lu): expected a list of [x, y] points", p + 1,
                     pn ? (unsigned long)pn->start_mark.line + 1 : 0ul);
            return false;
        }
        ft_polygon *poly = &out->poly[p];
        yaml_node_item_t *qi = pn->data.sequence.items.start;
        for (int q = 0; qi < pn->data.sequence.items.top; qi++, q++) {
            yaml_node_t *qn = yaml_document_get_node(doc, *qi);
            unsigned long line = qn ? (unsigned long)qn->start_mark.line + 1 : 0ul;
            if (q >= FT_POLY_MAX_POINTS) {
                snprintf(why, cap, "polygon %d (line %lu): too many points (limit %d)", p + 1, line,
                         FT_POLY_MAX_POINTS);
                return false;
            }
            double xy[2];
            int k = 0;
            if (qn && qn->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *ci = qn->data.sequence.items.start;
                     ci < qn->data.sequence.items.top; ci++, k++) {
                    yaml_node_t *cn = yaml_document_get_node(doc, *ci);
                    if (k >= 2 || !cn || cn->type != YAML_SCALAR_NODE ||
                        !parse_number(scalar_text(cn), &xy[k]))
                        break;
                    if (!check_range(o, xy[k], why, cap))
                        return false;
                    /* Points are floats: a larger number would become an
                     * infinite coordinate, which the filter refuses later
                     * without the file and line. */
                    if (!isfinite((float)xy[k])) {
                        snprintf(why, cap, "polygon %d point %d (line %lu): %g is too large", p + 1,
                                 q + 1, line, xy[k]);
                        return false;
                    }
                }
            }
            if (!qn || qn->type != YAML_SEQUENCE_NODE || k != 2 ||
                qn->data.sequence.items.top - qn->data.sequence.items.start != 2) {
                snprintf(why, cap,
                         "polygon %d point %d (line %lu): expected [x, y] with two numbers", p + 1,
                         q + 1, line);
                return false;
            }
            poly->x[q] = (float)xy[0];
            poly->y[q] = (float)xy[1];
            poly->n = q + 1;
        }
        if (poly->n < 3) {
            snprintf(why, cap, "polygon %d (line %lu): needs at least 3 points, has %d", p + 1,
                     (unsigned long)pn->start_mark.line + 1, poly->n);
            return false;
        }
        out->count = p + 1;
    }
    return true;
}

static bool set_from_node(yaml_document_t *doc, yaml_node_t *n, const ft_option *o, void *field,
                          char *why, size_t cap)
{
    if (o->type == FT_OPT_POLYGONS) {
        ft_polygon_set tmp;
        if (!polygons_from_node(doc, n, o, &tmp, why, cap))
            return false;
        *(ft_polygon_set *)field = tmp;
        return true;
    }
    if (n->type != YAML_SCALAR_NODE) {
        snprintf(why, cap, "expected a single value, got %s", node_kind(n));
        return false;
    }
    return set_from_text(o, field, scalar_text(n), why, cap);
}

/* ---- the layers ---------------------------------------------------------- */

static void *field_of(ft_config *c, const ft_config_section *sec, const ft_option *o)
{
    return c->values + sec->offset + o->offset;
}

static const void *field_of_const(const ft_config *c, const ft_config_section *sec,
                                  const ft_option *o)
{
    return c->values + sec->offset + o->offset;
}

static void set_origin(ft_config *c, const ft_config_section *sec, const ft_option *o,
                       const char *origin)
{
    snprintf(c->origins[flat_index(c->schema, sec, o)], FT_CONFIG_ORIGINLEN, "%s", origin);
}

static void apply_defaults(ft_config *c, errlist *e)
{
    char why[256];
    memset(c->values, 0, c->schema->size);
    for (const ft_config_section *sec = c->schema->sections; sec->name; sec++) {
        for (const ft_option *o = sec->options; o->key; o++) {
            set_origin(c, sec, o, "default");
            if (o->def && !set_from_text(o, field_of(c, sec, o), o->def, why, sizeof(why)))
                err_add(e, "built-in default: %s.%s: %s", sec->name, o->key, why);
        }
    }
}

static ft_status read_file(const char *path, char **out, size_t *len, errlist *e)
{
    struct stat st;
    FILE *f = NULL;
    char *buf = NULL;
    ft_status rc = FT_ERR_CONFIG;
    if (stat(path, &st) != 0) {
        err_add(e, "%s: cannot open configuration file: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_add(e, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)st.st_size > FT_CONFIG_MAX_FILE_BYTES) {
        err_add(e, "%s: file too large (%jd bytes, limit %u)", path, (intmax_t)st.st_size,
                FT_CONFIG_MAX_FILE_BYTES);
        goto out;
    }
    f = fopen(path, "rb");
    if (!f) {
        err_add(e, "%s: cannot open configuration file: %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(FT_CONFIG_MAX_FILE_BYTES + 1);
    if (!buf) {
        rc = FT_ERR_NOMEM;
        goto out;
    }
    /* Read one byte past the cap so a file that grew since stat() is caught. */
    size_t n = fread(buf, 1, FT_CONFIG_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        err_add(e, "%s: read error", path);
        goto out;
    }
    if (n > FT_CONFIG_MAX_FILE_BYTES) {
        err_add(e, "%s: file too large (limit %u bytes)", path, FT_CONFIG_MAX_FILE_BYTES);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = FT_OK;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static bool is_null_scalar(yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *t = scalar_text(n);
    return !*t || !strcmp(t, "~") || !strcmp(t, "null");
}

/* Line of an earlier key equal to the key of `pr` in the same mapping, or 0.
 * libyaml keeps duplicates; a silent "last one wins" would hide mistakes. */
static unsigned long duplicate_line(yaml_document_t *doc, yaml_node_t *map, yaml_node_pair_t *pr)
{
    yaml_node_t *k = yaml_document_get_node(doc, pr->key);
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
        yaml_node_t *qk = yaml_document_get_node(doc, q->key);
        if (qk->type == YAML_SCALAR_NODE && !strcmp(scalar_text(qk), scalar_text(k)))
            return (unsigned long)qk->start_mark.line + 1;
    }
    return 0;
}

static void apply_section(ft_config *c, yaml_document_t *doc, const ft_config_section *sec,
                          yaml_node_t *map, const char *path, errlist *e)
{
    char why[256], hint[128], origin[FT_CONFIG_ORIGINLEN];
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        unsigned long line = (unsigned long)k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) {
            err_add(e, "%s:%lu: %s: expected a key name, got %s", path, line, sec->name,
                    node_kind(k));
            continue;
        }
        unsigned long first = duplicate_line(doc, map, pr);
        if (first) {
            err_add(e, "%s:%lu: %s.%.64s: duplicate key (first set at line %lu)", path, line,
                    sec->name, scalar_text(k), first);
            continue;
        }
        const ft_option *o = find_option(sec, scalar_text(k));
        if (!o) {
            hint_key(sec, scalar_text(k), hint, sizeof(hint));
            err_add(e, "%s:%lu: %s.%.64s: unknown key%s", path, line, sec->name, scalar_text(k),
                    hint);
            continue;
        }
        if (o->type != FT_OPT_STRING && o->type != FT_OPT_POLYGONS && is_null_scalar(v)) {
            err_add(e, "%s:%lu: %s.%s: missing value", path, line, sec->name, o->key);
            continue;
        }
        if (!set_from_node(doc, v, o, field_of(c, sec, o), why, sizeof(why))) {
            err_add(e, "%s:%lu: %s.%s: %s", path, (unsigned long)v->start_mark.line + 1, sec->name,
                    o->key, why);
            continue;
        }
        snprintf(origin, sizeof(origin), "%s:%lu", path, line);
        set_origin(c, sec, o, origin);
    }
}

static ft_status apply_file(ft_config *c, const char *path, errlist *e)
{
    char *text = NULL;
    size_t len = 0;
    char hint[128];
    yaml_parser_t p;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;
    ft_status rc = read_file(path, &text, &len, e);
    if (rc)
        goto out;
    if (!yaml_parser_initialize(&p)) {
        rc = FT_ERR_NOMEM;
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        err_add(e, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                (unsigned long)p.problem_mark.line + 1, (unsigned long)p.problem_mark.column + 1,
                p.problem ? p.problem : "invalid document", p.context ? " " : "",
                p.context ? p.context : "");
        rc = FT_ERR_CONFIG;
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null_scalar(root))
        goto out; /* empty file: nothing to apply */
    if (root->type != YAML_MAPPING_NODE) {
        err_add(e, "%s:%lu: expected a mapping of sections (model:, stream:, ...), got %s", path,
                (unsigned long)root->start_mark.line + 1, node_kind(root));
        rc = FT_ERR_CONFIG;
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
        unsigned long line = (unsigned long)k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) {
            err_add(e, "%s:%lu: expected a section name, got %s", path, line, node_kind(k));
            continue;
        }
        const char *name = scalar_text(k);
        unsigned long first = duplicate_line(&doc, root, pr);
        if (first) {
            err_add(e, "%s:%lu: %.64s: duplicate section (first at line %lu)", path, line, name,
                    first);
            continue;
        }
        const ft_config_section *sec = find_section(c->schema, name, strlen(name));
        if (!sec) {
            hint_section(c->schema, name, hint, sizeof(hint));
            err_add(e, "%s:%lu: %.64s: unknown section%s", path, line, name, hint);
            continue;
        }
        if (is_null_scalar(v))
            continue; /* "tracking:" with no keys */
        if (v->type != YAML_MAPPING_NODE) {
            err_add(e, "%s:%lu: %s: expected a mapping of keys, got %s", path,
                    (unsigned long)v->start_mark.line + 1, sec->name, node_kind(v));
            continue;
        }
        apply_section(c, &doc, sec, v, path, e);
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&p);
    free(text);
    return rc;
}

static void apply_env_var(ft_config *c, const ft_config_section *sec, const ft_option *o,
                          const char *var, errlist *e)
{
    const char *v = getenv(var);
    char why[256], origin[FT_CONFIG_ORIGINLEN];
    if (!v || !*v)
        return; /* empty counts as unset, like `export X=` */
    if (!set_from_text(o, field_of(c, sec, o), v, why, sizeof(why))) {
        err_add(e, "env %s: %s.%s: %s", var, sec->name, o->key, why);
        return;
    }
    snprintf(origin, sizeof(origin), "env %s", var);
    set_origin(c, sec, o, origin);
}

/* FT_<SECTION>_<KEY> variables that name no key are typos more often than
 * not; they are warned about rather than refused, since the FT_ prefix is
 * shared with variables that are not configuration keys (FT_MODEL_CONFIG). */
static void warn_unknown_env(const ft_config *c)
{
    extern char **environ;
    char prefix[FT_CONFIG_KEYLEN], generic[FT_CONFIG_KEYLEN + 8];
    for (char **ev = environ; ev && *ev; ev++) {
        const char *var = *ev;
        const char *eq = strchr(var, '=');
        if (strncmp(var, "FT_", 3) || !eq || !strncmp(var, "FT_MODEL_CONFIG=", 16) ||
            !strncmp(var, "FT_STREAM_CONFIG=", 17))
            continue;
        for (const ft_config_section *sec = c->schema->sections; sec->name; sec++) {
            int n = snprintf(prefix, sizeof(prefix), "FT_%s_", sec->name);
            for (int i = 0; i < n && prefix[i]; i++)
                prefix[i] = (char)toupper((unsigned char)prefix[i]);
            if (strncmp(var, prefix, (size_t)n))
                continue;
            bool known = false;
            size_t best_d = SIZE_MAX;
            char name[FT_CONFIG_KEYLEN], best[FT_CONFIG_KEYLEN + 8] = "";
            snprintf(name, sizeof(name), "%.*s", (int)(eq - var), var);
            for (const ft_option *o = sec->options; o->key && !known; o++) {
                int m = snprintf(generic, sizeof(generic), "FT_%s_%s", sec->name, o->key);
                for (int i = 0; i < m && generic[i]; i++)
                    generic[i] = (char)toupper((unsigned char)generic[i]);
                known = !strcmp(name, generic);
                if (!known && o->env && !strcmp(name, o->env))
                    known = true;
                const char *cand = NULL;
                suggest(name, generic, &cand, &best_d);
                if (cand)
                    snprintf(best, sizeof(best), "%s", generic);
            }
            if (!known)
                FT_LOGW("config", "environment variable %s names no key of section %s%s%s%s", name,
                        sec->name, best[0] ? " (did you mean " : "", best, best[0] ? "?)" : "");
        }
    }
}

static void apply_env(ft_config *c, errlist *e)
{
    warn_unknown_env(c);
    char generic[FT_CONFIG_KEYLEN + 8];
    for (const ft_config_section *sec = c->schema->sections; sec->name; sec++) {
        for (const ft_option *o = sec->options; o->key; o++) {
            if (o->env)
                apply_env_var(c, sec, o, o->env, e);
            int n = snprintf(generic, sizeof(generic), "FT_%s_%s", sec->name, o->key);
            for (int i = 0; i < n && generic[i]; i++)
                generic[i] = (char)toupper((unsigned char)generic[i]);
            if (!o->env || strcmp(o->env, generic))
                apply_env_var(c, sec, o, generic, e);
        }
    }
}

static void apply_override(ft_config *c, const ft_config_override *ov, errlist *e)
{
    const ft_config_section *sec;
    const ft_option *o;
    char why[256];
    if (!ft_config_find(c->schema, ov->key, &sec, &o)) {
        hint_dotted(c->schema, ov->key, why, sizeof(why));
        err_add(e, "%s: %s: unknown key%s", ov->origin, ov->key, why);
        return;
    }
    if (!set_from_text(o, field_of(c, sec, o), ov->value, why, sizeof(why))) {
        err_add(e, "%s: %s: %s", ov->origin, ov->key, why);
        return;
    }
    set_origin(c, sec, o, ov->origin);
}

/* Cross-field checks, once every layer is in (a range check cannot see two
 * keys at once). */
/* The first option of `sec` whose "section.key" a message mentions, so a
 * cross-field error can say where that value came from. */
static const ft_option *mentioned_option(const ft_config_section *sec, const char *msg)
{
    char name[FT_CONFIG_KEYLEN];
    for (const ft_option *o = sec->options; o->key; o++) {
        snprintf(name, sizeof(name), "%s.%s", sec->name, o->key);
        for (const char *p = strstr(msg, name); p; p = strstr(p + 1, name)) {
            char after = p[strlen(name)];
            if (!isalnum((unsigned char)after) && after != '_')
                return o;
        }
    }
    return NULL;
}

static void validate_sections(ft_config *c, errlist *e)
{
    char why[512];
    for (const ft_config_section *sec = c->schema->sections; sec->name; sec++) {
        why[0] = '\0';
        if (!sec->validate || sec->validate(c->values + sec->offset, why, sizeof(why)) == FT_OK)
            continue;
        const ft_option *o = mentioned_option(sec, why);
        if (o)
            err_add(e, "%s: section %s: %s", c->origins[flat_index(c->schema, sec, o)], sec->name,
                    why);
        else
            err_add(e, "section %s: %s", sec->name, why[0] ? why : "invalid combination of values");
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

static ft_status config_alloc(const ft_config_schema *schema, ft_config **out)
{
    ft_config *c = calloc(1, sizeof(*c));
    if (!c)
        return FT_ERR_NOMEM;
    c->schema = schema;
    for (const ft_config_section *sec = schema->sections; sec->name; sec++)
        c->n_opts += opt_count(sec->options);
    c->values = calloc(1, schema->size);
    c->origins = calloc((size_t)c->n_opts + 1, sizeof(*c->origins));
    if (!c->values || !c->origins) {
        ft_config_destroy(&c);
        return FT_ERR_NOMEM;
    }
    *out = c;
    return FT_OK;
}

void ft_config_destroy(ft_config **cfg)
{
    if (!cfg || !*cfg)
        return;
    free((*cfg)->values);
    free((*cfg)->origins);
    free(*cfg);
    *cfg = NULL;
}

ft_status ft_config_load(const ft_config_schema *schema, const ft_config_sources *src,
                         ft_config **out, char *err, size_t cap)
{
    errlist e = {err, cap, 0, 0};
    ft_config *c = NULL;
    ft_status rc;
    *out = NULL;
    if (err && cap)
        err[0] = '\0';
    rc = config_alloc(schema, &c);
    if (rc)
        goto out;
    c->src = *src;
    apply_defaults(c, &e);
    for (int f = 0; f < FT_CONFIG_FILE_COUNT; f++) {
        if (!c->src.files[f][0])
            continue;
        rc = apply_file(c, c->src.files[f], &e);
        if (rc == FT_ERR_NOMEM)
            goto out;
    }
    if (!c->src.no_env)
        apply_env(c, &e);
    for (int i = 0; i < c->src.n_overrides && i < FT_CONFIG_MAX_OVERRIDES; i++)
        apply_override(c, &c->src.overrides[i], &e);
    if (!e.count)
        validate_sections(c, &e);
    rc = e.count ? FT_ERR_CONFIG : FT_OK;
out:
    if (rc) {
        ft_config_destroy(&c);
        if (rc == FT_ERR_NOMEM)
            err_add(&e, "out of memory while loading the configuration");
    }
    *out = c;
    return rc;
}

const void *ft_config_values(const ft_config *cfg)
{
    return cfg->values;
}

const ft_config_sources *ft_config_get_sources(const ft_config *cfg)
{
    return &cfg->src;
}

static bool value_equal(const ft_option *o, const void *a, const void *b)
{
    switch (o->type) {
    case FT_OPT_BOOL:
        return *(const bool *)a == *(const bool *)b;
    case FT_OPT_INT:
    case FT_OPT_ENUM:
        return *(const int *)a == *(const int *)b;
    case FT_OPT_DOUBLE:
        return *(const double *)a == *(const double *)b;
    case FT_OPT_BITRATE:
        return *(const int64_t *)a == *(const int64_t *)b;
    case FT_OPT_STRING:
        return !strcmp(a, b);
    case FT_OPT_POLYGONS:
        return !memcmp(a, b, sizeof(ft_polygon_set)); /* zero-filled when parsed */
    }
    return false;
}

int ft_config_cold_changes(const ft_config *a, const ft_config *b, char *out, size_t cap)
{
    int n = 0;
    size_t len = 0;
    if (out && cap)
        out[0] = '\0';
    for (const ft_config_section *sec = a->schema->sections; sec->name; sec++) {
        for (const ft_option *o = sec->options; o->key; o++) {
            if ((o->flags & FT_OPT_HOT) ||
                value_equal(o, field_of_const(a, sec, o), field_of_const(b, sec, o)))
                continue;
            if (out && len < cap) {
                int w = snprintf(out + len, cap - len, "%s%s.%s", n ? ", " : "", sec->name, o->key);
                if (w > 0)
                    len += (size_t)w;
            }
            n++;
        }
    }
    return n;
}

ft_status ft_config_reload(const ft_config *old, ft_config **out, char *err, size_t cap)
{
    ft_config *c = NULL;
    char cold[512];
    ft_status rc = ft_config_load(old->schema, &old->src, &c, err, cap);
    if (rc)
        goto out;
    if (ft_config_cold_changes(old, c, cold, sizeof(cold)) > 0) {
        errlist e = {err, cap, 0, 0};
        err_add(&e,
                "reload refused: these keys are not hot-reloadable (restart to change them): %s",
                cold);
        rc = FT_ERR_CONFIG;
        goto out;
    }
out:
    if (rc)
        ft_config_destroy(&c);
    *out = c;
    return rc;
}

ft_status ft_config_set(const ft_config *cfg, const char *key, const char *value,
                        const char *origin, bool hot_only, ft_config **out, char *err, size_t cap)
{
    errlist e = {err, cap, 0, 0};
    ft_config *c = NULL;
    const ft_config_section *sec;
    const ft_option *o;
    char why[256];
    ft_status rc = FT_ERR_CONFIG;
    *out = NULL;
    if (err && cap)
        err[0] = '\0';
    if (!ft_config_find(cfg->schema, key, &sec, &o)) {
        hint_dotted(cfg->schema, key, why, sizeof(why));
        err_add(&e, "%s: %.96s: unknown key%s", origin, key, why);
        goto out;
    }
    if (hot_only && !(o->flags & FT_OPT_HOT)) {
        err_add(&e, "%s: %s: not hot-reloadable (restart to change it)", origin, key);
        goto out;
    }
    rc = config_alloc(cfg->schema, &c);
    if (rc)
        goto out;
    c->src = cfg->src;
    memcpy(c->values, cfg->values, cfg->schema->size);
    memcpy(c->origins, cfg->origins, (size_t)cfg->n_opts * sizeof(*c->origins));
    if (!set_from_text(o, field_of(c, sec, o), value, why, sizeof(why))) {
        err_add(&e, "%s: %s: %s", origin, key, why);
        rc = FT_ERR_CONFIG;
        goto out;
    }
    set_origin(c, sec, o, origin);
    validate_sections(c, &e);
    if (e.count)
        rc = FT_ERR_CONFIG;
out:
    if (rc)
        ft_config_destroy(&c);
    *out = c;
    return rc;
}

const char *ft_config_origin(const ft_config *cfg, const char *key)
{
    const ft_config_section *sec;
    const ft_option *o;
    if (!ft_config_find(cfg->schema, key, &sec, &o))
        return NULL;
    return cfg->origins[flat_index(cfg->schema, sec, o)];
}

/* ---- printing ------------------------------------------------------------ */

/* Shortest %g form that reads back as the same double. */
static void format_double(double v, char *out, size_t cap)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (!strpbrk(out, ".eEn"))
        snprintf(out + strlen(out), cap - strlen(out), ".0");
}

static void format_bitrate(int64_t v, char *out, size_t cap)
{
    if (v != 0 && v % 1000000 == 0)
        snprintf(out, cap, "%lldM", (long long)(v / 1000000));
    else if (v != 0 && v % 1000 == 0)
        snprintf(out, cap, "%lldk", (long long)(v / 1000));
    else
        snprintf(out, cap, "%lld", (long long)v);
}

static void format_quoted(const char *s, char *out, size_t cap)
{
    size_t len = 0;
    if (cap < 3) {
        if (cap)
            out[0] = '\0';
        return;
    }
    out[len++] = '"';
    for (; *s && len + 6 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[len++] = '\\';
            out[len++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            len += (size_t)snprintf(out + len, cap - len, "\\x%02x", ch);
        } else {
            out[len++] = (char)ch;
        }
    }
    out[len++] = '"';
    out[len] = '\0';
}

static void format_polygons(const ft_polygon_set *ps, char *out, size_t cap)
{
    size_t len = 0;
    char x[32], y[32];
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__);                      \
        if (w_ > 0)                                                                                \
            len += (size_t)w_;                                                                     \
    } while (0)
    PUT("[");
    for (int p = 0; p < ps->count; p++) {
        PUT("%s[", p ? ", " : "");
        for (int q = 0; q < ps->poly[p].n; q++) {
            format_double(ps->poly[p].x[q], x, sizeof(x));
            format_double(ps->poly[p].y[q], y, sizeof(y));
            PUT("%s[%s, %s]", q ? ", " : "", x, y);
        }
        PUT("]");
    }
    PUT("]");
#undef PUT
    if (len >= cap && cap > 4)
        memcpy(out + cap - 4, "...", 4);
}

static void format_field(const ft_option *o, const void *f, char *out, size_t cap)
{
    switch (o->type) {
    case FT_OPT_BOOL:
        snprintf(out, cap, "%s", *(const bool *)f ? "true" : "false");
        return;
    case FT_OPT_INT:
        snprintf(out, cap, "%d", *(const int *)f);
        return;
    case FT_OPT_DOUBLE:
        format_double(*(const double *)f, out, cap);
        return;
    case FT_OPT_BITRATE:
        format_bitrate(*(const int64_t *)f, out, cap);
        return;
    case FT_OPT_STRING:
        if ((o->flags & FT_OPT_SECRET) && *(const char *)f)
            snprintf(out, cap, "\"***\"");
        else
            format_quoted(f, out, cap);
        return;
    case FT_OPT_ENUM: {
        int i = *(const int *)f, n = 0;
        while (o->choices[n])
            n++;
        snprintf(out, cap, "%s", i >= 0 && i < n ? o->choices[i] : "?");
        return;
    }
    case FT_OPT_POLYGONS:
        format_polygons(f, out, cap);
        return;
    }
    snprintf(out, cap, "?");
}

void ft_config_format_value(const ft_config *cfg, const ft_config_section *section,
                            const ft_option *opt, char *out, size_t cap)
{
    format_field(opt, field_of_const(cfg, section, opt), out, cap);
}

void ft_config_print(const ft_config *cfg, FILE *out)
{
    char val[4096], kv[4200];
    for (int f = 0; f < FT_CONFIG_FILE_COUNT; f++) {
        fprintf(out, "# %s%s%s\n", ft_config_file_name(f), cfg->src.files[f][0] ? " <- " : "",
                cfg->src.files[f]);
        for (const ft_config_section *sec = cfg->schema->sections; sec->name; sec++) {
            if ((int)sec->file != f)
                continue;
            fprintf(out, "%s:\n", sec->name);
            for (const ft_option *o = sec->options; o->key; o++) {
                ft_config_format_value(cfg, sec, o, val, sizeof(val));
                snprintf(kv, sizeof(kv), "  %s: %s", o->key, val);
                fprintf(out, "%-44s # %s\n", kv, cfg->origins[flat_index(cfg->schema, sec, o)]);
            }
        }
        fputc('\n', out);
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void json_value(const ft_config *cfg, const ft_config_section *sec, const ft_option *o,
                       FILE *out)
{
    char val[4096];
    const void *f = field_of_const(cfg, sec, o);
    switch (o->type) {
    case FT_OPT_BITRATE:
        fprintf(out, "%lld", (long long)*(const int64_t *)f);
        return;
    case FT_OPT_STRING:
        json_string(out, (o->flags & FT_OPT_SECRET) && *(const char *)f ? "***" : (const char *)f);
        return;
    case FT_OPT_ENUM:
        format_field(o, f, val, sizeof(val));
        json_string(out, val);
        return;
    case FT_OPT_BOOL:
    case FT_OPT_INT:
    case FT_OPT_DOUBLE:
    case FT_OPT_POLYGONS:
        format_field(o, f, val, sizeof(val)); /* already valid JSON */
        fputs(val, out);
        return;
    }
}

void ft_config_print_json(const ft_config *cfg, FILE *out)
{
    fputc('{', out);
    for (const ft_config_section *sec = cfg->schema->sections; sec->name; sec++) {
        fprintf(out, "%s\"%s\":{", sec == cfg->schema->sections ? "" : ",", sec->name);
        for (const ft_option *o = sec->options; o->key; o++) {
            fprintf(out, "%s\"%s\":{\"value\":", o == sec->options ? "" : ",", o->key);
            json_value(cfg, sec, o, out);
            fputs(",\"origin\":", out);
            json_string(out, cfg->origins[flat_index(cfg->schema, sec, o)]);
            fprintf(out, ",\"hot\":%s}", (o->flags & FT_OPT_HOT) ? "true" : "false");
        }
        fputc('}', out);
    }
    fputs("}\n", out);
}

static const char *type_name(const ft_option *o)
{
    switch (o->type) {
    case FT_OPT_BOOL:
        return "bool";
    case FT_OPT_INT:
        return "int";
    case FT_OPT_DOUBLE:
        return "float";
    case FT_OPT_STRING:
        return "string";
    case FT_OPT_ENUM:
        return "enum";
    case FT_OPT_BITRATE:
        return "bitrate";
    case FT_OPT_POLYGONS:
        return "polygons";
    }
    return "?";
}

void ft_config_reference(const ft_config_schema *schema, FILE *out)
{
    char range[256], env[FT_CONFIG_KEYLEN + 80], generic[FT_CONFIG_KEYLEN + 8];
    for (int f = 0; f < FT_CONFIG_FILE_COUNT; f++) {
        for (const ft_config_section *sec = schema->sections; sec->name; sec++) {
            if ((int)sec->file != f)
                continue;
            fprintf(out, "#### `%s:` (%s)\n\n", sec->name, ft_config_file_name(f));
            fprintf(out,
                    "| key | type | default | range / choices | hot | environment | description |\n"
                    "|---|---|---|---|---|---|---|\n");
            for (const ft_option *o = sec->options; o->key; o++) {
                if (o->type == FT_OPT_ENUM)
                    choices_list(o, range, sizeof(range));
                else if (has_range(o) && o->type == FT_OPT_BITRATE)
                    snprintf(range, sizeof(range), "%.15g – %.15g bit/s", o->min, o->max);
                else if (has_range(o))
                    snprintf(range, sizeof(range), "%.15g – %.15g", o->min, o->max);
                else
                    snprintf(range, sizeof(range), " ");
                int n = snprintf(generic, sizeof(generic), "FT_%s_%s", sec->name, o->key);
                for (int i = 0; i < n && generic[i]; i++)
                    generic[i] = (char)toupper((unsigned char)generic[i]);
                if (o->env && strcmp(o->env, generic))
                    snprintf(env, sizeof(env), "`%s`, `%s`", o->env, generic);
                else
                    snprintf(env, sizeof(env), "`%s`", generic);
                fprintf(out, "| `%s.%s` | %s | `%s` | %s | %s | %s | %s%s |\n", sec->name, o->key,
                        type_name(o), o->def && *o->def ? o->def : "\"\"", range,
                        (o->flags & FT_OPT_HOT) ? "yes" : "no", env, o->help,
                        (o->flags & FT_OPT_SECRET) ? " (secret: never printed)" : "");
            }
            fputc('\n', out);
        }
    }
}
