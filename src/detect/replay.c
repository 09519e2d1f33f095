/* Replay detector: detections from a CSV or JSON file (see replay.h). */
#include "detect/replay.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/array.h"
#include "core/log.h"

#define REPLAY_MAX_BYTES (64l << 20)

typedef struct entry {
    int64_t frame; /* -1 when keyed by pts */
    double pts;
    ft_detection det;
} entry;

typedef struct replay {
    ft_detector base;
    entry *e;
    size_t n, cap;
    bool by_pts;
    double confidence;
    int64_t calls; /* frames seen: the index of the next frame */
    size_t cursor; /* first entry not before the current frame */
} replay;

static ft_status push_entry(replay *r, const entry *e)
{
    ft_status st = ft_array_reserve(&r->e, &r->cap, r->n + 1, sizeof *r->e, 256);
    if (st)
        return st;
    r->e[r->n++] = *e;
    return FT_OK;
}

/* ---- CSV ---- */

enum { COL_FRAME, COL_PTS, COL_X, COL_Y, COL_W, COL_H, COL_SCORE, COL_N };

static int column_of(const char *name, size_t len)
{
    static const struct {
        const char *name;
        int col;
    } names[] = {{"frame", COL_FRAME}, {"pts", COL_PTS},        {"x", COL_X},
                 {"y", COL_Y},         {"w", COL_W},            {"h", COL_H},
                 {"score", COL_SCORE}, {"confidence", COL_SCORE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && !strncmp(names[i].name, name, len))
            return names[i].col;
    return -1;
}

static bool parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    while (*end == ' ' || *end == '\r')
        end++;
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static ft_status parse_csv(replay *r, const char *path, char *text)
{
    int map[32]; /* column position -> COL_* or -1 */
    int ncols = 0;
    bool have[COL_N] = {0};
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*l == ' ' || *l == '\t')
            l++;
        if (!*l || *l == '#' || *l == '\r')
            continue;
        if (!ncols) { /* header */
            for (const char *c = l;;) {
                const char *e = strpbrk(c, ",\r");
                size_t len = e ? (size_t)(e - c) : strlen(c);
                while (len && c[len - 1] == ' ')
                    len--;
                while (len && *c == ' ')
                    c++, len--;
                if (ncols == 32) {
                    FT_LOGE("detect", "%s:%d: too many columns", path, line);
                    return FT_ERR_INPUT;
                }
                int col = column_of(c, len);
                map[ncols++] = col;
                if (col >= 0)
                    have[col] = true;
                if (!e || *e == '\r')
                    break;
                c = e + 1;
            }
            if (!have[COL_X] || !have[COL_Y] || have[COL_FRAME] == have[COL_PTS]) {
                FT_LOGE("detect",
                        "%s:%d: header must name x, y and one of frame or pts (got '%s')", path,
                        line, l);
                return FT_ERR_INPUT;
            }
            r->by_pts = have[COL_PTS];
            continue;
        }
        double v[COL_N] = {0, 0, 0, 0, 0, 0, 1.0};
        int k = 0;
        for (const char *c = l;; k++) {
            const char *e = strchr(c, ',');
            size_t len = e ? (size_t)(e - c) : strlen(c);
            if (k >= ncols) {
                FT_LOGE("detect", "%s:%d: more fields than header columns", path, line);
                return FT_ERR_INPUT;
            }
            if (map[k] >= 0 && !parse_double(c, len, &v[map[k]])) {
                FT_LOGE("detect", "%s:%d: field %d is not a number", path, line, k + 1);
                return FT_ERR_INPUT;
            }
            if (!e)
                break;
            c = e + 1;
        }
        if (k + 1 != ncols) {
            FT_LOGE("detect", "%s:%d: %d fields, header has %d", path, line, k + 1, ncols);
            return FT_ERR_INPUT;
        }
        if (!r->by_pts && (v[COL_FRAME] < 0 || v[COL_FRAME] != floor(v[COL_FRAME]))) {
            FT_LOGE("detect", "%s:%d: frame must be a whole number >= 0", path, line);
            return FT_ERR_INPUT;
        }
        entry en = {r->by_pts ? -1 : (int64_t)v[COL_FRAME], v[COL_PTS],
                    {(float)v[COL_X], (float)v[COL_Y], (float)v[COL_W], (float)v[COL_H],
                     (float)v[COL_SCORE], 0}};
        ft_status st = push_entry(r, &en);
        if (st)
            return st;
    }
    if (!ncols) {
        FT_LOGE("detect", "%s: empty detections file", path);
        return FT_ERR_INPUT;
    }
    return FT_OK;
}

/* ---- JSON ---- */

/* A small recursive-descent reader that knows just enough JSON to find
 * detection objects; it never allocates except for the entries. */
typedef struct jp {
    const char *s, *path;
    int depth;
    replay *r;
    bool keyed_pts, keyed_frame;
} jp;

static void ws(jp *p)
{
    while (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')
        p->s++;
}

static int line_of(const jp *p, const char *start)
{
    int l = 1;
    for (const char *c = start; c < p->s; c++)
        l += *c == '\n';
    return l;
}

static ft_status jfail(const jp *p, const char *start, const char *what)
{
    FT_LOGE("detect", "%s:%d: invalid JSON: %s", p->path, line_of(p, start), what);
    return FT_ERR_INPUT;
}

static ft_status jstring(jp *p, const char *start, char *key, size_t cap)
{
    if (*p->s != '"')
        return jfail(p, start, "expected a string");
    p->s++;
    size_t n = 0;
    while (*p->s && *p->s != '"') {
        if (*p->s == '\\' && p->s[1])
            p->s++;
        if (key && n + 1 < cap)
            key[n++] = *p->s;
        p->s++;
    }
    if (*p->s != '"')
        return jfail(p, start, "unterminated string");
    p->s++;
    if (key)
        key[n] = '\0';
    return FT_OK;
}

/* Fields of one object that matter to us. */
typedef struct jobj {
    bool has_x, has_y, has_frame, has_pts;
    double x, y, w, h, score, frame, pts;
} jobj;

static ft_status jvalue(jp *p, const char *start, jobj *parent, const char *key);

static ft_status jobject(jp *p, const char *start)
{
    jobj o = {.score = 1.0};
    size_t first = p->r->n; /* detections nested in this object start here */
    p->s++;
    ws(p);
    if (*p->s == '}') {
        p->s++;
        return FT_OK;
    }
    for (;;) {
        char key[32];
        ws(p);
        ft_status st = jstring(p, start, key, sizeof key);
        if (st)
            return st;
        ws(p);
        if (*p->s != ':')
            return jfail(p, start, "expected ':'");
        p->s++;
        ws(p);
        if ((st = jvalue(p, start, &o, key)))
            return st;
        ws(p);
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s == '}') {
            p->s++;
            break;
        }
        return jfail(p, start, "expected ',' or '}'");
    }
    if (o.has_frame && (o.frame < 0 || o.frame != floor(o.frame)))
        return jfail(p, start, "frame must be a whole number >= 0");
    /* A frame object: its key applies to the detections listed inside it,
     * whichever order the keys came in. */
    for (size_t i = first; i < p->r->n && (o.has_frame || o.has_pts); i++) {
        entry *e = &p->r->e[i];
        if (e->frame == INT64_MIN) {
            e->frame = o.has_frame ? (int64_t)o.frame : -1;
            e->pts = o.pts;
        }
    }
    p->keyed_frame |= o.has_frame;
    p->keyed_pts |= o.has_pts && !o.has_frame;
    if (o.has_x && o.has_y) {
        entry e = {o.has_frame ? (int64_t)o.frame : (o.has_pts ? -1 : INT64_MIN), o.pts,
                   {(float)o.x, (float)o.y, (float)o.w, (float)o.h, (float)o.score, 0}};
        return push_entry(p->r, &e);
    }
    return FT_OK;
}

static ft_status jvalue(jp *p, const char *start, jobj *parent, const char *key)
{
    if (++p->depth > 64)
        return jfail(p, start, "nested too deeply");
    ft_status st = FT_OK;
    if (*p->s == '{') {
        st = jobject(p, start);
    } else if (*p->s == '[') {
        p->s++;
        ws(p);
        if (*p->s == ']')
            p->s++;
        else
            for (;;) {
                ws(p);
                if ((st = jvalue(p, start, NULL, NULL)))
                    break;
                ws(p);
                if (*p->s == ',') {
                    p->s++;
                    continue;
                }
                if (*p->s == ']') {
                    p->s++;
                    break;
                }
                st = jfail(p, start, "expected ',' or ']'");
                break;
            }
    } else if (*p->s == '"') {
        st = jstring(p, start, NULL, 0);
    } else if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "null", 4)) {
        p->s += 4;
    } else if (!strncmp(p->s, "false", 5)) {
        p->s += 5;
    } else {
        char *end;
        errno = 0;
        double v = strtod(p->s, &end);
        if (end == p->s || errno || !isfinite(v))
            st = jfail(p, start, "expected a value");
        p->s = end;
        if (!st && parent && key) {
            if (!strcmp(key, "x"))
                parent->x = v, parent->has_x = true;
            else if (!strcmp(key, "y"))
                parent->y = v, parent->has_y = true;
            else if (!strcmp(key, "w") || !strcmp(key, "width"))
                parent->w = v;
            else if (!strcmp(key, "h") || !strcmp(key, "height"))
                parent->h = v;
            else if (!strcmp(key, "score") || !strcmp(key, "confidence"))
                parent->score = v;
            else if (!strcmp(key, "frame"))
                parent->frame = v, parent->has_frame = true;
            else if (!strcmp(key, "pts"))
                parent->pts = v, parent->has_pts = true;
        }
    }
    p->depth--;
    return st;
}

static ft_status parse_json(replay *r, const char *path, const char *text)
{
    jp p = {.s = text, .path = path, .r = r};
    ws(&p);
    ft_status st = jvalue(&p, text, NULL, NULL);
    if (st)
        return st;
    ws(&p);
    if (*p.s)
        return jfail(&p, text, "trailing characters after the document");
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].frame == INT64_MIN) {
            FT_LOGE("detect", "%s: a detection has neither a frame nor a pts", path);
            return FT_ERR_INPUT;
        }
    if (p.keyed_frame && p.keyed_pts) {
        FT_LOGE("detect", "%s: mixes frame- and pts-keyed detections", path);
        return FT_ERR_INPUT;
    }
    r->by_pts = p.keyed_pts;
    return FT_OK;
}

/* ---- detector ---- */

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->frame != y->frame)
        return x->frame < y->frame ? -1 : 1;
    if (x->pts != y->pts)
        return x->pts < y->pts ? -1 : 1;
    return x->det.score > y->det.score ? -1 : x->det.score < y->det.score;
}

static ft_status replay_detect(ft_detector *d, const ft_image *frame, double pts_s,
                               ft_detection *out, int cap, int *n)
{
    replay *r = (replay *)d;
    (void)frame;
    int64_t idx = r->calls++;
    *n = 0;
    /* Frames come in order, so a cursor walks the sorted entries once. */
    const double tol = 0.002;
    while (r->cursor < r->n &&
           (r->by_pts ? r->e[r->cursor].pts < pts_s - tol : r->e[r->cursor].frame < idx))
        r->cursor++;
    for (size_t i = r->cursor; i < r->n; i++) {
        const entry *e = &r->e[i];
        if (r->by_pts ? e->pts > pts_s + tol : e->frame != idx)
            break;
        if (e->det.score >= r->confidence && *n < cap)
            out[(*n)++] = e->det;
    }
    return FT_OK;
}

static ft_status replay_set_param(ft_detector *d, const char *key, double value)
{
    replay *r = (replay *)d;
    if (strcmp(key, "confidence") || !(value >= 0 && value <= 1))
        return FT_ERR_INVALID;
    r->confidence = value;
    return FT_OK;
}

static void replay_destroy(ft_detector *d)
{
    replay *r = (replay *)d;
    free(r->e);
    free(r);
}

static const ft_detector_vtable replay_vt = {.name = "replay",
                                             .detect = replay_detect,
                                             .set_param = replay_set_param,
                                             .destroy = replay_destroy};

ft_status ft_detect_replay_create(const ft_detect_replay_params *p, ft_detector **out)
{
    *out = NULL;
    ft_status st = FT_ERR_INPUT;
    char *text = NULL;
    FILE *f = NULL;
    replay *r = calloc(1, sizeof *r);
    if (!r)
        return FT_ERR_NOMEM;
    r->base.vt = &replay_vt;
    r->confidence = p->confidence;
    f = fopen(p->path, "rb");
    if (!f) {
        FT_LOGE("detect", "%s: cannot open detections file: %s", p->path, strerror(errno));
        goto out;
    }
    /* By its type, not by seeking to its end: a directory seeks fine (it
     * was reported as "too large"). */
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        FT_LOGE("detect", "%s: not a regular file", p->path);
        goto out;
    }
    if (sb.st_size > REPLAY_MAX_BYTES) {
        FT_LOGE("detect", "%s: detections file too large (limit %ld MiB)", p->path,
                REPLAY_MAX_BYTES >> 20);
        goto out;
    }
    long size = (long)sb.st_size;
    text = malloc((size_t)size + 1);
    if (!text) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        FT_LOGE("detect", "%s: read error", p->path);
        goto out;
    }
    text[size] = '\0';
    if (strlen(text) != (size_t)size) {
        FT_LOGE("detect", "%s: binary data in detections file", p->path);
        goto out;
    }
    const char *c = text;
    while (isspace((unsigned char)*c))
        c++;
    if (*c == '[' || *c == '{')
        st = parse_json(r, p->path, text);
    else
        st = parse_csv(r, p->path, text);
    if (st)
        goto out;
    qsort(r->e, r->n, sizeof *r->e, cmp_entry);
    FT_LOGI("detect", "replaying %zu detections from %s", r->n, p->path);
out:
    if (f)
        fclose(f);
    free(text);
    if (st) {
        replay_destroy(&r->base);
        r = NULL;
    }
    *out = r ? &r->base : NULL;
    return st;
}
