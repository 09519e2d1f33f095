#include "pipeline/track_csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/text_out.h"

#define TRACK_CSV_MAGIC "# football-tracker track v1"
#define TRACK_CSV_HEADER                                                                           \
    "frame,pts,detections,state,x,y,mode,crop_x,crop_y,crop_w,crop_h,candidates"
/* A full row with FT_DETECT_MAX candidates is under 3 KB; anything longer is
 * not a track file. */
#define TRACK_CSV_LINE_MAX 8192
/* Ten hours at 60 fps: a cap so a wrong file cannot exhaust memory. */
#define TRACK_CSV_ROWS_MAX 2160000u
/* Frame numbers index arrays in the evaluator: ten hours at 240 fps. */
#define TRACK_CSV_FRAME_MAX 8640000

struct ft_track_csv_writer {
    ft_text_out out;
};

static const char *const state_names[] = {"lost", "predicted", "tracking"};
static const char *const mode_names[] = {"lost",     "acquiring", "normal",   "recovering",
                                         "coasting", "chaos",     "stability"};

const char *ft_track_csv_state_name(ft_track_csv_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "?";
}

const char *ft_track_csv_mode_name(ft_track_csv_mode m)
{
    return (unsigned)m < FT_TRACK_CSV_MODE_COUNT ? mode_names[m] : "?";
}

void ft_track_csv_row_set_detections(ft_track_csv_row *row, const ft_detection *det, int n)
{
    if (n > FT_DETECT_MAX)
        n = FT_DETECT_MAX;
    row->n_det = n < 0 ? 0 : n;
    for (int i = 0; i < row->n_det; i++)
        row->det[i] = (ft_track_csv_cand){det[i].x, det[i].y, det[i].score};
}

ft_status ft_track_csv_writer_create(const char *path, bool atomic, ft_track_csv_writer **out)
{
    *out = NULL;
    ft_track_csv_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return FT_ERR_NOMEM;
    ft_status st = ft_text_out_open(&w->out, path, atomic, "track", "pipeline");
    if (st) {
        free(w);
        return st;
    }
    fputs(TRACK_CSV_MAGIC "\n" TRACK_CSV_HEADER "\n", w->out.f);
    *out = w;
    return FT_OK;
}

ft_status ft_track_csv_writer_write(ft_track_csv_writer *w, const ft_track_csv_row *r)
{
    if (r->n_det < 0 || r->n_det > FT_DETECT_MAX || (unsigned)r->state > 2 ||
        (unsigned)r->mode >= FT_TRACK_CSV_MODE_COUNT)
        return FT_ERR_INVALID;
    FILE *f = w->out.f;
    fprintf(f, "%lld,%.6f,%d,%s,", (long long)r->frame, r->pts, r->n_det, state_names[r->state]);
    if (r->state == FT_TRACK_CSV_NO_ESTIMATE)
        fputs(",,", f);
    else
        fprintf(f, "%.2f,%.2f,", r->x, r->y);
    fprintf(f, "%s,%.2f,%.2f,%.2f,%.2f,", mode_names[r->mode], r->crop_x, r->crop_y, r->crop_w,
            r->crop_h);
    for (int i = 0; i < r->n_det; i++)
        fprintf(f, "%s%.1f:%.1f:%.3f", i ? " " : "", r->det[i].x, r->det[i].y, r->det[i].score);
    fputc('\n', f);
    return ft_text_out_check(&w->out);
}

ft_status ft_track_csv_writer_flush(ft_track_csv_writer *w)
{
    return ft_text_out_flush(&w->out);
}

ft_status ft_track_csv_writer_finish(ft_track_csv_writer *w)
{
    return ft_text_out_commit(&w->out);
}

void ft_track_csv_writer_destroy(ft_track_csv_writer **w)
{
    if (!w || !*w)
        return;
    ft_text_out_close(&(*w)->out);
    free(*w);
    *w = NULL;
}

/* Field parsers: each consumes one comma-terminated field from *p. */
static int next_field(char **p, char **field)
{
    if (!*p)
        return -1;
    *field = *p;
    char *comma = strchr(*p, ',');
    if (comma) {
        *comma = '\0';
        *p = comma + 1;
    } else {
        *p = NULL;
    }
    return 0;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return (end == s || *end != '\0' || errno) ? -1 : 0;
}

static int parse_name(const char *s, const char *const *names, int n, int *v)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *v = i;
            return 0;
        }
    return -1;
}

static int parse_candidates(char *s, ft_track_csv_row *r)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (n >= FT_DETECT_MAX)
            return -1;
        char *end;
        double v[3];
        const char *q = tok;
        for (int k = 0; k < 3; k++) {
            errno = 0;
            v[k] = strtod(q, &end);
            if (end == q || errno || *end != (k < 2 ? ':' : '\0'))
                return -1;
            q = end + 1;
        }
        r->det[n++] = (ft_track_csv_cand){(float)v[0], (float)v[1], (float)v[2]};
    }
    return n == r->n_det ? 0 : -1;
}

/* Parses one data line in place; returns the name of the bad column or NULL. */
static const char *parse_row(char *line, ft_track_csv_row *r)
{
    static const char *const cols[] = {"frame",  "pts",    "detections", "state",
                                       "x",      "y",      "mode",       "crop_x",
                                       "crop_y", "crop_w", "crop_h",     "candidates"};
    char *p = line, *f[12];
    for (int i = 0; i < 12; i++)
        if (next_field(&p, &f[i]))
            return cols[i];
    if (p)
        return "candidates (too many columns)";
    memset(r, 0, sizeof(*r));
    char *end;
    errno = 0;
    long long frame = strtoll(f[0], &end, 10);
    if (end == f[0] || *end || errno || frame < 0 || frame > TRACK_CSV_FRAME_MAX)
        return cols[0];
    r->frame = frame;
    double d;
    if (parse_double(f[1], &r->pts))
        return cols[1];
    long n = strtol(f[2], &end, 10);
    if (end == f[2] || *end || n < 0 || n > FT_DETECT_MAX)
        return cols[2];
    r->n_det = (int)n;
    int e;
    if (parse_name(f[3], state_names, 3, &e))
        return cols[3];
    r->state = (ft_track_csv_state)e;
    if (r->state != FT_TRACK_CSV_NO_ESTIMATE) {
        for (int i = 0; i < 2; i++) {
            if (parse_double(f[4 + i], &d))
                return cols[4 + i];
            (i ? &r->y : &r->x)[0] = (float)d;
        }
    }
    if (parse_name(f[6], mode_names, FT_TRACK_CSV_MODE_COUNT, &e))
        return cols[6];
    r->mode = (ft_track_csv_mode)e;
    float *crop[4] = {&r->crop_x, &r->crop_y, &r->crop_w, &r->crop_h};
    for (int i = 0; i < 4; i++) {
        if (parse_double(f[7 + i], &d))
            return cols[7 + i];
        *crop[i] = (float)d;
    }
    if (parse_candidates(f[11], r))
        return cols[11];
    return NULL;
}

ft_status ft_track_csv_read(const char *path, ft_track_csv **out)
{
    ft_status st = FT_OK;
    *out = NULL;
    char *line = NULL;
    ft_track_csv *t = calloc(1, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (!t) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (!f) {
        FT_LOGE("eval", "cannot open track file '%s': %s", path, strerror(errno));
        st = FT_ERR_INPUT;
        goto out;
    }
    line = malloc(TRACK_CSV_LINE_MAX);
    if (!line) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    size_t cap = 0;
    int lineno = 0, saw_header = 0;
    while (fgets(line, TRACK_CSV_LINE_MAX, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == TRACK_CSV_LINE_MAX - 1 && line[len - 1] != '\n') {
            FT_LOGE("eval", "%s:%d: line too long (more than %d bytes)", path, lineno,
                    TRACK_CSV_LINE_MAX);
            st = FT_ERR_INPUT;
            goto out;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (line[0] == '#' || len == 0)
            continue;
        if (!saw_header) {
            if (strcmp(line, TRACK_CSV_HEADER)) {
                FT_LOGE("eval", "%s:%d: not a track file (expected header '%s')", path, lineno,
                        TRACK_CSV_HEADER);
                st = FT_ERR_INPUT;
                goto out;
            }
            saw_header = 1;
            continue;
        }
        if (t->count == cap) {
            if (cap >= TRACK_CSV_ROWS_MAX) {
                FT_LOGE("eval", "%s: too many rows (limit %u)", path, TRACK_CSV_ROWS_MAX);
                st = FT_ERR_INPUT;
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 1024;
            ft_track_csv_row *nr = realloc(t->rows, ncap * sizeof(*nr));
            if (!nr) {
                st = FT_ERR_NOMEM;
                goto out;
            }
            t->rows = nr;
            cap = ncap;
        }
        const char *bad = parse_row(line, &t->rows[t->count]);
        if (bad) {
            FT_LOGE("eval", "%s:%d: bad value in column '%s'", path, lineno, bad);
            st = FT_ERR_INPUT;
            goto out;
        }
        t->count++;
    }
    if (ferror(f)) {
        FT_LOGE("eval", "cannot read track file '%s': %s", path, strerror(errno));
        st = FT_ERR_INPUT;
        goto out;
    }
    if (!saw_header) {
        FT_LOGE("eval", "%s: empty file, expected header '%s'", path, TRACK_CSV_HEADER);
        st = FT_ERR_INPUT;
        goto out;
    }
out:
    free(line);
    if (f)
        fclose(f);
    if (st)
        ft_track_csv_destroy(&t);
    *out = t;
    return st;
}

void ft_track_csv_destroy(ft_track_csv **t)
{
    if (!t || !*t)
        return;
    free((*t)->rows);
    free(*t);
    *t = NULL;
}
